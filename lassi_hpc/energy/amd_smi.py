"""AMD GPUs through AMD SMI (the `amdsmi` package, which needs ROCm's libamd_smi.so).

`amdsmi` is imported here only, when the backend is opened or probed. Without ROCm its import
prints two lines to stdout and raises KeyError('libamd_smi.so') rather than ImportError, so the
import is guarded with `except Exception`, and the import, `amdsmi_init` and `amdsmi_shut_down`
run with stdout captured both in Python and at file descriptor 1 (the C library writes there
directly): stdout may be a protocol channel (Parsl workers, `--json` output). Readings are not
redirected (that would swallow other threads' prints), and AMD SMI does not print there.

Older ROCm releases are not thread-safe, so every amdsmi call of this process goes through one
lock (`AMDSMI_LOCK`).

Readings, per device and tick:

- energy: `amdsmi_get_energy_count` -> accumulator x `counter_resolution` = µJ (the accumulator's
  key is "power" before ROCm 6.2.1 and "energy_accumulator" after; both parse); its `timestamp`
  (ns, the device's clock) is the reading's `device_time_s`;
- power: `amdsmi_get_power_info`, in W: `current_socket_power` (MI300 and newer) or
  `average_socket_power` (MI200 and older). 0xFFFF, 0xFFFFFFFF and "N/A" mean unsupported. The
  key is chosen once, at open: the first of the two that reads a positive value. A 0 on one key
  while the other reads a positive value is that key being unsupported (MI200 answers 0 for
  current power). With 0 on both keys the key that read 0 is kept: on an odd MI250 die the
  power is the partner's (below); on any other device its readings are rejected. After open, a
  0 W or unsupported value from the chosen key is rejected (NaN and a problems() line): a
  powered GPU never draws 0 W;
- MI250 / MI250X (market name contains "MI250"): each package has two dies (GCDs), enumerated
  next to each other; the odd die reads 0 W and the even die reports the pair. The odd die is
  flagged ("power_reported_by", partner uid) in its details and its power is NaN without a
  problems() line (it is inside the partner's figure); the even die gets ("power_includes", odd
  uid). When only one die of a pair is selected, a detail says so: the figure then covers either
  both dies (even selected) or none of the selected die's power (odd selected). Energy counters
  are taken per die.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import math
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lassi_hpc.energy.backend import BackendUnavailableError, DeviceReading
from lassi_hpc.energy.counter import CumulativeCounter, ProblemLog
from lassi_hpc.energy.device_select import (
    SelectableDevice,
    Selection,
    pci_bus_id_key,
    select_amd_devices,
)
from lassi_hpc.energy.host import host_name
from lassi_hpc.records import DeviceIdentity, EnergyMethod

AMDSMI_LOCK = threading.RLock()

POWER_KEYS = ("current_socket_power", "average_socket_power")
ENERGY_KEYS = ("energy_accumulator", "power")  # ROCm >= 6.2.1, then older
_UNSUPPORTED = {0xFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF}
NONE = "none"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _error_text(error: BaseException) -> str:
    return _one_line(f"{type(error).__name__}: {error}")


def _flush_c_stdout() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def captured_stdout(printed: io.StringIO) -> Iterator[None]:
    """Everything written to stdout inside, by Python or by C at fd 1, goes to `printed`.

    The text written at fd 1 is appended when the block ends. Meant for one-off vendor calls
    (import, init, shutdown): fd 1 is process-wide, so another thread's writes meanwhile are
    captured too.
    """
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    try:
        saved_fd: int | None = os.dup(1)
    except OSError:  # no fd 1 at all: nothing can reach it
        saved_fd = None
    with tempfile.TemporaryFile() as sink:
        if saved_fd is not None:
            os.dup2(sink.fileno(), 1)
        try:
            with contextlib.redirect_stdout(printed):
                yield
        finally:
            for stream in (sys.stdout, sys.__stdout__):
                with contextlib.suppress(Exception):
                    stream.flush()  # type: ignore[union-attr]
            _flush_c_stdout()
            if saved_fd is not None:
                os.dup2(saved_fd, 1)
                os.close(saved_fd)
            sink.seek(0)
            printed.write(sink.read().decode(errors="replace"))


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


def _import_amdsmi() -> Any:
    printed = io.StringIO()
    failure: BaseException | None = None
    with AMDSMI_LOCK, captured_stdout(printed):
        try:
            import amdsmi
        except Exception as error:  # KeyError('libamd_smi.so') without ROCm
            failure = error
    if failure is None:
        return amdsmi
    if isinstance(failure, ModuleNotFoundError) and failure.name == "amdsmi":
        raise BackendUnavailableError("amdsmi", "amdsmi is not installed (extra 'amd')")
    said = _first_line(printed.getvalue())
    raise BackendUnavailableError(
        "amdsmi",
        f"amdsmi cannot load libamd_smi.so ({_error_text(failure)}"
        + (f"; it said: {said}" if said else "")
        + "); ROCm not installed?",
    )


def _init(amdsmi: Any) -> None:
    printed = io.StringIO()
    try:
        with AMDSMI_LOCK, captured_stdout(printed):
            amdsmi.amdsmi_init(amdsmi.AmdSmiInitFlags.INIT_AMD_GPUS)
    except Exception as error:  # AmdSmiLibraryException when no amdgpu driver is loaded
        raise BackendUnavailableError(
            "amdsmi", f"AMD SMI cannot start ({_error_text(error)}); no AMD GPU driver here?"
        ) from None


def _shut_down(amdsmi: Any) -> None:
    printed = io.StringIO()
    with contextlib.suppress(Exception), AMDSMI_LOCK, captured_stdout(printed):
        amdsmi.amdsmi_shut_down()


def _call(function: Callable[..., Any], *args: Any) -> Any:
    with AMDSMI_LOCK:
        return function(*args)


def probe_amdsmi() -> str:
    """One line on the state of AMD SMI on this machine (installed? ROCm? initialises?)."""
    try:
        amdsmi = _import_amdsmi()
        _init(amdsmi)
    except BackendUnavailableError as error:
        return error.reason
    try:
        count = len(_call(amdsmi.amdsmi_get_processor_handles))
    except Exception as error:
        return f"AMD SMI started but cannot list GPUs ({_error_text(error)})"
    finally:
        _shut_down(amdsmi)
    return f"AMD SMI works here ({count} device(s))"


def plain_power_w(value: object) -> float | None:
    """A socket power value in W, or None when it means "unsupported" (sentinel, "N/A", absent).

    0 comes back as 0.0: whether it is a reading depends on the other key (see the module doc).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value in _UNSUPPORTED or math.isnan(value):
        return None
    return float(value)


