"""Which GPUs a measurement covers: visible-devices variables, explicit lists, UUIDs, MIG ids."""

from __future__ import annotations

import pytest

from lassi_hpc.energy.backend import BackendUnavailableError
from lassi_hpc.energy.device_select import (
    SelectableDevice,
    device_list_tokens,
    pci_bus_id_key,
    select_amd_devices,
    select_nvidia_devices,
)

A100 = "NVIDIA A100-SXM4-80GB"
UUID_0 = "GPU-0a6e1f35-1111-2222-3333-444455556666"
UUID_1 = "GPU-8f3c2d10-aaaa-bbbb-cccc-ddddeeeeffff"
UUID_2 = "GPU-8f9d0e21-1234-5678-9abc-def012345678"
MIG_1 = "MIG-5d2c9b8a-0000-1111-2222-333344445555"

NVIDIA = (
    SelectableDevice(0, UUID_0, "0000:07:00.0", A100),
    SelectableDevice(1, UUID_1, "0000:0f:00.0", A100, aliases=(MIG_1,)),
    SelectableDevice(2, UUID_2, "0000:47:00.0", A100),
)
AMD = tuple(
    SelectableDevice(
        index,
        f"{index}aff73bf-0000-1000-80ff-ffffffffffff",
        f"0000:{0xC1 + index:02x}:00.0",
        "AMD Instinct MI100",
        aliases=(f"GPU-d1a2b3c4e5f6071{index}",),
    )
    for index in range(4)
)


def uids(devices: tuple[SelectableDevice, ...]) -> list[str]:
    return [device.uid for device in devices]


def test_pci_bus_ids_compare_in_one_spelling() -> None:
    assert pci_bus_id_key("00000000:3B:00.0") == "0000:3b:00.0"
    assert pci_bus_id_key("0000:3b:00.0") == "0000:3b:00.0"
    assert pci_bus_id_key("3b:00.0") == "0000:3b:00.0"
    assert pci_bus_id_key("GPU-abc") == "gpu-abc"


def test_device_list_tokens_drop_blanks_and_stop_at_a_negative_index() -> None:
    assert device_list_tokens(" 0, GPU-ab ,,2") == ("0", "GPU-ab", "2")
    assert device_list_tokens("1,-1,2") == ("1",)
    assert device_list_tokens("") == ()


def test_without_variables_every_device_is_selected() -> None:
    selection = select_nvidia_devices("visible", NVIDIA, {})
    assert uids(selection.devices) == [UUID_0, UUID_1, UUID_2]
    assert selection.how == "all devices (no CUDA_VISIBLE_DEVICES)"


def test_cuda_indices_and_uuids_resolve_to_uuids_in_their_order() -> None:
    selection = select_nvidia_devices("visible", NVIDIA, {"CUDA_VISIBLE_DEVICES": f"2,{UUID_0}"})
    assert uids(selection.devices) == [UUID_2, UUID_0]
    assert selection.how == f"CUDA_VISIBLE_DEVICES='2,{UUID_0}'"


def test_a_unique_uuid_prefix_works_as_it_does_for_cuda() -> None:
    selection = select_nvidia_devices("visible", NVIDIA, {"CUDA_VISIBLE_DEVICES": "GPU-0a6e"})
    assert uids(selection.devices) == [UUID_0]
    assert selection.tokens == {UUID_0: "GPU-0a6e"}
    with pytest.raises(BackendUnavailableError, match="prefix of several devices"):
        select_nvidia_devices("visible", NVIDIA, {"CUDA_VISIBLE_DEVICES": "GPU-8f"})


def test_a_mig_id_selects_the_gpu_that_holds_it() -> None:
    selection = select_nvidia_devices("visible", NVIDIA, {"CUDA_VISIBLE_DEVICES": MIG_1})
    assert uids(selection.devices) == [UUID_1]
    assert selection.tokens == {UUID_1: MIG_1}
    old_form = f"MIG-{UUID_2}/1/0"
    selection = select_nvidia_devices("visible", NVIDIA, {"CUDA_VISIBLE_DEVICES": old_form})
    assert uids(selection.devices) == [UUID_2]


def test_an_unknown_token_names_itself_and_the_devices_seen() -> None:
    with pytest.raises(BackendUnavailableError) as caught:
        select_nvidia_devices("visible", NVIDIA, {"CUDA_VISIBLE_DEVICES": "0,GPU-ffff"})
    reason = caught.value.reason
    assert reason.startswith("CUDA_VISIBLE_DEVICES token 'GPU-ffff' names no device")
    assert f"0: {UUID_0} (0000:07:00.0, {A100})" in reason
    assert caught.value.backend == "nvml"
    with pytest.raises(BackendUnavailableError, match="token '3' names no device"):
        select_nvidia_devices("visible", NVIDIA, {"CUDA_VISIBLE_DEVICES": "3"})


