"""RAPL through a fake powercap tree in tmp_path."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lassi_hpc.energy.backend import BackendUnavailableError
from lassi_hpc.energy.rapl import RaplBackend, counter_delta_uj, open_rapl
from lassi_hpc.errors import MeasurementError
from lassi_hpc.records import EnergyMethod

MAX_RANGE_UJ = 262_143_328_850  # a real package's max_energy_range_uj


def make_domain(root: Path, directory: str, name: str, energy_uj: int) -> Path:
    domain = root / directory
    domain.mkdir(parents=True)
    (domain / "name").write_text(name + "\n")
    (domain / "energy_uj").write_text(f"{energy_uj}\n")
    (domain / "max_energy_range_uj").write_text(f"{MAX_RANGE_UJ}\n")
    return domain


def set_counter(domain: Path, energy_uj: int) -> None:
    (domain / "energy_uj").write_text(f"{energy_uj}\n")


@pytest.fixture
def powercap(tmp_path: Path) -> Path:
    root = tmp_path / "powercap"
    root.mkdir()
    (root / "intel-rapl").mkdir()  # the control-type directory, no counter
    make_domain(root, "intel-rapl:0", "package-0", 1_000)
    make_domain(root, "intel-rapl:0:0", "core", 500)  # inside package 0: must not count twice
    make_domain(root, "intel-rapl:1", "package-1", 2_000)
    make_domain(root, "intel-rapl:2", "psys", 9_000)  # the whole platform: not a package
    return root


def test_package_domains_only(powercap: Path) -> None:
    backend = open_rapl(powercap)
    host = socket.gethostname()
    assert backend.method is EnergyMethod.COUNTER
    assert [d.uid for d in backend.devices()] == [f"{host}:intel-rapl:0", f"{host}:intel-rapl:1"]
    assert all(d.kind == "cpu" and d.backend == "rapl" for d in backend.devices())
    assert backend.devices()[1].name.endswith("(package-1)")
    assert backend.read_power_w() is None


def test_counter_is_summed_over_packages_in_joules(powercap: Path) -> None:
    backend = RaplBackend(powercap)
    start_j = backend.read_energy_j()
    set_counter(powercap / "intel-rapl:0", 1_000 + 2_000_000)
    set_counter(powercap / "intel-rapl:1", 2_000 + 3_000_000)
    set_counter(powercap / "intel-rapl:0:0", 99_000_000)  # sub-domain: ignored
    end_j = backend.read_energy_j()
    assert start_j == 0.0
    assert end_j == pytest.approx(5.0)


def test_counter_wrap_gives_the_right_positive_difference(powercap: Path) -> None:
    package = powercap / "intel-rapl:0"
    set_counter(package, MAX_RANGE_UJ - 1_000)
    backend = RaplBackend(powercap)
    before_j = backend.read_energy_j()
    set_counter(package, 500)  # wrapped: 1000 uJ up to the range, then 500 uJ past zero
    after_j = backend.read_energy_j()
    set_counter(package, 2_500)
    later_j = backend.read_energy_j()
    assert before_j is not None and after_j is not None and later_j is not None
    assert after_j - before_j == pytest.approx(1_500e-6)
    assert later_j - after_j == pytest.approx(2_000e-6)


def test_counter_delta() -> None:
    assert counter_delta_uj(100, 350, 1_000) == 250
    assert counter_delta_uj(900, 50, 1_000) == 150
    assert counter_delta_uj(7, 7, 1_000) == 0


def test_missing_powercap_is_unavailable_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError) as caught:
        open_rapl(tmp_path / "nowhere")
    assert caught.value.backend == "rapl"
    assert caught.value.reason == f"{tmp_path / 'nowhere'} is not present"


def test_no_package_domain_is_unavailable(tmp_path: Path) -> None:
    make_domain(tmp_path, "intel-rapl:0", "psys", 0)
    with pytest.raises(BackendUnavailableError, match="no RAPL package domain"):
        open_rapl(tmp_path)


def test_missing_counter_file_is_unavailable(powercap: Path) -> None:
    (powercap / "intel-rapl:1" / "max_energy_range_uj").unlink()
    with pytest.raises(BackendUnavailableError, match=r"max_energy_range_uj is not present"):
        open_rapl(powercap)


def test_unreadable_counter_is_unavailable(powercap: Path) -> None:
    # Root reads any mode, so a directory in place of the file stands in for "cannot read".
    counter = powercap / "intel-rapl:0" / "energy_uj"
    counter.unlink()
    counter.mkdir()
    with pytest.raises(BackendUnavailableError) as caught:
        open_rapl(powercap)
    assert "energy_uj is not readable" in caught.value.reason
    assert "\n" not in caught.value.reason


def test_permission_denied_says_root_only(powercap: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = Path.read_text

    def denied(path: Path, *args: object, **kwargs: object) -> str:
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return original(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(BackendUnavailableError, match=r"Permission denied.*root only"):
        open_rapl(powercap)


def test_malformed_counter_is_unavailable(powercap: Path) -> None:
    set_counter(powercap / "intel-rapl:1", 0)
    (powercap / "intel-rapl:1" / "energy_uj").write_text("n/a\n")
    with pytest.raises(BackendUnavailableError, match="not an integer"):
        open_rapl(powercap)


def test_counter_vanishing_during_a_measurement_is_a_measurement_error(powercap: Path) -> None:
    backend = RaplBackend(powercap)
    (powercap / "intel-rapl:1" / "energy_uj").unlink()
    with pytest.raises(MeasurementError, match="cannot read"):
        backend.read_energy_j()
