"""Energy measurement: device backends behind one interface, the measurement protocol, statistics.

Typical use (the baseline and measure stages)::

    backend, skipped = detect_backend(site_partition.energy_backend)  # "auto" or a name
    try:
        measurement = measure_workload(run_once, backend, repetitions=5, min_window_s=5.0,
                                       idle_s=2.0, rng=random.Random(seed))
    finally:
        backend.close()

Importing this package never imports a vendor library (pynvml, amdsmi); backends do, when opened.
See docs/energy.md.
"""

from lassi_hpc.energy.backend import (
    BACKENDS,
    BackendChoiceError,
    BackendUnavailableError,
    EnergyBackend,
    EnergyEstimator,
    open_backend,
)
from lassi_hpc.energy.clock import SYSTEM_CLOCK, Clock, ManualClock, SystemClock
from lassi_hpc.energy.detect import AUTO_ORDER, detect_backend
from lassi_hpc.energy.protocol import measure_workload
from lassi_hpc.energy.stats import SampleSummary, summarize

__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "SYSTEM_CLOCK",
    "BackendChoiceError",
    "BackendUnavailableError",
    "Clock",
    "EnergyBackend",
    "EnergyEstimator",
    "ManualClock",
    "SampleSummary",
    "SystemClock",
    "detect_backend",
    "measure_workload",
    "open_backend",
    "summarize",
]
