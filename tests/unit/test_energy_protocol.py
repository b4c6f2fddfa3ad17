"""The measurement protocol, driven by FAKE devices on a manual clock (exact, deterministic)."""

from __future__ import annotations

import itertools
import math
import random
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from lassi_hpc.energy import ManualClock, measure_workload
from lassi_hpc.energy.clock import SYSTEM_CLOCK
from lassi_hpc.energy.estimate import EstimateBackend
from lassi_hpc.energy.fake import FakeBackend, constant_power, square_wave
from lassi_hpc.energy.fake_workload import FakeWorkload, fake_command_result
from lassi_hpc.energy.in_process_meters import BackendMeter, ClockedMeter, ThreadMeter
from lassi_hpc.energy.protocol import delay_to_phase_s, start_phases_s
from lassi_hpc.errors import MeasurementError
from lassi_hpc.records import (
    CommandResult,
    EnergyMeasurement,
    EnergyMethod,
    FailureKind,
)

LOW_W, HIGH_W, HALF_PERIOD_S = 100.0, 300.0, 0.5


def square_wave_energy_j(t_s: float) -> float:
    """Closed-form integral of the LOW/HIGH square wave from 0 to t_s (independent of fake.py)."""
    period_s = 2 * HALF_PERIOD_S
    cycles = math.floor(t_s / period_s)
    rest_s = t_s - cycles * period_s
    in_cycle_j = (
        LOW_W * rest_s
        if rest_s <= HALF_PERIOD_S
        else LOW_W * HALF_PERIOD_S + HIGH_W * (rest_s - HALF_PERIOD_S)
    )
    return cycles * (LOW_W + HIGH_W) * HALF_PERIOD_S + in_cycle_j


def runs_by_repetition(
    workload: FakeWorkload, measurement: EnergyMeasurement
) -> list[list[CommandResult]]:
    groups, position = [], 0
    for repetition in measurement.repetitions:
        groups.append(workload.results[position : position + repetition.runs_in_window])
        position += repetition.runs_in_window
    assert position == len(workload.results)
    return groups


def test_square_wave_energy_matches_the_analytic_integral() -> None:
    clock = ManualClock()
    device = FakeBackend(square_wave(LOW_W, HIGH_W, HALF_PERIOD_S), clock)
    workload = FakeWorkload(clock, 0.37)
    measurement = measure_workload(
        workload, BackendMeter(device), 4, 2.0, 0.0, random.Random(3), clock=clock, settle_s=0.0
    )
    assert measurement.method is EnergyMethod.COUNTER
    assert "idle-not-subtracted" in measurement.flags
    for repetition, runs in zip(
        measurement.repetitions, runs_by_repetition(workload, measurement), strict=True
    ):
        assert repetition.runs_in_window == 6  # ceil(2.0 / 0.37)
        start_s = runs[0].started_at_s - device.origin_s
        end_s = runs[-1].ended_at_s - device.origin_s
        expected_j = (square_wave_energy_j(end_s) - square_wave_energy_j(start_s)) / 6
        assert repetition.energy_j == pytest.approx(expected_j, rel=1e-8)  # exact
        assert repetition.idle_power_w == 0.0
        assert repetition.window_s == pytest.approx(end_s - start_s, rel=1e-12)
    # The random start delays put the windows at different phases of the wave.
    assert len({round(r.energy_j, 6) for r in measurement.repetitions}) > 1


