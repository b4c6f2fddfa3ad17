"""A candidate's run limit follows the original's time on the same input, within bounds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lassi_hpc.apps.load import load_manifest
from lassi_hpc.config.campaign import MeasureSection
from lassi_hpc.config.site import Partition, SandboxSection, Toolchain
from lassi_hpc.records import CommandResult, RunResult
from lassi_hpc.stages.baseline import BaselineTask
from lassi_hpc.stages.evaluate import MIN_RUN_TIMEOUT_S, CandidateTask, run_timeout_s

TINY = Path(__file__).resolve().parents[1] / "data" / "apps" / "tiny"


def reference(wall_s: float) -> RunResult:
    command = CommandResult(
        ("./main",), "/tmp", 0, "", "", wall_s, wall_s, 0.0, wall_s, None, "", ""
    )
    return RunResult("tiny", "omp", "default", command)


def task(*walls_s: float, factor: float = 10.0) -> CandidateTask:
    manifest = load_manifest(TINY)
    job = BaselineTask(
        manifest=manifest,
        variant="omp",
        partition=Partition(name="cpu", toolchain="gcc"),
        toolchain_name="gcc",
        toolchain=Toolchain(language="omp", compiler="g++"),
        sandbox=SandboxSection(),
        measure=MeasureSection(),
        scratch_dir="/tmp",
    )
    runs = tuple(reference(w) for w in walls_s)
    return CandidateTask(job, runs, (), (), 0, timeout_factor=factor)


def test_limit_is_a_multiple_of_the_original_time_on_that_input() -> None:
    candidate = task(1.5, 0.9)
    assert run_timeout_s(candidate, 0) == 15.0
    assert run_timeout_s(candidate, 1) == 9.0
    assert run_timeout_s(replace(candidate, timeout_factor=4.0), 0) == 6.0


def test_limit_has_a_floor_and_the_manifest_ceiling() -> None:
    ceiling_s = load_manifest(TINY).run.timeout_s
    assert run_timeout_s(task(0.01), 0) == MIN_RUN_TIMEOUT_S
    assert run_timeout_s(task(100.0), 0) == ceiling_s
    assert run_timeout_s(task(), 0) == ceiling_s  # no reference run: the manifest's budget
