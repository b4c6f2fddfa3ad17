"""build_variant for a variant with outside sources: the scratch copy holds the app root's named
files, make runs in `<copy>/<variant dir>` under each sandbox layer (as root, with the run's own
uid), and cleanup removes the whole copy. Real g++, a one-file program."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import require_mode, traversable_scratch_root

from lassi_hpc.apps.manifest import (
    AppInput,
    AppManifest,
    BuildSpec,
    OracleSpec,
    RunSpec,
    VariantSpec,
)
from lassi_hpc.config.site import SandboxSection, Toolchain
from lassi_hpc.sandbox import SANDBOX_ENV_VAR
from lassi_hpc.stages.build import build_copy_root, build_variant, remove_build_copy
from lassi_hpc.stages.run import run_input

MAKEFILE = """CXX = false
main: main.cpp ../../shared/answer.h
\t$(CXX) -I../../shared -o main main.cpp
"""
MAIN = '#include <cstdio>\n#include "answer.h"\nint main() { printf("%d\\n", ANSWER); }\n'
TOOLCHAIN = Toolchain(language="omp", compiler="g++", make_vars={"CXX": "g++"})
LIMITS = SandboxSection().limits(60)


def app_tree(root: Path) -> AppManifest:
    """An app whose variant lies two levels down (apps/omp) and includes ../../shared/answer.h."""
    (root / "apps" / "omp").mkdir(parents=True)
    (root / "shared").mkdir()
    (root / "shared" / "answer.h").write_text("#define ANSWER 42\n")
    (root / "shared" / "answer.h").chmod(0o600)  # a private checkout: the run's uid reads a copy
    (root / "shared" / "unused.h").write_text("#error not named, not copied\n")
    (root / "apps" / "omp" / "Makefile").write_text(MAKEFILE)
    (root / "apps" / "omp" / "main.cpp").write_text(MAIN)
    variant = VariantSpec(
        "omp", "apps/omp", ("Makefile", "main.cpp"), ("main.cpp",), ("shared/answer.h",)
    )
    return AppManifest(
        name="answer",
        root=str(root),
        summary="",
        pattern="",
        build=BuildSpec(timeout_s=60),
        run=RunSpec(timeout_s=20),
        inputs=(AppInput("default", ()),),
        oracle=OracleSpec(),
        variants=(("omp", variant),),
    )


@pytest.fixture
def scratch_root() -> Iterator[Path]:
    with traversable_scratch_root() as root:
        yield root


@pytest.mark.parametrize("mode", ["bwrap", "unshare", "rlimits"])
def test_builds_in_the_variant_subdirectory_of_a_copy_of_the_root(
    mode: str, tmp_path: Path, scratch_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("g++") is None:
        pytest.skip("g++ not on PATH")
    monkeypatch.setenv(SANDBOX_ENV_VAR, require_mode(mode))
    manifest = app_tree(tmp_path / "app")
    build = build_variant(manifest, "omp", "g++", TOOLCHAIN, scratch_root, LIMITS)
    assert build.ok, build.command.stderr + build.command.stdout
    build_dir = Path(build.build_dir)
    copy = build_copy_root(build_dir, manifest.variant("omp"))
    assert build_dir == copy / "apps" / "omp"
    assert copy.parent == scratch_root.resolve()
    assert (copy / "shared" / "answer.h").read_text() == "#define ANSWER 42\n"
    assert not (copy / "shared" / "unused.h").exists()
    assert (build_dir.stat().st_mode & 0o777) == 0o700, "the build directory stays private"
    run = run_input(build, manifest, manifest.default_input, scratch_root, LIMITS)
    assert run.command.stdout == "42\n"
    remove_build_copy(manifest, build)
    assert list(scratch_root.iterdir()) == []


def test_the_sources_hash_covers_the_outside_files(tmp_path: Path, scratch_root: Path) -> None:
    if shutil.which("g++") is None:
        pytest.skip("g++ not on PATH")
    manifest = app_tree(tmp_path / "app")
    first = build_variant(manifest, "omp", "g++", TOOLCHAIN, scratch_root, LIMITS)
    (tmp_path / "app" / "shared" / "answer.h").write_text("#define ANSWER 43\n")
    second = build_variant(manifest, "omp", "g++", TOOLCHAIN, scratch_root, LIMITS)
    assert first.ok and second.ok
    assert first.sources_sha256 != second.sources_sha256


def test_an_outside_source_cannot_be_replaced(tmp_path: Path, scratch_root: Path) -> None:
    if shutil.which("g++") is None:
        pytest.skip("g++ not on PATH")
    manifest = app_tree(tmp_path / "app")
    for name in ("shared/answer.h", "../../shared/answer.h"):
        with pytest.raises(ValueError, match="is not an editable file of answer/omp"):
            build_variant(manifest, "omp", "g++", TOOLCHAIN, scratch_root, LIMITS, {name: "x"})
    assert list(scratch_root.iterdir()) == [], "refused before anything is copied"


def test_without_outside_sources_the_copy_is_the_build_directory(tmp_path: Path) -> None:
    variant = VariantSpec("omp", "apps/omp", ("main.cpp",), ("main.cpp",))
    assert build_copy_root(tmp_path / "copy", variant) == tmp_path / "copy"
    with_outside = VariantSpec("omp", "apps/omp", ("main.cpp",), ("main.cpp",), ("x.h",))
    assert build_copy_root(tmp_path / "c" / "apps" / "omp", with_outside) == tmp_path / "c"
