"""The NVML backend against a FAKE pynvml module (lassi_hpc.testing.fake_nvml) at the import seam,
and against the real nvidia-ml-py package where it is installed (no driver here)."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from lassi_hpc.energy.backend import BackendUnavailableError, open_backend
from lassi_hpc.energy.nvml import NvmlBackend, open_nvml, probe_nvml
from lassi_hpc.records import EnergyMethod
from lassi_hpc.testing.fake_nvml import (
    NVML_ERROR_DRIVER_NOT_LOADED,
    NVML_ERROR_GPU_IS_LOST,
    NVML_ERROR_LIBRARY_NOT_FOUND,
    NVML_ERROR_UNKNOWN,
    FakeNvml,
    FakeNvmlDevice,
    FakeNvmlSample,
)

UUID_0 = "GPU-0a6e1f35-1111-2222-3333-444455556666"
UUID_1 = "GPU-8f3c2d10-aaaa-bbbb-cccc-ddddeeeeffff"
MIG_1 = "MIG-5d2c9b8a-0000-1111-2222-333344445555"
T0_US = 1_700_000_000_000_000


@pytest.fixture(autouse=True)
def no_visible_devices_variables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"):
        monkeypatch.delenv(name, raising=False)
    yield


def sample(
    instant_mw: int | None = 250_000,
    energy_mj: int | None = 1_000_000,
    *,
    at_s: float = 0.0,
    **changes: Any,
) -> FakeNvmlSample:
    fields: dict[str, object] = {
        "instant_power_mw": instant_mw,
        "average_power_mw": 240_000,
        "energy_mj": energy_mj,
        "timestamp_us": T0_US + int(at_s * 1e6),
    }
    fields.update(changes)
    return FakeNvmlSample(**fields)  # type: ignore[arg-type]


def install(
    monkeypatch: pytest.MonkeyPatch, *devices: FakeNvmlDevice, **options: object
) -> FakeNvml:
    fake = FakeNvml(devices, **options)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    return fake


def field_calls(fake: FakeNvml) -> list[str]:
    return [call for call in fake.calls if call.startswith("nvmlDeviceGetFieldValues")]


def test_devices_are_named_by_uuid_with_what_nvml_said(monkeypatch: pytest.MonkeyPatch) -> None:
    install(
        monkeypatch,
        FakeNvmlDevice(UUID_0, pci_bus_id="00000000:07:00.0"),
        FakeNvmlDevice(UUID_1, pci_bus_id="00000000:0F:00.0", power_limit_mw=350_500),
    )
    backend = open_nvml()
    assert backend.method is EnergyMethod.COUNTER
    first, second = backend.devices()
    assert (first.uid, second.uid) == (UUID_0, UUID_1)
    assert first.backend == "nvml" and first.kind == "gpu" and not first.is_fake
    assert first.name == "FAKE NVIDIA A100-SXM4-80GB"
    details = dict(second.details)
    assert details["pci_bus_id"] == "0000:0f:00.0"
    assert details["driver"] == "550.54.15"
    assert details["power_limit_w"] == "350.5"
    assert details["sm_clock_mhz"] == "1410"
    assert details["memory_clock_mhz"] == "1593"
    assert details["temperature_c"] == "34"
    assert details["power_field"] == "186 instant (nvmlDeviceGetFieldValues)"
    assert details["energy_source"] == "191 (nvmlDeviceGetFieldValues)"
    assert details["selected_by"] == "all devices (no CUDA_VISIBLE_DEVICES)"
    backend.close()


def test_old_nvidia_ml_py_returning_bytes_is_understood(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeNvmlDevice(UUID_0), strings_as_bytes=True, driver_version="470.1")
    backend = open_nvml()
    (device,) = backend.devices()
    assert device.uid == UUID_0
    assert device.name == "FAKE NVIDIA A100-SXM4-80GB"
    assert dict(device.details)["driver"] == "470.1"


def test_one_field_values_call_per_device_and_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install(
        monkeypatch,
        FakeNvmlDevice(UUID_0, samples=[sample(), sample(300_000, 1_000_500, at_s=0.1)]),
        FakeNvmlDevice(UUID_1, samples=[sample(), sample(100_000, 1_000_250, at_s=0.1)]),
    )
    backend = open_nvml()
    before = len(field_calls(fake))
    readings = backend.read_devices()
    assert field_calls(fake)[before:] == [
        "nvmlDeviceGetFieldValues(0, [185, 186, 191])",
        "nvmlDeviceGetFieldValues(1, [185, 186, 191])",
    ]
    assert [r.uid for r in readings] == [UUID_0, UUID_1]
    assert [r.power_w for r in readings] == [300.0, 100.0]  # field 186, mW -> W
    assert [r.energy_j for r in readings] == [0.5, 0.25]  # mJ since open -> J
    assert readings[0].device_time_s == pytest.approx((T0_US + 100_000) / 1e6)
    assert backend.problems() == ()


def test_energy_and_power_are_summed_over_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    install(
        monkeypatch,
        FakeNvmlDevice(UUID_0, samples=[sample(), sample(200_000, 1_002_000)]),
        FakeNvmlDevice(UUID_1, samples=[sample(), sample(150_000, 1_001_000)]),
    )
    backend = open_backend("nvml", select="all")
    assert isinstance(backend, NvmlBackend)
    assert backend.read_energy_j() == pytest.approx(3.0)
    assert backend.read_power_w() == pytest.approx(350.0)


def test_average_power_when_instant_is_not_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeNvmlDevice(UUID_0, samples=[sample(None), sample(None)]))
    backend = open_nvml()
    assert dict(backend.devices()[0].details)["power_field"] == (
        "185 average (nvmlDeviceGetFieldValues)"
    )
    assert backend.read_devices()[0].power_w == 240.0


def test_fallback_functions_when_fields_are_not_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    no_fields: dict[str, Any] = {"average_power_mw": None, "power_usage_mw": 123_000}
    fake = install(
        monkeypatch,
        FakeNvmlDevice(
            UUID_0,
            samples=[
                sample(None, None, total_energy_mj=50_000, **no_fields),
                sample(None, None, total_energy_mj=52_000, **no_fields),
            ],
        ),
    )
    backend = open_nvml()
    details = dict(backend.devices()[0].details)
    assert details["power_field"] == "nvmlDeviceGetPowerUsage"
    assert details["energy_source"] == "nvmlDeviceGetTotalEnergyConsumption"
    assert backend.method is EnergyMethod.COUNTER
    (reading,) = backend.read_devices()
    assert reading.power_w == 123.0
    assert reading.energy_j == 2.0
    assert math.isnan(reading.device_time_s)  # nvmlDeviceGetPowerUsage gives no timestamp
    assert "nvmlDeviceGetPowerUsage(0)" in fake.calls


def test_without_an_energy_counter_the_method_is_sampled_power(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install(monkeypatch, FakeNvmlDevice(UUID_0, samples=[sample(energy_mj=None)]))
    backend = open_nvml()
    assert backend.method is EnergyMethod.SAMPLED_POWER
    assert backend.read_energy_j() is None
    (reading,) = backend.read_devices()
    assert reading.power_w == 250.0
    assert math.isnan(reading.energy_j)
    assert dict(backend.devices()[0].details)["energy_source"] == "none"


def test_a_device_with_neither_power_nor_energy_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = install(
        monkeypatch, FakeNvmlDevice(UUID_0, samples=[sample(None, None, average_power_mw=None)])
    )
    with pytest.raises(
        BackendUnavailableError, match="no power reading through NVML, and not every selected GPU"
    ):
        open_nvml()
    assert fake.initialised == 0  # NVML was shut down again


def test_non_success_returns_are_rejected_with_a_count(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = sample(returns={186: NVML_ERROR_UNKNOWN, 191: NVML_ERROR_UNKNOWN})
    install(monkeypatch, FakeNvmlDevice(UUID_0, samples=[sample(), broken, broken, sample()]))
    backend = open_nvml()
    for _ in range(2):
        (reading,) = backend.read_devices()
        assert math.isnan(reading.power_w) and math.isnan(reading.energy_j)
        assert math.isnan(reading.device_time_s)
    assert backend.problems() == (
        f"nvml {UUID_0}: power field 186 returned Unknown Error (NVML return 999), "
        "rejected 2 times",
        f"nvml {UUID_0}: energy field 191 returned Unknown Error (NVML return 999), "
        "rejected 2 times",
    )
    (reading,) = backend.read_devices()
    assert reading.power_w == 250.0 and reading.energy_j == 0.0


def test_the_not_available_sentinel_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeNvmlDevice(UUID_0, samples=[sample(), sample(0xFFFFFFFF)]))
    backend = open_nvml()
    (reading,) = backend.read_devices()
    assert math.isnan(reading.power_w)
    assert reading.energy_j == 0.0
    assert backend.problems() == (
        f"nvml {UUID_0}: power field 186 read 0xffffffff (value not available), rejected 1 time",
    )


def test_power_above_twice_the_enforced_limit_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    install(
        monkeypatch,
        FakeNvmlDevice(UUID_0, power_limit_mw=400_000, samples=[sample(), sample(800_001)]),
    )
    backend = open_nvml()
    assert math.isnan(backend.read_devices()[0].power_w)
    assert backend.read_power_w() is None  # no device has a valid value
    assert backend.problems()[0] == (
        f"nvml {UUID_0}: power 800.001 W is above twice the enforced limit (400 W), "
        "rejected 2 times"
    )


def test_an_energy_counter_stepping_back_is_rejected_and_stays_monotonic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install(
        monkeypatch,
        FakeNvmlDevice(
            UUID_0,
            samples=[
                sample(energy_mj=10_000),
                sample(energy_mj=12_000),
                sample(energy_mj=500),
                sample(energy_mj=1_500),
            ],
        ),
    )
    backend = open_nvml()
    assert backend.read_energy_j() == 2.0
    (reading,) = backend.read_devices()  # driver reload: counter back at 500 mJ
    assert math.isnan(reading.energy_j)
    assert reading.power_w == 250.0
    assert backend.read_energy_j() == 3.0  # 2 J before the reset + 1 J after it
    assert backend.problems() == (
        f"nvml {UUID_0}: energy counter stepped back from 12000 to 500 (a reset?); that interval "
        "is not counted, rejected 1 time",
    )


def test_a_failing_call_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    install(
        monkeypatch,
        FakeNvmlDevice(UUID_0, samples=[sample(), sample(call_error=NVML_ERROR_GPU_IS_LOST)]),
    )
    backend = open_nvml()
    (reading,) = backend.read_devices()
    assert math.isnan(reading.power_w) and math.isnan(reading.energy_j)
    assert backend.read_energy_j() == 0.0
    assert backend.problems() == (
        f"nvml {UUID_0}: nvmlDeviceGetFieldValues failed (NVMLError_GpuIsLost: GPU is lost), "
        "rejected 2 times",
    )


def test_cuda_visible_devices_by_index_and_by_uuid(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeNvmlDevice(UUID_0), FakeNvmlDevice(UUID_1))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert [d.uid for d in open_nvml().devices()] == [UUID_1]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{UUID_1},{UUID_0}")
    backend = open_nvml()
    assert [d.uid for d in backend.devices()] == [UUID_1, UUID_0]
    assert dict(backend.devices()[0].details)["selected_by"] == (
        f"CUDA_VISIBLE_DEVICES='{UUID_1},{UUID_0}'"
    )
    assert [d.uid for d in open_nvml(select="all").devices()] == [UUID_0, UUID_1]
    assert [d.uid for d in open_nvml(select=[UUID_1]).devices()] == [UUID_1]


def test_a_bad_cuda_token_makes_the_backend_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install(monkeypatch, FakeNvmlDevice(UUID_0))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-deadbeef")
    with pytest.raises(BackendUnavailableError) as caught:
        open_nvml()
    assert caught.value.reason.startswith("CUDA_VISIBLE_DEVICES token 'GPU-deadbeef' names no")
    assert UUID_0 in caught.value.reason
    assert fake.initialised == 0
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(BackendUnavailableError, match="the workload sees no GPU"):
        open_nvml()


def test_a_mig_instance_selects_its_whole_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeNvmlDevice(UUID_0), FakeNvmlDevice(UUID_1, mig_uuids=(MIG_1,)))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", MIG_1)
    (device,) = open_nvml().devices()
    assert device.uid == UUID_1
    assert dict(device.details)["mig_instance"] == f"{MIG_1}: readings cover the whole GPU"


def test_start_failures_are_one_line_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeNvmlDevice(UUID_0), init_error=NVML_ERROR_DRIVER_NOT_LOADED)
    with pytest.raises(BackendUnavailableError) as caught:
        open_nvml()
    assert caught.value.reason == (
        "NVML cannot start (NVMLError_DriverNotLoaded: Driver Not Loaded); "
        "the NVIDIA driver is not loaded"
    )
    install(monkeypatch, FakeNvmlDevice(UUID_0), init_error=NVML_ERROR_LIBRARY_NOT_FOUND)
    assert probe_nvml() == (
        "NVML cannot start (NVMLError_LibraryNotFound: NVML Shared Library Not Found); "
        "no NVIDIA driver here?"
    )
    fake = install(monkeypatch)
    with pytest.raises(BackendUnavailableError, match="NVML works but sees no GPU"):
        open_nvml()
    assert fake.initialised == 0


def test_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    with pytest.raises(BackendUnavailableError) as caught:
        open_nvml()
    assert caught.value.reason == "nvidia-ml-py is not installed (extra 'nvidia')"


def test_close_shuts_nvml_down_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install(monkeypatch, FakeNvmlDevice(UUID_0))
    backend = open_nvml()
    other = open_nvml(select="all")  # NVML counts inits: two backends may be open at once
    assert fake.initialised == 2
    backend.close()
    backend.close()
    assert fake.initialised == 1
    assert other.read_devices()[0].power_w == 250.0
    other.close()
    assert fake.calls.count("nvmlShutdown") == 2


def test_the_real_package_without_a_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pynvml", reason="nvidia-ml-py is not installed here")
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    try:
        backend = open_nvml()
    except BackendUnavailableError as error:
        assert error.reason == (
            "NVML cannot start (NVMLError_LibraryNotFound: NVML Shared Library Not Found); "
            "no NVIDIA driver here?"
        )
    else:  # a machine with a driver and a GPU
        backend.close()
        pytest.skip("an NVIDIA driver is present: the no-driver path cannot be seen here")
