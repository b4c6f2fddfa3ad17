"""classify: how an ended command maps onto FailureKind, for statuses hard to provoke for real."""

from __future__ import annotations

import os
import signal

from lassi_hpc.records import FailureKind, SandboxLimits
from lassi_hpc.sandbox.classify import Outcome, classify

WRAPPERS = ("prlimit: ", "setpriv: ", "bwrap: ")


def exited(code: int) -> int:
    return (code & 0xFF) << 8  # a wait status for a normal exit


def killed(signum: int) -> int:
    return signum  # a wait status for death by signal, without core dump


def outcome(status: int, stderr: str = "", **changes: object) -> Outcome:
    fields: dict[str, object] = {
        "wait_status": status,
        "timed_out": False,
        "overflow_stream": "",
        "stderr": stderr,
        "cpu_s": 0.0,
        "exit_status_carries_signal": False,
        "wrapper_error_prefixes": WRAPPERS,
    }
    fields.update(changes)
    return Outcome(**fields)  # type: ignore[arg-type]


def test_wait_status_helpers_match_the_kernel_encoding() -> None:
    assert os.waitstatus_to_exitcode(exited(3)) == 3
    assert os.waitstatus_to_exitcode(killed(signal.SIGSEGV)) == -signal.SIGSEGV


def test_bwrap_setup_error_is_a_sandbox_failure() -> None:
    verdict = classify(
        outcome(exited(1), "bwrap: Can't find source path /x: No such file or directory\n"),
        SandboxLimits(),
    )
    assert verdict.failure is FailureKind.SANDBOX
    assert "Can't find source path" in verdict.detail
    assert verdict.returncode is None


def test_failed_privilege_drop_is_a_sandbox_failure() -> None:
    # setpriv exits 127 when a privilege change fails; that must not read as "command not found".
    verdict = classify(
        outcome(exited(127), "setpriv: setresuid failed: Operation not permitted\n"),
        SandboxLimits(),
    )
    assert verdict.failure is FailureKind.SANDBOX
    assert "setresuid failed" in verdict.detail


def test_command_not_found_is_the_commands_exit_code() -> None:
    verdict = classify(
        outcome(exited(127), "prlimit: failed to execute ./a.out: No such file or directory\n"),
        SandboxLimits(),
    )
    assert verdict.failure is FailureKind.EXIT_CODE
    assert verdict.returncode == 127


def test_a_command_exiting_1_with_ordinary_stderr_is_exit_code() -> None:
    verdict = classify(outcome(exited(1), "error: bad input\n"), SandboxLimits())
    assert verdict.failure is FailureKind.EXIT_CODE
    assert verdict.detail == "exit code 1"


def test_exit_status_128_plus_n_is_a_signal_only_behind_a_reaper() -> None:
    behind = classify(outcome(exited(139), exit_status_carries_signal=True), SandboxLimits())
    assert behind.failure is FailureKind.SIGNAL
    assert "SIGSEGV" in behind.detail
    assert behind.returncode == -11
    direct = classify(outcome(exited(139)), SandboxLimits())
    assert direct.failure is FailureKind.EXIT_CODE
    assert direct.returncode == 139


def test_fork_refusals_explain_a_timeout() -> None:
    verdict = classify(
        outcome(
            killed(signal.SIGKILL), "sh: fork: Resource temporarily unavailable\n", timed_out=True
        ),
        SandboxLimits(wall_s=2, processes=16),
    )
    assert verdict.failure is FailureKind.PROCESS_LIMIT
    assert "process limit of 16" in verdict.detail
    assert "wall-clock limit 2 s" in verdict.detail


def test_plain_timeout() -> None:
    verdict = classify(outcome(killed(signal.SIGKILL), timed_out=True), SandboxLimits(wall_s=2.0))
    assert verdict.failure is FailureKind.TIMEOUT
    assert verdict.detail == "wall-clock limit 2 s reached; process tree killed"


def test_sigkill_after_the_cpu_limit_is_cpu_limit() -> None:
    limits = SandboxLimits(cpu_s=3)
    at_limit = classify(outcome(killed(signal.SIGKILL), cpu_s=3.2), limits)
    assert at_limit.failure is FailureKind.CPU_LIMIT
    early = classify(outcome(killed(signal.SIGKILL), cpu_s=0.1), limits)
    assert early.failure is FailureKind.SIGNAL
    assert "SIGKILL" in early.detail


def test_efbig_write_error_is_file_size_limit() -> None:
    verdict = classify(outcome(exited(1), "write: File too large\n"), SandboxLimits())
    assert verdict.failure is FailureKind.FILE_SIZE_LIMIT
    assert verdict.returncode == 1


def test_bad_alloc_counts_as_memory_limit_only_when_one_is_set() -> None:
    stderr = "terminate called after throwing an instance of 'std::bad_alloc'\n"
    limited = classify(outcome(killed(signal.SIGABRT), stderr), SandboxLimits(memory_bytes=2**30))
    assert limited.failure is FailureKind.MEMORY_LIMIT
    unlimited = classify(outcome(killed(signal.SIGABRT), stderr), SandboxLimits(memory_bytes=0))
    assert unlimited.failure is FailureKind.SIGNAL
    assert "SIGABRT" in unlimited.detail


def test_output_overflow_wins() -> None:
    verdict = classify(
        outcome(killed(signal.SIGKILL), overflow_stream="stderr"), SandboxLimits(output_bytes=10)
    )
    assert verdict.failure is FailureKind.OUTPUT_LIMIT
    assert verdict.detail.startswith("stderr passed the output limit of 10 bytes")
    assert verdict.returncode is None


def test_success() -> None:
    verdict = classify(outcome(exited(0), "Resource temporarily unavailable\n"), SandboxLimits())
    assert verdict.failure is None
    assert verdict.detail == ""
    assert verdict.returncode == 0
