"""One refactoring trial, written as the sequence of steps it takes: the self-correcting loop.

A trial is a generator. It yields an *action* — ask an LLM (`AskLLM`) or evaluate a candidate on
the app's partition (`Evaluate`) — and is sent back the answer (an LLMResponse or an Evaluation).
It returns the finished TrialRecord. The trial itself never waits on anything: whoever drives it
decides where actions run. The campaign driver sends them to Parsl executors and interleaves the
trials of many apps; `run_trial` below drives one trial by plain function calls (tests, debugging).

Both strategies share `_candidate`: one code-producing prompt, then bounded self-correction —
an answer without code gets one corrective prompt; a build, run or oracle failure is sent back
with the exact command and a trimmed log, at most `max_fix_attempts` times per iteration.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Literal

from lassi_hpc.config.campaign import LLMSection, RefineSection
from lassi_hpc.llm.prompting import (
    MeasuredVersion,
    PromptContext,
    change_prompt,
    device_summary,
    fix_prompt,
    judge_prompt,
    judge_retry_prompt,
    no_code_prompt,
    plan_prompt,
    summary_prompt,
    vanilla_prompt,
)
from lassi_hpc.records import (
    CandidateStatus,
    ChatMessage,
    EnergyMeasurement,
    Evaluation,
    JudgeDecision,
    JudgeVerdict,
    LLMRequest,
    LLMResponse,
    SourceFile,
    Strategy,
    TrialOutcome,
    TrialRecord,
    TrialStep,
)
from lassi_hpc.stages.extract import extract_files
from lassi_hpc.stages.judge import judge_problem, parse_judge_answer
from lassi_hpc.stages.roofline_guidance import AppRooflineLabel

Role = Literal["generator", "judge"]

# Failures that a fix prompt can address; the stage name tells the prompt what went wrong.
_FIXABLE: dict[CandidateStatus, str] = {
    CandidateStatus.BUILD_FAILED: "build",
    CandidateStatus.RUN_FAILED: "run",
    CandidateStatus.VERIFY_FAILED: "verify",
}


@dataclass(frozen=True)
class AskLLM:
    """Ask the generator's or the judge's server; answered with one LLMResponse."""

    role: Role
    request: LLMRequest


@dataclass(frozen=True)
class Evaluate:
    """Screen, build, run, verify and measure `files` on the trial's partition; answered with an
    Evaluation. `measure_seed` draws the measurement's start delays."""

    files: tuple[SourceFile, ...]
    measure_seed: int


Action = AskLLM | Evaluate
Reply = LLMResponse | Evaluation
TrialProcess = Generator[Action, Reply, TrialRecord]


@dataclass(frozen=True)
class TrialSpec:
    """What one trial needs to know; built by the driver from the configs and the baseline."""

    app: str
    variant: str
    strategy: Strategy
    trial: int
    partition: str
    context: PromptContext
    baseline: MeasuredVersion
    baseline_stdout: str
    device_specs: str
    llm: LLMSection
    refine: RefineSection
    # The served model names; the driver fills them in once the servers answer.
    generator_model: str = ""
    judge_model: str = ""
    # The app's main-kernel roofline class, stored with the trial whether or not it guides the
    # plan; `roofline_guidance` puts it into the lassi-ee plan prompt (docs/campaign.md).
    roofline: AppRooflineLabel = field(default_factory=AppRooflineLabel)
    roofline_guidance: bool = False


def request_seed(spec: TrialSpec, step: int) -> int:
    """The seed of the trial's `step`-th request: stable across runs, distinct across trials.

    Trials of one app and strategy get consecutive seeds for the same step, so that their first
    requests (identical prompts) can be sent as one request with n = k and seed = that of trial 0,
    exactly as a server that ignores `n` is then asked again with seed + i.
    """
    key = f"{spec.llm.seed}:{spec.app}:{spec.variant}:{spec.strategy.value}:{step}"
    return (zlib.crc32(key.encode()) % 2**20) * 1024 + spec.trial % 1024


