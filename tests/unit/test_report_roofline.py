"""`lassi-hpc report --roofline FILE`, and the roofline columns and note of a report: whether
guidance was on, and where each trial's label came from."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_roofline_store import evaluation, variant
from test_store_support import lassi_ee_trial, measured_baseline, provenance

from lassi_hpc.analysis.notes import roofline_notes
from lassi_hpc.cli import main
from lassi_hpc.records import EnergyMethod, TrialRecord
from lassi_hpc.store import ResultsReader, ResultsWriter
from lassi_hpc.store.roofline_codec import RooflineStore
from lassi_hpc.store.tables import TrialRow

pytestmark = pytest.mark.slow  # draws the report's figures

GUIDED = (
    ("roofline_guidance", "on"),
    ("roofline_label", "bandwidth-bound"),
    ("roofline_label_source", "predicted"),
    ("roofline_kernel", "jacobi_step"),
    ("roofline_prediction", "Bandwidth"),
    ("roofline_prediction_reason", ""),
)


def trial(number: int, extra: tuple[tuple[str, str], ...]) -> TrialRecord:
    return dataclasses.replace(lassi_ee_trial(trial=number), extra=extra)


def write_results(path: Path, *trials: TrialRecord) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with ResultsWriter.create(path, "guided", provenance()) as writer:
        writer.write_baseline(measured_baseline(method=EnergyMethod.COUNTER))
        for record in trials:
            writer.write_trial(record)
    return path


def test_trial_rows_carry_the_stored_label_and_old_trials_read_empty(tmp_path: Path) -> None:
    results = write_results(tmp_path / "r.h5", trial(0, GUIDED), trial(1, ()))
    with ResultsReader(results) as reader:
        rows = {row.trial: row for row in reader.trials()}
    guided = rows[0]
    assert (guided.roofline_guidance, guided.roofline_label, guided.roofline_label_source) == (
        "on",
        "bandwidth-bound",
        "predicted",
    )
    old = rows[1]  # a trial stored without the pairs, as before guidance existed
    assert (old.roofline_guidance, old.roofline_label, old.roofline_label_source) == ("", "", "")


def test_the_note_tells_guided_from_unguided_campaigns(tmp_path: Path) -> None:
    with ResultsReader(write_results(tmp_path / "r.h5", trial(0, ()))) as reader:
        stored = reader.trials()[0]

    def row(guidance: str, source: str) -> TrialRow:
        return dataclasses.replace(stored, roofline_guidance=guidance, roofline_label_source=source)

    predicted = row("on", "predicted")
    (guided,) = roofline_notes([predicted, row("on", "none"), predicted])
    assert "on for 3 of 3 trials" in guided and "1 none, 2 predicted" in guided
    off = row("off", "measured")
    assert roofline_notes([off, off]) == ("Roofline guidance was off for all 2 trials.",)
    assert roofline_notes([row("", "")]) == ()


def test_report_shows_the_given_roofline_file_and_the_guidance_note(tmp_path: Path) -> None:
    results = write_results(tmp_path / "campaign" / "r.h5", trial(0, GUIDED))
    roofline = tmp_path / "elsewhere" / "profiled.h5"
    roofline.parent.mkdir()
    with RooflineStore.open(roofline, "guided") as store:
        store.write_variant(variant())
        store.write_evaluation(evaluation())
    out = tmp_path / "out"
    assert main(["report", str(results), "--out", str(out), "--bootstrap", "50"]) == 0
    without = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="roofline"' not in without  # nothing beside the results file
    assert "Roofline guidance was on for 1 of 1 trials (their labels: 1 predicted)" in without
    flags = ["--out", str(out), "--bootstrap", "50", "--roofline", str(roofline)]
    assert main(["report", str(results), *flags]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="roofline"' in page and str(roofline) in page


def test_a_missing_roofline_file_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = write_results(tmp_path / "r.h5", trial(0, GUIDED))
    missing = tmp_path / "nowhere" / "roofline.h5"
    code = main(
        ["report", str(results), "--out", str(tmp_path / "out"), "--roofline", str(missing)]
    )
    assert code == 2
    assert f"roofline file {missing} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_a_results_file_given_as_the_roofline_file_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = write_results(tmp_path / "r.h5", trial(0, GUIDED))
    out = tmp_path / "out"
    code = main(["report", str(results), "--out", str(out), "--roofline", str(results)])
    assert code == 2
    assert f"{results}: not a lassi_hpc roofline file" in capsys.readouterr().err
    assert not out.exists()  # refused before any work
