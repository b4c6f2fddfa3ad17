"""The trial logic (stages/refine.py) driven by plain functions: every branch of the loop.

The LLM and the evaluation are stand-ins here (scripted replies and scripted evaluations); the
campaign tests drive the same generator through Parsl, a real HTTP server and real builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from lassi_hpc.config.campaign import LLMSection, RefineSection
from lassi_hpc.llm.prompting import MeasuredVersion, PromptContext
from lassi_hpc.records import (
    CandidateStatus,
    DeviceIdentity,
    EnergyMeasurement,
    EnergyMethod,
    Evaluation,
    JudgeDecision,
    LLMResponse,
    RepetitionEnergy,
    SourceFile,
    Strategy,
    TrialOutcome,
    TrialRecord,
)
from lassi_hpc.stages.refine import AskLLM, Evaluate, TrialSpec, request_seed, run_trial

ORIGINAL = SourceFile(
    "kernels.cpp",
    '#include "kernels.h"\n\nvoid scale(double* x, int n) {\n'
    "  for (int i = 0; i < n; ++i) x[i] *= 2.0;\n}\n\n"
    "double total(const double* x, int n) {\n  double s = 0;\n"
    "  for (int i = 0; i < n; ++i) s += x[i];\n  return s;\n}\n",
)
CPU = DeviceIdentity("estimate", "cpu", "test CPU", "host:cpu", "host")


def code_answer(marker: str) -> str:
    body = ORIGINAL.text.replace("x[i] *= 2.0;", f"x[i] *= 2.0;  // {marker}")
    return f"Here is the new version.\n```cpp kernels.cpp\n{body}```\n"


def measurement(energy_j: float) -> EnergyMeasurement:
    rep = RepetitionEnergy(energy_j, 1.0, energy_j, 0.0, 1)
    return EnergyMeasurement(
        EnergyMethod.ESTIMATE, "estimate", (CPU,), (rep,), energy_j, 0.0, 0.0, 0.0, 1.0, energy_j
    )


def passed(energy_j: float) -> Evaluation:
    return Evaluation(CandidateStatus.PASSED, "", measurement=measurement(energy_j))


def failed(status: CandidateStatus, reason: str = "boom") -> Evaluation:
    return Evaluation(status, reason, failed_command="make CC=g++", log="error: boom")


def spec(strategy: Strategy, **refine: object) -> TrialSpec:
    context = PromptContext(
        app="toy",
        summary="scales and sums a vector",
        language="omp",
        device="test CPU (cpu)",
        compiler_command="make CC=g++",
        run_command="./main 100",
        original=(ORIGINAL,),
    )
    return TrialSpec(
        app="toy",
        variant="omp",
        strategy=strategy,
        trial=0,
        partition="cpu",
        context=context,
        baseline=MeasuredVersion(10.0, 10.0, 1.0, "estimate"),
        baseline_stdout="total 200\nPASS\n",
        device_specs="device: test CPU",
        llm=LLMSection(),
        refine=replace(RefineSection(), **refine),  # type: ignore[arg-type]
        generator_model="gen",
        judge_model="judge",
    )


def response(text: str, error: str = "") -> LLMResponse:
    return LLMResponse(
        text, "stop" if not error else "", "m", "http://x/v1", 1, 10, 10, 0.1, 1, error
    )


class Script:
    """Plays replies by purpose: `answers[purpose]` is consumed in order (the last one repeats)."""

    def __init__(
        self,
        answers: dict[str, list[str]],
        evaluations: list[Evaluation],
        errors: frozenset[str] = frozenset(),
    ) -> None:
        self.answers = {k: iter(v) for k, v in answers.items()}
        self.last: dict[str, str] = {}
        self.evaluations: Iterator[Evaluation] = iter(evaluations)
        self.errors = errors
        self.asked: list[AskLLM] = []
        self.evaluated: list[Evaluate] = []

    def ask(self, action: AskLLM) -> LLMResponse:
        self.asked.append(action)
        purpose = action.request.purpose
        if purpose in self.errors:
            return response("", error="HTTP 503 after 4 attempts")
        text = next(self.answers.get(purpose, iter(())), None)
        if text is None:
            text = self.last.get(purpose, "")
        self.last[purpose] = text
        return response(text)

    def evaluate(self, action: Evaluate) -> Evaluation:
        self.evaluated.append(action)
        return next(self.evaluations)

    def run(self, trial_spec: TrialSpec) -> TrialRecord:
        return run_trial(trial_spec, self.ask, self.evaluate)


VALID = '{"verdict": "valid", "reason": "same algorithm, fewer passes"}'
INVALID = '{"verdict": "invalid", "reason": "skips the computation"}'


def purposes(record: TrialRecord) -> list[str]:
    return [step.purpose for step in record.steps]


def test_vanilla_accepted_candidate_is_rescored_and_judged() -> None:
    script = Script({"refactor": [code_answer("a")], "judge": [VALID]}, [passed(8.0), passed(8.2)])
    record = script.run(spec(Strategy.VANILLA))
    assert record.outcome is TrialOutcome.ACCEPTED
    assert purposes(record) == ["refactor", "judge"]
    assert record.best_step == 0
    assert record.rescore is not None and record.rescore.energy_j_mean == 8.2
    assert record.judge is not None and record.judge.decision is JudgeDecision.VALID
    assert "// a" in record.steps[0].files[0].text
    assert script.evaluated[0].files == script.evaluated[1].files  # rescored the same code
    assert script.evaluated[0].measure_seed != script.evaluated[1].measure_seed


def test_no_code_gets_one_corrective_prompt_then_fixes_follow() -> None:
    answers = {
        "refactor": ["I would unroll the loop."],
        "no-code": [code_answer("b")],
        "fix": [code_answer("c")],
        "judge": [VALID],
    }
    evaluations = [failed(CandidateStatus.BUILD_FAILED), passed(9.0), passed(9.0)]
    record = Script(answers, evaluations).run(spec(Strategy.VANILLA))
    assert purposes(record) == ["refactor", "no-code", "fix", "judge"]
    assert record.steps[0].files == () and record.steps[0].evaluation is None
    assert record.steps[0].extraction_note
    assert [s.attempt for s in record.steps[:3]] == [0, 1, 2]
    assert record.outcome is TrialOutcome.ACCEPTED and record.best_step == 2


def test_fix_prompt_carries_the_command_and_log() -> None:
    script = Script(
        {"refactor": [code_answer("a")], "fix": [code_answer("b")], "judge": [VALID]},
        [failed(CandidateStatus.VERIFY_FAILED, "values differ"), passed(9.0), passed(9.0)],
    )
    script.run(spec(Strategy.VANILLA))
    fix = next(a for a in script.asked if a.request.purpose == "fix")
    prompt = "\n".join(m.content for m in fix.request.messages)
    assert "make CC=g++" in prompt and "error: boom" in prompt


def test_two_answers_without_code_fail_the_iteration() -> None:
    record = Script({"refactor": ["no idea"], "no-code": ["still none"]}, []).run(
        spec(Strategy.VANILLA)
    )
    assert purposes(record) == ["refactor", "no-code"]
    assert record.outcome is TrialOutcome.NO_PASSING_CANDIDATE
    assert "usable code" in record.reason


@pytest.mark.parametrize("max_fix_attempts", [0, 1, 3])
def test_fix_attempts_are_bounded(max_fix_attempts: int) -> None:
    evaluations = [failed(CandidateStatus.BUILD_FAILED)] * (max_fix_attempts + 1)
    answers = {"refactor": [code_answer("a")], "fix": [code_answer("f")]}
    record = Script(answers, evaluations).run(
        spec(Strategy.VANILLA, max_fix_attempts=max_fix_attempts)
    )
    assert purposes(record) == ["refactor"] + ["fix"] * max_fix_attempts
    assert record.outcome is TrialOutcome.NO_PASSING_CANDIDATE
    assert "build-failed" in record.reason


def test_screen_and_measure_failures_are_not_sent_back_for_fixing() -> None:
    for status in (CandidateStatus.SCREEN_FAILED, CandidateStatus.MEASURE_FAILED):
        record = Script({"refactor": [code_answer("a")]}, [failed(status)]).run(
            spec(Strategy.VANILLA)
        )
        assert purposes(record) == ["refactor"]
        assert record.outcome is TrialOutcome.NO_PASSING_CANDIDATE


def test_judge_rejects_only_what_the_harness_accepted() -> None:
    record = Script(
        {"refactor": [code_answer("a")], "judge": [INVALID]}, [passed(1.0), passed(1.0)]
    ).run(spec(Strategy.VANILLA))
    assert record.outcome is TrialOutcome.REJECTED_BY_JUDGE
    assert "skips the computation" in record.reason
    # With no passing candidate the judge is never asked, so it can never accept anything.
    script = Script(
        {"refactor": [code_answer("a")], "judge": [VALID]}, [failed(CandidateStatus.RUN_FAILED)]
    )
    record = script.run(spec(Strategy.VANILLA, max_fix_attempts=0))
    assert "judge" not in purposes(record) and record.outcome is TrialOutcome.NO_PASSING_CANDIDATE


def test_unparsable_judge_is_retried_once_then_undecided() -> None:
    script = Script(
        {"refactor": [code_answer("a")], "judge": ["looks fine to me", "VALID!"]},
        [passed(5.0), passed(5.0)],
    )
    record = script.run(spec(Strategy.VANILLA))
    assert purposes(record) == ["refactor", "judge", "judge"]
    assert record.judge is not None and record.judge.decision is JudgeDecision.UNDECIDED
    assert record.outcome is TrialOutcome.ACCEPTED  # undecided does not reject


def test_judge_server_failure_leaves_the_verdict_undecided() -> None:
    script = Script(
        {"refactor": [code_answer("a")]}, [passed(5.0), passed(5.0)], errors=frozenset({"judge"})
    )
    record = script.run(spec(Strategy.VANILLA))
    assert record.outcome is TrialOutcome.ACCEPTED
    assert record.judge is not None and record.judge.decision is JudgeDecision.UNDECIDED


def test_failed_rescore_means_no_passing_candidate() -> None:
    script = Script(
        {"refactor": [code_answer("a")]},
        [passed(5.0), failed(CandidateStatus.VERIFY_FAILED, "output changed")],
    )
    record = script.run(spec(Strategy.VANILLA))
    assert record.outcome is TrialOutcome.NO_PASSING_CANDIDATE
    assert "second" in record.reason and "output changed" in record.reason


def test_lassi_ee_keeps_improvements_and_stops_after_patience() -> None:
    answers = {
        "summary": ["It scales then sums."],
        "plan": ["1. fuse the two loops"],
        "refactor": [code_answer("it1"), code_answer("it2"), code_answer("it3")],
        "judge": [VALID],
    }
    # iteration 1 improves (8 J < 10 J), 2 and 3 do not: patience 2 stops after iteration 3.
    evaluations = [passed(8.0), passed(8.5), failed(CandidateStatus.RUN_FAILED), passed(8.1)]
    script = Script(answers, evaluations)
    record = script.run(spec(Strategy.LASSI_EE, patience=2, max_iterations=5, max_fix_attempts=0))
    assert purposes(record) == ["summary", "plan", "refactor", "refactor", "refactor", "judge"]
    assert [s.iteration for s in record.steps] == [0, 0, 1, 2, 3, 1]
    assert record.best_step == 2 and record.outcome is TrialOutcome.ACCEPTED
    # Iteration 2 builds on iteration 1's code and is told its figures (8 J).
    second = [a for a in script.asked if a.request.purpose == "refactor"][1]
    second_prompt = "\n".join(m.content for m in second.request.messages)
    assert "// it1" in second_prompt
    assert "8 J" in second_prompt


def test_lassi_ee_stops_at_max_iterations() -> None:
    answers = {"summary": ["s"], "plan": ["p"], "refactor": [code_answer("x")], "judge": [VALID]}
    evaluations = [passed(9.0), passed(8.0), passed(7.0), passed(7.0)]
    record = Script(answers, evaluations).run(spec(Strategy.LASSI_EE, max_iterations=3))
    assert purposes(record).count("refactor") == 3
    assert record.best_step == 4  # iteration 3, the lowest energy


def test_llm_failure_stops_the_trial_with_the_reason() -> None:
    record = Script({}, [], errors=frozenset({"summary"})).run(spec(Strategy.LASSI_EE))
    assert record.outcome is TrialOutcome.LLM_FAILED
    assert "503" in record.reason and purposes(record) == ["summary"]


def test_llm_failure_after_a_passing_candidate_keeps_it() -> None:
    class FailsLater(Script):
        def ask(self, action: AskLLM) -> LLMResponse:
            if action.request.purpose == "refactor" and len(self.evaluated) >= 1:
                self.asked.append(action)
                return response("", error="connection refused")
            return super().ask(action)

    answers = {"summary": ["s"], "plan": ["p"], "refactor": [code_answer("x")], "judge": [VALID]}
    record = FailsLater(answers, [passed(9.0), passed(9.0)]).run(spec(Strategy.LASSI_EE))
    assert record.outcome is TrialOutcome.ACCEPTED
    assert "connection refused" in record.reason


def test_seeds_differ_between_trials_and_steps_and_are_stable() -> None:
    first = spec(Strategy.VANILLA)
    second = replace(first, trial=1)
    assert request_seed(second, 0) == request_seed(first, 0) + 1
    assert request_seed(first, 0) != request_seed(first, 1)
    assert request_seed(first, 3) == request_seed(spec(Strategy.VANILLA), 3)
    assert 0 <= request_seed(first, 0) < 2**31
