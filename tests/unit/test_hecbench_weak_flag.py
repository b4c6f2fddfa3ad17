"""A weak-check flag goes from the oracle to the stored baseline, its row and the report notes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from analysis_rows import BASELINE
from test_store_support import failed_build_baseline, provenance

from lassi_hpc.analysis.model import ReportOptions
from lassi_hpc.analysis.notes import report_notes
from lassi_hpc.apps.hecbench import load_hecbench_app
from lassi_hpc.flow.baseline import with_weak_check
from lassi_hpc.store import ResultsReader, ResultsWriter

SUITE = Path(__file__).resolve().parents[1] / "data" / "hecbench"


def test_the_flag_is_stored_and_read_back_and_older_records_read_empty(tmp_path: Path) -> None:
    manifest = load_hecbench_app(SUITE, "stencil1d", ["omp"], table={})
    flagged = with_weak_check(failed_build_baseline("stencil1d", "omp"), manifest)
    plain = failed_build_baseline("other", "omp")
    strong = dataclasses.replace(manifest.oracle, weak_check="")
    assert with_weak_check(plain, dataclasses.replace(manifest, oracle=strong)) == plain
    path = tmp_path / "r.h5"
    with ResultsWriter.create(path, "c", provenance()) as writer:
        writer.write_baseline(flagged)
        writer.write_baseline(plain)
    with ResultsReader(path) as reader:
        rows = {row.app: row for row in reader.baselines()}
        assert reader.read_baseline("stencil1d", "omp").extra == flagged.extra
    assert rows["stencil1d"].weak_check == manifest.oracle.weak_check
    assert "not in lassi_hpc's HeCBench oracle table" in rows["stencil1d"].weak_check
    assert rows["other"].weak_check == ""


def test_the_report_notes_name_each_weak_app_variant() -> None:
    weak = dataclasses.replace(BASELINE, app="jacobi", variant="cuda", weak_check="PASS only")
    notes = report_notes([BASELINE, weak], [], [], {}, ReportOptions())
    [note] = [n for n in notes if "weak correctness check" in n]
    assert note.startswith("1 app variants have a weak correctness check")
    assert "jacobi/cuda (PASS only)" in note
    assert not any("weak" in n for n in report_notes([BASELINE], [], [], {}, ReportOptions()))
