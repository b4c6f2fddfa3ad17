"""A FAKE `amdsmi` module with scripted AMD GPUs, for tests without ROCm or an AMD GPU.

FAKE: nothing here talks to a driver. Install it at the import seam, for one test:

    fake = FakeAmdSmi([FakeAmdSmiDevice("…uuid…", samples=[new_rocm_sample(...), ...])])
    monkeypatch.setitem(sys.modules, "amdsmi", fake)

It mimics only what `lassi_hpc.energy.amd_smi` calls, with the real names, dictionaries and
units: `amdsmi_get_power_info` in W with "N/A" for 0xFFFF, `amdsmi_get_energy_count` as
accumulator ticks x `counter_resolution` µJ with a timestamp in ns, `amdsmi_get_power_cap_info`
in µW, clocks in MHz, temperatures in °C; failures raise `AmdSmiLibraryException(err_code)`.
Both spellings of the dictionaries are scripted: `new_rocm_sample` (ROCm >= 6.2.1: key
"energy_accumulator", MI300-style `current_socket_power`) and `old_rocm_sample` (before 6.2.1:
key "power" for the accumulator, only `average_socket_power`). Each call of
`amdsmi_get_power_info` / `amdsmi_get_energy_count` on a device consumes that function's next
scripted sample (the last one repeats). `init_noise` is printed on `amdsmi_init`, by Python and
straight to file descriptor 1, as a C library would.
"""

from __future__ import annotations

import enum
import os
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_INIT_ERROR = 34
AMDSMI_STATUS_DRIVER_NOT_LOADED = 48

_STATUS_TEXT: Mapping[int, str] = {
    AMDSMI_STATUS_NOT_SUPPORTED: "AMDSMI_STATUS_NOT_SUPPORTED - Feature not supported",
    AMDSMI_STATUS_INIT_ERROR: "AMDSMI_STATUS_INIT_ERROR - Initialization error",
    AMDSMI_STATUS_DRIVER_NOT_LOADED: "AMDSMI_STATUS_DRIVER_NOT_LOADED - Driver not loaded",
}


class AmdSmiException(Exception):  # noqa: N818 (amdsmi's name)
    """FAKE amdsmi.AmdSmiException."""


class AmdSmiLibraryException(AmdSmiException):
    """FAKE amdsmi.AmdSmiLibraryException; its text spans two lines, as the real one's does."""

    def __init__(self, err_code: int) -> None:
        super().__init__(abs(err_code))
        self.err_code = abs(err_code)
        self.err_info = _STATUS_TEXT.get(self.err_code, "AMDSMI_STATUS_UNKNOWN_ERROR")

    def __str__(self) -> str:
        return f"Error code:\n\t{self.err_code} | {self.err_info}"


class AmdSmiInitFlags(enum.IntEnum):
    INIT_ALL_PROCESSORS = 0xFFFFFFFF
    INIT_AMD_CPUS = 1
    INIT_AMD_GPUS = 2


class AmdSmiClkType(enum.IntEnum):
    SYS = 0
    GFX = 0  # the real enum aliases GFX to SYS too
    DF = 1
    DCEF = 2
    SOC = 3
    MEM = 4


class AmdSmiTemperatureType(enum.IntEnum):
    EDGE = 0
    HOTSPOT = 1
    JUNCTION = 1  # an alias, as in the real enum
    VRAM = 2


class AmdSmiTemperatureMetric(enum.IntEnum):
    CURRENT = 0
    MAX = 1


@dataclass(frozen=True)
class FakeAmdSmiSample:
    """FAKE: one device's answers to amdsmi_get_power_info and amdsmi_get_energy_count.

    The dictionaries are returned as they are (give them in the spelling under test); an
    `*_error` code makes that call raise AmdSmiLibraryException instead.
    """

    power_info: Mapping[str, Any]
    energy_count: Mapping[str, Any]
    power_error: int | None = None
    energy_error: int | None = None


def _power_value(power_w: int | None) -> int | str:
    # The real wrapper turns 0xFFFF into "N/A"; None scripts that.
    return "N/A" if power_w is None else power_w


