"""Every kind of Slurm job a campaign on a site submits, as `lassi-hpc check` tests them.

The worker blocks' and the LLM jobs' requests are read back from the very Parsl providers that
`parsl_config` builds, so the dry run tests what would be submitted, not a second rendering of it.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from parsl.providers import SlurmProvider

from lassi_hpc.config.site import SiteConfig
from lassi_hpc.flow.parsl_config import llm_executor_label, parsl_config
from lassi_hpc.slurm.directives import gpu_gres, job_directives
from lassi_hpc.slurm.site_check import JobRequest


def slurm_job_requests(site: SiteConfig) -> list[JobRequest]:
    """Worker blocks per partition, the LLM servers' jobs, then the driver's job (if configured).

    Raises ConfigError (from the directive checks) for values Slurm could not take.
    """
    assert site.slurm is not None, "only for scheduler = 'slurm'"
    placed = {name: server for name, server in site.llm_servers.items() if server.slurm}
    labels = {p.name: f"worker block {p.name}" for p in site.partitions if not p.compile_only}
    labels.update({llm_executor_label(name): f"LLM server {name}" for name in placed})
    with tempfile.TemporaryDirectory(prefix="lassi-hpc-check-") as run_dir:
        config = parsl_config(site, Path(run_dir), llm_servers=placed)
    requests = []
    for executor in config.executors:
        provider = getattr(executor, "provider", None)
        if not isinstance(provider, SlurmProvider) or executor.label not in labels:
            continue
        lines = [line for line in provider.scheduler_options.splitlines() if line.strip()]
        lines += [
            f"#SBATCH --nodes={provider.nodes_per_block}",
            f"#SBATCH --time={provider.walltime}",
        ]
        if provider.mem_per_node is not None:
            lines.append(f"#SBATCH --mem={provider.mem_per_node}g")
        if provider.cores_per_node is not None:
            lines.append(f"#SBATCH --cpus-per-task={math.floor(provider.cores_per_node)}")
        requests.append(
            JobRequest(
                label=labels[executor.label],
                partition=provider.partition or "",
                walltime=provider.walltime,
                gres=provider.gres or "",
                sbatch_lines=tuple(lines),
            )
        )
    driver = site.slurm.driver
    if driver is not None:
        lines = job_directives(driver, file=str(site.source), key="slurm.driver")
        requests.append(
            JobRequest(
                label="driver",
                partition=driver.partition,
                walltime=driver.walltime,
                gres=gpu_gres(driver.gpus, driver.gpu_type),
                sbatch_lines=tuple(lines),
            )
        )
    return requests
