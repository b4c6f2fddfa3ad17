"""A campaign driver killed with SIGKILL at random moments resumes to the same results.

`lassi-hpc run` runs as a real program (local Parsl, g++, the sandbox, HDF5) against a scripted LLM
server on loopback (a fake at the HTTP seam). Each attempt is killed at a seeded-random moment with
SIGKILL sent to its process group: the driver and Parsl's interchanges. Parsl's local worker
pools run in process groups of their own, so they live on as orphans, as they would after the
OOM killer or a `kill -9` of the driver; the next attempt starts while they are still there.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import pytest
from campaign_faults_support import (
    HONEST,
    JUDGE_VALID,
    CampaignFiles,
    kill_session,
    parsl_processes_under,
    write_campaign,
)

from lassi_hpc.flow.campaign_status import STATUS_NAME, read_status
from lassi_hpc.records import TrialOutcome
from lassi_hpc.store import ResultsReader
from lassi_hpc.testing.scripted_llm import Reply, ScriptedLLM, ScriptedRequest

pytestmark = pytest.mark.slow

KILL_SEED = 7
KILLS = 3
STRATEGIES = '["vanilla", "lassi-ee"]'


def answer(request: ScriptedRequest, choice: int) -> Reply:
    if "verdict" in request.prompt.lower():
        return Reply(JUDGE_VALID)
    return Reply(HONEST)


def start_driver(files: CampaignFiles) -> subprocess.Popen[bytes]:
    # A session of its own, so that the test can find (and at the end remove) everything it
    # started, orphans included.
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lassi_hpc.cli",
            "run",
            str(files.campaign),
            "--site",
            str(files.site),
        ],
        cwd=files.campaign.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def run_to_completion(files: CampaignFiles) -> float:
    """Run the campaign until it ends; returns how long it took, in seconds."""
    started_s = time.monotonic()
    driver = start_driver(files)
    _, stderr = driver.communicate(timeout=240)
    assert driver.returncode == 0, stderr.decode(errors="replace")
    return time.monotonic() - started_s


def wait_until(reached: Callable[[], bool], driver: subprocess.Popen[bytes]) -> bool:
    """Poll `reached` until it is true; False if the driver ended first."""
    while not reached():
        if driver.poll() is not None:
            return False
        time.sleep(0.02)
    return True


def at_kill_point(attempt: int, goal: int, server: ScriptedLLM, files: CampaignFiles) -> bool:
    """Whether attempt `attempt` has reached the point after which it is killed: at once (0),
    `goal` LLM requests received in all (1), more than `goal` trials stored (2)."""
    if attempt == 0:
        return True
    if attempt == 1:
        return len(server.requests) >= goal
    return trials_done(files) > goal


def trials_done(files: CampaignFiles) -> int:
    """Trials stored so far, as the driver's status file says (the HDF5 file is locked while the
    driver writes it)."""
    state = read_status(files.results.parent / STATUS_NAME) or {}
    return int(state.get("trials_done", 0)) if state.get("phase") == "trials" else 0


def trials_in(found_stamps: dict[str, str]) -> int:
    return sum("/trials/" in name for name in found_stamps)


def stamps(path: Path) -> dict[str, str]:
    """HDF5 path -> written_utc of every stored baseline and trial: a record written again (a
    baseline re-measured, a trial redone) gets a new stamp."""
    found: dict[str, str] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group) and "written_utc" in obj.attrs:
            found[name] = str(obj.attrs["written_utc"])

    with h5py.File(path, "r") as file:
        file.visititems(visit)
    return found


def read_everything(path: Path) -> None:
    """Read every dataset and attribute with plain h5py, then every record with our reader."""

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            obj[()]
        for key in obj.attrs:
            obj.attrs[key]

    with h5py.File(path, "r") as file:
        file.visititems(visit)
    with ResultsReader(path) as reader:
        for row in reader.baselines():
            reader.read_baseline(row.app, row.variant)
        for key in reader.trial_keys():
            reader.read_trial(*key)


def contents(
    path: Path,
) -> tuple[list[tuple[str, str]], list[tuple[str, str, str, int]], list[str]]:
    """(app, variant) of the baselines, (app, variant, strategy, trial) of the trials, and each
    trial's outcome, in the file's order (duplicates kept)."""
    with ResultsReader(path) as reader:
        baselines = [(row.app, row.variant) for row in reader.baselines()]
        keys = reader.trial_keys()
        outcomes = [reader.read_trial(*key).outcome.value for key in keys]
    return baselines, keys, outcomes


@pytest.fixture
def scripted_server() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(answer, honour_n=True) as server:
        yield server


def test_a_campaign_killed_at_random_moments_resumes_to_the_same_results(
    tmp_path: Path, scripted_server: ScriptedLLM
) -> None:
    reference = write_campaign(
        tmp_path / "reference",
        scripted_server.base_url,
        strategies=STRATEGIES,
        trials=1,
        max_iterations=1,
    )
    run_to_completion(reference)
    interrupted = write_campaign(
        tmp_path / "interrupted",
        scripted_server.base_url,
        strategies=STRATEGIES,
        trials=1,
        max_iterations=1,
    )
    sessions: list[int] = []
    rng = random.Random(KILL_SEED)
    seen: dict[str, str] = {}  # written_utc of each record seen stored after a kill
    killed = 0
    orphans_seen = 0  # Parsl processes left running by a killed attempt
    try:
        for attempt in range(KILLS):
            asked_before = len(scripted_server.requests)
            driver = start_driver(interrupted)
            sessions.append(driver.pid)
            # The first kill lands in Parsl's start-up or the baseline, the second a random time
            # after a random number of LLM requests, the third a random time after this attempt
            # stored a trial.
            if attempt == 0:
                wait_s, goal = rng.uniform(1.5, 6.0), 0
            elif attempt == 1:
                wait_s, goal = rng.uniform(0.0, 1.5), asked_before + rng.randint(1, 3)
            else:
                wait_s, goal = rng.uniform(0.0, 1.0), trials_in(seen)
            reached = functools.partial(at_kill_point, attempt, goal, scripted_server, interrupted)
            if wait_until(reached, driver):
                try:
                    driver.wait(timeout=wait_s)
                except subprocess.TimeoutExpired:
                    os.killpg(driver.pid, signal.SIGKILL)
                    driver.wait(timeout=30)
                    killed += 1
                    orphans_seen += len(parsl_processes_under(tmp_path / "interrupted"))
            assert driver.stderr is not None
            driver.stderr.close()
            if interrupted.results.exists():  # a kill before the file was created leaves none
                read_everything(interrupted.results)
                now = stamps(interrupted.results)
                assert {k: now[k] for k in seen} == seen, "a stored record was written again"
                seen = now
        run_to_completion(interrupted)  # with the last attempt's orphans still running
    finally:
        for session in sessions:
            kill_session(session)

    assert killed >= 2, f"only {killed} of {KILLS} attempts were still running when killed"
    assert orphans_seen, "expected Parsl worker pools to outlive the killed driver"
    assert "apps/tiny/omp/baseline" in seen, "no kill came after the baseline was stored"
    assert trials_in(seen) >= 1, "no kill came after a trial was stored"
    read_everything(interrupted.results)
    final = stamps(interrupted.results)
    assert {k: final[k] for k in seen} == seen, "a record stored before a kill was written again"
    baselines, keys, outcomes = contents(interrupted.results)
    assert len(set(keys)) == len(keys) and len(set(baselines)) == len(baselines)
    assert (baselines, keys, outcomes) == contents(reference.results)
    assert set(outcomes) == {TrialOutcome.ACCEPTED.value}
