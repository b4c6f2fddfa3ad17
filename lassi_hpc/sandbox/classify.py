"""Turn how a sandboxed command ended into a FailureKind and a sentence a person can act on."""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass

from lassi_hpc.records import FailureKind, SandboxLimits
from lassi_hpc.sandbox.limits import cpu_limit_s

# strerror(EAGAIN): what fork(), clone() and pthread_create() report when RLIMIT_NPROC refuses a
# new task (bash: "fork: retry: Resource temporarily unavailable", libgomp: "Thread creation
# failed: Resource temporarily unavailable", std::thread: std::system_error with the same text).
_FORK_REFUSED = re.compile(r"Resource temporarily unavailable")
_MEMORY_REFUSED = re.compile(r"std::bad_alloc|Cannot allocate memory|[Oo]ut of memory|ENOMEM")
_FILE_TOO_LARGE = re.compile(r"File too large")
# util-linux prints this when the command itself cannot be executed: that is the command's fault
# (exit status 126/127, like a shell), not the sandbox's.
_EXEC_FAILED = "prlimit: failed to execute"
_MAX_SIGNAL = 64


@dataclass(frozen=True)
class Outcome:
    """How the direct child ended, as observed by run_sandboxed."""

    wait_status: int  # raw status from os.wait4
    timed_out: bool
    overflow_stream: str  # "stdout", "stderr" or ""
    stderr: str
    cpu_s: float
    exit_status_carries_signal: bool  # a wrapper reports signal N as exit status 128 + N
    wrapper_error_prefixes: tuple[str, ...]


@dataclass(frozen=True)
class Classification:
    failure: FailureKind | None
    detail: str
    returncode: int | None  # the command's exit code, -N for signal N, None if it has none


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _first_line(text: str, pattern: re.Pattern[str]) -> str:
    for line in text.splitlines():
        if pattern.search(line):
            return line.strip()[:200]
    return ""


def _wrapper_error(outcome: Outcome, code: int) -> str:
    """The wrapper's own error line when bwrap/unshare/setpriv/prlimit failed before the command."""
    # Exit status 1 for usage errors, 127 for setpriv's failed privilege changes; any non-zero.
    lines = outcome.stderr.lstrip().splitlines()
    if code == 0 or not lines or lines[0].startswith(_EXEC_FAILED):
        return ""
    return lines[0] if lines[0].startswith(outcome.wrapper_error_prefixes) else ""


def classify(outcome: Outcome, limits: SandboxLimits) -> Classification:
    """The FailureKind (None for success), a human-readable detail, and the return code.

    Precedence: output limit, sandbox failure, process limit (fork refusals also explain a later
    timeout), timeout, then the command's own status: CPU limit, file-size limit, memory limit,
    other signal, non-zero exit code.
    """
    code = os.waitstatus_to_exitcode(outcome.wait_status)
    signum = -code if code < 0 else 0
    via_exit_status = False
    if not signum and outcome.exit_status_carries_signal and 128 < code <= 128 + _MAX_SIGNAL:
        signum, via_exit_status = code - 128, True
    returncode = -signum if signum else code

    if outcome.overflow_stream:
        return Classification(
            FailureKind.OUTPUT_LIMIT,
            f"{outcome.overflow_stream} passed the output limit of {limits.output_bytes} bytes; "
            "process tree killed",
            None,
        )
    if not outcome.timed_out and (line := _wrapper_error(outcome, code)):
        return Classification(
            FailureKind.SANDBOX, f"the sandbox could not start the command: {line}", None
        )
    fork_line = _first_line(outcome.stderr, _FORK_REFUSED)
    process_detail = (
        f"process limit of {limits.processes} tasks reached (threads count too): "
        f"fork/thread creation refused ({fork_line!r})"
    )
    if outcome.timed_out:
        timeout = f"wall-clock limit {limits.wall_s:g} s reached; process tree killed"
        if fork_line:
            return Classification(FailureKind.PROCESS_LIMIT, f"{process_detail}; {timeout}", None)
        return Classification(FailureKind.TIMEOUT, timeout, None)
    if code == 0:
        return Classification(None, "", 0)
    if fork_line:
        return Classification(FailureKind.PROCESS_LIMIT, process_detail, returncode)

    name = _signal_name(signum) if signum else ""
    how = f" (reported as exit status {code})" if via_exit_status else ""
    cpu_soft_s, _ = cpu_limit_s(limits)
    if signum == signal.SIGXCPU or (signum == signal.SIGKILL and outcome.cpu_s >= cpu_soft_s):
        return Classification(
            FailureKind.CPU_LIMIT,
            f"CPU-time limit of {cpu_soft_s} s per process reached: killed by {name}{how}",
            returncode,
        )
    if signum == signal.SIGXFSZ:
        return Classification(
            FailureKind.FILE_SIZE_LIMIT,
            f"file-size limit of {limits.file_size_bytes} bytes reached: killed by {name}{how}",
            returncode,
        )
    if file_line := _first_line(outcome.stderr, _FILE_TOO_LARGE):
        return Classification(
            FailureKind.FILE_SIZE_LIMIT,
            f"file-size limit of {limits.file_size_bytes} bytes reached: a write failed "
            f"({file_line!r}); exit code {code}",
            returncode,
        )
    memory_line = _first_line(outcome.stderr, _MEMORY_REFUSED)
    if limits.memory_bytes > 0 and memory_line:
        return Classification(
            FailureKind.MEMORY_LIMIT,
            f"memory limit of {limits.memory_bytes} bytes (address space) reached: "
            f"allocation refused ({memory_line!r})",
            returncode,
        )
    if signum:
        return Classification(
            FailureKind.SIGNAL, f"killed by signal {name} ({signum}){how}", returncode
        )
    hint = {126: " (command not executable)", 127: " (command not found)"}.get(code, "")
    return Classification(FailureKind.EXIT_CODE, f"exit code {code}{hint}", returncode)
