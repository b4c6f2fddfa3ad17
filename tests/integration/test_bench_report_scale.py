"""The report scale benchmark at a tiny size: its synthetic file is reused only when complete and
of the same parameters, and a full run (real `lassi-hpc report` child) yields every figure. No
timing targets here: the figures go to docs/benchmarks.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.bench_report_scale import (
    ScaleCase,
    main,
    prepare_file,
    report_available,
)

TINY = ScaleCase(apps=3, trials=4, repetitions=2)


def test_a_complete_file_is_reused_and_another_case_gets_its_own(tmp_path: Path) -> None:
    first = prepare_file(TINY, tmp_path)
    assert not first.reused and first.trials_written == 3 * 4 * 2
    written_ns = first.path.stat().st_mtime_ns
    again = prepare_file(TINY, tmp_path)
    assert again.reused and again.path == first.path
    assert again.write_s == first.write_s and again.file_bytes == first.file_bytes
    assert first.path.stat().st_mtime_ns == written_ns
    other = prepare_file(ScaleCase(apps=3, trials=4, repetitions=2, seed=1), tmp_path)
    assert not other.reused and other.path != first.path


def test_a_file_without_its_completion_record_is_written_again(tmp_path: Path) -> None:
    first = prepare_file(TINY, tmp_path)
    (tmp_path / f"{TINY.name}.done.json").unlink()
    assert not prepare_file(TINY, tmp_path).reused
    # A file whose size no longer matches its record (cut short, replaced) is not trusted either.
    with first.path.open("ab") as file:
        file.write(b"\0")
    assert not prepare_file(TINY, tmp_path).reused


@pytest.mark.slow
def test_the_benchmark_measures_a_real_report(tmp_path: Path) -> None:
    if not report_available():
        pytest.skip("report command not yet available")
    figures_path = tmp_path / "figures.json"
    argv = ["--apps", "3", "--trials", "4", "--repetitions", "2", "--work", str(tmp_path)]
    printed = main([*argv, "--json", str(figures_path)])
    found = json.loads(figures_path.read_text())
    assert found == printed
    for name in (
        "trials_written",
        "file_bytes",
        "write_s",
        "report_wall_s",
        "report_peak_rss_bytes",
        "html_bytes",
        "report_out_bytes",
    ):
        assert found[name] > 0, name
    assert found["trials_written"] == 24
    assert not found["file_reused"]
    html = Path(found["html"])
    assert html.is_file() and html.stat().st_size == found["html_bytes"]
    assert "<html" in html.read_text(errors="replace").lower()
    assert main([*argv])["file_reused"]
