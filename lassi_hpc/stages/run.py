"""Run stage: execute a built binary on one named input, in a fresh copy of its build directory."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lassi_hpc.apps.manifest import AppInput, AppManifest
from lassi_hpc.apps.mpi_install import mpi_read_only_paths
from lassi_hpc.apps.mpi_launch import app_launch_argv, app_launch_prefix
from lassi_hpc.errors import AppError
from lassi_hpc.records import BuildResult, OutputFile, RunResult, SandboxLimits
from lassi_hpc.sandbox import make_scratch_copy, run_sandboxed
from lassi_hpc.stages.build import open_to_run_uid


def run_input(
    build: BuildResult,
    manifest: AppManifest,
    app_input: AppInput,
    scratch_root: Path,
    limits: SandboxLimits,
    env: Mapping[str, str] | None = None,
    keep_scratch: bool = False,
    mpi_launcher: Sequence[str] = (),
) -> RunResult:
    """Run `./<binary> <args>` and collect the output files the oracle compares.

    An MPI app runs as `<launcher> <count flags> ./<binary> <args>` in the same sandbox, with
    the MPI installation readable there; `mpi_launcher` (the site partition's) replaces the
    app's launcher. A fresh copy per run means no run can see what an earlier run left behind.
    """
    if not build.ok:
        raise ValueError(f"cannot run a failed build of {build.app}/{build.variant}")
    label = f"run-{build.app}-{build.variant}-{app_input.name}"
    with run_copy(build, manifest, scratch_root, label, keep_scratch) as copy:
        argv = run_argv(build.binary, manifest, app_input, mpi_launcher)
        # The launcher's and the compiler's installations: libmpi is found through the binary's
        # RUNPATH into the latter.
        read_only = mpi_read_only_paths(argv[0], "mpicxx") if manifest.run.mpi else ()
        command = run_sandboxed(
            argv,
            copy.run_dir,
            limits,
            env=dict(env or {}),
            read_only_paths=read_only + copy.read_only_paths,
        )
        outputs = tuple(
            _read_capped(copy.run_dir, name, manifest.oracle.max_output_file_bytes)
            for name in manifest.oracle.output_files
            if (copy.run_dir / name).is_file()
        )
    return RunResult(build.app, build.variant, app_input.name, command, outputs)


@dataclass(frozen=True)
class RunCopy:
    """Where one run happens: `run_dir` is its working directory, inside `root`, the copy."""

    root: Path
    run_dir: Path

    @property
    def read_only_paths(self) -> tuple[Path, ...]:
        """What the sandbox must show besides the run directory: under bubblewrap only the
        workdir and read-only paths are visible where scratch lies in a hidden place (/tmp), so
        the run files around the run directory are shown read-only."""
        return (self.root,) if self.root != self.run_dir else ()


@contextmanager
def run_copy(
    build: BuildResult,
    manifest: AppManifest,
    scratch_root: Path,
    label: str,
    keep_scratch: bool = False,
) -> Iterator[RunCopy]:
    """A fresh copy of the build directory to run in, removed afterwards unless `keep_scratch`.

    For a variant with run_files the copy is of the app root's layout, `<copy>/<variant dir>`
    holding the build directory's files and `<copy>/<run file>` each run file, so that an
    argument like `../<app>-cuda/input.bin` resolves as in the checkout."""
    copy = _make_run_copy(build, manifest, scratch_root, label)
    try:
        yield copy
    finally:
        if not keep_scratch:
            shutil.rmtree(copy.root, ignore_errors=True)


def _make_run_copy(
    build: BuildResult, manifest: AppManifest, scratch_root: Path, label: str
) -> RunCopy:
    build_dir = Path(build.build_dir)
    files = sorted(str(p.relative_to(build_dir)) for p in build_dir.rglob("*") if p.is_file())
    variant = manifest.variant(build.variant)
    if not variant.run_files:
        run_dir = make_scratch_copy(build_dir, files, scratch_root, label)
        return RunCopy(run_dir, run_dir)
    copy_root = make_scratch_copy(Path(manifest.root), variant.run_files, scratch_root, label)
    run_dir = copy_root / variant.dir
    try:
        for name in files:
            (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(build_dir / name, run_dir / name)
        open_to_run_uid(copy_root, run_dir, variant.run_files)
    except OSError as error:
        shutil.rmtree(copy_root, ignore_errors=True)
        raise AppError(f"run copy of {build_dir} into {run_dir} failed: {error}") from error
    return RunCopy(copy_root, run_dir)


def run_argv(
    binary: str, manifest: AppManifest, app_input: AppInput, mpi_launcher: Sequence[str] = ()
) -> tuple[str, ...]:
    """The command line of one run: `./<binary> <args>`, under the MPI launcher for an MPI app."""
    argv = (f"./{binary}", *app_input.args)
    if manifest.run.mpi is None:
        return argv
    return app_launch_argv(manifest.run.mpi, argv, mpi_launcher)


def shown_run_command(
    binary: str, manifest: AppManifest, app_input: AppInput, mpi_launcher: Sequence[str] = ()
) -> str:
    """`run_argv` as a person or an LLM reads it: the launcher as configured (not its resolved
    path), and `<held-out arguments>` in place of a hidden input's arguments."""
    mpi = manifest.run.mpi
    prefix = app_launch_prefix(mpi, mpi_launcher) if mpi is not None else ()
    if app_input.hidden:
        return shlex.join((*prefix, f"./{binary}")) + " <held-out arguments>"
    return shlex.join((*prefix, f"./{binary}", *app_input.args))


def _read_capped(run_dir: Path, name: str, cap_bytes: int) -> OutputFile:
    # One byte past the cap lets the oracle tell "at the cap" from "over it".
    with (run_dir / name).open("rb") as handle:
        return OutputFile(name, handle.read(cap_bytes + 1))
