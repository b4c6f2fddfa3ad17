"""The HeCBench adapter end to end on the fixture tree (own apps in HeCBench's layout): planned
from a campaign, built by the real Makefiles with g++ overriding icpx, run in the real sandbox,
judged by the oracle, stored in HDF5, and the weak-check flag shown in the HTML report."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lassi_hpc.analysis.report import run_report
from lassi_hpc.apps.hecbench import load_hecbench_app
from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.config.site import SandboxSection
from lassi_hpc.flow.baseline import run_baseline
from lassi_hpc.stages.build import build_variant
from lassi_hpc.stages.run import run_input
from lassi_hpc.stages.verify import verify_run
from lassi_hpc.store import ResultsReader

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "tests" / "data" / "hecbench"
SITE = REPO / "site_configs" / "local-hecbench.toml"
# envelope-omp reads ../envelope-cuda/reference.h and builds with -I../envelope-cuda.
APPS = ("vecsum", "stencil1d", "histo", "envelope")


def write_configs(tmp_path: Path) -> tuple[Path, Path]:
    campaign = tmp_path / "campaign.toml"
    entries = "".join(f'\n[[apps]]\nname = "{app}"\n' for app in APPS)
    campaign.write_text(
        f"""
[campaign]
name = "hecbench-itest"
suite = "hecbench"
suite_path = "{SUITE}"
variants = ["omp"]
results_dir = "results"
{entries}
[measure]
repetitions = 2
min_window_s = 0.2
idle_s = 0.0
max_start_delay_s = 0.0
settle_s = 0.05
"""
    )
    site_text = SITE.read_text(encoding="utf-8")
    site_text = site_text.replace('scratch_dir = ""', 'scratch_dir = "scratch"')
    site_text = site_text.replace('energy_backend = "auto"', 'energy_backend = "estimate"')
    site = tmp_path / "site.toml"
    site.write_text(site_text, encoding="utf-8")
    return campaign, site


@pytest.mark.slow
def test_baseline_of_the_omp_fixture_apps_passes_and_flags_weak_checks(tmp_path: Path) -> None:
    campaign_file, site_file = write_configs(tmp_path)
    results = run_baseline(load_campaign(campaign_file), load_site(site_file))
    with ResultsReader(results) as reader:
        rows = {row.app: row for row in reader.baselines()}
        stdout = reader.read_baseline("histo", "omp").runs[0].command.stdout
    assert {app: rows[app].status for app in APPS} == dict.fromkeys(APPS, "ok")
    assert "SUCCESS" in stdout
    # The fixture apps are not in the 20-app table: their oracle is the generic, flagged one.
    assert all("not in lassi_hpc's HeCBench oracle table" in rows[app].weak_check for app in APPS)
    html = run_report(results, tmp_path / "report").html.read_text(encoding="utf-8")
    assert "weak correctness check" in html
    assert "stencil1d/omp" in html


@pytest.mark.slow
def test_the_oracle_passes_the_original_and_fails_a_wrong_output(tmp_path: Path) -> None:
    site = load_site(SITE)
    toolchain = site.toolchains["gcc-omp"]
    manifest = load_hecbench_app(SUITE, "stencil1d", ["omp"], args=["4096", "3"])
    limits = SandboxSection().limits(120)
    original = build_variant(manifest, "omp", "gcc-omp", toolchain, tmp_path, limits)
    assert original.ok, original.command.stderr
    main = (SUITE / "src" / "stencil1d-omp" / "main.cpp").read_text(encoding="utf-8")
    wrong_source = main.replace("0.5f * pin[i]", "0.55f * pin[i]")
    assert wrong_source != main
    wrong = build_variant(
        manifest, "omp", "gcc-omp", toolchain, tmp_path, limits, {"main.cpp": wrong_source}
    )
    assert wrong.ok, wrong.command.stderr
    reference = run_input(original, manifest, manifest.default_input, tmp_path, limits)
    again = run_input(original, manifest, manifest.default_input, tmp_path, limits)
    candidate = run_input(wrong, manifest, manifest.default_input, tmp_path, limits)
    assert verify_run(reference, again, manifest.oracle).ok
    verdict = verify_run(reference, candidate, manifest.oracle)
    assert not verdict.ok
    assert "checksum" in verdict.reason


@pytest.mark.slow
def test_a_variant_that_reads_its_cuda_sibling_builds_and_runs_as_a_candidate(
    tmp_path: Path,
) -> None:
    site = load_site(SITE)
    toolchain = site.toolchains["gcc-omp"]
    manifest = load_hecbench_app(SUITE, "envelope", ["omp"], args=["20000", "2"])
    limits = SandboxSection().limits(120)
    original = build_variant(manifest, "omp", "gcc-omp", toolchain, tmp_path, limits)
    assert original.ok, original.command.stderr
    assert "-I../envelope-cuda" in original.command.stdout  # CFLAGS' $(HECBENCH_INCLUDES)
    main = (SUITE / "src" / "envelope-omp" / "main.cpp").read_text(encoding="utf-8")
    candidate_source = main.replace(
        "for (int r = 0; r < repeat; r++) {", "for (int r = 0; r < 1; r++) {"
    )
    assert candidate_source != main
    candidate = build_variant(
        manifest, "omp", "gcc-omp", toolchain, tmp_path, limits, {"main.cpp": candidate_source}
    )
    assert candidate.ok, candidate.command.stderr
    assert candidate.sources_sha256 != original.sources_sha256
    reference = run_input(original, manifest, manifest.default_input, tmp_path, limits)
    new = run_input(candidate, manifest, manifest.default_input, tmp_path, limits)
    assert reference.command.stdout.strip().endswith("PASS"), reference.command.stdout
    assert verify_run(reference, new, manifest.oracle).ok


@pytest.mark.slow
@pytest.mark.toolchain
def test_a_cuda_fixture_app_compiles_with_the_site_toolchain(tmp_path: Path) -> None:
    if shutil.which("nvcc") is None:
        if os.environ.get("CI"):
            pytest.fail("nvcc must be installed in CI")
        pytest.skip("nvcc not on PATH")
    site = load_site(SITE)
    manifest = load_hecbench_app(SUITE, "histo", ["cuda"])
    build = build_variant(
        manifest,
        "cuda",
        "nvcc",
        site.toolchains["nvcc"],
        tmp_path,
        SandboxSection(memory_bytes=0).limits(300),
    )
    assert build.ok, build.command.stderr
    assert "ARCH=sm_80" in build.command.argv
    assert "-arch=sm_80" in build.command.stdout


@pytest.mark.slow
@pytest.mark.toolchain
def test_a_hip_fixture_app_compiles_for_the_offload_arch_in_extra_cflags(tmp_path: Path) -> None:
    """HeCBench hip Makefiles have no ARCH variable: the site names the GPU in EXTRA_CFLAGS."""
    if shutil.which("hipcc") is None:
        if os.environ.get("CI"):
            pytest.fail("hipcc must be installed in CI")
        pytest.skip("hipcc not on PATH")
    site = load_site(SITE)
    manifest = load_hecbench_app(SUITE, "histo", ["hip"])
    build = build_variant(
        manifest,
        "hip",
        "hipcc",
        site.toolchains["hipcc"],
        tmp_path,
        SandboxSection(memory_bytes=0).limits(300),
    )
    assert build.ok, build.command.stderr
    assert "EXTRA_CFLAGS=--offload-arch=gfx908" in build.command.argv
    assert "hipcc --offload-arch=gfx908" in build.command.stdout
