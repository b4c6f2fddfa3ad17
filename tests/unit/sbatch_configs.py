"""Campaign and Slurm site files written into a test's directory, for the sbatch script tests."""

from __future__ import annotations

from pathlib import Path

from lassi_hpc.config.campaign import CampaignConfig, load_campaign
from lassi_hpc.config.site import SiteConfig, load_site

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DATA = REPO / "tests" / "data" / "slurm"

CAMPAIGN = """
[campaign]
name = "shell"
variants = ["omp"]
results_dir = "../out"  # #SBATCH --output refuses the space of "campaign dir"

[[apps]]
name = "stencil2d"
"""

SITE = """
[site]
name = "shell-cluster"
scheduler = "slurm"

[toolchains.gcc-omp]
language = "omp"
compiler = "g++"

[[partitions]]
name = "cpu"
toolchain = "gcc-omp"

[slurm]
setup = {setup}

[slurm.driver]
partition = "cpu"
walltime = "00:10:00"
setup = ['export LASSI_TEST_DRIVER_SETUP=driver']

[llm_servers.embedded]
kind = "embedded"
"""

DEFAULT_SETUP = "['export LASSI_TEST_SITE_SETUP=site']"


def write_configs(
    directory: Path, *, setup: str = DEFAULT_SETUP
) -> tuple[CampaignConfig, SiteConfig]:
    """A one-app campaign (results under `directory`/out) and a one-partition Slurm site whose
    [slurm].setup is the TOML array `setup`; the driver's setup exports
    LASSI_TEST_DRIVER_SETUP=driver."""
    campaign_dir = directory / "campaign dir"  # a space: paths must arrive quoted
    campaign_dir.mkdir()
    campaign_file = campaign_dir / "campaign.toml"
    campaign_file.write_text(CAMPAIGN, encoding="utf-8")
    site_file = directory / "site.toml"
    site_file.write_text(SITE.format(setup=setup), encoding="utf-8")
    return load_campaign(campaign_file), load_site(site_file)


def golden_configs() -> tuple[CampaignConfig, SiteConfig]:
    """The fixed campaign and site of tests/data/slurm (the golden-file inputs)."""
    return (
        load_campaign(GOLDEN_DATA / "campaign.toml"),
        load_site(GOLDEN_DATA / "site.toml"),
    )
