"""The measurement protocol: repetitions of (random delay, idle, settle, window, settle, idle).

One repetition on a meter (COUNTER or SAMPLED_POWER), with marks A..D on the host clock:

    delay | A  idle_s  B  settle_s  W0  runs...  W1  settle_s  C  idle_s  D

1. wait until the host clock reaches the repetition's start phase (stratified random, see
   `start_phases_s` and `delay_to_phase_s`);
2. idle window [A, B]: nothing runs;
3. settle margin [B, W0], then the measured window [W0, W1]: the workload back to back until the
   window has lasted min_window_s, at least once; then a settle margin [W1, C];
4. idle window [C, D];
5. idle power P_idle = (E(A,B) + E(C,D)) / ((B-A) + (D-C));
   per-run energy = (E(B,C) - P_idle x (C-B)) / runs in the window;
   per-run duration = mean of the runs' own durations;
   average power = E(W0,W1) / (W1-W0), TOTAL power, idle included.

The settle margins belong to the run: power sensors report late (NVML averages and updates every
~100 ms) and a GPU's power stays raised for a while after a kernel, so energy caused by the run
shows up just after it, and a sampled rising edge is smeared just before it. Counting the margins in
the run, not in the idle windows, keeps that energy out of the idle figure.

E(x, y) is a counter difference when the meter has a counter (method COUNTER), else the integral of
the measured devices' power samples (method SAMPLED_POWER). When both exist, E(B,C) is computed
both ways and a repetition whose two figures differ by more than 5% flags the measurement. For the
estimate backend (method ESTIMATE) nothing is measured: no delay, idle or settle time is spent, idle
power is 0 W by definition and the window's energy is the sum of the per-run estimates.
See docs/energy.md for the reasons behind each step.
"""

from __future__ import annotations

import dataclasses
import math
import random
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lassi_hpc.energy.backend import EnergyEstimator
from lassi_hpc.energy.clock import SYSTEM_CLOCK, Clock
from lassi_hpc.energy.host_load import (
    HOST_BUSY_CORES,
    load_mark,
    other_cores,
    unknown_host_busy_cpu_s,
)
from lassi_hpc.energy.meter import Meter
from lassi_hpc.energy.samples import PowerSamples, energy_between_j, summed_power_w
from lassi_hpc.energy.stats import summarize
from lassi_hpc.errors import MeasurementError
from lassi_hpc.records import (
    CommandResult,
    EnergyMeasurement,
    EnergyMethod,
    PowerTrace,
    RepetitionEnergy,
)

# Power sensors refresh on their own period (about 100 ms on A100/H100, averaging only ~25 ms of
# it). A workload that always starts at the same phase of that period is always sampled at the same
# instants, and the error repeats instead of averaging out; a random start spreads the phase.
# Two sensor periods of spread cover every phase.
DEFAULT_MAX_START_DELAY_S = 0.2

# Two and a half sensor periods: the sensor's report of the run's last moments arrives within one
# period, and the interpolation between samples spreads an edge over one more.
DEFAULT_SETTLE_S = 0.25

# A guard against a run_once that takes no time (a broken fake, a clock that does not move).
DEFAULT_MAX_RUNS_PER_WINDOW = 100_000

# Counter and integrated power may differ by this fraction before the measurement is flagged.
CROSS_CHECK_TOLERANCE = 0.05

ESTIMATE_FLAG = "estimate"
FAKE_DEVICE_FLAG = "fake-device"
IDLE_NOT_SUBTRACTED_FLAG = "idle-not-subtracted"
WINDOW_SHORT_FLAG = "window-short"
NOT_ABOVE_IDLE_FLAG = "energy<=idle"
CROSS_CHECK_FLAG = "counter-vs-power>5%"
REJECTED_READINGS_FLAG = "rejected-readings"
HOST_BUSY_FLAG = "host-busy"


@dataclass(frozen=True)
class _Mark:
    """A point of the repetition: host time (s) and, for counter meters, the counter (J)."""

    time_s: float
    energy_j: float | None


@dataclass(frozen=True)
class _Window:
    results: tuple[CommandResult, ...]
    reached_min_window: bool
    other_cores: float = math.nan  # the host's other work, mean cores (host_load.py)

    @property
    def run_duration_s(self) -> float:
        """Mean duration of one run in seconds, from the runs' own start / end times."""
        return math.fsum(r.ended_at_s - r.started_at_s for r in self.results) / len(self.results)


@dataclass(frozen=True)
class _Timings:
    min_window_s: float
    idle_s: float
    settle_s: float
    max_runs: int
    read_host_busy_cpu_s: Callable[[], float | None] = unknown_host_busy_cpu_s


