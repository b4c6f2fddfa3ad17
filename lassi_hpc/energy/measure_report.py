"""What `lassi-hpc measure` prints: a readable summary, or one JSON document, or a trace CSV."""

from __future__ import annotations

import csv
import dataclasses
import enum
import math
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lassi_hpc.energy.protocol import CROSS_CHECK_TOLERANCE, disagrees
from lassi_hpc.records import EnergyMeasurement, EnergyMethod

_HOW = {
    EnergyMethod.COUNTER: "hardware energy counter difference",
    EnergyMethod.SAMPLED_POWER: "integrated power samples",
    EnergyMethod.ESTIMATE: "ESTIMATE, not a measurement: CPU time x nominal watts per busy core",
}


def _number(value: float, digits: int = 4) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}g}"


def summary_lines(
    measurement: EnergyMeasurement, argv: Sequence[str], skipped: Sequence[str]
) -> list[str]:
    """The human summary, one line per fact, every figure with its unit and how it was obtained."""
    reps = measurement.repetitions
    runs = sorted({r.runs_in_window for r in reps})
    lines = [
        f"Energy of: {shlex.join(argv)}",
        f"  {len(reps)} repetitions, {'/'.join(map(str, runs))} run(s) per measured window",
        f"  method:  {measurement.method.value} ({measurement.backend}): "
        f"{_HOW[measurement.method]}",
    ]
    for device in measurement.devices:
        lines.append(f"  device:  {device.kind} {device.name} [{device.uid}] on {device.host}")
    if measurement.context_devices:
        uids = ", ".join(d.uid for d in measurement.context_devices)
        lines.append(f"  also sampled (not counted): {uids}")
    lines += [
        f"  energy per run:   {_number(measurement.energy_j_mean)} J "
        f"± {_number(measurement.energy_j_ci95, 2)} J (95% CI), "
        f"SD {_number(measurement.energy_j_sd, 2)} J, CV {_cv(measurement.energy_cv)}"
        + ("" if measurement.is_estimate else " (above idle)"),
        f"  duration per run: {_number(measurement.duration_s_mean)} s",
        f"  average power:    {_number(measurement.average_power_w_mean)} W (window total)",
    ]
    if not measurement.is_estimate:
        idle_w = math.fsum(r.idle_power_w for r in reps) / len(reps)
        lines.append(f"  idle power:       {_number(idle_w)} W")
        lines.append(f"  cross-check:      {_cross_check(measurement)}")
    if measurement.flags:
        lines.append(f"  flags: {', '.join(measurement.flags)}")
    lines += [f"  problem: {line}" for line in measurement.problems]
    lines += [f"  not used: {reason}" for reason in skipped]
    return lines


def _cv(cv: float) -> str:
    return "n/a" if not math.isfinite(cv) else f"{100 * cv:.2f}%"


def _cross_check(measurement: EnergyMeasurement) -> str:
    pairs = [
        (r.counter_energy_j, r.integrated_energy_j)
        for r in measurement.repetitions
        if math.isfinite(r.counter_energy_j) and math.isfinite(r.integrated_energy_j)
    ]
    if not pairs:
        return "none (needs both an energy counter and power samples)"
    worst = max((abs(i - c) / abs(c) for c, i in pairs if c != 0), default=0.0)
    bad = sum(disagrees(r) for r in measurement.repetitions)
    verdict = "DISAGREE" if bad else "agree"
    return (
        f"counter and integrated power {verdict} (largest difference "
        f"{100 * worst:.2f}%, tolerance {100 * CROSS_CHECK_TOLERANCE:g}%)"
    )


def measurement_document(
    measurement: EnergyMeasurement, argv: Sequence[str], skipped: Sequence[str]
) -> dict[str, Any]:
    """The measurement as JSON-ready data: NaN as null, traces reduced to their sample counts."""
    data = _plain(dataclasses.asdict(measurement))
    for repetition in data["repetitions"]:
        trace = repetition.pop("trace")
        repetition["trace_samples"] = 0 if trace is None else len(trace["time_s"])
    data["is_estimate"] = measurement.is_estimate
    return {"command": list(argv), "measurement": data, "not_used": list(skipped)}


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def write_trace_csv(measurement: EnergyMeasurement, path: Path) -> int:
    """Every repetition's power samples as CSV rows; returns the number of rows written.

    Columns: repetition, time_s (from the window's start), power_w (measured devices summed),
    then one `<uid>_w` column per sampled device.
    """
    uids: list[str] = []
    for repetition in measurement.repetitions:
        if repetition.trace is not None:
            uids += [u for u in repetition.trace.device_uids if u not in uids]
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["repetition", "time_s", "power_w", *(f"{uid}_w" for uid in uids)])
        for index, repetition in enumerate(measurement.repetitions):
            trace = repetition.trace
            if trace is None:
                continue
            columns = dict(zip(trace.device_uids, trace.device_power_w, strict=True))
            for i, time_s in enumerate(trace.time_s):
                per_device = [columns[uid][i] if uid in columns else "" for uid in uids]
                writer.writerow([index, time_s, trace.power_w[i], *per_device])
                rows += 1
    return rows
