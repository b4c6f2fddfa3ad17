"""Campaign makespan against its lower bound: `python -m benchmarks.bench_campaign_makespan`.

A synthetic lassi-ee campaign runs end to end (real Parsl, real g++, real sandbox, real HDF5)
against a scripted LLM server whose every answer costs the same time (a per-token delay on
answers of a fixed length), on apps whose every run sleeps a set time. From what the campaign
recorded in its HDF5 file it computes the trial phase's makespan (last trial end - first trial
start) and its lower bound: the largest of the total LLM time over the LLM workers, the total
device time over the device workers, and the longest trial chain. Figures and the command are in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.errors import LassiError
from lassi_hpc.flow.campaign import run_campaign
from lassi_hpc.records import CandidateStatus, TrialOutcome, TrialRecord
from lassi_hpc.store import ResultsReader
from lassi_hpc.testing.scripted_llm import Reply, ScriptedLLM, ScriptedRequest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "apps" / "tiny"
PARTITION = "cpu"
STRATEGY = "lassi-ee"
TARGET_RATIO = 1.15
OPEN_FENCE = "```cpp kernel.cpp\n"  # how a code answer opens; prompts may prefill it


class MakespanBenchError(LassiError):
    """The synthetic campaign did not run as designed, so its figures would not mean anything."""


@dataclass(frozen=True)
class MakespanCase:
    """One synthetic campaign. Defaults are the target case of the makespan issue.

    Every LLM answer is `answer_tokens` words long and the server sleeps `delay_per_token_s` per
    word, so an answer costs answer_tokens * delay_per_token_s seconds. Every run of an app sleeps
    `app_sleep_s` (an evaluation runs the app four times: two inputs, a repeat, one measured run).
    """

    apps: int = 8
    trials: int = 4
    iterations: int = 3
    answer_tokens: int = 125
    delay_per_token_s: float = 0.004
    app_sleep_s: float = 0.075
    device_workers: int = 1
    llm_workers: int = 1

    @property
    def answer_s(self) -> float:
        return self.answer_tokens * self.delay_per_token_s


@dataclass(frozen=True)
class MakespanReport:
    """The trial phase of one campaign, from its results file; times in s.

    `llm_busy_s` counts each HTTP exchange once (the n=k first request of an app's trials is one
    exchange); `device_busy_s` sums evaluation end - start. The rescore evaluation of a trial is not
    stored with its times: it is counted as long as the evaluation of the candidate it measured
    again (`rescores_estimated` of them). Idle times are makespan * workers - busy time.
    `first_evaluation_s` runs from the first trial's start to the first evaluation's start;
    `first_request_s` to the first request reaching the LLM server (NaN when not known).
    """

    trials: int
    llm_exchanges: int
    evaluations: int
    rescores_estimated: int
    makespan_s: float
    llm_busy_s: float
    device_busy_s: float
    llm_bound_s: float
    device_bound_s: float
    longest_chain_s: float
    mean_latency_s: float
    mean_evaluation_s: float
    mean_trial_wait_s: float  # per trial: its wall time minus its own chain (queues, Parsl, driver)
    llm_idle_s: float
    device_idle_s: float
    first_evaluation_s: float
    first_request_s: float = math.nan

    @property
    def lower_bound_s(self) -> float:
        return max(self.llm_bound_s, self.device_bound_s, self.longest_chain_s)

    @property
    def ratio(self) -> float:
        return self.makespan_s / self.lower_bound_s


# ------------------------------------------------------------------------------------------------
# The synthetic apps and the scripted server


def sleeping_main(main_text: str, sleep_s: float) -> str:
    """The tiny app's main.cpp with a sleep of `sleep_s` before the kernel (not editable)."""
    sleep_us = round(sleep_s * 1e6)
    text = main_text.replace("#include <cstdlib>", "#include <cstdlib>\n#include <unistd.h>")
    marker = "  auto start = std::chrono::steady_clock::now();"
    if marker not in text:
        raise MakespanBenchError(
            f"{TINY / 'omp' / 'main.cpp'}: no line {marker.strip()!r} to put the sleep after"
        )
    # The sleep stands for device work of a set length; output stays the same.
    return text.replace(marker, f"{marker}\n  usleep({sleep_us});")


