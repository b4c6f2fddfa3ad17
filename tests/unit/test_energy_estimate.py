"""The estimate backend: CPU time x watts per busy core, labelled as an estimate."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lassi_hpc.energy.backend import EnergyEstimator
from lassi_hpc.energy.estimate import DEFAULT_BUSY_CORE_POWER_W, EstimateBackend, open_estimate
from lassi_hpc.energy.fake_workload import fake_command_result
from lassi_hpc.energy.host import cpu_model
from lassi_hpc.records import EnergyMethod


def test_energy_is_cpu_seconds_times_watts_per_core() -> None:
    backend = open_estimate(busy_core_power_w=7.5)
    result = fake_command_result(100.0, 101.0, cpu_s=3.2)  # 3.2 CPU-s in 1 s: 3.2 busy cores
    assert isinstance(backend, EnergyEstimator)
    assert backend.estimate_energy_j(result) == pytest.approx(24.0)
    assert open_estimate().estimate_energy_j(result) == pytest.approx(
        3.2 * DEFAULT_BUSY_CORE_POWER_W
    )


def test_it_is_an_estimate_and_reads_no_meter() -> None:
    backend = EstimateBackend()
    assert backend.method is EnergyMethod.ESTIMATE
    assert backend.name == "estimate"
    assert backend.read_energy_j() is None
    assert backend.read_power_w() is None


def test_device_is_the_host_cpu(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Example CPU 9000\n\nprocessor\t: 1\n")
    (device,) = EstimateBackend(cpuinfo_path=cpuinfo).devices()
    assert device.uid == f"{socket.gethostname()}:cpu"
    assert device.name == "Example CPU 9000"
    assert device.kind == "cpu"
    assert device.backend == "estimate"
    assert not device.is_fake


@pytest.mark.parametrize("watts", [0.0, -3.0, float("nan"), float("inf")], ids=str)
def test_watts_per_core_must_be_positive(watts: float) -> None:
    with pytest.raises(ValueError, match="busy_core_power_w"):
        EstimateBackend(watts)


def test_cpu_model_fallbacks(tmp_path: Path) -> None:
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nBogoMIPS\t: 50.00\n\nModel\t: Raspberry Pi 4 Model B\n")
    assert cpu_model(arm) == "Raspberry Pi 4 Model B"
    assert cpu_model(tmp_path / "missing") != ""
