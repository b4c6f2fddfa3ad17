"""Describe an app of a HeCBench checkout (`src/<app>-<variant>/`) as an AppManifest.

HeCBench is the user's own checkout; nothing of it is copied into this repository. An app variant
there is a directory with a Makefile whose `run` target runs `./main <args>`. `load_hecbench_app`
combines such a directory with the app's row of the oracle table (apps/hecbench_table.py); site
toolchains build it with make variables on the command line (docs/hecbench.md).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from lassi_hpc.apps.hecbench_makefile import (
    INCLUDES_VARIABLE,
    argument_files,
    argument_paths,
    logical_text,
    scan_makefile,
)
from lassi_hpc.apps.hecbench_table import (
    HECBENCH_APPS,
    VERIFICATION_NAME_PATTERNS,
    HecbenchAppFacts,
    generic_oracle,
    oracle_for,
)
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
_ASSIGNMENT = re.compile(
    r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>:{0,2}=|\?=)\s*(?P<value>.*)$"
)
_REFERENCE = re.compile(r"\$[({](?P<name>[A-Za-z_][A-Za-z0-9_]*)[)}]")
_CONDITIONAL_START = re.compile(r"^\s*(ifeq|ifneq|ifdef|ifndef)\b")
_CONDITIONAL_END = re.compile(r"^\s*endif\b")


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
                return _expanded_args(makefile, match.group("args"))
        elif in_run and line.strip() and not line.startswith("\t"):
            break
    raise AppError(
        f"{makefile}: no `run` target that runs ./$(program) or ./main; give the program's "
        "arguments in the campaign (`args = [...]` under this app's [[apps]])"
    )


def _expanded_args(makefile: Path, text: str) -> tuple[str, ...]:
    """The run line's arguments with the Makefile's own variables (`./$(program) $(SIZE)`)
    replaced by their values: passed verbatim, `$(SIZE)` would reach the program as text."""
    values = _plain_assignments(makefile)
    for _ in range(10):  # a variable's value may name another one
        text = _REFERENCE.sub(lambda m: values.get(m.group("name"), m.group(0)), text)
    unknown = sorted({m.group("name") for m in _REFERENCE.finditer(text)})
    if unknown or "$" in text:
        names = ", ".join(unknown) or text.strip()
        raise AppError(
            f"{makefile}: the `run` target's arguments use make variables whose values are not "
            f"known here ({names}); give the program's arguments in the campaign "
            "(`args = [...]` under this app's [[apps]])"
        )
    return tuple(shlex.split(text))


def _plain_assignments(makefile: Path) -> dict[str, str]:
    """`NAME = value` (also `:=`, `::=`, `?=`) outside conditionals and recipes. A variable set
    only inside `ifeq ... endif`, or appended to with `+=`, is left out: its value depends on
    what make is told."""
    text = logical_text(makefile.read_text(encoding="utf-8", errors="replace"))
    values: dict[str, str] = {}
    appended: set[str] = set()
    depth = 0
    for raw in text.splitlines():
        if raw.startswith("\t"):
            continue
        line = raw.rstrip()
        if _CONDITIONAL_START.match(line):
            depth += 1
        elif _CONDITIONAL_END.match(line):
            depth = max(0, depth - 1)
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*\+=", line):
            appended.add(line.split("+=", 1)[0].strip())
        elif (
            depth == 0
            and (match := _ASSIGNMENT.match(line))
            and (match.group("op") != "?=" or match.group("name") not in values)
        ):
            values[match.group("name")] = match.group("value").strip()
    return {name: value for name, value in values.items() if name not in appended}


def load_hecbench_app(
    suite_root: Path,
    app: str,
    variants: Sequence[str],
    args: Sequence[str] | None = None,
    heldout_args: Sequence[Sequence[str]] | None = None,
    table: Mapping[str, HecbenchAppFacts] = HECBENCH_APPS,
) -> AppManifest:
    """`src/<app>-<variant>` of the checkout at `suite_root`, judged as the oracle table says.

    `args` and `heldout_args` (a campaign's per-app overrides) replace the table's; None keeps
    them. An app not in `table` loads with the Makefile's `run` arguments and a generic oracle
    (comparison only) whose `weak_check` says so. Editable files are the code files minus
    Makefiles and verification code (the table's files and names like reference*/verify*/check*).
    """
    facts = table.get(app)
    oracle = oracle_for(facts) if facts is not None else generic_oracle(app)
    if args is None and facts is not None:
        args = facts.args
    if heldout_args is None:
        heldout_args = facts.heldout_args if facts is not None else ()
    verification = facts.verification_files if facts is not None else ()
    manifest = describe_hecbench_app(
        suite_root,
        app,
        variants,
        args=args,
        heldout_args=heldout_args,
        oracle=oracle,
        run_timeout_s=facts.run_timeout_s if facts is not None else 600.0,
    )
    if facts is not None and facts.make_args:
        build = replace(manifest.build, command=(*manifest.build.command, *facts.make_args))
        manifest = replace(manifest, build=build)
    specs = []
    for name, spec in manifest.variants:
        chosen = editable_files(spec.sources, verification)
        if not chosen:
            raise AppError(
                f"{app}-{name}: no editable code file left once Makefiles and verification code "
                f"({', '.join(verification + VERIFICATION_NAME_PATTERNS)}) are excluded"
            )
        specs.append((name, replace(spec, editable=chosen)))
    return replace(manifest, variants=tuple(specs))


def is_verification_file(name: str, verification_files: Sequence[str] = ()) -> bool:
    """True for files that hold the app's check: named in the table or like reference*/verify*."""
    base = Path(name).name.lower()
    if name in verification_files or Path(name).name in verification_files:
        return True
    return any(fnmatch.fnmatch(base, pattern) for pattern in VERIFICATION_NAME_PATTERNS)


def editable_files(
    sources: Sequence[str], verification_files: Sequence[str] = ()
) -> tuple[str, ...]:
    """The code files an LLM may change: never a Makefile, never verification code."""
    return tuple(
        name
        for name in _code_files(sources)
        if not Path(name).name.startswith("Makefile")
        and not is_verification_file(name, verification_files)
    )


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

    Files of `src/` outside the variant directory that a Makefile names (`../<app>-cuda/x.h`,
    `-I../<app>-cuda`) become the variant's outside_sources, and the Makefiles' `-I` flags the
    build command's `HECBENCH_INCLUDES=...` (for toolchains that replace CFLAGS). Files outside
    it that the inputs' arguments name (`../<app>-cuda/input.bin`) become its run_files.
    """
    if not variants:
        raise AppError(f"{app}: name at least one variant ({', '.join(LANGUAGES)})")
    app_root = (suite_root / "src").resolve()
    specs: list[tuple[str, VariantSpec]] = []
    include_flags: list[str] = []
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
        reach = scan_makefile(app_root / directory.name / "Makefile", app_root)
        include_flags += [flag for flag in reach.include_flags if flag not in include_flags]
        spec = VariantSpec(variant, directory.name, sources, chosen, reach.outside_sources)
        specs.append((variant, spec))
    if args is None:
        args = make_run_args(variant_dir(suite_root, app, variants[0]) / "Makefile")
    inputs = [AppInput("default", tuple(args))]
    inputs += [
        AppInput(f"heldout-{i + 1}", tuple(a), hidden=True) for i, a in enumerate(heldout_args)
    ]
    every_arg = [arg for app_input in inputs for arg in app_input.args]
    specs = [
        (name, replace(spec, run_files=_run_files(every_arg, app_root, spec)))
        for name, spec in specs
    ]
    # One command for every variant: the union of their flags, each relative to its own
    # variant directory. Only toolchains that replace CFLAGS read the variable.
    command: tuple[str, ...] = ("make",)
    if include_flags:
        command += (f"{INCLUDES_VARIABLE}={' '.join(include_flags)}",)
    return AppManifest(
        name=app,
        root=str(app_root),
        summary=f"HeCBench {app}",
        pattern="",
        build=BuildSpec(command=command, binary="main"),
        run=RunSpec(timeout_s=run_timeout_s),
        inputs=tuple(inputs),
        oracle=oracle or OracleSpec(),
        variants=tuple(specs),
    )


def _run_files(args: Sequence[str], app_root: Path, spec: VariantSpec) -> tuple[str, ...]:
    """The files, relative to `app_root`, that runs with `args` read beside the build's copy:
    those outside the variant directory, and its own data files that are not sources."""
    outside = argument_files(args, app_root / spec.dir, app_root)
    return tuple(sorted({*outside, *_unsourced_argument_files(args, app_root, spec)}))


def _unsourced_argument_files(
    args: Sequence[str], app_root: Path, spec: VariantSpec
) -> tuple[str, ...]:
    """Files of the variant's own directory that arguments name (`./main input.dat`) but that
    are not among its sources (SKIPPED_SUFFIXES: data, not code), relative to `app_root`: the
    build's copy lacks them, so a run would not find them without being given them."""
    directory = app_root / spec.dir
    found = []
    for path in argument_paths(args):
        if Path(path).is_absolute():
            continue
        target = Path(os.path.normpath(directory / path))
        if not target.is_relative_to(directory) or not target.is_file():
            continue
        if target.relative_to(directory).as_posix() not in spec.sources:
            found.append(target.relative_to(app_root).as_posix())
    return tuple(found)


def _source_files(directory: Path) -> tuple[str, ...]:
    names = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.name in SKIPPED_NAMES or path.suffix in SKIPPED_SUFFIXES:
            continue
        names.append(str(path.relative_to(directory)))
    return tuple(names)


def _code_files(sources: Sequence[str]) -> tuple[str, ...]:
    return tuple(name for name in sources if Path(name).suffix in CODE_SUFFIXES)
