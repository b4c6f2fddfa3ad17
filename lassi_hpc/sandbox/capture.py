"""Read a command's stdout and stderr concurrently, keeping at most a fixed number of bytes each.

Both pipes and the child's exit are multiplexed in the calling thread (no helper threads), so a
command that floods one stream cannot block on the other, and one that prints forever is noticed
as soon as it passes the cap instead of filling our memory.
"""

from __future__ import annotations

import enum
import os
import selectors
import time

from lassi_hpc.sandbox.child_watch import ChildWatch

_CHUNK_BYTES = 64 * 1024
_EXIT = "exit"


class PumpEvent(enum.Enum):
    """Why OutputCapture.pump returned."""

    EXITED = "exited"  # the direct child exited (it is a zombie until reaped)
    EOF = "eof"  # both streams closed and no child was being watched
    DEADLINE = "deadline"  # the deadline passed first
    OVERFLOW = "overflow"  # a stream passed the cap; see OutputCapture.overflow


class OutputCapture:
    """Captures two pipe descriptors up to `cap_bytes` each; call close() when done."""

    def __init__(self, stdout_fd: int, stderr_fd: int, cap_bytes: int) -> None:
        self._open = {"stdout": stdout_fd, "stderr": stderr_fd}
        self._data = {"stdout": bytearray(), "stderr": bytearray()}
        self._seen = {"stdout": 0, "stderr": 0}
        self._cap_bytes = cap_bytes
        self.overflow = ""  # name of the first stream that passed the cap

    def pump(self, child: ChildWatch | None, deadline_s: float) -> PumpEvent:
        """Read until `child` exits, both streams close (when `child` is None), a stream passes
        the cap, or time.monotonic() reaches `deadline_s`."""
        if self.overflow:
            return PumpEvent.OVERFLOW
        polling = child is not None and child.fd is None
        with selectors.DefaultSelector() as selector:
            for name, fd in self._open.items():
                selector.register(fd, selectors.EVENT_READ, name)
            if child is not None and child.fd is not None:
                selector.register(child.fd, selectors.EVENT_READ, _EXIT)
            while child is not None or self._open:
                remaining_s = deadline_s - time.monotonic()
                if remaining_s <= 0:
                    return PumpEvent.DEADLINE
                if polling:
                    remaining_s = min(remaining_s, ChildWatch.POLL_S)
                for key, _ in selector.select(remaining_s):
                    if key.data == _EXIT:
                        return PumpEvent.EXITED
                    chunk = os.read(key.fd, _CHUNK_BYTES)
                    if not chunk:
                        selector.unregister(key.fd)
                        del self._open[key.data]
                    elif self._keep(key.data, chunk):
                        return PumpEvent.OVERFLOW
                if polling and child is not None and child.exited():
                    return PumpEvent.EXITED
        return PumpEvent.EOF

    def _keep(self, name: str, chunk: bytes) -> bool:
        """Store what fits under the cap; True when the stream has now passed it."""
        data = self._data[name]
        data += chunk[: max(0, self._cap_bytes - len(data))]
        self._seen[name] += len(chunk)
        if self._seen[name] > self._cap_bytes and not self.overflow:
            self.overflow = name
        return bool(self.overflow)

    def text(self, name: str) -> str:
        """The captured bytes of "stdout" or "stderr", decoded as UTF-8 (errors replaced)."""
        return self._data[name].decode("utf-8", "replace")

    def close(self) -> None:
        """Forget the descriptors; the caller owns and closes them."""
        self._open.clear()
