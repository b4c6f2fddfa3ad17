"""What the measurement protocol reads: a `Meter`, i.e. a backend plus the sampler that watches it.

A meter reads the energy counter of the devices being measured on request (the protocol's marks)
and samples the power of every device of the node all the time, handing the samples over in
batches (`drain_samples`). Three implementations:

- `lassi_hpc.energy.sampler_process.SamplerProcess`: the sampler in a process of its own, local or
  one per node of an MPI job (what real measurements use);
- in `energy/in_process_meters.py`: `ThreadMeter` (a sampler thread in this process, real time),
  `ClockedMeter` (ticks on a ManualClock's grid: deterministic tests of the protocol's arithmetic)
  and `BackendMeter` (no sampling: counter reads only, or the estimate backend's model).
"""

from __future__ import annotations

from typing import Protocol

from lassi_hpc.energy.samples import PowerSamples
from lassi_hpc.records import DeviceIdentity, EnergyMethod


class Meter(Protocol):
    @property
    def name(self) -> str:
        """The backend's registry name ("nvml", "amdsmi", "rapl", "estimate", "fake")."""
        ...

    @property
    def method(self) -> EnergyMethod:
        """COUNTER when `read_energy_j` works, SAMPLED_POWER when only samples do, ESTIMATE."""
        ...

    @property
    def period_s(self) -> float:
        """The configured sampling period in seconds (NaN when nothing is sampled)."""
        ...

    def devices(self) -> tuple[DeviceIdentity, ...]:
        """The devices whose energy is measured (the ones the workload uses)."""
        ...

    def context_devices(self) -> tuple[DeviceIdentity, ...]:
        """Devices sampled alongside for the record (the node's other GPUs, the CPU)."""
        ...

    def read_energy_j(self) -> float | None:
        """Cumulative joules of the measured devices (summed over nodes); None without a counter."""
        ...

    def drain_samples(self) -> PowerSamples:
        """Every tick taken since the last call, for measured and context devices alike."""
        ...

    def problems(self) -> tuple[str, ...]:
        """One line per kind of rejected reading so far (see EnergyBackend.problems)."""
        ...

    def close(self) -> None:
        """Stop sampling and release the devices; the meter must not be read afterwards."""
        ...
