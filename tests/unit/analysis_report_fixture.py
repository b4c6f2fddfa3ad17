"""Report objects built by hand to look like a real campaign's analysis, for the figure and HTML
tests. No tests here.

The campaign: several HeCBench-like apps and variants, both strategies, two partitions (an NVIDIA
and an AMD one), 5 trials per app line except some with 3 (their tuples stop at k = 3 and their
jackknife interval is NaN at k = trials), app lines where no trial passed, one app line whose energy
is an estimate (optional), power traces present and absent, failures per stage and iteration, and
the seed paper's published figures as references. Per-app figures are computed from per-trial
gains with the unbiased estimator, so they are mutually consistent.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence

import numpy as np

from lassi_hpc.analysis.intervals import jackknife_curve_ci
from lassi_hpc.analysis.metrics import energy_reduction_curve, pass_curve, speedup_curve
from lassi_hpc.analysis.model import (
    AppSummary,
    CandidatePoint,
    GroupKey,
    Report,
    ReportOptions,
    StageFailureCount,
    TracePair,
)
from lassi_hpc.analysis.reference import SEED_PAPER_REFERENCES
from lassi_hpc.analysis.summaries import campaign_curves
from lassi_hpc.records import PowerTrace

NAN = float("nan")
STRATEGIES = ("vanilla", "lassi-ee")
PARTITIONS = {"a100": "NVIDIA A100-SXM4-40GB", "mi100": "AMD Instinct MI100"}
APP_VARIANTS = (
    ("jacobi", "cuda", 5),
    ("nbody", "cuda", 5),
    ("stencil3d", "omp", 5),
    ("xsbench", "cuda", 3),
    ("lulesh", "omp", 5),
    ("bfs", "cuda", 3),
)
NEVER_PASSES = {"bfs"}  # no trial of this app passes, with either strategy
ESTIMATED_APP = "stencil3d"  # on "mi100" only, when the report is built with estimate=True
STAGES = ("no-code", "screen", "compile", "runtime", "oracle", "measure", "judge")
HOSTILE_APP = "<script>alert(\"$x\")</script>&'q'"

CAMPAIGN_TOML = """[campaign]
name = "fixture-campaign"
trials = 5
strategies = ["vanilla", "lassi-ee"]

[apps]
names = ["jacobi", "nbody", "stencil3d", "xsbench", "lulesh", "bfs"]
"""
SITE_TOML = """[site]
name = "fixture-cluster"

