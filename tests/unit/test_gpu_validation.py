"""The GPU validation script's arithmetic, and its plumbing on the CPU with the FAKE backend."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from benchmarks.gpu_validation import change_intervals_ms, linear_fit, main


def test_a_sensor_updating_every_100_ms_polled_every_2_ms() -> None:
    times = [0.002 * i for i in range(1000)]
    values = [float(int(t / 0.1)) for t in times]  # a new value each 100 ms
    intervals = change_intervals_ms(times, values)
    assert len(intervals) == 18  # changes at 0.1 .. 1.9 s; intervals between them
    assert all(abs(interval - 100.0) < 2.5 for interval in intervals)


def test_nan_readings_are_not_changes() -> None:
    times = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    values = [1.0, math.nan, math.nan, 2.0, 2.0, 3.0]
    assert change_intervals_ms(times, values) == pytest.approx([200.0])  # changes at 0.3, 0.5 s


def test_linear_fit_recovers_fixed_and_per_unit_energy() -> None:
    rows = [{"factor": f, "energy_j_mean": 3.0 + 2.5 * f} for f in (1, 2, 4)]
    fit = linear_fit(rows)
    assert fit["fixed_j"] == pytest.approx(3.0)
    assert fit["per_unit_j"] == pytest.approx(2.5)
    assert fit["r_squared"] == pytest.approx(1.0)
    bent = linear_fit(
        [{"factor": f, "energy_j_mean": e} for f, e in ((1, 1.0), (2, 4.0), (4, 4.0))]
    )
    assert bent["r_squared"] < 0.9


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_sensor_step_runs_on_the_fake_backend(tmp_path: Path) -> None:
    code = main(
        [
            "--out", str(tmp_path), "--variant", "omp", "--backend", "fake",
            "--steps", "sensor", "--apps", "stream-triad", "--sensor-seconds", "0.3",
        ]
    )  # fmt: skip
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 0, summary["failures"]
    assert summary["sensor"]["device"].startswith("FAKE")
    assert summary["sensor"]["polls"] > 10
    # the fake's energy counter follows its curve continuously: it changes at every poll
    assert summary["sensor"]["energy_counter"]["intervals"] > 5
    assert (tmp_path / "summary.md").read_text().startswith("| app |")
