"""The host's busy CPU time from /proc/stat, and the other processes' share of a window."""

from __future__ import annotations

import math

import pytest

from lassi_hpc.energy.host_load import (
    LoadMark,
    busy_cpu_s_from_proc_stat,
    other_cores,
    read_host_busy_cpu_s,
)

# user nice system idle iowait irq softirq steal guest guest_nice
PROC_STAT = """cpu  1000 20 300 9000 400 5 6 7 50 0
cpu0 500 10 150 4500 200 2 3 3 25 0
intr 12345 0 0
"""


def test_busy_time_counts_all_but_idle_and_iowait_and_not_guest_twice() -> None:
    assert busy_cpu_s_from_proc_stat(PROC_STAT, 100.0) == pytest.approx(
        (1000 + 20 + 300 + 5 + 6 + 7) / 100.0
    )


@pytest.mark.parametrize(
    "text", ["", "cpu0 1 2 3 4 5 6 7 8\n", "cpu 1 2 x 4 5 6 7 8\n", "cpu 1 2\n"]
)
def test_a_missing_or_malformed_aggregate_line_gives_none(text: str) -> None:
    assert busy_cpu_s_from_proc_stat(text, 100.0) is None


def test_this_host_can_be_read() -> None:
    busy_s = read_host_busy_cpu_s()
    assert busy_s is not None and busy_s > 0


def test_other_cores_subtracts_the_workloads_own_time() -> None:
    start, end = LoadMark(10.0, 100.0), LoadMark(12.0, 103.0)
    assert other_cores(start, end, own_cpu_s=2.0) == pytest.approx(0.5)
    assert other_cores(start, end, own_cpu_s=5.0) == 0.0  # never negative
    assert math.isnan(other_cores(LoadMark(10.0, None), end, 0.0))
    assert math.isnan(other_cores(end, end, 0.0))  # no time passed
