"""The measurement protocol: repetitions of (random delay, idle, measured window, idle).

One repetition, for a meter (COUNTER or SAMPLED_POWER backend):

1. wait a random delay, uniform in [0, max_start_delay_s];
2. idle window of idle_s before the workload (nothing runs);
3. measured window: run the workload back to back until the window has lasted min_window_s,
   at least once;
4. idle window of idle_s after the workload;
5. idle power = energy of both idle windows / their total duration;
   per-run energy = (window energy - idle power x window duration) / runs in the window;
   per-run duration = mean of the runs' own durations (CommandResult started/ended times);
   average power = window energy / window duration (TOTAL power, idle included).

Energies come from counter differences when the backend has a counter (method COUNTER), otherwise
from integrating power samples taken by a background thread (method SAMPLED_POWER). For the
estimate backend (method ESTIMATE) nothing is measured: steps 1, 2 and 4 are skipped, idle power
is 0 W by definition, and the window energy is the sum of the backend's per-run estimates.
See docs/energy.md for the reasons behind each step.
"""

from __future__ import annotations

import contextlib
import math
import random
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lassi_hpc.energy.backend import EnergyBackend, EnergyEstimator
from lassi_hpc.energy.clock import SYSTEM_CLOCK, Clock
from lassi_hpc.energy.integrate import integrate_power_j
from lassi_hpc.energy.sampler import DEFAULT_POWER_SAMPLE_PERIOD_S, PowerSampler, PowerSamples
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

# A guard against a run_once that takes no time (a broken fake, a clock that does not move).
DEFAULT_MAX_RUNS_PER_WINDOW = 100_000

ESTIMATE_FLAG = "estimate"
FAKE_DEVICE_FLAG = "fake-device"
IDLE_NOT_SUBTRACTED_FLAG = "idle-not-subtracted"
WINDOW_SHORT_FLAG = "window-short"
NOT_ABOVE_IDLE_FLAG = "energy<=idle"


@dataclass(frozen=True)
class _Mark:
    """A point of the repetition: host time (s) and, for counter backends, the counter (J)."""

    time_s: float
    energy_j: float | None


@dataclass(frozen=True)
class _Window:
    results: tuple[CommandResult, ...]
    reached_min_window: bool

    @property
    def run_duration_s(self) -> float:
        """Mean duration of one run in seconds, from the runs' own start / end times."""
        return math.fsum(r.ended_at_s - r.started_at_s for r in self.results) / len(self.results)


def measure_workload(
    run_once: Callable[[], CommandResult],
    backend: EnergyBackend,
    repetitions: int,
    min_window_s: float,
    idle_s: float,
    rng: random.Random,
    max_start_delay_s: float = DEFAULT_MAX_START_DELAY_S,
    *,
    power_sample_period_s: float = DEFAULT_POWER_SAMPLE_PERIOD_S,
    record_trace: bool = True,
    clock: Clock = SYSTEM_CLOCK,
    max_runs_per_window: int = DEFAULT_MAX_RUNS_PER_WINDOW,
) -> EnergyMeasurement:
    """Measure the energy of one run of `run_once`, `repetitions` times, on `backend`.

    Each repetition's `energy_j` is joules per run above idle, `duration_s` seconds per run,
    `average_power_w` the window's total watts (steps in the module docstring). With an ESTIMATE
    backend no start delay or idle window is spent (idle power is 0 W by definition) and the
    measurement is flagged "estimate".

    `run_once` runs the workload once on this host and returns its CommandResult (host times from
    time.time(), like `clock`). A result that is not ok stops the measurement with a
    MeasurementError naming the failure. `rng` draws one start delay per repetition (seconds,
    uniform in [0, max_start_delay_s]) and is used for nothing else. Power is sampled every
    `power_sample_period_s` seconds when the backend has no counter, and also, for the
    repetition's PowerTrace, when it has both and `record_trace` is set.
    The backend is not closed here: the caller opened it and closes it.
    """
    _check_arguments(repetitions, min_window_s, idle_s, max_start_delay_s, max_runs_per_window)
    method = backend.method
    runs: list[RepetitionEnergy] = []
    short_window = False
    for repetition in range(1, repetitions + 1):
        if method is EnergyMethod.ESTIMATE:
            if not isinstance(backend, EnergyEstimator):
                raise MeasurementError(
                    f"{backend.name}: method is ESTIMATE but the backend cannot estimate a run"
                )
            window_start_s = clock.now_s()
            window = _run_window(
                run_once, window_start_s, min_window_s, max_runs_per_window, repetition
            )
            result = _estimate_repetition(backend, window, window_start_s, clock.now_s())
        else:
            clock.sleep(rng.uniform(0.0, max_start_delay_s))
            result, window = _measure_repetition(
                run_once,
                backend,
                min_window_s,
                idle_s,
                clock,
                power_sample_period_s,
                record_trace,
                max_runs_per_window,
                repetition,
            )
        runs.append(result)
        short_window |= not window.reached_min_window
    return _assemble(backend, runs, idle_s=idle_s, short_window=short_window)


