"""The two sbatch scripts of a Slurm site: the campaign driver and a long-lived vLLM server.

The templates are package data (lassi_hpc/slurm/templates/), so that an installed lassi_hpc finds
them as well as a checkout does. Config values reach the scripts in three ways: #SBATCH lines
built and checked in Python (directives.py), the site admin's setup lines verbatim, and every
other value as one shell-quoted word.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from importlib import resources

from lassi_hpc.config.campaign import CampaignConfig
from lassi_hpc.config.site import LLMServer, SiteConfig, SlurmJob, SlurmSection, walltime_s
from lassi_hpc.errors import ConfigError
from lassi_hpc.llm.vllm import vllm_command
from lassi_hpc.slurm.directives import (
    SIGNAL_TIME_MAX_S,
    job_directives,
    sbatch_option,
    scheduler_option_lines,
)
from lassi_hpc.slurm.render import Raw, TemplateError, render_template

DRIVER_TEMPLATE = "campaign-driver.sbatch"
VLLM_SERVER_TEMPLATE = "vllm-server.sbatch"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOOPBACK_HOSTS = ("localhost", "::1")


def template_text(name: str) -> tuple[str, str]:
    """(text, where) of the bundled template `name`; `where` names its file for errors."""
    template = resources.files("lassi_hpc.slurm").joinpath("templates", name)
    return template.read_text(encoding="utf-8"), str(template)


def driver_script(
    campaign: CampaignConfig, site: SiteConfig, *, program: Sequence[str] = ("lassi-hpc",)
) -> str:
    """The sbatch script that runs `program run CAMPAIGN --site SITE` in the allocation of the
    site's [slurm.driver] table (absolute paths; `program` is e.g. ("lassi-hpc",) or
    (sys.executable, "-m", "lassi_hpc.cli")).

    Slurm signals the script `slurm.driver_signal_s` seconds before the walltime; it forwards
    that signal, and TERM, to the driver as TERM. The log goes to the campaign's results
    directory, as slurm-driver-JOBID.log. Raises ConfigError (file and key) for a site that is
    not a Slurm site or has no [slurm.driver], and for values that cannot go on #SBATCH lines;
    TemplateError for an empty `program`.
    """
    slurm = _slurm_section(site)
    site_file = str(site.source)
    driver = slurm.driver
    if driver is None:
        raise ConfigError(
            site_file,
            "slurm.driver",
            "a [slurm.driver] table (the driver job's partition, walltime, cores ...) is "
            "required to render the driver's sbatch script",
        )
    if not program:
        raise TemplateError("driver_script: `program` must name at least the program to run")
    _check_signal_time(slurm, driver, site_file)
    campaign_file = str(campaign.source)
    results_dir = campaign.results_file.parent
    directives = [
        sbatch_option(
            "job-name", f"lassi-{campaign.name}", file=campaign_file, key="campaign.name"
        ),
        *job_directives(driver, file=site_file, key="slurm.driver"),
        f"#SBATCH --signal=B:USR1@{slurm.driver_signal_s}",
        sbatch_option(
            "output",
            f"{results_dir}/slurm-driver-%j.log",
            file=campaign_file,
            key="campaign.results_dir",
        ),
        *scheduler_option_lines(
            driver.scheduler_options, file=site_file, key="slurm.driver.scheduler_options"
        ),
    ]
    text, where = template_text(DRIVER_TEMPLATE)
    values: dict[str, str | Raw] = {
        "sbatch_directives": Raw("\n".join(directives)),
        "setup_lines": _setup_lines(slurm.setup, driver.setup, "[slurm.driver].setup"),
        "campaign_dir": str(campaign.source.parent),
        "program_name": program[0],
        "program": Raw(shlex.join(program)),
        "campaign_file": campaign_file,
        "site_file": site_file,
    }
    return render_template(text, values, where)


def vllm_server_script(site: SiteConfig, server_name: str) -> str:
    """The sbatch script of a long-lived `vllm serve` for the site's LLM server `server_name`
    (kind "vllm" with a `slurm` table), on its fixed port, exactly as lassi_hpc.llm.vllm builds
    the command.

    The API key is read at run time from the variable named by `api_key_env` into VLLM_API_KEY;
    the script never holds the key. Raises ConfigError (file and key) for a site that is not a
    Slurm site, an unknown server, another kind, no `slurm` table, port 0, a loopback host, fewer
    GPUs than tensor_parallel_size, or an api_key_env that is not a variable name.
    """
    slurm = _slurm_section(site)
    site_file = str(site.source)
    server, job = _long_lived_vllm(site, server_name)
    key = f"llm_servers.{server_name}"
    directives = [
        sbatch_option("job-name", f"lassi-vllm-{server_name}", file=site_file, key=key),
        *job_directives(job, file=site_file, key=f"{key}.slurm"),
        # Relative: the directory sbatch is run from (the job's working directory).
        sbatch_option("output", f"lassi-vllm-{server_name}-%j.log", file=site_file, key=key),
        *scheduler_option_lines(
            job.scheduler_options, file=site_file, key=f"{key}.slurm.scheduler_options"
        ),
    ]
    text, where = template_text(VLLM_SERVER_TEMPLATE)
    values: dict[str, str | Raw] = {
        "sbatch_directives": Raw("\n".join(directives)),
        "setup_lines": _setup_lines(slurm.setup, job.setup, f"[{key}.slurm].setup"),
        "api_key_lines": _api_key_lines(server.api_key_env),
        "port": str(server.port),
        "server_name": server_name,
        "model": server.model,
        "vllm_command": Raw(shlex.join(vllm_command(server, server.port))),
    }
    return render_template(text, values, where)


def _slurm_section(site: SiteConfig) -> SlurmSection:
    if site.scheduler != "slurm" or site.slurm is None:
        raise ConfigError(
            str(site.source),
            "site.scheduler",
            "sbatch scripts are only for Slurm sites",
            value=site.scheduler,
            allowed=["slurm"],
            show_value=True,
        )
    return site.slurm


def _check_signal_time(slurm: SlurmSection, driver: SlurmJob, site_file: str) -> None:
    # Slurm refuses a larger lead time, and a lead time at least as long as the walltime would
    # signal the driver as it starts.
    limit_s = min(SIGNAL_TIME_MAX_S, walltime_s(driver.walltime) - 1)
    if slurm.driver_signal_s > limit_s:
        raise ConfigError(
            site_file,
            "slurm.driver_signal_s",
            f"must be less than the driver's walltime ({driver.walltime}) and at most "
            f"{SIGNAL_TIME_MAX_S} s (Slurm's limit)",
            value=slurm.driver_signal_s,
            show_value=True,
        )


def _long_lived_vllm(site: SiteConfig, name: str) -> tuple[LLMServer, SlurmJob]:
    """The server `name` and its job, checked for use as a long-lived vLLM server."""
    site_file = str(site.source)
    key = f"llm_servers.{name}"
    server = site.llm_servers.get(name)
    if server is None:
        raise ConfigError(
            site_file,
            key,
            "no such LLM server in the site config",
            allowed=sorted(site.llm_servers),
        )
    if server.kind != "vllm":
        raise ConfigError(
            site_file,
            f"{key}.kind",
            "the vLLM server script is only for servers of kind 'vllm'",
            value=server.kind,
            allowed=["vllm"],
            show_value=True,
        )
    job = server.slurm
    if job is None:
        raise ConfigError(
            site_file,
            f"{key}.slurm",
            "required: the [llm_servers.NAME.slurm] table says where the server job runs "
            "(partition, gpus, walltime ...)",
        )
    if server.port == 0:
        raise ConfigError(
            site_file,
            f"{key}.port",
            "a long-lived server needs a fixed port: with 0 it would pick a free port at each "
            "start, which the campaigns' external entries cannot know",
            value=server.port,
            show_value=True,
        )
    if server.host in _LOOPBACK_HOSTS or server.host.startswith("127."):
        raise ConfigError(
            site_file,
            f"{key}.host",
            "a long-lived server is used from other nodes: it must listen on an address they "
            "reach, e.g. '0.0.0.0' (every interface) or the node's name",
            value=server.host,
            show_value=True,
        )
    if job.gpus < server.tensor_parallel_size:
        raise ConfigError(
            site_file,
            f"{key}.slurm.gpus",
            f"vLLM needs at least tensor_parallel_size = {server.tensor_parallel_size} GPUs "
            "in its job",
            value=job.gpus,
            show_value=True,
        )
    if server.api_key_env and not _ENV_NAME.match(server.api_key_env):
        raise ConfigError(
            site_file,
            f"{key}.api_key_env",
            "must be the name of an environment variable (letters, digits, '_')",
            value=server.api_key_env,
            show_value=True,
        )
    return server, job


def _setup_lines(site_setup: tuple[str, ...], job_setup: tuple[str, ...], job_key: str) -> Raw:
    lines = [*site_setup, *job_setup]
    if not lines:
        return Raw(f"# (none: the site sets no [slurm].setup and no {job_key})")
    # The script runs under `set -u`, and environment scripts (conda activate, some module
    # systems) read variables that may be unset: they would end the job here.
    return Raw("\n".join(["set +u", *lines, "set -u"]))


def _api_key_lines(api_key_env: str) -> Raw:
    if not api_key_env:
        # An inherited key would make the server refuse every request from clients without it.
        return Raw(
            "# No api_key_env in the server's entry: the server takes requests without a key.\n"
            "unset VLLM_API_KEY"
        )
    return Raw(
        f"# vLLM reads its key from VLLM_API_KEY; this script holds only the variable's name.\n"
        f"# sbatch passes the submitting shell's environment on: export {api_key_env} there.\n"
        f"if [[ -z ${{{api_key_env}:-}} ]]; then\n"
        f'    echo "lassi-hpc vLLM job: the API key variable {api_key_env} is not set;" \\\n'
        f'        "export it before sbatch" >&2\n'
        f"    exit 2\n"
        f"fi\n"
        f'export VLLM_API_KEY="${api_key_env}"'
    )
