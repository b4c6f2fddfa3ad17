"""Keep HDF5 metadata in memory between flushes, so that a killed writer leaves no half change.

HDF5 writes metadata in place and is not crash-safe: whenever its metadata cache evicts a dirty
entry (a group's link table, say, that already points at objects not yet on disk), that entry
reaches the disk on its own, and a process killed right after leaves a file whose tree points past
its written end. With evictions disabled, dirty metadata reaches the disk only at flush(); the
writer flushes once a record is complete (still linked from nowhere) and once it is linked, so a
kill elsewhere leaves the file of the last flush. Evictions are enabled again afterwards, so that
the cache does not grow with the campaign.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

# HDF5's H5C_incr__off / H5C_flash_incr__off / H5C_decr__off, required when evictions are off.
_OFF = 0


class MetadataHold:
    """Disables metadata-cache evictions of `file` inside a `with` block, restoring them after.

    Set `abandoned` when the file was given up inside the block (see file_access.abandon): the
    cache of such a file must not be touched again.
    """

    def __init__(self, file: Any) -> None:
        self._file = file
        self._original: Any = None
        self.abandoned = False

    def __enter__(self) -> MetadataHold:
        self._original = self._file.id.get_mdc_config()
        held = self._file.id.get_mdc_config()
        held.evictions_enabled = False
        held.incr_mode = _OFF
        held.flash_incr_mode = _OFF
        held.decr_mode = _OFF
        self._file.id.set_mdc_config(held)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self.abandoned and self._file.id.valid:
            self._file.id.set_mdc_config(self._original)
