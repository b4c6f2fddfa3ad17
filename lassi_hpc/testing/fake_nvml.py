"""A FAKE `pynvml` module (nvidia-ml-py) with scripted GPUs, for tests without an NVIDIA GPU.

FAKE: nothing here talks to a driver. Install it at the import seam, for one test:

    fake = FakeNvml([FakeNvmlDevice("GPU-aaaa…", samples=[FakeNvmlSample(...), ...])])
    monkeypatch.setitem(sys.modules, "pynvml", fake)

It mimics only what `lassi_hpc.energy.nvml` calls, with the real names, return types and units:
`nvmlDeviceGetFieldValues` returns a ctypes array of `c_nvmlFieldValue_t` (fieldId, scopeId,
timestamp in µs since the epoch, latencyUsec, valueType, nvmlReturn, value union with uiVal /
ullVal / ...), power in mW, energy in mJ, clocks in MHz, temperature in °C; failures raise
`NVMLError` subclasses built from the return code as the real module does
(`NVMLError(NVML_ERROR_NOT_SUPPORTED)` is an `NVMLError_NotSupported`).
Each `nvmlDeviceGetFieldValues` call on a device consumes that device's next scripted
`FakeNvmlSample` (the last one repeats); the fallback functions read the sample last consumed.
"""

from __future__ import annotations

import ctypes
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999

# The same names and messages as pynvml's NVMLError classes.
_ERRORS: Mapping[int, tuple[str, str]] = {
    NVML_ERROR_UNINITIALIZED: ("NVMLError_Uninitialized", "Uninitialized"),
    NVML_ERROR_INVALID_ARGUMENT: ("NVMLError_InvalidArgument", "Invalid Argument"),
    NVML_ERROR_NOT_SUPPORTED: ("NVMLError_NotSupported", "Not Supported"),
    NVML_ERROR_NO_PERMISSION: ("NVMLError_NoPermission", "Insufficient Permissions"),
    NVML_ERROR_NOT_FOUND: ("NVMLError_NotFound", "Not Found"),
    NVML_ERROR_DRIVER_NOT_LOADED: ("NVMLError_DriverNotLoaded", "Driver Not Loaded"),
    NVML_ERROR_TIMEOUT: ("NVMLError_Timeout", "Timeout"),
    NVML_ERROR_LIBRARY_NOT_FOUND: ("NVMLError_LibraryNotFound", "NVML Shared Library Not Found"),
    NVML_ERROR_FUNCTION_NOT_FOUND: ("NVMLError_FunctionNotFound", "Function Not Found"),
    NVML_ERROR_GPU_IS_LOST: ("NVMLError_GpuIsLost", "GPU is lost"),
    NVML_ERROR_UNKNOWN: ("NVMLError_Unknown", "Unknown Error"),
}

NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
NVML_DEVICE_MIG_DISABLE = 0
NVML_DEVICE_MIG_ENABLE = 1

NVML_VALUE_TYPE_DOUBLE = 0
NVML_VALUE_TYPE_UNSIGNED_INT = 1
NVML_VALUE_TYPE_UNSIGNED_LONG = 2
NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3
NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4
NVML_VALUE_TYPE_SIGNED_INT = 5
NVML_VALUE_TYPE_UNSIGNED_SHORT = 6

NVML_FI_DEV_POWER_AVERAGE = 185
NVML_FI_DEV_POWER_INSTANT = 186
NVML_FI_DEV_ENERGY = 191

NOT_AVAILABLE_UINT = 0xFFFFFFFF  # NVML_VALUE_NOT_AVAILABLE for 32-bit values


class NVMLError(Exception):
    """FAKE pynvml.NVMLError: `NVMLError(code)` is an instance of the subclass for that code."""

    value: int
    _by_code: dict[int, type[NVMLError]] = {}  # noqa: RUF012 (filled once, below)

    def __new__(cls, value: int) -> NVMLError:
        subclass = NVMLError._by_code.get(value, cls) if cls is NVMLError else cls
        error = Exception.__new__(subclass)
        error.value = value
        return error

    def __init__(self, value: int) -> None:
        super().__init__(value)

    def __str__(self) -> str:
        return _ERRORS.get(self.value, ("", f"NVML Error with code {self.value}"))[1]


def _error_class(code: int, name: str) -> type[NVMLError]:
    def new(cls: type[NVMLError], *args: Any) -> NVMLError:
        error = Exception.__new__(cls)
        error.value = code
        return error

    def init(self: NVMLError, *args: Any) -> None:
        Exception.__init__(self, code)

    subclass = type(name, (NVMLError,), {"__new__": new, "__init__": init})
    NVMLError._by_code[code] = subclass
    return subclass