[partitions.a100]
gpus_per_node = 4
"""


def build_report(
    *,
    estimate: bool = True,
    hostile_app: bool = False,
    extra_apps: int = 0,
    traces: bool = True,
    notes: Sequence[str] = (),
) -> Report:
    """A realistic campaign report; `extra_apps` adds that many more app variants (table caps)."""
    rng = random.Random(7)
    names = list(APP_VARIANTS)
    names += [(f"extra{index:04d}", "cuda", 5) for index in range(extra_apps)]
    if hostile_app:
        names.append((HOSTILE_APP, "cuda", 5))
    apps: list[AppSummary] = []
    candidates: list[CandidatePoint] = []
    for app, variant, trials in names:
        for partition in PARTITIONS:
            for strategy in STRATEGIES:
                key = GroupKey(app=app, variant=variant, strategy=strategy, partition=partition)
                is_estimate = estimate and app == ESTIMATED_APP and partition == "mi100"
                gains = _trial_gains(rng, app, strategy, trials)
                apps.append(_summary(rng, key, gains, is_estimate))
                candidates.extend(_candidates(rng, key, gains, is_estimate))
    report_notes = list(notes)
    if estimate:
        report_notes.append(
            f"{ESTIMATED_APP}/omp on mi100 uses ESTIMATED energy (no meter), not a measurement."
        )
    report_notes.append("2 app lines were scored on the selection measurement (no rescore).")
    return Report(
        campaign="fixture-campaign",
        results_path="/scratch/results/fixture-campaign/results.h5",
        generated_utc="2025-06-01T12:00:00Z",
        options=ReportOptions(bootstrap_samples=500, max_bar_apps=8, max_trace_apps=4),
        apps=tuple(apps),
        curves=tuple(campaign_curves(apps, ReportOptions(bootstrap_samples=200))),
        scores=(),
        candidates=tuple(_with_fronts(candidates)),
        failures=_failures(rng),
        traces=_traces(apps) if traces else (),
        references=SEED_PAPER_REFERENCES,
        notes=tuple(report_notes),
        provenance=_provenance(),
    )


def empty_report() -> Report:
    """A campaign with nothing in it: no apps, curves, candidates, failures, traces or notes."""
    return Report(
        campaign="empty",
        results_path="/tmp/empty.h5",
        generated_utc="2025-06-01T12:00:00Z",
        options=ReportOptions(),
        apps=(),
        curves=(),
        scores=(),
        candidates=(),
        failures=(),
        traces=(),
        references=(),
    )


def with_many_candidates(report: Report, count: int) -> Report:
    """`report` with `count` random candidates (spread over its app lines) replacing its own."""
    rng = random.Random(11)
    keys = [app.key for app in report.apps]
    points = []
    for index in range(count):
        energy_ratio = math.exp(rng.gauss(-0.05, 0.25))
        time_ratio = math.exp(rng.gauss(0.0, 0.3))
        points.append(
            CandidatePoint(
                key=keys[index % len(keys)],
                trial=index % 5,
                step=index % 7,
                energy_ratio=energy_ratio,
                time_ratio=time_ratio,
                is_best=index % 41 == 0,
                on_front=False,
                is_estimate=False,
            )
        )
    return dataclasses.replace(report, candidates=tuple(_with_fronts(points)))


def _trial_gains(rng: random.Random, app: str, strategy: str, trials: int) -> list[float]:
    if app in NEVER_PASSES:
        return [0.0] * trials
    pass_rate = 0.7 if strategy == "lassi-ee" else 0.45
    scale = 0.35 if strategy == "lassi-ee" else 0.2
    return [
        max(0.0, rng.gauss(scale, 0.15)) if rng.random() < pass_rate else 0.0 for _ in range(trials)
    ]


def _summary(
    rng: random.Random, key: GroupKey, gains: list[float], is_estimate: bool
) -> AppSummary:
    trials = len(gains)
    passes = sum(1 for gain in gains if gain > 0.0)
    low, high = jackknife_curve_ci(np.array(gains), energy_reduction_curve, clip_unit=True)
    speedups = [1.0 + rng.random() * 0.4 if gain > 0.0 else 1.0 for gain in gains]
    baseline_j = rng.uniform(50.0, 900.0)
    baseline_s = rng.uniform(0.5, 6.0)
    best_gain = max(gains)
    best_trial = gains.index(best_gain) if passes else -1
    method = "estimate" if is_estimate else "counter"
    return AppSummary(
        key=key,
        device=PARTITIONS[key.partition],
        trials=trials,
        passes=passes,
        pass_at_k=tuple(pass_curve(trials, passes).tolist()),
        er_at_k=tuple(energy_reduction_curve(gains).tolist()),
        er_ci95_low=tuple(low.tolist()),
        er_ci95_high=tuple(high.tolist()),
        speedup_at_k=tuple(speedup_curve(speedups).tolist()),
        baseline_energy_j_median=baseline_j,
        baseline_duration_s_median=baseline_s,
        baseline_power_w_median=baseline_j / baseline_s,
        best_trial=best_trial,
        best_energy_j_median=baseline_j * (1.0 - best_gain) if passes else NAN,
        best_duration_s_median=baseline_s * 0.9 if passes else NAN,
        best_power_w_median=baseline_j * (1.0 - best_gain) / (baseline_s * 0.9) if passes else NAN,
        baseline_method=method,
        energy_method=method,
        is_estimate=is_estimate,
        scored_on=("selection" if key.app == "xsbench" else "rescore") if passes else "",
        noise_floor=0.02,
    )


def _candidates(
    rng: random.Random, key: GroupKey, gains: list[float], is_estimate: bool
) -> list[CandidatePoint]:
    points = []
    for trial, gain in enumerate(gains):
        steps = rng.randint(1, 4)
        best_step = rng.randrange(steps) if gain > 0.0 else -1
        for step in range(steps):
            energy_ratio = 1.0 - gain if step == best_step else rng.uniform(0.7, 1.4)
            points.append(
                CandidatePoint(
                    key=key,
                    trial=trial,
                    step=step,
                    energy_ratio=energy_ratio,
                    time_ratio=rng.uniform(0.6, 1.5),
                    is_best=step == best_step,
                    on_front=False,
                    is_estimate=is_estimate,
                )
            )
    return points


def _with_fronts(candidates: list[CandidatePoint]) -> list[CandidatePoint]:
    """Mark each strategy's Pareto front: no other candidate is both cheaper and faster."""
    cheapest_faster: dict[int, float] = {}
    for strategy in STRATEGIES:
        own = [i for i, c in enumerate(candidates) if c.key.strategy == strategy]
        own.sort(key=lambda i: candidates[i].time_ratio)
        cheapest = math.inf
        start = 0
        while start < len(own):
            end = start
            while end < len(own) and (
                candidates[own[end]].time_ratio == candidates[own[start]].time_ratio
            ):
                end += 1
            for i in own[start:end]:
                cheapest_faster[i] = cheapest
            cheapest = min(cheapest, *(candidates[i].energy_ratio for i in own[start:end]))
            start = end
    return [
        dataclasses.replace(c, on_front=True) if not cheapest_faster[i] < c.energy_ratio else c
        for i, c in enumerate(candidates)
    ]


