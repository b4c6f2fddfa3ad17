"""NVIDIA GPUs through NVML (nvidia-ml-py, module `pynvml`), imported here only, when opened.

Per device and tick, ONE `nvmlDeviceGetFieldValues` call reads field 185 (average power, mW),
186 (instant power, mW) and 191 (total energy since the driver loaded, mJ), each with its own
return code and a device timestamp (µs since the epoch). Which fields a device supports is decided
once, at open, and recorded in its details: power from 186 when supported, else 185, else
`nvmlDeviceGetPowerUsage`; energy from 191, else `nvmlDeviceGetTotalEnergyConsumption` (Volta and
newer). The backend's method is COUNTER when every selected device has an energy counter, else
SAMPLED_POWER. Invalid readings (a field's non-success return, the 0xFFFFFFFF "not available"
sentinel, power below 0 or above twice the enforced limit, an energy counter that steps back) are
NaN in `read_devices()` and counted in `problems()`; reading never raises.

NVML's init and shutdown are reference counted, so several backends may be open in one process
(the sampler opens the measured devices and, separately, all devices as context).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lassi_hpc.energy.backend import BackendUnavailableError, DeviceReading
from lassi_hpc.energy.counter import CumulativeCounter, ProblemLog
from lassi_hpc.energy.device_select import (
    SelectableDevice,
    Selection,
    pci_bus_id_key,
    select_nvidia_devices,
)
from lassi_hpc.energy.host import host_name
from lassi_hpc.records import DeviceIdentity, EnergyMethod

FIELD_POWER_AVERAGE = 185  # mW, averaged by the driver over about a second
FIELD_POWER_INSTANT = 186  # mW, the sensor's latest value
FIELD_ENERGY = 191  # mJ since the driver was loaded
FIELD_IDS = (FIELD_POWER_AVERAGE, FIELD_POWER_INSTANT, FIELD_ENERGY)

_NVML_SUCCESS = 0
_VALUE_ATTRIBUTES: Mapping[int, str] = {
    0: "dVal",
    1: "uiVal",
    2: "ulVal",
    3: "ullVal",
    4: "sllVal",
    5: "siVal",
    6: "usVal",
}
# NVML_VALUE_NOT_AVAILABLE: all bits set in the value's own width.
_NOT_AVAILABLE: Mapping[str, int] = {
    "uiVal": 0xFFFFFFFF,
    "ulVal": 0xFFFFFFFFFFFFFFFF,
    "ullVal": 0xFFFFFFFFFFFFFFFF,
    "usVal": 0xFFFF,
}

POWER_FROM_INSTANT = "186 instant (nvmlDeviceGetFieldValues)"
POWER_FROM_AVERAGE = "185 average (nvmlDeviceGetFieldValues)"
POWER_FROM_USAGE = "nvmlDeviceGetPowerUsage"
ENERGY_FROM_FIELD = "191 (nvmlDeviceGetFieldValues)"
ENERGY_FROM_FUNCTION = "nvmlDeviceGetTotalEnergyConsumption"
NONE = "none"


def _text(value: object) -> str:
    """A string from pynvml, which returns bytes in older versions and str in newer ones."""
    if isinstance(value, bytes):
        return value.decode(errors="replace").strip("\x00").strip()
    return str(value).strip()


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _return_text(pynvml: Any, code: int) -> str:
    with contextlib.suppress(Exception):
        return f"{pynvml.NVMLError(code)} (NVML return {code})"
    return f"NVML return {code}"


def _import_pynvml() -> Any:
    try:
        import pynvml
    except ImportError:
        raise BackendUnavailableError(
            "nvml", "nvidia-ml-py is not installed (extra 'nvidia')"
        ) from None
    return pynvml


def _start_failure(error: BaseException) -> str:
    hint = {
        "NVMLError_LibraryNotFound": "no NVIDIA driver here?",
        "NVMLError_DriverNotLoaded": "the NVIDIA driver is not loaded",
        "NVMLError_NoPermission": "no permission to open the GPU devices",
    }.get(type(error).__name__, "")
    return f"NVML cannot start ({_error_text(error)})" + (f"; {hint}" if hint else "")


def probe_nvml() -> str:
    """One line on the state of NVML on this machine (installed? driver? how many GPUs?)."""
    try:
        pynvml = _import_pynvml()
    except BackendUnavailableError as error:
        return error.reason
    try:
        pynvml.nvmlInit()
    except Exception as error:  # NVMLError_LibraryNotFound, NVMLError_DriverNotLoaded, ...
        return _start_failure(error)
    try:
        count = pynvml.nvmlDeviceGetCount()
    except Exception as error:
        return f"NVML started but cannot count GPUs ({_error_text(error)})"
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()
    return f"NVML works here ({count} GPU(s))"


def field_number(value: Any) -> tuple[float | None, str]:
    """The number in one nvmlFieldValue_t, by its valueType, or (None, why) when there is none.

    Rejects a non-success `nvmlReturn` and the all-bits-set "not available" sentinel.
    """
    if value.nvmlReturn != _NVML_SUCCESS:
        return None, f"returned {value.nvmlReturn}"
    attribute = _VALUE_ATTRIBUTES.get(int(value.valueType))
    if attribute is None:
        return None, f"has an unknown value type {value.valueType}"
    number = getattr(value.value, attribute)
    if number == _NOT_AVAILABLE.get(attribute):
        return None, f"read {number:#x} (value not available)"
    return float(number), ""


@dataclass(frozen=True)
class _OpenedDevice:
    identity: DeviceIdentity
    handle: Any
    power_source: str
    energy_source: str
    power_limit_w: float  # NaN when NVML did not say


def _selectable(pynvml: Any, index: int, handle: Any) -> SelectableDevice:
    aliases: list[str] = []
    with contextlib.suppress(Exception):  # NotSupported on GPUs without MIG
        current_mode, _ = pynvml.nvmlDeviceGetMigMode(handle)
        if current_mode == getattr(pynvml, "NVML_DEVICE_MIG_ENABLE", 1):
            for mig_index in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
                try:
                    mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, mig_index)
                except Exception:  # NVMLError_NotFound: no instance in this slot
                    continue
                aliases.append(_text(pynvml.nvmlDeviceGetUUID(mig)))
    return SelectableDevice(
        index=index,
        uid=_text(pynvml.nvmlDeviceGetUUID(handle)),
        pci_bus_id=pci_bus_id_key(_text(pynvml.nvmlDeviceGetPciInfo(handle).busId)),
        model=_text(pynvml.nvmlDeviceGetName(handle)),
        aliases=tuple(aliases),
    )


def _detail(read: Callable[[], object], unit_factor: float = 1.0) -> str:
    try:
        value = read()
    except Exception as error:
        return f"unavailable ({_error_text(error)})"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value * unit_factor:g}"
    return _text(value)


class NvmlBackend:
    """The selected NVIDIA GPUs, read through NVML; energy in joules since open."""

    name = "nvml"

    def __init__(self, pynvml: Any, select: str | Sequence[str], environ: Mapping[str, str]):
        self._pynvml = pynvml
        self.select = select
        self._lock = threading.Lock()
        self._problems = ProblemLog()
        self._closed = False
        try:
            pynvml.nvmlInit()
        except Exception as error:
            raise BackendUnavailableError("nvml", _start_failure(error)) from None
        try:
            selection = self._select(select, environ)
            self._first_mj: dict[str, int] = {}
            self._devices = tuple(self._open_device(d, selection) for d in selection.devices)
            self._counters = self._start_counters(self._first_mj)
        except BaseException:
            self._shutdown()
            raise
        self.method = (
            EnergyMethod.COUNTER
            if all(d.energy_source != NONE for d in self._devices)
            else EnergyMethod.SAMPLED_POWER
        )

    def _select(self, select: str | Sequence[str], environ: Mapping[str, str]) -> Selection:
        pynvml = self._pynvml
        try:
            count = pynvml.nvmlDeviceGetCount()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            seen = [_selectable(pynvml, i, h) for i, h in enumerate(handles)]
        except Exception as error:
            raise BackendUnavailableError(
                "nvml", f"NVML started but cannot list the GPUs ({_error_text(error)})"
            ) from None
        if not seen:
            raise BackendUnavailableError("nvml", "NVML works but sees no GPU")
        selection = select_nvidia_devices(select, seen, environ)
        if not selection.devices:
            raise BackendUnavailableError("nvml", f"the workload sees no GPU ({selection.how})")
        self._handles = {device.uid: handles[device.index] for device in seen}
        return selection

    def _open_device(self, device: SelectableDevice, selection: Selection) -> _OpenedDevice:
        pynvml = self._pynvml
        handle = self._handles[device.uid]
        power_source, energy_source, first_mj = self._probe(handle)
        if first_mj is not None:
            self._first_mj[device.uid] = first_mj
        limit_mw: float = math.nan
        with contextlib.suppress(Exception):
            limit_mw = float(pynvml.nvmlDeviceGetEnforcedPowerLimit(handle))
        details = [
            ("pci_bus_id", device.pci_bus_id),
            ("driver", _detail(pynvml.nvmlSystemGetDriverVersion)),
            (
                "power_limit_w",
                _detail(lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(handle), 1e-3),
            ),
            (
                "sm_clock_mhz",
                _detail(lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM)),
            ),
            (
                "memory_clock_mhz",
                _detail(lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_MEM)),
            ),
            (
                "temperature_c",
                _detail(
                    lambda: pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)
                ),
            ),
            ("power_field", power_source),
            ("energy_source", energy_source),
            ("selected_by", selection.how),
        ]
        token = selection.tokens.get(device.uid)
        if token is not None and token.upper().startswith("MIG-"):
            details.append(("mig_instance", f"{token}: readings cover the whole GPU"))
        elif token is not None:
            details.append(("selected_as", token))
        identity = DeviceIdentity(
            backend=self.name,
            kind="gpu",
            name=device.model,
            uid=device.uid,
            host=host_name(),
            details=tuple(details),
        )
        return _OpenedDevice(identity, handle, power_source, energy_source, limit_mw * 1e-3)

    def _probe(self, handle: Any) -> tuple[str, str, int | None]:
        """Where this device's power and energy come from, decided once at open, and the energy
        counter's first value in mJ (None without a counter), from one field-values call."""
        pynvml = self._pynvml
        numbers: dict[int, float] = {}
        with contextlib.suppress(Exception):  # FunctionNotFound on old drivers
            for value in pynvml.nvmlDeviceGetFieldValues(handle, list(FIELD_IDS)):
                number, _ = field_number(value)
                if number is not None:
                    numbers[int(value.fieldId)] = number
        if FIELD_POWER_INSTANT in numbers:
            power_source = POWER_FROM_INSTANT
        elif FIELD_POWER_AVERAGE in numbers:
            power_source = POWER_FROM_AVERAGE
        elif _number_or_none(lambda: pynvml.nvmlDeviceGetPowerUsage(handle)) is not None:
            power_source = POWER_FROM_USAGE
        else:
            power_source = NONE
        if FIELD_ENERGY in numbers:
            return power_source, ENERGY_FROM_FIELD, int(numbers[FIELD_ENERGY])
        first_mj = _number_or_none(lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(handle))
        if first_mj is not None:
            return power_source, ENERGY_FROM_FUNCTION, int(first_mj)
        return power_source, NONE, None

    def _start_counters(self, first_mj: Mapping[str, int]) -> dict[str, CumulativeCounter]:
        counters = {
            uid: CumulativeCounter(
                energy_mj, modulus=None, problems=self._problems, problem_key=f"nvml {uid}"
            )
            for uid, energy_mj in first_mj.items()
        }
        # Without a counter on every device the figure is sampled power, which needs every one.
        no_power = [d.identity.uid for d in self._devices if d.power_source == NONE]
        if no_power and len(counters) < len(self._devices):
            raise BackendUnavailableError(
                "nvml",
                f"{', '.join(no_power)}: no power reading through NVML, and not every selected "
                "GPU has an energy counter",
            )
        return counters

    def _reject(self, device: _OpenedDevice, kind: str, line: str) -> None:
        uid = device.identity.uid
        self._problems.add(f"{uid} {kind}", f"nvml {uid}: {line}")

    def _read_raw(
        self, device: _OpenedDevice, *, with_power: bool = True
    ) -> tuple[float | None, float | None, float]:
        """(power in mW, energy in mJ, device time in s) as NVML gave them, invalid ones None.

        `with_power=False` leaves power unread (None), so that a counter read does not count
        power rejections a second time."""
        pynvml = self._pynvml
        by_field: dict[int, Any] = {}
        try:
            values = pynvml.nvmlDeviceGetFieldValues(device.handle, list(FIELD_IDS))
            by_field = {int(value.fieldId): value for value in values}
        except Exception as error:
            self._reject(
                device, "field-values", f"nvmlDeviceGetFieldValues failed ({_error_text(error)})"
            )
        power_mw: float | None = None
        device_time_s = math.nan
        if with_power:
            power_mw, device_time_s = self._power_mw(device, by_field)
        energy_mj: float | None = None
        if device.energy_source == ENERGY_FROM_FIELD and FIELD_ENERGY in by_field:
            value = by_field[FIELD_ENERGY]
            energy_mj, why = field_number(value)
            if energy_mj is None:
                self._reject(
                    device,
                    f"field {FIELD_ENERGY}",
                    f"energy field {FIELD_ENERGY} {self._why(why, value)}",
                )
        elif device.energy_source == ENERGY_FROM_FUNCTION:
            energy_mj = self._call_number(
                device, "energy", pynvml.nvmlDeviceGetTotalEnergyConsumption, 0xFFFFFFFFFFFFFFFF
            )
        return power_mw, energy_mj, device_time_s

    def _power_mw(
        self, device: _OpenedDevice, by_field: Mapping[int, Any]
    ) -> tuple[float | None, float]:
        """(power in mW or None, device time in s or NaN) from the device's chosen source."""
        power_field = {
            POWER_FROM_INSTANT: FIELD_POWER_INSTANT,
            POWER_FROM_AVERAGE: FIELD_POWER_AVERAGE,
        }.get(device.power_source)
        if power_field is not None and power_field in by_field:
            value = by_field[power_field]
            power_mw, why = field_number(value)
            if power_mw is None:
                self._reject(
                    device,
                    f"field {power_field}",
                    f"power field {power_field} {self._why(why, value)}",
                )
                return None, math.nan
            return power_mw, value.timestamp / 1e6 if value.timestamp > 0 else math.nan
        if device.power_source == POWER_FROM_USAGE:
            usage_mw = self._call_number(
                device, "power", self._pynvml.nvmlDeviceGetPowerUsage, 0xFFFFFFFF
            )
            return usage_mw, math.nan
        return None, math.nan

    def _why(self, why: str, value: Any) -> str:
        if why.startswith("returned"):
            return f"returned {_return_text(self._pynvml, int(value.nvmlReturn))}"
        return why

    def _call_number(
        self, device: _OpenedDevice, kind: str, read: Callable[[Any], Any], not_available: int
    ) -> float | None:
        name = getattr(read, "__name__", kind)
        try:
            number = read(device.handle)
        except Exception as error:
            self._reject(device, name, f"{name} failed ({_error_text(error)})")
            return None
        if number == not_available:
            self._reject(
                device, f"{name} sentinel", f"{name} read {number:#x} (value not available)"
            )
            return None
        return float(number)

    def _checked_power_w(self, device: _OpenedDevice, power_mw: float | None) -> float:
        if power_mw is None:
            return math.nan
        power_w = power_mw / 1000.0
        if power_w < 0:
            self._reject(device, "power<0", f"negative power {power_w:g} W")
            return math.nan
        if power_w > 2 * device.power_limit_w:  # False when the limit is unknown (NaN)
            self._reject(
                device,
                "power>2x-limit",
                f"power {power_w:g} W is above twice the enforced limit "
                f"({device.power_limit_w:g} W)",
            )
            return math.nan
        return power_w

    def _checked_energy_j(self, device: _OpenedDevice, energy_mj: float | None) -> float:
        counter = self._counters.get(device.identity.uid)
        if counter is None or energy_mj is None:
            return math.nan
        total_mj = counter.advance(int(energy_mj))
        return math.nan if total_mj is None else total_mj / 1000.0

    def devices(self) -> tuple[DeviceIdentity, ...]:
        return tuple(device.identity for device in self._devices)

    def read_devices(self) -> tuple[DeviceReading, ...]:
        readings = []
        with self._lock:
            for device in self._devices:
                power_mw, energy_mj, device_time_s = self._read_raw(device)
                readings.append(
                    DeviceReading(
                        device.identity.uid,
                        self._checked_power_w(device, power_mw),
                        self._checked_energy_j(device, energy_mj),
                        device_time_s,
                    )
                )
        return tuple(readings)

    def read_energy_j(self) -> float | None:
        if self.method is not EnergyMethod.COUNTER:
            return None
        with self._lock:
            for device in self._devices:
                _, energy_mj, _ = self._read_raw(device, with_power=False)
                self._checked_energy_j(device, energy_mj)
            return sum(counter.total for counter in self._counters.values()) / 1000.0

    def read_power_w(self) -> float | None:
        if any(device.power_source == NONE for device in self._devices):
            return None
        valid = [r.power_w for r in self.read_devices() if not math.isnan(r.power_w)]
        return sum(valid) if valid else None

    def problems(self) -> tuple[str, ...]:
        return self._problems.lines()

    def _shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self._pynvml.nvmlShutdown()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._shutdown()

    def __repr__(self) -> str:
        return f"NvmlBackend(select={self.select!r})"


def _number_or_none(read: Callable[[], object]) -> float | None:
    """The number a fallback function returns, or None when it raises or gives a sentinel."""
    try:
        number = read()
    except Exception:
        return None
    if not isinstance(number, int | float) or number in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None
    return float(number)


def open_nvml(select: str | Sequence[str] = "visible") -> NvmlBackend:
    """Registry opener of the "nvml" backend over the selected GPUs (see energy/device_select.py).

    Raises BackendUnavailableError with one line when nvidia-ml-py is missing, NVML cannot start
    (no driver: NVMLError_LibraryNotFound / DriverNotLoaded), there is no GPU, or the selection
    names a device NVML does not see.
    """
    return NvmlBackend(_import_pynvml(), select, os.environ)