def test_indices_are_refused_on_mixed_models_unless_cuda_orders_by_pci_bus() -> None:
    mixed = (*NVIDIA[:2], SelectableDevice(2, UUID_2, "0000:47:00.0", "Tesla T4"))
    with pytest.raises(BackendUnavailableError, match="CUDA_DEVICE_ORDER=FASTEST_FIRST"):
        select_nvidia_devices("visible", mixed, {"CUDA_VISIBLE_DEVICES": "1"})
    by_uuid = select_nvidia_devices("visible", mixed, {"CUDA_VISIBLE_DEVICES": UUID_2})
    assert uids(by_uuid.devices) == [UUID_2]
    by_bus = select_nvidia_devices(
        "visible", mixed, {"CUDA_VISIBLE_DEVICES": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    )
    assert uids(by_bus.devices) == [UUID_1]


def test_an_empty_or_hiding_cuda_variable_selects_nothing() -> None:
    assert select_nvidia_devices("visible", NVIDIA, {"CUDA_VISIBLE_DEVICES": ""}).devices == ()
    assert select_nvidia_devices("visible", NVIDIA, {"CUDA_VISIBLE_DEVICES": "-1"}).devices == ()


def test_container_variable_indices_mean_every_device_nvml_sees() -> None:
    selection = select_nvidia_devices("visible", NVIDIA, {"NVIDIA_VISIBLE_DEVICES": "3,5"})
    assert uids(selection.devices) == [UUID_0, UUID_1, UUID_2]
    named = select_nvidia_devices("visible", NVIDIA, {"NVIDIA_VISIBLE_DEVICES": UUID_1})
    assert uids(named.devices) == [UUID_1]
    cuda_first = select_nvidia_devices(
        "visible", NVIDIA, {"NVIDIA_VISIBLE_DEVICES": "all", "CUDA_VISIBLE_DEVICES": "0"}
    )
    assert uids(cuda_first.devices) == [UUID_0]


def test_all_ignores_the_variables() -> None:
    selection = select_nvidia_devices("all", NVIDIA, {"CUDA_VISIBLE_DEVICES": "0"})
    assert uids(selection.devices) == [UUID_0, UUID_1, UUID_2]


def test_an_explicit_list_takes_uuids_and_pci_bus_ids_but_not_indices() -> None:
    selection = select_nvidia_devices(["00000000:47:00.0", UUID_0], NVIDIA, {})
    assert uids(selection.devices) == [UUID_2, UUID_0]
    as_text = select_nvidia_devices(f"{UUID_1}, 0000:07:00.0", NVIDIA, {})
    assert uids(as_text.devices) == [UUID_1, UUID_0]
    with pytest.raises(BackendUnavailableError, match="is an index; name devices by UUID"):
        select_nvidia_devices(["1"], NVIDIA, {})
    with pytest.raises(BackendUnavailableError, match="'visibel' names no device"):
        select_nvidia_devices("visibel", NVIDIA, {})


def test_duplicates_are_selected_once() -> None:
    selection = select_nvidia_devices(
        "visible", NVIDIA, {"CUDA_VISIBLE_DEVICES": f"0,{UUID_0},0000:07:00.0"}
    )
    assert uids(selection.devices) == [UUID_0]


def test_amd_hip_indices_count_within_what_rocr_left() -> None:
    environ = {"ROCR_VISIBLE_DEVICES": "1,3", "HIP_VISIBLE_DEVICES": "1"}
    selection = select_amd_devices("visible", AMD, environ)
    assert uids(selection.devices) == [AMD[3].uid]
    assert selection.how == "ROCR_VISIBLE_DEVICES='1,3', then HIP_VISIBLE_DEVICES='1'"


def test_amd_rocr_takes_the_rocr_uuid_form() -> None:
    selection = select_amd_devices("visible", AMD, {"ROCR_VISIBLE_DEVICES": "GPU-d1a2b3c4e5f60712"})
    assert uids(selection.devices) == [AMD[2].uid]


def test_amd_hip_reads_cuda_visible_devices_when_its_own_variable_is_unset() -> None:
    environ = {"ROCR_VISIBLE_DEVICES": "2", "CUDA_VISIBLE_DEVICES": "2"}
    # Parsl sets both to the same index; after ROCR only one device is left, so HIP sees none.
    with pytest.raises(
        BackendUnavailableError,
        match=r"CUDA_VISIBLE_DEVICES \(after ROCR_VISIBLE_DEVICES\) token '2' names no device",
    ):
        select_amd_devices("visible", AMD, environ)
    hip_wins = select_amd_devices(
        "visible", AMD, {"HIP_VISIBLE_DEVICES": "0", "CUDA_VISIBLE_DEVICES": "3"}
    )
    assert uids(hip_wins.devices) == [AMD[0].uid]


def test_amd_without_variables_selects_every_device() -> None:
    assert uids(select_amd_devices("visible", AMD, {}).devices) == uids(AMD)