@dataclass
class _Trial:
    """The mutable state of a running trial (never leaves the generator)."""

    spec: TrialSpec
    steps: list[TrialStep] = field(default_factory=list)
    llm_failure: str = ""
    started_at_s: float = field(default_factory=time.time)

    def ask(
        self, role: Role, purpose: str, messages: tuple[ChatMessage, ...]
    ) -> Generator[Action, Reply, tuple[LLMRequest, LLMResponse]]:
        llm = self.spec.llm
        request = LLMRequest(
            purpose=purpose,
            messages=messages,
            max_tokens=llm.max_tokens,
            temperature=llm.temperature if role == "generator" else llm.judge_temperature,
            seed=request_seed(self.spec, len(self.steps)),
        )
        reply = yield AskLLM(role, request)
        assert isinstance(reply, LLMResponse)
        if not reply.ok and role == "generator":
            self.llm_failure = f"{purpose} request failed: {reply.error}"
        return request, reply

    def evaluate(self, files: tuple[SourceFile, ...]) -> Generator[Action, Reply, Evaluation]:
        seed = request_seed(self.spec, len(self.steps)) + 7  # independent of the request seed
        reply = yield Evaluate(files, seed)
        assert isinstance(reply, Evaluation)
        return reply


def refactoring_trial(spec: TrialSpec) -> TrialProcess:
    """The trial for `spec.strategy`, as a generator (see the module docstring)."""
    state = _Trial(spec)
    if spec.strategy is Strategy.VANILLA:
        yield from _vanilla(state)
    else:
        yield from _lassi_ee(state)
    return (yield from _finish(state))


def run_trial(
    spec: TrialSpec,
    ask: Callable[[AskLLM], LLMResponse],
    evaluate: Callable[[Evaluate], Evaluation],
) -> TrialRecord:
    """Drive one trial to its end by calling `ask` and `evaluate` directly."""
    process = refactoring_trial(spec)
    reply: Reply | None = None
    while True:
        try:
            action = process.send(reply) if reply is not None else next(process)
        except StopIteration as done:
            record: TrialRecord = done.value
            return record
        reply = ask(action) if isinstance(action, AskLLM) else evaluate(action)


# ------------------------------------------------------------------------------------------------
# The two strategies


def _vanilla(state: _Trial) -> Generator[Action, Reply, None]:
    """One zero-shot refactoring prompt, then self-correction only."""
    yield from _candidate(state, 1, "refactor", vanilla_prompt(state.spec.context))


def _lassi_ee(state: _Trial) -> Generator[Action, Reply, None]:
    """Summary, plan, then one change per iteration, each told how its predecessor measured."""
    spec = state.spec
    context = spec.context
    summary = yield from _text_step(state, "summary", summary_prompt(context))
    if summary is None:
        return
    device_text = device_summary(context, spec.baseline, spec.device_specs)
    plan_messages = plan_prompt(plan_context(spec), summary, device_text)
    plan = yield from _text_step(state, "plan", plan_messages)
    if plan is None:
        return
    current, current_m = context.original, spec.baseline
    history: list[str] = []
    non_improving = 0
    for iteration in range(1, spec.refine.max_iterations + 1):
        messages = change_prompt(
            context, plan, current, current_m, spec.baseline, iteration, tuple(history)
        )
        step = yield from _candidate(state, iteration, "refactor", messages)
        if state.llm_failure:
            return
        measured = _measured(step)
        if measured is not None and measured.energy_j < current_m.energy_j:
            current, current_m = step.files, measured
            non_improving = 0
            history.append(f"iteration {iteration}: {_describe(measured)}, kept (lower energy)")
        else:
            non_improving += 1
            history.append(f"iteration {iteration}: {_iteration_result(step, measured)}")
        if non_improving >= spec.refine.patience:
            return


def plan_context(spec: TrialSpec) -> PromptContext:
    """The prompt context of the plan: with the roofline label when guidance is on and a label
    is known; otherwise the trial's context unchanged (so is the plan prompt)."""
    label = spec.roofline
    if not spec.roofline_guidance or not label.label:
        return spec.context
    return replace(
        spec.context,
        roofline_label=label.label,
        roofline_label_source=label.source,
        roofline_kernel=label.kernel,
    )