def _check_arguments(
    repetitions: int,
    min_window_s: float,
    idle_s: float,
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
        ("max_start_delay_s", max_start_delay_s),
    ):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{label} must be a finite number of seconds >= 0, got {value!r}")


def _run_window(
    run_once: Callable[[], CommandResult],
    window_start_s: float,
    min_window_s: float,
    max_runs: int,
    repetition: int,
) -> _Window:
    results: list[CommandResult] = []
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
        if result.ended_at_s - window_start_s >= min_window_s:
            return _Window(tuple(results), reached_min_window=True)
        if run >= max_runs:
            return _Window(tuple(results), reached_min_window=False)


def _mark(backend: EnergyBackend, method: EnergyMethod, clock: Clock) -> _Mark:
    if method is not EnergyMethod.COUNTER:
        return _Mark(clock.now_s(), None)
    before_s = clock.now_s()
    energy_j = backend.read_energy_j()
    after_s = clock.now_s()
    if energy_j is None:
        raise MeasurementError(f"{backend.name}: method is COUNTER but the counter gave no value")
    # A vendor read can take a millisecond; the middle of it is the best guess of its instant.
    return _Mark((before_s + after_s) / 2, energy_j)


def _energy_between_j(start: _Mark, end: _Mark, samples: PowerSamples | None) -> float:
    if start.energy_j is not None and end.energy_j is not None:
        return end.energy_j - start.energy_j
    if samples is None or not samples.time_s:
        raise MeasurementError("no energy counter and no power samples for the window")
    return integrate_power_j(samples.time_s, samples.power_w, start.time_s, end.time_s)


def _measure_repetition(
    run_once: Callable[[], CommandResult],
    backend: EnergyBackend,
    min_window_s: float,
    idle_s: float,
    clock: Clock,
    power_sample_period_s: float,
    record_trace: bool,
    max_runs: int,
    repetition: int,
) -> tuple[RepetitionEnergy, _Window]:
    method = backend.method
    sampler: PowerSampler | None = None
    if method is EnergyMethod.SAMPLED_POWER or (
        record_trace and backend.read_power_w() is not None
    ):
        sampler = PowerSampler(backend, clock, power_sample_period_s)
        sampler.start()
    try:
        idle_start = _mark(backend, method, clock) if idle_s > 0 else None
        clock.sleep(idle_s)
        window_start = _mark(backend, method, clock)
        window = _run_window(run_once, window_start.time_s, min_window_s, max_runs, repetition)
        window_end = _mark(backend, method, clock)
        clock.sleep(idle_s)
        idle_end = _mark(backend, method, clock) if idle_s > 0 else None
    except BaseException:
        if sampler is not None:
            # The workload's error is the one to report; a sampler error on top adds nothing.
            with contextlib.suppress(MeasurementError):
                sampler.stop()
        raise
    samples = sampler.stop() if sampler is not None else None

    window_duration_s = window_end.time_s - window_start.time_s
    if window_duration_s <= 0:
        raise MeasurementError(f"repetition {repetition}: the measured window has no duration")
    window_energy_j = _energy_between_j(window_start, window_end, samples)
    idle_power_w = 0.0
    if idle_start is not None and idle_end is not None:
        idle_energy_j = _energy_between_j(idle_start, window_start, samples) + _energy_between_j(
            window_end, idle_end, samples
        )
        idle_duration_s = (window_start.time_s - idle_start.time_s) + (
            idle_end.time_s - window_end.time_s
        )
        idle_power_w = idle_energy_j / idle_duration_s
    runs = len(window.results)
    trace = None
    if samples is not None:
        trace = PowerTrace(
            time_s=tuple(t - window_start.time_s for t in samples.time_s),
            power_w=samples.power_w,
        )
    energy = RepetitionEnergy(
        energy_j=(window_energy_j - idle_power_w * window_duration_s) / runs,
        duration_s=window.run_duration_s,
        average_power_w=window_energy_j / window_duration_s,
        idle_power_w=idle_power_w,
        runs_in_window=runs,
        trace=trace,
    )
    return energy, window


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
    )


def _assemble(
    backend: EnergyBackend,
    repetitions: Sequence[RepetitionEnergy],
    *,
    idle_s: float,
    short_window: bool,
) -> EnergyMeasurement:
    method = backend.method
    devices = backend.devices()
    energy = summarize([r.energy_j for r in repetitions])
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
    return EnergyMeasurement(
        method=method,
        backend=backend.name,
        devices=devices,
        repetitions=tuple(repetitions),
        energy_j_mean=energy.mean,
        energy_j_sd=energy.sd,
        energy_j_ci95=energy.ci95,
        energy_cv=energy.cv,
        duration_s_mean=math.fsum(r.duration_s for r in repetitions) / len(repetitions),
        average_power_w_mean=math.fsum(r.average_power_w for r in repetitions) / len(repetitions),
        flags=tuple(flags),
    )
