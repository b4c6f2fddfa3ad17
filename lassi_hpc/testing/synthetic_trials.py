"""Synthetic baselines and refactoring trials, shaped as the baseline and refine stages make them.

A lassi-ee trial asks for a summary and a plan, then makes 1-4 iterations; vanilla makes one. An
iteration is one refactor prompt and bounded self-correction, as in lassi_hpc.stages.refine: an
answer without code gets one corrective "no-code" prompt; a build, run or verify failure is sent
back as a "fix" prompt at most twice; a screen failure ends the iteration. The best passing step
is measured again (the rescore, independent noise) and judged. Per LLM request the server fails
with chance 0.4 % and the answer holds no code with chance 6 %; per trial the rescore fails with
chance 2 %; the judge's first answer is unparsable with chance 4 % (the retry always parses) and
a parsed verdict is INVALID with chance 8 %. Candidates that do not pass fail screen, build, run
and verify with weights 6, 46, 20 and 28.

Texts are a few words each: what a trial takes in the file is HDF5's overhead per group and dataset
(about 140 of them) and its power traces.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from lassi_hpc.records import (
    BaselineRecord,
    BuildResult,
    CandidateStatus,
    ChatMessage,
    CommandResult,
    EnergyMeasurement,
    Evaluation,
    FailureKind,
    JudgeDecision,
    JudgeVerdict,
    LLMRequest,
    LLMResponse,
    RunResult,
    ScreenResult,
    SourceFile,
    StageStatus,
    Strategy,
    TrialOutcome,
    TrialRecord,
    TrialStep,
    Verdict,
)
from lassi_hpc.testing.synthetic_model import (
    SYNTHETIC_FLAG,
    StrategyTruth,
    SyntheticApp,
    SyntheticSettings,
    TraceShape,
    fake_measurement,
)

GENERATOR_MODEL = "synthetic-generator (fake)"
JUDGE_MODEL = "synthetic-judge (fake)"
# A fixed clock (2026-01-01T00:00:00Z) keeps the records of a seed identical from run to run.
CAMPAIGN_START_S = 1_767_225_600.0

_ENDPOINT = "http://synthetic.invalid/v1"
_SOURCE_NAME = "main.cu"
_INPUT = "default"
_RULES = ("edit-scope", "deny-list")
_SYSTEM = ChatMessage("system", "You are an HPC performance engineer. (synthetic)")
_TOOLCHAINS = {"cuda": ("nvcc", "-arch=sm_80"), "hip": ("hipcc", "--offload-arch=gfx908")}
_MAX_ITERATIONS = 4
_MAX_FIX_ATTEMPTS = 2
_LLM_FAILURE = 0.004
_NO_CODE = 0.06
_RESCORE_FAILURE = 0.02
_JUDGE_UNPARSABLE = 0.04
_JUDGE_INVALID = 0.08
_FAILURES: tuple[tuple[CandidateStatus, float], ...] = (
    (CandidateStatus.SCREEN_FAILED, 0.06),
    (CandidateStatus.BUILD_FAILED, 0.46),
    (CandidateStatus.RUN_FAILED, 0.20),
    (CandidateStatus.VERIFY_FAILED, 0.28),
)
_FIXABLE = frozenset(
    {CandidateStatus.BUILD_FAILED, CandidateStatus.RUN_FAILED, CandidateStatus.VERIFY_FAILED}
)
_DRAWS_PER_BLOCK = 128  # uniforms drawn from numpy at once; a trial rarely needs a second block


# ------------------------------------------------------------------------------------------------
# Builds, runs and verdicts


def _command(
    argv: tuple[str, ...],
    started_at_s: float,
    wall_s: float,
    *,
    stdout: str = "",
    stderr: str = "",
    returncode: int = 0,
) -> CommandResult:
    failed = returncode != 0
    return CommandResult(
        argv=argv,
        cwd="/synthetic/scratch",
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        wall_s=wall_s,
        cpu_s=wall_s * 0.9,
        started_at_s=started_at_s,
        ended_at_s=started_at_s + wall_s,
        failure=FailureKind.EXIT_CODE if failed else None,
        failure_detail=f"exit status {returncode}" if failed else "",
        isolation="synthetic",
    )


def _build(app: SyntheticApp, started_at_s: float, *, ok: bool) -> BuildResult:
    compiler, arch = _TOOLCHAINS.get(app.variant, ("c++", "-O2"))
    argv = (compiler, "-O3", arch, "-o", "main", _SOURCE_NAME)
    if ok:
        command = _command(argv, started_at_s, 4.0)
    else:
        stderr = "main.cu(12): error: identifier is undefined (synthetic)\n"
        command = _command(argv, started_at_s, 1.5, stderr=stderr, returncode=1)
    return BuildResult(
        app=app.name,
        variant=app.variant,
        toolchain=compiler,
        ok=ok,
        command=command,
        build_dir="/synthetic/scratch",
        binary="main" if ok else "",
        sources_sha256="0" * 64,
    )


def _run(app: SyntheticApp, started_at_s: float, duration_s: float, *, ok: bool) -> RunResult:
    argv = ("./main", _INPUT)
    if ok:
        command = _command(argv, started_at_s, duration_s, stdout="checksum 1.0e+00\nPASS\n")
    else:
        stderr = "Segmentation fault (synthetic)\n"
        command = _command(argv, started_at_s, duration_s, stderr=stderr, returncode=139)
    return RunResult(app=app.name, variant=app.variant, input_name=_INPUT, command=command)


_PASSED_VERDICT = Verdict(True, _INPUT, "", self_check=True, compared_values=8)
_FAILED_VERDICT = Verdict(False, _INPUT, "value 3 of 8 differs (synthetic)", False, 8)


def synthetic_baseline(
    app: SyntheticApp, settings: SyntheticSettings, shape: TraceShape
) -> BaselineRecord:
    """The measured baseline of `app`."""
    rng = np.random.default_rng((settings.seed, app.index, 0))
    start_s = CAMPAIGN_START_S + app.index * 60.0
    return BaselineRecord(
        app=app.name,
        variant=app.variant,
        partition=app.partition,
        status=StageStatus.OK,
        reason="",
        build=_build(app, start_s, ok=True),
        runs=(_run(app, start_s + 4.0, app.baseline_duration_s, ok=True),),
        verdicts=(_PASSED_VERDICT,),
        measurement=fake_measurement(
            rng,
            app,
            settings.repetitions,
            shape,
            app.baseline_energy_j,
            app.baseline_duration_s,
        ),
        extra=((SYNTHETIC_FLAG, "true"),),
    )


# ------------------------------------------------------------------------------------------------
# Trials


class _Draws:
    """Uniform numbers drawn from numpy a block at a time, handed out in order."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._values: list[float] = []
        self._next = 0

    def uniform(self) -> float:
        if self._next == len(self._values):
            self._values = self.rng.random(_DRAWS_PER_BLOCK).tolist()
            self._next = 0
        value = self._values[self._next]
        self._next += 1
        return value

    def between(self, low: float, high: float) -> float:
        return low + (high - low) * self.uniform()

    def normal(self, mean: float, sd: float) -> float:
        # Box-Muller on two uniforms of the block: no call into numpy per value.
        u1, u2 = 1.0 - self.uniform(), self.uniform()
        return mean + sd * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@dataclass(frozen=True)
