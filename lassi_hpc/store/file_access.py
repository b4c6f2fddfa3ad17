"""Opening a results file: existence, HDF5-ness, our `format`, a schema version we understand.

Both the writer and the reader open files here, so a foreign or too-new file is refused with the
same message whichever opens it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, Literal

import h5py

import lassi_hpc
from lassi_hpc.errors import StoreError
from lassi_hpc.store.schema import ATTR_FORMAT, ATTR_SCHEMA_VERSION, FORMAT, SCHEMA_VERSION

# Head room reserved beyond the space HDF5 has allocated, for what a flush itself allocates.
RESERVE_MARGIN_BYTES = 256 * 1024
# File systems without fallocate: the reservation is skipped there (best effort).
_NO_FALLOCATE = {errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS}

# Lustre and some NFS mounts refuse POSIX locks; HDF5 would then refuse to open the file at all.
# "best-effort" locks where the file system allows it and goes on where it does not.
LOCKING = "best-effort"


def open_hdf5(path: Path, mode: Literal["r", "r+", "w"]) -> Any:
    """h5py.File(path, mode) with HDF5's OSError turned into a StoreError that names the file."""
    if mode != "w" and not path.is_file():
        raise StoreError(f"{path}: no such results file")
    try:
        # The default low bound of the file format ("earliest") matters: with libver "latest" HDF5
        # marks the superblock while a writer has the file open, and after a killed driver the file
        # cannot be opened again without the h5clear tool.
        return h5py.File(path, mode, locking=LOCKING)
    except OSError as exc:
        hint = ""
        if "lock" in str(exc).lower():
            hint = "; another process (a running campaign driver?) has it open for writing"
        elif mode != "w":
            hint = "; is it an HDF5 file?"
        raise StoreError(f"{path}: cannot open ({exc}){hint}") from exc


def check_header(file: Any, path: Path, *, for_writing: bool) -> int:
    """Raise StoreError unless `file` is a lassi_hpc results file of a usable schema version.

    Readers accept SCHEMA_VERSION and older; writers only SCHEMA_VERSION, so that one file never
    mixes two layouts. Returns the file's schema version.
    """
    attrs = file.attrs
    if ATTR_FORMAT not in attrs:
        found = ", ".join(sorted(file.keys())[:10]) or "nothing"
        raise StoreError(
            f"{path}: not a lassi_hpc results file: the root has no {ATTR_FORMAT!r} attribute "
            f"(top-level names found: {found})"
        )
    found_format = attrs[ATTR_FORMAT]
    if isinstance(found_format, bytes):
        found_format = found_format.decode("utf-8", "replace")
    if found_format != FORMAT:
        raise StoreError(
            f"{path}: not a lassi_hpc results file: root attribute {ATTR_FORMAT!r} is "
            f"{found_format!r}, expected {FORMAT!r}"
        )
    try:
        version = int(attrs[ATTR_SCHEMA_VERSION])
    except (KeyError, TypeError, ValueError):
        raise StoreError(
            f"{path}: root attribute {ATTR_SCHEMA_VERSION!r} is missing or not an integer "
            f"(found {attrs.get(ATTR_SCHEMA_VERSION)!r})"
        ) from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: written with {ATTR_SCHEMA_VERSION} {version}, newer than the "
            f"{SCHEMA_VERSION} that lassi_hpc {lassi_hpc.__version__} understands; "
            "upgrade lassi_hpc to use it"
        )
    if for_writing and version < SCHEMA_VERSION:
        raise StoreError(
            f"{path}: written with {ATTR_SCHEMA_VERSION} {version}; lassi_hpc "
            f"{lassi_hpc.__version__} writes {SCHEMA_VERSION} and does not append to older files: "
            "start a new results file"
        )
    return version


def open_results(path: Path, *, for_writing: bool) -> tuple[Any, int]:
    """Open an existing results file ("r+" to write, "r" to read) and check its header."""
    file = open_hdf5(path, "r+" if for_writing else "r")
    try:
        version = check_header(file, path, for_writing=for_writing)
    except BaseException:
        file.close()
        raise
    return file, version


def reserve_space(file: Any, reserved_below: int, extra_bytes: int) -> int:
    """Make the file system allocate the file's blocks up to HDF5's allocated end + `extra_bytes`.

    HDF5 is not safe against a write that fails for want of space: a flush rewrites existing
    metadata in place (that succeeds) and appends new objects (that fails), leaving old groups
    linked to objects that are not there. Reserving the blocks first (posix_fallocate, which
    counts against quotas too) moves a full disk to a point where HDF5 has written nothing. Blocks
    below `reserved_below` (what the previous call returned) are taken as reserved already.
    Raises OSError (ENOSPC, EDQUOT, EFBIG) when the space is not there; on file systems without
    fallocate it reserves nothing. Returns the next `reserved_below`.
    """
    handle = file.id.get_vfd_handle()
    end = int(file.id.get_filesize()) + extra_bytes
    if end <= reserved_below:
        return reserved_below
    try:
        os.posix_fallocate(handle, reserved_below, end - reserved_below)
    except OSError as exc:
        if exc.errno not in _NO_FALLOCATE:
            raise
    return end


def release_reserve(file: Any) -> None:
    """Give back the reserved blocks beyond HDF5's allocated end (call after a flush)."""
    handle = file.id.get_vfd_handle()
    allocated = int(file.id.get_filesize())
    if os.fstat(handle).st_size > allocated:
        os.ftruncate(handle, allocated)


def sync_to_disk(file: Any) -> None:
    """Flush HDF5's caches to the OS and the OS's to the disk.

    h5py's flush() alone survives a killed process but not a node crash; fsync covers that.
    """
    file.flush()
    os.fsync(file.id.get_vfd_handle())


# Files given up after a failed write whose close failed too: kept referenced, since h5py's clean-up
# of a half-closed file can crash the interpreter.
_ABANDONED: list[Any] = []


def detach_descriptor(file: Any) -> None:
    """Point this process's descriptor of `file` at an anonymous in-memory file.

    Whatever HDF5 writes afterwards (it flushes what it holds when the file is closed) lands there;
    the file on disk, and other processes' descriptors of it, are untouched.
    """
    try:
        scratch = os.memfd_create("lassi_hpc-detached")
    except (AttributeError, OSError):  # no memfd: writes vanish, but close reports errors
        scratch = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(scratch, file.id.get_vfd_handle())
    finally:
        os.close(scratch)


def abandon(file: Any) -> None:
    """Stop a file that failed mid-write from touching the disk again, and close it.

    HDF5 flushes what it holds when a file is closed, including a half-written record; the file
    is detached first (detach_descriptor), so the file on disk stays as of the last flush.
    """
    detach_descriptor(file)
    try:
        file.close()
    except Exception:
        _ABANDONED.append(file)
