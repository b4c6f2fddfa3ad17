"""How busy the rest of the host was while a workload was measured.

A CPU meter (RAPL's package counter, or the estimate from CPU time) cannot tell the workload's
energy from that of whatever else runs on the host: on the local site a compile-only build or the
embedded LLM server may work beside a measurement. The kernel's /proc/stat says how much CPU time
the whole host spent; less the workload's own CPU time, that is the other processes' share.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")

# Above this many cores of other work, on average over a window, a CPU measurement is flagged:
# the sampler and the harness themselves stay well below it.
HOST_BUSY_CORES = 0.5

# /proc/stat's aggregate "cpu" line: user nice system idle iowait irq softirq steal guest
# guest_nice. Busy = all but idle and iowait; guest time is already counted in user and nice.
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)


def busy_cpu_s_from_proc_stat(text: str, ticks_per_s: float) -> float | None:
    """CPU seconds the host has spent busy since boot, from /proc/stat's text; None when its
    aggregate line is missing or malformed."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            try:
                ticks = [int(value) for value in fields[1:]]
            except ValueError:
                return None
            if len(ticks) < max(_BUSY_FIELDS) + 1:
                return None
            return sum(ticks[i] for i in _BUSY_FIELDS) / ticks_per_s
    return None


def read_host_busy_cpu_s() -> float | None:
    """The host's busy CPU seconds since boot; None where /proc/stat cannot be read."""
    try:
        text = PROC_STAT.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return busy_cpu_s_from_proc_stat(text, float(os.sysconf("SC_CLK_TCK")))


def unknown_host_busy_cpu_s() -> None:
    """A reader that knows nothing: for workloads that are not real processes (tests' fakes)."""
    return None


@dataclass(frozen=True)
class LoadMark:
    monotonic_s: float
    busy_cpu_s: float | None


def load_mark(read_busy_cpu_s: Callable[[], float | None]) -> LoadMark:
    return LoadMark(time.monotonic(), read_busy_cpu_s())


def other_cores(start: LoadMark, end: LoadMark, own_cpu_s: float) -> float:
    """Mean number of cores the host spent on other work between two marks, given the measured
    workload's own CPU seconds; NaN when unknown. Real time is used, never a test clock."""
    elapsed_s = end.monotonic_s - start.monotonic_s
    if start.busy_cpu_s is None or end.busy_cpu_s is None or elapsed_s <= 0:
        return float("nan")
    return max(0.0, end.busy_cpu_s - start.busy_cpu_s - own_cpu_s) / elapsed_s
