"""Every measured candidate relative to its baseline, the Pareto front of energy and time, and
where candidates failed (per stage and iteration)."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from lassi_hpc.analysis.model import CandidatePoint, GroupKey, StageFailureCount
from lassi_hpc.records import CandidateStatus, JudgeDecision
from lassi_hpc.store.tables import BaselineRow, CandidateRow, TrialRow

# The stage at which a candidate of each status stopped, in pipeline order.
STAGE_OF_STATUS = {
    CandidateStatus.NO_CODE.value: "no-code",
    CandidateStatus.SCREEN_FAILED.value: "screen",
    CandidateStatus.BUILD_FAILED.value: "compile",
    CandidateStatus.RUN_FAILED.value: "runtime",
    CandidateStatus.VERIFY_FAILED.value: "oracle",
    CandidateStatus.MEASURE_FAILED.value: "measure",
}
JUDGE_STAGE = "judge"
STAGES = (*STAGE_OF_STATUS.values(), JUDGE_STAGE)


def candidate_points(
    candidates: Iterable[CandidateRow],
    trials: Iterable[TrialRow],
    baselines: Mapping[tuple[str, str], BaselineRow],
) -> list[CandidatePoint]:
    """Every passed, measured candidate as (E/E_baseline, T/T_baseline), with the Pareto front
    (per strategy) marked. Candidates of apps without a usable baseline are left out."""
    partitions = {(t.app, t.variant, t.strategy, t.trial): t.partition for t in trials}
    points = []
    for row in candidates:
        baseline = baselines.get((row.app, row.variant))
        if (
            row.status != CandidateStatus.PASSED.value
            or baseline is None
            or not _positive(baseline.energy_j_mean)
            or not _positive(baseline.duration_s_mean)
            or not math.isfinite(row.energy_j_mean)
        ):
            continue
        partition = partitions.get((row.app, row.variant, row.strategy, row.trial), "")
        points.append(
            CandidatePoint(
                key=GroupKey(row.app, row.variant, row.strategy, partition),
                trial=row.trial,
                step=row.step,
                energy_ratio=row.energy_j_mean / baseline.energy_j_mean,
                time_ratio=row.duration_s_mean / baseline.duration_s_mean,
                is_best=row.is_best,
                on_front=False,
                is_estimate=row.is_estimate or baseline.is_estimate,
            )
        )
    return mark_pareto_front(points)


def mark_pareto_front(points: Sequence[CandidatePoint]) -> list[CandidatePoint]:
    """`points` with `on_front` set: no other point of the same strategy has both a lower or equal
    energy ratio and a lower or equal time ratio, one of them strictly lower."""
    front: set[int] = set()
    by_strategy: dict[str, list[int]] = {}
    for index, point in enumerate(points):
        by_strategy.setdefault(point.key.strategy, []).append(index)
    for indices in by_strategy.values():
        ordered = sorted(indices, key=lambda i: (points[i].time_ratio, points[i].energy_ratio))
        lowest_energy = math.inf
        for index in ordered:
            if points[index].energy_ratio < lowest_energy:
                front.add(index)
                lowest_energy = points[index].energy_ratio
    return [
        dataclasses.replace(point, on_front=index in front) for index, point in enumerate(points)
    ]


def stage_failures(
    candidates: Iterable[CandidateRow], trials: Iterable[TrialRow]
) -> list[StageFailureCount]:
    """How many candidates stopped at each stage, per strategy and iteration; a judge's rejection
    counts at the iteration of the trial's best step."""
    counts: Counter[tuple[str, int, str]] = Counter()
    for row in candidates:
        stage = STAGE_OF_STATUS.get(row.status)
        if stage is not None:
            counts[(row.strategy, row.iteration, stage)] += 1
    for trial in trials:
        if trial.judge == JudgeDecision.INVALID.value:
            counts[(trial.strategy, max(trial.best_iteration, 0), JUDGE_STAGE)] += 1
    order = {stage: index for index, stage in enumerate(STAGES)}
    keys = sorted(counts, key=lambda key: (key[0], key[1], order[key[2]]))
    return [StageFailureCount(*key, count=counts[key]) for key in keys]


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0
