"""`lassi-hpc check SITE` on a Slurm site: would every job the campaign submits be accepted?

A dry run: each job's request (the #SBATCH lines of a Parsl block, the LLM node, the driver) is
compared with what `sinfo` says the partition offers, then handed to `sbatch --test-only`, which
makes the controller check partition, account, QOS, walltime and GRES and answer when the job
would start, without submitting anything. No allocation hours are spent.
"""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lassi_hpc.config.site import walltime_s

Runner = Callable[[Sequence[str], str], "subprocess.CompletedProcess[str]"]
"""Runs argv with the given stdin text, capturing text output (tests pass a fake one)."""


@dataclass(frozen=True)
class JobRequest:
    """One kind of job the campaign submits: `label` for people, its #SBATCH lines in order."""

    label: str
    partition: str
    walltime: str
    gres: str  # "" = no GPUs, else gpu[:type]:count
    sbatch_lines: tuple[str, ...]


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    subject: str
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.subject}: {self.detail}"


def run_command(argv: Sequence[str], stdin_text: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(argv), input=stdin_text, capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(list(argv), 124, "", f"{argv[0]}: no answer in 60 s")


def check_requests(requests: Sequence[JobRequest], run: Runner | None = None) -> list[CheckResult]:
    """Per request: what sinfo says of its partition, then `sbatch --test-only`'s verdict.
    `run` defaults to running the real Slurm commands, which must then be on PATH."""
    missing = [tool for tool in ("sinfo", "sbatch") if shutil.which(tool) is None]
    if run is None and missing:
        return [
            CheckResult(
                False,
                "slurm",
                f"{' and '.join(missing)} not on PATH: run the check on a login node of the site",
            )
        ]
    run = run or run_command
    results = []
    for request in requests:
        results.append(_check_partition(request, run))
        results.append(_test_only(request, run))
    return results


def _check_partition(request: JobRequest, run: Runner) -> CheckResult:
    subject = f"{request.label} partition {request.partition!r}"
    done = run(["sinfo", "--noheader", "-p", request.partition, "-o", "%a|%l|%G"], "")
    rows = [line.split("|") for line in done.stdout.splitlines() if line.count("|") == 2]
    if done.returncode != 0 or not rows:
        detail = done.stderr.strip() or "sinfo lists no such partition"
        return CheckResult(False, subject, detail + _partitions_hint(request.partition, run))
    problems = []
    if all(state != "up" for state, _, _ in rows):
        problems.append(f"state {rows[0][0]}")
    limits = {limit for _, limit, _ in rows}
    wanted_s = walltime_s(request.walltime)
    limits_s = [_limit_s(limit) for limit in limits]
    finite_s = [seconds for seconds in limits_s if seconds is not None]
    if finite_s and len(finite_s) == len(limits_s) and wanted_s > max(finite_s):
        problems.append(f"walltime {request.walltime} exceeds the limit {'/'.join(limits)}")
    if request.gres:
        offered = max((_gres_count(gres, request.gres) for _, _, gres in rows), default=0)
        needed = int(request.gres.rsplit(":", 1)[1])
        if offered < needed:
            problems.append(
                f"asks {request.gres} per node but its nodes offer "
                f"{', '.join(sorted({gres for _, _, gres in rows}))}"
            )
    if problems:
        return CheckResult(False, subject, "; ".join(problems))
    gres = ", ".join(sorted({gres for _, _, gres in rows}))
    return CheckResult(True, subject, f"up, time limit {'/'.join(sorted(limits))}, gres {gres}")


def _partitions_hint(wanted: str, run: Runner) -> str:
    """The cluster's partitions, the likeliest misspelling first: a typo is the usual cause."""
    done = run(["sinfo", "--noheader", "-o", "%R"], "")
    known = list(dict.fromkeys(line.strip() for line in done.stdout.splitlines() if line.strip()))
    if done.returncode != 0 or not known:
        return ""
    close = difflib.get_close_matches(wanted, known, n=1)
    guess = f"; did you mean {close[0]!r}?" if close else ""
    return f"{guess}; sinfo lists: {', '.join(known)}"


def _test_only(request: JobRequest, run: Runner) -> CheckResult:
    subject = f"{request.label} request"
    script = "\n".join(["#!/bin/bash", *request.sbatch_lines, "true", ""])
    done = run(["sbatch", "--test-only"], script)
    answer = (done.stderr.strip() or done.stdout.strip()).splitlines()
    last = answer[-1] if answer else f"exit status {done.returncode}"
    return CheckResult(done.returncode == 0, subject, f"sbatch --test-only: {last}")


_LIMIT = re.compile(r"^(?:(\d+)-)?(\d+(?::\d+){0,2})$")


def _limit_s(limit: str) -> int | None:
    """Seconds of sinfo's %l: "2-00:00:00", "1:00:00", "30:00" (MM:SS), "45" (minutes);
    None for "infinite" or anything else."""
    match = _LIMIT.match(limit)
    if match is None:
        return None
    days, clock = match.groups()
    parts = [int(part) for part in clock.split(":")]
    if len(parts) == 1:
        parts = [0, parts[0], 0]
    elif len(parts) == 2:
        parts = [0, *parts]
    hours, minutes, seconds = parts
    return ((int(days or 0) * 24 + hours) * 60 + minutes) * 60 + seconds


def _gres_count(offered: str, wanted: str) -> int:
    """How many of `wanted`'s GPUs (gpu[:type]:n) one node offering `offered` (sinfo %G) has."""
    kind = wanted.split(":")[1] if wanted.count(":") == 2 else ""
    total = 0
    for item in offered.split(","):
        fields = item.split("(")[0].split(":")
        if fields[0] != "gpu" or len(fields) < 2:
            continue
        count = int(fields[-1]) if fields[-1].isdigit() else 0
        if not kind or (len(fields) == 3 and fields[1] == kind):
            total += count
    return total