def _failures(rng: random.Random) -> tuple[StageFailureCount, ...]:
    counts = []
    for strategy in STRATEGIES:
        counts.append(StageFailureCount(strategy, 0, "no-code", rng.randint(0, 3)))
        for iteration in range(1, 4):
            for stage in STAGES[1:]:
                counts.append(StageFailureCount(strategy, iteration, stage, rng.randint(0, 6)))
    return tuple(counts)


def _trace(watts: float, duration_s: float, samples: int = 120) -> PowerTrace:
    times = tuple(duration_s * i / (samples - 1) for i in range(samples))
    return PowerTrace(
        time_s=times,
        power_w=tuple(watts * (1.0 + 0.1 * math.sin(6.0 * t / duration_s)) for t in times),
    )


def _traces(apps: Sequence[AppSummary]) -> tuple[TracePair, ...]:
    """Traces for the first few app lines: both traces, no best (nothing passed), no baseline."""
    chosen = [app for app in apps if app.key.partition == "a100"][:3]
    chosen += [app for app in apps if app.key.app in NEVER_PASSES][:1]
    chosen += [app for app in apps if app.is_estimate][:1]
    pairs = []
    for index, app in enumerate(chosen):
        baseline = _trace(app.baseline_power_w_median, app.baseline_duration_s_median)
        best = (
            _trace(app.best_power_w_median, app.best_duration_s_median)
            if app.best_trial >= 0
            else None
        )
        pairs.append(
            TracePair(
                key=app.key,
                baseline=None if index == 1 else baseline,
                best=best,
                best_trial=app.best_trial,
                method=app.energy_method,
                is_estimate=app.is_estimate,
            )
        )
    return tuple(pairs)


def _provenance() -> dict[str, object]:
    return {
        "campaign_config": CAMPAIGN_TOML,
        "site_config": SITE_TOML,
        "versions": {"lassi_hpc": "0.4.0", "nvcc": "12.4", "hipcc": "6.2", "driver": "550.54"},
        "host": {"hostname": "node01", "cpus": 64, "os": "Linux 5.14"},
        "devices": [
            {"backend": "nvml", "name": "NVIDIA A100-SXM4-40GB", "uuid": "GPU-1234"},
            {"backend": "amdsmi", "name": "AMD Instinct MI100", "uuid": "0000:c1:00.0"},
        ],
        "git_revision": "9f8f6f5 (clean)",
        "collected_utc": "2025-05-30T08:00:00Z",
        "resumes": [],
    }
