"""Batches of one or several nodes become one PowerSamples: ticks in time order, NaN where a
tick did not read a device, device timestamps aligned with the offset from every tick so far."""

from __future__ import annotations

import math

import pytest

from lassi_hpc.energy.sampler_process import merge_batches, update_clock_offsets
from lassi_hpc.energy.sampler_wire import SampleBatch
from lassi_hpc.energy.samples import energy_between_j
from lassi_hpc.errors import MeasurementError

NAN = math.nan


def batch(
    node: str, uid: str, before: list[float], power: list[float], stamps: list[float]
) -> SampleBatch:
    return SampleBatch(
        node=node,
        uids=(uid,),
        host_before_s=tuple(before),
        host_after_s=tuple(t + 0.002 for t in before),
        power_w=(tuple(power),),
        device_time_s=(tuple(stamps),),
    )


def test_ticks_of_two_nodes_interleave_in_time_order_with_nan_elsewhere() -> None:
    first = batch("node01", "gpu-0", [10.0, 10.1, 10.2], [100.0, 100.0, 100.0], [NAN] * 3)
    second = batch("node02", "gpu-1", [10.05, 10.15], [200.0, 200.0], [NAN] * 2)
    samples = merge_batches(("gpu-0", "gpu-1"), [first, second], {})
    assert samples.time_s == pytest.approx((10.001, 10.051, 10.101, 10.151, 10.201))
    gpu0, gpu1 = samples.power_w
    assert [math.isnan(v) for v in gpu0] == [False, True, False, True, False]
    assert [math.isnan(v) for v in gpu1] == [True, False, True, False, True]
    # Each device integrates on its own ticks: the NaN of the other node are skipped.
    assert energy_between_j(samples, ("gpu-0", "gpu-1"), 10.001, 10.201) == pytest.approx(60.0)


def test_device_times_are_aligned_with_the_offset_of_every_tick_so_far() -> None:
    offsets: dict[str, float] = {}
    # The device clock is 1000 s behind the host. The first tick returned a value 7 ms old at
    # host_after, the second one 1 ms old: the second bounds the offset more tightly.
    early = batch("n", "gpu-0", [5.0, 5.1], [1.0, 2.0], [4.995 - 1000, 5.101 - 1000])
    update_clock_offsets(offsets, early)
    assert offsets["gpu-0"] == pytest.approx(1000.001)
    first = merge_batches(("gpu-0",), [early], offsets)
    assert first.device_time_s[0] == pytest.approx((4.996, 5.102))
    # A later, fresher tick (0.1 ms) tightens the offset for what is drained afterwards.
    later = batch("n", "gpu-0", [5.2], [3.0], [5.2019 - 1000])
    update_clock_offsets(offsets, later)
    assert offsets["gpu-0"] == pytest.approx(1000.0001)
    assert merge_batches(("gpu-0",), [later], offsets).device_time_s[0] == pytest.approx((5.202,))


def test_a_device_without_timestamps_keeps_nan_and_gets_no_offset() -> None:
    offsets: dict[str, float] = {}
    plain = batch("n", "a", [1.0], [5.0], [NAN])
    update_clock_offsets(offsets, plain)
    assert offsets == {}
    assert math.isnan(merge_batches(("a",), [plain], offsets).device_time_s[0][0])


def test_samples_of_an_unlisted_device_are_an_error() -> None:
    stray = batch("node07", "gpu-9", [1.0], [5.0], [NAN])
    with pytest.raises(MeasurementError, match=r"node node07 sent samples of devices \['gpu-9'\]"):
        merge_batches(("gpu-0",), [stray], {})


def test_no_batches_give_no_ticks_over_the_devices() -> None:
    samples = merge_batches(("a", "b"), [], {})
    assert samples.uids == ("a", "b") and samples.ticks == 0
