"""`lassi-hpc report`: read a campaign's results file, compute its figures, write HTML and CSV.

build_report does all reading (through ResultsReader) and computing and returns a Report;
write_report renders it. Reading is kept to what the figures need: one summary per trial, the
repetitions of each baseline and of each app's best candidate, and a few power traces.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lassi_hpc.analysis.candidates import candidate_points, stage_failures
from lassi_hpc.analysis.csv_export import write_tables
from lassi_hpc.analysis.html_report import render_html
from lassi_hpc.analysis.model import (
    AppSummary,
    GroupKey,
    Report,
    ReportOptions,
    TracePair,
    TrialScore,
)
from lassi_hpc.analysis.notes import report_notes, roofline_notes
from lassi_hpc.analysis.plots import render_figures
from lassi_hpc.analysis.reference import SEED_PAPER_REFERENCES
from lassi_hpc.analysis.scoring import score_trials
from lassi_hpc.analysis.summaries import (
    NO_MEDIANS,
    Medians,
    app_summary,
    best_trial,
    campaign_curves,
    group_scores,
)
from lassi_hpc.errors import LassiError, StoreError
from lassi_hpc.records import PowerTrace
from lassi_hpc.roofline.report_section import check_roofline_file
from lassi_hpc.store import ResultsReader
from lassi_hpc.store.provenance import utc_now
from lassi_hpc.store.tables import BaselineRow

Progress = Callable[[str], None]

HTML_NAME = "report.html"


@dataclass(frozen=True)
class ReportFiles:
    """What write_report wrote (the HTML page, one CSV file per table) and the Report itself."""

    html: Path
    tables: tuple[Path, ...]
    report: Report


def run_report(
    results_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    options: ReportOptions | None = None,
    progress: Progress | None = None,
    roofline_path: str | os.PathLike[str] | None = None,
) -> ReportFiles:
    """Read `results_path`, compute its report and write it into `out_dir` (created if needed).
    `roofline_path` names the roofline HDF5 file shown (default: roofline.h5 beside the
    results); a RooflineError naming it, before any work, when it does not exist. An `out_dir`
    that cannot be created is a LassiError before any work too (and after the roofline check, so
    a refused command leaves no folder behind)."""
    roofline = None if roofline_path is None else str(check_roofline_file(roofline_path))
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LassiError(f"--out {out_dir}: cannot create the report folder: {error}") from None
    report = build_report(results_path, options or ReportOptions(), progress)
    return write_report(report, Path(out_dir), progress, roofline)


def build_report(
    results_path: str | os.PathLike[str],
    options: ReportOptions,
    progress: Progress | None = None,
) -> Report:
    """The Report of one results file (opened read-only)."""
    say = progress or (lambda _message: None)
    with ResultsReader(results_path) as reader:
        say(f"reading {reader.path}")
        baselines = {(row.app, row.variant): row for row in reader.baselines()}
        trials, candidates = reader.trial_tables()
        say(f"{len(baselines)} baselines, {len(trials)} trials, {len(candidates)} candidates")
        scores, left_out = score_trials(trials, baselines, options.noise_sds)
        grouped = group_scores(scores)
        say(f"summarising {len(grouped)} app/strategy/partition groups")
        apps, measured = _app_summaries(reader, grouped, baselines, options)
        traces = _traces(reader, apps, measured, options.max_trace_apps)
        provenance = reader.provenance()
        campaign, path = reader.campaign_name, str(reader.path)
    say("bootstrapping campaign curves")
    curves = campaign_curves(apps, options)
    points = candidate_points(candidates, trials, baselines)
    return Report(
        campaign=campaign,
        results_path=path,
        generated_utc=utc_now(),
        options=options,
        apps=tuple(apps),
        curves=tuple(curves),
        scores=tuple(scores),
        candidates=tuple(points),
        failures=tuple(stage_failures(candidates, trials)),
        traces=tuple(traces),
        references=SEED_PAPER_REFERENCES,
        notes=report_notes(baselines.values(), scores, apps, left_out, options)
        + roofline_notes(trials),
        provenance=provenance,
    )


def write_report(
    report: Report,
    out_dir: Path,
    progress: Progress | None = None,
    roofline_path: str | None = None,
) -> ReportFiles:
    """Write `report` as `out_dir/report.html` and `out_dir/tables/*.csv`; the page shows the
    roofline file `roofline_path` when given (render_html)."""
    say = progress or (lambda _message: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    say(f"writing tables to {out_dir / 'tables'}")
    tables = write_tables(report, out_dir / "tables")
    say("drawing figures")
    figures = render_figures(report)
    html_path = out_dir / HTML_NAME
    partial = html_path.with_name(f".{HTML_NAME}.partial")
    partial.write_text(render_html(report, figures, roofline_path), encoding="utf-8")
    partial.replace(html_path)  # a reader never sees half a page
    return ReportFiles(html=html_path, tables=tuple(tables), report=report)


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Measured:
    """What _app_summaries read for one group, kept for _traces so nothing is read twice: the
    baseline's repetition columns, the best passing trial, and its scored repetition columns."""

    baseline_columns: Mapping[str, npt.NDArray[Any]]
    best: TrialScore | None
    best_columns: Mapping[str, npt.NDArray[Any]]


