"""The AMD SMI backend against a FAKE amdsmi module (lassi_hpc.testing.fake_amdsmi) at the import
seam, both dictionary spellings (before and after ROCm 6.2.1), and the real amdsmi package
installed here without ROCm (it prints to stdout and raises KeyError on import)."""

from __future__ import annotations

import importlib.util
import math
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lassi_hpc.energy.amd_smi import (
    AMDSMI_LOCK,
    AmdSmiBackend,
    choose_power_key,
    open_amdsmi,
    parse_energy_count,
    probe_amdsmi,
)
from lassi_hpc.energy.backend import BackendUnavailableError, open_backend
from lassi_hpc.records import EnergyMethod
from lassi_hpc.testing.fake_amdsmi import (
    AMDSMI_STATUS_DRIVER_NOT_LOADED,
    AMDSMI_STATUS_NOT_SUPPORTED,
    FakeAmdSmi,
    FakeAmdSmiDevice,
    FakeAmdSmiHandle,
    FakeAmdSmiSample,
    new_rocm_sample,
    old_rocm_sample,
)

UUIDS = [f"{index}aff73bf-0000-1000-80ff-ffffffffffff" for index in range(4)]
MI250 = "AMD Instinct MI250X / MI250"


@pytest.fixture(autouse=True)
def no_visible_devices_variables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    yield


def install(
    monkeypatch: pytest.MonkeyPatch, *devices: FakeAmdSmiDevice, **options: Any
) -> FakeAmdSmi:
    fake = FakeAmdSmi(devices, **options)
    monkeypatch.setitem(sys.modules, "amdsmi", fake)
    return fake


def device(index: int, *samples: FakeAmdSmiSample, **changes: Any) -> FakeAmdSmiDevice:
    return FakeAmdSmiDevice(
        UUIDS[index],
        bdf=f"0000:{0xC1 + index:02x}:00.0",
        asic_serial=f"0xD1A2B3C4E5F6071{index}",
        samples=samples or (old_rocm_sample(),),
        **changes,
    )


def test_both_energy_count_spellings_parse() -> None:
    old = parse_energy_count({"power": 123, "counter_resolution": 15.3, "timestamp": 7})
    new = parse_energy_count(
        {"energy_accumulator": 123, "counter_resolution": 15.3, "timestamp": 7}
    )
    assert old == new
    assert old is not None and (old.ticks, old.resolution_uj, old.timestamp_ns) == (123, 15.3, 7)
    assert parse_energy_count({"energy_accumulator": "N/A", "counter_resolution": 1.0}) is None
    assert parse_energy_count({"power": 0xFFFFFFFFFFFFFFFF, "counter_resolution": 1.0}) is None
    assert parse_energy_count({"power": 5, "counter_resolution": 0.0}) is None


def test_power_key_by_generation() -> None:
    assert choose_power_key(new_rocm_sample(current_w=500, average_w=0).power_info) == (
        "current_socket_power"
    )
    # MI200 on a newer ROCm: current reads 0 (unsupported there), average works.
    assert choose_power_key(new_rocm_sample(current_w=0, average_w=210).power_info) == (
        "average_socket_power"
    )
    assert choose_power_key(new_rocm_sample(current_w=None, average_w=210).power_info) == (
        "average_socket_power"
    )
    assert choose_power_key(old_rocm_sample(average_w=150).power_info) == "average_socket_power"
    assert choose_power_key({"current_socket_power": 0xFFFF, "average_socket_power": "N/A"}) == (
        "none"
    )
    # An odd MI250 die: 0 on both keys.
    assert choose_power_key(new_rocm_sample(current_w=0, average_w=0).power_info) == (
        "current_socket_power"
    )


@pytest.mark.parametrize("spelling", [old_rocm_sample, new_rocm_sample])
def test_energy_power_and_device_time_from_either_spelling(
    monkeypatch: pytest.MonkeyPatch, spelling: Any
) -> None:
    power = {"average_w": 150} if spelling is old_rocm_sample else {"current_w": 150}
    install(
        monkeypatch,
        device(
            0,
            spelling(ticks=1_000, resolution_uj=15.3, timestamp_ns=2_000_000_000, **power),
            spelling(ticks=3_000, resolution_uj=15.3, timestamp_ns=2_500_000_000, **power),
        ),
    )
    backend = open_amdsmi()
    assert backend.method is EnergyMethod.COUNTER
    (reading,) = backend.read_devices()
    assert reading.uid == UUIDS[0]
    assert reading.power_w == 150.0
    assert reading.energy_j == pytest.approx(2_000 * 15.3 / 1e6)
    assert reading.device_time_s == 2.5
    assert backend.read_energy_j() == pytest.approx(2_000 * 15.3 / 1e6)
    assert backend.problems() == ()
    key = "power" if spelling is old_rocm_sample else "energy_accumulator"
    assert dict(backend.devices()[0].details)["energy_source"] == (
        f"amdsmi_get_energy_count (key {key}, 15.3 uJ per tick)"
    )


