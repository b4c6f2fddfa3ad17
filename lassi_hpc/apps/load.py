"""Read an app's `app.toml` into an AppManifest, checking that what it names exists."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lassi_hpc.apps.manifest import (
    AppInput,
    AppManifest,
    BuildSpec,
    MpiSpec,
    OracleSpec,
    RunSpec,
    VariantSpec,
)
from lassi_hpc.apps.mpi_launch import launcher_problem
from lassi_hpc.config.validate import build, checked, non_empty, read_toml, require_kind
from lassi_hpc.errors import AppError, ConfigError

MANIFEST_NAME = "app.toml"


@dataclass(frozen=True)
class AppSection:
    name: str = checked(check=non_empty)
    pattern: str = ""
    summary: str = ""


@dataclass(frozen=True)
class InputEntry:
    args: tuple[str, ...] = ()
    hidden: bool = False


@dataclass(frozen=True)
class AppFile:
    app: AppSection
    inputs: dict[str, InputEntry]
    variants: dict[str, VariantSpec]
    build: BuildSpec = field(default_factory=BuildSpec)
    run: RunSpec = field(default_factory=RunSpec)
    oracle: OracleSpec = field(default_factory=OracleSpec)


def load_manifest(app_dir: Path) -> AppManifest:
    """Load `<app_dir>/app.toml`; errors name the file and key."""
    path = app_dir / MANIFEST_NAME
    file = str(path)
    data = read_toml(path)
    require_kind(data, file, "app")
    parsed = build(AppFile, data, file)
    if "default" not in parsed.inputs:
        raise ConfigError(file, "inputs", "an input named 'default' is required")
    if parsed.inputs["default"].hidden:
        raise ConfigError(file, "inputs.default.hidden", "the default input is shown to the LLM")
    for index, pattern in enumerate(parsed.oracle.mask):
        _check_regex(file, f"oracle.mask[{index}]", pattern)
    _check_regex(file, "oracle.self_check_pass", parsed.oracle.self_check_pass)
    _check_regex(file, "oracle.self_check_fail", parsed.oracle.self_check_fail)
    if parsed.oracle.empty_output_ok and not parsed.oracle.weak_check:
        raise ConfigError(
            file, "oracle.weak_check", "required with empty_output_ok: say why the check is weak"
        )
    if parsed.oracle.compare != "stdout" and not parsed.oracle.output_files:
        raise ConfigError(file, "oracle.output_files", "required when compare is 'files' or 'both'")
    for name, variant in parsed.variants.items():
        _check_variant(app_dir, file, name, variant)
    if parsed.run.mpi is not None:
        _check_mpi(file, parsed.run.mpi)
    inputs = [AppInput("default", parsed.inputs["default"].args)]
    inputs += [
        AppInput(name, entry.args, entry.hidden)
        for name, entry in parsed.inputs.items()
        if name != "default"
    ]
    return AppManifest(
        name=parsed.app.name,
        root=str(app_dir.resolve()),
        summary=parsed.app.summary,
        pattern=parsed.app.pattern,
        build=parsed.build,
        run=parsed.run,
        inputs=tuple(inputs),
        oracle=parsed.oracle,
        variants=tuple(parsed.variants.items()),
    )


def find_app(suite_path: Path, name: str) -> AppManifest:
    """The app `name` under `suite_path` (a directory of app directories, each with app.toml)."""
    app_dir = suite_path / name
    if not (app_dir / MANIFEST_NAME).is_file():
        known = sorted(p.parent.name for p in suite_path.glob(f"*/{MANIFEST_NAME}"))
        raise AppError(
            f"no app {name!r} in {suite_path} (no {name}/{MANIFEST_NAME}); "
            f"apps there: {', '.join(known) or 'none'}"
        )
    return load_manifest(app_dir)


def _check_regex(file: str, key: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ConfigError(file, key, f"not a valid regular expression: {error}") from None


def _check_mpi(file: str, mpi: MpiSpec) -> None:
    if mpi.ranks < 1:
        raise ConfigError(file, "run.mpi.ranks", "must be >= 1", value=mpi.ranks, show_value=True)
    if not 1 <= mpi.nodes <= mpi.ranks:
        raise ConfigError(
            file,
            "run.mpi.nodes",
            f"must be between 1 and ranks ({mpi.ranks})",
            value=mpi.nodes,
            show_value=True,
        )
    problem = launcher_problem(mpi.launcher)
    if problem is not None:
        raise ConfigError(
            file, "run.mpi.launcher", problem, value=list(mpi.launcher), show_value=True
        )


def _check_variant(app_dir: Path, file: str, name: str, variant: VariantSpec) -> None:
    key = f"variants.{name}"
    if not variant.sources:
        raise ConfigError(file, f"{key}.sources", "must list at least one file")
    for index, editable in enumerate(variant.editable):
        if editable not in variant.sources:
            raise ConfigError(
                file, f"{key}.editable[{index}]", f"{editable!r} is not among the sources"
            )
    for index, source in enumerate(variant.sources):
        if Path(source).is_absolute() or ".." in Path(source).parts:
            raise ConfigError(file, f"{key}.sources[{index}]", "must be relative, without '..'")
        if not (app_dir / variant.dir / source).is_file():
            raise ConfigError(
                file, f"{key}.sources[{index}]", f"file not found: {app_dir / variant.dir / source}"
            )
    for field_name in ("outside_sources", "run_files"):
        for index, outside in enumerate(getattr(variant, field_name)):
            _check_outside_file(app_dir, file, f"{key}.{field_name}[{index}]", outside, variant)


def _check_outside_file(
    app_dir: Path, file: str, key: str, outside: str, variant: VariantSpec
) -> None:
    """A file of the app directory outside the variant's, named relative to the app directory
    (not the variant's): what a Makefile or an argument names as ../x."""
    if Path(outside).is_absolute() or ".." in Path(outside).parts:
        raise ConfigError(file, key, "must be relative, without '..'")
    if not (app_dir / outside).is_file():
        raise ConfigError(file, key, f"file not found: {app_dir / outside}")
    if (app_dir / outside).resolve().is_relative_to((app_dir / variant.dir).resolve()):
        raise ConfigError(
            file,
            key,
            f"{outside!r} is inside the variant directory {variant.dir!r}: list it in sources",
        )