def start_phases_s(count: int, max_delay_s: float, rng: random.Random) -> list[float]:
    """`count` random start phases in [0, max_delay_s), one per stratum of width max_delay_s/count.

    Each repetition draws its phase uniformly inside its own stratum, and the strata are handed
    out in random order (a one-dimensional Latin hypercube).
    """
    order = rng.sample(range(count), count)
    return [(stratum + rng.random()) * max_delay_s / count for stratum in order]


def delay_to_phase_s(now_s: float, phase_s: float, max_delay_s: float) -> float:
    """The wait in [0, max_delay_s) after which the clock shows `phase_s` modulo max_delay_s.

    Repetitions start at their drawn phases of the host clock, not after drawn delays: delays add
    up from one repetition to the next, and a sum of stratified delays is not stratified. With a
    sensor period that divides max_delay_s (100 ms into the default 200 ms), the starts then meet
    the sensor at evenly spread phases, and the mean over n repetitions converges like 1/n
    rather than 1/sqrt(n) for independent draws.
    """
    if max_delay_s <= 0:
        return 0.0
    return (phase_s - now_s) % max_delay_s


def measure_workload(
    run_once: Callable[[], CommandResult],
    meter: Meter,
    repetitions: int,
    min_window_s: float,
    idle_s: float,
    rng: random.Random,
    max_start_delay_s: float = DEFAULT_MAX_START_DELAY_S,
    *,
    settle_s: float = DEFAULT_SETTLE_S,
    record_trace: bool = True,
    clock: Clock = SYSTEM_CLOCK,
    max_runs_per_window: int = DEFAULT_MAX_RUNS_PER_WINDOW,
    read_host_busy_cpu_s: Callable[[], float | None] = unknown_host_busy_cpu_s,
) -> EnergyMeasurement:
    """Measure the energy of one run of `run_once`, `repetitions` times, on `meter`.

    Each repetition's `energy_j` is joules per run above idle, `duration_s` seconds per run,
    `average_power_w` the window's total watts (steps in the module docstring). With an ESTIMATE
    meter no start delay, idle or settle time is spent and the measurement is flagged "estimate".

    `run_once` runs the workload once on this host and returns its CommandResult (host times from
    time.time(), like `clock`). A result that is not ok stops the measurement with a
    MeasurementError naming the failure. `rng` draws the start delays and nothing else. A
    repetition keeps its power samples as a PowerTrace when `record_trace` is set and the meter
    samples. The meter is not closed here: the caller opened it and closes it.

    `read_host_busy_cpu_s` (host_load.read_host_busy_cpu_s for real runs) is read around each
    window: a CPU measurement during which other processes kept more than HOST_BUSY_CORES busy
    is flagged "host-busy". The default knows nothing and skips the check (workloads that are
    not real processes).
    """
    _check_arguments(
        repetitions, min_window_s, idle_s, settle_s, max_start_delay_s, max_runs_per_window
    )
    timings = _Timings(min_window_s, idle_s, settle_s, max_runs_per_window, read_host_busy_cpu_s)
    estimating = meter.method is EnergyMethod.ESTIMATE
    if estimating and not isinstance(meter, EnergyEstimator):
        raise MeasurementError(
            f"{meter.name}: method is ESTIMATE but the meter cannot estimate a run"
        )
    phases_s = start_phases_s(repetitions, max_start_delay_s, rng)
    runs: list[RepetitionEnergy] = []
    short_window = False
    busiest_cores = 0.0
    for repetition, phase_s in enumerate(phases_s, start=1):
        if estimating and isinstance(meter, EnergyEstimator):
            window_start_s = clock.now_s()
            window = _run_window(run_once, window_start_s, timings, repetition)
            result = _estimate_repetition(meter, window, window_start_s, clock.now_s())
        else:
            delay_s = delay_to_phase_s(clock.now_s(), phase_s, max_start_delay_s)
            clock.sleep(delay_s)
            meter.drain_samples()  # ticks of the delay belong to nothing
            result, window = _measure_repetition(
                run_once, meter, timings, clock, record_trace, repetition
            )
            result = dataclasses.replace(result, start_delay_s=delay_s)
        runs.append(result)
        short_window |= not window.reached_min_window
        if math.isfinite(window.other_cores):
            busiest_cores = max(busiest_cores, window.other_cores)
    return _assemble(
        meter,
        runs,
        idle_s=idle_s,
        short_window=short_window,
        host_busy=busiest_cores > HOST_BUSY_CORES and _measures_cpu(meter),
    )


