"""Flat rows of stored trials, read from attributes only (no prompts, logs or traces are loaded), so
that `lassi-hpc status` and analysis stay quick on a campaign's whole file."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from lassi_hpc.records import CandidateStatus
from lassi_hpc.store.encoding import (
    get_bool_attr,
    get_enum_attr,
    get_float_attr,
    get_int_attr,
    get_text_attr,
    group_at,
)
from lassi_hpc.store.schema import (
    EVALUATION,
    FILES,
    JUDGE,
    MEASUREMENT,
    RESCORE,
    RESPONSE,
    STEPS,
)
from lassi_hpc.store.stage_codec import in_index_order, is_estimate
from lassi_hpc.store.tables import StepFailureRow, TrialRow

# Purposes of the requests that ask for code (LLMRequest.purpose); an answer to one without files
# held no usable code.
CODE_PURPOSES = frozenset({"refactor", "fix", "no-code"})

# TrialRow's count of each CandidateStatus.
_STATUS_COLUMNS = {
    CandidateStatus.PASSED: "candidates_passed",
    CandidateStatus.NO_CODE: "no_code",
    CandidateStatus.SCREEN_FAILED: "screen_failed",
    CandidateStatus.BUILD_FAILED: "build_failed",
    CandidateStatus.RUN_FAILED: "run_failed",
    CandidateStatus.VERIFY_FAILED: "verify_failed",
    CandidateStatus.MEASURE_FAILED: "measure_failed",
}


def trial_row(group: Any) -> TrialRow:
    """The row of the trial stored in `group`."""
    steps = in_index_order(group_at(group, STEPS).values())
    counts: Counter[str] = Counter()
    latency_s = 0.0
    for step in steps:
        response = group_at(step, RESPONSE)
        counts["llm_attempts"] += get_int_attr(response, "attempts")
        counts["llm_errors"] += not get_bool_attr(response, "ok")
        counts["prompt_tokens"] += get_int_attr(response, "prompt_tokens")
        counts["completion_tokens"] += get_int_attr(response, "completion_tokens")
        latency_s += get_float_attr(response, "latency_s")
        counts["candidates_evaluated"] += EVALUATION in step
        status = _step_status(step)
        if status is not None:
            counts[_STATUS_COLUMNS[status]] += 1
    best_step = get_int_attr(group, "best_step")
    best = _best_measurement(steps, best_step)
    rescore = group.get(RESCORE)
    judge = group.get(JUDGE)
    return TrialRow(
        app=get_text_attr(group, "app"),
        variant=get_text_attr(group, "variant"),
        strategy=get_text_attr(group, "strategy"),
        trial=get_int_attr(group, "trial"),
        partition=get_text_attr(group, "partition"),
        generator_model=get_text_attr(group, "generator_model"),
        outcome=get_text_attr(group, "outcome"),
        reason=get_text_attr(group, "reason"),
        steps=len(steps),
        iterations=max((get_int_attr(step, "iteration") for step in steps), default=0),
        llm_requests=len(steps),
        llm_attempts=counts["llm_attempts"],
        llm_errors=counts["llm_errors"],
        prompt_tokens=counts["prompt_tokens"],
        completion_tokens=counts["completion_tokens"],
        llm_latency_s=latency_s,
        candidates_evaluated=counts["candidates_evaluated"],
        candidates_passed=counts["candidates_passed"],
        no_code=counts["no_code"],
        screen_failed=counts["screen_failed"],
        build_failed=counts["build_failed"],
        run_failed=counts["run_failed"],
        verify_failed=counts["verify_failed"],
        measure_failed=counts["measure_failed"],
        best_step=best_step,
        best_energy_j_mean=_number(best, "energy_j_mean"),
        best_energy_j_ci95=_number(best, "energy_j_ci95"),
        best_duration_s_mean=_number(best, "duration_s_mean"),
        best_average_power_w_mean=_number(best, "average_power_w_mean"),
        best_method="" if best is None else get_text_attr(best, "method"),
        best_is_estimate=best is not None and is_estimate(best),
        rescore_energy_j_mean=_number(rescore, "energy_j_mean"),
        rescore_energy_j_ci95=_number(rescore, "energy_j_ci95"),
        rescore_is_estimate=rescore is not None and is_estimate(rescore),
        judge="" if judge is None else get_text_attr(judge, "decision"),
        started_at_s=get_float_attr(group, "started_at_s"),
        ended_at_s=get_float_attr(group, "ended_at_s"),
    )


def step_failure_rows(group: Any) -> list[StepFailureRow]:
    """One row per evaluated step of the trial in `group` whose candidate did not pass."""
    app, variant = get_text_attr(group, "app"), get_text_attr(group, "variant")
    strategy, trial = get_text_attr(group, "strategy"), get_int_attr(group, "trial")
    rows = []
    for step in in_index_order(group_at(group, STEPS).values()):
        status = _step_status(step)
        if status is None or status is CandidateStatus.PASSED:
            continue
        rows.append(
            StepFailureRow(
                app=app,
                variant=variant,
                strategy=strategy,
                trial=trial,
                iteration=get_int_attr(step, "iteration"),
                attempt=get_int_attr(step, "attempt"),
                purpose=get_text_attr(step, "purpose"),
                status=status.value,
            )
        )
    return rows


def _step_status(step: Any) -> CandidateStatus | None:
    """The step's evaluation status; NO_CODE also for an answer to a request for code that held
    none (the driver stores those without an evaluation); None for the other steps."""
    evaluation = step.get(EVALUATION)
    if evaluation is not None:
        return get_enum_attr(evaluation, "status", CandidateStatus)
    asked_for_code = get_text_attr(step, "purpose") in CODE_PURPOSES
    answered = get_bool_attr(group_at(step, RESPONSE), "ok")
    if asked_for_code and answered and len(group_at(step, FILES)) == 0:
        return CandidateStatus.NO_CODE
    return None


def _best_measurement(steps: list[Any], best_step: int) -> Any:
    if not 0 <= best_step < len(steps):
        return None
    evaluation = steps[best_step].get(EVALUATION)
    return None if evaluation is None else evaluation.get(MEASUREMENT)


def _number(measurement: Any, name: str) -> float:
    return math.nan if measurement is None else get_float_attr(measurement, name)
