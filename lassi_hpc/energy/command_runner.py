"""Run a plain command once for `lassi-hpc measure`: no sandbox, output passed on or dropped."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from typing import Literal

from lassi_hpc.records import CommandResult, FailureKind

OutputMode = Literal["stderr", "discard"]


def run_command_once(argv: Sequence[str], output: OutputMode = "stderr") -> CommandResult:
    """Run `argv` to completion; its CommandResult with host start/end times and its CPU seconds.

    The command's stdout and stderr both go to our stderr ("stderr"), so that our stdout carries
    only the measurement (a `--json` document stays parseable), or to /dev/null ("discard").
    CPU time is the child's user + system time from wait4(2), children it waited for included.
    """
    target = None if output == "stderr" else subprocess.DEVNULL
    stdout = 2 if target is None else target
    started_at_s = time.time()
    try:
        process = subprocess.Popen(list(argv), stdout=stdout, stderr=target)
    except OSError as error:
        ended_at_s = time.time()
        return _result(
            argv, None, 0.0, started_at_s, ended_at_s, FailureKind.SANDBOX, f"cannot start: {error}"
        )
    _, status, usage = os.wait4(process.pid, 0)
    ended_at_s = time.time()
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu_s = usage.ru_utime + usage.ru_stime
    code = process.returncode
    if code == 0:
        return _result(argv, code, cpu_s, started_at_s, ended_at_s, None, "")
    detail = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
    kind = FailureKind.SIGNAL if code < 0 else FailureKind.EXIT_CODE
    return _result(argv, code, cpu_s, started_at_s, ended_at_s, kind, detail)


def _result(
    argv: Sequence[str],
    returncode: int | None,
    cpu_s: float,
    started_at_s: float,
    ended_at_s: float,
    failure: FailureKind | None,
    detail: str,
) -> CommandResult:
    return CommandResult(
        argv=tuple(argv),
        cwd=os.getcwd(),
        returncode=returncode,
        stdout="",
        stderr="",
        wall_s=ended_at_s - started_at_s,
        cpu_s=cpu_s,
        started_at_s=started_at_s,
        ended_at_s=ended_at_s,
        failure=failure,
        failure_detail=detail,
        isolation="none",
    )
