"""Shared-filesystem paths of a Slurm site: where Parsl's run directory goes, and whether
`lassi-hpc check` takes a path for shared (from a /proc/mounts text written here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lassi_hpc.cli import main
from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.flow.run_dirs import parsl_run_dir
from lassi_hpc.slurm.shared_fs import check_shared_paths, mount_of, parse_mounts

MOUNTS = """\
overlay / overlay rw,relatime 0 0
tmpfs /tmp tmpfs rw 0 0
10.0.0.5:/export/home /home nfs4 rw,vers=4.2 0 0
lustre01@o2ib:/scratch /scratch lustre rw,flock 0 0
tmpfs /scratch/local\\040disk tmpfs rw 0 0
"""

SLURM_SITE = """
[site]
name = "cluster"
scheduler = "slurm"

[slurm]
{shared}

[toolchains.gcc]
language = "omp"
compiler = "g++"

[[partitions]]
name = "omp"
toolchain = "gcc"

[llm_servers.embedded]
kind = "embedded"
"""

CAMPAIGN = """
[campaign]
name = "energy"
results_dir = "results"

[[apps]]
name = "stencil2d"
"""


def test_mounts_are_parsed_with_escapes_and_the_deepest_mount_wins() -> None:
    mounts = parse_mounts(MOUNTS)
    assert [m.fs_type for m in mounts] == ["overlay", "tmpfs", "nfs4", "lustre", "tmpfs"]
    assert mounts[-1].mount_point == Path("/scratch/local disk")
    # Paths need not exist: the nearest existing ancestor decides, here "/".
    assert mount_of(Path("/scratch/me/x"), mounts) is not None


def test_local_and_shared_filesystems_are_told_apart() -> None:
    checks = check_shared_paths(
        [("results", Path("/tmp/results")), ("sources", Path("/"))], mounts_text=MOUNTS
    )
    assert [c.shared for c in checks] == [False, False]
    assert "WARN results /tmp/results: on tmpfs" in checks[0].line()
    assert "compute nodes must see this path" in checks[0].line()


def test_a_network_filesystem_counts_as_shared(tmp_path: Path) -> None:
    # The mount table names tmp_path itself as an NFS mount point.
    mounts = MOUNTS + f"server:/vol {tmp_path} nfs rw 0 0\n"
    (check,) = check_shared_paths([("run dir", tmp_path / "campaign" / "parsl")], mounts)
    assert check.shared is True
    assert check.line().startswith("ok   run dir")
    assert "nfs (mounted at" in check.line()


def test_parsl_run_dir_follows_shared_dir(tmp_path: Path) -> None:
    (tmp_path / "campaign.toml").write_text(CAMPAIGN)
    campaign = load_campaign(tmp_path / "campaign.toml")
    (tmp_path / "plain.toml").write_text(SLURM_SITE.format(shared=""))
    plain = load_site(tmp_path / "plain.toml")
    assert parsl_run_dir(plain, campaign.results_file) == campaign.results_file.parent / "parsl"
    shared = tmp_path / "shared"
    (tmp_path / "shared.toml").write_text(SLURM_SITE.format(shared=f'shared_dir = "{shared}"'))
    site = load_site(tmp_path / "shared.toml")
    assert parsl_run_dir(site, campaign.results_file) == shared / "energy" / "parsl"


def test_check_reports_the_shared_paths_of_a_slurm_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "campaign.toml").write_text(CAMPAIGN)
    shared = tmp_path / "shared"
    (tmp_path / "site.toml").write_text(SLURM_SITE.format(shared=f'shared_dir = "{shared}"'))
    files = [str(tmp_path / "site.toml"), str(tmp_path / "campaign.toml")]
    assert main(["check", "--offline", *files]) == 0  # warnings never fail a check
    out = capsys.readouterr().out
    assert "paths its compute nodes share" in out
    assert f"[slurm] shared_dir {shared}" in out
    assert f"energy: Parsl run directory {shared / 'energy' / 'parsl'}" in out
    assert "energy: results directory" in out
    assert "energy: app sources" in out