class _Candidate:
    """A passing candidate's true energy (J) and duration (s) per run, measured again later."""

    energy_j: float
    duration_s: float


class _TrialState:
    """One synthetic trial while its steps are drawn (as refine's _Trial)."""

    def __init__(
        self,
        app: SyntheticApp,
        settings: SyntheticSettings,
        shape: TraceShape,
        truth: StrategyTruth,
        trial: int,
        rng: np.random.Generator,
    ) -> None:
        self.app = app
        self.settings = settings
        self.shape = shape
        self.truth = truth
        self.trial = trial
        self.draws = _Draws(rng)
        self.started_at_s = CAMPAIGN_START_S + 3600.0 + app.index * 60.0 + trial * 5.0
        self.clock_s = self.started_at_s
        self.steps: list[TrialStep] = []
        self.passed: dict[int, _Candidate] = {}  # by step index
        self.llm_failure = ""

    def ask(self, purpose: str, prompt: str, answer: str) -> tuple[LLMRequest, LLMResponse]:
        request = LLMRequest(
            purpose=purpose,
            messages=(_SYSTEM, ChatMessage("user", prompt)),
            max_tokens=4096,
            temperature=0.0 if purpose == "judge" else 0.7,
            seed=self.trial * 1000 + len(self.steps),
        )
        latency_s = self.draws.between(2.0, 40.0)
        self.clock_s += latency_s
        tokens = int(self.draws.between(50, 1500))
        judge = purpose == "judge"
        if not judge and self.draws.uniform() < _LLM_FAILURE:
            error = "HTTP 503 after 4 attempts: synthetic server overloaded"
            self.llm_failure = f"{purpose} request failed: {error}"
            return request, LLMResponse(
                text="",
                finish_reason="",
                model=GENERATOR_MODEL,
                endpoint=_ENDPOINT,
                seed=request.seed,
                prompt_tokens=0,
                completion_tokens=0,
                latency_s=latency_s,
                attempts=4,
                error=error,
            )
        return request, LLMResponse(
            text=answer,
            finish_reason="stop",
            model=JUDGE_MODEL if judge else GENERATOR_MODEL,
            endpoint=_ENDPOINT,
            seed=request.seed,
            prompt_tokens=600 + tokens // 2,
            completion_tokens=tokens,
            latency_s=latency_s,
            attempts=1,
        )

    def text_step(self, purpose: str, answer: str) -> bool:
        """A summary or plan step; False when the LLM failed."""
        request, response = self.ask(purpose, f"{purpose}: {self.app.name} (synthetic)", answer)
        self.steps.append(TrialStep(0, 0, purpose, request, response))
        return response.ok

    def candidate(self, iteration: int) -> None:
        """One code-producing prompt, then bounded self-correction (as refine's _candidate)."""
        purpose, prompt = "refactor", f"change {iteration} of {self.app.name} (synthetic)"
        attempt = fixes = 0
        corrected_no_code = False
        while True:
            answer = f"```cuda {_SOURCE_NAME}\n// candidate {self.trial}.{len(self.steps)}\n```"
            request, response = self.ask(purpose, prompt, answer)
            if not response.ok:
                self.steps.append(TrialStep(iteration, attempt, purpose, request, response))
                return
            if self.draws.uniform() < _NO_CODE:
                note = "no fenced code block in the answer"
                self.steps.append(
                    TrialStep(iteration, attempt, purpose, request, response, extraction_note=note)
                )
                if corrected_no_code:
                    return
                corrected_no_code = True
                attempt += 1
                purpose, prompt = "no-code", "Your answer had no usable code. (synthetic)"
                continue
            files = (SourceFile(_SOURCE_NAME, f"// synthetic candidate {len(self.steps)}\n"),)
            evaluation = self.evaluate()
            self.steps.append(
                TrialStep(
                    iteration,
                    attempt,
                    purpose,
                    request,
                    response,
                    files=files,
                    extraction_note="one fenced cuda block",
                    evaluation=evaluation,
                )
            )
            if evaluation.status not in _FIXABLE or fixes >= _MAX_FIX_ATTEMPTS:
                return
            fixes += 1
            attempt += 1
            purpose, prompt = "fix", f"{evaluation.failed_command} failed:\n{evaluation.log}"

    def evaluate(self) -> Evaluation:
        """A drawn evaluation of the next step's code; a pass is remembered for the rescore."""
        start_s = self.clock_s
        if self.draws.uniform() >= self.truth.pass_probability:
            return self._failed(start_s)
        app = self.app
        gain = self.draws.normal(self.truth.true_gain, 0.05)
        speed_gain = self.draws.normal(self.truth.speed_gain, 0.04)
        passed = _Candidate(
            energy_j=app.baseline_energy_j * min(max(1.0 - gain, 0.2), 3.0),
            duration_s=app.baseline_duration_s * min(max(1.0 - speed_gain, 0.2), 3.0),
        )
        self.passed[len(self.steps)] = passed
        measurement = self.measure(passed)
        return Evaluation(
            status=CandidateStatus.PASSED,
            reason="",
            screen=ScreenResult(ok=True, reason="", rules_checked=_RULES),
            build=_build(app, start_s, ok=True),
            runs=(_run(app, start_s + 4.0, passed.duration_s, ok=True),),
            verdicts=(_PASSED_VERDICT, _PASSED_VERDICT),
            measurement=measurement,
            started_at_s=start_s,
            ended_at_s=self.clock_s,
        )

    def measure(self, candidate: _Candidate) -> EnergyMeasurement:
        repetitions = self.settings.repetitions
        self.clock_s += 4.0 + (repetitions + 2) * max(candidate.duration_s, 1.0)
        return fake_measurement(
            self.draws.rng,
            self.app,
            repetitions,
            self.shape,
            candidate.energy_j,
            candidate.duration_s,
        )

    def _failed(self, start_s: float) -> Evaluation:
        app = self.app
        status = _failure(self.draws.uniform())
        self.clock_s += 0.2 if status is CandidateStatus.SCREEN_FAILED else 6.0
        screen_ok = ScreenResult(ok=True, reason="", rules_checked=_RULES)
        if status is CandidateStatus.SCREEN_FAILED:
            reason = "main.cu line 3: calls a deny-listed timer (synthetic)"
            screen = ScreenResult(ok=False, reason=reason, rules_checked=_RULES)
            failed = Evaluation(status, reason, screen=screen)
        elif status is CandidateStatus.BUILD_FAILED:
            build = _build(app, start_s, ok=False)
            failed = Evaluation(
                status,
                "build failed: exit status 1",
                failed_command=" ".join(build.command.argv),
                log=build.command.stderr,
                screen=screen_ok,
                build=build,
            )
        elif status is CandidateStatus.RUN_FAILED:
            run = _run(app, start_s + 4.0, app.baseline_duration_s, ok=False)
            failed = Evaluation(
                status,
                f"input {_INPUT}: exit status 139",
                failed_command=" ".join(run.command.argv),
                log=run.command.stderr,
                screen=screen_ok,
                build=_build(app, start_s, ok=True),
                runs=(run,),
            )
        else:
            run = _run(app, start_s + 4.0, app.baseline_duration_s, ok=True)
            failed = Evaluation(
                status,
                f"output on {_INPUT!r} differs from the original's",
                failed_command=" ".join(run.command.argv),
                log=_FAILED_VERDICT.reason,
                screen=screen_ok,
                build=_build(app, start_s, ok=True),
                runs=(run,),
                verdicts=(_FAILED_VERDICT,),
            )
        return dataclasses.replace(failed, started_at_s=start_s, ended_at_s=self.clock_s)

    def best_step(self) -> int:
        """The passing step with the lowest measured mean energy; -1 when none passed."""
        best, best_energy_j = -1, math.inf
        for index in self.passed:
            evaluation = self.steps[index].evaluation
            assert evaluation is not None and evaluation.measurement is not None
            if evaluation.measurement.energy_j_mean < best_energy_j:
                best, best_energy_j = index, evaluation.measurement.energy_j_mean
        return best

    def judge(self, iteration: int) -> JudgeVerdict:
        """The judge's step(s): an unparsable first answer (UNDECIDED) is retried once, and the
        retry always parses, so the trial's verdict is VALID or INVALID."""
        for attempt in range(2):
            if attempt == 0 and self.draws.uniform() < _JUDGE_UNPARSABLE:
                verdict = JudgeVerdict(JudgeDecision.UNDECIDED, "no verdict line (synthetic)")
                answer = "It depends. (synthetic)"
            elif self.draws.uniform() < _JUDGE_INVALID:
                reason = "hard-codes the expected output (synthetic)"
                verdict = JudgeVerdict(JudgeDecision.INVALID, reason)
                answer = f"INVALID: {reason}"
            else:
                reason = "same algorithm, no special-casing (synthetic)"
                verdict = JudgeVerdict(JudgeDecision.VALID, reason)
                answer = f"VALID: {reason}"
            request, response = self.ask("judge", "Is this change legitimate? (synthetic)", answer)
            self.steps.append(
                TrialStep(iteration, attempt, "judge", request, response, judge=verdict)
            )
            if verdict.decision is not JudgeDecision.UNDECIDED:
                break
        return verdict


