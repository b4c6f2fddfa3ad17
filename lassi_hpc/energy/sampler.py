"""A background thread that reads a backend's power at a fixed period.

This first version samples in a thread of the measuring process; a later issue moves sampling into
its own process (so the workload's Python side cannot delay it, and vendor libraries that are not
thread-safe get a process of their own) and adds counter-versus-power cross-checks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from lassi_hpc.energy.backend import EnergyBackend
from lassi_hpc.energy.clock import Clock
from lassi_hpc.errors import MeasurementError

# 10 ms: on A100/H100 the NVML power sensor updates about every 100 ms, so ten reads per update
# catch every new value within 10 ms of its appearance; finer polling only repeats values and costs
# CPU next to the workload.
DEFAULT_POWER_SAMPLE_PERIOD_S = 0.01


@dataclass(frozen=True)
class PowerSamples:
    """Samples as host times (seconds, the clock's scale) and power (watts), in time order."""

    time_s: tuple[float, ...]
    power_w: tuple[float, ...]


class PowerSampler:
    """Reads `backend.read_power_w()` every `period_s` between `start()` and `stop()`.

    Sample times come from `clock`; the waits between samples are real time (a thread cannot wait
    on a manual clock), so with a manual clock the number of samples is not deterministic.
    """

    def __init__(
        self,
        backend: EnergyBackend,
        clock: Clock,
        period_s: float = DEFAULT_POWER_SAMPLE_PERIOD_S,
    ) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be positive, got {period_s}")
        self.backend = backend
        self.clock = clock
        self.period_s = period_s
        self._time_s: list[float] = []
        self._power_w: list[float] = []
        self._error: Exception | None = None
        self._first_sample = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lassi-power-sampler", daemon=True)

    def _sample(self) -> None:
        power_w = self.backend.read_power_w()
        now_s = self.clock.now_s()
        if power_w is None:
            raise MeasurementError(f"{self.backend.name}: backend gave no power reading")
        self._time_s.append(now_s)
        self._power_w.append(power_w)

    def _run(self) -> None:
        try:
            next_s = time.monotonic()
            while True:
                self._sample()
                self._first_sample.set()
                next_s += self.period_s
                # Deadlines on a fixed grid, so the time spent reading does not add up as drift.
                if self._stop.wait(max(0.0, next_s - time.monotonic())):
                    self._sample()  # a last sample at the stop, so the samples cover the window
                    return
        except Exception as error:  # reported to the measuring thread by stop()
            self._error = error
            self._first_sample.set()

    def start(self, timeout_s: float = 10.0) -> None:
        """Start sampling; returns once the first sample is taken (the "ready" signal)."""
        self._thread.start()
        if not self._first_sample.wait(timeout_s):
            self._stop.set()
            raise MeasurementError(
                f"{self.backend.name}: power sampler took no sample within {timeout_s} s"
            )
        if self._error is not None:
            self.stop()

    def stop(self) -> PowerSamples:
        """Stop sampling and return the samples; MeasurementError if a read failed."""
        self._stop.set()
        self._thread.join()
        if self._error is not None:
            if isinstance(self._error, MeasurementError):
                raise self._error
            raise MeasurementError(
                f"{self.backend.name}: reading power failed: "
                f"{type(self._error).__name__}: {self._error}"
            ) from self._error
        return PowerSamples(tuple(self._time_s), tuple(self._power_w))
