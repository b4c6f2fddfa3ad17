"""TrialRecord <-> the HDF5 group /apps/<app>/<variant>/trials/<strategy>/<nnnn>.

The writer and the reader both go through this module (docs/hdf5-schema.md describes the layout).
Builds, runs, verdicts and measurements inside a candidate's evaluation, and the trial's rescore,
are stored by stage_codec exactly as in a baseline, so an estimate stays marked as one
(`method`, `is_estimate`) wherever it is.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from lassi_hpc.errors import StoreError
from lassi_hpc.records import (
    CandidateStatus,
    Evaluation,
    JudgeDecision,
    JudgeVerdict,
    ScreenResult,
    SourceFile,
    Strategy,
    TrialOutcome,
    TrialRecord,
    TrialStep,
)
from lassi_hpc.store.encoding import (
    check_int64,
    get_bool_attr,
    get_enum_attr,
    get_float_attr,
    get_int_attr,
    get_text_attr,
    get_text_list_attr,
    group_at,
    read_pairs,
    read_text,
    set_text_attr,
    set_text_list_attr,
    write_json,
    write_text,
)
from lassi_hpc.store.exchange_codec import (
    exchange_size_bytes,
    read_request,
    read_response,
    validate_exchange,
    write_request,
    write_response,
)
from lassi_hpc.store.h5_direct import new_group, set_attr
from lassi_hpc.store.schema import (
    ATTR_INDEX,
    ATTR_NAME,
    BUILD,
    EVALUATION,
    EXTRA,
    FILES,
    JUDGE,
    LOG,
    MEASUREMENT,
    PLACEMENT,
    REASON,
    REQUEST,
    RESCORE,
    RESPONSE,
    RUNS,
    SCREEN,
    STEPS,
    SUMMARY,
    VERDICTS,
    escape_name,
    index_name,
)
from lassi_hpc.store.stage_codec import (
    DATASET_OVERHEAD_BYTES,
    GROUP_OVERHEAD_BYTES,
    build_size_bytes,
    check_enum,
    duplicates,
    in_index_order,
    measurement_size_bytes,
    read_build,
    read_measurement,
    read_runs,
    read_verdicts,
    runs_size_bytes,
    text_size_bytes,
    validate_measurement,
    validate_output_files,
    verdicts_size_bytes,
    write_build,
    write_measurement,
    write_runs,
    write_verdicts,
)
from lassi_hpc.store.trial_rows import summary_json

# Upper bounds of the JSON summary's bytes (field names and numbers) beside the texts it repeats:
# the trial row, and one candidate row per step.
_SUMMARY_BYTES = 4096
_SUMMARY_BYTES_PER_STEP = 512

# Text attributes of the trial group, in the order they are written.
_TRIAL_TEXTS = ("app", "variant", "partition", "generator_model", "judge_model", "reason")


def trial_label(record: TrialRecord) -> str:
    """How errors name a trial: "trial 'jacobi'/'cuda' lassi-ee 3"."""
    strategy = record.strategy.value if isinstance(record.strategy, Strategy) else record.strategy
    return f"trial {record.app!r}/{record.variant!r} {strategy} {record.trial}"


# --------------------------------------------------------------------------------------------------
# Checks made before anything is written, so that a bad record never leaves half a group behind


def validate_trial(record: TrialRecord) -> None:
    """Raise StoreError, naming the trial, if `record` cannot be stored or contradicts itself."""
    label = trial_label(record)
    escape_name(record.app, "app")
    escape_name(record.variant, "variant")
    check_enum(label, "strategy", record.strategy, Strategy)
    check_enum(label, "outcome", record.outcome, TrialOutcome)
    if check_int64(f"{label}: trial", record.trial) < 0:
        raise StoreError(f"{label}: trial numbers start at 0")
    for index, step in enumerate(record.steps):
        _validate_step(f"{label}: step {index}", step)
    if record.judge is not None:
        check_enum(label, "judge decision", record.judge.decision, JudgeDecision)
    if record.rescore is not None:
        validate_measurement(f"{label}: rescore", record.rescore)
    _validate_best_step(label, record)
    for pair in record.extra:
        if len(pair) != 2 or not all(isinstance(text, str) for text in pair):
            raise StoreError(f"{label}: extra entry {pair!r} is not a (key, value) pair of texts")


def _validate_step(label: str, step: TrialStep) -> None:
    for what in ("iteration", "attempt"):
        if check_int64(f"{label}: {what}", getattr(step, what)) < 0:
            raise StoreError(f"{label}: {what} is {getattr(step, what)}; must be 0 or more")
    validate_exchange(label, step.request, step.response)
    names = [source.name for source in step.files]
    for name in names:
        escape_name(name, f"{label}: source file")
    if duplicated := duplicates(names):
        raise StoreError(f"{label}: two source files named {', '.join(duplicated)}")
    if step.judge is not None:
        check_enum(label, "judge decision", step.judge.decision, JudgeDecision)
    evaluation = step.evaluation
    if evaluation is not None:
        check_enum(label, "evaluation status", evaluation.status, CandidateStatus)
        validate_output_files(label, evaluation.runs)
        if evaluation.measurement is not None:
            validate_measurement(label, evaluation.measurement)


def _validate_best_step(label: str, record: TrialRecord) -> None:
    best = check_int64(f"{label}: best_step", record.best_step)
    if best == -1:
        if record.outcome is TrialOutcome.ACCEPTED:
            raise StoreError(f"{label}: outcome is accepted but best_step is -1 (no candidate)")
        if record.rescore is not None:
            raise StoreError(f"{label}: has a rescore but no best step to have rescored")
        return
    if not 0 <= best < len(record.steps):
        raise StoreError(
            f"{label}: best_step {best} is out of range: -1 or 0 to {len(record.steps) - 1} "
            f"({len(record.steps)} steps)"
        )
    if record.outcome is TrialOutcome.NO_PASSING_CANDIDATE:
        raise StoreError(
            f"{label}: outcome is no-passing-candidate but best_step is {best}; must be -1"
        )
    evaluation = record.steps[best].evaluation
    if evaluation is None or evaluation.status is not CandidateStatus.PASSED:
        found = "no evaluation" if evaluation is None else f"status {evaluation.status}"
        raise StoreError(f"{label}: best_step {best} has {found}; the best step must have passed")
    if evaluation.measurement is None:
        raise StoreError(f"{label}: best_step {best} passed but has no energy measurement")


# --------------------------------------------------------------------------------------------------
# Size


def estimated_trial_size_bytes(record: TrialRecord) -> int:
    """An upper bound of the bytes write_trial_group adds to a file for `record`.

    The writer reserves this much disk space before writing, so that a full disk is found before
    HDF5 has written anything.
    """
    size = 2 * GROUP_OVERHEAD_BYTES  # the trial and its steps
    size += text_size_bytes(getattr(record, name) for name in _TRIAL_TEXTS)
    size += sum(_step_size_bytes(step) for step in record.steps)
    if record.judge is not None:
        size += _judge_size_bytes(record.judge)
    if record.rescore is not None:
        size += measurement_size_bytes(record.rescore)
    size += DATASET_OVERHEAD_BYTES + _SUMMARY_BYTES + _SUMMARY_BYTES_PER_STEP * len(record.steps)
    size += text_size_bytes(getattr(record, name) for name in _TRIAL_TEXTS)
    size += text_size_bytes(step.purpose for step in record.steps)
    extra_json = json.dumps([list(pair) for pair in record.extra], ensure_ascii=False, indent=1)
    size += DATASET_OVERHEAD_BYTES + text_size_bytes([extra_json])
    return size


def _step_size_bytes(step: TrialStep) -> int:
    size = 2 * GROUP_OVERHEAD_BYTES + exchange_size_bytes(step.request, step.response)
    size += text_size_bytes([step.purpose, step.extraction_note])
    size += len(step.files) * DATASET_OVERHEAD_BYTES
    size += text_size_bytes(text for source in step.files for text in (source.name, source.text))
    if step.judge is not None:
        size += _judge_size_bytes(step.judge)
    evaluation = step.evaluation
    if evaluation is not None:
        size += GROUP_OVERHEAD_BYTES + DATASET_OVERHEAD_BYTES
        size += text_size_bytes([evaluation.reason, evaluation.failed_command, evaluation.log])
        size += DATASET_OVERHEAD_BYTES  # placement
        size += text_size_bytes([value for pair in evaluation.placement for value in pair])
        if evaluation.screen is not None:
            screen = evaluation.screen
            size += GROUP_OVERHEAD_BYTES + text_size_bytes([screen.reason, *screen.rules_checked])
        if evaluation.build is not None:
            size += build_size_bytes(evaluation.build)
        size += runs_size_bytes(evaluation.runs) + verdicts_size_bytes(evaluation.verdicts)
        if evaluation.measurement is not None:
            size += measurement_size_bytes(evaluation.measurement)
    return size


def _judge_size_bytes(judge: JudgeVerdict) -> int:
    return GROUP_OVERHEAD_BYTES + DATASET_OVERHEAD_BYTES + text_size_bytes([judge.reason])


# --------------------------------------------------------------------------------------------------
# Writing


def write_trial_group(group: Any, record: TrialRecord, written_utc: str) -> None:
    """Fill an empty group with `record` (validate_trial must have passed)."""
    for name in _TRIAL_TEXTS:
        set_text_attr(group, name, getattr(record, name))
    set_text_attr(group, "strategy", record.strategy.value)
    set_text_attr(group, "outcome", record.outcome.value)
    set_text_attr(group, "written_utc", written_utc)
    set_attr(group, "trial", np.int64(record.trial))
    set_attr(group, "best_step", np.int64(record.best_step))
    set_attr(group, "started_at_s", np.float64(record.started_at_s))
    set_attr(group, "ended_at_s", np.float64(record.ended_at_s))
    steps = new_group(group, STEPS)
    for index, step in enumerate(record.steps):
        _write_step(new_group(steps, index_name(index)), step, index)
    if record.judge is not None:
        _write_judge(new_group(group, JUDGE), record.judge)
    if record.rescore is not None:
        write_measurement(new_group(group, RESCORE), record.rescore)
    write_text(group, SUMMARY, summary_json(record))
    if record.extra:
        write_json(group, EXTRA, [list(pair) for pair in record.extra])


def _write_step(group: Any, step: TrialStep, index: int) -> None:
    set_attr(group, ATTR_INDEX, np.int64(index))
    set_attr(group, "iteration", np.int64(step.iteration))
    set_attr(group, "attempt", np.int64(step.attempt))
    set_text_attr(group, "purpose", step.purpose)
    set_text_attr(group, "extraction_note", step.extraction_note)
    write_request(new_group(group, REQUEST), step.request)
    write_response(new_group(group, RESPONSE), step.response)
    files = new_group(group, FILES)
    for file_index, source in enumerate(step.files):
        dataset = write_text(files, escape_name(source.name, "source file"), source.text)
        set_attr(dataset, ATTR_INDEX, np.int64(file_index))
        set_text_attr(dataset, ATTR_NAME, source.name)
    if step.evaluation is not None:
        _write_evaluation(new_group(group, EVALUATION), step.evaluation)
    if step.judge is not None:
        _write_judge(new_group(group, JUDGE), step.judge)


def _write_evaluation(group: Any, evaluation: Evaluation) -> None:
    set_text_attr(group, "status", evaluation.status.value)
    set_text_attr(group, "reason", evaluation.reason)
    set_text_attr(group, "failed_command", evaluation.failed_command)
    set_attr(group, "started_at_s", np.float64(evaluation.started_at_s))
    set_attr(group, "ended_at_s", np.float64(evaluation.ended_at_s))
    write_text(group, LOG, evaluation.log)
    if evaluation.placement:
        write_json(group, PLACEMENT, [list(pair) for pair in evaluation.placement])
    if evaluation.screen is not None:
        screen = new_group(group, SCREEN)
        set_attr(screen, "ok", np.bool_(evaluation.screen.ok))
        set_text_attr(screen, "reason", evaluation.screen.reason)
        set_text_list_attr(screen, "rules_checked", evaluation.screen.rules_checked)
    if evaluation.build is not None:
        write_build(new_group(group, BUILD), evaluation.build)
    # A candidate's default input is judged twice (against the original, then against a repeat of
    # itself), so its runs and verdicts are named by position, not by input.
    write_runs(new_group(group, RUNS), evaluation.runs, by_index=True)
    write_verdicts(new_group(group, VERDICTS), evaluation.verdicts, by_index=True)
    if evaluation.measurement is not None:
        write_measurement(new_group(group, MEASUREMENT), evaluation.measurement)


def _write_judge(group: Any, judge: JudgeVerdict) -> None:
    set_text_attr(group, "decision", judge.decision.value)
    # The judge's reason is LLM text, of any length: a dataset, not an attribute.
    write_text(group, REASON, judge.reason)


# --------------------------------------------------------------------------------------------------
# Reading


def read_trial_group(group: Any) -> TrialRecord:
    """The TrialRecord stored in `group` by write_trial_group."""
    judge = group.get(JUDGE)
    rescore = group.get(RESCORE)
    return TrialRecord(
        app=get_text_attr(group, "app"),
        variant=get_text_attr(group, "variant"),
        strategy=get_enum_attr(group, "strategy", Strategy),
        trial=get_int_attr(group, "trial"),
        partition=get_text_attr(group, "partition"),
        generator_model=get_text_attr(group, "generator_model"),
        judge_model=get_text_attr(group, "judge_model"),
        outcome=get_enum_attr(group, "outcome", TrialOutcome),
        reason=get_text_attr(group, "reason"),
        steps=tuple(_read_step(step) for step in in_index_order(group_at(group, STEPS).values())),
        best_step=get_int_attr(group, "best_step"),
        judge=None if judge is None else _read_judge(judge),
        rescore=None if rescore is None else read_measurement(rescore),
        started_at_s=get_float_attr(group, "started_at_s"),
        ended_at_s=get_float_attr(group, "ended_at_s"),
        # Absent in files written before trials carried extra facts.
        extra=read_pairs(group, EXTRA),
    )


def _read_step(group: Any) -> TrialStep:
    files = group_at(group, FILES)
    evaluation = group.get(EVALUATION)
    judge = group.get(JUDGE)
    return TrialStep(
        iteration=get_int_attr(group, "iteration"),
        attempt=get_int_attr(group, "attempt"),
        purpose=get_text_attr(group, "purpose"),
        request=read_request(group_at(group, REQUEST)),
        response=read_response(group_at(group, RESPONSE)),
        files=tuple(
            SourceFile(name=get_text_attr(dataset, ATTR_NAME), text=read_text(files, key))
            for key, dataset in sorted(
                files.items(), key=lambda item: get_int_attr(item[1], ATTR_INDEX)
            )
        ),
        extraction_note=get_text_attr(group, "extraction_note"),
        evaluation=None if evaluation is None else _read_evaluation(evaluation),
        judge=None if judge is None else _read_judge(judge),
    )


def _read_evaluation(group: Any) -> Evaluation:
    screen = group.get(SCREEN)
    build = group.get(BUILD)
    measurement = group.get(MEASUREMENT)
    return Evaluation(
        status=get_enum_attr(group, "status", CandidateStatus),
        reason=get_text_attr(group, "reason"),
        failed_command=get_text_attr(group, "failed_command"),
        log=read_text(group, LOG),
        screen=None if screen is None else _read_screen(screen),
        build=None if build is None else read_build(build),
        runs=read_runs(group_at(group, RUNS)),
        verdicts=read_verdicts(group_at(group, VERDICTS)),
        measurement=None if measurement is None else read_measurement(measurement),
        # Absent in files written before evaluations were timed.
        started_at_s=float(group.attrs.get("started_at_s", 0.0)),
        ended_at_s=float(group.attrs.get("ended_at_s", 0.0)),
        placement=read_pairs(group, PLACEMENT),
    )


def _read_screen(group: Any) -> ScreenResult:
    return ScreenResult(
        ok=get_bool_attr(group, "ok"),
        reason=get_text_attr(group, "reason"),
        rules_checked=get_text_list_attr(group, "rules_checked"),
    )


def _read_judge(group: Any) -> JudgeVerdict:
    return JudgeVerdict(
        decision=get_enum_attr(group, "decision", JudgeDecision),
        reason=read_text(group, REASON),
    )
