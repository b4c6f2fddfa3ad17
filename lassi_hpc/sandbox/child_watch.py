"""Notice that our direct child exited, without reaping it.

Until we reap it, the child's pid (and so its process-group id) cannot be handed to an unrelated
process, which is what makes killing "its group" and "its pid" safe after it exited.
"""

from __future__ import annotations

import contextlib
import os
import signal


class ChildWatch:
    """Watches one direct child. Uses a pidfd (Linux >= 5.3) when the kernel has them, else polls
    with waitid(WNOWAIT) (RHEL 8's 4.18 kernel, for example). Call close() when done."""

    POLL_S = 0.05
    """How often to poll when there is no pidfd."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.fd: int | None
        try:
            self.fd = os.pidfd_open(pid)
        except OSError:
            self.fd = None

    def exited(self) -> bool:
        """Whether the child has exited (it stays a zombie until reaped)."""
        found = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return found is not None

    def kill(self) -> None:
        """SIGKILL the child and its process group; a no-op for whatever is already gone."""
        with contextlib.suppress(ProcessLookupError):
            if self.fd is not None:
                signal.pidfd_send_signal(self.fd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
