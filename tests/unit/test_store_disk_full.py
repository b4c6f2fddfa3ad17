"""A results file on a disk that fills up: a clear error, nothing already stored lost, and the
writing resumes once space is freed. The disk is a real 2 MiB tmpfs (mounting needs root)."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_store_support import (
    bulky_baseline,
    bulky_trial,
    failed_build_baseline,
    measured_baseline,
    provenance,
    vanilla_trial,
)

from lassi_hpc.errors import StoreError
from lassi_hpc.store import ResultsReader, ResultsWriter

DISK_BYTES = 2 * 2**20
FILLER_CHUNK_BYTES = 64 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a freshly mounted 2 MiB tmpfs, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Write a file into `directory` until its file system is full; returns the file."""
    filler = directory / "filler"
    chunk = b"\0" * FILLER_CHUNK_BYTES
    with filler.open("wb", buffering=0) as out:
        for size in (FILLER_CHUNK_BYTES, 4096, 1):
            try:
                while True:
                    out.write(chunk[:size])
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return filler


def test_a_full_disk_is_a_clear_error_and_the_campaign_resumes_after_space_is_freed(
    small_disk: Path,
) -> None:
    path = small_disk / "results.h5"
    with ResultsWriter.create(path, "demo-campaign", provenance()) as writer:
        writer.write_baseline(measured_baseline())
        writer.write_trial(vanilla_trial())
    writer = ResultsWriter.open_existing(path)
    filler = fill(small_disk)

    refused: list[tuple[Callable[[], None], str]] = [
        (lambda: writer.write_baseline(bulky_baseline("huge")), "the baseline of 'huge'/'cuda'"),
        (lambda: writer.write_trial(bulky_trial("huge")), "trial 'huge'/'cuda' lassi-ee"),
    ]
    for write, what in refused:
        with pytest.raises(StoreError) as raised:
            write()
        message = str(raised.value)
        assert message.startswith(f"{path}: no room for ") and what in message, message
        assert "no space left on device" in message.lower(), message
        assert "nothing was written" in message, message
    # A refused record leaves the writer usable (a small one is refused too, before any byte of
    # it is written); closing needs no new space.
    with pytest.raises(StoreError, match="No space left on device; nothing was written"):
        writer.write_baseline(failed_build_baseline())
    assert not writer.closed
    writer.close()

    with ResultsReader(path) as reader:
        assert [row.app for row in reader.baselines()] == ["jacobi"]
        assert reader.read_baseline("jacobi", "cuda") == measured_baseline()
        assert reader.read_trial("jacobi", "cuda", "vanilla", 1) == vanilla_trial()

    filler.unlink()
    with ResultsWriter.open_existing(path) as writer:
        writer.write_baseline(measured_baseline("second"))
        writer.write_baseline(failed_build_baseline())
        writer.write_trial(vanilla_trial(trial=2))
    with ResultsReader(path) as reader:
        assert sorted(row.app for row in reader.baselines()) == ["jacobi", "lulesh", "second"]
        assert reader.read_baseline("second", "cuda") == measured_baseline("second")
        assert reader.read_baseline("jacobi", "cuda") == measured_baseline()
        assert reader.read_trial("jacobi", "cuda", "vanilla", 1) == vanilla_trial()
        assert reader.read_trial("jacobi", "cuda", "vanilla", 2) == vanilla_trial(trial=2)
