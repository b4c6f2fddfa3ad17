"""Run files: inputs a variant's runs read from outside its directory (a HeCBench argument such as
`../<app>-cuda/input.txt`). The adapter finds them in the arguments, and each run's scratch copy
holds them where the argument points, under every sandbox layer. Real make, g++ and sandbox;
fixture apps written by the tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sandbox_support import require_mode, traversable_scratch_root

from lassi_hpc.apps.hecbench import describe_hecbench_app
from lassi_hpc.apps.hecbench_makefile import argument_files
from lassi_hpc.config.site import SandboxSection, Toolchain
from lassi_hpc.sandbox import SANDBOX_ENV_VAR
from lassi_hpc.stages.build import build_variant, remove_build_copy
from lassi_hpc.stages.run import run_input

# Prints the sum of the numbers in the file its first argument names.
MAIN = """#include <cstdio>
int main(int argc, char** argv) {
  if (argc < 2) return 2;
  FILE* f = std::fopen(argv[1], "r");
  if (!f) { std::perror(argv[1]); return 1; }
  long sum = 0, x = 0;
  while (std::fscanf(f, "%ld", &x) == 1) sum += x;
  std::printf("sum %ld\\n", sum);
  return 0;
}
"""
MAKEFILE = """CC = g++
main: main.cpp
\t$(CC) -O1 -o main main.cpp
run: main
\t./main ../app-cuda/input.txt
"""
TOOLCHAIN = Toolchain(language="omp", compiler="g++", make_vars={})
LIMITS = SandboxSection().limits(60)


def suite_tree(root: Path) -> Path:
    """A HeCBench-like checkout whose omp variant reads its input from the cuda variant's
    directory; data/ holds a directory of further inputs."""
    src = root / "src"
    for name in ("app-omp", "app-cuda", "data/app/more"):
        (src / name).mkdir(parents=True)
    (src / "app-omp" / "Makefile").write_text(MAKEFILE)
    (src / "app-omp" / "main.cpp").write_text(MAIN)
    (src / "app-cuda" / "input.txt").write_text("1 2 3 4\n")
    (src / "app-cuda" / "input.txt").chmod(0o600)  # a private checkout: runs read a copy
    (src / "data" / "app" / "a.txt").write_text("10\n")
    (src / "data" / "app" / "more" / "b.txt").write_text("20\n")
    return root


@pytest.fixture
def scratch_root() -> Iterator[Path]:
    with traversable_scratch_root() as root:
        yield root


def test_arguments_naming_files_outside_the_variant_are_found(tmp_path: Path) -> None:
    src = suite_tree(tmp_path / "suite") / "src"
    (tmp_path / "suite" / "outside.txt").write_text("beyond src/\n")
    (src / "app-omp" / "local.txt").write_text("in the variant directory\n")
    variant = src / "app-omp"
    found = argument_files(
        [
            "100",
            "../app-cuda/input.txt",
            "--data=../data/app",  # a directory: every file under it
            "local.txt",  # already in the variant's own copy
            "../../outside.txt",  # outside the app root: not copied
            "../app-cuda/missing.txt",
        ],
        variant,
        src,
    )
    assert found == ("app-cuda/input.txt", "data/app/a.txt", "data/app/more/b.txt")


def test_the_adapter_gives_every_variant_the_files_its_arguments_name(tmp_path: Path) -> None:
    suite = suite_tree(tmp_path / "suite")
    manifest = describe_hecbench_app(suite, "app", ["omp"], heldout_args=[["../data/app/a.txt"]])
    assert manifest.default_input.args == ("../app-cuda/input.txt",)
    assert manifest.variant("omp").run_files == ("app-cuda/input.txt", "data/app/a.txt")
    # The Makefile's run line names the input too, so the build's copy holds it as well.
    assert manifest.variant("omp").outside_sources == ("app-cuda/input.txt",)


@pytest.mark.parametrize("mode", ["bwrap", "unshare", "rlimits"])
def test_a_run_reads_its_input_from_the_sibling_directory_of_its_copy(
    mode: str, tmp_path: Path, scratch_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("g++") is None or shutil.which("make") is None:
        pytest.skip("g++ or make not on PATH")
    monkeypatch.setenv(SANDBOX_ENV_VAR, require_mode(mode))
    suite = suite_tree(tmp_path / "suite")
    manifest = describe_hecbench_app(suite, "app", ["omp"])
    build = build_variant(manifest, "omp", "g++", TOOLCHAIN, scratch_root, LIMITS)
    assert build.ok, build.command.stderr + build.command.stdout
    run = run_input(build, manifest, manifest.default_input, scratch_root, LIMITS)
    assert run.command.ok, run.command.stderr
    assert run.command.stdout == "sum 10\n"
    remove_build_copy(manifest, build)
    assert list(scratch_root.iterdir()) == [], "the run's copy and the build's are both removed"
    assert (suite / "src" / "app-cuda" / "input.txt").read_text() == "1 2 3 4\n"


def test_without_run_files_the_input_is_not_there(tmp_path: Path, scratch_root: Path) -> None:
    """What run files fix: the same app with the argument's file unknown to the manifest."""
    if shutil.which("g++") is None or shutil.which("make") is None:
        pytest.skip("g++ or make not on PATH")
    suite = suite_tree(tmp_path / "suite")
    manifest = describe_hecbench_app(suite, "app", ["omp"])
    bare = replace(manifest.variant("omp"), run_files=())
    without = replace(manifest, variants=(("omp", bare),))
    build = build_variant(without, "omp", "g++", TOOLCHAIN, scratch_root, LIMITS)
    run = run_input(build, without, without.default_input, scratch_root, LIMITS)
    remove_build_copy(without, build)
    assert not run.command.ok
    assert "../app-cuda/input.txt" in run.command.stderr


def test_a_data_file_of_the_variant_directory_is_given_to_its_runs(
    tmp_path: Path, scratch_root: Path
) -> None:
    """`./main input.dat`: .dat files are not copied as sources (data, not code), so the build's
    copy lacks the file; it becomes a run file and the run finds it."""
    if shutil.which("g++") is None or shutil.which("make") is None:
        pytest.skip("g++ or make not on PATH")
    suite = suite_tree(tmp_path / "suite")
    variant = suite / "src" / "app-omp"
    (variant / "Makefile").write_text(MAKEFILE.replace("../app-cuda/input.txt", "input.dat"))
    (variant / "input.dat").write_text("5 6\n")
    manifest = describe_hecbench_app(suite, "app", ["omp"])
    assert "input.dat" not in manifest.variant("omp").sources
    assert manifest.variant("omp").run_files == ("app-omp/input.dat",)
    build = build_variant(manifest, "omp", "g++", TOOLCHAIN, scratch_root, LIMITS)
    assert build.ok, build.command.stderr + build.command.stdout
    run = run_input(build, manifest, manifest.default_input, scratch_root, LIMITS)
    remove_build_copy(manifest, build)
    assert run.command.ok, run.command.stderr
    assert run.command.stdout == "sum 11\n"