def test_idle_windows_and_settle_margins_on_a_square_wave() -> None:
    clock = ManualClock()
    device = FakeBackend(square_wave(LOW_W, HIGH_W, HALF_PERIOD_S), clock)
    workload = FakeWorkload(clock, 0.37)
    idle_s, settle_s = 0.8, 0.15
    measurement = measure_workload(
        workload, BackendMeter(device), 3, 1.0, idle_s, random.Random(5), clock=clock,
        settle_s=settle_s,
    )  # fmt: skip
    e = square_wave_energy_j
    for repetition, runs in zip(
        measurement.repetitions, runs_by_repetition(workload, measurement), strict=True
    ):
        start_s = runs[0].started_at_s - device.origin_s
        end_s = runs[-1].ended_at_s - device.origin_s
        span_start_s, span_end_s = start_s - settle_s, end_s + settle_s
        idle_j = e(span_start_s) - e(span_start_s - idle_s) + e(span_end_s + idle_s) - e(span_end_s)
        idle_w = idle_j / (2 * idle_s)
        span_j = e(span_end_s) - e(span_start_s)
        expected_j = (span_j - idle_w * (span_end_s - span_start_s)) / len(runs)
        assert repetition.idle_power_w == pytest.approx(idle_w, rel=1e-8)
        assert repetition.energy_j == pytest.approx(expected_j, rel=1e-6)
        window_j = e(end_s) - e(start_s)
        assert repetition.window_energy_j == pytest.approx(window_j, rel=1e-8)
        assert repetition.average_power_w == pytest.approx(window_j / (end_s - start_s), rel=1e-8)
        assert repetition.counter_energy_j == pytest.approx(span_j, rel=1e-8)
        assert math.isnan(repetition.integrated_energy_j)  # no sampler: no cross-check


@pytest.mark.parametrize("settle_s", [0.0, 0.25], ids=str)
def test_idle_subtraction_is_exact_on_a_piecewise_constant_curve(settle_s: float) -> None:
    clock = ManualClock()
    device = FakeBackend(constant_power(50.0), clock)
    # 0.05 s of start-up at idle power before each 0.3 s run: gaps are inside the window and
    # must cancel out with the idle subtraction, as must the settle margins.
    workload = FakeWorkload(
        clock, 0.3, device=device, busy_power_w=250.0, idle_power_w=50.0, gap_s=0.05
    )
    measurement = measure_workload(
        workload, BackendMeter(device), 3, 1.0, 0.5, random.Random(1), clock=clock,
        settle_s=settle_s,
    )  # fmt: skip
    assert measurement.flags == ("fake-device",)
    for repetition in measurement.repetitions:
        assert repetition.runs_in_window == 3  # runs end 0.35, 0.70, 1.05 s into the window
        assert repetition.idle_power_w == pytest.approx(50.0, rel=1e-9)
        assert repetition.energy_j == pytest.approx(200.0 * 0.3, rel=1e-8)
        assert repetition.duration_s == pytest.approx(0.3, rel=1e-8)
        # Average power is total power over the window: (3*0.3*250 + 3*0.05*50) J / 1.05 s.
        assert repetition.average_power_w == pytest.approx(232.5 / 1.05, rel=1e-8)
        assert repetition.trace is None
    assert measurement.energy_j_mean == pytest.approx(60.0, rel=1e-8)
    assert measurement.energy_j_sd == pytest.approx(0.0, abs=1e-6)
    assert measurement.devices[0].is_fake


@pytest.mark.parametrize(
    ("min_window_s", "runs"), [(1.0, 4), (0.9, 3), (0.1, 1), (0.0, 1)], ids=str
)
def test_short_workloads_are_repeated_to_fill_the_window(min_window_s: float, runs: int) -> None:
    clock = ManualClock()
    device = FakeBackend(constant_power(30.0), clock)
    workload = FakeWorkload(clock, 0.3, device=device, busy_power_w=130.0, idle_power_w=30.0)
    measurement = measure_workload(
        workload, BackendMeter(device), 2, min_window_s, 0.2, random.Random(2), clock=clock
    )
    assert len(workload.results) == 2 * runs
    for repetition in measurement.repetitions:
        assert repetition.runs_in_window == runs
        assert repetition.energy_j == pytest.approx(100.0 * 0.3, rel=1e-8)  # per run
        assert repetition.duration_s == pytest.approx(0.3, rel=1e-8)


