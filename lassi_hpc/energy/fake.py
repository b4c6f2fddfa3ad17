"""A FAKE energy device for tests: a scripted power curve read through the backend interface.

The curve gives power P(t) in watts as a function of t, the seconds since the backend was created
(on its clock). The backend exposes both the exact energy counter (the integral of P) and the
instantaneous power, so tests can check the protocol's arithmetic against analytic integrals.
Its device is marked `is_fake=True` and named FAKE; measurements made with it are flagged.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from lassi_hpc.energy.backend import DeviceReading
from lassi_hpc.energy.clock import SYSTEM_CLOCK, Clock
from lassi_hpc.energy.host import host_name
from lassi_hpc.records import DeviceIdentity, EnergyMethod


class PowerCurve(Protocol):
    def power_w(self, t_s: float) -> float:
        """Power in watts at `t_s` seconds after the curve's origin."""
        ...

    def energy_j(self, t_s: float) -> float:
        """Energy in joules from the origin to `t_s` (the integral of power_w over [0, t_s])."""
        ...


class PiecewiseConstantPower:
    """Power that holds each step's value from its start until the next step's start.

    `steps` are (start_s, power_w) pairs with strictly increasing starts, the first at 0. With
    `period_s` the pattern repeats (all starts must lie inside the period). Without a period, more
    steps can be appended while the curve is being read (`set_power_w`), which lets a fake workload
    raise and lower the device's power as it runs. Integrals are exact.
    """

    def __init__(
        self, steps: Sequence[tuple[float, float]], *, period_s: float | None = None
    ) -> None:
        if not steps or steps[0][0] != 0:
            raise ValueError("the first step must start at 0 s")
        starts = [float(start_s) for start_s, _ in steps]
        if any(b <= a for a, b in itertools.pairwise(starts)):
            raise ValueError(f"step starts must increase strictly, got {starts}")
        if period_s is not None and not (period_s > starts[-1]):
            raise ValueError(f"period_s={period_s} must be longer than the last step start")
        self.period_s = period_s
        self._lock = threading.Lock()
        self._starts_s: list[float] = []
        self._powers_w: list[float] = []
        self._energy_at_start_j: list[float] = []
        for start_s, power_w in steps:
            self._append(float(start_s), float(power_w))

    def _append(self, start_s: float, power_w: float) -> None:
        if self._starts_s:
            held_s = start_s - self._starts_s[-1]
            energy_j = self._energy_at_start_j[-1] + self._powers_w[-1] * held_s
        else:
            energy_j = 0.0
        self._starts_s.append(start_s)
        self._powers_w.append(power_w)
        self._energy_at_start_j.append(energy_j)

    def set_power_w(self, from_s: float, power_w: float) -> None:
        """Hold `power_w` from `from_s` on (not before the last step; aperiodic curves only)."""
        if self.period_s is not None:
            raise TypeError("a periodic curve cannot be changed while it runs")
        with self._lock:
            last_s = self._starts_s[-1]
            if from_s < last_s:
                raise ValueError(f"a new step at {from_s} s would precede the last at {last_s} s")
            if from_s == last_s:
                self._starts_s.pop()
                self._powers_w.pop()
                self._energy_at_start_j.pop()
            self._append(from_s, power_w)

    def _within_period_s(self, t_s: float) -> tuple[float, int]:
        if self.period_s is None:
            return t_s, 0
        cycles = math.floor(t_s / self.period_s)
        return t_s - cycles * self.period_s, cycles

    def power_w(self, t_s: float) -> float:
        offset_s, _ = self._within_period_s(max(t_s, 0.0))
        with self._lock:
            index = bisect.bisect_right(self._starts_s, offset_s) - 1
            return self._powers_w[index]

    def energy_j(self, t_s: float) -> float:
        if t_s <= 0:
            return 0.0
        offset_s, cycles = self._within_period_s(t_s)
        with self._lock:
            index = bisect.bisect_right(self._starts_s, offset_s) - 1
            partial_j = self._energy_at_start_j[index] + self._powers_w[index] * (
                offset_s - self._starts_s[index]
            )
            if cycles == 0 or self.period_s is None:
                return partial_j
            period_j = self._energy_at_start_j[-1] + self._powers_w[-1] * (
                self.period_s - self._starts_s[-1]
            )
            return cycles * period_j + partial_j


def constant_power(power_w: float) -> PiecewiseConstantPower:
    """A curve holding `power_w` watts until a step is appended."""
    return PiecewiseConstantPower([(0.0, power_w)])


def square_wave(low_w: float, high_w: float, half_period_s: float) -> PiecewiseConstantPower:
    """`low_w` for half_period_s, then `high_w` for half_period_s, repeated; starts low."""
    return PiecewiseConstantPower(
        [(0.0, low_w), (half_period_s, high_w)], period_s=2 * half_period_s
    )


class CallablePower:
    """Any power function of time; energy by the trapezoid rule on a grid of about `step_s`.

    The integral is numerical (error of order step_s squared on smooth curves, up to
    step_s x jump size at a discontinuity); use PiecewiseConstantPower where exactness matters.
    """

    def __init__(self, power_w: Callable[[float], float], *, step_s: float = 1e-3) -> None:
        if not step_s > 0:
            raise ValueError(f"step_s must be positive, got {step_s}")
        self._power_w = power_w
        self.step_s = step_s

    def power_w(self, t_s: float) -> float:
        return self._power_w(max(t_s, 0.0))

    def energy_j(self, t_s: float) -> float:
        if t_s <= 0:
            return 0.0
        intervals = math.ceil(t_s / self.step_s)
        width_s = t_s / intervals
        inner_w = sum(self._power_w(i * width_s) for i in range(1, intervals))
        return width_s * (0.5 * self._power_w(0.0) + inner_w + 0.5 * self._power_w(t_s))


