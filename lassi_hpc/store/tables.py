"""Flat rows that the reader returns for analysis, and turning rows into columns."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# The BaselineRecord.extra key under which the driver stores why an app's oracle is weak.
WEAK_CHECK_EXTRA_KEY = "weak_check"


@dataclass(frozen=True, slots=True)
class BaselineRow:
    """One app variant's baseline, flattened.

    Energy in J, power in W, times in s, `energy_cv` as a fraction. Where the baseline has no
    measurement (a failed build or run) the numbers are NaN, `method` and `backend` are "",
    `is_estimate` is False and `repetitions` is 0. `is_estimate` is True when the energy comes from
    a model rather than a meter: such figures must be labelled as estimates wherever shown.
    """

    app: str
    variant: str
    partition: str
    status: str  # a StageStatus value
    reason: str
    build_ok: bool
    build_wall_s: float
    energy_j_mean: float
    energy_j_sd: float
    energy_j_ci95: float
    energy_cv: float
    duration_s_mean: float
    average_power_w_mean: float
    method: str  # an EnergyMethod value, or ""
    backend: str
    is_estimate: bool
    repetitions: int
    flags: tuple[str, ...]
    devices: tuple[str, ...]  # names of the measured devices, e.g. "NVIDIA A100-SXM4-80GB"
    weak_check: str = ""  # why the app's oracle is weak ("" = not known to be, or older files)


@dataclass(frozen=True, slots=True)
class TrialRow:
    """One refactoring trial, flattened, for analysis and `lassi-hpc status`.

    Sums run over the trial's steps (one step is one LLM answer): `llm_latency_s` in s, tokens as
    the server counted them. `llm_attempts` counts HTTP attempts, retries included; `llm_errors`
    the answers that ended in an error. `candidates_evaluated` counts steps with an evaluation,
    `candidates_passed` those that passed, and each failure count the steps that stopped at that
    gate; `no_code` counts answers to a request for code (purpose refactor, fix or no-code) that
    held none, whether or not the driver stored an evaluation for them.
    The `best_*` figures are the best step's measurement (J, s, W); NaN, `best_method` "",
    `best_iteration` -1 and `best_is_estimate` False when no candidate passed. Where
    `best_is_estimate` (or `rescore_is_estimate`) is True the energy comes from a model, not a
    meter, and must be labelled as an estimate wherever shown. `rescore_*` is the independent
    second measurement (NaN when none); `judge` the trial's JudgeDecision value ("" when no judge
    ran). Times are host seconds since the epoch. `roofline_guidance` ("on"/"off"),
    `roofline_label` and `roofline_label_source` are as stored in the trial's `extra`; "" for a
    trial stored before roofline guidance existed.
    """

    app: str
    variant: str
    strategy: str  # a Strategy value
    trial: int
    partition: str
    generator_model: str
    outcome: str  # a TrialOutcome value
    reason: str
    steps: int
    iterations: int  # the highest step iteration; 0 when no code change was asked for
    llm_requests: int
    llm_attempts: int
    llm_errors: int
    prompt_tokens: int
    completion_tokens: int
    llm_latency_s: float
    candidates_evaluated: int
    candidates_passed: int
    no_code: int
    screen_failed: int
    build_failed: int
    run_failed: int
    verify_failed: int
    measure_failed: int
    best_step: int  # index into the trial's steps, -1 when none passed
    best_energy_j_mean: float
    best_energy_j_ci95: float
    best_duration_s_mean: float
    best_average_power_w_mean: float
    best_method: str  # an EnergyMethod value, or ""
    best_is_estimate: bool
    rescore_energy_j_mean: float
    rescore_energy_j_ci95: float
    rescore_is_estimate: bool
    rescore_duration_s_mean: float
    rescore_average_power_w_mean: float
    rescore_method: str  # an EnergyMethod value, or ""
    best_iteration: int
    judge: str
    started_at_s: float
    ended_at_s: float
    roofline_guidance: str = ""
    roofline_label: str = ""  # "compute-bound", "bandwidth-bound" or ""
    roofline_label_source: str = ""  # "measured", "predicted", "none" or ""


@dataclass(frozen=True, slots=True)
class CandidateRow:
    """One step that produced a candidate to evaluate, or that was asked for code and got none.

    `status` is a CandidateStatus value ("no-code" also for an answer without code that was not
    evaluated). The measurement figures (J, s, W) are the step's own measurement: NaN, `method` ""
    and `is_estimate` False when the candidate was not measured.
    """

    app: str
    variant: str
    strategy: str  # a Strategy value
    trial: int
    step: int
    iteration: int
    attempt: int
    purpose: str
    status: str
    energy_j_mean: float
    energy_j_ci95: float
    duration_s_mean: float
    average_power_w_mean: float
    method: str  # an EnergyMethod value, or ""
    is_estimate: bool
    is_best: bool  # the trial's best step


@dataclass(frozen=True, slots=True)
class StepFailureRow:
    """One step whose candidate failed a gate, or whose answer to a request for code held none
    (status "no-code"): where in which trial, and which gate."""

    app: str
    variant: str
    strategy: str  # a Strategy value
    trial: int
    iteration: int
    attempt: int
    purpose: str
    status: str  # a CandidateStatus value other than "passed"


def as_columns(rows: Sequence[Any], row_type: type[Any] | None = None) -> dict[str, list[Any]]:
    """Rows of one dataclass type as {field name: list of values}, in field order.

    `row_type` gives the columns when `rows` may be empty (without it, no rows give {}).
    """
    if row_type is None:
        if not rows:
            return {}
        row_type = type(rows[0])
    if not dataclasses.is_dataclass(row_type):
        raise TypeError(f"as_columns needs dataclass rows, got {row_type.__name__}")
    names = [f.name for f in dataclasses.fields(row_type)]
    for row in rows:
        if type(row) is not row_type:
            raise TypeError(
                f"as_columns needs rows of one type: {row_type.__name__} and {type(row).__name__}"
            )
    return {name: [getattr(row, name) for row in rows] for name in names}
