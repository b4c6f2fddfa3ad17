"""Which partition builds and measures each app variant: the campaign's choice, else by language."""

from __future__ import annotations

from pathlib import Path

import pytest

from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.errors import ConfigError
from lassi_hpc.flow.baseline import plan_baseline

SITE = """
[site]
name = "two-cpus"

[toolchains.gcc]
language = "omp"
compiler = "g++"

[toolchains.nvcc]
language = "cuda"
compiler = "nvcc"

[[partitions]]
name = "first"
toolchain = "gcc"

[[partitions]]
name = "second"
toolchain = "gcc"

[[partitions]]
name = "gpu-build"
toolchain = "nvcc"
device = "nvidia"
compile_only = true
"""


def campaign_text(partition: str) -> str:
    return f"""
[campaign]
name = "routing"
variants = ["omp"]

[[apps]]
name = "stencil2d"
partition = "{partition}"

[[apps]]
name = "histogram"
"""


def plan(tmp_path: Path, partition: str) -> dict[str, str]:
    (tmp_path / "site.toml").write_text(SITE)
    (tmp_path / "campaign.toml").write_text(campaign_text(partition))
    campaign = load_campaign(tmp_path / "campaign.toml")
    site = load_site(tmp_path / "site.toml")
    return {task.manifest.name: task.partition.name for task in plan_baseline(campaign, site)}


def test_an_app_goes_where_the_campaign_says_and_the_rest_by_language(tmp_path: Path) -> None:
    assert plan(tmp_path, "second") == {"stencil2d": "second", "histogram": "first"}


def test_an_unknown_partition_is_named_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"apps\[0\]\.partition.*no partition 'thrid'.*second"):
        plan(tmp_path, "thrid")


def test_a_partition_that_builds_another_language_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"builds cuda .*not this app's omp variant"):
        plan(tmp_path, "gpu-build")
