"""Each trial's score: its gain g_i, pass/fail, speedup, and how its energy was obtained.

Selection and scoring use independent measurements where the campaign made two: the driver picked
each trial's best step on that step's measurement, and the trial is scored here on its `rescore`,
a second measurement of the same candidate (choosing the best of several noisy figures and scoring
it on the same figures inflates the gain). A gain no larger than the baseline's run-to-run noise
counts as zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from lassi_hpc.analysis.model import GroupKey, TrialScore
from lassi_hpc.records import TrialOutcome
from lassi_hpc.store.tables import BaselineRow, TrialRow


def usable_baseline(baseline: BaselineRow | None) -> str:
    """Why `baseline` cannot anchor scores ("" when it can)."""
    if baseline is None:
        return "no baseline stored"
    if baseline.status != "ok":
        return f"baseline {baseline.status}: {baseline.reason}"
    if not math.isfinite(baseline.energy_j_mean) or baseline.energy_j_mean <= 0:
        return f"baseline energy is {baseline.energy_j_mean} J"
    return ""


def noise_floor(baseline: BaselineRow, noise_sds: float) -> float:
    """The gain (a fraction of the baseline energy) at or below which a gain counts as zero:
    `noise_sds` run-to-run standard deviations of the baseline, relative to its mean."""
    if noise_sds <= 0 or not math.isfinite(baseline.energy_cv):
        return 0.0
    return noise_sds * baseline.energy_cv


def score_trial(trial: TrialRow, baseline: BaselineRow, noise_sds: float) -> TrialScore:
    """The score of `trial` against `baseline` (which must be usable: see usable_baseline)."""
    key = GroupKey(trial.app, trial.variant, trial.strategy, trial.partition)
    passed = (
        trial.outcome == TrialOutcome.ACCEPTED.value
        and trial.best_step >= 0
        and math.isfinite(trial.best_energy_j_mean)
    )
    if not passed:
        return TrialScore(
            key=key,
            trial=trial.trial,
            outcome=trial.outcome,
            passed=False,
            gain=0.0,
            raw_gain=math.nan,
            inside_noise=False,
            speedup=1.0,
            selection_energy_j=trial.best_energy_j_mean,
            score_energy_j=math.nan,
            score_duration_s=math.nan,
            score_power_w=math.nan,
            scored_on="",
            method="",
            is_estimate=False,
            roofline_guidance=trial.roofline_guidance,
            roofline_label=trial.roofline_label,
            roofline_label_source=trial.roofline_label_source,
        )
    rescored = math.isfinite(trial.rescore_energy_j_mean)
    if rescored:
        energy_j, duration_s = trial.rescore_energy_j_mean, trial.rescore_duration_s_mean
        power_w, method = trial.rescore_average_power_w_mean, trial.rescore_method
        is_estimate = trial.rescore_is_estimate
    else:
        energy_j, duration_s = trial.best_energy_j_mean, trial.best_duration_s_mean
        power_w, method = trial.best_average_power_w_mean, trial.best_method
        is_estimate = trial.best_is_estimate
    raw_gain = 1.0 - energy_j / baseline.energy_j_mean
    # Compared as energies, so that a gain exactly at the floor is not pushed over it by rounding.
    counts = energy_j < baseline.energy_j_mean * (1.0 - noise_floor(baseline, noise_sds))
    gain = raw_gain if counts else 0.0
    speedup = 1.0
    if math.isfinite(duration_s) and duration_s > 0:
        speedup = max(1.0, baseline.duration_s_mean / duration_s)
    return TrialScore(
        key=key,
        trial=trial.trial,
        outcome=trial.outcome,
        passed=True,
        gain=gain,
        raw_gain=raw_gain,
        inside_noise=raw_gain > 0.0 and not counts,
        speedup=speedup,
        selection_energy_j=trial.best_energy_j_mean,
        score_energy_j=energy_j,
        score_duration_s=duration_s,
        score_power_w=power_w,
        scored_on="rescore" if rescored else "selection",
        method=method,
        is_estimate=is_estimate,
        roofline_guidance=trial.roofline_guidance,
        roofline_label=trial.roofline_label,
        roofline_label_source=trial.roofline_label_source,
    )


def score_trials(
    trials: Sequence[TrialRow],
    baselines: Mapping[tuple[str, str], BaselineRow],
    noise_sds: float,
) -> tuple[list[TrialScore], dict[GroupKey, str]]:
    """Scores of every trial whose baseline is usable, and, for each GroupKey left out, why."""
    scores: list[TrialScore] = []
    left_out: dict[GroupKey, str] = {}
    for trial in trials:
        baseline = baselines.get((trial.app, trial.variant))
        problem = usable_baseline(baseline)
        if problem or baseline is None:
            key = GroupKey(trial.app, trial.variant, trial.strategy, trial.partition)
            left_out[key] = problem
            continue
        scores.append(score_trial(trial, baseline, noise_sds))
    return scores, left_out
