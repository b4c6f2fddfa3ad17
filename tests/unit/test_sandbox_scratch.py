"""make_scratch_copy: exactly the listed files, in a fresh directory, nothing from outside."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lassi_hpc.errors import AppError
from lassi_hpc.sandbox import make_scratch_copy


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    (app / "src" / "kernels").mkdir(parents=True)
    (app / "main.cu").write_text("int main() {}\n")
    (app / "src" / "kernels" / "saxpy.cuh").write_text("// kernel\n")
    (app / "run.sh").write_text("#!/bin/sh\necho run\n")
    (app / "run.sh").chmod(0o755)
    (app / "not-listed.txt").write_text("stays behind\n")
    return app


def test_copies_exactly_the_listed_files_with_subdirectories(app_dir: Path, tmp_path: Path) -> None:
    files = ["main.cu", "src/kernels/saxpy.cuh", "run.sh"]
    copy = make_scratch_copy(app_dir, files, tmp_path / "scratch", "saxpy/cuda")
    copied = sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file())
    assert copied == sorted(files)
    assert (copy / "src" / "kernels" / "saxpy.cuh").read_text() == "// kernel\n"
    assert os.stat(copy / "run.sh").st_mode & stat.S_IXUSR, "modes are preserved"
    assert copy.parent == (tmp_path / "scratch").resolve()
    assert copy.name.startswith("saxpy_cuda-")


def test_each_copy_is_a_new_directory(app_dir: Path, tmp_path: Path) -> None:
    first = make_scratch_copy(app_dir, ["main.cu"], tmp_path, "same")
    second = make_scratch_copy(app_dir, ["main.cu"], tmp_path, "same")
    assert first != second
    (first / "main.cu").write_text("changed\n")
    assert (second / "main.cu").read_text() == "int main() {}\n"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../x", "contains '..'"),
        ("src/../../x", "contains '..'"),
        ("/etc/passwd", "absolute path"),
        ("", "empty file name"),
        ("missing.cu", "does not exist"),
        ("src", "not a regular file"),
    ],
)
def test_refuses_bad_names(app_dir: Path, tmp_path: Path, name: str, message: str) -> None:
    scratch = tmp_path / "scratch"
    with pytest.raises(AppError, match=message):
        make_scratch_copy(app_dir, ["main.cu", name], scratch, "bad")
    assert not scratch.exists() or list(scratch.iterdir()) == [], "nothing is left behind"


def test_refuses_a_symlink_that_leads_outside(app_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret\n")
    (app_dir / "link.cu").symlink_to(secret)
    with pytest.raises(AppError, match="outside the application directory"):
        make_scratch_copy(app_dir, ["link.cu"], tmp_path / "scratch", "bad")


def test_missing_source_directory_is_an_app_error(tmp_path: Path) -> None:
    with pytest.raises(AppError, match="does not exist"):
        make_scratch_copy(tmp_path / "nope", ["a"], tmp_path / "scratch", "x")
