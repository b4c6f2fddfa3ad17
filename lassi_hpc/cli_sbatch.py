"""`lassi-hpc render-sbatch`: the sbatch script of a campaign's driver, or of a vLLM server job.

lassi-hpc render-sbatch CAMPAIGN --site SITE [-o FILE]
lassi-hpc render-sbatch --vllm-server NAME --site SITE [-o FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lassi_hpc.config.campaign import load_campaign
from lassi_hpc.config.site import load_site
from lassi_hpc.errors import LassiError
from lassi_hpc.slurm.scripts import driver_script, vllm_server_script

SCRIPT_MODE = 0o755


def add_render_sbatch_parser(commands: Any) -> None:
    """Add `render-sbatch` to the `lassi-hpc` subcommands `commands`."""
    render = commands.add_parser(
        "render-sbatch",
        help="write the sbatch script of a campaign's driver (or of a vLLM server job)",
        description=(
            "Print the sbatch script that runs CAMPAIGN on the Slurm site SITE: the driver runs "
            "in the allocation of the site's [slurm.driver] table and Parsl submits the worker "
            "blocks. With --vllm-server NAME, print instead the script of a long-lived vLLM "
            "server job for the site's [llm_servers.NAME] entry. Submit either with sbatch."
        ),
    )
    render.add_argument(
        "campaign", type=Path, nargs="?", metavar="CAMPAIGN", help="campaign config file"
    )
    render.add_argument(
        "--site", type=Path, required=True, help="a site config with scheduler = 'slurm'"
    )
    render.add_argument(
        "--vllm-server",
        metavar="NAME",
        help="render the vLLM server job of the site's [llm_servers.NAME] (no CAMPAIGN then)",
    )
    render.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write the script to FILE (mode 0755)"
    )
    render.set_defaults(handler=cmd_render_sbatch)


def cmd_render_sbatch(args: argparse.Namespace) -> int:
    if (args.campaign is None) == (args.vllm_server is None):
        raise LassiError(
            "render-sbatch: give either a CAMPAIGN file (the driver's script) or "
            "--vllm-server NAME (a vLLM server's script), not both and not neither"
        )
    site = load_site(args.site)
    if args.vllm_server is not None:
        script = vllm_server_script(site, args.vllm_server)
    else:
        from lassi_hpc.flow.campaign import check_campaign_on_site

        campaign = load_campaign(args.campaign)
        # A mismatch found here costs seconds; found by the driver, it costs the queue wait.
        check_campaign_on_site(campaign, site)
        script = driver_script(campaign, site)
        _ensure_log_dir(campaign.results_file.parent)
    if args.output is None:
        sys.stdout.write(script)
        return 0
    output: Path = args.output
    try:
        output.write_text(script, encoding="utf-8")
        output.chmod(SCRIPT_MODE)
    except OSError as error:
        raise LassiError(f"render-sbatch: cannot write {output}: {error.strerror}") from None
    print(
        f"lassi-hpc render-sbatch: wrote {output}; submit it with: sbatch {output}", file=sys.stderr
    )
    return 0


def _ensure_log_dir(log_dir: Path) -> None:
    # Slurm opens the job's log before the script runs and does not create its directory:
    # without it the job fails and leaves no log at all.
    if log_dir.is_dir():
        return
    try:
        log_dir.mkdir(parents=True)
    except OSError as error:
        raise LassiError(
            f"render-sbatch: cannot create {log_dir} for the driver job's log: {error.strerror}"
        ) from None
    print(f"lassi-hpc render-sbatch: created {log_dir} for the job's log", file=sys.stderr)
