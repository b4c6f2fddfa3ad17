"""Open the meter a measurement reads: backend choice, sampler, and the device locks.

    with open_meter(MeterRequest(backend="auto")) as opened:
        measurement = measure_workload(run_once, opened.meter, ...)

"auto" picks the best backend this machine has (detect.py) and keeps the reasons the better ones
were skipped. A meter backend gets a sampler in its own process (the default), a thread, or none;
the estimate backend never gets one (there is nothing to sample). The devices being measured are
locked for the whole measurement (device_lock.py).
"""

from __future__ import annotations

import contextlib
import math
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lassi_hpc.energy.backend import open_backend
from lassi_hpc.energy.clock import SYSTEM_CLOCK
from lassi_hpc.energy.detect import detect_backend
from lassi_hpc.energy.device_lock import DEFAULT_LOCK_DIR, hold_device_locks
from lassi_hpc.energy.in_process_meters import BackendMeter, ThreadMeter
from lassi_hpc.energy.meter import Meter
from lassi_hpc.records import EnergyMethod

# 10 ms: on A100/H100 the NVML power sensor updates about every 100 ms, so ten reads per update
# catch every new value within 10 ms of its appearance; finer polling only repeats values and costs
# CPU next to the workload.
DEFAULT_SAMPLE_PERIOD_S = 0.01

SamplerKind = Literal["process", "thread", "none"]


@dataclass(frozen=True)
class MeterRequest:
    """What to open. `options` go to the backend (JSON values only for a sampler process).

    `launcher` runs one sampler per node of an MPI job (e.g. ("mpiexec", "-n", "2") or
    ("srun", "--ntasks-per-node=1", "--overlap")); empty = a local sampler. `lock_dir` None turns
    the device locks off (only for tests that measure several fake devices at once).
    """

    backend: str = "auto"
    options: Mapping[str, Any] = field(default_factory=dict)
    period_s: float = DEFAULT_SAMPLE_PERIOD_S
    sampler: SamplerKind = "process"
    launcher: tuple[str, ...] = ()
    lock_dir: Path | None = DEFAULT_LOCK_DIR
    lock_timeout_s: float = 3600.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.period_s) and self.period_s > 0):
            raise ValueError(f"period_s must be a positive number of seconds, got {self.period_s}")


@dataclass(frozen=True)
class OpenedMeter:
    meter: Meter
    skipped: tuple[str, ...]  # "<backend>: <why>" for each better backend that was not available


def _choose(request: MeterRequest) -> tuple[str, tuple[str, ...]]:
    if request.backend != "auto":
        return request.backend, ()
    probe, skipped = detect_backend("auto", **request.options)
    name = probe.name
    probe.close()
    return name, skipped


def _open(request: MeterRequest, name: str) -> Meter:
    options = dict(request.options)
    if request.sampler == "process" and name not in ("estimate",):
        from lassi_hpc.energy.sampler_process import open_sampler_process

        return open_sampler_process(name, options, request.period_s, launcher=request.launcher)
    if request.launcher:
        raise ValueError("a launcher (one sampler per node) needs sampler='process'")
    backend = open_backend(name, **options)
    if request.sampler == "thread" and backend.method is not EnergyMethod.ESTIMATE:
        return ThreadMeter(backend, SYSTEM_CLOCK, request.period_s)
    return BackendMeter(backend)


@contextlib.contextmanager
def open_meter(request: MeterRequest) -> Iterator[OpenedMeter]:
    """The opened meter, its devices locked; closed and unlocked on the way out."""
    name, skipped = _choose(request)
    meter = _open(request, name)
    try:
        with contextlib.ExitStack() as locks:
            if request.lock_dir is not None and meter.method is not EnergyMethod.ESTIMATE:
                locks.enter_context(
                    hold_device_locks(
                        meter.devices(),
                        request.lock_dir,
                        timeout_s=request.lock_timeout_s,
                        host=socket.gethostname(),
                    )
                )
            yield OpenedMeter(meter, skipped)
    finally:
        meter.close()
