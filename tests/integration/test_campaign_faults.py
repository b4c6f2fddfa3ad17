"""Faults during a campaign: a worker lost mid-task, an LLM server that fails or stalls.

Real local Parsl, g++, sandbox and HDF5; the LLM server is a scripted one on loopback (a fake at
the HTTP seam), playing the fault.
"""

from __future__ import annotations

import threading
from pathlib import Path

import psutil
import pytest
from campaign_faults_support import DOES_NOT_COMPILE, HONEST, JUDGE_VALID, write_campaign

from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.flow.campaign import run_campaign
from lassi_hpc.records import CandidateStatus, TrialOutcome, TrialRecord
from lassi_hpc.store import ResultsReader
from lassi_hpc.testing.scripted_llm import Reply, ScriptedLLM, ScriptedRequest

pytestmark = pytest.mark.slow


def steps_of(trial: TrialRecord) -> list[tuple[str, CandidateStatus | None]]:
    return [(s.purpose, s.evaluation.status if s.evaluation else None) for s in trial.steps]


def parsl_log_lines(results: Path, text: str) -> list[str]:
    """Lines of the campaign's parsl.log files (one per Parsl run directory) that hold `text`."""
    return [
        line
        for log in sorted(results.parent.glob("parsl/*/parsl.log"))
        for line in log.read_text(errors="replace").splitlines()
        if text in line
    ]


class WorkerKiller:
    """Once `armed` is set, SIGKILLs the Parsl worker that is building or running a candidate
    under `root` and remembers its pid (and the name of the process that gave it away).

    Any process working under `root` that descends from a worker will do (in practice the
    sandbox around the build): a build lasts hundreds of milliseconds, where one run of the
    candidate binary can be over in one, too short for a scan of the process table to be sure
    of catching it.
    """

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.armed = threading.Event()
        self.stopped = threading.Event()
        self.killed_pid = 0
        self.caught = ""
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self._thread.join()

    def _watch(self) -> None:
        self.armed.wait()
        while not self.stopped.is_set() and not self.killed_pid:
            for process in psutil.process_iter(["name", "cwd"]):
                if self.root in (process.info["cwd"] or ""):
                    worker = worker_running(process)
                    if worker is not None:
                        worker.kill()
                        self.killed_pid = worker.pid
                        self.caught = process.info["name"]
                        return
            self.stopped.wait(0.02)


def worker_running(process: psutil.Process) -> psutil.Process | None:
    """The Parsl worker that `process` descends from (a child of process_worker_pool.py)."""
    try:
        for ancestor in process.parents():
            parent = ancestor.parent()
            if parent is not None and "process_worker_pool" in " ".join(parent.cmdline()):
                return ancestor
    except psutil.Error:
        return None
    return None


def test_a_lost_worker_is_retried_and_a_build_failure_is_recorded_once(tmp_path: Path) -> None:
    killer = WorkerKiller(tmp_path)
    code_answers = iter([DOES_NOT_COMPILE, HONEST])

    def answer(request: ScriptedRequest, choice: int) -> Reply:
        if "verdict" in request.prompt.lower():
            return Reply(JUDGE_VALID)
        text = next(code_answers, HONEST)
        if text == HONEST:  # the build failure is behind: the next run of the binary is killed
            killer.armed.set()
        return Reply(text)

    try:
        with ScriptedLLM(answer) as server:
            files = write_campaign(tmp_path, server.base_url, strategies='["vanilla"]', trials=1)
            results = run_campaign(load_campaign(files.campaign), load_site(files.site))
    finally:
        killer.stop()

    assert killer.killed_pid, "no worker was building or running the candidate"
    assert not psutil.pid_exists(killer.killed_pid), (
        f"worker {killer.killed_pid} (running {killer.caught}) survives"
    )
    with ResultsReader(results) as reader:
        trial = reader.read_trial("tiny", "omp", "vanilla", 0)
    # The candidate that did not build is one step with one evaluation: a result, not a fault.
    assert steps_of(trial) == [
        ("refactor", CandidateStatus.BUILD_FAILED),
        ("fix", CandidateStatus.PASSED),
        ("judge", None),
    ]
    assert trial.outcome is TrialOutcome.ACCEPTED, trial.reason
    # Parsl saw exactly one failed try, the lost worker's, and ran that task again; the
    # evaluation of the candidate that did not build returned normally and was not retried.
    failed_tries = parsl_log_lines(results, "failed with exception of type")
    assert len(failed_tries) == 1 and "WorkerLost" in failed_tries[0], failed_tries
    assert parsl_log_lines(results, "failed after") == []


def test_llm_faults_fail_their_trial_after_bounded_retries_and_the_others_go_on(
    tmp_path: Path,
) -> None:
    # Three lassi-ee trials share their summary request; each then asks for its own plan.
    # Trial 0's plan: HTTP 503, always. Trial 1's: an answer later than timeout_s, always.
    # Trial 2's: one 503, then answers (the retry recovers).
    plan_requests = {0: 0, 1: 0, 2: 0}
    lock = threading.Lock()

    def answer(request: ScriptedRequest, choice: int) -> Reply:
        if "verdict" in request.prompt.lower():
            return Reply(JUDGE_VALID)
        if "Code summary:" in request.prompt and "Plan:" not in request.prompt:
            trial = (request.seed or 0) % 1024
            with lock:
                plan_requests[trial] += 1
                asked = plan_requests[trial]
            if trial == 0:
                return Reply("overloaded", status=503)
            if trial == 1:
                return Reply("a plan too late", delay_s=3.0)
            if asked == 1:
                return Reply("overloaded", status=503)
            return Reply("1. Compute the sum once instead of once per repetition.")
        return Reply(HONEST)

    with ScriptedLLM(answer) as server:
        files = write_campaign(
            tmp_path,
            server.base_url,
            strategies='["lassi-ee"]',
            trials=3,
            timeout_s=1.0,
            retries=1,
            max_iterations=1,
        )
        results = run_campaign(load_campaign(files.campaign), load_site(files.site))

    with ResultsReader(results) as reader:
        trials = [reader.read_trial("tiny", "omp", "lassi-ee", i) for i in range(3)]
    # retries = 1: two attempts, then the trial is recorded as failed, with the reason.
    assert plan_requests[0] == 2 and plan_requests[1] == 2
    for trial, reason in ((trials[0], "HTTP 503"), (trials[1], "timed out after 1 s")):
        assert trial.outcome is TrialOutcome.LLM_FAILED
        assert reason in trial.reason and "gave up after 2 attempts" in trial.reason, trial.reason
        plan = trial.steps[-1]
        assert plan.purpose == "plan" and plan.response.attempts == 2
        assert not plan.response.ok and reason in plan.response.error
    assert trials[2].outcome is TrialOutcome.ACCEPTED, trials[2].reason
    plan = next(s for s in trials[2].steps if s.purpose == "plan")
    assert plan.response.ok and plan.response.attempts == 2
