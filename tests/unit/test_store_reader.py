"""ResultsReader's tables and accessors for analysis."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_store_support import (
    failed_build_baseline,
    measured_baseline,
    provenance,
)

import lassi_hpc
from lassi_hpc.errors import StoreError
from lassi_hpc.records import EnergyMethod
from lassi_hpc.store import SCHEMA_VERSION, BaselineRow, ResultsReader, ResultsWriter, as_columns


@pytest.fixture
def results(tmp_path: Path) -> Path:
    path = tmp_path / "results.h5"
    with ResultsWriter.create(path, "demo-campaign", provenance()) as writer:
        writer.write_baseline(measured_baseline("jacobi", "omp"))  # an estimate
        writer.write_baseline(measured_baseline("jacobi", "cuda", EnergyMethod.COUNTER))
        writer.write_baseline(failed_build_baseline("lulesh", "cuda"))
    return path


def test_baselines_table_has_one_row_per_app_variant(results: Path) -> None:
    with ResultsReader(results) as reader:
        rows = reader.baselines()
    assert [(row.app, row.variant) for row in rows] == [
        ("jacobi", "cuda"),
        ("jacobi", "omp"),
        ("lulesh", "cuda"),
    ]
    counter, estimate, failed = rows
    assert counter == BaselineRow(
        app="jacobi",
        variant="cuda",
        partition="a100",
        status="ok",
        reason="",
        build_ok=True,
        build_wall_s=3.21,
        energy_j_mean=123.318929670782,
        energy_j_sd=1.7568,
        energy_j_ci95=4.364,
        energy_cv=0.014246,
        duration_s_mean=2.5,
        average_power_w_mean=49.3267045,
        method="counter",
        backend="nvml",
        is_estimate=False,
        repetitions=3,
        flags=(),
        devices=("NVIDIA A100-SXM4-80GB", "AMD EPYC 7763 64-Core"),
    )
    assert estimate.is_estimate and estimate.method == "estimate"
    assert estimate.flags == ("estimate",)
    assert failed.status == "build-failed" and not failed.build_ok
    assert failed.build_wall_s == 0.87 and failed.reason == "nvcc exited with status 2"
    assert math.isnan(failed.energy_j_mean) and math.isnan(failed.average_power_w_mean)
    assert (failed.method, failed.backend, failed.is_estimate, failed.repetitions) == (
        "",
        "",
        False,
        0,
    )
    assert failed.devices == ()


def test_as_columns_turns_rows_into_columns(results: Path) -> None:
    with ResultsReader(results) as reader:
        rows = reader.baselines()
    columns = as_columns(rows)
    assert list(columns) == [field.name for field in dataclasses.fields(BaselineRow)]
    assert columns["app"] == ["jacobi", "jacobi", "lulesh"]
    assert columns["is_estimate"] == [False, True, False]
    energy = np.asarray(columns["energy_j_mean"], dtype=float)
    assert energy[:2].tolist() == [123.318929670782, 123.318929670782] and np.isnan(energy[2])
    empty = as_columns([], BaselineRow)
    assert list(empty) == list(columns) and all(values == [] for values in empty.values())
    assert as_columns([]) == {}
    with pytest.raises(TypeError, match="rows of one type"):
        as_columns([*rows, provenance()])


def test_repetitions_and_traces_come_back_as_arrays(results: Path) -> None:
    record = measured_baseline("jacobi", "cuda", EnergyMethod.COUNTER)
    assert record.measurement is not None
    with ResultsReader(results) as reader:
        columns = reader.repetitions("jacobi", "cuda")
        time_s, power_w = reader.trace("jacobi", "cuda", 2)
    assert set(columns) == {
        "energy_j",
        "duration_s",
        "average_power_w",
        "idle_power_w",
        "runs_in_window",
    }
    assert columns["energy_j"].dtype == np.float64
    assert columns["runs_in_window"].dtype == np.int64
    reps = record.measurement.repetitions
    assert columns["energy_j"].tolist() == [rep.energy_j for rep in reps]
    assert columns["idle_power_w"].tolist() == [rep.idle_power_w for rep in reps]
    assert columns["runs_in_window"].tolist() == [3, 3, 3]
    trace = reps[2].trace
    assert trace is not None and len(trace.time_s) == 5000
    assert time_s.tolist() == list(trace.time_s) and power_w.tolist() == list(trace.power_w)


def test_run_output_and_build_log(results: Path) -> None:
    with ResultsReader(results) as reader:
        assert reader.run_output("jacobi", "cuda", "large") == (
            "Average kernel time: 2.500000 (s)\nresidual = 1.234e-07\nPASS\n"
        )
        assert reader.build_log("lulesh", "cuda") == (
            'main.cu(12): error: identifier "blockDimx" is undefined\n1 error detected\n'
        )


def test_missing_things_are_named(results: Path) -> None:
    with ResultsReader(results) as reader:
        with pytest.raises(
            StoreError,
            match=(
                r"no baseline for app 'xsbench' variant 'cuda'; "
                r"stored: jacobi/cuda, jacobi/omp, lulesh/cuda"
            ),
        ):
            reader.read_baseline("xsbench", "cuda")
        with pytest.raises(
            StoreError, match=r"'lulesh'/'cuda' has no energy measurement \(status build-failed\)"
        ):
            reader.repetitions("lulesh", "cuda")
        with pytest.raises(StoreError, match=r"no power trace for repetition 3 \(3 repetitions"):
            reader.trace("jacobi", "cuda", 3)
        with pytest.raises(StoreError, match=r"no run on input 'huge'; inputs: large, small"):
            reader.run_output("jacobi", "cuda", "huge")


def test_reader_metadata(results: Path) -> None:
    with ResultsReader(results) as reader:
        assert reader.schema_version == SCHEMA_VERSION
        assert reader.campaign_name == "demo-campaign"
        assert reader.created_utc.endswith("Z")
        found = reader.provenance()
    expected = provenance()
    assert found["campaign_config"] == expected.campaign_config
    assert found["site_config"] == expected.site_config
    assert found["versions"] == expected.versions()
    assert found["host"] == dict(expected.host)
    assert found["devices"] == expected.devices_as_dicts()
    assert found["git_revision"] == expected.git_revision
    assert found["collected_utc"] == expected.collected_utc
    assert found["resumes"] == []


def test_a_file_being_written_by_another_process_is_refused_with_a_reason(tmp_path: Path) -> None:
    # HDF5 locks a file open for writing; within one process it shares the open file instead.
    path = tmp_path / "results.h5"
    reader = f"from lassi_hpc.store import ResultsReader\nResultsReader({str(path)!r})"
    env = dict(os.environ, PYTHONPATH=str(Path(lassi_hpc.__file__).resolve().parents[1]))
    with ResultsWriter.create(path, "demo-campaign", provenance()):
        done = subprocess.run(
            [sys.executable, "-c", reader], capture_output=True, text=True, env=env, check=False
        )
    assert done.returncode == 1
    assert f"StoreError: {path}: cannot open" in done.stderr
    assert "another process (a running campaign driver?) has it open for writing" in done.stderr
    with ResultsReader(path) as opened:
        assert opened.baselines() == []
