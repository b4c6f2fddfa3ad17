"""Device timestamps mapped onto the host clock.

A device stamps its power values on its own clock and epoch (NVML: microseconds since 1970 on the
device's idea of the time; AMD SMI: nanoseconds since boot), which the backend converts to seconds
but cannot align. The sampler knows, for every tick, the host time just before the read
(`host_before_s`) and just after it (`host_after_s`). A value cannot be newer than the host read
that returned it:

    device_time_i + offset_true <= host_after_i        for every tick i,

so offset_true <= min_i (host_after_i - device_time_i), and that minimum is the tightest estimate
the ticks allow. Error bound: the estimate is never below the true offset, so aligned times are
never early; they are late by the age the freshest value had when its read returned, i.e. by at
most min_i (host_after_i - host_before_i) (the shortest read) when the device stamps a value at the
moment it is read, plus the value's age at that read when the device stamps the sensor's own update
(NVML; with polling faster than the sensor updates, some tick sees a value younger than one polling
period). More ticks can only tighten the estimate. Clock drift between host and device (ppm) is
neglected over a measurement's minutes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _check_lengths(
    device_time_s: Sequence[float], host_before_s: Sequence[float], host_after_s: Sequence[float]
) -> None:
    if not len(device_time_s) == len(host_before_s) == len(host_after_s):
        raise ValueError(
            f"one host time before and after per device time: got {len(device_time_s)} device "
            f"times, {len(host_before_s)} before and {len(host_after_s)} after"
        )


def device_clock_offset_s(device_time_s: Sequence[float], host_after_s: Sequence[float]) -> float:
    """Seconds to add to the device's timestamps to put them on the host clock.

    min over ticks of (host_after_s - device_time_s), skipping NaN device times; NaN when no tick
    has a device time. Units: seconds for both inputs, any epoch for the device.
    """
    if len(device_time_s) != len(host_after_s):
        raise ValueError(
            f"one host time per device time: got {len(device_time_s)} device times and "
            f"{len(host_after_s)} host times"
        )
    gaps_s = [
        after_s - device_s
        for device_s, after_s in zip(device_time_s, host_after_s, strict=True)
        if math.isfinite(device_s)
    ]
    return min(gaps_s) if gaps_s else math.nan


def align_device_times(
    device_time_s: Sequence[float], host_before_s: Sequence[float], host_after_s: Sequence[float]
) -> tuple[float, ...]:
    """The device's timestamps (s, its own epoch) as host times (s since the epoch, time.time()).

    One entry per tick, in the given order; NaN stays NaN. The offset comes from these ticks (see
    the module docstring for why it is the tightest estimate and for its error bound).
    """
    _check_lengths(device_time_s, host_before_s, host_after_s)
    offset_s = device_clock_offset_s(device_time_s, host_after_s)
    return shift_times(device_time_s, offset_s)


def shift_times(device_time_s: Sequence[float], offset_s: float) -> tuple[float, ...]:
    """device_time_s + offset_s for each entry (s); NaN stays NaN."""
    return tuple(
        device_s + offset_s if math.isfinite(device_s) else math.nan for device_s in device_time_s
    )


def read_stamp_error_bound_s(
    device_time_s: Sequence[float], host_before_s: Sequence[float], host_after_s: Sequence[float]
) -> float:
    """Upper bound (s) of how late aligned times are, for a device that stamps values when read.

    min over ticks with a device time of (host_after_s - host_before_s); NaN when there is none.
    For a device that stamps the sensor's update instead, add the age a value had at its freshest
    read (at most the polling period when polling is faster than the sensor).
    """
    _check_lengths(device_time_s, host_before_s, host_after_s)
    widths_s = [
        after_s - before_s
        for device_s, before_s, after_s in zip(
            device_time_s, host_before_s, host_after_s, strict=True
        )
        if math.isfinite(device_s)
    ]
    return min(widths_s) if widths_s else math.nan