def write_suite(suite: Path, case: MakespanCase) -> list[str]:
    """`case.apps` copies of the tiny app under `suite`, each run sleeping; their names."""
    names = [f"sleepy{index:02d}" for index in range(case.apps)]
    for name in names:
        app = suite / name
        shutil.copytree(TINY, app)
        manifest = app / "app.toml"
        text = manifest.read_text().replace('name = "tiny"', f'name = "{name}"')
        # Little arithmetic per run: the sleep is the device time.
        text = text.replace('["200000", "20"]', '["20000", "2"]')
        manifest.write_text(text)
        main = app / "omp" / "main.cpp"
        main.write_text(sleeping_main(main.read_text(), case.app_sleep_s))
    return names


def padded(words: str, tokens: int) -> str:
    """`words` followed by filler words up to `tokens` words in all (the server counts words)."""
    return " ".join([words, *["filler"] * max(0, tokens - len(words.split()))])


class SyntheticResponder:
    """The scripted server's answers, each `tokens` words long: a valid kernel to a code prompt, a
    valid verdict to a judge prompt, a few words otherwise. Each kernel differs from the original
    by a numbered comment only, so every candidate passes. `arrivals_s` records when each request
    reached the server (host seconds)."""

    def __init__(self, kernel_text: str, tokens: int) -> None:
        self.kernel_text = kernel_text
        self.tokens = tokens
        self.arrivals_s: list[float] = []
        self._candidates = itertools.count(1)

    def __call__(self, request: ScriptedRequest, choice: int) -> Reply:
        if choice == 0:
            self.arrivals_s.append(time.time())
        tokens = self.tokens
        prompt = request.prompt or "\n".join(m.content for m in request.messages)
        if '"verdict"' in prompt:
            text = json.dumps({"verdict": "valid", "reason": padded("ok", tokens - 3)})
        elif "Answer format:" in prompt:
            kernel = self.kernel_text.rstrip()
            fixed_words = len(OPEN_FENCE.split()) + len(kernel.split())
            comment = padded(f"// candidate {next(self._candidates)}:", tokens - fixed_words)
            # The server continues a prompt that already opens the fence after that opening.
            text = f"{OPEN_FENCE}{comment}\n{kernel}\n```"
        else:
            text = padded("The kernel sums a series; compute it once.", tokens)
        return Reply(_cut_at_stop(text, request.body.get("stop")))


def _cut_at_stop(text: str, stops: object) -> str:
    # A real server ends the answer where a stop sequence starts and leaves it out.
    for stop in stops if isinstance(stops, list) else []:
        if isinstance(stop, str) and stop in text:
            text = text[: text.index(stop)]
    return text


def write_configs(
    work: Path, url: str, case: MakespanCase, apps: Sequence[str]
) -> tuple[Path, Path]:
    """The campaign and site files of the synthetic campaign, in `work`."""
    app_entries = "".join(f'\n[[apps]]\nname = "{name}"\n' for name in apps)
    campaign = work / "campaign.toml"
    campaign.write_text(
        f"""
[campaign]
name = "makespan"
suite = "examples"
suite_path = "suite"
results_dir = "results"
trials = {case.trials}
strategies = ["{STRATEGY}"]
{app_entries}
[measure]
repetitions = 1
min_window_s = 0.0
idle_s = 0.0
max_start_delay_s = 0.0

[llm]
generator = "scripted"
max_tokens = 512
timeout_s = 60
retries = 1

[refine]
max_iterations = {case.iterations}
patience = {case.iterations}
max_fix_attempts = 1
judge = true
rescore = true
"""
    )
    site = work / "site.toml"
    site.write_text(
        f"""
[site]
name = "makespan-bench"
scheduler = "local"
scratch_dir = "{work / "scratch"}"

[toolchains.gcc-omp]
language = "omp"
compiler = "g++"
make_vars = {{ CC = "g++" }}

[[partitions]]
name = "{PARTITION}"
toolchain = "gcc-omp"
device = "cpu"
workers = {case.device_workers}
energy_backend = "estimate"

[llm_servers.scripted]
kind = "external"
api = "completions"
url = "{url}"
model = "scripted-fake"
workers = {case.llm_workers}
"""
    )
    return campaign, site


# ------------------------------------------------------------------------------------------------
# Running the campaign and reading its lower bound


