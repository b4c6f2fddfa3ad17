"""The writer keeps HDF5's metadata cache bounded by reopening its file, and loses nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_store_support import lassi_ee_trial, measured_baseline, provenance

from lassi_hpc.store import ResultsReader, ResultsWriter
from lassi_hpc.store import writer as writer_module


def cached_bytes(writer: ResultsWriter) -> int:
    return int(writer._file.id.get_mdc_size()[2])


def test_the_metadata_cache_stays_bounded_and_every_trial_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound_bytes = 512 * 1024
    monkeypatch.setattr(writer_module, "MAX_METADATA_CACHE_BYTES", bound_bytes)
    path = tmp_path / "results.h5"
    trials = [dataclasses.replace(lassi_ee_trial(), trial=n) for n in range(40)]
    largest_bytes = 0
    with ResultsWriter.create(path, "cache-campaign", provenance(), durable=False) as writer:
        writer.write_baseline(measured_baseline())
        for record in trials:
            writer.write_trial(record)
            largest_bytes = max(largest_bytes, cached_bytes(writer))
    # Without the bound the cache would hold every trial's metadata (tens of KB each).
    assert largest_bytes <= bound_bytes
    with ResultsReader(path) as reader:
        for record in trials:
            assert reader.read_trial("jacobi", "cuda", "lassi-ee", record.trial) == record


def test_without_a_reopen_the_cache_grows_with_the_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reason for the bound: the same writes with it lifted leave a much larger cache.
    monkeypatch.setattr(writer_module, "MAX_METADATA_CACHE_BYTES", 2**40)
    with ResultsWriter.create(
        tmp_path / "results.h5", "cache-campaign", provenance(), durable=False
    ) as writer:
        writer.write_baseline(measured_baseline())
        for n in range(40):
            writer.write_trial(dataclasses.replace(lassi_ee_trial(), trial=n))
        assert cached_bytes(writer) > 512 * 1024
