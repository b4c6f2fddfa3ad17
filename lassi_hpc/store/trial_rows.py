"""Flat rows of a trial (TrialRow, CandidateRow), and their JSON summary stored beside the trial.

The rows are computed once from the TrialRecord when the trial is written and stored in the trial
group as the JSON dataset `summary`, so that `lassi-hpc status` and analysis read one small dataset
per trial instead of walking its steps (100,000 trials read in seconds, not minutes). A trial
without a usable summary (a file of schema version 1) is read whole and its rows computed the same
way.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from typing import Any

from lassi_hpc.records import CandidateStatus, EnergyMeasurement, TrialRecord, TrialStep
from lassi_hpc.store.tables import CandidateRow, StepFailureRow, TrialRow

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

_TRIAL_FIELDS = tuple(f.name for f in dataclasses.fields(TrialRow))
# TrialRow fields added after summaries were first stored: a summary without them is still used.
_ADDED_TRIAL_FIELDS = frozenset({"roofline_guidance", "roofline_label", "roofline_label_source"})
_CANDIDATE_FIELDS = tuple(f.name for f in dataclasses.fields(CandidateRow))
# CandidateRow fields that the summary stores once per trial, not per candidate.
_SHARED_FIELDS = ("app", "variant", "strategy", "trial")
_PER_CANDIDATE_FIELDS = tuple(name for name in _CANDIDATE_FIELDS if name not in _SHARED_FIELDS)


def trial_row(record: TrialRecord) -> TrialRow:
    """The row of `record`: sums over its steps and its best and rescore measurements."""
    counts: Counter[str] = Counter()
    for step in record.steps:
        counts["llm_attempts"] += step.response.attempts
        counts["llm_errors"] += not step.response.ok
        counts["prompt_tokens"] += step.response.prompt_tokens
        counts["completion_tokens"] += step.response.completion_tokens
        counts["candidates_evaluated"] += step.evaluation is not None
        status = step_status(step)
        if status is not None:
            counts[_STATUS_COLUMNS[status]] += 1
    best = _best_step(record)
    measured = None if best is None or best.evaluation is None else best.evaluation.measurement
    rescore = record.rescore
    extra = dict(record.extra)
    return TrialRow(
        app=record.app,
        variant=record.variant,
        strategy=record.strategy.value,
        trial=record.trial,
        partition=record.partition,
        generator_model=record.generator_model,
        outcome=record.outcome.value,
        reason=record.reason,
        steps=len(record.steps),
        iterations=max((step.iteration for step in record.steps), default=0),
        llm_requests=len(record.steps),
        llm_attempts=counts["llm_attempts"],
        llm_errors=counts["llm_errors"],
        prompt_tokens=counts["prompt_tokens"],
        completion_tokens=counts["completion_tokens"],
        llm_latency_s=sum(step.response.latency_s for step in record.steps),
        candidates_evaluated=counts["candidates_evaluated"],
        candidates_passed=counts["candidates_passed"],
        no_code=counts["no_code"],
        screen_failed=counts["screen_failed"],
        build_failed=counts["build_failed"],
        run_failed=counts["run_failed"],
        verify_failed=counts["verify_failed"],
        measure_failed=counts["measure_failed"],
        best_step=record.best_step,
        best_energy_j_mean=_number(measured, "energy_j_mean"),
        best_energy_j_ci95=_number(measured, "energy_j_ci95"),
        best_duration_s_mean=_number(measured, "duration_s_mean"),
        best_average_power_w_mean=_number(measured, "average_power_w_mean"),
        best_method="" if measured is None else measured.method.value,
        best_is_estimate=measured is not None and measured.is_estimate,
        rescore_energy_j_mean=_number(rescore, "energy_j_mean"),
        rescore_energy_j_ci95=_number(rescore, "energy_j_ci95"),
        rescore_is_estimate=rescore is not None and rescore.is_estimate,
        rescore_duration_s_mean=_number(rescore, "duration_s_mean"),
        rescore_average_power_w_mean=_number(rescore, "average_power_w_mean"),
        rescore_method="" if rescore is None else rescore.method.value,
        best_iteration=-1 if best is None else best.iteration,
        judge="" if record.judge is None else record.judge.decision.value,
        started_at_s=record.started_at_s,
        ended_at_s=record.ended_at_s,
        roofline_guidance=extra.get("roofline_guidance", ""),
        roofline_label=extra.get("roofline_label", ""),
        roofline_label_source=extra.get("roofline_label_source", ""),
    )


def candidate_rows(record: TrialRecord) -> list[CandidateRow]:
    """One row per step of `record` that was evaluated or held no code where code was asked for."""
    rows = []
    for index, step in enumerate(record.steps):
        status = step_status(step)
        if status is None:
            continue
        measured = None if step.evaluation is None else step.evaluation.measurement
        rows.append(
            CandidateRow(
                app=record.app,
                variant=record.variant,
                strategy=record.strategy.value,
                trial=record.trial,
                step=index,
                iteration=step.iteration,
                attempt=step.attempt,
                purpose=step.purpose,
                status=status.value,
                energy_j_mean=_number(measured, "energy_j_mean"),
                energy_j_ci95=_number(measured, "energy_j_ci95"),
                duration_s_mean=_number(measured, "duration_s_mean"),
                average_power_w_mean=_number(measured, "average_power_w_mean"),
                method="" if measured is None else measured.method.value,
                is_estimate=measured is not None and measured.is_estimate,
                is_best=index == record.best_step,
            )
        )
    return rows


def step_failure_row(row: CandidateRow) -> StepFailureRow | None:
    """The StepFailureRow of a candidate that did not pass; None for one that did."""
    if row.status == CandidateStatus.PASSED.value:
        return None
    return StepFailureRow(
        app=row.app,
        variant=row.variant,
        strategy=row.strategy,
        trial=row.trial,
        iteration=row.iteration,
        attempt=row.attempt,
        purpose=row.purpose,
        status=row.status,
    )


def step_status(step: TrialStep) -> CandidateStatus | None:
    """The step's evaluation status; NO_CODE also for an answer to a request for code that held
    none (the driver stores those without an evaluation); None for the other steps."""
    if step.evaluation is not None:
        return step.evaluation.status
    if step.purpose in CODE_PURPOSES and step.response.ok and not step.files:
        return CandidateStatus.NO_CODE
    return None


# --------------------------------------------------------------------------------------------------
# The stored summary


def summary_json(record: TrialRecord) -> str:
    """The JSON text of the `summary` dataset: {"trial": {TrialRow fields}, "candidate_fields":
    [names], "candidates": [[values], ...]}; NaN is written as null (JSON has no NaN)."""
    candidates = [
        [_plain(getattr(row, name)) for name in _PER_CANDIDATE_FIELDS]
        for row in candidate_rows(record)
    ]
    trial = {name: _plain(value) for name, value in dataclasses.asdict(trial_row(record)).items()}
    summary = {
        "trial": trial,
        "candidate_fields": list(_PER_CANDIDATE_FIELDS),
        "candidates": candidates,
    }
    return json.dumps(summary, ensure_ascii=False, separators=(",", ":"))


def rows_from_summary(text: str) -> tuple[TrialRow, list[CandidateRow]] | None:
    """The rows stored by summary_json; None when `text` was written with other fields (another
    lassi_hpc version), so that the caller computes the rows from the record instead."""
    try:
        summary = json.loads(text)
        trial = summary["trial"]
        fields = summary["candidate_fields"]
        if not _known_trial_fields(tuple(trial)) or tuple(fields) != _PER_CANDIDATE_FIELDS:
            return None
        row = TrialRow(**{name: _restore(TrialRow, name, trial[name]) for name in trial})
        shared = {name: getattr(row, name) for name in _SHARED_FIELDS}
        candidates = [
            CandidateRow(
                **shared,
                **{
                    name: _restore(CandidateRow, name, value)
                    for name, value in zip(_PER_CANDIDATE_FIELDS, values, strict=True)
                },
            )
            for values in summary["candidates"]
        ]
    except (ValueError, KeyError, TypeError):
        return None
    return row, candidates


def _known_trial_fields(names: tuple[str, ...]) -> bool:
    """Whether a stored summary has this version's TrialRow fields, in order, or lacks only
    fields added later with a default (TrialRow then fills the default)."""
    missing = set(_TRIAL_FIELDS) - set(names)
    present = tuple(name for name in _TRIAL_FIELDS if name in names)
    return names == present and missing <= _ADDED_TRIAL_FIELDS


_FLOAT_FIELDS = {
    TrialRow: frozenset(f.name for f in dataclasses.fields(TrialRow) if f.type == "float"),
    CandidateRow: frozenset(f.name for f in dataclasses.fields(CandidateRow) if f.type == "float"),
}


def _plain(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _restore(row_type: type[Any], name: str, value: Any) -> Any:
    if name in _FLOAT_FIELDS[row_type]:
        return math.nan if value is None else float(value)
    return value


def _best_step(record: TrialRecord) -> TrialStep | None:
    if not 0 <= record.best_step < len(record.steps):
        return None
    return record.steps[record.best_step]


def _number(measurement: EnergyMeasurement | None, name: str) -> float:
    return math.nan if measurement is None else float(getattr(measurement, name))
