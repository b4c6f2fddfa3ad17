"""The app model describes a HeCBench-style checkout (a fixture tree written here, not HeCBench)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lassi_hpc.apps.hecbench import describe_hecbench_app, make_run_args
from lassi_hpc.config.site import SandboxSection, Toolchain
from lassi_hpc.errors import AppError
from lassi_hpc.stages.build import build_variant
from lassi_hpc.stages.run import run_input

SUITE = Path(__file__).resolve().parents[1] / "data" / "hecbench"


def test_make_run_args_come_from_the_run_target() -> None:
    assert make_run_args(SUITE / "src" / "vecsum-omp" / "Makefile") == ("1000000", "50")


def test_describe_builds_the_same_records_as_a_manifest() -> None:
    manifest = describe_hecbench_app(SUITE, "vecsum", ["omp", "cuda"], heldout_args=[["777", "3"]])
    assert manifest.name == "vecsum"
    assert manifest.default_input.args == ("1000000", "50")
    assert [i.args for i in manifest.hidden_inputs] == [("777", "3")]
    omp = manifest.variant("omp")
    assert omp.dir == "vecsum-omp"
    assert set(omp.sources) == {"Makefile", "main.cpp", "reference.h"}
    assert "Makefile" not in omp.editable
    assert manifest.variant("cuda").sources == ("Makefile", "main.cu")


def test_describe_rejects_what_is_not_there() -> None:
    with pytest.raises(AppError, match="no Makefile"):
        describe_hecbench_app(SUITE, "nosuch", ["omp"])
    with pytest.raises(AppError, match="must be one of cuda, hip, omp"):
        describe_hecbench_app(SUITE, "vecsum", ["sycl"])
    with pytest.raises(AppError, match=r"editable files not found: kernel\.cu"):
        describe_hecbench_app(SUITE, "vecsum", ["omp"], editable=["kernel.cu"])


@pytest.mark.slow
def test_omp_variant_builds_with_g_plus_plus_overrides_and_runs(tmp_path: Path) -> None:
    """HeCBench's omp Makefiles default to icpx; g++ works when make variables are overridden."""
    manifest = describe_hecbench_app(SUITE, "vecsum", ["omp"], editable=["main.cpp"])
    toolchain = Toolchain(
        language="omp", compiler="g++", make_vars={"CC": "g++", "CFLAGS": "-O2 -fopenmp"}
    )
    limits = SandboxSection().limits(120)
    build = build_variant(manifest, "omp", "gcc-omp", toolchain, tmp_path, limits)
    assert build.ok, build.command.stderr
    run = run_input(build, manifest, manifest.default_input, tmp_path, limits)
    assert run.command.ok, run.command.stderr
    assert "sum = 4.999995e+11" in run.command.stdout
    assert run.command.stdout.strip().endswith("PASS")


@pytest.mark.slow
@pytest.mark.toolchain
def test_cuda_variant_compiles_with_the_site_arch(tmp_path: Path) -> None:
    if shutil.which("nvcc") is None:
        if os.environ.get("CI"):
            pytest.fail("nvcc must be installed in CI")
        pytest.skip("nvcc not on PATH")
    manifest = describe_hecbench_app(SUITE, "vecsum", ["cuda"])
    toolchain = Toolchain(language="cuda", compiler="nvcc", make_vars={"ARCH": "sm_80"})
    build = build_variant(
        manifest, "cuda", "nvcc", toolchain, tmp_path, SandboxSection(memory_bytes=0).limits(300)
    )
    assert build.ok, build.command.stderr
    assert "-arch=sm_80" in build.command.argv[-1] or "ARCH=sm_80" in build.command.argv
