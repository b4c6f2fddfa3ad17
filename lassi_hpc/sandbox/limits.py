"""Turn SandboxLimits into resource limits (rlimits) applied by util-linux `prlimit`.

The limits are applied by exec'ing through `prlimit` rather than in a Python preexec_fn: preexec_fn
is documented as unsafe when other threads exist (runs may be concurrent), and under bwrap/unshare
the limits must be set *inside* the new user namespace, after it exists, for RLIMIT_NPROC to count
only that namespace's processes (the kernel checks the outer user against the limit that was in
force when the namespace was created).
"""

from __future__ import annotations

import math

import psutil

from lassi_hpc.records import SandboxLimits


def validate_limits(limits: SandboxLimits) -> None:
    """Raise ValueError for limits that cannot be meant (zero or negative, except memory_bytes)."""
    positive = {
        "wall_s": limits.wall_s,
        "cpu_s": limits.cpu_s,
        "file_size_bytes": limits.file_size_bytes,
        "processes": limits.processes,
        "output_bytes": limits.output_bytes,
    }
    for name, value in positive.items():
        if not value > 0:
            raise ValueError(f"SandboxLimits.{name} must be > 0, got {value!r}")
    if limits.memory_bytes < 0:
        raise ValueError(
            f"SandboxLimits.memory_bytes must be >= 0 (0 disables it), got {limits.memory_bytes!r}"
        )


def cpu_limit_s(limits: SandboxLimits) -> tuple[int, int]:
    """(soft, hard) RLIMIT_CPU in whole seconds: SIGXCPU at soft, SIGKILL one second later."""
    soft = max(1, math.ceil(limits.cpu_s))
    return soft, soft + 1


def prlimit_prefix(prlimit: str, limits: SandboxLimits, nproc: int) -> list[str]:
    """`prlimit ... --` applying every limit; `nproc` is the RLIMIT_NPROC value to set.

    RLIMIT_AS is set only when memory_bytes > 0: CUDA and HIP runtimes reserve tens to hundreds of
    GiB of virtual address space at start-up, so GPU partitions set memory_bytes = 0.
    """
    soft, hard = cpu_limit_s(limits)
    argv = [
        prlimit,
        f"--cpu={soft}:{hard}",
        f"--fsize={limits.file_size_bytes}",
        f"--nproc={nproc}",
        "--core=0",
    ]
    if limits.memory_bytes > 0:
        argv.append(f"--as={limits.memory_bytes}")
    argv.append("--")
    return argv


def tasks_of_uid(uid: int) -> int:
    """Number of tasks (threads included, as RLIMIT_NPROC counts them) that `uid` runs now."""
    total = 0
    for proc in psutil.process_iter(["uids", "num_threads"]):
        uids = proc.info["uids"]
        threads = proc.info["num_threads"]
        if uids is not None and uids.real == uid and threads is not None:
            total += int(threads)
    return total