def _measures_cpu(meter: Meter) -> bool:
    # Other work on the host reaches a CPU meter (RAPL, the CPU-time estimate), not a GPU's.
    return meter.method is EnergyMethod.ESTIMATE or any(d.kind == "cpu" for d in meter.devices())


def _check_arguments(
    repetitions: int,
    min_window_s: float,
    idle_s: float,
    settle_s: float,
    max_start_delay_s: float,
    max_runs_per_window: int,
) -> None:
    if repetitions < 1:
        raise ValueError(f"repetitions must be at least 1, got {repetitions}")
    if max_runs_per_window < 1:
        raise ValueError(f"max_runs_per_window must be at least 1, got {max_runs_per_window}")
    for label, value in (
        ("min_window_s", min_window_s),
        ("idle_s", idle_s),
        ("settle_s", settle_s),
        ("max_start_delay_s", max_start_delay_s),
    ):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{label} must be a finite number of seconds >= 0, got {value!r}")


def _run_window(
    run_once: Callable[[], CommandResult],
    window_start_s: float,
    timings: _Timings,
    repetition: int,
) -> _Window:
    results: list[CommandResult] = []
    load_start = load_mark(timings.read_host_busy_cpu_s)
    while True:
        result = run_once()
        run = len(results) + 1
        if not result.ok:
            failure = result.failure.value if result.failure is not None else "failed"
            raise MeasurementError(
                f"run {run} of repetition {repetition} failed ({failure}): "
                f"{result.failure_detail or 'no detail'}; command: {shlex.join(result.argv)}"
            )
        if result.ended_at_s < result.started_at_s:
            raise MeasurementError(
                f"run {run} of repetition {repetition} ended ({result.ended_at_s}) "
                f"before it started ({result.started_at_s})"
            )
        results.append(result)
        reached = result.ended_at_s - window_start_s >= timings.min_window_s
        if reached or run >= timings.max_runs:
            own_cpu_s = math.fsum(r.cpu_s for r in results)
            other = other_cores(load_start, load_mark(timings.read_host_busy_cpu_s), own_cpu_s)
            return _Window(tuple(results), reached_min_window=reached, other_cores=other)


def _mark(meter: Meter, clock: Clock) -> _Mark:
    if meter.method is not EnergyMethod.COUNTER:
        return _Mark(clock.now_s(), None)
    before_s = clock.now_s()
    energy_j = meter.read_energy_j()
    after_s = clock.now_s()
    if energy_j is None:
        raise MeasurementError(f"{meter.name}: method is COUNTER but the counter gave no value")
    # A vendor read can take a millisecond; the middle of it is the best guess of its instant.
    return _Mark((before_s + after_s) / 2, energy_j)


def _counter_j(start: _Mark, end: _Mark) -> float:
    if start.energy_j is None or end.energy_j is None:
        return math.nan
    return end.energy_j - start.energy_j


def _integrated_j(
    samples: PowerSamples, uids: Sequence[str], start_s: float, end_s: float
) -> float:
    if samples.ticks == 0:
        return math.nan
    try:
        return energy_between_j(samples, uids, start_s, end_s)
    except MeasurementError:  # a device with no valid value: no cross-check, not an error
        return math.nan


def _measure_repetition(
    run_once: Callable[[], CommandResult],
    meter: Meter,
    timings: _Timings,
    clock: Clock,
    record_trace: bool,
    repetition: int,
) -> tuple[RepetitionEnergy, _Window]:
    idle_before = _mark(meter, clock)
    clock.sleep(timings.idle_s)
    span_start = _mark(meter, clock)
    clock.sleep(timings.settle_s)
    window_start = _mark(meter, clock)
    window = _run_window(run_once, window_start.time_s, timings, repetition)
    window_end = _mark(meter, clock)
    clock.sleep(timings.settle_s)
    span_end = _mark(meter, clock)
    clock.sleep(timings.idle_s)
    idle_after = _mark(meter, clock)
    samples = meter.drain_samples()

    uids = tuple(d.uid for d in meter.devices())
    counting = meter.method is EnergyMethod.COUNTER

    def energy_j(start: _Mark, end: _Mark) -> float:
        value = (
            _counter_j(start, end)
            if counting
            else _integrated_j(samples, uids, *_times(start, end))
        )
        if math.isnan(value):
            raise MeasurementError(
                f"repetition {repetition}: no energy between {start.time_s} and {end.time_s} s: "
                f"{meter.name} gave no counter value and no valid power sample"
            )
        return value

    window_s = window_end.time_s - window_start.time_s
    if window_s <= 0:
        raise MeasurementError(f"repetition {repetition}: the measured window has no duration")
    idle_duration_s = (span_start.time_s - idle_before.time_s) + (
        idle_after.time_s - span_end.time_s
    )
    idle_power_w = 0.0
    if timings.idle_s > 0 and idle_duration_s > 0:
        idle_j = energy_j(idle_before, span_start) + energy_j(span_end, idle_after)
        idle_power_w = idle_j / idle_duration_s
    span_j = energy_j(span_start, span_end)
    span_s = span_end.time_s - span_start.time_s
    window_energy_j = energy_j(window_start, window_end)
    runs = len(window.results)
    energy = RepetitionEnergy(
        energy_j=(span_j - idle_power_w * span_s) / runs,
        duration_s=window.run_duration_s,
        average_power_w=window_energy_j / window_s,
        idle_power_w=idle_power_w,
        runs_in_window=runs,
        trace=_trace(samples, uids, window_start.time_s) if record_trace else None,
        window_s=window_s,
        window_energy_j=window_energy_j,
        counter_energy_j=_counter_j(span_start, span_end),
        integrated_energy_j=_integrated_j(samples, uids, span_start.time_s, span_end.time_s),
    )
    return energy, window


