"""ResultsWriter: replacing, resuming, refusing foreign or newer files, failing cleanly."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import cast

import h5py
import pytest
from test_store_support import (
    failed_build_baseline,
    measured_baseline,
    provenance,
)

import lassi_hpc
from lassi_hpc.errors import StoreError
from lassi_hpc.records import OutputFile, Verdict
from lassi_hpc.store import SCHEMA_VERSION, ResultsReader, ResultsWriter
from lassi_hpc.store.file_access import abandon

REPO_ROOT = Path(lassi_hpc.__file__).resolve().parents[1]
TESTS_UNIT = Path(__file__).resolve().parent


def new_file(path: Path) -> ResultsWriter:
    return ResultsWriter.create(path, "demo-campaign", provenance())


def hidden_names(path: Path) -> list[str]:
    found: list[str] = []
    with h5py.File(path, "r") as file:
        file.visit(lambda name: found.append(name) if "/." in f"/{name}" else None)
    return found


def test_rewriting_a_baseline_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    first = measured_baseline()
    assert first.measurement is not None
    second = dataclasses.replace(
        first,
        partition="mi100",
        runs=first.runs[:1],
        measurement=dataclasses.replace(first.measurement, energy_j_mean=99.5),
    )
    with new_file(path) as writer:
        writer.write_baseline(first)
        writer.write_baseline(second)

    with ResultsReader(path) as reader:
        rows = reader.baselines()
        assert [(row.app, row.variant, row.partition) for row in rows] == [
            ("jacobi", "cuda", "mi100")
        ]
        assert rows[0].energy_j_mean == 99.5
        assert reader.read_baseline("jacobi", "cuda") == second
    with h5py.File(path, "r") as file:
        assert list(file["apps/jacobi/cuda"]) == ["baseline"]
        assert list(file["apps/jacobi/cuda/baseline/runs"]) == ["small"]
    assert hidden_names(path) == []


def test_has_baseline(tmp_path: Path) -> None:
    with new_file(tmp_path / "results.h5") as writer:
        assert not writer.has_baseline("jacobi", "cuda")
        writer.write_baseline(measured_baseline())
        assert writer.has_baseline("jacobi", "cuda")
        assert not writer.has_baseline("jacobi", "hip")
        assert not writer.has_baseline("lulesh", "cuda")


def test_baseline_status_says_ok_failed_or_none(tmp_path: Path) -> None:
    with new_file(tmp_path / "results.h5") as writer:
        writer.write_baseline(measured_baseline())
        writer.write_baseline(failed_build_baseline())
        assert writer.baseline_status("jacobi", "cuda") == "ok"
        assert writer.baseline_status("lulesh", "cuda") == "build-failed"
        assert writer.baseline_status("jacobi", "hip") is None


def test_open_existing_keeps_records_and_logs_the_resume(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    with new_file(path) as writer:
        writer.write_baseline(measured_baseline())
    resumed = dataclasses.replace(
        provenance(), git_revision="feedbeef", collected_utc="2025-11-22T08:00:00Z"
    )
    with ResultsWriter.open_existing(path, provenance=resumed) as writer:
        assert writer.has_baseline("jacobi", "cuda")
        writer.write_baseline(failed_build_baseline())
    with ResultsWriter.open_existing(path) as writer:  # a resume without provenance adds none
        writer.write_baseline(measured_baseline("jacobi", "omp"))

    with ResultsReader(path) as reader:
        assert reader.read_baseline("jacobi", "cuda") == measured_baseline()
        assert reader.read_baseline("lulesh", "cuda") == failed_build_baseline()
        assert [(row.app, row.variant) for row in reader.baselines()] == [
            ("jacobi", "cuda"),
            ("jacobi", "omp"),
            ("lulesh", "cuda"),
        ]
        found = reader.provenance()
        assert found["git_revision"] == provenance().git_revision
        assert [r["git_revision"] for r in found["resumes"]] == ["feedbeef"]
        assert found["resumes"][0]["collected_utc"] == "2025-11-22T08:00:00Z"


def test_create_refuses_an_existing_file_unless_told(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    with new_file(path) as writer:
        writer.write_baseline(measured_baseline())
    with pytest.raises(StoreError, match=f"{path}: already exists"):
        new_file(path)
    with ResultsReader(path) as reader:
        assert len(reader.baselines()) == 1
    with ResultsWriter.create(path, "again", provenance(), overwrite=True):
        pass
    with ResultsReader(path) as reader:
        assert reader.baselines() == [] and reader.campaign_name == "again"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.h5"]  # no temporary left


def test_create_in_a_missing_directory_names_it(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        new_file(tmp_path / "nowhere" / "results.h5")


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.h5"
    with new_file(path):
        pass
    with h5py.File(path, "r+") as file:
        file.attrs["schema_version"] = SCHEMA_VERSION + 1
    for open_it in (ResultsWriter.open_existing, ResultsReader):
        with pytest.raises(StoreError) as caught:
            open_it(path)
        assert str(path) in str(caught.value)
        assert f"schema_version {SCHEMA_VERSION + 1}" in str(
            caught.value
        ) and "upgrade lassi_hpc" in str(caught.value)


def test_older_schema_version_is_read_but_not_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "old.h5"
    with new_file(path):
        pass
    with h5py.File(path, "r+") as file:
        file.attrs["schema_version"] = 0
    with ResultsReader(path) as reader:
        assert reader.schema_version == 0
    with pytest.raises(StoreError, match="does not append to older files"):
        ResultsWriter.open_existing(path)


def test_foreign_hdf5_file_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "simulation.h5"
    with h5py.File(foreign, "w") as file:
        file["temperature"] = [1.0, 2.0]
    other_format = tmp_path / "other.h5"
    with h5py.File(other_format, "w") as file:
        file.attrs["format"] = "someone-elses-results"

    for open_it in (ResultsWriter.open_existing, ResultsReader):
        with pytest.raises(StoreError) as caught:
            open_it(foreign)
        message = str(caught.value)
        assert str(foreign) in message and "not a lassi_hpc results file" in message
        assert "temperature" in message
        with pytest.raises(StoreError, match="someone-elses-results") as caught:
            open_it(other_format)
        assert str(other_format) in str(caught.value)
    with h5py.File(foreign, "r") as file:  # refusing did not touch it
        assert list(file) == ["temperature"] and dict(file.attrs) == {}


def test_missing_or_non_hdf5_file_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5\n")
    with pytest.raises(StoreError, match=f"{text}: cannot open"):
        ResultsReader(text)
    with pytest.raises(StoreError, match="no such results file"):
        ResultsWriter.open_existing(tmp_path / "absent.h5")


def test_a_write_failing_partway_keeps_the_earlier_baseline(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    good = measured_baseline()
    assert good.measurement is not None
    # A value h5py cannot convert, in the measurement: build, runs and verdicts are written first.
    broken = dataclasses.replace(
        good,
        partition="mi100",
        measurement=dataclasses.replace(good.measurement, energy_j_mean=cast(float, "lots")),
    )
    with new_file(path) as writer:
        writer.write_baseline(good)
        with pytest.raises(StoreError) as caught:
            writer.write_baseline(broken)
        assert str(path) in str(caught.value) and "'jacobi'/'cuda'" in str(caught.value)
        writer.write_baseline(failed_build_baseline())  # the writer is still usable

    assert hidden_names(path) == []
    with ResultsReader(path) as reader:
        assert reader.read_baseline("jacobi", "cuda") == good
        assert reader.read_baseline("lulesh", "cuda") == failed_build_baseline()


def test_ambiguous_records_are_refused_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    good = measured_baseline()
    twice = dataclasses.replace(good, runs=(good.runs[0], good.runs[0]))
    same_verdict = dataclasses.replace(
        good, verdicts=(Verdict(True, "small", ""), Verdict(False, "small", "differs"))
    )
    two_files = dataclasses.replace(
        good,
        runs=(
            dataclasses.replace(
                good.runs[0], output_files=(OutputFile("a", b"1"), OutputFile("a", b"2"))
            ),
        ),
    )
    with new_file(path) as writer:
        with pytest.raises(StoreError, match="two runs for the same input: small"):
            writer.write_baseline(twice)
        with pytest.raises(StoreError, match="two verdicts for the same input: small"):
            writer.write_baseline(same_verdict)
        with pytest.raises(StoreError, match="two output files named a"):
            writer.write_baseline(two_files)
    with ResultsReader(path) as reader:
        assert reader.baselines() == []


def test_a_closed_writer_refuses_to_write(tmp_path: Path) -> None:
    writer = new_file(tmp_path / "results.h5")
    writer.close()
    writer.close()
    assert writer.closed
    with pytest.raises(StoreError, match="writer is closed"):
        writer.write_baseline(measured_baseline())


def test_only_the_opening_process_may_write(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    with new_file(path) as writer:
        handle = writer._file.id.get_vfd_handle()
        child = os.fork()
        if child == 0:  # a worker that wrongly inherited the driver's writer
            # Its copy of the descriptor no longer reaches the file, so HDF5 cannot flush into it
            # when the child exits.
            detached = os.readlink(f"/proc/self/fd/{handle}").startswith("/memfd:")
            try:
                writer.write_baseline(measured_baseline())
            except StoreError as exc:
                os._exit(0 if "only the process that opened" in str(exc) and detached else 2)
            os._exit(1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert os.readlink(f"/proc/self/fd/{handle}") == str(path.resolve())
        writer.write_baseline(failed_build_baseline())
    with ResultsReader(path) as reader:
        assert [row.app for row in reader.baselines()] == ["lulesh"]


FULL_DISK_CHILD = """
import resource, signal, sys
from lassi_hpc.errors import StoreError
from lassi_hpc.store import ResultsWriter
from test_store_support import bulky_baseline, failed_build_baseline
path, limit = sys.argv[1], int(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    writer = ResultsWriter.open_existing(path)
except StoreError as exc:
    sys.exit(f"OPEN: {exc}")
try:
    writer.write_baseline(bulky_baseline("huge"))
except StoreError as exc:
    print(exc)
writer.write_baseline(failed_build_baseline())  # a small record still fits
writer.close()
"""


@pytest.mark.parametrize(
    ("room_kib", "expected"),
    [
        (
            64,
            "OPEN: {path}: cannot prepare the results file for writing: [Errno 27] File too large",
        ),
        (2048, "{path}: no room for the baseline of 'huge'/'cuda' (up to "),
    ],
    ids=["no-room-to-open", "no-room-for-a-record"],
)
def test_a_full_disk_raises_store_error_and_keeps_the_file(
    tmp_path: Path, room_kib: int, expected: str
) -> None:
    # RLIMIT_FSIZE makes writes fail with EFBIG where a full disk fails with ENOSPC and an exhausted
    # quota with EDQUOT; it applies to this child process only.
    path = tmp_path / "results.h5"
    with new_file(path) as writer:
        writer.write_baseline(measured_baseline())
    limit = path.stat().st_size + room_kib * 1024
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(TESTS_UNIT)]))
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CHILD, str(path), str(limit)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert (done.stdout + done.stderr).startswith(expected.format(path=path)), done
    assert done.returncode == (1 if expected.startswith("OPEN") else 0), done

    with ResultsReader(path) as reader:
        assert reader.read_baseline("jacobi", "cuda") == measured_baseline()
        apps = [row.app for row in reader.baselines()]
    assert apps == (["jacobi"] if expected.startswith("OPEN") else ["jacobi", "lulesh"])
    assert hidden_names(path) == []


def test_an_abandoned_file_never_reaches_the_disk(tmp_path: Path) -> None:
    # What the writer does after an I/O error in the middle of a record: HDF5 would flush the half
    # record on close; abandon() must keep the file as of its last flush.
    path = tmp_path / "results.h5"
    with new_file(path) as writer:
        writer.write_baseline(measured_baseline())
    file = h5py.File(path, "r+")
    before = path.read_bytes()  # after opening: HDF5 marks the superblock on opening for writing
    file["apps/jacobi/cuda/baseline"].attrs["status"] = "half-written"
    file.create_group("apps/partial/cuda").create_dataset("x", data=list(range(10_000)))
    abandon(file)
    assert path.read_bytes()[: len(before)] == before
    with ResultsReader(path) as reader:
        assert reader.read_baseline("jacobi", "cuda") == measured_baseline()
        assert [row.app for row in reader.baselines()] == ["jacobi"]