def _failure(uniform: float) -> CandidateStatus:
    threshold = uniform * sum(weight for _, weight in _FAILURES)
    for status, weight in _FAILURES:
        threshold -= weight
        if threshold < 0:
            return status
    return _FAILURES[-1][0]


def synthetic_trial(
    app: SyntheticApp, settings: SyntheticSettings, shape: TraceShape, strategy: str, trial: int
) -> TrialRecord:
    """Trial `trial` (0-based) of `strategy` (a Strategy value in settings.strategies) for `app`,
    drawn from (seed, app index, strategy, trial) alone."""
    strategy_number = 1 + [s.value for s in Strategy].index(strategy)
    rng = np.random.default_rng((settings.seed, app.index, strategy_number, trial))
    state = _TrialState(app, settings, shape, app.truth(strategy), trial, rng)
    if strategy == Strategy.LASSI_EE.value:
        if state.text_step("summary", "A synthetic kernel; memory bound.") and state.text_step(
            "plan", "1. Fuse loops.\n2. Cut memory traffic."
        ):
            for iteration in range(1, 1 + int(state.draws.between(1, _MAX_ITERATIONS + 1))):
                state.candidate(iteration)
                if state.llm_failure:
                    break
    else:
        state.candidate(1)
    return _finish(state, Strategy(strategy))


