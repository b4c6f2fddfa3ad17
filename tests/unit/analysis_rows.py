"""Rows for analysis tests: a BaselineRow, TrialRows and CandidateRows with chosen figures."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from lassi_hpc.store.tables import BaselineRow, CandidateRow, TrialRow

BASELINE = BaselineRow(
    app="jacobi",
    variant="cuda",
    partition="a100",
    status="ok",
    reason="",
    build_ok=True,
    build_wall_s=3.0,
    energy_j_mean=100.0,
    energy_j_sd=2.0,
    energy_j_ci95=4.0,
    energy_cv=0.02,
    duration_s_mean=2.0,
    average_power_w_mean=50.0,
    method="counter",
    backend="nvml",
    is_estimate=False,
    repetitions=5,
    flags=(),
    devices=("NVIDIA A100-SXM4-80GB",),
)

_FAILED = TrialRow(
    app="jacobi",
    variant="cuda",
    strategy="lassi-ee",
    trial=0,
    partition="a100",
    generator_model="model",
    outcome="no-passing-candidate",
    reason="every candidate failed",
    steps=3,
    iterations=1,
    llm_requests=3,
    llm_attempts=3,
    llm_errors=0,
    prompt_tokens=100,
    completion_tokens=100,
    llm_latency_s=1.0,
    candidates_evaluated=1,
    candidates_passed=0,
    no_code=0,
    screen_failed=0,
    build_failed=1,
    run_failed=0,
    verify_failed=0,
    measure_failed=0,
    best_step=-1,
    best_energy_j_mean=math.nan,
    best_energy_j_ci95=math.nan,
    best_duration_s_mean=math.nan,
    best_average_power_w_mean=math.nan,
    best_method="",
    best_is_estimate=False,
    rescore_energy_j_mean=math.nan,
    rescore_energy_j_ci95=math.nan,
    rescore_is_estimate=False,
    rescore_duration_s_mean=math.nan,
    rescore_average_power_w_mean=math.nan,
    rescore_method="",
    best_iteration=-1,
    judge="",
    started_at_s=0.0,
    ended_at_s=1.0,
)


def failed_trial(trial: int, **overrides: Any) -> TrialRow:
    """A trial in which no candidate passed."""
    return dataclasses.replace(_FAILED, trial=trial, **overrides)


def passed_trial(
    trial: int,
    energy_j: float,
    duration_s: float = 2.0,
    rescore_energy_j: float | None = None,
    rescore_duration_s: float | None = None,
    **overrides: Any,
) -> TrialRow:
    """An accepted trial whose best step measured `energy_j`; rescored when given."""
    rescored = rescore_energy_j is not None
    values: dict[str, Any] = {
        "trial": trial,
        "outcome": "accepted",
        "reason": "",
        "candidates_passed": 1,
        "build_failed": 0,
        "best_step": 2,
        "best_iteration": 1,
        "best_energy_j_mean": energy_j,
        "best_energy_j_ci95": 1.0,
        "best_duration_s_mean": duration_s,
        "best_average_power_w_mean": energy_j / duration_s,
        "best_method": "counter",
        "judge": "valid",
    }
    if rescored:
        assert rescore_energy_j is not None
        again_s = duration_s if rescore_duration_s is None else rescore_duration_s
        values |= {
            "rescore_energy_j_mean": rescore_energy_j,
            "rescore_energy_j_ci95": 1.0,
            "rescore_duration_s_mean": again_s,
            "rescore_average_power_w_mean": rescore_energy_j / again_s,
            "rescore_method": "counter",
        }
    return dataclasses.replace(_FAILED, **(values | overrides))


def candidate(
    trial: int,
    step: int,
    status: str,
    energy_j: float = math.nan,
    duration_s: float = math.nan,
    **overrides: Any,
) -> CandidateRow:
    """A candidate row of jacobi/cuda lassi-ee."""
    measured = math.isfinite(energy_j)
    row = CandidateRow(
        app="jacobi",
        variant="cuda",
        strategy="lassi-ee",
        trial=trial,
        step=step,
        iteration=1,
        attempt=0,
        purpose="refactor",
        status=status,
        energy_j_mean=energy_j,
        energy_j_ci95=1.0 if measured else math.nan,
        duration_s_mean=duration_s,
        average_power_w_mean=energy_j / duration_s if measured else math.nan,
        method="counter" if measured else "",
        is_estimate=False,
        is_best=False,
    )
    return dataclasses.replace(row, **overrides)
