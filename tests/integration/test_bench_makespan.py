"""The campaign makespan benchmark: its lower bound on hand-made records, and a tiny real run
(scripted LLM server on loopback, real Parsl, real g++, real HDF5). No timing targets here: the
figures go to docs/benchmarks.md."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks.bench_campaign_makespan import (
    MakespanCase,
    makespan_report,
    run_makespan,
)
from lassi_hpc.records import (
    CandidateStatus,
    ChatMessage,
    Evaluation,
    LLMRequest,
    LLMResponse,
    Strategy,
    TrialOutcome,
    TrialRecord,
    TrialStep,
)


def step(
    purpose: str, seed: int, latency_s: float, evaluated: tuple[float, float] | None
) -> TrialStep:
    request = LLMRequest(purpose, (ChatMessage("user", "q"),), 16, 0.0, seed)
    response = LLMResponse("a", "stop", "m", "http://x/v1", seed, 1, 1, latency_s, 1)
    evaluation = None
    if evaluated is not None:
        evaluation = Evaluation(
            CandidateStatus.PASSED, "", started_at_s=evaluated[0], ended_at_s=evaluated[1]
        )
    return TrialStep(1, 0, purpose, request, response, evaluation=evaluation)


def trial(index: int, start_s: float, end_s: float, first_seed: int) -> TrialRecord:
    steps = (
        step("summary", first_seed, 1.0, None),  # one n=2 exchange for both trials
        step("refactor", 100 + index, 0.5, (start_s + 2.0, start_s + 4.0)),
    )
    return TrialRecord(
        "app",
        "omp",
        Strategy.LASSI_EE,
        index,
        "cpu",
        "m",
        "",
        TrialOutcome.ACCEPTED,
        "",
        steps,
        started_at_s=start_s,
        ended_at_s=end_s,
    )


def test_the_shared_first_exchange_counts_once_and_the_bound_is_the_largest_term() -> None:
    records = [trial(0, 10.0, 16.0, 7), trial(1, 10.0, 19.0, 7)]
    report = makespan_report(records, device_workers=1, llm_workers=2)
    assert report.llm_exchanges == 3  # the summary once, two refactors
    assert report.llm_busy_s == pytest.approx(2.0)
    assert report.llm_bound_s == pytest.approx(1.0)
    assert report.evaluations == 2 and report.rescores_estimated == 0
    assert report.device_bound_s == pytest.approx(4.0)
    assert report.longest_chain_s == pytest.approx(3.5)  # 1.0 + 0.5 + 2.0
    assert report.lower_bound_s == pytest.approx(4.0)
    assert report.makespan_s == pytest.approx(9.0)
    assert report.ratio == pytest.approx(9.0 / 4.0)
    assert report.first_evaluation_s == pytest.approx(2.0)
    assert math.isnan(report.first_request_s)


def test_first_requests_with_their_own_seeds_are_separate_exchanges() -> None:
    # A server that ignores n is asked again per choice, with seed + i: two exchanges.
    records = [trial(0, 0.0, 5.0, 7), trial(1, 0.0, 5.0, 8)]
    assert makespan_report(records, 1, 1).llm_exchanges == 4


@pytest.mark.slow
def test_a_tiny_campaign_reports_consistent_figures(tmp_path: Path) -> None:
    case = MakespanCase(
        apps=2, trials=2, iterations=1, answer_tokens=20, delay_per_token_s=0.005, app_sleep_s=0.01
    )
    report = run_makespan(case, tmp_path)
    assert report.trials == 4
    # Per app one shared summary; per trial a plan, one change and the judge.
    assert report.llm_exchanges == 2 + 4 * 3
    # Per trial one candidate and its rescore.
    assert report.evaluations == 8 and report.rescores_estimated == 4
    # Every answer is 20 words at 5 ms a word: no exchange is faster than that.
    assert report.mean_latency_s >= 0.1
    assert report.llm_busy_s >= report.llm_exchanges * 0.1
    assert report.device_busy_s > 0 and report.longest_chain_s > 0
    assert report.makespan_s >= report.lower_bound_s > 0
    assert 0 <= report.first_request_s < report.first_evaluation_s < report.makespan_s
