"""Describe an app of a HeCBench checkout (`src/<app>-<variant>/`) as an AppManifest.

HeCBench is the user's own checkout; nothing of it is copied into this repository. An app variant
there is a directory with a Makefile whose `run` target runs `./main <args>`. The full adapter (the
per-app oracle table, held-out arguments, site toolchains) builds on this.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from lassi_hpc.apps.manifest import (
    AppInput,
    AppManifest,
    BuildSpec,
    Language,
    OracleSpec,
    RunSpec,
    VariantSpec,
)
from lassi_hpc.errors import AppError

LANGUAGES: tuple[Language, ...] = ("cuda", "hip", "omp")
CODE_SUFFIXES = (".cu", ".cuh", ".cpp", ".cc", ".c", ".h", ".hpp", ".hip")
# Build products and data that must not be copied as sources.
SKIPPED_NAMES = ("main", "a.out")
SKIPPED_SUFFIXES = (".o", ".so", ".a", ".bin", ".dat", ".gz", ".zip")

_RUN_LINE = re.compile(r"\./(?:\$\(program\)|main\b)(?P<args>.*)$")


def variant_dir(suite_root: Path, app: str, variant: str) -> Path:
    return suite_root / "src" / f"{app}-{variant}"


def make_run_args(makefile: Path) -> tuple[str, ...]:
    """The arguments the Makefile's `run` target passes to the program (empty if none)."""
    lines = makefile.read_text(encoding="utf-8", errors="replace").splitlines()
    in_run = False
    for line in lines:
        if re.match(r"^run\s*:", line):
            in_run = True
            continue
        if in_run and line.startswith("\t"):
            match = _RUN_LINE.search(line.strip())
            if match:
                return tuple(shlex.split(match.group("args")))
        elif in_run and line.strip() and not line.startswith("\t"):
            break
    raise AppError(f"{makefile}: no `run` target that runs ./$(program) or ./main")


def describe_hecbench_app(
    suite_root: Path,
    app: str,
    variants: Sequence[str],
    args: Sequence[str] | None = None,
    heldout_args: Sequence[Sequence[str]] = (),
    editable: Sequence[str] | None = None,
    oracle: OracleSpec | None = None,
    run_timeout_s: float = 600.0,
) -> AppManifest:
    """An AppManifest for `src/<app>-<variant>` directories of a HeCBench checkout.

    `args` defaults to those of the first variant's `make run`. `editable` defaults to every code
    file but the Makefiles; the adapter narrows it to exclude verification code.
    """
    if not variants:
        raise AppError(f"{app}: name at least one variant ({', '.join(LANGUAGES)})")
    specs: list[tuple[str, VariantSpec]] = []
    for variant in variants:
        if variant not in LANGUAGES:
            raise AppError(f"{app}: variant {variant!r} must be one of {', '.join(LANGUAGES)}")
        directory = variant_dir(suite_root, app, variant)
        if not (directory / "Makefile").is_file():
            raise AppError(f"{app}-{variant}: no Makefile in {directory}")
        sources = _source_files(directory)
        chosen = tuple(editable) if editable is not None else _code_files(sources)
        missing = [name for name in chosen if name not in sources]
        if missing:
            raise AppError(f"{app}-{variant}: editable files not found: {', '.join(missing)}")
        specs.append((variant, VariantSpec(variant, directory.name, sources, chosen)))
    if args is None:
        args = make_run_args(variant_dir(suite_root, app, variants[0]) / "Makefile")
    inputs = [AppInput("default", tuple(args))]
    inputs += [
        AppInput(f"heldout-{i + 1}", tuple(a), hidden=True) for i, a in enumerate(heldout_args)
    ]
    return AppManifest(
        name=app,
        root=str((suite_root / "src").resolve()),
        summary=f"HeCBench {app}",
        pattern="",
        build=BuildSpec(command=("make",), binary="main"),
        run=RunSpec(timeout_s=run_timeout_s),
        inputs=tuple(inputs),
        oracle=oracle or OracleSpec(),
        variants=tuple(specs),
    )


def _source_files(directory: Path) -> tuple[str, ...]:
    names = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.name in SKIPPED_NAMES or path.suffix in SKIPPED_SUFFIXES:
            continue
        names.append(str(path.relative_to(directory)))
    return tuple(names)


def _code_files(sources: Sequence[str]) -> tuple[str, ...]:
    return tuple(name for name in sources if Path(name).suffix in CODE_SUFFIXES)
