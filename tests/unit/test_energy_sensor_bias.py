"""An NVML-like sensor (a 25 ms average published every 100 ms) biases a sampled measurement;
the protocol's spread start delays recover the true energy. FAKE devices on a manual clock."""

from __future__ import annotations

import random

import pytest

from lassi_hpc.energy import ManualClock, measure_workload
from lassi_hpc.energy.fake import constant_power
from lassi_hpc.energy.fake_workload import FakeWorkload
from lassi_hpc.energy.in_process_meters import ClockedMeter
from lassi_hpc.records import EnergyMeasurement
from lassi_hpc.testing.emulated_sensor import AveragingSensor

IDLE_W, BUSY_W, RUN_S = 100.0, 300.0, 0.33
TRUE_J = (BUSY_W - IDLE_W) * RUN_S  # energy above idle of one run: 66 J
# idle 0.535 + settle 0.25 + run 0.33 + settle 0.25 + idle 0.535 = 1.9 s: a whole number of
# sensor periods, so without start delays every repetition meets the sensor at the same phase.
IDLE_S, SETTLE_S = 0.535, 0.25


def measure(repetitions: int, max_start_delay_s: float, seed: int) -> EnergyMeasurement:
    clock = ManualClock()
    sensor = AveragingSensor(constant_power(IDLE_W), clock)
    workload = FakeWorkload(clock, RUN_S, device=sensor, busy_power_w=BUSY_W, idle_power_w=IDLE_W)
    meter = ClockedMeter(sensor, clock, 0.01)
    return measure_workload(
        workload, meter, repetitions, 0.0, IDLE_S, random.Random(seed), max_start_delay_s,
        settle_s=SETTLE_S, clock=clock,
    )  # fmt: skip


def test_at_a_fixed_phase_the_sensor_biases_every_repetition_alike() -> None:
    measurement = measure(10, 0.0, 0)
    energies_j = [r.energy_j for r in measurement.repetitions]
    assert max(energies_j) - min(energies_j) < 1e-6 * TRUE_J  # the same error every time...
    assert abs(measurement.energy_j_mean / TRUE_J - 1) > 0.05  # ...and it is large


@pytest.mark.parametrize("seed", range(5))
def test_spread_start_delays_recover_the_true_energy_within_two_percent(seed: int) -> None:
    measurement = measure(20, 0.2, seed)
    energies_j = [r.energy_j for r in measurement.repetitions]
    assert max(energies_j) - min(energies_j) > 0.05 * TRUE_J  # single repetitions still err
    assert measurement.energy_j_mean == pytest.approx(TRUE_J, rel=0.02)
