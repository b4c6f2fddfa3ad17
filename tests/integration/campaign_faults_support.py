"""Configs, scripted answers and process helpers for the interruption and fault tests.

The campaign is the tiny OpenMP app on the local site, with energy estimated from CPU time (no
meter needed) and a scripted LLM server on loopback (a fake at the HTTP seam) as its external
server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "data" / "apps" / "tiny"

HONEST = """```cpp kernel.cpp
#include "kernel.h"

// Every repetition computed the same sum: compute it once.
double series_sum(long n, int repeats) {
  double sum = 0.0;
  if (repeats <= 0) return 0.0;
#pragma omp parallel for reduction(+ : sum)
  for (long i = 0; i < n; i++) sum += 1.0 / ((double)(i + 1) * (double)(i + 1));
  return sum;
}
```
"""

DOES_NOT_COMPILE = HONEST.replace("double sum = 0.0;", "double sum = 0.0")

JUDGE_VALID = '{"verdict": "valid", "reason": "the repeated passes were redundant"}'

# What Parsl's local HighThroughputExecutor runs besides the driver: a worker pool per executor
# (its workers are its children) and an interchange per executor.
PARSL_PROGRAMS = ("process_worker_pool", "interchange")


@dataclass(frozen=True)
class CampaignFiles:
    """A campaign and site config written for one test, and where its results go."""

    campaign: Path
    site: Path
    results: Path


def write_campaign(
    root: Path,
    llm_url: str,
    *,
    strategies: str = '["lassi-ee"]',
    trials: int = 2,
    timeout_s: float = 20.0,
    retries: int = 1,
    default_args: tuple[str, str] = ("200000", "20"),
    max_iterations: int = 2,
    name: str = "faults",
) -> CampaignFiles:
    """Write campaign.toml, site.toml and a copy of the tiny app under `root`.

    `timeout_s` and `retries` are the LLM client's per attempt timeout (seconds) and retries;
    `default_args` are the tiny app's default input (terms, repeats); `max_iterations` bounds each
    trial's refinement iterations.
    """
    suite = root / "suite"
    shutil.copytree(TINY, suite / "tiny")
    manifest = suite / "tiny" / "app.toml"
    manifest.write_text(
        manifest.read_text().replace(
            '["200000", "20"]', f'["{default_args[0]}", "{default_args[1]}"]'
        )
    )
    campaign = root / "campaign.toml"
    campaign.write_text(
        f"""
[campaign]
name = "{name}"
suite = "examples"
suite_path = "suite"
results_dir = "results"
trials = {trials}
strategies = {strategies}

[[apps]]
name = "tiny"

[measure]
repetitions = 2
min_window_s = 0.2
idle_s = 0.0
max_start_delay_s = 0.0

[llm]
generator = "scripted"
max_tokens = 512
timeout_s = {timeout_s}
retries = {retries}

[refine]
max_iterations = {max_iterations}
patience = 1
max_fix_attempts = 3
"""
    )
    site_text = (REPO / "site_configs" / "local.toml").read_text()
    site_text = site_text.replace('scratch_dir = ""', 'scratch_dir = "scratch"')
    site_text = site_text.replace('energy_backend = "auto"', 'energy_backend = "estimate"')
    site_text += f"""
[llm_servers.scripted]
kind = "external"
api = "completions"
url = "{llm_url}"
model = "scripted-fake"
workers = 2
"""
    site = root / "site.toml"
    site.write_text(site_text)
    return CampaignFiles(campaign, site, root / "results" / name / f"{name}.h5")


def parsl_processes_under(root: Path) -> list[psutil.Process]:
    """Parsl helper processes (worker pools, their workers, interchanges) whose command line
    names a path under `root`: those of the campaigns of one test."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(root) in cmdline and any(name in cmdline for name in PARSL_PROGRAMS):
            found.append(process)
    return found


def session_members(session_id: int) -> Iterator[psutil.Process]:
    """The live processes of session `session_id` (a driver started with start_new_session)."""
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session_id and process.status() != "zombie":
                yield process
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue


def kill_session(session_id: int, timeout_s: float = 30.0) -> None:
    """SIGKILL every process of the session (the driver and the Parsl helpers it started, which
    may have made process groups of their own) and wait until none is left."""
    deadline = time.monotonic() + timeout_s
    while True:
        members = list(session_members(session_id))
        if not members:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"processes of session {session_id} survive SIGKILL: {members}")
        for process in members:
            with_ignored_exit(process.pid, signal.SIGKILL)
        time.sleep(0.05)


def with_ignored_exit(pid: int, signum: int) -> None:
    """os.kill, where a process that has already gone is no error."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