ERROR_CLASSES: Mapping[str, type[NVMLError]] = {
    name: _error_class(code, name) for code, (name, _) in _ERRORS.items()
}
NVMLError_NotSupported = ERROR_CLASSES["NVMLError_NotSupported"]
NVMLError_LibraryNotFound = ERROR_CLASSES["NVMLError_LibraryNotFound"]
NVMLError_DriverNotLoaded = ERROR_CLASSES["NVMLError_DriverNotLoaded"]


class c_nvmlValue_t(ctypes.Union):  # noqa: N801 (pynvml's name)
    _fields_ = (
        ("dVal", ctypes.c_double),
        ("uiVal", ctypes.c_uint),
        ("ulVal", ctypes.c_ulong),
        ("ullVal", ctypes.c_ulonglong),
        ("sllVal", ctypes.c_longlong),
        ("siVal", ctypes.c_int),
        ("usVal", ctypes.c_ushort),
    )


class c_nvmlFieldValue_t(ctypes.Structure):  # noqa: N801 (pynvml's name)
    _fields_ = (
        ("fieldId", ctypes.c_uint32),
        ("scopeId", ctypes.c_uint32),
        ("timestamp", ctypes.c_int64),
        ("latencyUsec", ctypes.c_int64),
        ("valueType", ctypes.c_uint),
        ("nvmlReturn", ctypes.c_uint),
        ("value", c_nvmlValue_t),
    )


@dataclass(frozen=True)
class FakeNvmlSample:
    """FAKE: one device's state at one nvmlDeviceGetFieldValues call.

    Power in mW, energy in mJ (cumulative since the FAKE driver loaded), timestamp in µs since the
    epoch. None means the field answers NVML_ERROR_NOT_SUPPORTED. `returns` overrides a field's
    nvmlReturn (e.g. {186: NVML_ERROR_UNKNOWN}); `call_error` makes the whole call raise.
    `power_usage_mw` / `total_energy_mj` answer nvmlDeviceGetPowerUsage /
    nvmlDeviceGetTotalEnergyConsumption (None: NotSupported).
    """

    instant_power_mw: int | None = 250_000
    average_power_mw: int | None = 240_000
    energy_mj: int | None = 1_000_000
    timestamp_us: int = 1_700_000_000_000_000
    returns: Mapping[int, int] = field(default_factory=dict)
    call_error: int | None = None
    power_usage_mw: int | None = None
    total_energy_mj: int | None = None


@dataclass
class FakeNvmlDevice:
    """FAKE: one scripted NVIDIA GPU (units as NVML gives them: mW, MHz, °C)."""

    uuid: str
    name: str = "FAKE NVIDIA A100-SXM4-80GB"
    pci_bus_id: str = "00000000:07:00.0"
    power_limit_mw: int = 400_000
    sm_clock_mhz: int = 1410
    memory_clock_mhz: int = 1593
    temperature_c: int = 34
    mig_uuids: tuple[str, ...] = ()
    samples: Sequence[FakeNvmlSample] = (FakeNvmlSample(),)
    cursor: int = -1

    def current(self) -> FakeNvmlSample:
        return self.samples[max(self.cursor, 0)]

    def advance(self) -> FakeNvmlSample:
        self.cursor = min(self.cursor + 1, len(self.samples) - 1)
        return self.samples[self.cursor]


@dataclass(frozen=True)
class FakeNvmlHandle:
    """FAKE nvmlDevice_t: a GPU index, and a MIG instance index for MIG handles."""

    index: int
    mig_index: int | None = None


@dataclass(frozen=True)
class FakePciInfo:
    """FAKE nvmlPciInfo_t: only the bus ids (bytes, as ctypes char arrays come back)."""

    busId: bytes  # noqa: N815 (pynvml's name)
    busIdLegacy: bytes  # noqa: N815 (pynvml's name)


