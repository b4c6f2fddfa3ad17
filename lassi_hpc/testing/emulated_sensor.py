"""A FAKE power sensor that behaves like the NVML sensor of an A100/H100, for tests.

The sensor publishes a new value every `update_s` (100 ms), and that value is the mean power over
only the last `averaging_s` (25 ms) before the update; what happens in the other 75 ms is never
seen. Each value carries the update instant as its device timestamp. The device has no energy
counter, so the protocol must integrate these samples (method SAMPLED_POWER), which is where the
sensor's blind spots turn into bias unless start phases are spread.
"""

from __future__ import annotations

import math

from lassi_hpc.energy.backend import DeviceReading
from lassi_hpc.energy.clock import Clock
from lassi_hpc.energy.fake import FakeBackend, PowerCurve

NVML_LIKE_UPDATE_S = 0.1
NVML_LIKE_AVERAGING_S = 0.025


class AveragingSensor(FakeBackend):
    """FAKE device: the true curve is `curve`; readings are the windowed sensor's values."""

    def __init__(
        self,
        curve: PowerCurve,
        clock: Clock,
        *,
        update_s: float = NVML_LIKE_UPDATE_S,
        averaging_s: float = NVML_LIKE_AVERAGING_S,
    ) -> None:
        if not 0 < averaging_s <= update_s:
            raise ValueError(f"need 0 < averaging_s <= update_s, got {averaging_s}, {update_s}")
        super().__init__(curve, clock, has_counter=False)
        self.update_s = update_s
        self.averaging_s = averaging_s

    def _latest_update_s(self) -> float:
        """The last update instant at or before now, in seconds since the origin."""
        return math.floor(self.elapsed_s() / self.update_s + 1e-9) * self.update_s

    def _published_w(self, update_at_s: float) -> float:
        start_s = max(0.0, update_at_s - self.averaging_s)
        if update_at_s <= start_s:
            return self.curve.power_w(0.0)
        energy_j = self.curve.energy_j(update_at_s) - self.curve.energy_j(start_s)
        return energy_j / (update_at_s - start_s)

    def read_power_w(self) -> float | None:
        return len(self.devices()) * self._published_w(self._latest_update_s())

    def read_devices(self) -> tuple[DeviceReading, ...]:
        update_at_s = self._latest_update_s()
        power_w = self._published_w(update_at_s)
        device_time_s = self.origin_s + update_at_s
        return tuple(DeviceReading(d.uid, power_w, math.nan, device_time_s) for d in self.devices())
