"""The FAKE device: scripted power curves and their exact energy counters."""

from __future__ import annotations

import math

import pytest

from lassi_hpc.energy.clock import ManualClock
from lassi_hpc.energy.fake import (
    CallablePower,
    FakeBackend,
    PiecewiseConstantPower,
    constant_power,
    open_fake,
    square_wave,
)
from lassi_hpc.records import EnergyMethod


def test_piecewise_constant_power_and_energy() -> None:
    curve = PiecewiseConstantPower([(0.0, 100.0), (1.0, 300.0), (3.0, 50.0)])
    assert [curve.power_w(t) for t in (0.0, 0.99, 1.0, 2.5, 3.0, 10.0)] == [
        100.0,
        100.0,
        300.0,
        300.0,
        50.0,
        50.0,
    ]
    assert curve.energy_j(0.5) == pytest.approx(50.0)
    assert curve.energy_j(2.0) == pytest.approx(100.0 + 300.0)
    assert curve.energy_j(4.0) == pytest.approx(100.0 + 600.0 + 50.0)
    assert curve.energy_j(-1.0) == 0.0


def test_square_wave_repeats() -> None:
    curve = square_wave(100.0, 300.0, 0.5)
    assert curve.power_w(0.75) == 300.0
    assert curve.power_w(1.25) == 100.0
    # two full periods of 200 J each, then 0.25 s at 100 W
    assert curve.energy_j(2.25) == pytest.approx(425.0)
    assert curve.energy_j(2.75) == pytest.approx(400.0 + 50.0 + 75.0)


def test_steps_can_be_appended_but_not_into_the_past() -> None:
    curve = constant_power(40.0)
    curve.set_power_w(2.0, 140.0)
    curve.set_power_w(2.0, 240.0)  # same instant: replaces
    assert curve.energy_j(3.0) == pytest.approx(80.0 + 240.0)
    with pytest.raises(ValueError, match="precede"):
        curve.set_power_w(1.0, 10.0)
    with pytest.raises(TypeError, match="periodic"):
        square_wave(1.0, 2.0, 1.0).set_power_w(5.0, 3.0)


@pytest.mark.parametrize(
    ("steps", "period_s", "message"),
    [
        ([], None, "first step"),
        ([(0.5, 1.0)], None, "first step"),
        ([(0.0, 1.0), (0.0, 2.0)], None, "increase strictly"),
        ([(0.0, 1.0), (1.0, 2.0)], 1.0, "period_s"),
    ],
    ids=str,
)
def test_malformed_curves_are_rejected(
    steps: list[tuple[float, float]], period_s: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PiecewiseConstantPower(steps, period_s=period_s)


def test_callable_power_is_integrated_numerically() -> None:
    ramp = CallablePower(lambda t: 10.0 * t, step_s=0.01)
    assert ramp.energy_j(2.0) == pytest.approx(20.0, rel=1e-12)  # trapezoid is exact on lines
    wave = CallablePower(lambda t: 100.0 + 50.0 * math.sin(t), step_s=1e-3)
    assert wave.energy_j(math.pi) == pytest.approx(100.0 * math.pi + 100.0, rel=1e-6)
    assert wave.power_w(math.pi / 2) == pytest.approx(150.0)


def test_fake_backend_reads_the_curve_on_its_clock() -> None:
    clock = ManualClock()
    device = FakeBackend(square_wave(100.0, 300.0, 0.5), clock)
    assert device.read_energy_j() == 0.0
    clock.advance(1.75)
    assert device.read_power_w() == 300.0
    assert device.read_energy_j() == pytest.approx(200.0 + 50.0 + 75.0)
    assert device.method is EnergyMethod.COUNTER


def test_fake_backend_can_hide_its_counter_or_its_power() -> None:
    clock = ManualClock()
    power_only = FakeBackend(constant_power(5.0), clock, has_counter=False)
    assert power_only.method is EnergyMethod.SAMPLED_POWER
    assert power_only.read_energy_j() is None
    assert power_only.read_power_w() == 5.0
    counter_only = FakeBackend(constant_power(5.0), clock, has_power=False)
    assert counter_only.read_power_w() is None
    with pytest.raises(ValueError, match="needs"):
        FakeBackend(constant_power(5.0), clock, has_counter=False, has_power=False)


def test_fake_device_is_named_fake() -> None:
    (device,) = open_fake().devices()
    assert device.is_fake
    assert device.backend == "fake"
    assert "FAKE" in device.name


def test_set_power_follows_the_clock() -> None:
    clock = ManualClock()
    device = FakeBackend(constant_power(10.0), clock)
    clock.advance(1.0)
    device.set_power_w(110.0)
    clock.advance(0.5)
    assert device.read_energy_j() == pytest.approx(10.0 + 55.0)
    with pytest.raises(TypeError, match="cannot set the power of a CallablePower"):
        FakeBackend(CallablePower(lambda t: t), clock).set_power_w(3.0)
    with pytest.raises(TypeError, match="periodic"):
        FakeBackend(square_wave(1.0, 2.0, 1.0), clock).set_power_w(3.0)
