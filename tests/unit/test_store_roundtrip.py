"""Records written by ResultsWriter come back equal from ResultsReader; h5py sees the schema."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from test_store_support import (
    failed_build_baseline,
    measured_baseline,
    provenance,
    run,
)

from lassi_hpc.errors import StoreError
from lassi_hpc.records import (
    BaselineRecord,
    EnergyMethod,
    FailureKind,
    OutputFile,
    PowerTrace,
    RepetitionEnergy,
    StageStatus,
)
from lassi_hpc.store import SCHEMA_VERSION, ResultsReader, ResultsWriter, escape_name, unescape_name


def write(path: Path, *records: BaselineRecord) -> None:
    with ResultsWriter.create(path, "demo-campaign", provenance()) as writer:
        for record in records:
            writer.write_baseline(record)


def test_measured_baseline_round_trips_exactly(tmp_path: Path) -> None:
    record = measured_baseline()
    # The record under test really has what the round trip must preserve.
    assert record.measurement is not None and record.measurement.is_estimate
    assert len(record.measurement.repetitions) == 3
    assert all(rep.trace is not None for rep in record.measurement.repetitions)
    assert record.runs[0].output_files[0].content.startswith(b"\x00\x01\xff")
    path = tmp_path / "results.h5"
    write(path, record)

    with ResultsReader(path) as reader:
        assert reader.read_baseline("jacobi", "cuda") == record


def test_failed_build_round_trips(tmp_path: Path) -> None:
    record = failed_build_baseline()
    path = tmp_path / "results.h5"
    write(path, record)

    with ResultsReader(path) as reader:
        back = reader.read_baseline("lulesh", "cuda")
    assert back == record
    assert back.measurement is None and back.runs == ()
    assert back.build.command.failure is FailureKind.EXIT_CODE
    with h5py.File(path, "r") as file:
        assert "measurement" not in file["apps/lulesh/cuda/baseline"]


def test_awkward_text_and_bytes_round_trip(tmp_path: Path) -> None:
    # NUL and unpaired surrogates (non-UTF-8 file names as Python decodes them) cannot be HDF5
    # strings; a timed-out run has no return code; empty and large output files.
    base = measured_baseline()
    timed_out = dataclasses.replace(
        base.runs[0].command,
        argv=("./main", "in\udce9put.dat"),
        cwd="/scratch/caf\udce9",
        returncode=None,
        stdout="partial\x00output \u2603 \U0001f600\n",
        stderr="",
        failure=FailureKind.TIMEOUT,
        failure_detail="killed after 120 s\x00",
    )
    runs = (
        dataclasses.replace(
            base.runs[0],
            command=timed_out,
            output_files=(
                OutputFile(name="empty.out", content=b""),
                OutputFile(name="big.out", content=bytes(range(256)) * 400),
            ),
        ),
        base.runs[1],
    )
    assert base.measurement is not None
    repetitions = (
        RepetitionEnergy(1.0, 0.5, 2.0, 1.0, 1, PowerTrace((), ())),  # an empty trace is kept
        RepetitionEnergy(1.5, 0.5, 3.0, 1.0, 1, None),  # a missing one stays missing
    )
    record = dataclasses.replace(
        base,
        status=StageStatus.RUN_FAILED,
        reason="run on 'small' timed out: \x00",
        runs=runs,
        measurement=dataclasses.replace(base.measurement, repetitions=repetitions, flags=()),
        extra=(("odd", "\udcff\x00"),),
    )
    path = tmp_path / "results.h5"
    write(path, record)

    with ResultsReader(path) as reader:
        assert reader.read_baseline("jacobi", "cuda") == record
        assert (
            reader.run_output("jacobi", "cuda", "small") == "partial\x00output \u2603 \U0001f600\n"
        )


def test_every_numeric_dataset_carries_units(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    write(path, measured_baseline(), failed_build_baseline())
    units: dict[str, str] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "iufb":
            units[name] = obj.attrs.get("units", "<missing>")

    with h5py.File(path, "r") as file:
        file.visititems(visit)
    assert units, "the file holds no numeric dataset at all"
    assert {unit for unit in units.values()} <= {"J", "W", "s", "1"}, units
    repetitions = "apps/jacobi/cuda/baseline/measurement/repetitions"
    assert units[f"{repetitions}/energy_j"] == "J"
    assert units[f"{repetitions}/duration_s"] == "s"
    assert units[f"{repetitions}/average_power_w"] == "W"
    assert units[f"{repetitions}/idle_power_w"] == "W"
    assert units[f"{repetitions}/runs_in_window"] == "1"
    assert units[f"{repetitions}/trace_2/time_s"] == "s"
    assert units[f"{repetitions}/trace_2/power_w"] == "W"


def test_header_and_provenance_are_readable_with_plain_h5py(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    write(path, measured_baseline())

    with h5py.File(path, "r") as file:
        assert file.attrs["format"] == "lassi_hpc-results"
        assert file.attrs["schema_version"] == SCHEMA_VERSION == 2
        assert file.attrs["campaign_name"] == "demo-campaign"
        assert file.attrs["created_utc"].endswith("Z")
        prov = file["provenance"]
        assert prov["git_revision"].asstr()[()] == provenance().git_revision
        assert prov["campaign_config"].attrs["syntax"] == "toml"
        assert prov["site_config"].attrs["syntax"] == "json"
        versions = json.loads(prov["versions"].asstr()[()])
        assert versions["packages"]["h5py"] == "3.16.0"
        devices = json.loads(prov["devices"].asstr()[()])
        assert [d["uid"] for d in devices] == [
            "GPU-5f3c1a2e-9b7d-4c1e-8a55-0d1e2f3a4b5c",
            "node17:cpu",
        ]
        baseline = file["apps/jacobi/cuda/baseline"]
        assert baseline.attrs["status"] == "ok"
        measurement = baseline["measurement"]
        assert measurement.attrs["method"] == "estimate"
        assert bool(measurement.attrs["is_estimate"]) is True
        assert measurement.attrs["energy_j_mean"] == pytest.approx(123.318929670782, rel=1e-15)
        energy = measurement["repetitions/energy_j"][()]
        assert energy.dtype == np.float64 and energy.tolist() == [123.456789012345, 125.0, 121.5]
        assert list(baseline["build"].attrs["argv"]) == [
            "nvcc",
            "-O3",
            "-arch=sm_80",
            "-o",
            "main",
            "main.cu",
        ]
        assert baseline["runs/small/files/field.bin"][()].tobytes() == (
            measured_baseline().runs[0].output_files[0].content
        )
        assert int(baseline["verdicts/large"].attrs["self_check"]) == -1
        assert int(baseline["verdicts/small"].attrs["self_check"]) == 1


def test_counter_measurement_is_not_an_estimate(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    write(path, measured_baseline(method=EnergyMethod.COUNTER))
    with h5py.File(path, "r") as file:
        assert bool(file["apps/jacobi/cuda/baseline/measurement"].attrs["is_estimate"]) is False
    with ResultsReader(path) as reader:
        back = reader.read_baseline("jacobi", "cuda")
    assert back.measurement is not None and back.measurement.method is EnergyMethod.COUNTER


def test_slash_in_names_is_escaped_and_restored(tmp_path: Path) -> None:
    app, variant, input_name = "hecbench/jacobi", "cuda/sm_80", "inputs/large 100%.txt"
    base = measured_baseline(app, variant)
    first = dataclasses.replace(
        run(app, variant, input_name, 1.0),
        output_files=(OutputFile(name="out/field.bin", content=b"\x00\x01"),),
    )
    record = dataclasses.replace(base, runs=(first,), verdicts=())
    dotted = measured_baseline(".hidden", "..")
    path = tmp_path / "results.h5"
    write(path, record, dotted)

    with h5py.File(path, "r") as file:
        assert list(file["apps"]) == ["%2Ehidden", "hecbench%2Fjacobi"]
        group = file["apps/hecbench%2Fjacobi"]
        assert group.attrs["name"] == app
        assert list(group) == ["cuda%2Fsm_80"]
        runs = group["cuda%2Fsm_80/baseline/runs"]
        assert list(runs) == ["inputs%2Flarge 100%25.txt"]
        assert list(runs["inputs%2Flarge 100%25.txt/files"]) == ["out%2Ffield.bin"]
        assert list(file["apps/%2Ehidden"]) == ["%2E."]
    with ResultsReader(path) as reader:
        assert reader.read_baseline(app, variant) == record
        assert reader.read_baseline(".hidden", "..") == dotted
        assert {(row.app, row.variant) for row in reader.baselines()} == {
            (app, variant),
            (".hidden", ".."),
        }
        assert reader.run_output(app, variant, input_name).endswith("PASS\n")


@pytest.mark.parametrize(
    "name", ["a/b", "%2F", "100%", ".", "..", ".x/y", "a\x00b", "caf\u00e9", "%%//..%"]
)
def test_escape_name_is_reversible_and_path_safe(name: str) -> None:
    escaped = escape_name(name, "app")
    assert "/" not in escaped and "\x00" not in escaped and not escaped.startswith(".")
    assert unescape_name(escaped) == name


def test_empty_name_is_refused_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    write(path)
    with (
        ResultsWriter.open_existing(path) as writer,
        pytest.raises(StoreError, match="app name is empty"),
    ):
        writer.write_baseline(measured_baseline(app=""))
    with h5py.File(path, "r") as file:
        assert list(file["apps"]) == []
