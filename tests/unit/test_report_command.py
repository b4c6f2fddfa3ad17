"""`lassi-hpc report` end to end on a small results file whose figures are known."""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from test_store_support import lassi_ee_trial, measured_baseline, measurement, provenance

from lassi_hpc.records import EnergyMeasurement, EnergyMethod, TrialOutcome, TrialRecord
from lassi_hpc.store import ResultsWriter

pytestmark = pytest.mark.slow  # a child process that imports matplotlib

BASELINE = measurement(EnergyMethod.COUNTER)  # mean 123.32 J, CV 1.42%


def scaled(energy_j: float) -> EnergyMeasurement:
    """The baseline's measurement with its energies scaled to a mean of `energy_j`."""
    factor = energy_j / BASELINE.energy_j_mean
    repetitions = tuple(
        dataclasses.replace(rep, energy_j=rep.energy_j * factor) for rep in BASELINE.repetitions
    )
    return dataclasses.replace(
        BASELINE,
        repetitions=repetitions,
        energy_j_mean=energy_j,
        energy_j_sd=BASELINE.energy_j_sd * factor,
        energy_j_ci95=BASELINE.energy_j_ci95 * factor,
    )


def trial(number: int, rescore_fraction: float, outcome: TrialOutcome) -> TrialRecord:
    record = lassi_ee_trial(trial=number)
    return dataclasses.replace(
        record, outcome=outcome, rescore=scaled(rescore_fraction * BASELINE.energy_j_mean)
    )


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """jacobi/cuda: four lassi-ee trials scored at 80%, 110% and 99.5% of the baseline energy, and
    one the judge rejected (gains 0.2, 0, 0 inside the noise floor, 0)."""
    path = tmp_path / "campaign" / "results.h5"
    path.parent.mkdir()
    with ResultsWriter.create(path, "known", provenance()) as writer:
        writer.write_baseline(measured_baseline(method=EnergyMethod.COUNTER))
        writer.write_trial(trial(0, 0.80, TrialOutcome.ACCEPTED))
        writer.write_trial(trial(1, 1.10, TrialOutcome.ACCEPTED))
        writer.write_trial(trial(2, 0.50, TrialOutcome.REJECTED_BY_JUDGE))
        writer.write_trial(trial(3, 0.995, TrialOutcome.ACCEPTED))
    return path


def report(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "lassi_hpc.cli", "report", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)


def app_rows(out: Path) -> list[dict[str, str]]:
    with (out / "tables" / "apps.csv").open(newline="") as stream:
        return list(csv.DictReader(stream))


def test_report_of_known_trials(results: Path) -> None:
    done = report(str(results.parent))  # the campaign directory names its one .h5 file
    assert done.returncode == 0, done.stderr
    out = results.parent / "report"
    assert done.stdout.splitlines()[-1] == str(out / "report.html")
    assert "lassi-ee on a100 (1 apps): ER@1 5.0%" in done.stdout
    assert "report: reading" in done.stderr
    (row,) = app_rows(out)
    assert (row["trials"], row["passes"], row["best_trial"]) == ("4", "3", "0")
    assert float(row["er_at_k@1"]) == pytest.approx(0.05)  # 0.2 / 4
    assert float(row["er_at_k@3"]) == pytest.approx(0.15)  # 0.2 * P(trial 0 among 3 of 4)
    assert row["er_at_k@5"] == ""
    assert float(row["pass_at_k@1"]) == pytest.approx(0.75)
    assert row["scored_on"] == "rescore" and row["energy_method"] == "counter"
    assert float(row["best_energy_j_median"]) == pytest.approx(0.8 * 123.456789012345)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "within the baseline" in html  # the note on trial 3's gain inside the noise


def test_the_noise_floor_is_an_option(results: Path, tmp_path: Path) -> None:
    done = report(str(results), "--noise-sds", "0", "--out", str(tmp_path / "no-floor"))
    assert done.returncode == 0, done.stderr
    (row,) = app_rows(tmp_path / "no-floor")
    assert float(row["er_at_k@1"]) == pytest.approx((0.2 + 0.005) / 4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.h5"], "missing.h5: no such results file or campaign directory"),
        (["{results}", "--noise-sds", "-1"], "'-1' is not a number >= 0"),
        (["{results}", "--k", "1,0"], "'0' is not an integer >= 1"),
    ],
)
def test_bad_input_is_named(results: Path, args: list[str], message: str) -> None:
    done = report(*(arg.format(results=results) for arg in args))
    assert done.returncode == 2 and message in done.stderr
    assert not (results.parent / "report").exists()