class FakeBackend:
    """FAKE devices following `curve` on `clock`; t = 0 is `origin_s` (default: creation time).

    Every device of `uids` follows the same curve, so the summed power is len(uids) x P(t).
    `has_counter=False` hides the energy counter (the protocol must then sample power),
    `has_power=False` hides the power reading. At least one must stay. Two processes that open
    the backend with the same curve and origin see the same device (the sampler-process tests).
    """

    name = "fake"

    def __init__(
        self,
        curve: PowerCurve,
        clock: Clock = SYSTEM_CLOCK,
        *,
        has_counter: bool = True,
        has_power: bool = True,
        uid: str = "fake-device-0",
        uids: Sequence[str] | None = None,
        origin_s: float | None = None,
    ) -> None:
        if not (has_counter or has_power):
            raise ValueError("a fake device needs an energy counter, a power reading, or both")
        self.curve = curve
        self.clock = clock
        self.has_counter = has_counter
        self.has_power = has_power
        self.method = EnergyMethod.COUNTER if has_counter else EnergyMethod.SAMPLED_POWER
        self.origin_s = clock.now_s() if origin_s is None else origin_s
        host = host_name()
        self._devices = tuple(
            DeviceIdentity(
                backend=self.name,
                kind="gpu",
                name="FAKE device (scripted power curve, not a meter)",
                uid=device_uid,
                host=host,
                is_fake=True,
            )
            for device_uid in (uids if uids is not None else (uid,))
        )
        if not self._devices:
            raise ValueError("a fake backend needs at least one device uid")

    def elapsed_s(self) -> float:
        """Seconds since the curve's origin, on the backend's clock (the curve's time axis)."""
        return self.clock.now_s() - self.origin_s

    def set_power_w(self, power_w: float) -> None:
        """Hold `power_w` from now on; needs an aperiodic PiecewiseConstantPower curve."""
        if not isinstance(self.curve, PiecewiseConstantPower):
            raise TypeError(f"cannot set the power of a {type(self.curve).__name__} curve")
        self.curve.set_power_w(self.elapsed_s(), power_w)

    def devices(self) -> tuple[DeviceIdentity, ...]:
        return self._devices

    def read_energy_j(self) -> float | None:
        if not self.has_counter:
            return None
        return len(self._devices) * self.curve.energy_j(self.elapsed_s())

    def read_power_w(self) -> float | None:
        if not self.has_power:
            return None
        return len(self._devices) * self.curve.power_w(self.elapsed_s())

    def read_devices(self) -> tuple[DeviceReading, ...]:
        elapsed_s = self.elapsed_s()
        power_w = self.curve.power_w(elapsed_s) if self.has_power else math.nan
        energy_j = self.curve.energy_j(elapsed_s) if self.has_counter else math.nan
        return tuple(DeviceReading(d.uid, power_w, energy_j, math.nan) for d in self._devices)

    def problems(self) -> tuple[str, ...]:
        return ()

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return (
            f"FakeBackend({self.curve!r}, {self.clock!r}, has_counter={self.has_counter!r}, "
            f"has_power={self.has_power!r})"
        )


def curve_from_spec(spec: Mapping[str, Any]) -> PiecewiseConstantPower:
    """A curve from a JSON-able description, so that a sampler process can rebuild it.

    {"kind": "constant", "power_w": P} | {"kind": "square", "low_w": L, "high_w": H,
    "half_period_s": T} | {"kind": "steps", "steps": [[start_s, power_w], ...], "period_s": T|null}
    """
    kind = spec.get("kind")
    if kind == "constant":
        return constant_power(float(spec["power_w"]))
    if kind == "square":
        return square_wave(
            float(spec["low_w"]), float(spec["high_w"]), float(spec["half_period_s"])
        )
    if kind == "steps":
        period = spec.get("period_s")
        return PiecewiseConstantPower(
            [(float(t), float(p)) for t, p in spec["steps"]],
            period_s=None if period is None else float(period),
        )
    raise ValueError(f"unknown fake curve kind {kind!r}; must be one of: constant, square, steps")


def open_fake(
    curve: PowerCurve | None = None,
    clock: Clock = SYSTEM_CLOCK,
    has_counter: bool = True,
    has_power: bool = True,
    curve_spec: Mapping[str, Any] | None = None,
    origin_s: float | None = None,
    uids: Sequence[str] | None = None,
) -> FakeBackend:
    """Registry opener of the "fake" backend; never chosen by "auto".

    `curve_spec` (see curve_from_spec) replaces `curve` where the options must travel as JSON.
    Without either: a 100 W / 300 W square wave with a 1 s period, so that a site configured
    with the fake backend produces visibly scripted numbers.
    """
    if curve is not None and curve_spec is not None:
        raise ValueError("give the fake backend a curve or a curve_spec, not both")
    if curve_spec is not None:
        curve = curve_from_spec(curve_spec)
    return FakeBackend(
        curve if curve is not None else square_wave(100.0, 300.0, 0.5),
        clock,
        has_counter=has_counter,
        has_power=has_power,
        uids=uids,
        origin_s=origin_s,
    )
