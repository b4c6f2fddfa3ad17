"""The power sampler thread: ready signal, final sample, errors reported to the caller."""

from __future__ import annotations

import pytest

from lassi_hpc.energy.clock import SYSTEM_CLOCK, ManualClock
from lassi_hpc.energy.fake import FakeBackend, constant_power
from lassi_hpc.energy.sampler import PowerSampler
from lassi_hpc.errors import MeasurementError


class FailingPowerDevice(FakeBackend):
    """A FAKE device whose power reading breaks after `good_reads` reads."""

    def __init__(self, good_reads: int, error: Exception | None) -> None:
        super().__init__(constant_power(42.0), SYSTEM_CLOCK, has_counter=False)
        self.good_reads = good_reads
        self.error = error
        self.reads = 0

    def read_power_w(self) -> float | None:
        self.reads += 1
        if self.reads <= self.good_reads:
            return super().read_power_w()
        if self.error is not None:
            raise self.error
        return None


def test_samples_start_before_start_returns_and_end_at_stop() -> None:
    clock = ManualClock()
    device = FakeBackend(constant_power(42.0), clock, has_counter=False)
    sampler = PowerSampler(device, clock, period_s=0.001)
    sampler.start()
    clock.advance(2.0)
    samples = sampler.stop()
    assert samples.time_s[0] == 1_000_000.0  # taken before start() returned
    assert samples.time_s[-1] == 1_000_002.0  # the final sample, taken at stop()
    assert set(samples.power_w) == {42.0}
    assert len(samples.time_s) == len(samples.power_w) >= 2


def test_a_vendor_error_in_the_thread_reaches_the_caller() -> None:
    # The first read (the ready signal) works; the latest, the final read at stop(), fails.
    sampler = PowerSampler(FailingPowerDevice(1, OSError("sensor gone")), SYSTEM_CLOCK, 0.001)
    # The failure surfaces at start() if the thread got there first, else at stop().
    with pytest.raises(MeasurementError, match="reading power failed: OSError: sensor gone"):
        sampler.start()
        sampler.stop()


def test_a_missing_first_reading_fails_at_start() -> None:
    sampler = PowerSampler(FailingPowerDevice(0, None), SYSTEM_CLOCK, 0.001)
    with pytest.raises(MeasurementError, match="gave no power reading"):
        sampler.start()


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="period_s"):
        PowerSampler(FakeBackend(constant_power(1.0)), SYSTEM_CLOCK, 0.0)