def _app_summaries(
    reader: ResultsReader,
    grouped: Mapping[GroupKey, Sequence[TrialScore]],
    baselines: Mapping[tuple[str, str], BaselineRow],
    options: ReportOptions,
) -> tuple[list[AppSummary], dict[GroupKey, _Measured]]:
    baseline_columns: dict[tuple[str, str], Mapping[str, npt.NDArray[Any]]] = {}
    apps = []
    measured: dict[GroupKey, _Measured] = {}
    for key, scores in grouped.items():
        app = (key.app, key.variant)
        if app not in baseline_columns:
            baseline_columns[app] = _read(reader.repetitions, *app)
        best = best_trial(scores)
        best_columns = {} if best is None else _read(_scored_repetitions, reader, best)
        measured[key] = _Measured(baseline_columns[app], best, best_columns)
        best_medians = NO_MEDIANS if best is None else _medians(best_columns)
        apps.append(
            app_summary(
                key,
                scores,
                baselines[app],
                _medians(baseline_columns[app]),
                best_medians,
                options,
            )
        )
    return apps, measured


def _traces(
    reader: ResultsReader,
    apps: Sequence[AppSummary],
    measured_by_key: Mapping[GroupKey, _Measured],
    limit: int,
) -> list[TracePair]:
    """Baseline and best-candidate traces of the `limit` groups with passing trials and the highest
    ER at k = their trial count (the median-energy repetition of each measurement)."""
    ranked = sorted(apps, key=lambda app: (app.passes == 0, -_top_er(app), app.key))
    pairs = []
    for app in ranked[: max(limit, 0)]:
        key = app.key
        measured = measured_by_key[key]
        baseline = _read_trace(
            functools.partial(reader.trace, key.app, key.variant), measured.baseline_columns
        )
        best, best_trace = measured.best, None
        if best is not None:
            read_best = functools.partial(
                reader.trial_trace,
                key.app,
                key.variant,
                key.strategy,
                best.trial,
                rescore=best.scored_on == "rescore",
            )
            best_trace = _read_trace(read_best, measured.best_columns)
        pairs.append(
            TracePair(
                key=key,
                baseline=baseline,
                best=best_trace,
                best_trial=app.best_trial,
                method=app.energy_method,
                is_estimate=app.is_estimate,
            )
        )
    return pairs


def _top_er(app: AppSummary) -> float:
    value = app.er_at_k[-1] if app.er_at_k else 0.0
    return value if math.isfinite(value) else 0.0


def _scored_repetitions(reader: ResultsReader, score: TrialScore) -> dict[str, npt.NDArray[Any]]:
    key = score.key
    return reader.trial_repetitions(
        key.app, key.variant, key.strategy, score.trial, rescore=score.scored_on == "rescore"
    )


def _read(
    read: Callable[..., Mapping[str, npt.NDArray[Any]]], *args: Any
) -> Mapping[str, npt.NDArray[Any]]:
    """Repetition columns, or {} where the file holds none (a report shows what there is)."""
    try:
        return read(*args)
    except StoreError:
        return {}


def _medians(columns: Mapping[str, npt.NDArray[Any]]) -> Medians:
    if not columns or len(columns["energy_j"]) == 0:
        return NO_MEDIANS
    return Medians(
        energy_j=float(np.median(columns["energy_j"])),
        duration_s=float(np.median(columns["duration_s"])),
        power_w=float(np.median(columns["average_power_w"])),
    )


def _read_trace(
    read: Callable[[int], tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]],
    columns: Mapping[str, npt.NDArray[Any]],
) -> PowerTrace | None:
    """The trace of the repetition with the median energy, None when it was not stored."""
    if not columns or len(columns["energy_j"]) == 0:
        return None
    energies = np.asarray(columns["energy_j"], dtype=np.float64)
    repetition = int(np.argsort(energies, kind="stable")[(len(energies) - 1) // 2])
    try:
        time_s, power_w = read(repetition)
    except StoreError:
        return None
    return PowerTrace(time_s=tuple(time_s.tolist()), power_w=tuple(power_w.tolist()))