@pytest.mark.parametrize("count", [1, 2, 7, 20])
def test_start_phases_take_one_stratum_each_in_random_order(count: int) -> None:
    phases_s = start_phases_s(count, 0.2, random.Random(count))
    width_s = 0.2 / count
    strata = sorted(math.floor(p / width_s) for p in phases_s)
    assert strata == list(range(count))
    assert all(0.0 <= p < 0.2 for p in phases_s)
    if count > 2:
        assert phases_s != sorted(phases_s)  # handed out in random order


@pytest.mark.parametrize(("now_s", "phase_s", "delay_s"), [(10.05, 0.15, 0.1), (10.17, 0.05, 0.08)])
def test_the_delay_reaches_the_phase_within_one_span(
    now_s: float, phase_s: float, delay_s: float
) -> None:
    assert delay_to_phase_s(now_s, phase_s, 0.2) == pytest.approx(delay_s)
    assert delay_to_phase_s(now_s, phase_s, 0.0) == 0.0


def test_repetitions_start_at_the_drawn_phases_of_the_clock() -> None:
    clock = ManualClock(start_s=1000.0)
    device = FakeBackend(constant_power(10.0), clock)
    workload = FakeWorkload(clock, 0.1)
    measurement = measure_workload(
        workload, BackendMeter(device), 3, 0.0, 0.25, random.Random(11), 0.5, clock=clock,
    )  # fmt: skip
    expected_s = start_phases_s(3, 0.5, random.Random(11))
    idle_and_settle_s = 0.25 + 0.25  # before the first run of each repetition
    for run, phase_s in zip(workload.results, expected_s, strict=True):
        start_phase_s = (run.started_at_s - idle_and_settle_s) % 0.5
        assert start_phase_s == pytest.approx(phase_s, abs=1e-6)
    assert all(0 <= r.start_delay_s < 0.5 for r in measurement.repetitions)
    assert clock.sleeps_s.count(0.25) == 2 * 3 * 2  # idle and settle (both 0.25 s), twice each


def test_a_failing_run_raises_measurement_error_naming_the_failure() -> None:
    clock = ManualClock()
    device = FakeBackend(constant_power(10.0), clock)
    workload = FakeWorkload(clock, 0.3, fail_on_run=2)
    with pytest.raises(MeasurementError) as caught:
        measure_workload(workload, BackendMeter(device), 3, 1.0, 0.1, random.Random(0), clock=clock)
    message = str(caught.value)
    assert "run 2 of repetition 1 failed (exit-code)" in message
    assert "exited with status 1" in message
    assert "fake-workload" in message
    assert len(workload.results) == 2  # stopped at the failure


def test_a_failure_while_sampling_leaves_no_sampler_thread_once_closed() -> None:
    device = FakeBackend(constant_power(10.0), SYSTEM_CLOCK, has_counter=False)
    workload = FakeWorkload(SYSTEM_CLOCK, 0.01, fail_on_run=1)
    meter = ThreadMeter(device, SYSTEM_CLOCK, 0.005)
    try:
        with pytest.raises(MeasurementError, match="run 1 of repetition 1 failed"):
            measure_workload(workload, meter, 2, 0.0, 0.0, random.Random(0), 0.0)
    finally:
        meter.close()
    assert not [t for t in threading.enumerate() if t.name == "lassi-power-sampler"]


def test_estimate_is_labelled_and_is_cpu_time_times_watts_per_core() -> None:
    clock = ManualClock()
    meter = BackendMeter(EstimateBackend(busy_core_power_w=12.5))
    workload = FakeWorkload(clock, 0.2, cpu_s=0.8)
    measurement = measure_workload(workload, meter, 3, 0.5, 2.0, random.Random(0), clock=clock)
    assert measurement.method is EnergyMethod.ESTIMATE
    assert measurement.is_estimate
    assert measurement.flags[0] == "estimate"
    assert measurement.backend == "estimate"
    assert measurement.devices[0].backend == "estimate"
    assert measurement.energy_j_mean == pytest.approx(0.8 * 12.5)
    for repetition in measurement.repetitions:
        assert repetition.runs_in_window == 3
        assert repetition.energy_j == pytest.approx(10.0)
        assert repetition.idle_power_w == 0.0
        assert repetition.average_power_w == pytest.approx(3 * 10.0 / 0.6)
    # Nothing to wait for without a sensor: no start delay, no idle windows, only the workload.
    assert 2.0 not in clock.sleeps_s
    assert sum(clock.sleeps_s) == pytest.approx(9 * 0.2)


