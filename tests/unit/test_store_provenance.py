"""collect_provenance against real git, real package metadata and (fake) compilers on PATH."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
from pathlib import Path

import h5py
import pytest
from test_store_support import A100

from lassi_hpc.store import Provenance, ResultsReader, ResultsWriter, collect_provenance
from lassi_hpc.store.provenance import compiler_version

NVCC_OUTPUT = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Mar_28_02:18:24_PDT_2024
Cuda compilation tools, release 12.4, V12.4.131
Build cuda_12.4.r12.4/compiler.34097967_0
"""


def fake_tool(directory: Path, name: str, body: str) -> None:
    """An executable shell script `name` in `directory` (the compiler seam: a program on PATH)."""
    script = directory / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    fake_tool(directory, "fake-nvcc", f"cat <<'EOF'\n{NVCC_OUTPUT}EOF")
    fake_tool(directory, "fake-gxx", 'echo "g++ (GCC) 13.2.0"; echo "Copyright (C) 2023"')
    fake_tool(directory, "fake-slow", "sleep 5")
    fake_tool(directory, "fake-silent", "exit 3")
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory


def test_compiler_versions_take_the_version_line(fake_bin: Path) -> None:
    assert compiler_version("fake-nvcc", 5.0) == "Cuda compilation tools, release 12.4, V12.4.131"
    assert compiler_version("fake-gxx", 5.0) == "g++ (GCC) 13.2.0"
    assert compiler_version("no-such-compiler-anywhere", 5.0) == "not found"
    assert compiler_version("fake-slow", 0.3) == "unknown (--version took more than 0.3 s)"
    assert (
        compiler_version("fake-silent", 5.0) == "unknown (--version printed nothing, exit status 3)"
    )


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_collect_provenance_records_versions_host_git_and_time(
    fake_bin: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "campaign.toml").write_text('name = "demo"\n')
    git(repo, "add", "campaign.toml")
    git(repo, "commit", "-q", "-m", "first")
    head = git(repo, "rev-parse", "HEAD")

    found = collect_provenance(
        'name = "demo"\n',
        "[site]\n",
        [A100],
        compilers=("fake-nvcc", "no-such-compiler-anywhere"),
        repo_dir=repo,
    )
    assert found.campaign_config == 'name = "demo"\n' and found.site_config == "[site]\n"
    assert found.compilers == {
        "fake-nvcc": "Cuda compilation tools, release 12.4, V12.4.131",
        "no-such-compiler-anywhere": "not found",
    }
    assert found.packages["h5py"] == importlib.metadata.version("h5py")
    assert found.packages["numpy"] == importlib.metadata.version("numpy")
    assert found.packages["libhdf5"] == h5py.version.hdf5_version
    assert found.packages["lassi_hpc"].startswith("0.")
    assert found.python.startswith("3.")
    assert found.host["hostname"] and int(found.host["cpus_total"]) >= 1
    assert int(found.host["memory_bytes"]) > 0
    assert found.devices == (A100,)
    assert found.git_revision == head
    assert found.collected_utc.endswith("Z") and found.collected_utc[:2] == "20"

    (repo / "campaign.toml").write_text('name = "changed"\n')
    dirty = collect_provenance("", "", [], compilers=(), repo_dir=repo)
    assert dirty.git_revision == f"{head}-dirty"
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    assert collect_provenance("", "", [], compilers=(), repo_dir=outside).git_revision == "unknown"


def test_collected_provenance_round_trips_through_a_file(fake_bin: Path, tmp_path: Path) -> None:
    found = collect_provenance(
        '{"name": "demo"}', 'name = "local"\n', [A100], compilers=("fake-gxx",)
    )
    path = tmp_path / "results.h5"
    with ResultsWriter.create(path, "demo", found):
        pass
    with ResultsReader(path) as reader:
        stored = reader.provenance()
    assert stored["versions"] == found.versions()
    assert stored["versions"]["compilers"] == {"fake-gxx": "g++ (GCC) 13.2.0"}
    assert stored["host"] == dict(found.host)
    assert stored["devices"] == found.devices_as_dicts()
    assert stored["git_revision"] == found.git_revision
    with h5py.File(path, "r") as file:
        assert file["provenance/campaign_config"].attrs["syntax"] == "json"
        assert file["provenance/site_config"].attrs["syntax"] == "toml"


def test_provenance_is_frozen() -> None:
    found = Provenance("", "", "3.11", {}, {}, {}, {}, (), "unknown")
    with pytest.raises(AttributeError):
        found.git_revision = "changed"  # type: ignore[misc]
