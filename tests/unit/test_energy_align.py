"""Device timestamps onto the host clock: the offset is the tightest one the ticks allow, never
below the truth, and within the documented bound."""

from __future__ import annotations

import math
import random

import pytest

from lassi_hpc.energy.align import (
    align_device_times,
    device_clock_offset_s,
    read_stamp_error_bound_s,
    shift_times,
)

NVML_EPOCH_SKEW_S = 0.0123  # a device whose idea of "since 1970" is a little ahead
AMD_BOOT_OFFSET_S = 1_700_000_000.0  # ns since boot / 1e9: the boot time is the offset


def simulated_ticks(
    true_offset_s: float, seed: int, ticks: int = 200
) -> tuple[list[float], list[float], list[float]]:
    """Ticks of a device that stamps each value at the moment it is read (AMD-like)."""
    rng = random.Random(seed)
    before, after, device = [], [], []
    host_s = 1_795_000_000.0
    for _ in range(ticks):
        host_s += 0.01
        read_s = host_s + rng.uniform(0.0, 2e-4)
        before.append(host_s)
        after.append(read_s + rng.uniform(0.0, 3e-4))
        device.append(read_s - true_offset_s)
    return device, before, after


def test_offset_is_the_smallest_gap_between_host_after_and_device_time() -> None:
    device = [10.0, 11.0, 12.0]
    after = [110.5, 111.2, 112.9]
    assert device_clock_offset_s(device, after) == pytest.approx(100.2)
    assert align_device_times(device, [109.0, 110.0, 111.0], after) == pytest.approx(
        (110.2, 111.2, 112.2)
    )


@pytest.mark.parametrize("true_offset_s", [-NVML_EPOCH_SKEW_S, AMD_BOOT_OFFSET_S])
def test_aligned_times_are_never_early_and_late_by_at_most_the_bound(true_offset_s: float) -> None:
    device, before, after = simulated_ticks(true_offset_s, seed=7)
    aligned = align_device_times(device, before, after)
    bound_s = read_stamp_error_bound_s(device, before, after)
    truth = [d + true_offset_s for d in device]
    errors = [a - t for a, t in zip(aligned, truth, strict=True)]
    # Floating point at 1.8e9 s has a resolution of about 0.2 µs; allow a few ulps.
    assert min(errors) >= -1e-6
    assert max(errors) <= bound_s + 1e-6
    assert bound_s <= 5e-4


def test_more_ticks_can_only_tighten_the_offset() -> None:
    device, _, after = simulated_ticks(AMD_BOOT_OFFSET_S, seed=3)
    offsets = [device_clock_offset_s(device[:n], after[:n]) for n in (1, 10, 100, 200)]
    assert offsets == sorted(offsets, reverse=True)


def test_nan_stays_nan_and_a_device_without_timestamps_has_no_offset() -> None:
    aligned = align_device_times([math.nan, 5.0, math.nan], [0.0, 1.0, 2.0], [0.5, 6.5, 2.5])
    assert math.isnan(aligned[0]) and math.isnan(aligned[2])
    assert aligned[1] == 6.5
    assert math.isnan(device_clock_offset_s([math.nan, math.nan], [1.0, 2.0]))
    assert all(math.isnan(t) for t in align_device_times([math.nan], [1.0], [1.1]))
    assert math.isnan(read_stamp_error_bound_s([math.nan], [1.0], [1.1]))
    assert all(math.isnan(t) for t in shift_times([1.0, math.nan], math.nan))


def test_the_bound_is_the_shortest_read_that_had_a_device_time() -> None:
    assert read_stamp_error_bound_s(
        [1.0, math.nan, 3.0], [10.0, 20.0, 30.0], [10.4, 20.1, 30.2]
    ) == pytest.approx(0.2)


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="2 device times, 1 before and 2 after"):
        align_device_times([1.0, 2.0], [1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="one host time per device time"):
        device_clock_offset_s([1.0], [1.0, 2.0])