def _text_step(
    state: _Trial, purpose: str, messages: tuple[ChatMessage, ...]
) -> Generator[Action, Reply, str | None]:
    request, response = yield from state.ask("generator", purpose, messages)
    state.steps.append(TrialStep(0, 0, purpose, request, response))
    return response.text if response.ok else None


# ------------------------------------------------------------------------------------------------
# One candidate with bounded self-correction


def _candidate(
    state: _Trial, iteration: int, purpose: str, messages: tuple[ChatMessage, ...]
) -> Generator[Action, Reply, TrialStep]:
    """Ask for code, evaluate it, and send failures back until it passes or attempts run out.

    Returns the iteration's last step (its evaluation is None when no code was ever extracted).
    """
    spec = state.spec
    context = spec.context
    editable = context.original
    attempt = 0
    corrected_no_code = False
    fixes = 0
    while True:
        request, response = yield from state.ask("generator", purpose, messages)
        if not response.ok:
            step = TrialStep(iteration, attempt, purpose, request, response)
            state.steps.append(step)
            return step
        extraction = extract_files(response.text, editable, response.finish_reason)
        if not extraction.files:
            step = TrialStep(
                iteration, attempt, purpose, request, response, extraction_note=extraction.note
            )
            state.steps.append(step)
            if corrected_no_code:  # one corrective prompt per iteration, then it is a failure
                return step
            corrected_no_code = True
            attempt += 1
            purpose = "no-code"
            messages = no_code_prompt(context, response.text[-2000:], extraction.note)
            continue
        evaluation = yield from state.evaluate(extraction.files)
        step = TrialStep(
            iteration,
            attempt,
            purpose,
            request,
            response,
            files=extraction.files,
            extraction_note=extraction.note,
            evaluation=evaluation,
        )
        state.steps.append(step)
        stage = _FIXABLE.get(evaluation.status)
        if stage is None or fixes >= spec.refine.max_fix_attempts:
            return step
        fixes += 1
        attempt += 1
        purpose = "fix"
        messages = fix_prompt(
            context,
            extraction.files,
            stage,
            evaluation.failed_command,
            evaluation.log,
            spec.refine.log_chars,
        )


# ------------------------------------------------------------------------------------------------
# Choosing the best candidate, scoring it again, judging it


def _finish(state: _Trial) -> Generator[Action, Reply, TrialRecord]:
    spec = state.spec
    best = _best_step(state.steps)
    if best < 0:
        outcome = (
            TrialOutcome.LLM_FAILED if state.llm_failure else TrialOutcome.NO_PASSING_CANDIDATE
        )
        return _record(state, outcome, state.llm_failure or _why_none_passed(state.steps))
    best_step = state.steps[best]
    rescore: EnergyMeasurement | None = None
    if spec.refine.rescore:
        again = yield from state.evaluate(best_step.files)
        if again.status is not CandidateStatus.PASSED:
            reason = f"the best candidate failed its second, independent evaluation: {again.reason}"
            return _record(state, TrialOutcome.NO_PASSING_CANDIDATE, reason)
        rescore = again.measurement
    verdict: JudgeVerdict | None = None
    if spec.refine.judge:
        verdict = yield from _judge(state, best_step)
    note = f" (LLM stopped early: {state.llm_failure})" if state.llm_failure else ""
    if verdict is not None and verdict.decision is JudgeDecision.INVALID:
        return _record(
            state,
            TrialOutcome.REJECTED_BY_JUDGE,
            f"judge: {verdict.reason}{note}",
            best=best,
            rescore=rescore,
            verdict=verdict,
        )
    return _record(
        state, TrialOutcome.ACCEPTED, note.strip(), best=best, rescore=rescore, verdict=verdict
    )


