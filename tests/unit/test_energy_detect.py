"""Backend choice, the registry, and the vendor seam (fake pynvml / amdsmi modules)."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lassi_hpc.energy import (
    AUTO_ORDER,
    BACKENDS,
    BackendChoiceError,
    BackendUnavailableError,
    detect_backend,
)
from lassi_hpc.energy.amd_smi import probe_amdsmi
from lassi_hpc.energy.estimate import EstimateBackend
from lassi_hpc.energy.fake import FakeBackend
from lassi_hpc.energy.nvml import NvmlBackend, probe_nvml
from lassi_hpc.energy.rapl import RaplBackend
from lassi_hpc.records import EnergyMethod
from lassi_hpc.testing.fake_nvml import FakeNvml, FakeNvmlDevice


def fake_powercap(root: Path) -> Path:
    package = root / "intel-rapl:0"
    package.mkdir(parents=True)
    (package / "name").write_text("package-0\n")
    (package / "energy_uj").write_text("123\n")
    (package / "max_energy_range_uj").write_text("262143328850\n")
    return root


def vendor_module(monkeypatch: pytest.MonkeyPatch, directory: Path, name: str, source: str) -> None:
    """Install a stand-in for a vendor module at the import seam, for this test only."""
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(directory))
    monkeypatch.delitem(sys.modules, name, raising=False)


def test_auto_on_a_machine_without_meters_gives_the_estimate(tmp_path: Path) -> None:
    backend, reasons = detect_backend("auto", powercap_root=tmp_path / "no-powercap")
    assert isinstance(backend, EstimateBackend)
    assert backend.method is EnergyMethod.ESTIMATE
    assert [reason.split(":")[0] for reason in reasons] == ["nvml", "amdsmi", "rapl"]
    assert reasons[2] == f"rapl: {tmp_path / 'no-powercap'} is not present"
    assert all("\n" not in reason for reason in reasons)


def test_auto_prefers_rapl_to_the_estimate(tmp_path: Path) -> None:
    backend, reasons = detect_backend(powercap_root=fake_powercap(tmp_path))
    assert isinstance(backend, RaplBackend)
    assert [reason.split(":")[0] for reason in reasons] == ["nvml", "amdsmi"]


def test_options_reach_the_backend_that_takes_them(tmp_path: Path) -> None:
    backend, _ = detect_backend("auto", powercap_root=tmp_path / "none", busy_core_power_w=4.0)
    assert isinstance(backend, EstimateBackend)
    assert backend.busy_core_power_w == 4.0
    named, none_skipped = detect_backend("estimate", busy_core_power_w=6.0)
    assert isinstance(named, EstimateBackend) and named.busy_core_power_w == 6.0
    assert none_skipped == ()


def test_a_named_backend_that_is_missing_raises_instead_of_falling_back(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError, match=r"'rapl' is not available here: .*present"):
        detect_backend("rapl", powercap_root=tmp_path / "none")


def test_unknown_backend_lists_the_valid_names() -> None:
    with pytest.raises(BackendChoiceError) as caught:
        detect_backend("nvm")
    message = str(caught.value)
    assert "must be one of: auto, nvml, amdsmi, rapl, estimate, fake" in message
    assert "did you mean 'nvml'" in message


def test_unknown_option_lists_the_valid_options() -> None:
    with pytest.raises(BackendChoiceError, match="must be one of: busy_core_power_w"):
        detect_backend("estimate", powercap_root="/sys/class/powercap")
    with pytest.raises(BackendChoiceError, match=r"did you mean 'busy_core_power_w'"):
        detect_backend("auto", busy_core_power=3.0)


def test_fake_is_only_ever_chosen_by_name() -> None:
    assert "fake" not in AUTO_ORDER
    backend, reasons = detect_backend("fake")
    assert isinstance(backend, FakeBackend)
    assert reasons == ()
    assert all(device.is_fake for device in backend.devices())


def test_registry_options_match_the_openers() -> None:
    assert set(BACKENDS) == {"nvml", "amdsmi", "rapl", "estimate", "fake"}
    for spec in BACKENDS.values():
        parameters = tuple(inspect.signature(spec.load_opener()).parameters)
        assert parameters == spec.options, spec.name


def test_importing_the_package_loads_no_vendor_library() -> None:
    code = (
        "import sys, lassi_hpc.energy\n"
        "print(sorted(m for m in ('pynvml', 'amdsmi') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"


def test_amdsmi_without_rocm_keeps_stdout_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # What amdsmi 7.0.2 does on import without ROCm: two lines on stdout, then KeyError.
    vendor_module(
        monkeypatch,
        tmp_path / "vendor",
        "amdsmi",
        """
        print("Unable to find libamd_smi.so")
        print("Please set ROCM_PATH")
        raise KeyError("libamd_smi.so")
        """,
    )
    reason = probe_amdsmi()
    assert capsys.readouterr().out == ""
    assert reason.startswith("amdsmi cannot load libamd_smi.so (KeyError")
    assert "Unable to find libamd_smi.so" in reason


def test_nvml_without_a_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vendor_module(
        monkeypatch,
        tmp_path / "vendor",
        "pynvml",
        """
        class NVMLError_LibraryNotFound(Exception):
            def __str__(self):
                return "NVML Shared Library Not Found"

        def nvmlInit():
            raise NVMLError_LibraryNotFound()
        """,
    )
    assert probe_nvml() == (
        "NVML cannot start (NVMLError_LibraryNotFound: NVML Shared Library Not Found); "
        "no NVIDIA driver here?"
    )


def test_working_nvml_is_chosen_first_by_auto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeNvml([FakeNvmlDevice("GPU-aaaa"), FakeNvmlDevice("GPU-bbbb")])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("NVIDIA_VISIBLE_DEVICES", raising=False)
    assert probe_nvml() == "NVML works here (2 GPU(s))"
    backend, reasons = detect_backend("auto", powercap_root=tmp_path / "none")
    assert isinstance(backend, NvmlBackend)
    assert reasons == ()
    assert [device.uid for device in backend.devices()] == ["GPU-aaaa", "GPU-bbbb"]
    backend.close()
    assert fake.calls.count("nvmlInit") == fake.calls.count("nvmlShutdown") == 2
