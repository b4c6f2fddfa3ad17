"""App manifests: the fixture and bundled apps load; malformed manifests are rejected precisely."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lassi_hpc.apps.load import find_app, load_manifest
from lassi_hpc.config.campaign import bundled_examples_dir
from lassi_hpc.errors import AppError, ConfigError

DATA = Path(__file__).resolve().parents[1] / "data" / "apps"


def test_fixture_app_loads() -> None:
    manifest = load_manifest(DATA / "tiny")
    assert manifest.name == "tiny"
    assert manifest.default_input.name == "default"
    assert manifest.default_input.args == ("200000", "20")
    assert [i.name for i in manifest.hidden_inputs] == ["heldout"]
    omp = manifest.variant("omp")
    assert omp.editable == ("kernel.cpp",)
    assert manifest.oracle.compare == "both"
    assert manifest.oracle.output_files == ("result.txt",)


def test_unknown_variant_lists_the_known_ones() -> None:
    manifest = load_manifest(DATA / "tiny")
    with pytest.raises(AppError, match=r"no variant 'cuda'.*omp"):
        manifest.variant("cuda")


def test_find_app_names_the_apps_that_exist() -> None:
    with pytest.raises(AppError, match=r"no app 'tinny'.*tiny"):
        find_app(DATA, "tinny")


def test_every_bundled_app_declares_three_variants_and_a_hidden_input() -> None:
    apps = sorted(p.parent.name for p in bundled_examples_dir().glob("*/app.toml"))
    assert len(apps) >= 4
    for name in apps:
        manifest = find_app(bundled_examples_dir(), name)
        # The MPI example (heat1d-mpi) is MPI + OpenMP only.
        wanted = {"omp"} if manifest.run.mpi is not None else {"cuda", "hip", "omp"}
        assert {v for v, _ in manifest.variants} >= wanted, name
        assert manifest.hidden_inputs, f"{name} has no held-out input"
        for _, variant in manifest.variants:
            assert variant.editable, f"{name}/{variant.dir} declares no editable file"
            assert set(variant.editable) < set(variant.sources), "the check code must stay fixed"


EDITABLE = 'editable = ["kernel.cpp"]'


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    app = tmp_path / "tiny"
    shutil.copytree(DATA / "tiny", app)
    manifest = app / "app.toml"
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, new, 1))
    return app


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ('editable = ["kernel.cpp"]', 'editable = ["main.cpp2"]', "variants.omp.editable[0]"),
        ('"kernel.h", "Makefile"]', '"kernel.h", "Makefile", "gone.cpp"]', "file not found"),
        ('"kernel.h", "Makefile"]', '"kernel.h", "../x"]', "without '..'"),
        ("[inputs.default]", "[inputs.main]", "'default' is required"),
        ('compare = "both"', 'compare = "all"', "stdout, files, both"),
        ("rtol = 1e-9", 'rtol = "tight"', "oracle.rtol"),
        ("mask = ['(?i)\\btime\\b']", "mask = ['(unclosed']", "oracle.mask[0]"),
        ('language = "omp"', 'language = "sycl"', "variants.omp.language"),
        ("[run]", "[runn]", "did you mean 'run'"),
        ('compare = "both"', 'compare = "both"\nempty_output_ok = true', "oracle.weak_check"),
        (EDITABLE, f'{EDITABLE}\noutside_sources = ["../x.h"]', "outside_sources[0]: must be"),
        (EDITABLE, f'{EDITABLE}\noutside_sources = ["gone.h"]', "file not found"),
        (EDITABLE, f'{EDITABLE}\noutside_sources = ["omp/kernel.h"]', "list it in sources"),
        (EDITABLE, f'{EDITABLE}\nrun_files = ["/etc/hosts"]', "run_files[0]: must be relative"),
        (EDITABLE, f'{EDITABLE}\nrun_files = ["data/gone.bin"]', "run_files[0]: file not found"),
        (EDITABLE, f'{EDITABLE}\nrun_files = ["omp/kernel.h"]', "list it in sources"),
    ],
)
def test_broken_manifests(tmp_path: Path, old: str, new: str, fragment: str) -> None:
    app = broken_copy(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_manifest(app)
    assert fragment in str(caught.value)
    assert str(app / "app.toml") in str(caught.value)


def test_outside_sources_are_files_of_the_app_directory(tmp_path: Path) -> None:
    app = broken_copy(tmp_path, EDITABLE, f'{EDITABLE}\noutside_sources = ["shared/banner.h"]')
    (app / "shared").mkdir()
    (app / "shared" / "banner.h").write_text("// shared by the variants\n")
    omp = load_manifest(app).variant("omp")
    assert omp.outside_sources == ("shared/banner.h",)
    assert "shared/banner.h" not in omp.editable
    assert load_manifest(DATA / "tiny").variant("omp").outside_sources == ()


def test_run_files_are_files_of_the_app_directory(tmp_path: Path) -> None:
    app = broken_copy(tmp_path, EDITABLE, f'{EDITABLE}\nrun_files = ["data/input.txt"]')
    (app / "data").mkdir()
    (app / "data" / "input.txt").write_text("3 1 4\n")
    omp = load_manifest(app).variant("omp")
    assert omp.run_files == ("data/input.txt",) and omp.outside_sources == ()
    assert load_manifest(DATA / "tiny").variant("omp").run_files == ()