class FakeNvml(types.ModuleType):
    """FAKE pynvml module over scripted devices; `calls` lists the NVML functions called, in order.

    `init_error` makes nvmlInit raise that code (e.g. NVML_ERROR_LIBRARY_NOT_FOUND);
    `strings_as_bytes` returns UUIDs, names and the driver version as bytes, as older
    nvidia-ml-py versions did.
    """

    NVMLError = NVMLError

    def __init__(
        self,
        devices: Iterable[FakeNvmlDevice],
        *,
        init_error: int | None = None,
        driver_version: str = "550.54.15",
        strings_as_bytes: bool = False,
    ) -> None:
        super().__init__("pynvml", "FAKE pynvml (lassi_hpc.testing.fake_nvml)")
        self.devices = list(devices)
        self.init_error = init_error
        self.driver_version = driver_version
        self.strings_as_bytes = strings_as_bytes
        self.calls: list[str] = []
        self.initialised = 0
        for name, value in globals().items():
            if name.startswith(("NVML_", "NVMLError_", "c_nvml")):
                setattr(self, name, value)
        for name, error_class in ERROR_CLASSES.items():
            setattr(self, name, error_class)

    def _text(self, text: str) -> str | bytes:
        return text.encode() if self.strings_as_bytes else text

    def _device(self, handle: FakeNvmlHandle) -> FakeNvmlDevice:
        if self.initialised <= 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        return self.devices[handle.index]

    def nvmlInit(self) -> None:  # noqa: N802 (pynvml's names, here and below)
        self.calls.append("nvmlInit")
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.calls.append("nvmlShutdown")
        if self.initialised <= 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        self.initialised -= 1

    def nvmlSystemGetDriverVersion(self) -> str | bytes:  # noqa: N802
        return self._text(self.driver_version)

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        self.calls.append("nvmlDeviceGetCount")
        if self.initialised <= 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeNvmlHandle:  # noqa: N802
        if not 0 <= index < len(self.devices):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return FakeNvmlHandle(index)

    def nvmlDeviceGetUUID(self, handle: FakeNvmlHandle) -> str | bytes:  # noqa: N802
        device = self._device(handle)
        if handle.mig_index is not None:
            return self._text(device.mig_uuids[handle.mig_index])
        return self._text(device.uuid)

    def nvmlDeviceGetName(self, handle: FakeNvmlHandle) -> str | bytes:  # noqa: N802
        return self._text(self._device(handle).name)

    def nvmlDeviceGetPciInfo(self, handle: FakeNvmlHandle) -> FakePciInfo:  # noqa: N802
        bus_id = self._device(handle).pci_bus_id
        return FakePciInfo(bus_id.encode(), bus_id[4:].encode())

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: FakeNvmlHandle) -> int:  # noqa: N802
        return self._device(handle).power_limit_mw

    def nvmlDeviceGetClockInfo(self, handle: FakeNvmlHandle, clock_type: int) -> int:  # noqa: N802
        device = self._device(handle)
        return device.sm_clock_mhz if clock_type == NVML_CLOCK_SM else device.memory_clock_mhz

    def nvmlDeviceGetTemperature(self, handle: FakeNvmlHandle, sensor: int) -> int:  # noqa: N802
        return self._device(handle).temperature_c

    def nvmlDeviceGetMigMode(self, handle: FakeNvmlHandle) -> list[int]:  # noqa: N802
        if not self._device(handle).mig_uuids:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return [NVML_DEVICE_MIG_ENABLE, NVML_DEVICE_MIG_ENABLE]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: FakeNvmlHandle) -> int:  # noqa: N802
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(  # noqa: N802
        self, handle: FakeNvmlHandle, index: int
    ) -> FakeNvmlHandle:
        if index >= len(self._device(handle).mig_uuids):
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return FakeNvmlHandle(handle.index, index)

    def nvmlDeviceGetFieldValues(  # noqa: N802
        self,
        handle: FakeNvmlHandle,
        fieldIds: Sequence[int],  # noqa: N803 (pynvml's name)
    ) -> ctypes.Array[c_nvmlFieldValue_t]:
        self.calls.append(f"nvmlDeviceGetFieldValues({handle.index}, {list(fieldIds)})")
        sample = self._device(handle).advance()
        if sample.call_error is not None:
            raise NVMLError(sample.call_error)
        values = (c_nvmlFieldValue_t * len(fieldIds))()
        for slot, field_id in zip(values, fieldIds, strict=True):
            slot.fieldId = field_id
            slot.timestamp = sample.timestamp_us
            slot.latencyUsec = 0
            number = {
                NVML_FI_DEV_POWER_AVERAGE: sample.average_power_mw,
                NVML_FI_DEV_POWER_INSTANT: sample.instant_power_mw,
                NVML_FI_DEV_ENERGY: sample.energy_mj,
            }.get(field_id)
            slot.nvmlReturn = sample.returns.get(
                field_id, NVML_ERROR_NOT_SUPPORTED if number is None else NVML_SUCCESS
            )
            if number is None or slot.nvmlReturn != NVML_SUCCESS:
                continue
            if field_id == NVML_FI_DEV_ENERGY:
                slot.valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
                slot.value.ullVal = number
            else:
                slot.valueType = NVML_VALUE_TYPE_UNSIGNED_INT
                slot.value.uiVal = number
        return values

    def nvmlDeviceGetPowerUsage(self, handle: FakeNvmlHandle) -> int:  # noqa: N802
        self.calls.append(f"nvmlDeviceGetPowerUsage({handle.index})")
        power_mw = self._device(handle).current().power_usage_mw
        if power_mw is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return power_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeNvmlHandle) -> int:  # noqa: N802
        self.calls.append(f"nvmlDeviceGetTotalEnergyConsumption({handle.index})")
        energy_mj = self._device(handle).current().total_energy_mj
        if energy_mj is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return energy_mj
