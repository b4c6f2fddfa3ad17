"""The one interface every energy meter implements, and the registry that names them.

A backend reads one kind of meter (NVML, AMD SMI, RAPL, a labelled estimate, or a fake device for
tests) over the devices it was opened on. Code above this line talks only to `EnergyBackend`;
vendor libraries are imported inside their backend's module, and only when that backend is opened,
so importing `lassi_hpc.energy` never loads pynvml or amdsmi.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from lassi_hpc.errors import LassiError, nearest
from lassi_hpc.records import CommandResult, DeviceIdentity, EnergyMethod


@dataclass(frozen=True)
class DeviceReading:
    """One device's reading at one instant, as the backend got it.

    `power_w` is the sensor's power in watts, NaN when there was no valid value (unsupported,
    out of range, rejected). `energy_j` is the device's cumulative energy in joules since the
    backend was opened (wrap-around undone, monotonic), NaN when the device has no counter.
    `device_time_s` is the timestamp the device gave the power value, in seconds on the device's
    own clock (NVML: CPU epoch microseconds / 1e6); NaN when the device gives none. The sampler
    aligns it to the host clock (see energy/align.py).
    """

    uid: str
    power_w: float
    energy_j: float
    device_time_s: float


class EnergyBackend(Protocol):
    """An opened energy meter over a fixed set of devices.

    `method` is the best figure the backend offers: COUNTER when `read_energy_j` works (the protocol
    then uses counter differences), SAMPLED_POWER when only `read_power_w` works (the protocol then
    integrates power samples), ESTIMATE when neither works and the backend is an `EnergyEstimator`.
    Readers may be called from a sampler thread while the main thread reads the counter.
    Invalid vendor values never raise: they are NaN in `read_devices()` and listed in `problems()`.
    """

    @property
    def name(self) -> str:
        """The registry name: "nvml", "amdsmi", "rapl", "estimate" or "fake"."""
        ...

    @property
    def method(self) -> EnergyMethod: ...

    def devices(self) -> tuple[DeviceIdentity, ...]:
        """The devices whose energy the readings cover, named by stable ids, never by index."""
        ...

    def read_energy_j(self) -> float | None:
        """Cumulative energy in joules over the selected devices since the backend was opened.

        Monotonic (counter wrap-around is undone inside the backend); None when there is no counter.
        """
        ...

    def read_power_w(self) -> float | None:
        """Instantaneous (sensor-averaged) power in watts summed over the devices; None if none."""
        ...

    def read_devices(self) -> tuple[DeviceReading, ...]:
        """One reading per device of `devices()`, in the same order (the sampler's view).

        Readings a backend rejects (sentinel values, out of range, a counter that stepped back)
        come back as NaN and are described in `problems()`; they never raise.
        """
        ...

    def problems(self) -> tuple[str, ...]:
        """One line per kind of rejected reading so far, with a count ("... rejected 3 times")."""
        ...

    def close(self) -> None:
        """Release vendor handles; the backend must not be read afterwards."""
        ...


@runtime_checkable
class EnergyEstimator(Protocol):
    """A backend that models a run's energy instead of reading a meter (method ESTIMATE)."""

    def estimate_energy_j(self, result: CommandResult) -> float:
        """Modelled energy in joules of one finished command."""
        ...


class BackendUnavailableError(LassiError):
    """A backend cannot be opened on this machine; `reason` is one line saying why."""

    def __init__(self, backend: str, reason: str) -> None:
        self.backend = backend
        self.reason = reason
        super().__init__(f"energy backend {backend!r} is not available here: {reason}")


class BackendChoiceError(LassiError):
    """An unknown backend name or option was asked for; the message lists the valid ones."""


@dataclass(frozen=True)
class BackendSpec:
    """A registry entry: where the opener lives ("module:function") and the options it takes.

    The opener is imported only when the backend is opened, which keeps vendor imports lazy.
    """

    name: str
    opener: str
    options: tuple[str, ...]
    summary: str

    def load_opener(self) -> Callable[..., EnergyBackend]:
        module_name, _, attribute = self.opener.partition(":")
        opener: Callable[..., EnergyBackend] = getattr(
            importlib.import_module(module_name), attribute
        )
        return opener


BACKENDS: Mapping[str, BackendSpec] = {
    spec.name: spec
    for spec in (
        BackendSpec(
            "nvml",
            "lassi_hpc.energy.nvml:open_nvml",
            ("select",),
            "NVIDIA GPUs through NVML (nvidia-ml-py): energy counter, else sampled power",
        ),
        BackendSpec(
            "amdsmi",
            "lassi_hpc.energy.amd_smi:open_amdsmi",
            ("select",),
            "AMD GPUs through AMD SMI (amdsmi + ROCm): energy counter, else sampled power",
        ),
        BackendSpec(
            "rapl",
            "lassi_hpc.energy.rapl:open_rapl",
            ("powercap_root",),
            "CPU package energy counters through Linux powercap (intel-rapl)",
        ),
        BackendSpec(
            "estimate",
            "lassi_hpc.energy.estimate:open_estimate",
            ("busy_core_power_w",),
            "an ESTIMATE: CPU time x nominal watts per busy core; never a measurement",
        ),
        BackendSpec(
            "fake",
            "lassi_hpc.energy.fake:open_fake",
            ("curve", "clock", "has_counter", "has_power", "curve_spec", "origin_s", "uids"),
            "a FAKE device with a scripted power curve, for tests only",
        ),
    )
}


def backend_spec(name: str) -> BackendSpec:
    """The registry entry for `name`; raises BackendChoiceError listing the valid names."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise BackendChoiceError(
            unknown_choice_message("energy backend", name, ("auto", *BACKENDS))
        ) from None


def open_backend(name: str, **options: Any) -> EnergyBackend:
    """Open the backend called `name` with its options; BackendUnavailableError if it cannot."""
    spec = backend_spec(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise BackendChoiceError(
            unknown_choice_message(f"option of energy backend {name!r}", unknown[0], spec.options)
        )
    return spec.load_opener()(**options)


def unknown_choice_message(what: str, value: str, allowed: tuple[str, ...]) -> str:
    """ "unknown <what> <value>; must be one of: ..." with a "did you mean" for a near miss."""
    message = f"unknown {what} {value!r}; must be one of: {', '.join(allowed) or '(none)'}"
    hint = nearest(value, allowed)
    return f"{message} (did you mean {hint!r}?)" if hint else message
