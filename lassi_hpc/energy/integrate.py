"""Energy from power samples: the integral of a sampled power curve over a time interval."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def integrate_power_j(
    time_s: Sequence[float], power_w: Sequence[float], start_s: float, end_s: float
) -> float:
    """Energy in joules over [start_s, end_s] from samples (time_s ascending, seconds; watts).

    Power is taken as linear between samples and held at the first / last sample outside them
    (trapezoid rule on the samples plus the two interval ends). No clipping: power below idle is
    as real as power above it, and clipping would bias energy upward.
    """
    if len(time_s) != len(power_w) or not time_s:
        raise ValueError("need at least one sample, with as many times as powers")
    if end_s < start_s:
        raise ValueError(f"interval ends ({end_s}) before it starts ({start_s})")
    times = np.asarray(time_s, dtype=float)
    powers = np.asarray(power_w, dtype=float)
    inside = (times > start_s) & (times < end_s)
    grid = np.concatenate(([start_s], times[inside], [end_s]))
    values = np.interp(grid, times, powers)
    return float(np.trapezoid(values, grid))
