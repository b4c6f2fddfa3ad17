"""The bundled MPI app (heat1d-mpi) through the real stages: mpicxx in the sandbox, 2 ranks of
PyPI's MPICH under bubblewrap, the oracle, and an energy measurement on FAKE devices, first with the
local sampler (one node) and then with one sampler per emulated node (two ranks as two nodes).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import socket
from pathlib import Path

import pytest

from lassi_hpc.apps.load import find_app
from lassi_hpc.apps.manifest import AppManifest, MpiSpec, RunSpec
from lassi_hpc.apps.mpi_install import find_mpi_tool
from lassi_hpc.config.campaign import MeasureSection, bundled_examples_dir
from lassi_hpc.config.site import SiteConfig, load_site
from lassi_hpc.energy import measure_workload
from lassi_hpc.energy.mpi_sampler_main import RANK_IS_NODE_ENV
from lassi_hpc.energy.session import MeterRequest, open_meter
from lassi_hpc.records import CommandResult, EnergyMethod, RunResult, StageStatus
from lassi_hpc.sandbox.detect import host_capabilities
from lassi_hpc.stages.baseline import BaselineTask, profile_baseline
from lassi_hpc.stages.build import build_variant
from lassi_hpc.stages.mpi_meter import sampler_launcher
from lassi_hpc.stages.run import run_input
from lassi_hpc.stages.verify import verify_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_mpi_tool("mpicxx") is None, reason="no mpicxx (pip install mpich)"),
    pytest.mark.skipif(find_mpi_tool("mpiexec") is None, reason="no mpiexec (pip install mpich)"),
]

REPO = Path(__file__).resolve().parents[2]
BWRAP_USABLE = bool(host_capabilities().bwrap) and not host_capabilities().bwrap_problem
# Small inputs: this tests the plumbing, not the app's speed.
SMALL_ARGS = ("20000", "200", "0.25")


@pytest.fixture(scope="module")
def site() -> SiteConfig:
    return load_site(REPO / "site_configs" / "local.toml")


def heat_manifest(mpi: MpiSpec | None = None) -> AppManifest:
    manifest = find_app(bundled_examples_dir(), "heat1d-mpi")
    inputs = tuple(
        dataclasses.replace(i, args=SMALL_ARGS) if i.name == "default" else i
        for i in manifest.inputs
    )
    manifest = dataclasses.replace(manifest, inputs=inputs)
    if mpi is None:
        return manifest
    return dataclasses.replace(manifest, run=RunSpec(manifest.run.timeout_s, mpi))


def baseline_task(site: SiteConfig, manifest: AppManifest, scratch: Path) -> BaselineTask:
    cpu = next(p for p in site.partitions if p.name == "cpu")
    return BaselineTask(
        manifest=manifest,
        variant="omp",
        partition=dataclasses.replace(cpu, energy_backend="fake"),
        toolchain_name=cpu.toolchain,
        toolchain=site.toolchains[cpu.toolchain],
        sandbox=site.sandbox,
        measure=MeasureSection(repetitions=2, min_window_s=0.5, idle_s=0.0, max_start_delay_s=0.0),
        scratch_dir=str(scratch),
    )


def test_a_two_rank_baseline_passes_the_oracle_and_is_measured_locally(
    site: SiteConfig, tmp_path: Path
) -> None:
    record = profile_baseline(baseline_task(site, heat_manifest(), tmp_path))
    assert record.status is StageStatus.OK, record.reason + record.build.command.stderr[-2000:]
    assert "mpicxx" in record.build.command.stdout  # the Makefile's compile lines
    for run in record.runs:
        launcher, flag, ranks, binary = run.command.argv[:4]
        assert Path(launcher).name == "mpiexec" and Path(launcher).is_absolute()
        assert (flag, ranks, binary) == ("-n", "2", "./main")
        assert "ranks 2" in run.command.stderr
        if BWRAP_USABLE:  # the ranks ran inside bubblewrap's namespaces, no network
            assert run.command.isolation.startswith("bwrap+netns")
    assert [v.input_name for v in record.verdicts] == ["default", "heldout"]
    assert all(v.ok and v.self_check is True and v.compared_values > 30 for v in record.verdicts)
    measurement = record.measurement
    assert measurement is not None
    # One node: the ordinary local sampler, this host's one FAKE device.
    assert measurement.method is EnergyMethod.COUNTER
    assert [(d.uid, d.host, d.is_fake) for d in measurement.devices] == [
        ("fake-device-0", socket.gethostname(), True)
    ]
    assert measurement.energy_j_mean > 0
    assert "fake-device" in measurement.flags


@pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None,
    reason="mpi4py is not installed (pip install mpi4py)",
)
def test_a_two_node_app_is_measured_by_one_sampler_per_node(
    site: SiteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ranks on this machine emulate two nodes, each with its own FAKE device."""
    manifest = heat_manifest(MpiSpec(ranks=2, nodes=2, launcher=("mpiexec",)))
    task = baseline_task(site, manifest, tmp_path)
    limits = site.sandbox.limits(60)
    build = build_variant(manifest, "omp", task.toolchain_name, task.toolchain, tmp_path, limits)
    assert build.ok, build.command.stderr[-2000:]
    reference = run_input(build, manifest, manifest.default_input, tmp_path, limits)
    assert reference.command.ok, reference.command.stderr
    assert reference.command.argv[1:6] == ("-n", "2", "-ppn", "1", "./main")

    launcher = sampler_launcher(manifest.run.mpi)
    assert launcher[1:] == ("-n", "2", "-ppn", "1")
    monkeypatch.setenv(RANK_IS_NODE_ENV, "1")
    request = MeterRequest(
        backend="fake",
        options={
            "curve_spec": {"kind": "constant", "power_w": {"per_rank": [100.0, 250.0]}},
            "uids": ["node{rank}-gpu"],
        },
        launcher=launcher,
        lock_dir=tmp_path / "locks",
    )
    runs: list[RunResult] = []

    def run_once() -> CommandResult:
        result = run_input(build, manifest, manifest.default_input, tmp_path, limits)
        runs.append(result)
        return result.command

    with open_meter(request) as opened:
        measurement = measure_workload(
            run_once,
            opened.meter,
            repetitions=2,
            min_window_s=1.0,
            idle_s=0.1,
            rng=random.Random(0),
            settle_s=0.05,
        )
    assert measurement.method is EnergyMethod.COUNTER
    assert [d.uid for d in measurement.devices] == ["node0-gpu", "node1-gpu"]
    for repetition in measurement.repetitions:
        # Both nodes' devices, summed; the duration is the whole launch's (the longest rank's).
        assert repetition.average_power_w == pytest.approx(350.0, rel=0.02)
        assert repetition.duration_s > 0
    assert runs and all(r.command.ok for r in runs)
    assert all(verify_run(reference, r, manifest.oracle).ok for r in runs)
