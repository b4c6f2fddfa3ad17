"""Profile a built program through the sandboxed run stage and parse what the profiler wrote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lassi_hpc.records import CommandResult, SandboxLimits
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.ncu import ncu_command, parse_ncu_csv
from lassi_hpc.roofline.profiler_access import counter_permission_refusal
from lassi_hpc.roofline.records import KernelProfile
from lassi_hpc.roofline.rocprof import (
    INPUT_FILE_NAME,
    RESULTS_FILE_NAME,
    parse_rocprof_csv,
    parse_rocprof_passes,
    rocprof_command,
    rocprof_input_text,
)
from lassi_hpc.roofline.rocprofv3 import (
    OUTPUT_DIR_NAME,
    read_counter_collections,
    rocprofv3_command,
)
from lassi_hpc.sandbox.run import run_sandboxed

ProfilerName = Literal["ncu", "rocprof", "rocprofv3"]
PROFILERS: tuple[ProfilerName, ...] = ("ncu", "rocprof", "rocprofv3")


@dataclass(frozen=True)
class ProfileRun:
    """What one profiled run gave: the sandbox's record of the command and every parsed launch
    (empty when the command failed). `refusal` says why the profiler read no counter when the
    GPU refused them (profiles are then empty whatever the exit status)."""

    result: CommandResult
    profiles: tuple[KernelProfile, ...]
    refusal: str = ""


def profile_command(tool: str, binary: str, args: Sequence[str]) -> tuple[str, ...]:
    """The argv that runs `binary args` under `tool` (one of PROFILERS)."""
    if tool == "ncu":
        return ncu_command(binary, args)
    if tool == "rocprof":
        return rocprof_command(binary, args)
    if tool == "rocprofv3":
        return rocprofv3_command(binary, args)
    raise RooflineError(f"unknown profiler {tool!r}; must be one of: {', '.join(PROFILERS)}")


def profile_kernels(
    tool: str,
    binary: str,
    args: Sequence[str],
    workdir: Path,
    limits: SandboxLimits,
    *,
    device: str = "",
    env: Mapping[str, str] | None = None,
    isolation: str | None = None,
    read_only_paths: Sequence[Path] = (),
) -> ProfileRun:
    """Run `binary args` under `tool` in the sandbox (cwd `workdir`) and parse its output.

    ncu's CSV is read from stdout; rocprof's from the results file it writes in `workdir`, and
    rocprofv3's from the counter_collection.csv of each pass under its output directory there
    (`device` names the GPU for either rocprof, whose CSV has only an index; rocprofv3's
    per-wave counters are taken at 64 lanes, the wave size of CDNA GPUs such as MI100);
    `read_only_paths` are made visible in the sandbox (the profiler's directory, when the sandbox
    hides it). A failed command gives no profiles (its CommandResult says why); output that
    cannot be parsed raises RooflineError.
    """
    argv = profile_command(tool, binary, args)
    if tool in ("rocprof", "rocprofv3"):
        (workdir / INPUT_FILE_NAME).write_text(rocprof_input_text(), encoding="utf-8")
    result = run_sandboxed(argv, workdir, limits, env, read_only_paths, isolation=isolation)
    refusal = counter_permission_refusal(tool, result.stdout + result.stderr)
    if refusal:
        return ProfileRun(result, (), refusal)
    if not result.ok:
        return ProfileRun(result, ())
    if tool == "ncu":
        return ProfileRun(result, tuple(parse_ncu_csv(result.stdout, f"ncu output of {binary}")))
    if tool == "rocprofv3":
        passes = read_counter_collections(workdir / OUTPUT_DIR_NAME)
        return ProfileRun(result, tuple(parse_rocprof_passes(passes, device or "AMD GPU")))
    results_path = workdir / RESULTS_FILE_NAME
    try:
        text = results_path.read_text(encoding="utf-8")
    except OSError as error:
        raise RooflineError(f"rocprof wrote no results file {results_path}: {error}") from None
    return ProfileRun(
        result, tuple(parse_rocprof_csv(text, device or "AMD GPU", str(results_path)))
    )