def test_estimate_method_without_an_estimator_is_refused() -> None:
    class Pretender(BackendMeter):
        method = EnergyMethod.ESTIMATE
        estimate_energy_j = None  # type: ignore[assignment]

    clock = ManualClock()
    meter = Pretender(FakeBackend(constant_power(1.0), clock))
    with pytest.raises(MeasurementError, match="cannot estimate"):
        measure_workload(FakeWorkload(clock, 0.1), meter, 1, 0.0, 0.0, random.Random(0))


def test_sampled_power_path_integrates_samples_and_keeps_a_trace() -> None:
    clock = ManualClock()
    device = FakeBackend(constant_power(120.0), clock, has_counter=False, uids=("g0", "g1"))
    workload = FakeWorkload(clock, 0.02)
    meter = ClockedMeter(device, clock, 0.005)
    measurement = measure_workload(
        workload, meter, 2, 0.05, 0.03, random.Random(4), 0.01, clock=clock
    )
    assert measurement.method is EnergyMethod.SAMPLED_POWER
    assert measurement.sample_period_s == 0.005
    for repetition in measurement.repetitions:
        assert repetition.average_power_w == pytest.approx(240.0, rel=1e-9)
        assert repetition.idle_power_w == pytest.approx(240.0, rel=1e-9)
        assert repetition.energy_j == pytest.approx(0.0, abs=1e-9)
        trace = repetition.trace
        assert trace is not None
        assert set(trace.power_w) == {240.0}
        assert trace.device_uids == ("g0", "g1")
        assert [set(row) for row in trace.device_power_w] == [{120.0}, {120.0}]
        assert list(trace.time_s) == sorted(trace.time_s)
        assert trace.time_s[0] < 0 < trace.time_s[-1]  # covers idle before and after


def test_a_square_wave_sampled_every_10_ms_integrates_within_half_a_percent() -> None:
    clock = ManualClock()
    # Edges every 0.237 s never fall on the 10 ms sampling grid.
    device = FakeBackend(square_wave(LOW_W, HIGH_W, 0.237), clock, has_counter=False)
    meter = ClockedMeter(device, clock, 0.01)
    workload = FakeWorkload(clock, 0.41)
    measurement = measure_workload(
        workload, meter, 5, 2.0, 0.0, random.Random(8), clock=clock, settle_s=0.0
    )
    curve = square_wave(LOW_W, HIGH_W, 0.237)
    for repetition, runs in zip(
        measurement.repetitions, runs_by_repetition(workload, measurement), strict=True
    ):
        start_s = runs[0].started_at_s - device.origin_s
        end_s = runs[-1].ended_at_s - device.origin_s
        true_j = curve.energy_j(end_s) - curve.energy_j(start_s)
        assert repetition.window_energy_j == pytest.approx(true_j, rel=5e-3)


def test_a_counter_that_disagrees_with_the_power_sensor_is_flagged() -> None:
    class BiasedSensor(FakeBackend):
        """FAKE: an exact counter, and a power sensor reading `bias` too high."""

        bias = 1.0

        def read_devices(self) -> tuple:  # type: ignore[type-arg]
            return tuple(
                type(r)(r.uid, r.power_w * self.bias, r.energy_j, r.device_time_s)
                for r in super().read_devices()
            )

    flags = {}
    for bias in (1.0, 1.08):
        clock = ManualClock()
        device = BiasedSensor(constant_power(100.0), clock)
        device.bias = bias
        workload = FakeWorkload(clock, 0.3, device=device, busy_power_w=200.0, idle_power_w=100.0)
        measurement = measure_workload(
            workload, ClockedMeter(device, clock, 0.01), 2, 1.0, 0.5, random.Random(0), clock=clock
        )
        repetition = measurement.repetitions[0]
        assert repetition.integrated_energy_j == pytest.approx(
            bias * repetition.counter_energy_j, rel=0.02
        )
        flags[bias] = measurement.flags
    assert "counter-vs-power>5%" not in flags[1.0]
    assert "counter-vs-power>5%" in flags[1.08]


