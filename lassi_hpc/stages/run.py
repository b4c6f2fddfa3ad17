"""Run stage: execute a built binary on one named input, in a fresh copy of its build directory."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from lassi_hpc.apps.manifest import AppInput, AppManifest
from lassi_hpc.records import BuildResult, OutputFile, RunResult, SandboxLimits
from lassi_hpc.sandbox import make_scratch_copy, run_sandboxed


def run_input(
    build: BuildResult,
    manifest: AppManifest,
    app_input: AppInput,
    scratch_root: Path,
    limits: SandboxLimits,
    env: Mapping[str, str] | None = None,
    keep_scratch: bool = False,
) -> RunResult:
    """Run `./<binary> <args>` and collect the output files the oracle compares.

    A fresh copy per run means no run can see what an earlier run left behind.
    """
    if not build.ok:
        raise ValueError(f"cannot run a failed build of {build.app}/{build.variant}")
    build_dir = Path(build.build_dir)
    files = sorted(str(p.relative_to(build_dir)) for p in build_dir.rglob("*") if p.is_file())
    label = f"run-{build.app}-{build.variant}-{app_input.name}"
    run_dir = make_scratch_copy(build_dir, files, scratch_root, label)
    try:
        argv = (f"./{build.binary}", *app_input.args)
        command = run_sandboxed(argv, run_dir, limits, env=dict(env or {}))
        outputs = tuple(
            _read_capped(run_dir, name, manifest.oracle.max_output_file_bytes)
            for name in manifest.oracle.output_files
            if (run_dir / name).is_file()
        )
    finally:
        if not keep_scratch:
            shutil.rmtree(run_dir, ignore_errors=True)
    return RunResult(build.app, build.variant, app_input.name, command, outputs)


def _read_capped(run_dir: Path, name: str, cap_bytes: int) -> OutputFile:
    # One byte past the cap lets the oracle tell "at the cap" from "over it".
    with (run_dir / name).open("rb") as handle:
        return OutputFile(name, handle.read(cap_bytes + 1))