def choose_power_key(power_info: Mapping[str, Any]) -> str:
    """The power key to read for this device: the first of POWER_KEYS with a positive value;
    else the first that reads 0 (a device whose power is reported elsewhere); else NONE."""
    values = {key: plain_power_w(power_info.get(key)) for key in POWER_KEYS}
    for key in POWER_KEYS:
        value = values[key]
        if value is not None and value > 0:
            return key
    for key in POWER_KEYS:
        if values[key] == 0:
            return key
    return NONE


@dataclass(frozen=True)
class EnergyCount:
    """One `amdsmi_get_energy_count` answer: accumulator ticks, µJ per tick, device time in ns."""

    ticks: int
    resolution_uj: float
    timestamp_ns: int | None


def parse_energy_count(energy: Mapping[str, Any]) -> EnergyCount | None:
    """The energy count from either spelling ("energy_accumulator", or "power" before ROCm
    6.2.1); None when the accumulator is missing, "N/A" or a sentinel."""
    for key in ENERGY_KEYS:
        ticks = energy.get(key)
        if isinstance(ticks, int) and not isinstance(ticks, bool):
            break
    else:
        return None
    resolution = energy.get("counter_resolution")
    if ticks in _UNSUPPORTED or not isinstance(resolution, int | float) or resolution <= 0:
        return None
    timestamp = energy.get("timestamp")
    timestamp_ns = timestamp if isinstance(timestamp, int) and timestamp > 0 else None
    return EnergyCount(ticks, float(resolution), timestamp_ns)


def _energy_key(energy: Mapping[str, Any]) -> str:
    return next((key for key in ENERGY_KEYS if key in energy), "?")


