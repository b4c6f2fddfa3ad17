"""AMD GPUs through AMD SMI: a probe only in this version; the backend comes with a later issue.

The `amdsmi` package is imported here, inside the function, and nowhere else. Without ROCm its
import prints two lines to stdout and raises KeyError('libamd_smi.so') rather than ImportError, so
the import is guarded with `except Exception` and its stdout is captured (stdout may be a protocol
channel, e.g. for Parsl workers or `--json` output).
"""

from __future__ import annotations

import contextlib
import io

from lassi_hpc.energy.backend import BackendUnavailableError, EnergyBackend


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


def probe_amdsmi() -> str:
    """One line on the state of AMD SMI on this machine (installed? ROCm? initialises?)."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            import amdsmi
    except ModuleNotFoundError as error:
        if error.name == "amdsmi":
            return "amdsmi is not installed (extra 'amd')"
        return f"amdsmi cannot be imported ({error})"
    except Exception as error:  # KeyError('libamd_smi.so') without ROCm
        said = _first_line(printed.getvalue())
        return (
            f"amdsmi cannot load libamd_smi.so ({type(error).__name__}: {error}"
            + (f"; it said: {said}" if said else "")
            + "); ROCm not installed?"
        )
    try:
        with contextlib.redirect_stdout(printed):
            amdsmi.amdsmi_init()
    except Exception as error:  # AmdSmiLibraryException when no amdgpu driver is loaded
        return f"AMD SMI cannot start ({type(error).__name__}: {error}); no AMD GPU driver here?"
    try:
        with contextlib.redirect_stdout(printed):
            count = len(amdsmi.amdsmi_get_processor_handles())
    except Exception as error:
        return f"AMD SMI started but cannot list GPUs ({type(error).__name__}: {error})"
    finally:
        with contextlib.suppress(Exception), contextlib.redirect_stdout(printed):
            amdsmi.amdsmi_shut_down()
    return (
        f"AMD SMI works here ({count} device(s)); the AMD SMI backend is not implemented "
        "in this version"
    )


def open_amdsmi() -> EnergyBackend:
    """Registry opener of the "amdsmi" backend; in this version always BackendUnavailableError."""
    raise BackendUnavailableError("amdsmi", probe_amdsmi())