def test_rejected_readings_are_flagged_and_kept() -> None:
    class Grumbling(FakeBackend):
        def problems(self) -> tuple[str, ...]:
            return ("fake-device-0: power 65535 W rejected (sensor says unsupported), 2 times",)

    clock = ManualClock()
    device = Grumbling(constant_power(10.0), clock)
    measurement = measure_workload(
        FakeWorkload(clock, 0.1), BackendMeter(device), 2, 0.0, 0.1, random.Random(0), clock=clock
    )
    assert "rejected-readings" in measurement.flags
    assert measurement.problems == device.problems()


def test_a_real_process_on_a_counter_device() -> None:
    def run_sleep() -> CommandResult:
        started_at_s = time.time()
        completed = subprocess.run(["sleep", "0.05"], check=False)
        ended_at_s = time.time()
        failed = completed.returncode != 0
        return fake_command_result(
            started_at_s,
            ended_at_s,
            failure=FailureKind.EXIT_CODE if failed else None,
            argv=("sleep", "0.05"),
        )

    device = FakeBackend(constant_power(80.0), SYSTEM_CLOCK)
    meter = ThreadMeter(device, SYSTEM_CLOCK, 0.01)
    try:
        measurement = measure_workload(
            run_sleep, meter, 2, 0.12, 0.0, random.Random(0), 0.01, settle_s=0.0
        )
    finally:
        meter.close()
    assert measurement.method is EnergyMethod.COUNTER
    for repetition in measurement.repetitions:
        assert repetition.runs_in_window >= 1
        assert repetition.duration_s >= 0.05
        # Exact up to the pairing of counter reads with clock reads (microseconds, unless the
        # sampler thread holds the GIL at that moment): 10% is a bound, not a timing claim.
        assert repetition.average_power_w == pytest.approx(80.0, rel=0.1)
        # The counter window contains every run and no idle is subtracted, so per-run energy
        # covers at least a run's own duration at 80 W.
        assert repetition.energy_j >= 80.0 * repetition.duration_s * (1 - 1e-9)
        assert repetition.trace is not None  # the device also reads power


@pytest.mark.parametrize(
    ("repetitions", "flag"), [(1, "single-repetition"), (2, "fake-device")], ids=str
)
def test_flags(repetitions: int, flag: str) -> None:
    clock = ManualClock()
    device = FakeBackend(constant_power(10.0), clock)
    workload = FakeWorkload(clock, 0.1, device=device, busy_power_w=20.0, idle_power_w=10.0)
    measurement = measure_workload(
        workload, BackendMeter(device), repetitions, 0.0, 0.1, random.Random(0), clock=clock
    )
    assert flag in measurement.flags
    assert "estimate" not in measurement.flags


def test_energy_below_idle_is_kept_and_flagged() -> None:
    clock = ManualClock()
    device = FakeBackend(constant_power(10.0), clock)
    workload = FakeWorkload(clock, 0.2, device=device, busy_power_w=4.0, idle_power_w=10.0)
    measurement = measure_workload(
        workload, BackendMeter(device), 2, 0.0, 0.5, random.Random(0), clock=clock
    )
    assert measurement.energy_j_mean == pytest.approx(-6.0 * 0.2, rel=1e-8)  # not clipped
    assert "energy<=idle" in measurement.flags