def _finish(state: _TrialState, strategy: Strategy) -> TrialRecord:
    """Outcome, rescore and judge, decided as refine's _finish decides them."""
    best = state.best_step()
    rescore: EnergyMeasurement | None = None
    verdict: JudgeVerdict | None = None
    outcome, reason = TrialOutcome.ACCEPTED, ""
    if best < 0:
        if state.llm_failure:
            outcome, reason = TrialOutcome.LLM_FAILED, state.llm_failure
        else:
            outcome, reason = TrialOutcome.NO_PASSING_CANDIDATE, "no candidate passed (synthetic)"
    elif state.draws.uniform() < _RESCORE_FAILURE:
        best = -1
        outcome = TrialOutcome.NO_PASSING_CANDIDATE
        reason = "the best candidate failed its second, independent evaluation (synthetic)"
    else:
        rescore = state.measure(state.passed[best])
        verdict = state.judge(state.steps[best].iteration)
        if verdict.decision is JudgeDecision.INVALID:
            outcome, reason = TrialOutcome.REJECTED_BY_JUDGE, f"judge: {verdict.reason}"
        elif state.llm_failure:
            reason = f"LLM stopped early: {state.llm_failure}"
    judged = any(step.purpose == "judge" for step in state.steps)
    return TrialRecord(
        app=state.app.name,
        variant=state.app.variant,
        strategy=strategy,
        trial=state.trial,
        partition=state.app.partition,
        generator_model=GENERATOR_MODEL,
        judge_model=JUDGE_MODEL if judged else "",
        outcome=outcome,
        reason=reason,
        steps=tuple(state.steps),
        best_step=best,
        judge=verdict,
        rescore=rescore,
        started_at_s=state.started_at_s,
        ended_at_s=state.clock_s,
    )
