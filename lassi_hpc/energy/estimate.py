"""The estimate backend, for machines with no energy meter: CPU time x nominal watts per busy core.

Its figures are a MODEL, never a measurement: its method is ESTIMATE and every EnergyMeasurement
made with it carries the flag "estimate". Idle power is not modelled (taken as 0 W): the figure is
meant as energy above idle of the busy cores only.
"""

from __future__ import annotations

import math
from pathlib import Path

from lassi_hpc.energy.backend import DeviceReading
from lassi_hpc.energy.host import DEFAULT_CPUINFO_PATH, cpu_model, host_name
from lassi_hpc.records import CommandResult, DeviceIdentity, EnergyMethod

# A round middle figure for one fully busy core: server parts draw about 4-7 W per core at TDP
# (e.g. 280 W / 64 cores, 270 W / 40 cores), desktop parts about 10-20 W. It is a placeholder for
# "some watts per core", which is all an estimate can honestly claim; sites may set their own.
DEFAULT_BUSY_CORE_POWER_W = 10.0


class EstimateBackend:
    """Models a run's energy as `CommandResult.cpu_s` x `busy_core_power_w` (joules)."""

    name = "estimate"
    method = EnergyMethod.ESTIMATE

    def __init__(
        self,
        busy_core_power_w: float = DEFAULT_BUSY_CORE_POWER_W,
        *,
        cpuinfo_path: Path = DEFAULT_CPUINFO_PATH,
    ) -> None:
        if not (math.isfinite(busy_core_power_w) and busy_core_power_w > 0):
            raise ValueError(
                f"busy_core_power_w must be a positive number of watts, got {busy_core_power_w!r}"
            )
        self.busy_core_power_w = busy_core_power_w
        host = host_name()
        self._device = DeviceIdentity(
            backend=self.name,
            kind="cpu",
            name=cpu_model(cpuinfo_path),
            uid=f"{host}:cpu",
            host=host,
        )

    def devices(self) -> tuple[DeviceIdentity, ...]:
        return (self._device,)

    def read_energy_j(self) -> float | None:
        return None

    def read_power_w(self) -> float | None:
        return None

    def read_devices(self) -> tuple[DeviceReading, ...]:
        return (DeviceReading(self._device.uid, math.nan, math.nan, math.nan),)

    def problems(self) -> tuple[str, ...]:
        return ()

    def estimate_energy_j(self, result: CommandResult) -> float:
        """Estimated energy in joules of one command: its CPU seconds x watts per busy core."""
        return result.cpu_s * self.busy_core_power_w

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"EstimateBackend(busy_core_power_w={self.busy_core_power_w!r})"


def open_estimate(busy_core_power_w: float = DEFAULT_BUSY_CORE_POWER_W) -> EstimateBackend:
    """Registry opener of the "estimate" backend; always available."""
    return EstimateBackend(busy_core_power_w)
