"""scan_makefile and the adapter's outside sources: files of src/ that a variant's Makefile reads
from a sibling directory (as keogh-omp reads ../keogh-cuda/reference.h). Fixture apps only."""

from __future__ import annotations

from pathlib import Path

from lassi_hpc.apps.hecbench import load_hecbench_app
from lassi_hpc.apps.hecbench_makefile import scan_makefile
from lassi_hpc.records import SourceFile
from lassi_hpc.stages.screen import screen_candidate

SUITE = Path(__file__).resolve().parents[1] / "data" / "hecbench"
SRC = SUITE / "src"


def test_the_fixture_omp_variant_reaches_into_its_cuda_sibling() -> None:
    reach = scan_makefile(SRC / "envelope-omp" / "Makefile", SRC)
    assert reach.include_flags == ("-I../envelope-cuda",)
    # Every header of the include directory: window.h is included by reference.h only.
    assert reach.outside_sources == ("envelope-cuda/reference.h", "envelope-cuda/window.h")


def test_a_self_contained_makefile_reaches_nothing() -> None:
    reach = scan_makefile(SRC / "stencil1d-omp" / "Makefile", SRC)
    assert reach.include_flags == ()
    assert reach.outside_sources == ()


def write_tree(root: Path, makefile: str) -> Path:
    for name in ("app-omp", "app-cuda", "shared/include", "app-cuda/deeper"):
        (root / name).mkdir(parents=True, exist_ok=True)
    (root / "app-cuda" / "reference.h").write_text("// ref\n")
    (root / "app-cuda" / "kernel.cu").write_text("// not a header\n")
    (root / "app-cuda" / "deeper" / "nested.h").write_text("// below the include dir\n")
    (root / "app-cuda" / "data.cpp").write_text("// a source the Makefile names\n")
    (root / "shared" / "include" / "common.hpp").write_text("// shared\n")
    (root.parent / "escape.h").write_text("// outside the app root\n")
    path = root / "app-omp" / "Makefile"
    path.write_text(makefile)
    return path


def test_flags_and_paths_in_every_makefile_form(tmp_path: Path) -> None:
    root = tmp_path / "src"
    makefile = write_tree(
        root,
        "CFLAGS := $(EXTRA_CFLAGS) -I. -I../app-cuda -I$(CUDA_HOME)/include \\\n"
        "  -I ../shared/include -I/opt/vendor/include\n"
        "CFLAGS += -I../app-cuda  # the same flag again\n"
        "# -I../commented-out ../app-cuda/kernel.cu\n"
        "source = main.cpp ../app-cuda/data.cpp ../$(OTHER)/x.h\n"
        "main: main.o ../../escape.h ../app-cuda/missing.h Makefile\n",
    )
    reach = scan_makefile(makefile, root)
    assert reach.include_flags == (
        "-I.",
        "-I../app-cuda",
        "-I../shared/include",
        "-I/opt/vendor/include",
    )
    assert reach.outside_sources == (
        "app-cuda/data.cpp",
        "app-cuda/reference.h",
        "shared/include/common.hpp",
    )


def test_the_adapter_sets_outside_sources_and_the_includes_variable() -> None:
    manifest = load_hecbench_app(SUITE, "envelope", ["omp"], table={})
    omp = manifest.variant("omp")
    assert omp.dir == "envelope-omp"
    assert omp.sources == ("Makefile", "main.cpp")
    assert omp.outside_sources == ("envelope-cuda/reference.h", "envelope-cuda/window.h")
    assert omp.editable == ("main.cpp",)
    assert manifest.build.command == ("make", "HECBENCH_INCLUDES=-I../envelope-cuda")
    assert manifest.root == str(SRC.resolve())
    plain = load_hecbench_app(SUITE, "stencil1d", ["omp"], table={})
    assert plain.build.command == ("make",)
    assert plain.variant("omp").outside_sources == ()


def test_an_outside_source_is_outside_the_edit_scope() -> None:
    manifest = load_hecbench_app(SUITE, "envelope", ["omp"], table={})
    omp = manifest.variant("omp")
    original = [SourceFile("main.cpp", (SRC / "envelope-omp" / "main.cpp").read_text())]
    for name in ("envelope-cuda/reference.h", "../envelope-cuda/reference.h", "reference.h"):
        header = SourceFile(name, "#pragma once\n")
        result = screen_candidate(original, [*original, header], omp.editable)
        assert not result.ok
        assert f"{name!r} is not an editable file" in result.reason
