"""The labelling rule and the choice of invocation."""

from __future__ import annotations

import math

import pytest

from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.label import (
    NO_TRAFFIC_REASON,
    arithmetic_intensity,
    fastest_invocations,
    label_profile,
)
from lassi_hpc.roofline.records import BalancePoints, KernelProfile

RTX3080_PAPER = BalancePoints(32.97, 0.52, 16.49)


def profile(
    sp: int = 0, dp: int = 0, integer: int = 0, dram: int = 1000, invocation: int = 1,
    duration_s: float = 1e-3, kernel: str = "k",
) -> KernelProfile:  # fmt: skip
    return KernelProfile(kernel, invocation, duration_s, sp, dp, integer, dram, "gpu")


def test_below_every_balance_point_is_bandwidth_bound() -> None:
    label = label_profile(profile(sp=32_000, dp=500, integer=16_000), RTX3080_PAPER, "paper")
    assert label.label == "Bandwidth"
    assert label.sp_ai_op_per_byte == pytest.approx(32.0)
    assert label.reason == ""


@pytest.mark.parametrize(
    "counts",
    [(33_000, 0, 0), (0, 520, 0), (0, 0, 16_490)],  # at the point counts as compute
)
def test_one_precision_at_or_above_its_point_is_compute_bound(counts: tuple[int, int, int]) -> None:
    sp, dp, integer = counts
    assert label_profile(profile(sp, dp, integer), RTX3080_PAPER, "paper").label == "Compute"


def test_zero_bytes_is_compute_bound_with_a_reason() -> None:
    label = label_profile(profile(sp=10, dram=0), RTX3080_PAPER, "paper")
    assert label.label == "Compute"
    assert label.reason == NO_TRAFFIC_REASON
    assert math.isinf(label.sp_ai_op_per_byte)
    assert label.dp_ai_op_per_byte == 0.0


def test_zero_work_everywhere_is_bandwidth_bound() -> None:
    assert label_profile(profile(dram=64), RTX3080_PAPER, "paper").label == "Bandwidth"
    assert arithmetic_intensity(0, 0) == 0.0


def test_negative_counts_are_refused() -> None:
    with pytest.raises(RooflineError, match="negative"):
        label_profile(profile(sp=-1), RTX3080_PAPER, "paper")


def test_the_faster_of_the_first_two_invocations_is_kept() -> None:
    profiles = [
        profile(kernel="a", invocation=1, duration_s=3.0),
        profile(kernel="b", invocation=1, duration_s=1.0),
        profile(kernel="a", invocation=2, duration_s=2.0),
        profile(kernel="a", invocation=3, duration_s=0.5),  # third: not considered
    ]
    kept = fastest_invocations(profiles)
    assert [(p.kernel, p.invocation) for p in kept] == [("a", 2), ("b", 1)]