def new_rocm_sample(
    *,
    current_w: int | None = 300,
    average_w: int | None = 0,
    ticks: int = 1_000_000,
    resolution_uj: float = 15.259,
    timestamp_ns: int = 5_000_000_000,
) -> FakeAmdSmiSample:
    """FAKE sample in the ROCm >= 6.2.1 spelling (MI300 style: current power, average 0)."""
    return FakeAmdSmiSample(
        power_info={
            "socket_power": _power_value(current_w),
            "current_socket_power": _power_value(current_w),
            "average_socket_power": _power_value(average_w),
            "gfx_voltage": 800,
            "soc_voltage": 900,
            "mem_voltage": 1200,
            "power_limit": 750,
        },
        energy_count={
            "energy_accumulator": ticks,
            "counter_resolution": resolution_uj,
            "timestamp": timestamp_ns,
        },
    )


def old_rocm_sample(
    *,
    average_w: int | None = 150,
    ticks: int = 1_000_000,
    resolution_uj: float = 15.3,
    timestamp_ns: int = 5_000_000_000,
) -> FakeAmdSmiSample:
    """FAKE sample in the spelling before ROCm 6.2.1 (MI100/MI200 style: average power only,
    the accumulator under the key "power")."""
    return FakeAmdSmiSample(
        power_info={
            "average_socket_power": _power_value(average_w),
            "gfx_voltage": 800,
            "soc_voltage": 900,
            "mem_voltage": 1200,
            "power_limit": 290,
        },
        energy_count={
            "power": ticks,
            "counter_resolution": resolution_uj,
            "timestamp": timestamp_ns,
        },
    )


@dataclass
class FakeAmdSmiDevice:
    """FAKE: one scripted AMD GPU (units as AMD SMI gives them)."""

    uuid: str
    bdf: str = "0000:c1:00.0"
    market_name: str = "FAKE AMD Instinct MI100"
    asic_serial: str = "0xD1A2B3C4E5F60718"
    hip_uuid: str | None = None  # amdsmi_get_gpu_enumeration_info (ROCm 6.4+); None: absent
    driver_version: str = "6.8.5"
    power_cap_uw: int = 290_000_000
    gfx_clock_mhz: int = 1502
    memory_clock_mhz: int = 1200
    edge_temperature_c: int | None = 40
    hotspot_temperature_c: int | None = 45
    samples: Sequence[FakeAmdSmiSample] = (old_rocm_sample(),)
    power_calls: int = 0
    energy_calls: int = 0

    def next_power_sample(self) -> FakeAmdSmiSample:
        self.power_calls += 1
        return self.samples[min(self.power_calls, len(self.samples)) - 1]

    def next_energy_sample(self) -> FakeAmdSmiSample:
        self.energy_calls += 1
        return self.samples[min(self.energy_calls, len(self.samples)) - 1]


@dataclass(frozen=True)
class FakeAmdSmiHandle:
    """FAKE amdsmi processor handle."""

    index: int