def test_details_name_the_device_by_uuid(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, device(0, hotspot_temperature_c=None))
    (identity,) = open_backend("amdsmi", select="all").devices()
    assert identity.uid == UUIDS[0]
    assert identity.backend == "amdsmi" and identity.kind == "gpu"
    details = dict(identity.details)
    assert details["pci_bus_id"] == "0000:c1:00.0"
    assert details["market_name"] == "FAKE AMD Instinct MI100"
    assert details["driver"] == "6.8.5"
    assert details["power_cap_w"] == "290"
    assert details["gfx_clock_mhz"] == "1502"
    assert details["memory_clock_mhz"] == "1200"
    assert details["temperature_edge_c"] == "40"
    assert details["temperature_hotspot_c"].startswith("unavailable (AmdSmiLibraryException")
    assert details["power_key"] == "average_socket_power"


def test_unsupported_and_zero_power_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    install(
        monkeypatch,
        device(0, old_rocm_sample(), old_rocm_sample(average_w=None), old_rocm_sample(average_w=0)),
    )
    backend = open_amdsmi()
    assert math.isnan(backend.read_devices()[0].power_w)
    assert math.isnan(backend.read_devices()[0].power_w)
    assert backend.problems() == (
        f"amdsmi {UUIDS[0]}: average_socket_power reads 'N/A' (unsupported), rejected 1 time",
        f"amdsmi {UUIDS[0]}: average_socket_power reads 0 W, rejected 1 time",
    )


def test_power_above_twice_the_cap_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, device(0, old_rocm_sample(), old_rocm_sample(average_w=600)))
    backend = open_amdsmi()
    assert backend.read_power_w() is None
    assert backend.problems() == (
        f"amdsmi {UUIDS[0]}: average_socket_power 600 W is above twice the power cap (290 W), "
        "rejected 1 time",
    )


def test_an_energy_counter_stepping_back_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    install(
        monkeypatch,
        device(
            0,
            old_rocm_sample(ticks=1_000, resolution_uj=10.0),
            old_rocm_sample(ticks=2_000, resolution_uj=10.0),
            old_rocm_sample(ticks=100, resolution_uj=10.0),
            old_rocm_sample(ticks=600, resolution_uj=10.0),
        ),
    )
    backend = open_amdsmi()
    assert backend.read_energy_j() == pytest.approx(0.01)
    assert math.isnan(backend.read_devices()[0].energy_j)
    assert backend.read_energy_j() == pytest.approx(0.015)
    assert backend.problems() == (
        f"amdsmi {UUIDS[0]}: energy counter stepped back from 2000 to 100 (a reset?); that "
        "interval is not counted, rejected 1 time",
    )


def test_failing_calls_never_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    failing = FakeAmdSmiSample(
        power_info={},
        energy_count={},
        power_error=AMDSMI_STATUS_NOT_SUPPORTED,
        energy_error=AMDSMI_STATUS_NOT_SUPPORTED,
    )
    install(monkeypatch, device(0, old_rocm_sample(), failing))
    backend = open_amdsmi()
    (reading,) = backend.read_devices()
    assert math.isnan(reading.power_w) and math.isnan(reading.energy_j)
    assert len(backend.problems()) == 2
    assert all("\n" not in line for line in backend.problems())
    assert "AMDSMI_STATUS_NOT_SUPPORTED" in backend.problems()[0]


def test_without_energy_counter_the_method_is_sampled_power(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_energy = FakeAmdSmiSample(
        power_info=old_rocm_sample().power_info,
        energy_count={},
        energy_error=AMDSMI_STATUS_NOT_SUPPORTED,
    )
    install(monkeypatch, device(0, no_energy))
    backend = open_amdsmi()
    assert backend.method is EnergyMethod.SAMPLED_POWER
    assert backend.read_energy_j() is None
    assert backend.read_power_w() == 150.0


def mi250_pair(monkeypatch: pytest.MonkeyPatch) -> FakeAmdSmi:
    return install(
        monkeypatch,
        device(0, new_rocm_sample(current_w=0, average_w=380), market_name=MI250),
        device(1, new_rocm_sample(current_w=0, average_w=0), market_name=MI250),
    )


def test_mi250_odd_die_power_is_covered_by_its_partner(monkeypatch: pytest.MonkeyPatch) -> None:
    mi250_pair(monkeypatch)
    backend = open_amdsmi()
    even, odd = backend.devices()
    assert dict(odd.details)["power_reported_by"] == UUIDS[0]
    assert dict(even.details)["power_includes"] == UUIDS[1]
    assert "power_partner_not_selected" not in dict(odd.details)
    readings = backend.read_devices()
    assert readings[0].power_w == 380.0
    assert math.isnan(readings[1].power_w)
    assert backend.read_power_w() == 380.0
    assert backend.problems() == ()  # the odd die's 0 W is not a rejection


def test_mi250_odd_die_alone_says_its_power_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    mi250_pair(monkeypatch)
    monkeypatch.setenv("ROCR_VISIBLE_DEVICES", "1")
    (odd,) = open_amdsmi().devices()
    assert dict(odd.details)["power_partner_not_selected"] == (
        f"{UUIDS[0]} reports this die's power and is not selected: the power readings do not "
        "include this die"
    )
    monkeypatch.setenv("ROCR_VISIBLE_DEVICES", "0")
    (even,) = open_amdsmi().devices()
    assert dict(even.details)["power_partner_not_selected"] == (
        f"this die's power includes {UUIDS[1]}, which is not selected"
    )


def test_selection_by_rocr_uuid_and_hip_index(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, *(device(index) for index in range(4)))
    monkeypatch.setenv("ROCR_VISIBLE_DEVICES", "GPU-d1a2b3c4e5f60712,3")
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1")
    backend = open_amdsmi()
    assert [d.uid for d in backend.devices()] == [UUIDS[3]]
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "2")
    with pytest.raises(BackendUnavailableError, match="token '2' names no device"):
        open_amdsmi()


