"""Campaign and site configs: TOML files validated into frozen dataclasses."""

from lassi_hpc.config.campaign import CampaignConfig, load_campaign
from lassi_hpc.config.site import Partition, SiteConfig, Toolchain, load_site

__all__ = ["CampaignConfig", "Partition", "SiteConfig", "Toolchain", "load_campaign", "load_site"]