@dataclass(frozen=True)
class _OpenedDevice:
    identity: DeviceIdentity
    handle: Any
    power_key: str
    resolution_uj: float  # NaN without an energy counter
    power_cap_w: float  # NaN when AMD SMI did not say
    power_reported_by: str  # the partner die's uid on an odd MI250 die, else ""


def _detail(read: Callable[[], object], unit_factor: float = 1.0) -> str:
    try:
        value = read()
    except Exception as error:
        return f"unavailable ({_error_text(error)})"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value * unit_factor:g}"
    return _one_line(str(value))


def _is_mi250(model: str) -> bool:
    return "MI250" in model.upper()


class AmdSmiBackend:
    """The selected AMD GPUs, read through AMD SMI; energy in joules since open."""

    name = "amdsmi"

    def __init__(self, amdsmi: Any, select: str | Sequence[str], environ: Mapping[str, str]):
        self._amdsmi = amdsmi
        self.select = select
        self._lock = threading.Lock()
        self._problems = ProblemLog()
        self._closed = False
        _init(amdsmi)
        try:
            seen, handles = self._enumerate()
            selection = select_amd_devices(select, seen, environ)
            if not selection.devices:
                raise BackendUnavailableError(
                    "amdsmi", f"the workload sees no GPU ({selection.how})"
                )
            self._counters: dict[str, CumulativeCounter] = {}
            self._devices = tuple(
                self._open_device(device, seen, handles, selection) for device in selection.devices
            )
            self.method = self._method()
        except BaseException:
            _shut_down(amdsmi)
            raise

    def _enumerate(self) -> tuple[tuple[SelectableDevice, ...], list[Any]]:
        amdsmi = self._amdsmi
        try:
            handles = list(_call(amdsmi.amdsmi_get_processor_handles))
            seen = tuple(self._selectable(index, handle) for index, handle in enumerate(handles))
        except BackendUnavailableError:
            raise
        except Exception as error:
            raise BackendUnavailableError(
                "amdsmi", f"AMD SMI started but cannot list the GPUs ({_error_text(error)})"
            ) from None
        if not seen:
            raise BackendUnavailableError("amdsmi", "AMD SMI works but sees no GPU")
        return seen, handles

    def _selectable(self, index: int, handle: Any) -> SelectableDevice:
        amdsmi = self._amdsmi
        asic = _call(amdsmi.amdsmi_get_gpu_asic_info, handle)
        aliases = []
        serial = str(asic.get("asic_serial", "N/A"))
        if serial != "N/A":
            # ROCR_VISIBLE_DEVICES and rocminfo write the unique id as "GPU-<16 hex digits>".
            aliases.append(f"GPU-{serial.lower().removeprefix('0x')}")
        with contextlib.suppress(Exception):  # amdsmi_get_gpu_enumeration_info: ROCm 6.4+
            hip_uuid = str(_call(amdsmi.amdsmi_get_gpu_enumeration_info, handle)["hip_uuid"])
            if hip_uuid and hip_uuid != "N/A":
                aliases.append(hip_uuid)
        return SelectableDevice(
            index=index,
            uid=str(_call(amdsmi.amdsmi_get_gpu_device_uuid, handle)),
            pci_bus_id=pci_bus_id_key(str(_call(amdsmi.amdsmi_get_gpu_device_bdf, handle))),
            model=str(asic.get("market_name", "AMD GPU")),
            aliases=tuple(aliases),
        )

    def _open_device(
        self,
        device: SelectableDevice,
        seen: Sequence[SelectableDevice],
        handles: Sequence[Any],
        selection: Selection,
    ) -> _OpenedDevice:
        amdsmi = self._amdsmi
        handle = handles[device.index]
        power_key = NONE
        with contextlib.suppress(Exception):
            power_key = choose_power_key(_call(amdsmi.amdsmi_get_power_info, handle))
        energy: EnergyCount | None = None
        energy_source = NONE
        with contextlib.suppress(Exception):
            answer = _call(amdsmi.amdsmi_get_energy_count, handle)
            energy = parse_energy_count(answer)
            if energy is not None:
                energy_source = (
                    f"amdsmi_get_energy_count (key {_energy_key(answer)}, "
                    f"{energy.resolution_uj:g} uJ per tick)"
                )
        if energy is not None:
            self._counters[device.uid] = CumulativeCounter(
                energy.ticks,
                modulus=None,
                problems=self._problems,
                problem_key=f"amdsmi {device.uid}",
            )
        cap_uw = math.nan
        with contextlib.suppress(Exception):
            cap_uw = float(_call(amdsmi.amdsmi_get_power_cap_info, handle)["power_cap"])
        selected = {d.uid for d in selection.devices}
        details: list[tuple[str, str]] = [
            ("pci_bus_id", device.pci_bus_id),
            ("market_name", device.model),
            (
                "driver",
                _detail(lambda: _call(amdsmi.amdsmi_get_gpu_driver_info, handle)["driver_version"]),
            ),
            ("power_cap_w", f"{cap_uw * 1e-6:g}" if not math.isnan(cap_uw) else "unavailable"),
            ("gfx_clock_mhz", self._clock_mhz(handle, "GFX")),
            ("memory_clock_mhz", self._clock_mhz(handle, "MEM")),
            ("temperature_edge_c", self._temperature_c(handle, "EDGE")),
            ("temperature_hotspot_c", self._temperature_c(handle, "HOTSPOT")),
            ("power_key", power_key),
            ("energy_source", energy_source),
            ("selected_by", selection.how),
        ]
        token = selection.tokens.get(device.uid)
        if token is not None:
            details.append(("selected_as", token))
        reported_by = ""
        partner = _mi250_partner(device, seen)
        if partner is not None and device.index % 2 == 1:
            reported_by = partner.uid
            details.append(("power_reported_by", partner.uid))
            if partner.uid not in selected:
                details.append(
                    (
                        "power_partner_not_selected",
                        f"{partner.uid} reports this die's power and is not selected: "
                        "the power readings do not include this die",
                    )
                )
        elif partner is not None:
            details.append(("power_includes", partner.uid))
            if partner.uid not in selected:
                details.append(
                    (
                        "power_partner_not_selected",
                        f"this die's power includes {partner.uid}, which is not selected",
                    )
                )
        identity = DeviceIdentity(
            backend=self.name,
            kind="gpu",
            name=device.model,
            uid=device.uid,
            host=host_name(),
            details=tuple(details),
        )
        return _OpenedDevice(
            identity,
            handle,
            power_key,
            energy.resolution_uj if energy is not None else math.nan,
            cap_uw * 1e-6,
            reported_by,
        )

    def _clock_mhz(self, handle: Any, clock: str) -> str:
        amdsmi = self._amdsmi
        return _detail(
            lambda: _call(amdsmi.amdsmi_get_clock_info, handle, amdsmi.AmdSmiClkType[clock])["clk"]
        )

    def _temperature_c(self, handle: Any, sensor: str) -> str:
        amdsmi = self._amdsmi
        return _detail(
            lambda: _call(
                amdsmi.amdsmi_get_temp_metric,
                handle,
                amdsmi.AmdSmiTemperatureType[sensor],
                amdsmi.AmdSmiTemperatureMetric.CURRENT,
            )
        )

    def _method(self) -> EnergyMethod:
        if len(self._counters) == len(self._devices):
            return EnergyMethod.COUNTER
        # Sampled power then needs every device's power (an odd MI250 die's is its partner's).
        own_power = [d for d in self._devices if d.power_key != NONE and not d.power_reported_by]
        no_power = [
            d.identity.uid for d in self._devices if d.power_key == NONE and not d.power_reported_by
        ]
        if no_power or not own_power:
            raise BackendUnavailableError(
                "amdsmi",
                f"{', '.join(no_power) or 'the selected GPUs'}: no power reading through AMD SMI, "
                "and not every selected GPU has an energy counter",
            )
        return EnergyMethod.SAMPLED_POWER

    def _reject(self, device: _OpenedDevice, kind: str, line: str) -> None:
        uid = device.identity.uid
        self._problems.add(f"{uid} {kind}", f"amdsmi {uid}: {line}")

    def _read_power_w(self, device: _OpenedDevice) -> float:
        if device.power_reported_by or device.power_key == NONE:
            return math.nan
        try:
            info = _call(self._amdsmi.amdsmi_get_power_info, device.handle)
        except Exception as error:
            self._reject(
                device, "power-info", f"amdsmi_get_power_info failed ({_error_text(error)})"
            )
            return math.nan
        raw = info.get(device.power_key)
        power_w = plain_power_w(raw)
        if power_w is None:
            self._reject(
                device, "power-unsupported", f"{device.power_key} reads {raw!r} (unsupported)"
            )
            return math.nan
        if power_w <= 0:
            self._reject(device, "power<=0", f"{device.power_key} reads {power_w:g} W")
            return math.nan
        if power_w > 2 * device.power_cap_w:  # False when the cap is unknown (NaN)
            self._reject(
                device,
                "power>2x-cap",
                f"{device.power_key} {power_w:g} W is above twice the power cap "
                f"({device.power_cap_w:g} W)",
            )
            return math.nan
        return power_w

    def _read_energy(self, device: _OpenedDevice) -> tuple[float, float]:
        """(energy in J since open or NaN, device time in s or NaN)."""
        counter = self._counters.get(device.identity.uid)
        if counter is None:
            return math.nan, math.nan
        try:
            answer = _call(self._amdsmi.amdsmi_get_energy_count, device.handle)
        except Exception as error:
            self._reject(
                device, "energy-count", f"amdsmi_get_energy_count failed ({_error_text(error)})"
            )
            return math.nan, math.nan
        energy = parse_energy_count(answer)
        if energy is None:
            self._reject(device, "energy-unsupported", f"energy count unreadable: {answer!r}")
            return math.nan, math.nan
        device_time_s = math.nan if energy.timestamp_ns is None else energy.timestamp_ns / 1e9
        total_ticks = counter.advance(energy.ticks)
        if total_ticks is None:
            return math.nan, device_time_s
        return total_ticks * device.resolution_uj / 1e6, device_time_s

    def devices(self) -> tuple[DeviceIdentity, ...]:
        return tuple(device.identity for device in self._devices)

    def read_devices(self) -> tuple[DeviceReading, ...]:
        readings = []
        with self._lock:
            for device in self._devices:
                power_w = self._read_power_w(device)
                energy_j, device_time_s = self._read_energy(device)
                readings.append(
                    DeviceReading(device.identity.uid, power_w, energy_j, device_time_s)
                )
        return tuple(readings)

    def read_energy_j(self) -> float | None:
        if self.method is not EnergyMethod.COUNTER:
            return None
        with self._lock:
            for device in self._devices:
                self._read_energy(device)
            total_uj = sum(
                self._counters[d.identity.uid].total * d.resolution_uj for d in self._devices
            )
            return total_uj / 1e6

    def read_power_w(self) -> float | None:
        if any(d.power_key == NONE and not d.power_reported_by for d in self._devices):
            return None
        valid = [r.power_w for r in self.read_devices() if not math.isnan(r.power_w)]
        return sum(valid) if valid else None

    def problems(self) -> tuple[str, ...]:
        return self._problems.lines()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                _shut_down(self._amdsmi)

    def __repr__(self) -> str:
        return f"AmdSmiBackend(select={self.select!r})"


def _mi250_partner(
    device: SelectableDevice, seen: Sequence[SelectableDevice]
) -> SelectableDevice | None:
    """The other die of an MI250's package: dies 2k and 2k+1 in AMD SMI's enumeration."""
    if not _is_mi250(device.model):
        return None
    partner_index = device.index - 1 if device.index % 2 == 1 else device.index + 1
    if not 0 <= partner_index < len(seen) or not _is_mi250(seen[partner_index].model):
        return None
    return seen[partner_index]


def open_amdsmi(select: str | Sequence[str] = "visible") -> AmdSmiBackend:
    """Registry opener of the "amdsmi" backend over the selected GPUs (energy/device_select.py).

    Raises BackendUnavailableError with one line when amdsmi is missing, libamd_smi.so is missing
    (no ROCm), AMD SMI cannot start (no amdgpu driver), there is no GPU, or the selection names a
    device AMD SMI does not see.
    """
    return AmdSmiBackend(_import_amdsmi(), select, os.environ)
