"""What a HeCBench variant's Makefile reads from outside its own directory.

Some omp variants share the cuda variant's files: keogh-omp's Makefile has
`CFLAGS := ... -I../keogh-cuda` and `%.o: %.cpp ../keogh-cuda/reference.h Makefile`. The build's
scratch copy must then hold those files (VariantSpec.outside_sources), and a toolchain that
replaces CFLAGS must put the include flags back (`$(HECBENCH_INCLUDES)`, docs/hecbench.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The make variable, passed on the command line, that carries the Makefile's -I flags.
INCLUDES_VARIABLE = "HECBENCH_INCLUDES"
HEADER_SUFFIXES = (".h", ".hpp", ".cuh")

# `-I<dir>` or `-I <dir>`, at the start of a word or right after an assignment's `=`.
_INCLUDE_FLAG = re.compile(r"(?:^|(?<=[\s=]))-I\s*(?P<dir>\S+)")
_PARENT_PATH = re.compile(r"(?:^|(?<=[\s=:]))(?P<path>\.\./\S+)")


@dataclass(frozen=True)
class MakefileReach:
    """The include flags of a Makefile and the files of the app root outside the variant
    directory that its build reads."""

    include_flags: tuple[str, ...]  # every `-I<dir>` as `-I<dir>`, in order, each once
    outside_sources: tuple[str, ...]  # relative to the app root, sorted


def scan_makefile(makefile: Path, app_root: Path) -> MakefileReach:
    """The `-I` flags of `makefile` and the files under `app_root` outside the Makefile's
    directory that it names: each `../<dir>/<file>` that exists (prerequisites, sources), and
    every header (.h .hpp .cuh, not in subdirectories) of each `-I../<dir>`.

    Every header of an include directory rather than only those the sources #include: a header
    may include its neighbours, and a copied header that is not used costs nothing. Paths with
    make variables (`$(...)`) are left out: their value is not known here. Paths that lead out
    of `app_root` are left out too; the build then fails with the compiler's message.
    """
    variant_dir = makefile.parent
    text = logical_text(makefile.read_text(encoding="utf-8", errors="replace"))
    flags: list[str] = []
    outside: set[str] = set()
    for match in _INCLUDE_FLAG.finditer(text):
        directory = match.group("dir")
        if "$" in directory:
            continue
        if f"-I{directory}" not in flags:
            flags.append(f"-I{directory}")
        relative = _outside_relative(variant_dir, directory, app_root)
        if relative is not None and (app_root / relative).is_dir():
            outside.update(_headers(app_root, relative))
    for match in _PARENT_PATH.finditer(text):
        path = match.group("path").rstrip(":;,")
        if "$" in path:
            continue
        relative = _outside_relative(variant_dir, path, app_root)
        if relative is not None and (app_root / relative).is_file():
            outside.add(relative)
    return MakefileReach(tuple(flags), tuple(sorted(outside)))


def argument_files(args: Iterable[str], variant_dir: Path, app_root: Path) -> tuple[str, ...]:
    """Files under `app_root` outside `variant_dir` that program arguments name, relative to
    `app_root`: an argument such as `../<app>-cuda/input.bin` (or the value of
    `--input=../data/x`) that exists; a directory stands for every file under it.

    A run sees only a copy of its build directory, so these must be copied beside it for the
    argument to resolve (VariantSpec.run_files).
    """
    found: set[str] = set()
    for path in argument_paths(args):
        relative = _outside_relative(variant_dir, path, app_root)
        if relative is not None:
            target = app_root / relative
            if target.is_file():
                found.add(relative)
            elif target.is_dir():
                found.update(
                    f"{relative}/{p.relative_to(target).as_posix()}"
                    for p in target.rglob("*")
                    if p.is_file()
                )
    return tuple(sorted(found))


def argument_paths(args: Iterable[str]) -> set[str]:
    """Every program argument that may be a path: the argument itself and, for `--opt=value`,
    its value (empty strings left out)."""
    return {path for arg in args for path in (arg, arg.split("=", 1)[-1]) if path}


def logical_text(text: str) -> str:
    """The Makefile with continuation lines joined and comments dropped."""
    joined = text.replace("\\\n", " ")
    return "\n".join(line.split("#", 1)[0] for line in joined.splitlines())


def _outside_relative(variant_dir: Path, path: str, app_root: Path) -> str | None:
    """`path` (as written in the Makefile in `variant_dir`) relative to `app_root`, when it
    lies under the root but outside the variant directory; else None."""
    if os.path.isabs(path):
        return None
    root = os.path.normpath(app_root)
    target = os.path.normpath(os.path.join(variant_dir, path))
    inside_root = os.path.commonpath([root, target]) == root and target != root
    inside_variant = os.path.commonpath([os.path.normpath(variant_dir), target]) == (
        os.path.normpath(variant_dir)
    )
    if not inside_root or inside_variant:
        return None
    return Path(os.path.relpath(target, root)).as_posix()


def _headers(app_root: Path, directory: str) -> list[str]:
    return [
        f"{directory}/{path.name}"
        for path in sorted((app_root / directory).iterdir())
        if path.is_file() and path.suffix in HEADER_SUFFIXES
    ]
