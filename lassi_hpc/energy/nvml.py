"""NVIDIA GPUs through NVML: a probe only in this version; the backend comes with a later issue.

nvidia-ml-py (module `pynvml`) is imported here, inside the function, and nowhere else.
"""

from __future__ import annotations

import contextlib

from lassi_hpc.energy.backend import BackendUnavailableError, EnergyBackend


def probe_nvml() -> str:
    """One line on the state of NVML on this machine (installed? driver? how many GPUs?)."""
    try:
        import pynvml
    except ImportError:
        return "nvidia-ml-py is not installed (extra 'nvidia')"
    try:
        pynvml.nvmlInit()
    except Exception as error:  # NVMLError_LibraryNotFound, NVMLError_DriverNotLoaded, ...
        return f"NVML cannot start ({type(error).__name__}: {error}); no NVIDIA driver here?"
    try:
        count = pynvml.nvmlDeviceGetCount()
    except Exception as error:
        return f"NVML started but cannot count GPUs ({type(error).__name__}: {error})"
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()
    return f"NVML works here ({count} GPU(s)); the NVML backend is not implemented in this version"


def open_nvml() -> EnergyBackend:
    """Registry opener of the "nvml" backend; in this version always BackendUnavailableError."""
    raise BackendUnavailableError("nvml", probe_nvml())