def _judge(state: _Trial, best_step: TrialStep) -> Generator[Action, Reply, JudgeVerdict]:
    """Ask the judge; one retry with the parse problem; then UNDECIDED (which does not reject)."""
    spec = state.spec
    evaluation = best_step.evaluation
    assert evaluation is not None and evaluation.measurement is not None
    candidate_stdout = evaluation.runs[0].command.stdout if evaluation.runs else ""
    messages = judge_prompt(
        spec.context,
        spec.context.original,
        best_step.files,
        spec.baseline_stdout,
        candidate_stdout,
        spec.baseline,
        measured_version(evaluation.measurement),
    )
    problem = ""
    for attempt in range(2):
        # A judge that cannot answer leaves the verdict undecided; it never fails the trial.
        request, response = yield from state.ask("judge", "judge", messages)
        parsed = parse_judge_answer(response.text) if response.ok else None
        verdict = parsed or JudgeVerdict(
            JudgeDecision.UNDECIDED,
            response.error if not response.ok else judge_problem(response.text),
        )
        state.steps.append(
            TrialStep(best_step.iteration, attempt, "judge", request, response, judge=verdict)
        )
        if parsed is not None or not response.ok:
            return verdict
        problem = verdict.reason
        messages = judge_retry_prompt(messages, response.text, problem)
    return JudgeVerdict(JudgeDecision.UNDECIDED, f"no parsable verdict after a retry: {problem}")


def _best_step(steps: list[TrialStep]) -> int:
    """Index of the passing candidate with the lowest mean energy; -1 when none passed."""
    best, best_energy_j = -1, float("inf")
    for index, step in enumerate(steps):
        measured = _measured(step)
        if measured is not None and measured.energy_j < best_energy_j:
            best, best_energy_j = index, measured.energy_j
    return best


def _record(
    state: _Trial,
    outcome: TrialOutcome,
    reason: str,
    *,
    best: int = -1,
    rescore: EnergyMeasurement | None = None,
    verdict: JudgeVerdict | None = None,
) -> TrialRecord:
    spec = state.spec
    judged = any(step.purpose == "judge" for step in state.steps)
    return TrialRecord(
        app=spec.app,
        variant=spec.variant,
        strategy=spec.strategy,
        trial=spec.trial,
        partition=spec.partition,
        generator_model=spec.generator_model,
        judge_model=spec.judge_model if judged else "",
        outcome=outcome,
        reason=reason,
        steps=tuple(state.steps),
        best_step=best,
        judge=verdict,
        rescore=rescore,
        started_at_s=state.started_at_s,
        ended_at_s=time.time(),
        extra=spec.roofline.as_pairs(spec.roofline_guidance),
    )


# ------------------------------------------------------------------------------------------------
# Small helpers over records


def measured_version(measurement: EnergyMeasurement) -> MeasuredVersion:
    """The figures a prompt shows of a measured version."""
    return MeasuredVersion(
        energy_j=measurement.energy_j_mean,
        average_power_w=measurement.average_power_w_mean,
        duration_s=measurement.duration_s_mean,
        method=measurement.method.value,
    )


def _measured(step: TrialStep) -> MeasuredVersion | None:
    evaluation = step.evaluation
    if evaluation is None or evaluation.status is not CandidateStatus.PASSED:
        return None
    if evaluation.measurement is None:
        return None
    return measured_version(evaluation.measurement)


def _describe(measured: MeasuredVersion) -> str:
    return (
        f"{measured.energy_j:.4g} J ({measured.method}), {measured.average_power_w:.4g} W, "
        f"{measured.duration_s:.4g} s"
    )


def _iteration_result(step: TrialStep, measured: MeasuredVersion | None) -> str:
    if measured is not None:
        return f"{_describe(measured)}, not kept (no lower energy)"
    if step.evaluation is None:
        return f"no usable code ({step.extraction_note or step.response.error})"
    return f"{step.evaluation.status.value}: {step.evaluation.reason[:200]}"


def _why_none_passed(steps: list[TrialStep]) -> str:
    evaluated = [s.evaluation for s in steps if s.evaluation is not None]
    if not evaluated:
        return "no answer held usable code"
    counts: dict[str, int] = {}
    for evaluation in evaluated:
        counts[evaluation.status.value] = counts.get(evaluation.status.value, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"no candidate passed ({summary}); last: {evaluated[-1].reason[:300]}"
