"""Meters that sample in this process: for tests and for meters that need no sampler.

- `BackendMeter`: no sampling at all; counter reads only (and the estimate backend's model).
- `ClockedMeter`: ticks on a ManualClock's grid, so a test of the protocol is exact and repeatable.
- `ThreadMeter`: a sampler thread on the real clock (tests that run real processes in-process).

Real measurements sample in a process of their own (`sampler_process.SamplerProcess`), where the
workload's Python side cannot delay the ticks and a vendor library gets a process to itself.
"""

from __future__ import annotations

import math
import threading
import time

from lassi_hpc.energy.align import device_clock_offset_s, shift_times
from lassi_hpc.energy.backend import DeviceReading, EnergyBackend, EnergyEstimator
from lassi_hpc.energy.clock import Clock, ManualClock
from lassi_hpc.energy.samples import PowerSamples, empty_samples
from lassi_hpc.errors import MeasurementError
from lassi_hpc.records import CommandResult, DeviceIdentity, EnergyMethod


class _Ticks:
    """Ticks collected column-wise until drained; safe to fill from a sampler thread.

    A tick's time is taken after its reads, so it is the "host after" time that align.py needs:
    drained device timestamps are put on the host clock exactly as a sampler process does.
    """

    def __init__(self, uids: tuple[str, ...]) -> None:
        self.uids = uids
        self._lock = threading.Lock()
        self._time_s: list[float] = []
        self._power_w: list[list[float]] = [[] for _ in uids]
        self._device_time_s: list[list[float]] = [[] for _ in uids]
        self._offsets_s = [math.inf for _ in uids]  # tightened with every drain

    def add(self, time_s: float, readings: tuple[DeviceReading, ...]) -> None:
        if tuple(r.uid for r in readings) != self.uids:
            raise MeasurementError(
                f"backend read devices {[r.uid for r in readings]}, expected {list(self.uids)}"
            )
        with self._lock:
            self._time_s.append(time_s)
            for row, reading in enumerate(readings):
                self._power_w[row].append(reading.power_w)
                self._device_time_s[row].append(reading.device_time_s)

    def drain(self) -> PowerSamples:
        with self._lock:
            time_s = tuple(self._time_s)
            power_w = tuple(tuple(row) for row in self._power_w)
            stamps = tuple(tuple(row) for row in self._device_time_s)
            self._time_s.clear()
            for column in (*self._power_w, *self._device_time_s):
                column.clear()
        aligned = []
        for row, device_stamps in enumerate(stamps):
            offset_s = device_clock_offset_s(device_stamps, time_s)
            if math.isfinite(offset_s):
                self._offsets_s[row] = min(self._offsets_s[row], offset_s)
            known_s = self._offsets_s[row] if math.isfinite(self._offsets_s[row]) else math.nan
            aligned.append(shift_times(device_stamps, known_s))
        return PowerSamples(self.uids, time_s, power_w, tuple(aligned))


class BackendMeter:
    """A backend read directly, with no sampler: counter marks only (or the estimate's model)."""

    def __init__(self, backend: EnergyBackend) -> None:
        self.backend = backend

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def method(self) -> EnergyMethod:
        return self.backend.method

    @property
    def period_s(self) -> float:
        return math.nan

    def devices(self) -> tuple[DeviceIdentity, ...]:
        return self.backend.devices()

    def context_devices(self) -> tuple[DeviceIdentity, ...]:
        return ()

    def read_energy_j(self) -> float | None:
        return self.backend.read_energy_j()

    def drain_samples(self) -> PowerSamples:
        return empty_samples(tuple(d.uid for d in self.devices()))

    def problems(self) -> tuple[str, ...]:
        return self.backend.problems()

    def estimate_energy_j(self, result: CommandResult) -> float:
        """The backend's modelled energy of one run (ESTIMATE backends only)."""
        if not isinstance(self.backend, EnergyEstimator):
            raise MeasurementError(f"{self.backend.name}: this backend cannot estimate a run")
        return self.backend.estimate_energy_j(result)

    def close(self) -> None:
        self.backend.close()


class ClockedMeter(BackendMeter):
    """Samples `backend` every `period_s` of a ManualClock, at exact multiples of the period.

    A first tick is taken at once (the sampler's ready signal), then one at every grid instant
    that the clock passes through, with the clock showing that instant.
    """

    def __init__(self, backend: EnergyBackend, clock: ManualClock, period_s: float) -> None:
        super().__init__(backend)
        self.clock = clock
        self._period_s = period_s
        self._ticks = _Ticks(tuple(d.uid for d in backend.devices()))
        self._tick()
        self._cancel = clock.every(period_s, self._tick)

    def _tick(self) -> None:
        self._ticks.add(self.clock.now_s(), self.backend.read_devices())

    @property
    def period_s(self) -> float:
        return self._period_s

    def drain_samples(self) -> PowerSamples:
        return self._ticks.drain()

    def close(self) -> None:
        self._cancel()
        super().close()


class ThreadMeter(BackendMeter):
    """Samples `backend` every `period_s` (real time) from a thread of this process.

    Deadlines sit on a fixed grid, so time spent reading does not add up as drift. A read that
    raises stops the thread; the error surfaces at the next drain_samples() or close().
    """

    def __init__(self, backend: EnergyBackend, clock: Clock, period_s: float) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be positive, got {period_s}")
        super().__init__(backend)
        self.clock = clock
        self._period_s = period_s
        self._ticks = _Ticks(tuple(d.uid for d in backend.devices()))
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._tick()  # the ready signal: the first tick exists before the constructor returns
        self._thread = threading.Thread(target=self._run, name="lassi-power-sampler", daemon=True)
        self._thread.start()

    @property
    def period_s(self) -> float:
        return self._period_s

    def _tick(self) -> None:
        readings = self.backend.read_devices()
        self._ticks.add(self.clock.now_s(), readings)

    def _run(self) -> None:
        next_s = time.monotonic()
        try:
            while True:
                next_s += self._period_s
                if self._stop.wait(max(0.0, next_s - time.monotonic())):
                    self._tick()  # a last tick at the stop, so the ticks cover the window
                    return
                self._tick()
        except Exception as error:  # reported to the measuring thread
            self._error = error

    def _raise_error(self) -> None:
        if self._error is not None:
            raise MeasurementError(
                f"{self.backend.name}: reading power failed: "
                f"{type(self._error).__name__}: {self._error}"
            ) from self._error

    def drain_samples(self) -> PowerSamples:
        self._raise_error()
        return self._ticks.drain()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        super().close()
