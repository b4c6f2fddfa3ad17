"""Per-app figures (AppSummary) and campaign curves (CurvePoint) from trial scores."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lassi_hpc.analysis.intervals import bootstrap_mean_ci, jackknife_curve_ci
from lassi_hpc.analysis.metrics import (
    best_of_k_rows,
    energy_reduction_curve,
    pass_curve,
    speedup_curve,
)
from lassi_hpc.analysis.model import AppSummary, CurvePoint, GroupKey, ReportOptions, TrialScore
from lassi_hpc.analysis.scoring import noise_floor
from lassi_hpc.store.tables import BaselineRow

ALL_PARTITIONS = "all"  # the partition of curves that average over every partition's apps


@dataclass(frozen=True)
class Medians:
    """Medians over a measurement's repetitions: energy per run (J), duration (s), power (W)."""

    energy_j: float
    duration_s: float
    power_w: float


NO_MEDIANS = Medians(math.nan, math.nan, math.nan)


def group_scores(scores: Iterable[TrialScore]) -> dict[GroupKey, list[TrialScore]]:
    """Scores by GroupKey, each list in trial order; keys sorted."""
    grouped: dict[GroupKey, list[TrialScore]] = defaultdict(list)
    for score in scores:
        grouped[score.key].append(score)
    return {key: sorted(grouped[key], key=lambda s: s.trial) for key in sorted(grouped)}


def best_trial(scores: Sequence[TrialScore]) -> TrialScore | None:
    """The passing trial with the largest gain (then the lowest scored energy, then the lowest
    number); None when none passed."""
    passed = [score for score in scores if score.passed]
    if not passed:
        return None
    return min(passed, key=lambda s: (-s.gain, s.score_energy_j, s.trial))


def app_summary(
    key: GroupKey,
    scores: Sequence[TrialScore],
    baseline: BaselineRow,
    baseline_medians: Medians,
    best_medians: Medians,
    options: ReportOptions,
) -> AppSummary:
    """The figures of one GroupKey from its trials' scores (in trial order)."""
    gains = np.array([score.gain for score in scores], dtype=np.float64)
    speedups = np.array([score.speedup for score in scores], dtype=np.float64)
    passes = sum(score.passed for score in scores)
    low, high = jackknife_curve_ci(
        gains, best_of_k_rows, options.confidence, clip_unit=True, rows=True
    )
    best = best_trial(scores)
    scored = [score for score in scores if score.passed]
    methods = {baseline.method, *(score.method for score in scored)}
    scored_on = {score.scored_on for score in scored}
    return AppSummary(
        key=key,
        device=", ".join(dict.fromkeys(baseline.devices)),
        trials=len(scores),
        passes=passes,
        pass_at_k=_floats(pass_curve(len(scores), passes)),
        er_at_k=_floats(energy_reduction_curve(gains)),
        er_ci95_low=_floats(low),
        er_ci95_high=_floats(high),
        speedup_at_k=_floats(speedup_curve(speedups)),
        baseline_energy_j_median=baseline_medians.energy_j,
        baseline_duration_s_median=baseline_medians.duration_s,
        baseline_power_w_median=baseline_medians.power_w,
        best_trial=-1 if best is None else best.trial,
        best_energy_j_median=best_medians.energy_j if best is not None else math.nan,
        best_duration_s_median=best_medians.duration_s if best is not None else math.nan,
        best_power_w_median=best_medians.power_w if best is not None else math.nan,
        baseline_method=baseline.method,
        energy_method=methods.pop() if len(methods) == 1 else "mixed",
        is_estimate=baseline.is_estimate or any(score.is_estimate for score in scored),
        scored_on="" if not scored_on else scored_on.pop() if len(scored_on) == 1 else "mixed",
        noise_floor=noise_floor(baseline, options.noise_sds),
    )


def campaign_curves(apps: Sequence[AppSummary], options: ReportOptions) -> list[CurvePoint]:
    """Means over apps at every k, per strategy and partition (and over all partitions when there
    are several), with app-level bootstrap confidence intervals."""
    by_group: dict[tuple[str, str], list[AppSummary]] = defaultdict(list)
    for app in apps:
        by_group[(app.key.strategy, app.key.partition)].append(app)
    partitions = {app.key.partition for app in apps}
    if len(partitions) > 1:
        for app in apps:
            by_group[(app.key.strategy, ALL_PARTITIONS)].append(app)
    points: list[CurvePoint] = []
    for (strategy, partition), members in sorted(by_group.items()):
        points.extend(_curve(strategy, partition, members, options))
    return points


def _curve(
    strategy: str, partition: str, apps: Sequence[AppSummary], options: ReportOptions
) -> list[CurvePoint]:
    width = max(app.trials for app in apps)
    columns = {
        name: _padded([getattr(app, name) for app in apps], width)
        for name in ("er_at_k", "pass_at_k", "speedup_at_k")
    }
    bounds = {
        name: bootstrap_mean_ci(values, options.bootstrap_samples, options.seed, options.confidence)
        for name, values in columns.items()
    }
    points = []
    for index in range(width):
        counted = int(np.isfinite(columns["er_at_k"][:, index]).sum())
        points.append(
            CurvePoint(
                strategy=strategy,
                partition=partition,
                k=index + 1,
                apps=counted,
                er_mean=_mean(columns["er_at_k"][:, index]),
                er_ci95_low=float(bounds["er_at_k"][0][index]),
                er_ci95_high=float(bounds["er_at_k"][1][index]),
                pass_mean=_mean(columns["pass_at_k"][:, index]),
                pass_ci95_low=float(bounds["pass_at_k"][0][index]),
                pass_ci95_high=float(bounds["pass_at_k"][1][index]),
                speedup_mean=_mean(columns["speedup_at_k"][:, index]),
                speedup_ci95_low=float(bounds["speedup_at_k"][0][index]),
                speedup_ci95_high=float(bounds["speedup_at_k"][1][index]),
            )
        )
    return points


def _padded(rows: Sequence[tuple[float, ...]], width: int) -> npt.NDArray[np.float64]:
    """Rows of different lengths as an apps × width array, NaN where an app has fewer trials."""
    table = np.full((len(rows), width), np.nan)
    for index, row in enumerate(rows):
        table[index, : len(row)] = row
    return table


def _mean(column: npt.NDArray[np.float64]) -> float:
    finite = column[np.isfinite(column)]
    return float(finite.mean()) if finite.size else math.nan


def _floats(values: npt.NDArray[np.float64]) -> tuple[float, ...]:
    return tuple(float(value) for value in values)
