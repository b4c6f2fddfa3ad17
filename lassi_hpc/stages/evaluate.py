"""Evaluate one LLM candidate: screen → build → run every input → verify → measure.

The candidate is judged against the original's reference runs from the baseline, on every input,
held-out ones included. Failures of the candidate are an Evaluation with the reason, the exact
command and a log for the fix prompt; nothing a held-out input reveals (its arguments, its output)
goes into that log, so the LLM never sees the inputs that catch special-casing.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, replace
from pathlib import Path

from lassi_hpc.apps.manifest import AppInput
from lassi_hpc.records import (
    BuildResult,
    CandidateStatus,
    CommandResult,
    Evaluation,
    RunResult,
    SourceFile,
    Verdict,
)
from lassi_hpc.stages.baseline import BaselineTask, measure_command
from lassi_hpc.stages.build import build_command, scratch_build
from lassi_hpc.stages.run import run_input, shown_run_command
from lassi_hpc.stages.screen import screen_candidate
from lassi_hpc.stages.verify import check_output_variety, check_self_consistency, verify_run

# Enough log for any fix prompt (which trims further); keeps the results file small.
MAX_LOG_CHARS = 20_000

# Shortest wall-clock limit for a candidate's run, whatever the original took (process start-up,
# a loaded machine).
MIN_RUN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class CandidateTask:
    """Everything a worker needs to evaluate one candidate; plain data, picklable.

    `reference_runs` are the baseline's runs, one per manifest input in manifest order.
    `original` holds the editable files as they were; `files` the candidate's versions of them.
    `measure_seed` draws the measurement's random start delays. A run may take at most
    `timeout_factor` times the original's wall time on the same input (at least
    MIN_RUN_TIMEOUT_S, at most the manifest's timeout): a candidate that much slower cannot save
    energy, and a hang should not hold the device for the manifest's whole budget.
    """

    variant_task: BaselineTask
    reference_runs: tuple[RunResult, ...]
    original: tuple[SourceFile, ...]
    files: tuple[SourceFile, ...]
    measure_seed: int
    timeout_factor: float = 10.0


def evaluate_candidate(task: CandidateTask) -> Evaluation:
    """Run every gate in order and stop at the first that fails; only harness faults raise.

    The evaluation carries its start and end times (host seconds), the device time it used.
    """
    started_at_s = time.time()
    evaluation = _evaluate(task)
    return replace(evaluation, started_at_s=started_at_s, ended_at_s=time.time())


def _evaluate(task: CandidateTask) -> Evaluation:
    job = task.variant_task
    manifest = job.manifest
    editable = manifest.variant(job.variant).editable
    # Only the arguments the LLM has seen: a held-out input's must not shape what is refused.
    seen_args = [
        arg for app_input in manifest.inputs if not app_input.hidden for arg in app_input.args
    ]
    screen = screen_candidate(task.original, task.files, editable, seen_args)
    if not screen.ok:
        return Evaluation(CandidateStatus.SCREEN_FAILED, screen.reason, screen=screen)
    scratch_root = Path(job.scratch_dir)
    with scratch_build(
        manifest,
        job.variant,
        job.toolchain_name,
        job.toolchain,
        scratch_root,
        job.sandbox.limits(manifest.build.timeout_s),
        job.keep_scratch,
        replaced_sources={f.name: f.text for f in task.files},
    ) as build:
        so_far = Evaluation(CandidateStatus.PASSED, "", screen=screen, build=build)
        if not build.ok:
            command = build.command
            detail = command.failure_detail or f"binary {manifest.build.binary!r} was not produced"
            return replace(
                so_far,
                status=CandidateStatus.BUILD_FAILED,
                reason=f"build failed: {detail}",
                failed_command=shlex.join(build_command(manifest, job.toolchain)),
                log=_trim(command.stderr + command.stdout),
            )
        return _run_verify_measure(task, so_far, build, scratch_root)


def _run_verify_measure(
    task: CandidateTask, so_far: Evaluation, build: BuildResult, scratch_root: Path
) -> Evaluation:
    job = task.variant_task
    manifest = job.manifest

    def run(index: int) -> RunResult:
        return run_input(
            build,
            manifest,
            manifest.inputs[index],
            scratch_root,
            job.sandbox.limits(run_timeout_s(task, index)),
            env=job.partition.run_env,
            keep_scratch=job.keep_scratch,
            mpi_launcher=job.partition.mpi_launcher,
        )

    runs: list[RunResult] = []
    for index, app_input in enumerate(manifest.inputs):
        result = run(index)
        runs.append(result)
        if not result.command.ok:
            return replace(
                so_far,
                status=CandidateStatus.RUN_FAILED,
                reason=f"input {_shown_name(app_input)}: {result.command.failure_detail}",
                failed_command=_shown_command(job, build, app_input),
                log=_run_log(result.command, app_input.hidden),
                runs=tuple(runs),
            )
    so_far = replace(so_far, runs=tuple(runs))
    variety = check_output_variety(
        task.reference_runs,
        runs,
        manifest.oracle,
        _input_files(build, manifest.variant(job.variant).sources, manifest.inputs),
        {app_input.name for app_input in manifest.inputs if app_input.hidden},
    )
    if not variety.ok:
        return replace(
            so_far,
            status=CandidateStatus.VERIFY_FAILED,
            reason=variety.reason,
            verdicts=(variety,),
            log=variety.reason,
        )
    verdicts = [
        verify_run(ref, new, manifest.oracle)
        for ref, new in zip(task.reference_runs, runs, strict=True)
    ]
    # The default input once more: a candidate whose output changes between runs is rejected.
    repeat = run(0)
    verdicts.append(check_self_consistency(runs[0], repeat, manifest.oracle))
    so_far = replace(so_far, verdicts=tuple(verdicts))
    for verdict, app_input in zip(verdicts, (*manifest.inputs, manifest.inputs[0]), strict=True):
        if not verdict.ok:
            return _verify_failed(so_far, verdict, app_input, job, build)
    measurement = measure_command(job, lambda: run(0).command, task.measure_seed)
    if isinstance(measurement, str):
        return replace(
            so_far,
            status=CandidateStatus.MEASURE_FAILED,
            reason=f"measurement failed: {measurement}",
        )
    return replace(so_far, measurement=measurement)


def _input_files(
    build: BuildResult, sources: tuple[str, ...], inputs: tuple[AppInput, ...]
) -> dict[str, bytes]:
    """What a run directory starts with that an output could copy: the sources, and any argument
    naming a file there."""
    build_dir = Path(build.build_dir)
    names = {*sources, *(arg for app_input in inputs for arg in app_input.args)}
    return {
        name: (build_dir / name).read_bytes()
        for name in sorted(names)
        if "/" not in name and (build_dir / name).is_file()
    }


def run_timeout_s(task: CandidateTask, input_index: int) -> float:
    """The wall-clock limit of one candidate run on input `input_index` (see CandidateTask)."""
    ceiling_s = task.variant_task.manifest.run.timeout_s
    if input_index >= len(task.reference_runs):
        return ceiling_s
    original_s = task.reference_runs[input_index].command.wall_s
    return min(ceiling_s, max(MIN_RUN_TIMEOUT_S, task.timeout_factor * original_s))


def _verify_failed(
    so_far: Evaluation,
    verdict: Verdict,
    app_input: AppInput,
    job: BaselineTask,
    build: BuildResult,
) -> Evaluation:
    if app_input.hidden:
        reason = "output differs from the original's on a held-out input"
        log = (
            "The program's output on a held-out input (not shown) does not match the original "
            "program's output on that input. The change must keep the results the same for every "
            "problem size, not only the default one."
        )
    else:
        reason = f"input {verdict.input_name!r}: {verdict.reason}"
        candidate = next(r for r in so_far.runs if r.input_name == verdict.input_name)
        log = f"{verdict.reason}\n--- stdout of the candidate ---\n{candidate.command.stdout}"
    return replace(
        so_far,
        status=CandidateStatus.VERIFY_FAILED,
        reason=reason,
        failed_command=_shown_command(job, build, app_input),
        log=_trim(log),
    )


def _shown_name(app_input: AppInput) -> str:
    return "(held-out)" if app_input.hidden else repr(app_input.name)


def _shown_command(job: BaselineTask, build: BuildResult, app_input: AppInput) -> str:
    return shown_run_command(build.binary, job.manifest, app_input, job.partition.mpi_launcher)


def _run_log(command: CommandResult, hidden: bool) -> str:
    text = f"{command.failure_detail}\n--- stderr ---\n{command.stderr}"
    if not hidden:  # a held-out input's output would reveal it
        text += f"\n--- stdout ---\n{command.stdout}"
    return _trim(text)


def _trim(text: str) -> str:
    if len(text) <= MAX_LOG_CHARS:
        return text
    half = MAX_LOG_CHARS // 2
    return f"{text[:half]}\n[... {len(text) - MAX_LOG_CHARS} characters cut ...]\n{text[-half:]}"
