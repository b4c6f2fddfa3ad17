"""Roofline stage: build one app variant, profile its default input in a run's scratch copy,
label every kernel.

One unit of work for a worker, like the baseline stage: plain records in, a VariantRoofline out.
Failures of the app or the profiler are results (a status and a reason); only faults of the
harness raise.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from lassi_hpc.apps.manifest import AppManifest
from lassi_hpc.config.site import Partition
from lassi_hpc.records import BuildResult
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.label import fastest_invocations, label_profile
from lassi_hpc.roofline.profile_run import ProfilerName, profile_kernels
from lassi_hpc.roofline.specs import GpuSpec, balance_points
from lassi_hpc.roofline.variant_records import RooflineStatus, VariantRoofline
from lassi_hpc.stages.baseline import BaselineTask
from lassi_hpc.stages.build import scratch_build
from lassi_hpc.stages.run import run_copy

# ncu replays every profiled kernel once per metric pass (the roofline set needs several), so a
# profiled run takes many times the app's own run time.
PROFILE_TIME_FACTOR = 20.0
# The tail of a failed profiler's output kept in the reason, in characters.
REASON_TAIL_CHARS = 600


@dataclass(frozen=True)
class RooflineTask:
    """Everything a worker needs to profile one app variant; plain data, picklable. The build
    and where it runs are the baseline's (its measure settings go unused)."""

    baseline: BaselineTask
    # The profilers to look for on the partition's PATH, in order; the first found runs.
    tools: tuple[ProfilerName, ...]
    gpu: GpuSpec

    @property
    def manifest(self) -> AppManifest:
        return self.baseline.manifest

    @property
    def variant(self) -> str:
        return self.baseline.variant

    @property
    def partition(self) -> Partition:
        return self.baseline.partition


def profile_variant(task: RooflineTask) -> VariantRoofline:
    """Build, then run `tool` on the binary with the app's first (default) input, and label each
    kernel's fastest of its first two launches against `task.gpu`."""
    job = task.baseline
    with scratch_build(
        job.manifest,
        job.variant,
        job.toolchain_name,
        job.toolchain,
        Path(job.scratch_dir),
        job.sandbox.limits(job.manifest.build.timeout_s),
        job.keep_scratch,
    ) as build:
        return _after_build(task, build)


def _record(
    task: RooflineTask, status: RooflineStatus, reason: str, tool: str = "", **parts: object
) -> VariantRoofline:
    """The stored record; `tool` is the profiler that ran (before one was chosen, the
    candidates, "rocprof or rocprofv3")."""
    return VariantRoofline(
        app=task.manifest.name,
        variant=task.variant,
        partition=task.partition.name,
        tool=tool or " or ".join(task.tools),
        gpu=task.gpu.name,
        status=status,
        reason=reason,
        input_name=task.manifest.inputs[0].name,
        **parts,  # type: ignore[arg-type]
    )


def _after_build(task: RooflineTask, build: BuildResult) -> VariantRoofline:
    if not build.ok:
        reason = build.command.failure_detail or f"binary {task.manifest.build.binary!r} missing"
        return _record(task, "build-failed", f"build failed: {reason}")
    if task.partition.compile_only:
        return _record(task, "compile-only", "compile-only partition: built, not profiled")
    env = dict(task.partition.run_env)
    search_path = env.get("PATH", os.environ.get("PATH", ""))
    first = _first_on_path(task.tools, search_path)
    if first is None:
        wanted = " or ".join(task.tools)
        return _record(task, "profile-failed", f"{wanted} not found on PATH {search_path!r}")
    tool, found = first
    env.setdefault("PATH", search_path)
    job = task.baseline
    limits = job.sandbox.limits(job.manifest.run.timeout_s * PROFILE_TIME_FACTOR)
    label = f"profile-{job.manifest.name}-{job.variant}"
    # A copy laid out like a run's, so that inputs read from beside the variant directory
    # (run files) are found, and the build directory is left as it was.
    with run_copy(build, job.manifest, Path(job.scratch_dir), label, job.keep_scratch) as copy:
        try:
            run = profile_kernels(
                tool,
                f"./{build.binary}",
                task.manifest.inputs[0].args,
                copy.run_dir,
                limits,
                device=task.gpu.name,
                env=env,
                # The sandbox hides /tmp and other private places; the profiler must stay
                # reachable.
                read_only_paths=(Path(found).resolve().parent, *copy.read_only_paths),
            )
        except RooflineError as error:
            reason = f"{tool} output not understood: {error}"
            return _record(task, "profile-failed", reason, tool)
    if run.refusal:
        return _record(task, "profile-failed", run.refusal, tool)
    if not run.result.ok:
        tail = (run.result.stderr or run.result.stdout)[-REASON_TAIL_CHARS:].strip()
        reason = f"{tool} failed: {run.result.failure_detail}; {tail}"
        return _record(task, "profile-failed", reason, tool)
    if not run.profiles:
        return _record(task, "profile-failed", f"{tool} reported no kernel launch", tool)
    balance = balance_points(task.gpu)
    labels = tuple(
        label_profile(profile, balance, task.gpu.source)
        for profile in fastest_invocations(list(run.profiles))
    )
    return _record(task, "ok", "", tool, profiles=run.profiles, labels=labels)


def _first_on_path(tools: tuple[str, ...], search_path: str) -> tuple[str, str] | None:
    """(tool, its path) of the first of `tools` found on `search_path`; None if none is."""
    for tool in tools:
        found = shutil.which(tool, path=search_path)
        if found is not None:
            return tool, found
    return None