def _times(start: _Mark, end: _Mark) -> tuple[float, float]:
    return start.time_s, end.time_s


def _trace(samples: PowerSamples, uids: Sequence[str], origin_s: float) -> PowerTrace | None:
    if samples.ticks == 0:
        return None
    return PowerTrace(
        time_s=tuple(t - origin_s for t in samples.time_s),
        power_w=summed_power_w(samples, uids),
        device_uids=samples.uids,
        device_power_w=samples.power_w,
    )


def _estimate_repetition(
    estimator: EnergyEstimator, window: _Window, window_start_s: float, window_end_s: float
) -> RepetitionEnergy:
    window_duration_s = window_end_s - window_start_s
    if window_duration_s <= 0:
        raise MeasurementError("the estimated window has no duration")
    window_energy_j = math.fsum(estimator.estimate_energy_j(r) for r in window.results)
    runs = len(window.results)
    return RepetitionEnergy(
        energy_j=window_energy_j / runs,
        duration_s=window.run_duration_s,
        average_power_w=window_energy_j / window_duration_s,
        idle_power_w=0.0,  # not measured: the estimate models busy cores only
        runs_in_window=runs,
        window_s=window_duration_s,
        window_energy_j=window_energy_j,
    )


def disagrees(repetition: RepetitionEnergy, tolerance: float = CROSS_CHECK_TOLERANCE) -> bool:
    """Whether a repetition's counter and integrated power differ by more than `tolerance`."""
    counter_j, integrated_j = repetition.counter_energy_j, repetition.integrated_energy_j
    if not (math.isfinite(counter_j) and math.isfinite(integrated_j)):
        return False
    return abs(integrated_j - counter_j) > tolerance * abs(counter_j)


def _assemble(
    meter: Meter,
    repetitions: Sequence[RepetitionEnergy],
    *,
    idle_s: float,
    short_window: bool,
    host_busy: bool = False,
) -> EnergyMeasurement:
    method = meter.method
    devices = meter.devices()
    energy = summarize([r.energy_j for r in repetitions])
    problems = meter.problems()
    flags: list[str] = []
    # Every figure that is not a measurement says so, in the record itself.
    if method is EnergyMethod.ESTIMATE:
        flags.append(ESTIMATE_FLAG)
    if any(device.is_fake for device in devices):
        flags.append(FAKE_DEVICE_FLAG)
    flags.extend(energy.flags)
    if method is not EnergyMethod.ESTIMATE:
        if idle_s == 0:
            flags.append(IDLE_NOT_SUBTRACTED_FLAG)
        if any(r.energy_j <= 0 for r in repetitions):
            flags.append(NOT_ABOVE_IDLE_FLAG)
    if short_window:
        flags.append(WINDOW_SHORT_FLAG)
    if any(disagrees(r) for r in repetitions):
        flags.append(CROSS_CHECK_FLAG)
    if problems:
        flags.append(REJECTED_READINGS_FLAG)
    if host_busy:
        flags.append(HOST_BUSY_FLAG)
    return EnergyMeasurement(
        method=method,
        backend=meter.name,
        devices=devices,
        repetitions=tuple(repetitions),
        energy_j_mean=energy.mean,
        energy_j_sd=energy.sd,
        energy_j_ci95=energy.ci95,
        energy_cv=energy.cv,
        duration_s_mean=math.fsum(r.duration_s for r in repetitions) / len(repetitions),
        average_power_w_mean=math.fsum(r.average_power_w for r in repetitions) / len(repetitions),
        flags=tuple(flags),
        context_devices=meter.context_devices(),
        sample_period_s=meter.period_s,
        problems=problems,
    )
