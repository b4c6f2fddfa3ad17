"""Counter permission: ncu's ERR_NVGPUCTRPERM turned into the fix, the driver's setting read from
a FAKE /proc/driver/nvidia/params, and `lassi-hpc env`'s profiler lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from lassi_hpc.records import SandboxLimits
from lassi_hpc.roofline.profile_run import profile_kernels
from lassi_hpc.roofline.profiler_access import (
    counter_permission_refusal,
    nvidia_counters_admin_only,
    profiler_lines,
)

# What ncu prints when the driver refuses the counters (as NVIDIA's ERR_NVGPUCTRPERM page shows).
REFUSED = (
    "==ERROR== ERR_NVGPUCTRPERM - The user does not have permission to access NVIDIA GPU "
    "Performance Counters on the target device 0."
)
FAKE_REFUSED_NCU = f"""#!/bin/sh
# FAKE ncu refused the GPU counters: runs nothing, prints the refusal, exits 0 like a run whose
# kernels were simply not profiled.
echo '{REFUSED}'
echo '==WARNING== No kernels were profiled.'
"""


def write_params(tmp_path: Path, admin_only: str | None) -> Path:
    params = tmp_path / "params"
    lines = ["ResmanDebugLevel: 4294967295"]
    if admin_only is not None:
        lines.append(f"RmProfilingAdminOnly: {admin_only}")
    params.write_text("\n".join([*lines, "EnableMSI: 1", ""]))
    return params


def test_ncus_refusal_names_the_driver_setting_that_lifts_it() -> None:
    reason = counter_permission_refusal("ncu", f"app output\n{REFUSED}\n")
    assert "ERR_NVGPUCTRPERM" in reason and "NVreg_RestrictProfilingToAdminUsers=0" in reason
    assert counter_permission_refusal("ncu", "==PROF== Disconnected") == ""
    assert counter_permission_refusal("rocprof", REFUSED) == ""


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("0", False), (None, None)])
def test_the_drivers_admin_only_setting_is_read(
    tmp_path: Path, value: str | None, expected: bool | None
) -> None:
    assert nvidia_counters_admin_only(write_params(tmp_path, value)) is expected


def test_no_nvidia_driver_means_unknown(tmp_path: Path) -> None:
    assert nvidia_counters_admin_only(tmp_path / "absent") is None


def test_env_lines_say_where_each_profiler_is_and_whether_ncu_may_count(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ncu").write_text("#!/bin/sh\n# FAKE ncu: only found, never run\n")
    (bin_dir / "ncu").chmod(0o755)
    restricted = profiler_lines(("ncu", "rocprofv3"), str(bin_dir), write_params(tmp_path, "1"))
    assert restricted[0].startswith(f"profiler ncu: {bin_dir / 'ncu'}; cannot profile")
    assert restricted[1] == "profiler rocprofv3: not found"
    (open_line,) = profiler_lines(("ncu",), str(bin_dir), write_params(tmp_path, "0"))
    assert open_line.endswith("(GPU counters open to every user)")
    (unknown,) = profiler_lines(("ncu",), str(bin_dir), tmp_path / "absent")
    assert "counter access unknown" in unknown


def test_a_refused_ncu_gives_the_refusal_not_a_parse_error(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    fake_bin = workdir / "fake-bin"
    fake_bin.mkdir(parents=True)
    (fake_bin / "ncu").write_text(FAKE_REFUSED_NCU)
    (fake_bin / "ncu").chmod(0o755)
    run = profile_kernels(
        "ncu", "./main", [], workdir, SandboxLimits(wall_s=30.0),
        env={"PATH": f"{fake_bin}:/usr/bin:/bin"},
    )  # fmt: skip
    assert run.result.ok and run.profiles == ()
    assert "NVreg_RestrictProfilingToAdminUsers=0" in run.refusal