def run_makespan(
    case: MakespanCase, work: Path, progress_stream: TextIO | None = None
) -> MakespanReport:
    """Run the synthetic campaign in `work` (which must be empty) and report its trial phase.

    The campaign's progress lines go to `progress_stream` (discarded when None).
    """
    apps = write_suite(work / "suite", case)
    kernel_text = (TINY / "omp" / "kernel.cpp").read_text()
    responder = SyntheticResponder(kernel_text, case.answer_tokens)
    # The server answers as many requests at once as the site says it can: `workers`.
    with ScriptedLLM(
        responder, delay_per_token_s=case.delay_per_token_s, max_concurrent=case.llm_workers
    ) as server:
        campaign_file, site_file = write_configs(work, server.base_url, case, apps)
        progress = progress_stream if progress_stream is not None else io.StringIO()
        results = run_campaign(load_campaign(campaign_file), load_site(site_file), progress)
    with ResultsReader(results) as reader:
        records = [
            reader.read_trial(row.app, row.variant, row.strategy, row.trial)
            for row in reader.trials()
        ]
    check_as_designed(records, case)
    report = makespan_report(records, case.device_workers, case.llm_workers)
    start_s = min(r.started_at_s for r in records)
    return replace(report, first_request_s=min(responder.arrivals_s) - start_s)


def check_as_designed(records: Sequence[TrialRecord], case: MakespanCase) -> None:
    """MakespanBenchError unless every trial ran and was accepted after exactly `iterations`
    candidates that passed at the first attempt (the workload the figures describe)."""
    expected = case.apps * case.trials
    if len(records) != expected:
        raise MakespanBenchError(f"{len(records)} trials stored, {expected} planned")
    for record in records:
        refactors = [s for s in record.steps if s.purpose == "refactor"]
        passed = [
            s
            for s in refactors
            if s.evaluation is not None and s.evaluation.status is CandidateStatus.PASSED
        ]
        if record.outcome is not TrialOutcome.ACCEPTED or len(passed) != case.iterations:
            raise MakespanBenchError(
                f"trial {record.app} #{record.trial}: {record.outcome.value} with "
                f"{len(passed)} of {case.iterations} candidates passed, not the designed "
                f"workload ({record.reason or 'no reason given'})"
            )


def makespan_report(
    records: Sequence[TrialRecord], device_workers: int, llm_workers: int
) -> MakespanReport:
    """Makespan and lower bound of the trials in `records` (all of one campaign run)."""
    if not records:
        raise MakespanBenchError("makespan_report needs at least one trial record")
    shared: dict[tuple[str, str, str, int], float] = {}
    own_latencies_s: list[float] = []
    evaluations_s: list[float] = []
    rescores = 0
    chains_s: list[float] = []
    waits_s: list[float] = []
    for record in records:
        chain_s = 0.0
        for index, step in enumerate(record.steps):
            latency_s = step.response.latency_s
            chain_s += latency_s
            if index == 0:
                # The first requests of an app's k trials went as one n=k exchange, whose seed
                # and latency every one of its choices carries: count one per seed.
                key = (record.app, record.variant, record.strategy.value, step.response.seed)
                shared[key] = latency_s
            else:
                own_latencies_s.append(latency_s)
            if step.evaluation is not None:
                evaluation_s = step.evaluation.ended_at_s - step.evaluation.started_at_s
                evaluations_s.append(evaluation_s)
                chain_s += evaluation_s
        if record.rescore is not None and record.best_step >= 0:
            best = record.steps[record.best_step].evaluation
            assert best is not None
            rescores += 1
            evaluations_s.append(best.ended_at_s - best.started_at_s)
            chain_s += best.ended_at_s - best.started_at_s
        chains_s.append(chain_s)
        waits_s.append(record.ended_at_s - record.started_at_s - chain_s)
    latencies_s = own_latencies_s + list(shared.values())
    start_s = min(r.started_at_s for r in records)
    makespan_s = max(r.ended_at_s for r in records) - start_s
    evaluation_starts_s = [
        s.evaluation.started_at_s for r in records for s in r.steps if s.evaluation is not None
    ]
    device_busy_s = sum(evaluations_s)
    return MakespanReport(
        trials=len(records),
        llm_exchanges=len(latencies_s),
        evaluations=len(evaluations_s),
        rescores_estimated=rescores,
        makespan_s=makespan_s,
        llm_busy_s=sum(latencies_s),
        device_busy_s=device_busy_s,
        llm_bound_s=sum(latencies_s) / llm_workers,
        device_bound_s=device_busy_s / device_workers,
        longest_chain_s=max(chains_s),
        mean_latency_s=statistics.fmean(latencies_s),
        mean_evaluation_s=statistics.fmean(evaluations_s) if evaluations_s else 0.0,
        mean_trial_wait_s=statistics.fmean(waits_s),
        llm_idle_s=makespan_s * llm_workers - sum(latencies_s),
        device_idle_s=makespan_s * device_workers - device_busy_s,
        first_evaluation_s=min(evaluation_starts_s, default=math.nan) - start_s,
    )


