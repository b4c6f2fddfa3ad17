"""The one place that turns a site into a Parsl configuration; the only importer of providers."""

from __future__ import annotations

import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider

from lassi_hpc.config.site import SiteConfig


def worker_init_script() -> str:
    # HTEX starts its helper programs by name, so the interpreter's bin/ must be on PATH.
    return f"export PATH={Path(sys.executable).parent}:$PATH"


LLM_EXECUTOR = "llm"
"""Label of the executor that sends requests to the LLM servers."""


def _local_executor(label: str, workers: int, run_dir: Path, cores_per_worker: float) -> Any:
    return HighThroughputExecutor(
        label=label,
        address="127.0.0.1",
        max_workers_per_node=workers,
        cores_per_worker=cores_per_worker,
        worker_logdir_root=str(run_dir / "workers"),
        heartbeat_period=5,
        heartbeat_threshold=30,
        provider=LocalProvider(
            init_blocks=1,
            min_blocks=1,
            max_blocks=1,
            worker_init=worker_init_script(),
        ),
    )


def parsl_config(
    site: SiteConfig, run_dir: Path, partitions: Collection[str] = (), llm_workers: int = 0
) -> Config:
    """A fresh Config with one HighThroughputExecutor per partition, labelled by partition name.

    `partitions` limits it to the partitions a piece of work uses (all when empty), so that idle
    partitions start no workers.

    Each partition runs `workers` tasks at once; with one worker a device is never measured by two
    tasks at the same time. With `llm_workers` > 0 an executor labelled LLM_EXECUTOR is added whose
    workers only wait on HTTP, so they claim (almost) no cores.
    """
    executors = [
        _local_executor(partition.name, partition.workers, run_dir, 1.0)
        for partition in site.partitions
        if not partitions or partition.name in partitions
    ]
    if llm_workers > 0:
        executors.append(_local_executor(LLM_EXECUTOR, llm_workers, run_dir, 0.01))
    return Config(
        executors=executors,
        run_dir=str(run_dir),
        # The first task otherwise waits for the first strategy tick (5 s by default).
        strategy_period=0.5,
        usage_tracking=0,
    )
