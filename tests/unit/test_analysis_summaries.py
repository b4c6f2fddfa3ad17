"""App summaries and campaign curves from scores; the Pareto front; failures per stage; CSV."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from analysis_rows import BASELINE, candidate, failed_trial, passed_trial

from lassi_hpc.analysis.candidates import candidate_points, mark_pareto_front, stage_failures
from lassi_hpc.analysis.csv_export import write_tables
from lassi_hpc.analysis.model import (
    AppSummary,
    CandidatePoint,
    GroupKey,
    Report,
    ReportOptions,
    TrialScore,
)
from lassi_hpc.analysis.reference import SEED_PAPER_REFERENCES
from lassi_hpc.analysis.scoring import score_trials
from lassi_hpc.analysis.summaries import (
    ALL_PARTITIONS,
    Medians,
    app_summary,
    best_trial,
    campaign_curves,
    group_scores,
)
from lassi_hpc.analysis.terminal import headline_lines
from lassi_hpc.store.tables import TrialRow

OPTIONS = ReportOptions(noise_sds=1.0, bootstrap_samples=500, seed=3)
BASELINES = {("jacobi", "cuda"): BASELINE}


def scored(trials: list[TrialRow]) -> dict[GroupKey, list[TrialScore]]:
    scores, left_out = score_trials(trials, BASELINES, OPTIONS.noise_sds)
    assert not left_out
    return group_scores(scores)


def test_app_summary_of_known_gains() -> None:
    # Gains 0.2, 0 (costlier), 0 (failed), 0 (inside the 2% noise): sorted 0, 0, 0, 0.2.
    trials = [
        passed_trial(0, 75.0, rescore_energy_j=80.0),
        passed_trial(1, 95.0, rescore_energy_j=105.0),
        failed_trial(2),
        passed_trial(3, 98.5, rescore_energy_j=99.0),
    ]
    ((key, scores),) = scored(trials).items()
    summary = app_summary(
        key, scores, BASELINE, Medians(101.0, 2.1, 49.0), Medians(79.0, 1.9, 41.0), OPTIONS
    )
    assert summary.trials == 4 and summary.passes == 3 and summary.best_trial == 0
    assert summary.er_at_k == pytest.approx((0.05, 0.1, 0.15, 0.2))
    assert summary.pass_at_k == pytest.approx((0.75, 1.0, 1.0, 1.0))
    assert summary.er_ci95_low[0] <= 0.05 <= summary.er_ci95_high[0]
    assert math.isnan(summary.er_ci95_low[-1])  # the jackknife needs k <= n - 1
    assert summary.best_energy_j_median == 79.0 and summary.baseline_energy_j_median == 101.0
    assert summary.energy_method == "counter" and summary.scored_on == "rescore"
    assert summary.device == "NVIDIA A100-SXM4-80GB" and summary.noise_floor == pytest.approx(0.02)
    assert not summary.is_estimate


def test_an_app_without_passing_trials_has_no_best_candidate() -> None:
    ((key, scores),) = scored([failed_trial(0), failed_trial(1)]).items()
    summary = app_summary(
        key, scores, BASELINE, Medians(1.0, 1.0, 1.0), Medians(9.0, 9.0, 9.0), OPTIONS
    )
    assert best_trial(scores) is None and summary.best_trial == -1
    assert math.isnan(summary.best_energy_j_median) and summary.scored_on == ""
    assert summary.er_at_k == (0.0, 0.0) and summary.speedup_at_k == (1.0, 1.0)


def test_mixed_methods_and_estimates_are_flagged() -> None:
    trial = passed_trial(0, 80.0, rescore_energy_j=80.0, rescore_method="estimate")
    trial = dataclasses.replace(trial, rescore_is_estimate=True)
    ((key, scores),) = scored([trial]).items()
    summary = app_summary(key, scores, BASELINE, Medians(1, 1, 1), Medians(1, 1, 1), OPTIONS)
    assert summary.energy_method == "mixed" and summary.is_estimate


def summaries_for(apps: dict[str, list[float]], partition: str = "a100") -> list[AppSummary]:
    """One AppSummary per app from its gains (trials passed with energy 100 * (1 - gain))."""
    result = []
    for app, gains in apps.items():
        baselines = {(app, "cuda"): dataclasses.replace(BASELINE, app=app, partition=partition)}
        trials = [
            passed_trial(i, 100.0 * (1 - g), app=app, partition=partition)
            if g > 0
            else failed_trial(i, app=app, partition=partition)
            for i, g in enumerate(gains)
        ]
        scores, _ = score_trials(trials, baselines, 0.0)
        ((key, group),) = group_scores(scores).items()
        result.append(
            app_summary(
                key, group, baselines[(app, "cuda")], Medians(1, 1, 1), Medians(1, 1, 1), OPTIONS
            )
        )
    return result


def test_campaign_curves_average_apps_with_enough_trials() -> None:
    apps = summaries_for({"a": [0.5, 0.0, 0.0], "b": [0.1, 0.3], "c": [0.0, 0.0, 0.4]})
    curves = {(p.partition, p.k): p for p in campaign_curves(apps, OPTIONS)}
    assert sorted(curves) == [("a100", 1), ("a100", 2), ("a100", 3)]
    expected_k1 = np.mean([0.5 / 3, 0.2, 0.4 / 3])
    assert curves[("a100", 1)].er_mean == pytest.approx(expected_k1)
    assert curves[("a100", 1)].apps == 3
    assert curves[("a100", 3)].apps == 2  # app b has two trials
    assert curves[("a100", 3)].er_mean == pytest.approx(np.mean([0.5, 0.4]))
    point = curves[("a100", 1)]
    assert point.er_ci95_low <= point.er_mean <= point.er_ci95_high
    assert point.pass_mean == pytest.approx(np.mean([1 / 3, 1.0, 1 / 3]))


def test_several_partitions_add_an_all_partitions_curve() -> None:
    apps = summaries_for({"a": [0.5, 0.0]}) + summaries_for({"b": [0.1, 0.1]}, partition="mi100")
    partitions = {p.partition for p in campaign_curves(apps, OPTIONS)}
    assert partitions == {"a100", "mi100", ALL_PARTITIONS}


def test_pareto_front_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    key = GroupKey("a", "cuda", "lassi-ee", "a100")
    points = [
        CandidatePoint(key, i, 0, float(e), float(t), False, False, False)
        for i, (e, t) in enumerate(rng.integers(1, 6, size=(40, 2)) / 4)
    ]
    marked = mark_pareto_front(points)
    for index, point in enumerate(marked):
        dominated = any(
            other.energy_ratio <= point.energy_ratio
            and other.time_ratio <= point.time_ratio
            and (other.energy_ratio, other.time_ratio) != (point.energy_ratio, point.time_ratio)
            for other in points
        )
        duplicate_before = any(
            (other.energy_ratio, other.time_ratio) == (point.energy_ratio, point.time_ratio)
            for other in points[:index]
        )
        assert point.on_front == (not dominated and not duplicate_before), point


def test_fronts_are_per_strategy() -> None:
    lassi = GroupKey("a", "cuda", "lassi-ee", "a100")
    vanilla = dataclasses.replace(lassi, strategy="vanilla")
    points = [
        CandidatePoint(lassi, 0, 0, 0.5, 0.5, True, False, False),
        CandidatePoint(vanilla, 0, 0, 0.9, 0.9, True, False, False),
    ]
    assert all(point.on_front for point in mark_pareto_front(points))


def test_candidate_points_are_relative_to_the_baseline() -> None:
    trials = [passed_trial(0, 80.0)]
    rows = [
        candidate(0, 2, "passed", 80.0, 1.0, is_best=True),
        candidate(0, 3, "verify-failed"),
        candidate(0, 4, "passed", 120.0, 4.0, app="unknown"),
    ]
    (point,) = candidate_points(rows, trials, BASELINES)
    assert point.energy_ratio == pytest.approx(0.8) and point.time_ratio == pytest.approx(0.5)
    assert point.is_best and point.on_front and point.key.partition == "a100"


def test_failures_per_stage_and_iteration_include_judge_rejections() -> None:
    rows = [
        candidate(0, 1, "build-failed"),
        candidate(0, 2, "build-failed", iteration=2),
        candidate(1, 1, "verify-failed"),
        candidate(1, 2, "no-code"),
        candidate(1, 3, "passed", 80.0, 1.0),
    ]
    rejected = passed_trial(1, 80.0, outcome="rejected-by-judge", judge="invalid")
    counts = [
        (f.iteration, f.stage, f.count) for f in stage_failures(rows, [failed_trial(0), rejected])
    ]
    assert counts == [
        (1, "no-code", 1),
        (1, "compile", 1),
        (1, "oracle", 1),
        (1, "judge", 1),
        (2, "compile", 1),
    ]


def report_of(
    apps: Sequence[AppSummary], options: ReportOptions, scores: Sequence[TrialScore] = ()
) -> Report:
    """A report of `apps` with their campaign curves, `scores` and no candidates or failures."""
    return Report(
        campaign="c",
        results_path="r.h5",
        generated_utc="2026-11-21T00:00:00Z",
        options=options,
        apps=tuple(apps),
        curves=tuple(campaign_curves(apps, options)),
        scores=tuple(scores),
        candidates=(),
        failures=(),
        traces=(),
        references=SEED_PAPER_REFERENCES,
    )


def test_the_terminal_headline_says_when_no_k_asked_for_exists() -> None:
    apps = summaries_for({"a": [0.5, 0.0, 0.0]})
    options = dataclasses.replace(OPTIONS, highlight_ks=(4, 5))
    report = report_of(apps, options)
    (line,) = headline_lines(report)
    assert line == "lassi-ee on a100: nothing at k = 4,5: its apps have at most 3 trials"


def test_every_table_is_written_as_csv(tmp_path: Path) -> None:
    apps = summaries_for({'a<&>"b': [0.5, 0.0, 0.0], "c": [0.0, 0.2, 0.0]})
    scores, _ = score_trials([failed_trial(0)], BASELINES, 1.0)
    report = report_of(apps, OPTIONS, scores)
    paths = write_tables(report, tmp_path / "tables")
    names = sorted(path.stem for path in paths)
    assert names == sorted(
        ["apps", "app_curves", "campaign_curves", "trials", "candidates", "failures", "references"]
    )
    with (tmp_path / "tables" / "apps.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["app"] for row in rows] == ['a<&>"b', "c"]
    assert float(rows[0]["er_at_k@1"]) == pytest.approx(0.5 / 3)
    assert rows[0]["er_at_k@5"] == ""  # k above the trial count: empty, not 0
    with (tmp_path / "tables" / "app_curves.csv").open(newline="") as stream:
        curve = list(csv.DictReader(stream))
    assert len(curve) == 6 and [int(row["k"]) for row in curve[:3]] == [1, 2, 3]
    with (tmp_path / "tables" / "trials.csv").open(newline="") as stream:
        (trial,) = list(csv.DictReader(stream))
    assert trial["strategy"] == "lassi-ee" and trial["raw_gain"] == ""
    with (tmp_path / "tables" / "references.csv").open(newline="") as stream:
        references = {(r["label"], int(r["k"])): float(r["value"]) for r in csv.DictReader(stream)}
    assert references[("LASSI-EE, published", 5)] == 0.55
    # No candidate passed: the table has no rows, but still its header.
    with (tmp_path / "tables" / "candidates.csv").open(newline="") as stream:
        header = next(csv.reader(stream))
    assert header[:4] == ["app", "variant", "strategy", "partition"]
    assert "energy_ratio" in header and "is_estimate" in header
    with (tmp_path / "tables" / "failures.csv").open(newline="") as stream:
        assert next(csv.reader(stream)) == ["strategy", "iteration", "stage", "count"]
    assert not list(itertools.chain((tmp_path / "tables").glob(".*.partial")))