def format_report(case: MakespanCase, report: MakespanReport) -> str:
    """The case and its figures as a Markdown table."""
    rows = [
        ("case", f"{case.apps} apps x {case.trials} trials x {case.iterations} iterations"),
        ("LLM answer", f"{case.answer_s:.3f} s ({case.answer_tokens} tokens)"),
        ("app sleep per run", f"{case.app_sleep_s:.3f} s"),
        ("workers", f"{case.device_workers} device, {case.llm_workers} LLM"),
        ("trials", str(report.trials)),
        ("LLM exchanges", str(report.llm_exchanges)),
        ("evaluations", f"{report.evaluations} ({report.rescores_estimated} rescores estimated)"),
        ("mean LLM latency", f"{report.mean_latency_s:.3f} s"),
        ("mean evaluation", f"{report.mean_evaluation_s:.3f} s"),
        ("LLM busy / workers", f"{report.llm_busy_s:.1f} s / {case.llm_workers}"),
        ("device busy / workers", f"{report.device_busy_s:.1f} s / {case.device_workers}"),
        ("longest trial chain", f"{report.longest_chain_s:.1f} s"),
        ("lower bound", f"{report.lower_bound_s:.1f} s"),
        ("makespan", f"{report.makespan_s:.1f} s"),
        ("makespan / lower bound", f"{report.ratio:.3f}"),
        ("LLM idle (workers x makespan - busy)", f"{report.llm_idle_s:.1f} s"),
        ("device idle (workers x makespan - busy)", f"{report.device_idle_s:.1f} s"),
        ("first LLM request at the server", f"+{report.first_request_s:.1f} s"),
        ("first evaluation started", f"+{report.first_evaluation_s:.1f} s"),
        ("mean trial wait (wall - chain)", f"{report.mean_trial_wait_s:.1f} s"),
    ]
    return "\n".join(["| figure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def parse_case(argv: Sequence[str] | None = None) -> tuple[MakespanCase, Path | None, bool]:
    """The case, the directory to keep (None: a temporary one) and whether to show progress."""
    default = MakespanCase()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=default.apps)
    parser.add_argument("--trials", type=int, default=default.trials)
    parser.add_argument("--iterations", type=int, default=default.iterations)
    parser.add_argument("--answer-tokens", type=int, default=default.answer_tokens)
    parser.add_argument("--delay-per-token-s", type=float, default=default.delay_per_token_s)
    parser.add_argument("--app-sleep-s", type=float, default=default.app_sleep_s)
    parser.add_argument("--device-workers", type=int, default=default.device_workers)
    parser.add_argument("--llm-workers", type=int, default=default.llm_workers)
    parser.add_argument(
        "--keep", type=Path, default=None, help="run in this (new) directory and keep it"
    )
    parser.add_argument(
        "--progress", action="store_true", help="show the campaign's progress on stderr"
    )
    args = parser.parse_args(argv)
    case = MakespanCase(
        apps=args.apps,
        trials=args.trials,
        iterations=args.iterations,
        answer_tokens=args.answer_tokens,
        delay_per_token_s=args.delay_per_token_s,
        app_sleep_s=args.app_sleep_s,
        device_workers=args.device_workers,
        llm_workers=args.llm_workers,
    )
    return case, args.keep, args.progress


def main(argv: Sequence[str] | None = None) -> None:
    case, keep, show_progress = parse_case(argv)
    progress = sys.stderr if show_progress else None
    # Other work on the machine slows builds and the driver: the load shows whether there was any.
    load_before = os.getloadavg()[0]
    if keep is not None:
        keep.mkdir(parents=True)
        report = run_makespan(case, keep, progress)
    else:
        with tempfile.TemporaryDirectory(prefix="lassi-makespan-") as work:
            report = run_makespan(case, Path(work), progress)
    print(format_report(case, report))
    verdict = "met" if report.ratio <= TARGET_RATIO else "NOT met"
    print(
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, 1-minute load average "
        f"{load_before:.2f} before and {os.getloadavg()[0]:.2f} after; "
        f"target makespan / lower bound <= {TARGET_RATIO}: {verdict}"
    )


if __name__ == "__main__":
    main()
