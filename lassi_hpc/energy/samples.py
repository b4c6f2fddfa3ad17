"""Power samples of every sampled device, and the energy they integrate to.

A sampler takes one tick every period: it reads every device of the node and records the host time
of the tick. `PowerSamples` holds those ticks column-wise, one row per device. Energy is integrated
per device (on the device's own aligned timestamps where it gives them, otherwise on the host tick
times) and summed, which is exact because integration is linear.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lassi_hpc.energy.integrate import integrate_power_j
from lassi_hpc.errors import MeasurementError


@dataclass(frozen=True)
class PowerSamples:
    """Ticks of a sampler, in time order.

    `time_s[i]` is the host time of tick i (seconds since the epoch, the `time.time()` scale).
    `power_w[d][i]` is device `uids[d]`'s power at tick i in watts, NaN when it had no valid value.
    `device_time_s[d][i]` is the device's own timestamp of that value, already aligned to the host
    clock (seconds since the epoch), NaN when the device gives none.
    """

    uids: tuple[str, ...]
    time_s: tuple[float, ...]
    power_w: tuple[tuple[float, ...], ...]
    device_time_s: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        if len(self.power_w) != len(self.uids) or len(self.device_time_s) != len(self.uids):
            raise ValueError(
                f"{len(self.uids)} devices but {len(self.power_w)} power rows and "
                f"{len(self.device_time_s)} timestamp rows"
            )
        ticks = len(self.time_s)
        for uid, powers, stamps in zip(self.uids, self.power_w, self.device_time_s, strict=True):
            if len(powers) != ticks or len(stamps) != ticks:
                raise ValueError(f"device {uid!r}: rows must have {ticks} values, one per tick")

    @property
    def ticks(self) -> int:
        return len(self.time_s)


def empty_samples(uids: Sequence[str] = ()) -> PowerSamples:
    """No ticks yet, for the devices `uids`."""
    return PowerSamples(tuple(uids), (), tuple(() for _ in uids), tuple(() for _ in uids))


def concat_samples(parts: Sequence[PowerSamples]) -> PowerSamples:
    """The ticks of `parts` one after the other; all parts must sample the same devices."""
    if not parts:
        return empty_samples()
    uids = parts[0].uids
    for part in parts[1:]:
        if part.uids != uids:
            raise ValueError(f"cannot join samples of devices {part.uids} to {uids}")
    return PowerSamples(
        uids,
        tuple(t for part in parts for t in part.time_s),
        tuple(tuple(v for part in parts for v in part.power_w[d]) for d in range(len(uids))),
        tuple(tuple(v for part in parts for v in part.device_time_s[d]) for d in range(len(uids))),
    )


def device_points(samples: PowerSamples, uid: str) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, watts) of one device's valid values, each sensor value once, in time order.

    Where the device gives timestamps, a value read again with the same timestamp is the same
    sensor value and is kept once, at its aligned device time; otherwise the host tick time is used.
    """
    if uid not in samples.uids:
        raise MeasurementError(f"no samples of device {uid!r} (sampled: {', '.join(samples.uids)})")
    row = samples.uids.index(uid)
    host = np.asarray(samples.time_s, dtype=float)
    power = np.asarray(samples.power_w[row], dtype=float)
    stamps = np.asarray(samples.device_time_s[row], dtype=float)
    valid = np.isfinite(power)
    times = np.where(np.isfinite(stamps), stamps, host)[valid]
    power = power[valid]
    if times.size > 1:
        fresh = np.concatenate(([True], np.diff(times) > 0))
        times, power = times[fresh], power[fresh]
    return times, power


def energy_between_j(
    samples: PowerSamples, uids: Sequence[str], start_s: float, end_s: float
) -> float:
    """Energy in joules of devices `uids` over [start_s, end_s] from their power samples."""
    total_j = 0.0
    for uid in uids:
        times, power = device_points(samples, uid)
        if times.size == 0:
            raise MeasurementError(f"device {uid!r} gave no valid power sample to integrate")
        total_j += integrate_power_j(times.tolist(), power.tolist(), start_s, end_s)
    return total_j


def summed_power_w(samples: PowerSamples, uids: Sequence[str]) -> tuple[float, ...]:
    """Power of devices `uids` summed at each host tick (NaN where any of them had no value)."""
    rows = [samples.power_w[samples.uids.index(uid)] for uid in uids]
    if not rows:
        return tuple(math.nan for _ in samples.time_s)
    return tuple(float(v) for v in np.sum(np.asarray(rows, dtype=float), axis=0))