def test_window_cut_at_the_run_cap_is_flagged() -> None:
    clock = ManualClock()
    device = FakeBackend(constant_power(10.0), clock)
    workload = FakeWorkload(clock, 0.1, device=device, busy_power_w=20.0, idle_power_w=10.0)
    measurement = measure_workload(
        workload, BackendMeter(device), 1, 10.0, 0.1, random.Random(0), clock=clock,
        max_runs_per_window=3,
    )  # fmt: skip
    assert measurement.repetitions[0].runs_in_window == 3
    assert measurement.repetitions[0].energy_j == pytest.approx(1.0, rel=1e-8)
    assert "window-short" in measurement.flags


@pytest.mark.parametrize(
    "bad",
    [
        {"repetitions": 0},
        {"min_window_s": -1.0},
        {"idle_s": math.nan},
        {"max_start_delay_s": -0.1},
        {"settle_s": math.inf},
    ],
    ids=str,
)
def test_bad_arguments_are_rejected(bad: dict[str, float]) -> None:
    clock = ManualClock()
    arguments: dict[str, float] = {
        "repetitions": 1,
        "min_window_s": 0.0,
        "idle_s": 0.0,
        "max_start_delay_s": 0.0,
        "settle_s": 0.0,
    }
    arguments.update(bad)
    device = FakeBackend(constant_power(10.0), clock)
    with pytest.raises(ValueError, match=next(iter(bad))):
        measure_workload(
            FakeWorkload(clock, 0.1),
            BackendMeter(device),
            int(arguments["repetitions"]),
            arguments["min_window_s"],
            arguments["idle_s"],
            random.Random(0),
            arguments["max_start_delay_s"],
            settle_s=arguments["settle_s"],
            clock=clock,
        )


def test_in_process_meters_put_device_timestamps_on_the_host_clock() -> None:
    class BootClockDevice(FakeBackend):
        """FAKE: stamps each power value with seconds since its own "boot" (the curve's origin)."""

        def read_devices(self) -> tuple:  # type: ignore[type-arg]
            return tuple(
                type(r)(r.uid, r.power_w, r.energy_j, self.elapsed_s() - 0.002)
                for r in super().read_devices()
            )

    clock = ManualClock(start_s=5_000.0)
    meter = ClockedMeter(BootClockDevice(constant_power(50.0), clock), clock, 0.01)
    clock.advance(0.1)
    first = meter.drain_samples()
    clock.advance(0.1)
    second = meter.drain_samples()
    for samples in (first, second):
        # The stamps were 2 ms older than each tick, on a clock starting at 0: aligned, they sit
        # on the tick times (the offset is the smallest gap seen), not near 0 s.
        assert samples.device_time_s[0] == pytest.approx(samples.time_s, abs=1e-9)


def busy_reader(step_cpu_s: float) -> Callable[[], float]:
    """A scripted host: each read finds `step_cpu_s` more busy CPU seconds than the last."""
    reads = itertools.count()
    return lambda: next(reads) * step_cpu_s


@pytest.mark.parametrize(("step_cpu_s", "flagged"), [(0.0, False), (1e6, True)])
def test_other_work_on_the_host_flags_a_cpu_measurement(step_cpu_s: float, flagged: bool) -> None:
    clock = ManualClock()
    meter = BackendMeter(EstimateBackend(busy_core_power_w=10.0))
    workload = FakeWorkload(clock, 0.2, cpu_s=0.2)
    measurement = measure_workload(
        workload, meter, 2, 0.5, 0.0, random.Random(0), clock=clock,
        read_host_busy_cpu_s=busy_reader(step_cpu_s),
    )  # fmt: skip
    assert ("host-busy" in measurement.flags) is flagged


def test_other_work_on_the_host_does_not_flag_a_gpu_measurement() -> None:
    clock = ManualClock()
    device = FakeBackend(constant_power(10.0), clock)  # a GPU
    workload = FakeWorkload(clock, 0.1, device=device, busy_power_w=20.0, idle_power_w=10.0)
    measurement = measure_workload(
        workload, BackendMeter(device), 2, 0.0, 0.1, random.Random(0), clock=clock,
        read_host_busy_cpu_s=busy_reader(1e6),
    )  # fmt: skip
    assert "host-busy" not in measurement.flags
