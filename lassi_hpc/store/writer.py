"""ResultsWriter: the one object that writes a campaign's HDF5 results file.

Only the campaign driver holds one (workers return records; the driver stores them), so there is a
single writer per file. How a record is written so that a crash or a full disk loses at most that
record:

1. Disk space for the whole record, and the head room its flushes need, is reserved first
   (posix_fallocate), so a full disk or an exhausted quota is found before HDF5 has written
   anything, and the writer stays usable for smaller records.
2. The record is written into an anonymous group (linked from nowhere) and flushed: everything that
   reaches the disk in this step is new and unreachable from the file's root, so a crash here
   leaves the file as it was, plus some unused space.
3. The anonymous group is linked under its final name, replacing an earlier record of the same
   name (the baseline of the same app and variant, the trial of the same app, variant, strategy
   and number), and flushed again: a few small metadata writes.

HDF5's metadata cache is kept from writing anything between flushes (see metadata_cache), and a
file whose write failed half-way is abandoned so that HDF5 never flushes the half record (see
file_access.abandon).

Each flush also fsyncs, so that a record survives a crash of the node, not only of the process. A
writer opened with `durable=False` skips the fsync: a killed process still loses at most the record
being written, but a node crash (or power loss) may lose or corrupt records the OS had not written
back yet. That is for bulk files that can be made again (synthetic benchmark files), never for a
campaign.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import lassi_hpc
from lassi_hpc.errors import StoreError
from lassi_hpc.records import BaselineRecord, Strategy, TrialRecord
from lassi_hpc.store.baseline_codec import (
    estimated_size_bytes,
    validate_baseline,
    write_baseline_group,
)
from lassi_hpc.store.encoding import TEXT_DTYPE, enum_value, get_text_attr, set_text_attr
from lassi_hpc.store.file_access import (
    RESERVE_MARGIN_BYTES,
    abandon,
    detach_descriptor,
    open_hdf5,
    open_results,
    release_reserve,
    reserve_space,
    sync_to_disk,
)
from lassi_hpc.store.metadata_cache import MetadataHold
from lassi_hpc.store.provenance import Provenance, utc_now
from lassi_hpc.store.provenance_codec import (
    append_resume,
    read_provenance,
    read_resumes,
    write_provenance,
)
from lassi_hpc.store.schema import (
    APPS,
    ATTR_CAMPAIGN_NAME,
    ATTR_CREATED_UTC,
    ATTR_FORMAT,
    ATTR_LASSI_HPC_VERSION,
    ATTR_NAME,
    ATTR_SCHEMA_VERSION,
    BASELINE,
    FORMAT,
    PROV_CAMPAIGN_CONFIG,
    PROVENANCE,
    SCHEMA_VERSION,
    TRIALS,
    baseline_path,
    escape_name,
    index_name,
    trial_path,
)
from lassi_hpc.store.trial_codec import (
    estimated_trial_size_bytes,
    trial_label,
    validate_trial,
    write_trial_group,
)

# What h5py raises when HDF5 refuses a write (OSError for I/O such as a full disk, the others for
# values it cannot convert); each becomes a StoreError naming the file.
_H5_ERRORS = (OSError, RuntimeError, ValueError, TypeError, KeyError)

T = TypeVar("T")

_OPEN_WRITERS: weakref.WeakSet[ResultsWriter] = weakref.WeakSet()


def _detach_writers_in_child() -> None:
    for writer in list(_OPEN_WRITERS):
        writer._detach_after_fork()


os.register_at_fork(after_in_child=_detach_writers_in_child)


# Above this the writer reopens its file, emptying the metadata cache (see _bound_metadata_cache).
MAX_METADATA_CACHE_BYTES = 32 * 2**20


class ResultsWriter:
    """Writes records into one results file; create() a new file or open_existing() to resume.

    Use as a context manager, or call close(). Writes are serialised by a lock (Parsl completion
    callbacks may run on other threads) and refused in any process but the one that opened the file.
    """

    def __init__(self, file: Any, path: Path, *, durable: bool = True) -> None:
        """Internal: use ResultsWriter.create or ResultsWriter.open_existing."""
        self._file = file
        self._path = path
        self._durable = durable
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._reserved_below = os.fstat(file.id.get_vfd_handle()).st_size
        self._closed = False
        self._failure = ""  # why the writer stopped, after an I/O error in the middle of a write
        _OPEN_WRITERS.add(self)

    # ----------------------------------------------------------------------------------------------
    # Opening

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        campaign_name: str,
        provenance: Provenance,
        *,
        overwrite: bool = False,
        durable: bool = True,
    ) -> ResultsWriter:
        """Create a new results file holding its header and provenance, open for writing.

        The file is written under a temporary name in the same directory and renamed when complete,
        so `path` never names a file without a header. An existing `path` is refused unless
        `overwrite` is true (a campaign's results are not replaced by accident). `durable=False`
        flushes records without fsync: faster, and not safe against a node crash (see the module
        docstring); only for files that can be made again.
        """
        target = Path(path)
        if target.exists() and not overwrite:
            raise StoreError(
                f"{target}: already exists; resume it with ResultsWriter.open_existing, "
                "or choose another path"
            )
        if not target.parent.is_dir():
            raise StoreError(f"{target}: cannot create: directory {target.parent} does not exist")
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        file = open_hdf5(partial, "w")
        try:
            attrs = file.attrs
            attrs.create(ATTR_FORMAT, FORMAT, dtype=TEXT_DTYPE)
            attrs[ATTR_SCHEMA_VERSION] = SCHEMA_VERSION
            attrs.create(ATTR_CREATED_UTC, utc_now(), dtype=TEXT_DTYPE)
            attrs.create(ATTR_LASSI_HPC_VERSION, lassi_hpc.__version__, dtype=TEXT_DTYPE)
            set_text_attr(file, ATTR_CAMPAIGN_NAME, campaign_name)
            write_provenance(file.create_group(PROVENANCE), provenance)
            file.create_group(APPS)
            if durable:
                sync_to_disk(file)
            else:
                file.flush()
            file.close()
            os.replace(partial, target)
        except _H5_ERRORS as exc:
            abandon(file)  # a temporary file, deleted next: only its handle needs closing
            partial.unlink(missing_ok=True)
            raise StoreError(f"{target}: cannot create the results file: {exc}") from exc
        return cls.open_existing(target, durable=durable)

    @classmethod
    def open_existing(
        cls,
        path: str | os.PathLike[str],
        *,
        provenance: Provenance | None = None,
        durable: bool = True,
    ) -> ResultsWriter:
        """Open a results file to add to it (resuming a campaign); what it holds is kept.

        `provenance`, when given, is recorded under /provenance/resumes/<nnnn> as the provenance of
        this session. `durable=False` flushes records without fsync, as in create().
        """
        target = Path(path)
        file, _ = open_results(target, for_writing=True)
        writer = cls(file, target, durable=durable)
        try:
            writer._update(writer._prepare, provenance)
        except _H5_ERRORS as exc:
            raise StoreError(
                f"{target}: cannot prepare the results file for writing: {exc}"
            ) from exc
        return writer

    def _prepare(self, provenance: Provenance | None) -> None:
        if provenance is not None:
            append_resume(self._file[PROVENANCE], provenance)
        self._sync()

    # ----------------------------------------------------------------------------------------------
    # Writing

    @property
    def path(self) -> Path:
        """The results file."""
        return self._path

    @property
    def closed(self) -> bool:
        """True once close() has run, or once a failed write has stopped the writer."""
        return self._closed

    def has_baseline(self, app: str, variant: str) -> bool:
        """Whether the file holds a baseline of `app`/`variant`."""
        return self.baseline_status(app, variant) is not None

    def campaign_configs(self) -> list[str]:
        """The campaign config text of every session, oldest first: the one that created the
        file, then each resumed session's (this one's last, when it was opened with one)."""
        with self._lock:
            self._check_usable()
            group = self._file[PROVENANCE]
            return [
                str(entry[PROV_CAMPAIGN_CONFIG])
                for entry in (read_provenance(group), *read_resumes(group))
            ]

    def baseline_status(self, app: str, variant: str) -> str | None:
        """The stored baseline's status (a StageStatus value), None when none is stored: resume
        skips a stored baseline, and redoes a failed one on request."""
        with self._lock:
            self._check_usable()
            group = self._file.get(baseline_path(app, variant))
            return None if group is None else get_text_attr(group, "status")

    def has_trial(self, app: str, variant: str, strategy: str, trial: int) -> bool:
        """Whether the file holds trial number `trial` (0-based) of `strategy` (a Strategy value)
        for `app`/`variant` (to skip it on resume)."""
        path = trial_path(app, variant, enum_value(strategy, Strategy, "strategy"), trial)
        with self._lock:
            self._check_usable()
            return path in self._file

    def write_baseline(self, record: BaselineRecord) -> None:
        """Store `record`, replacing an earlier baseline of the same app and variant, and flush.

        Raises StoreError (naming the file and the reason) if the record cannot be stored; the file
        then holds what it held before the call, and the writer stays usable, except after an I/O
        error in the middle of the write: then the writer stops (later calls raise) and the
        campaign resumes with open_existing.
        """
        validate_baseline(record)
        self._store(
            f"the baseline of {record.app!r}/{record.variant!r}",
            estimated_size_bytes(record),
            self._write_baseline,
            record,
        )

    def write_trial(self, record: TrialRecord) -> None:
        """Store a finished trial, replacing an earlier one of the same app, variant, strategy and
        number, and flush; with the guarantees of write_baseline.

        A trial is written once, when it has finished; unfinished trials stay with the driver.
        """
        validate_trial(record)
        self._store(
            trial_label(record), estimated_trial_size_bytes(record), self._write_trial, record
        )

    def _store(self, what: str, size_bytes: int, write: Callable[[T], None], record: T) -> None:
        """Reserve `size_bytes`, then run `write(record)` with metadata held; errors name `what`."""
        with self._lock:
            self._check_usable()
            try:
                # The flushes inside the write each want RESERVE_MARGIN_BYTES beyond HDF5's end;
                # reserved now, a full disk refuses the record here rather than stopping the
                # writer half-way through it.
                self._reserved_below = reserve_space(
                    self._file, self._reserved_below, size_bytes + 2 * RESERVE_MARGIN_BYTES
                )
            except OSError as exc:
                raise StoreError(
                    f"{self._path}: no room for {what} (up to {size_bytes} bytes): "
                    f"{exc.strerror or exc}; nothing was written"
                ) from exc
            try:
                self._update(write, record)
                self._bound_metadata_cache()
            except _H5_ERRORS as exc:
                stopped = f"; {self._stopped_message()}" if self._failure else ""
                raise StoreError(f"{self._path}: cannot write {what}: {exc}{stopped}") from exc

    def _bound_metadata_cache(self) -> None:
        """Close and reopen the file once HDF5's metadata cache holds MAX_METADATA_CACHE_BYTES.

        While a record is written its metadata is held in memory (MetadataHold), and in practice
        HDF5 does not shrink the cache again afterwards: it grew by about 170 KB per trial and
        made each write slower (60 to 143 ms per trial over 800 trials). A reopened file starts
        with an empty cache. Every record is flushed before, so nothing is lost either way.
        """
        _max_bytes, _min_clean_bytes, cached_bytes, _entries = self._file.id.get_mdc_size()
        if cached_bytes <= MAX_METADATA_CACHE_BYTES:
            return
        self._sync()
        release_reserve(self._file)
        self._file.close()
        self._file, _ = open_results(self._path, for_writing=True)
        self._reserved_below = os.fstat(self._file.id.get_vfd_handle()).st_size

    def _write_baseline(self, record: BaselineRecord) -> None:
        staged = self._file.create_group(None)  # anonymous: reachable from nowhere yet
        write_baseline_group(staged, record, utc_now())
        self._sync()
        self._link(self._variant_group(record.app, record.variant), BASELINE, staged)

    def _write_trial(self, record: TrialRecord) -> None:
        staged = self._file.create_group(None)  # anonymous: reachable from nowhere yet
        write_trial_group(staged, record, utc_now())
        self._sync()
        variant_group = self._variant_group(record.app, record.variant)
        strategy_group = variant_group.require_group(TRIALS).require_group(
            escape_name(record.strategy.value, "strategy")
        )
        self._link(strategy_group, index_name(record.trial), staged)

    def _link(self, parent: Any, name: str, staged: Any) -> None:
        """Link `staged` as `name` in `parent`, replacing what was there, and flush."""
        if name in parent:
            del parent[name]
        parent[name] = staged
        self._sync()

    def _variant_group(self, app: str, variant: str) -> Any:
        parent = self._file[APPS]
        for name, what in ((app, "app"), (variant, "variant")):
            key = escape_name(name, what)
            if key not in parent:
                set_text_attr(parent.create_group(key), ATTR_NAME, name)
            parent = parent[key]
        return parent

    def _update(self, change: Callable[[T], None], argument: T) -> None:
        """Run `change(argument)` with metadata held in memory; give up the file on I/O errors."""
        with MetadataHold(self._file) as hold:
            try:
                change(argument)
            except (OSError, RuntimeError) as exc:
                # HDF5 failed to read or write the file: what it holds in memory (part of a record)
                # must never reach the disk. A value h5py cannot convert (ValueError, TypeError)
                # needs nothing: the anonymous group it was filling is dropped with it.
                self._failure = f"{type(exc).__name__}: {exc}"
                self._closed = True
                hold.abandoned = True
                abandon(self._file)
                raise

    def _sync(self) -> None:
        self._reserved_below = reserve_space(self._file, self._reserved_below, RESERVE_MARGIN_BYTES)
        if self._durable:
            sync_to_disk(self._file)
        else:
            self._file.flush()

    def _stopped_message(self) -> str:
        return (
            f"the results writer stopped after a failed write ({self._failure}); the file holds "
            "every record written before it: resume with ResultsWriter.open_existing"
        )

    def _check_usable(self) -> None:
        if self._failure:
            raise StoreError(f"{self._path}: {self._stopped_message()}")
        if self._closed:
            raise StoreError(f"{self._path}: the results writer is closed")
        if os.getpid() != self._pid:
            raise StoreError(
                f"{self._path}: only the process that opened the results writer (pid {self._pid}) "
                f"may write; this is pid {os.getpid()} (workers return records to the driver)"
            )

    # ----------------------------------------------------------------------------------------------
    # Closing

    def close(self) -> None:
        """Flush and close the file, giving back reserved disk space; closing twice is harmless."""
        with self._lock:
            if self._closed or os.getpid() != self._pid:  # a forked child leaves the file alone
                return
            self._closed = True
            try:
                self._sync()
                release_reserve(self._file)
                self._file.close()
            except _H5_ERRORS as exc:
                abandon(self._file)
                raise StoreError(f"{self._path}: cannot close the results file: {exc}") from exc

    def _detach_after_fork(self) -> None:
        # In a forked child (a worker, a Parsl helper), HDF5 would flush the parent's file when the
        # child exits; the child's copy of the file descriptor is pointed elsewhere instead.
        if not self._closed:
            detach_descriptor(self._file)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<ResultsWriter {str(self._path)!r} ({state})>"
