"""The bundled example apps: omp variants build, run and verify on the CPU; cuda and hip compile."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lassi_hpc.apps.load import find_app
from lassi_hpc.config.campaign import MeasureSection, bundled_examples_dir
from lassi_hpc.config.site import SiteConfig, load_site
from lassi_hpc.records import StageStatus
from lassi_hpc.stages.baseline import BaselineTask, profile_baseline
from lassi_hpc.stages.build import build_variant
from lassi_hpc.stages.run import run_input
from lassi_hpc.stages.verify import verify_run

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
APPS = sorted(p.parent.name for p in bundled_examples_dir().glob("*/app.toml"))


@pytest.fixture(scope="module")
def site() -> SiteConfig:
    return load_site(REPO / "site_configs" / "local.toml")


def task_for(site: SiteConfig, app: str, variant: str, partition_name: str) -> BaselineTask:
    partition = next(p for p in site.partitions if p.name == partition_name)
    return BaselineTask(
        manifest=find_app(bundled_examples_dir(), app),
        variant=variant,
        partition=partition,
        toolchain_name=partition.toolchain,
        toolchain=site.toolchains[partition.toolchain],
        sandbox=site.sandbox,
        measure=MeasureSection(repetitions=2, min_window_s=0.0, idle_s=0.0, max_start_delay_s=0.0),
        scratch_dir=str(site.scratch_dir / "lassi-hpc-test-examples"),
    )


@pytest.mark.parametrize("app", APPS)
def test_omp_variant_profiles_on_the_cpu(site: SiteConfig, app: str) -> None:
    record = profile_baseline(task_for(site, app, "omp", "cpu"))
    assert record.status is StageStatus.OK, record.reason
    assert record.runs[0].input_name == "default"
    assert len(record.runs) >= 2, "a held-out input must run too"
    assert all(v.ok and v.compared_values > 0 for v in record.verdicts)
    assert all(v.self_check is True for v in record.verdicts)
    assert record.measurement is not None
    assert record.measurement.energy_j_mean > 0


@pytest.mark.parametrize("app", APPS)
def test_outputs_depend_on_the_input(site: SiteConfig, app: str, tmp_path: Path) -> None:
    """The held-out run judged against the default run must fail: the oracle is not vacuous and
    an app that printed the same thing whatever its input could not pass."""
    task = task_for(site, app, "omp", "cpu")
    manifest = task.manifest
    limits = site.sandbox.limits(120)
    build = build_variant(manifest, "omp", "gcc-omp", task.toolchain, tmp_path, limits)
    assert build.ok, build.command.stderr
    default = run_input(build, manifest, manifest.default_input, tmp_path, limits)
    heldout = run_input(build, manifest, manifest.hidden_inputs[0], tmp_path, limits)
    assert default.command.ok and heldout.command.ok
    verdict = verify_run(default, heldout, manifest.oracle)
    assert not verdict.ok
    assert verdict.reason


def require(compiler: str) -> None:
    if shutil.which(compiler) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{compiler} must be installed in CI (.ci/run installs it)")
        pytest.skip(f"{compiler} not on PATH")


@pytest.mark.toolchain
@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize(
    ("variant", "partition", "compiler"),
    [("cuda", "cuda-compile", "nvcc"), ("hip", "hip-compile", "hipcc")],
)
def test_gpu_variants_compile(
    site: SiteConfig, app: str, variant: str, partition: str, compiler: str
) -> None:
    require(compiler)
    if variant not in dict(find_app(bundled_examples_dir(), app).variants):
        pytest.skip(f"{app} has no {variant} variant")
    record = profile_baseline(task_for(site, app, variant, partition))
    assert record.status is StageStatus.OK, record.build.command.stderr[-2000:]
    assert record.build.ok
    assert record.reason == "compile-only partition: not run"
    assert record.runs == ()
