"""MPI apps: `[run.mpi]` in app.toml, a site's `mpi_launcher`, the launch command lines and the
choice between the local and the one-per-node energy sampler."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from lassi_hpc.apps.load import find_app, load_manifest
from lassi_hpc.apps.manifest import AppInput, MpiSpec
from lassi_hpc.apps.mpi_install import find_mpi_tool, mpi_read_only_paths
from lassi_hpc.apps.mpi_launch import (
    app_launch_argv,
    count_flags,
    launcher_style,
    per_node_launcher,
)
from lassi_hpc.config.campaign import bundled_examples_dir
from lassi_hpc.config.site import load_site
from lassi_hpc.errors import ConfigError
from lassi_hpc.stages.mpi_meter import sampler_launcher
from lassi_hpc.stages.run import run_argv, shown_run_command

REPO = Path(__file__).resolve().parents[2]
HEAT = bundled_examples_dir() / "heat1d-mpi"
TINY = REPO / "tests" / "data" / "apps" / "tiny"

# Absolute launcher paths are used as they are: the tests do not depend on what is installed.
MPIEXEC = "/opt/mpi/bin/mpiexec"
SRUN = "/usr/bin/srun"


def test_the_bundled_mpi_app_declares_two_ranks_on_one_node() -> None:
    manifest = find_app(bundled_examples_dir(), "heat1d-mpi")
    assert manifest.run.mpi == MpiSpec(ranks=2, nodes=1, launcher=("mpiexec",))
    assert [v for v, _ in manifest.variants] == ["omp"]
    assert manifest.hidden_inputs


def test_an_app_without_run_mpi_is_not_an_mpi_app() -> None:
    assert load_manifest(TINY).run.mpi is None


def mpi_app_with(tmp_path: Path, section: str) -> Path:
    app = tmp_path / "heat1d-mpi"
    shutil.copytree(HEAT, app)
    manifest = app / "app.toml"
    text = manifest.read_text()
    old = '[run.mpi]\nranks = 2\nnodes = 1\nlauncher = ["mpiexec"]\n'
    assert old in text
    manifest.write_text(text.replace(old, section))
    return app


def test_run_mpi_defaults(tmp_path: Path) -> None:
    manifest = load_manifest(mpi_app_with(tmp_path, "[run.mpi]\nranks = 4\n"))
    assert manifest.run.mpi == MpiSpec(ranks=4, nodes=1, launcher=("mpiexec",))
    assert manifest.run.timeout_s == 60


@pytest.mark.parametrize(
    ("section", "key", "fragment"),
    [
        ("[run.mpi]\nranks = 0\n", "run.mpi.ranks", "must be >= 1"),
        ("[run.mpi]\nranks = 2\nnodes = 3\n", "run.mpi.nodes", "between 1 and ranks (2)"),
        ("[run.mpi]\nranks = 2\nnodes = 0\n", "run.mpi.nodes", "between 1 and ranks"),
        ('[run.mpi]\nranks = 2\nlauncher = ["aprun"]\n', "run.mpi.launcher", "'aprun' is not"),
        ("[run.mpi]\nranks = 2\nlauncher = []\n", "run.mpi.launcher", "must name a launcher"),
        ("[run.mpi]\nrank = 2\n", "run.mpi.rank", "did you mean 'ranks'"),
        ("[run.mpi]\nnodes = 1\n", "run.mpi.ranks", "required key is missing"),
        ('[run.mpi]\nranks = "2"\n', "run.mpi.ranks", "must be an integer"),
    ],
)
def test_broken_run_mpi_names_file_and_key(
    tmp_path: Path, section: str, key: str, fragment: str
) -> None:
    app = mpi_app_with(tmp_path, section)
    with pytest.raises(ConfigError) as caught:
        load_manifest(app)
    assert caught.value.file == str(app / "app.toml")
    assert caught.value.key == key
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("launcher", "style"),
    [
        (("mpiexec",), "mpiexec"),
        (("/usr/bin/mpirun", "--bind-to", "core"), "mpiexec"),
        (("mpiexec.hydra",), "mpiexec"),
        (("srun", "--mpi=pmix"), "srun"),
        (("aprun",), None),
        ((), None),
    ],
)
def test_launcher_style_comes_from_the_program_name(
    launcher: tuple[str, ...], style: str | None
) -> None:
    assert launcher_style(launcher) == style


def test_count_flags() -> None:
    assert count_flags("mpiexec", 2, 1) == ("-n", "2")
    assert count_flags("mpiexec", 5, 2) == ("-n", "5", "-ppn", "3")
    assert count_flags("srun", 8, 2) == ("--ntasks=8", "--nodes=2")
    with pytest.raises(ValueError, match="nodes <= ranks"):
        count_flags("mpiexec", 2, 3)


def test_app_launch_puts_launcher_and_counts_before_the_binary() -> None:
    mpi = MpiSpec(ranks=2, launcher=(MPIEXEC, "-bind-to", "core"))
    argv = app_launch_argv(mpi, ("./main", "100", "10"))
    assert argv == (MPIEXEC, "-bind-to", "core", "-n", "2", "./main", "100", "10")


def test_a_site_launcher_replaces_the_apps_and_brings_its_own_flags() -> None:
    mpi = MpiSpec(ranks=8, nodes=2, launcher=("mpiexec",))
    argv = app_launch_argv(mpi, ("./main",), site_launcher=(SRUN, "--mpi=pmix"))
    assert argv == (SRUN, "--mpi=pmix", "--ntasks=8", "--nodes=2", "./main")


def test_a_bare_launcher_name_is_found_beside_this_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    mpiexec = bin_dir / "mpiexec"
    mpiexec.write_text("#!/bin/sh\n")
    mpiexec.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    assert find_mpi_tool("mpiexec") == str(mpiexec)
    argv = app_launch_argv(MpiSpec(ranks=2), ("./main",))
    assert argv == (str(mpiexec), "-n", "2", "./main")
    # The sandbox must see the installation: its prefix, not its bin/.
    assert mpi_read_only_paths(str(mpiexec), str(mpiexec)) == (tmp_path / "venv",)


def test_links_are_resolved_and_missing_tools_bind_nothing(tmp_path: Path) -> None:
    link_dir = tmp_path / "links" / "bin"
    link_dir.mkdir(parents=True)
    real = tmp_path / "mpich" / "bin" / "mpiexec"
    real.parent.mkdir(parents=True)
    real.write_text("#!/bin/sh\n")
    (link_dir / "mpiexec").symlink_to(real)
    assert mpi_read_only_paths(str(link_dir / "mpiexec")) == (tmp_path / "mpich",)
    assert mpi_read_only_paths(str(tmp_path / "missing" / "bin" / "mpiexec")) == ()


def test_run_argv_of_plain_and_mpi_apps() -> None:
    heat = find_app(bundled_examples_dir(), "heat1d-mpi")
    tiny = load_manifest(TINY)
    args = AppInput("default", ("100", "10", "0.25"))
    assert run_argv("main", tiny, args) == ("./main", "100", "10", "0.25")
    argv = run_argv("main", heat, args, mpi_launcher=(MPIEXEC,))
    assert argv == (MPIEXEC, "-n", "2", "./main", "100", "10", "0.25")


def test_the_command_shown_to_the_llm_names_the_launcher_and_hides_held_out_arguments() -> None:
    heat = find_app(bundled_examples_dir(), "heat1d-mpi")
    tiny = load_manifest(TINY)
    default = AppInput("default", ("100", "10"))
    hidden = AppInput("heldout", ("123", "7"), hidden=True)
    assert shown_run_command("main", tiny, default) == "./main 100 10"
    assert shown_run_command("main", heat, default) == "mpiexec -n 2 ./main 100 10"
    shown = shown_run_command("main", heat, hidden, mpi_launcher=("srun",))
    assert shown == "srun --ntasks=2 --nodes=1 ./main <held-out arguments>"


# ---- which sampler measures the app


def test_plain_and_one_node_apps_get_the_local_sampler() -> None:
    assert sampler_launcher(None) == ()
    assert sampler_launcher(MpiSpec(ranks=16, nodes=1, launcher=(MPIEXEC,))) == ()
    assert sampler_launcher(MpiSpec(ranks=16, nodes=1), site_launcher=(SRUN,)) == ()


def test_a_multi_node_app_gets_one_sampler_per_node_under_its_launcher() -> None:
    mpi = MpiSpec(ranks=64, nodes=4, launcher=(MPIEXEC,))
    assert sampler_launcher(mpi) == (MPIEXEC, "-n", "4", "-ppn", "1")
    assert sampler_launcher(mpi, site_launcher=(SRUN, "--mpi=pmix")) == (
        SRUN,
        "--mpi=pmix",
        "--nodes=4",
        "--ntasks=4",
        "--ntasks-per-node=1",
        "--overlap",
    )
    assert per_node_launcher(mpi) == sampler_launcher(mpi)


# ---- the site's mpi_launcher

SITE = (REPO / "site_configs" / "local.toml").read_text()
CPU_PARTITION = 'name = "cpu"\ntoolchain = "gcc-omp"\n'


def site_with(tmp_path: Path, line: str) -> Path:
    assert CPU_PARTITION in SITE
    path = tmp_path / "site.toml"
    path.write_text(SITE.replace(CPU_PARTITION, CPU_PARTITION + line + "\n"))
    return path


def test_a_partition_may_name_its_mpi_launcher(tmp_path: Path) -> None:
    site = load_site(site_with(tmp_path, 'mpi_launcher = ["srun", "--mpi=pmix"]'))
    cpu = next(p for p in site.partitions if p.name == "cpu")
    assert cpu.mpi_launcher == ("srun", "--mpi=pmix")
    default = load_site(REPO / "site_configs" / "local.toml")
    assert all(p.mpi_launcher == () for p in default.partitions)


def test_an_unknown_site_launcher_is_refused_with_its_key(tmp_path: Path) -> None:
    path = site_with(tmp_path, 'mpi_launcher = ["qsub"]')
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    assert caught.value.key == "partitions[0].mpi_launcher"
    assert "'qsub' is not known" in str(caught.value)
