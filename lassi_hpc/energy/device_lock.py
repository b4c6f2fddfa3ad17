"""One measurement per device at a time: an exclusive lock per device, named by its uid.

Two measurements on one GPU (or one CPU package, for RAPL) would each count the other's energy.
Workers of one node share a lock directory on node-local disk; each measured device has a lock file
there, held with flock(2) for the whole measurement. The kernel drops a flock when its holder dies,
so a killed measurement never leaves a device locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from lassi_hpc.errors import MeasurementError
from lassi_hpc.records import DeviceIdentity

DEFAULT_LOCK_DIR = Path(tempfile.gettempdir()) / "lassi-hpc-device-locks"
_POLL_S = 0.05

_log = logging.getLogger(__name__)


def lock_file_name(uid: str) -> str:
    """A file name for a device uid: safe characters only, the uid still recognisable."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", uid) + ".lock"


@contextlib.contextmanager
def hold_device_locks(
    devices: Sequence[DeviceIdentity],
    lock_dir: Path = DEFAULT_LOCK_DIR,
    *,
    timeout_s: float = 3600.0,
    host: str | None = None,
) -> Iterator[None]:
    """Hold an exclusive lock on every device of `devices` that lives on `host` (default: any).

    Locks are taken in uid order, so two measurements wanting overlapping devices cannot deadlock.
    Waits up to `timeout_s` for a device another measurement holds, then raises MeasurementError
    naming the device and the holder it recorded.
    """
    uids = sorted({d.uid for d in devices if host is None or d.host == host})
    lock_dir.mkdir(mode=0o1777, parents=True, exist_ok=True)
    with contextlib.ExitStack() as held:
        for uid in uids:
            held.enter_context(_device_lock(lock_dir / lock_file_name(uid), uid, timeout_s))
        yield


@contextlib.contextmanager
def _device_lock(path: Path, uid: str, timeout_s: float) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline_s = time.monotonic() + timeout_s
        waiting_logged = False
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline_s:
                    raise MeasurementError(
                        f"device {uid} is still being measured by {_holder(path)} after "
                        f"{timeout_s:g} s (lock {path})"
                    ) from None
                if not waiting_logged:
                    _log.info("waiting for device %s, measured by %s", uid, _holder(path))
                    waiting_logged = True
                time.sleep(_POLL_S)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"pid {os.getpid()} on {os.uname().nodename}\n".encode())
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the flock


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or "another process"
    except OSError:
        return "another process"