class FakeAmdSmi(types.ModuleType):
    """FAKE amdsmi module over scripted devices; `calls` names the amdsmi calls that matter
    (init, shutdown, handles, power and energy reads), in order.

    `init_error` makes amdsmi_init raise AmdSmiLibraryException with that code.
    """

    def __init__(
        self,
        devices: Iterable[FakeAmdSmiDevice],
        *,
        init_error: int | None = None,
        init_noise: str = "",
    ) -> None:
        types.ModuleType.__init__(self, "amdsmi", "FAKE amdsmi (lassi_hpc.testing.fake_amdsmi)")
        self.devices = list(devices)
        self.init_error = init_error
        self.init_noise = init_noise
        self.calls: list[str] = []
        self.initialised = 0
        self.AmdSmiException = AmdSmiException
        self.AmdSmiLibraryException = AmdSmiLibraryException
        self.AmdSmiInitFlags = AmdSmiInitFlags
        self.AmdSmiClkType = AmdSmiClkType
        self.AmdSmiTemperatureType = AmdSmiTemperatureType
        self.AmdSmiTemperatureMetric = AmdSmiTemperatureMetric

    def _device(self, handle: FakeAmdSmiHandle) -> FakeAmdSmiDevice:
        if self.initialised <= 0:
            raise AmdSmiLibraryException(AMDSMI_STATUS_INIT_ERROR)
        return self.devices[handle.index]

    def amdsmi_init(self, flag: AmdSmiInitFlags = AmdSmiInitFlags.INIT_AMD_GPUS) -> None:
        self.calls.append("amdsmi_init")
        if self.init_noise:
            print(self.init_noise)
            os.write(1, f"{self.init_noise} (fd 1)\n".encode())
        if self.init_error is not None:
            raise AmdSmiLibraryException(self.init_error)
        self.initialised += 1

    def amdsmi_shut_down(self) -> None:
        self.calls.append("amdsmi_shut_down")
        if self.initialised <= 0:
            raise AmdSmiLibraryException(AMDSMI_STATUS_INIT_ERROR)
        self.initialised -= 1

    def amdsmi_get_processor_handles(self) -> list[FakeAmdSmiHandle]:
        self.calls.append("amdsmi_get_processor_handles")
        if self.initialised <= 0:
            raise AmdSmiLibraryException(AMDSMI_STATUS_INIT_ERROR)
        return [FakeAmdSmiHandle(index) for index in range(len(self.devices))]

    def amdsmi_get_gpu_device_uuid(self, handle: FakeAmdSmiHandle) -> str:
        return self._device(handle).uuid

    def amdsmi_get_gpu_device_bdf(self, handle: FakeAmdSmiHandle) -> str:
        return self._device(handle).bdf

    def amdsmi_get_gpu_asic_info(self, handle: FakeAmdSmiHandle) -> dict[str, Any]:
        device = self._device(handle)
        return {
            "market_name": device.market_name,
            "vendor_id": "0x1002",
            "vendor_name": "Advanced Micro Devices Inc. [AMD/ATI]",
            "device_id": "0x738c",
            "asic_serial": device.asic_serial,
            "target_graphics_version": "gfx908",
        }

    def amdsmi_get_gpu_enumeration_info(self, handle: FakeAmdSmiHandle) -> dict[str, Any]:
        device = self._device(handle)
        if device.hip_uuid is None:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        return {
            "drm_render": 128,
            "drm_card": 0,
            "hsa_id": 1,
            "hip_id": 0,
            "hip_uuid": device.hip_uuid,
        }

    def amdsmi_get_gpu_driver_info(self, handle: FakeAmdSmiHandle) -> dict[str, str]:
        version = self._device(handle).driver_version
        return {"driver_name": "amdgpu", "driver_version": version, "driver_date": "2015/01/01"}

    def amdsmi_get_power_cap_info(self, handle: FakeAmdSmiHandle) -> dict[str, int]:
        cap_uw = self._device(handle).power_cap_uw
        return {
            "power_cap": cap_uw,
            "default_power_cap": cap_uw,
            "dpm_cap": 1502,
            "min_power_cap": 0,
            "max_power_cap": cap_uw,
        }

    def amdsmi_get_clock_info(
        self, handle: FakeAmdSmiHandle, clock_type: AmdSmiClkType
    ) -> dict[str, Any]:
        device = self._device(handle)
        clock_mhz = (
            device.memory_clock_mhz if clock_type == AmdSmiClkType.MEM else device.gfx_clock_mhz
        )
        return {"clk": clock_mhz, "min_clk": 300, "max_clk": 1502, "clk_locked": False}

    def amdsmi_get_temp_metric(
        self,
        handle: FakeAmdSmiHandle,
        sensor_type: AmdSmiTemperatureType,
        metric: AmdSmiTemperatureMetric,
    ) -> int:
        device = self._device(handle)
        value = (
            device.edge_temperature_c
            if sensor_type == AmdSmiTemperatureType.EDGE
            else device.hotspot_temperature_c
        )
        if value is None:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        return value

    def amdsmi_get_power_info(self, handle: FakeAmdSmiHandle) -> dict[str, Any]:
        self.calls.append(f"amdsmi_get_power_info({handle.index})")
        sample = self._device(handle).next_power_sample()
        if sample.power_error is not None:
            raise AmdSmiLibraryException(sample.power_error)
        return dict(sample.power_info)

    def amdsmi_get_energy_count(self, handle: FakeAmdSmiHandle) -> dict[str, Any]:
        self.calls.append(f"amdsmi_get_energy_count({handle.index})")
        sample = self._device(handle).next_energy_sample()
        if sample.energy_error is not None:
            raise AmdSmiLibraryException(sample.energy_error)
        return dict(sample.energy_count)
