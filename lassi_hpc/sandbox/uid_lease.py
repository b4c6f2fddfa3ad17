"""Per-run unprivileged uids for commands started by root.

Root is exempt from RLIMIT_NPROC, and a root process can write every file. So when we run as root,
each sandboxed command runs as a uid of its own, taken from a reserved range for the duration of the
run. Because the uid belongs to that run alone, the kernel's per-user process count is exactly the
run's process count (so RLIMIT_NPROC is a per-run limit even with many runs in parallel), and
"every process of this uid" is exactly the run's process tree, which we can kill completely.

A uid is held through an flock on `<uid>.lock` in a root-owned directory, so leases are exclusive
across threads and across processes (several Parsl workers on one node); the kernel releases the
lock if the holder dies.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from lassi_hpc.errors import LassiError

SANDBOX_UID_BASE = 1_900_000_000
"""First uid of the reserved range (also used as gid). Chosen far above login, system and the usual
subordinate-uid ranges (100000 + 65536 * n), and below 2**31 for tools that keep uids in an int."""
SANDBOX_UID_COUNT = 65_536
LEASE_DIR = Path("/run/lassi_hpc-sandbox-uids")


def _lease_dir() -> int:
    """Open (creating if needed) the lease directory, refusing one root does not own."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(LEASE_DIR, 0o700)
    fd = os.open(LEASE_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    info = os.fstat(fd)
    if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        os.close(fd)
        raise LassiError(
            f"{LEASE_DIR} must be a directory owned by root and writable only by root "
            f"(found uid {info.st_uid}, mode {stat.filemode(info.st_mode)})"
        )
    return fd


@contextlib.contextmanager
def lease_sandbox_uid() -> Iterator[int]:
    """Hold the lowest free uid of the reserved range until the block exits.

    Raises LassiError when all SANDBOX_UID_COUNT uids are in use.
    """
    dir_fd = _lease_dir()
    try:
        for uid in range(SANDBOX_UID_BASE, SANDBOX_UID_BASE + SANDBOX_UID_COUNT):
            fd = os.open(
                f"{uid}.lock",
                os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dir_fd,
            )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise
            try:
                yield uid
            finally:
                os.close(fd)  # closing the only descriptor releases the flock
            return
    finally:
        os.close(dir_fd)
    raise LassiError(f"all {SANDBOX_UID_COUNT} sandbox uids from {SANDBOX_UID_BASE} are in use")