def test_every_amdsmi_call_holds_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    held: list[bool] = []

    def lock_is_held_elsewhere() -> bool:
        result: list[bool] = []
        probe = threading.Thread(target=lambda: result.append(not AMDSMI_LOCK.acquire(False)))
        probe.start()
        probe.join()
        if not result[0]:
            AMDSMI_LOCK.release()
        return result[0]

    class CheckingFake(FakeAmdSmi):
        def amdsmi_get_power_info(self, handle: FakeAmdSmiHandle) -> dict[str, Any]:
            held.append(lock_is_held_elsewhere())
            return super().amdsmi_get_power_info(handle)

        def amdsmi_get_energy_count(self, handle: FakeAmdSmiHandle) -> dict[str, Any]:
            held.append(lock_is_held_elsewhere())
            return super().amdsmi_get_energy_count(handle)

    monkeypatch.setitem(sys.modules, "amdsmi", CheckingFake([device(0)]))
    backend = open_amdsmi()
    backend.read_devices()
    backend.read_energy_j()
    assert held and all(held)


def test_vendor_noise_at_init_never_reaches_stdout(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    fake = install(monkeypatch, device(0), init_noise="amd-smi: hello from the library")
    backend = open_amdsmi()
    backend.close()
    assert fake.calls[0] == "amdsmi_init" and fake.calls[-1] == "amdsmi_shut_down"
    captured = capfd.readouterr()
    assert captured.out == ""


def test_start_failures_are_one_line_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, device(0), init_error=AMDSMI_STATUS_DRIVER_NOT_LOADED)
    with pytest.raises(BackendUnavailableError) as caught:
        open_amdsmi()
    assert caught.value.reason == (
        "AMD SMI cannot start (AmdSmiLibraryException: Error code: 48 | "
        "AMDSMI_STATUS_DRIVER_NOT_LOADED - Driver not loaded); no AMD GPU driver here?"
    )
    fake = install(monkeypatch)
    with pytest.raises(BackendUnavailableError, match="AMD SMI works but sees no GPU"):
        open_amdsmi()
    assert fake.initialised == 0
    install(monkeypatch, device(0), device(1))
    assert probe_amdsmi() == "AMD SMI works here (2 device(s))"


def test_close_shuts_down_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install(monkeypatch, device(0))
    backend = open_amdsmi()
    assert isinstance(backend, AmdSmiBackend)
    backend.close()
    backend.close()
    assert fake.calls.count("amdsmi_shut_down") == 1
    assert fake.initialised == 0


def test_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "amdsmi", None)  # makes `import amdsmi` raise ImportError
    with pytest.raises(BackendUnavailableError) as caught:
        open_amdsmi()
    assert caught.value.reason == "amdsmi is not installed (extra 'amd')"


@pytest.mark.skipif(importlib.util.find_spec("amdsmi") is None, reason="amdsmi is not installed")
def test_the_real_package_without_rocm_keeps_fd1_clean(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)
    try:
        backend = open_amdsmi()
    except BackendUnavailableError as error:
        assert error.reason.startswith("amdsmi cannot load libamd_smi.so (KeyError")
        assert "ROCm not installed?" in error.reason
        assert "\n" not in error.reason
    else:  # a machine with ROCm and an AMD GPU
        backend.close()
    assert capfd.readouterr().out == ""


def test_a_device_without_power_and_counter_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blind = FakeAmdSmiSample(
        power_info={"average_socket_power": "N/A"},
        energy_count={},
        energy_error=AMDSMI_STATUS_NOT_SUPPORTED,
    )
    fake = install(monkeypatch, device(0), device(1, blind))
    with pytest.raises(BackendUnavailableError) as caught:
        open_amdsmi()
    assert caught.value.reason == (
        f"{UUIDS[1]}: no power reading through AMD SMI, and not every selected GPU has an "
        "energy counter"
    )
    assert fake.initialised == 0
