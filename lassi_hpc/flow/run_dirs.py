"""Where a campaign's Parsl run directory goes: on a filesystem the workers see."""

from __future__ import annotations

from pathlib import Path

from lassi_hpc.config.site import SiteConfig

PARSL_DIR_NAME = "parsl"


def parsl_run_dir(site: SiteConfig, results_file: Path) -> Path:
    """`<shared_dir>/<campaign>/parsl` on a Slurm site that names a shared directory, else the
    `parsl` directory beside the results file.

    Block scripts, worker logs and the LLM server's log are written there by jobs on compute
    nodes and read by the driver, so it must be on a filesystem both see. The campaign's
    directory name keeps two campaigns of one site apart.
    """
    if site.slurm is not None and site.slurm.shared_dir:
        return Path(site.slurm.shared_dir) / results_file.parent.name / PARSL_DIR_NAME
    return results_file.parent / PARSL_DIR_NAME
