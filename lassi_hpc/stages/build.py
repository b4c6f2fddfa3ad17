"""Build stage: compile one app variant in a fresh scratch copy with a site toolchain."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath

from lassi_hpc.apps.manifest import AppManifest, VariantSpec
from lassi_hpc.apps.mpi_install import mpi_bin_dir, mpi_read_only_paths
from lassi_hpc.config.site import Toolchain
from lassi_hpc.errors import ToolchainError
from lassi_hpc.records import BuildResult, SandboxLimits
from lassi_hpc.sandbox import make_scratch_copy, run_sandboxed


def sources_sha256(files: Mapping[str, bytes]) -> str:
    """One hash over (name, content) pairs in name order, so equal trees hash equal."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def build_command(manifest: AppManifest, toolchain: Toolchain) -> tuple[str, ...]:
    """The manifest's build command with the toolchain's make variables appended (NAME=value)."""
    variables = tuple(f"{name}={value}" for name, value in sorted(toolchain.make_vars.items()))
    return (*manifest.build.command, *variables)


def toolchain_env(toolchain: Toolchain) -> dict[str, str]:
    """A build's environment: the caller's PATH (where compilers live) plus the toolchain's."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **toolchain.env}


def build_variant(
    manifest: AppManifest,
    variant_name: str,
    toolchain_name: str,
    toolchain: Toolchain,
    scratch_root: Path,
    limits: SandboxLimits,
    replaced_sources: Mapping[str, str] | None = None,
) -> BuildResult:
    """Copy the sources to scratch, overlay `replaced_sources` (editable files only), run make.

    Never raises for a failing compile: that is a BuildResult with ok=False and the log.
    """
    variant = manifest.variant(variant_name)
    if shutil.which(toolchain.compiler, path=toolchain_env(toolchain)["PATH"]) is None:
        raise ToolchainError(
            f"toolchain {toolchain_name!r}: compiler {toolchain.compiler!r} not found on PATH"
        )
    for name in replaced_sources or {}:
        if name not in variant.editable:
            raise ValueError(f"{name!r} is not an editable file of {manifest.name}/{variant_name}")
    label = f"build-{manifest.name}-{variant_name}"
    build_dir = _copy_sources(manifest, variant, scratch_root, label)
    for name, text in (replaced_sources or {}).items():
        (build_dir / name).write_text(text, encoding="utf-8")
    contents = {name: (build_dir / name).read_bytes() for name in variant.sources}
    copy_root = build_copy_root(build_dir, variant)
    contents.update({name: (copy_root / name).read_bytes() for name in variant.outside_sources})
    env = toolchain_env(toolchain)
    # Under bubblewrap only the workdir and read-only paths are visible where scratch lies in a
    # hidden place (/tmp): the rest of the copy is shown read-only, the build directory on top.
    read_only: tuple[Path, ...] = (copy_root,) if copy_root != build_dir else ()
    if manifest.run.mpi is not None:
        # mpicxx from the MPI installation beside this Python, readable in the sandbox: a pyenv
        # shim that PATH may find first cannot run as the sandbox's uid.
        bin_dir = mpi_bin_dir("mpicxx")
        if bin_dir is not None:
            env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
        read_only += mpi_read_only_paths("mpicxx")
    command = run_sandboxed(
        build_command(manifest, toolchain), build_dir, limits, env=env, read_only_paths=read_only
    )
    binary_ok = (build_dir / manifest.build.binary).is_file()
    ok = command.ok and binary_ok
    return BuildResult(
        app=manifest.name,
        variant=variant_name,
        toolchain=toolchain_name,
        ok=ok,
        command=command,
        build_dir=str(build_dir),
        binary=manifest.build.binary if ok else "",
        sources_sha256=sources_sha256(contents),
    )


@contextlib.contextmanager
def scratch_build(
    manifest: AppManifest,
    variant_name: str,
    toolchain_name: str,
    toolchain: Toolchain,
    scratch_root: Path,
    limits: SandboxLimits,
    keep_scratch: bool,
    replaced_sources: Mapping[str, str] | None = None,
) -> Iterator[BuildResult]:
    """build_variant under `scratch_root` (created if missing); its whole scratch copy is removed
    on leaving, unless `keep_scratch`."""
    scratch_root.mkdir(parents=True, exist_ok=True)
    build = build_variant(
        manifest, variant_name, toolchain_name, toolchain, scratch_root, limits, replaced_sources
    )
    try:
        yield build
    finally:
        if not keep_scratch:
            remove_build_copy(manifest, build)


def build_copy_root(build_dir: Path, variant: VariantSpec) -> Path:
    """The scratch copy that holds `build_dir`: the build directory itself, or for a variant
    with outside sources the copy of the app root, `variant.dir` levels above it."""
    depth = len(PurePosixPath(variant.dir).parts) if variant.outside_sources else 0
    return build_dir.parents[depth - 1] if depth else build_dir


def remove_build_copy(manifest: AppManifest, build: BuildResult) -> None:
    """Delete the whole scratch copy of `build` (with a variant's outside sources, more than
    its build_dir); a missing copy is no error."""
    root = build_copy_root(Path(build.build_dir), manifest.variant(build.variant))
    shutil.rmtree(root, ignore_errors=True)


def _copy_sources(
    manifest: AppManifest, variant: VariantSpec, scratch_root: Path, label: str
) -> Path:
    """A fresh scratch copy of the variant's files; returns the directory to build in."""
    if not variant.outside_sources:
        return make_scratch_copy(
            Path(manifest.root) / variant.dir, variant.sources, scratch_root, label
        )
    own = [str(PurePosixPath(variant.dir) / name) for name in variant.sources]
    root = make_scratch_copy(
        Path(manifest.root), [*own, *variant.outside_sources], scratch_root, label
    )
    build_dir = root / variant.dir
    open_to_run_uid(root, build_dir, variant.outside_sources)
    return build_dir


def open_to_run_uid(root: Path, workdir: Path, outside_sources: tuple[str, ...]) -> None:
    """Let a per-run uid reach the build (or run) directory and read the outside files.

    run_sandboxed hands only that directory to that uid; the copy around it stays ours, so its
    directories become 0755 and the outside files readable by all (public sources and inputs).
    The directory itself becomes 0700, as private as a copy of the variant alone (mkdtemp's mode).
    """
    directories = {*workdir.relative_to(root).parents}
    for name in outside_sources:
        path = root / name
        path.chmod(path.stat().st_mode | 0o444)
        directories.update(Path(name).parents)
    for directory in directories:
        (root / directory).chmod(0o755)
    workdir.chmod(0o700)
