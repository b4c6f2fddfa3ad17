"""Baseline stage: build, run, check and measure an app's original version on one partition.

This is one unit of work for a worker: it takes plain records and returns a BaselineRecord, so the
driver can run it through Parsl or call it directly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lassi_hpc.apps.manifest import AppManifest
from lassi_hpc.config.campaign import MeasureSection
from lassi_hpc.config.site import Partition, SandboxSection, Toolchain
from lassi_hpc.energy import measure_workload
from lassi_hpc.energy.host_load import read_host_busy_cpu_s
from lassi_hpc.energy.session import MeterRequest, open_meter
from lassi_hpc.errors import LassiError
from lassi_hpc.records import (
    BaselineRecord,
    BuildResult,
    CommandResult,
    EnergyMeasurement,
    RunResult,
    StageStatus,
    Verdict,
)
from lassi_hpc.stages.build import scratch_build
from lassi_hpc.stages.mpi_meter import sampler_launcher
from lassi_hpc.stages.output_hint import build_hint, run_hint, with_hint
from lassi_hpc.stages.run import run_input
from lassi_hpc.stages.verify import check_self_consistency, verify_run


@dataclass(frozen=True)
class BaselineTask:
    """Everything a worker needs to profile one app variant; plain data, picklable."""

    manifest: AppManifest
    variant: str
    partition: Partition
    toolchain_name: str
    toolchain: Toolchain
    sandbox: SandboxSection
    measure: MeasureSection
    scratch_dir: str
    keep_scratch: bool = False


def profile_baseline(task: BaselineTask) -> BaselineRecord:
    """Build → run every input → check determinism and self-checks → measure the default input.

    Failures of the app are results (a record with a non-OK status and the reason); only faults of
    the harness itself raise.
    """
    scratch_root = Path(task.scratch_dir)
    with scratch_build(
        task.manifest,
        task.variant,
        task.toolchain_name,
        task.toolchain,
        scratch_root,
        task.sandbox.limits(task.manifest.build.timeout_s),
        task.keep_scratch,
    ) as build:
        return _after_build(task, build, scratch_root)


def _record(
    task: BaselineTask, build: BuildResult, status: StageStatus, reason: str, **parts: object
) -> BaselineRecord:
    return BaselineRecord(
        app=task.manifest.name,
        variant=task.variant,
        partition=task.partition.name,
        status=status,
        reason=reason,
        build=build,
        **parts,  # type: ignore[arg-type]
    )


def _after_build(task: BaselineTask, build: BuildResult, scratch_root: Path) -> BaselineRecord:
    if not build.ok:
        reason = build.command.failure_detail or f"binary {task.manifest.build.binary!r} missing"
        reason = with_hint(reason, build_hint(build.command))
        return _record(task, build, StageStatus.BUILD_FAILED, f"build failed: {reason}")
    if task.partition.compile_only:
        return _record(task, build, StageStatus.OK, "compile-only partition: not run")
    manifest = task.manifest
    limits = task.sandbox.limits(manifest.run.timeout_s)

    def run(input_index: int) -> RunResult:
        return run_input(
            build,
            manifest,
            manifest.inputs[input_index],
            scratch_root,
            limits,
            env=task.partition.run_env,
            keep_scratch=task.keep_scratch,
            mpi_launcher=task.partition.mpi_launcher,
        )

    runs = [run(index) for index in range(len(manifest.inputs))]
    failed = [r for r in runs if not r.command.ok]
    if failed:
        first = failed[0]
        detail = with_hint(first.command.failure_detail, run_hint(first.command))
        reason = f"input {first.input_name!r}: {detail}"
        return _record(task, build, StageStatus.RUN_FAILED, reason, runs=tuple(runs))
    # The original must reproduce itself within tolerance, or no candidate could be judged.
    repeat = run(0)
    verdicts = [check_self_consistency(runs[0], repeat, manifest.oracle)]
    verdicts += [verify_run(r, r, manifest.oracle) for r in runs[1:]]
    bad = [v for v in verdicts if not v.ok]
    if bad:
        reason = f"input {bad[0].input_name!r}: {bad[0].reason}"
        return _record(
            task,
            build,
            StageStatus.VERIFY_FAILED,
            reason,
            runs=tuple(runs),
            verdicts=tuple(verdicts),
        )
    return _measure(task, build, tuple(runs), tuple(verdicts), lambda: run(0).command)


def _measure(
    task: BaselineTask,
    build: BuildResult,
    runs: tuple[RunResult, ...],
    verdicts: tuple[Verdict, ...],
    run_once: Callable[[], CommandResult],
) -> BaselineRecord:
    measurement = measure_command(task, run_once, task.measure.seed)
    if isinstance(measurement, str):
        return _record(
            task, build, StageStatus.MEASURE_FAILED, measurement, runs=runs, verdicts=verdicts
        )
    return _record(
        task, build, StageStatus.OK, "", runs=runs, verdicts=verdicts, measurement=measurement
    )


def measure_command(
    task: BaselineTask, run_once: Callable[[], CommandResult], seed: int
) -> EnergyMeasurement | str:
    """Measure `run_once` on the partition's energy backend; the reason as text if that failed.

    `seed` draws the random start delays, so that repeated measurements are independent.
    """
    settings = task.measure
    request = MeterRequest(
        backend=task.partition.energy_backend,
        period_s=settings.sample_period_s,
        launcher=sampler_launcher(task.manifest.run.mpi, task.partition.mpi_launcher),
    )
    try:
        with open_meter(request) as opened:
            return measure_workload(
                run_once,
                opened.meter,
                repetitions=settings.repetitions,
                min_window_s=settings.min_window_s,
                idle_s=settings.idle_s,
                rng=random.Random(seed),
                max_start_delay_s=settings.max_start_delay_s,
                settle_s=settings.settle_s,
                read_host_busy_cpu_s=read_host_busy_cpu_s,
            )
    except LassiError as error:  # MeasurementError, or a backend that cannot open
        return str(error)
