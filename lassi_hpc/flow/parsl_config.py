"""The one place that turns a site into a Parsl configuration; the only importer of providers.

Local sites run every executor on this machine (LocalProvider). Slurm sites get, per partition, a
HighThroughputExecutor whose blocks are Slurm jobs (SlurmProvider) with one srun step per node
that holds the node's GPUs and runs one worker per GPU; an LLM server with a `slurm` table is
started inside the block of its own executor (llm/block.py), and the other servers' executors
stay on the driver's machine, where their workers only wait on HTTP.
"""

from __future__ import annotations

import functools
import math
import shlex
import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from parsl.addresses import address_by_interface
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.executors.high_throughput.executor import DEFAULT_LAUNCH_CMD
from parsl.jobs.error_handlers import windowed_error_handler
from parsl.launchers import SimpleLauncher, SrunLauncher
from parsl.providers import LocalProvider, SlurmProvider

from lassi_hpc.config.site import LLMServer, Partition, SiteConfig, SlurmSection, walltime_s
from lassi_hpc.errors import ConfigError
from lassi_hpc.flow.worker_env import STEP_GPUS_ENV
from lassi_hpc.llm.block import server_start_script
from lassi_hpc.slurm.directives import gpu_gres

TASK_RETRIES = 2
"""Times Parsl runs a task again after it raised: a worker lost with its block (scancel, node
failure, walltime) loses its task. Stages return a candidate's own failures as records, so only
harness faults are retried."""

BLOCK_FAILURES_IN_A_ROW = 3
"""An executor gives up (failing its tasks) after this many blocks in a row ended without a
worker ever connecting: sbatch refused them, their setup failed, or they were cancelled while
pending. A block whose workers had connected does not count: it is simply replaced."""

IDLE_BLOCK_S = 300.0
"""Seconds a Slurm block may sit idle before it is given back: long enough to wait for the next
LLM answer of a trial, short enough not to hold GPUs that have no work left."""

_HEARTBEAT_PERIOD_S = 5
# A block cancelled under its workers (scancel, node failure) is noticed this long after its
# last heartbeat; its tasks then fail with ManagerLost and are retried.
_HEARTBEAT_THRESHOLD_S = 30
# LLM workers only wait on HTTP, so they claim (almost) no cores.
_LLM_CORES_PER_WORKER = 0.01


def llm_executor_label(server_name: str) -> str:
    """The label of the executor that sends requests to the site's LLM server `server_name`."""
    return f"llm-{server_name}"


def worker_init_script() -> str:
    # HTEX starts its helper programs by name, so the interpreter's bin/ must be on PATH.
    return f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH"


def parsl_config(
    site: SiteConfig,
    run_dir: Path,
    partitions: Collection[str] = (),
    llm_servers: Mapping[str, LLMServer] | None = None,
) -> Config:
    """A fresh Config with one HighThroughputExecutor per partition, labelled by partition name,
    and one per LLM server in `llm_servers` (name -> the site's entry), labelled
    llm_executor_label(name).

    `partitions` limits it to the partitions a piece of work uses (all when empty), so that idle
    partitions start no workers. Each partition runs `workers` tasks at once locally, and one
    per GPU on a Slurm node; with one worker a device is never measured by two tasks at the same
    time. An LLM executor runs the server's `workers` requests at once.
    """
    used = [p for p in site.partitions if not partitions or p.name in partitions]
    servers = dict(llm_servers or {})
    if site.scheduler == "slurm":
        return _slurm_config(site, run_dir, used, servers)
    executors = [_local_executor(p.name, p.workers, run_dir, 1.0) for p in used]
    executors += [
        _local_executor(llm_executor_label(name), server.workers, run_dir, _LLM_CORES_PER_WORKER)
        for name, server in servers.items()
    ]
    return Config(
        executors=executors,
        run_dir=str(run_dir),
        retries=TASK_RETRIES,
        # The first task otherwise waits for the first strategy tick (5 s by default).
        strategy_period=0.5,
        usage_tracking=0,
    )


def _local_executor(label: str, workers: int, run_dir: Path, cores_per_worker: float) -> Any:
    return HighThroughputExecutor(
        label=label,
        address="127.0.0.1",
        max_workers_per_node=workers,
        cores_per_worker=cores_per_worker,
        worker_logdir_root=str(run_dir / "workers"),
        heartbeat_period=_HEARTBEAT_PERIOD_S,
        heartbeat_threshold=_HEARTBEAT_THRESHOLD_S,
        provider=LocalProvider(
            init_blocks=1,
            min_blocks=1,
            max_blocks=1,
            worker_init=worker_init_script(),
        ),
    )


def _slurm_config(
    site: SiteConfig, run_dir: Path, partitions: list[Partition], servers: dict[str, LLMServer]
) -> Config:
    slurm = site.slurm
    if slurm is None:
        raise ConfigError(str(site.source), "slurm", "required when scheduler = 'slurm'")
    address = _driver_address(site, slurm)
    executors = [_partition_executor(p, slurm, address, run_dir) for p in partitions]
    for name, server in servers.items():
        if server.slurm is None:
            executors.append(
                _local_executor(
                    llm_executor_label(name), server.workers, run_dir, _LLM_CORES_PER_WORKER
                )
            )
        else:
            executors.append(_llm_block_executor(name, server, slurm, address, run_dir))
    return Config(
        executors=executors,
        run_dir=str(run_dir),
        retries=TASK_RETRIES,
        # Scales out while tasks wait (also to replace a block that ended: Parsl counts only
        # pending and running blocks). Not "htex_auto_scale": its scale-in (Parsl 2026.10) cancels
        # every block that has not connected yet, even when asked to cancel none, so each new
        # block was cancelled within a second and replaced, hundreds of times (seen on the test
        # Slurm). Blocks are given back when the driver ends, at their walltime, or once their
        # executor has had no task for max_idletime (never below min_blocks: the LLM block stays).
        strategy="simple",
        max_idletime=IDLE_BLOCK_S,
        strategy_period=0.5,
        usage_tracking=0,
    )


def _partition_executor(
    partition: Partition, slurm: SlurmSection, address: str | None, run_dir: Path
) -> Any:
    gpus = partition.gpus_per_node
    gres = gpu_gres(gpus, partition.gpu_type)
    # The step takes the job's GPUs and CPUs explicitly: a step gets neither GRES nor more than
    # one CPU per task by default, and srun no longer inherits --cpus-per-task from the job.
    cpus = partition.cores_per_node or "$SLURM_CPUS_ON_NODE"
    overrides = f"--cpus-per-task={cpus}" + (f" --gres={shlex.quote(gres)}" if gres else "")
    return HighThroughputExecutor(
        label=partition.name,
        address=address,
        launch_cmd=_step_gpus_prefix(partition) + DEFAULT_LAUNCH_CMD,
        # One worker per GPU, each pinned by its task to the GPU at its rank in the step's list
        # (flow/worker_env.py). Parsl's available_accelerators is not used: it sets the NVIDIA and
        # the AMD variables together (which can hide every GPU from HIP) and counts the GPUs it
        # is told of rather than those Slurm gave the step.
        max_workers_per_node=partition.workers_per_node,
        cores_per_worker=_cores_per_worker(partition.cores_per_node, partition.workers_per_node),
        drain_period=partition.drain_period_s,
        worker_logdir_root=str(run_dir / "workers"),
        heartbeat_period=_HEARTBEAT_PERIOD_S,
        heartbeat_threshold=_HEARTBEAT_THRESHOLD_S,
        block_error_handler=_block_error_handler(),
        provider=SlurmProvider(
            partition=partition.slurm_name,
            account=partition.account or None,
            qos=partition.qos or None,
            constraint=partition.constraint or None,
            nodes_per_block=partition.nodes_per_block,
            cores_per_node=partition.cores_per_node or None,
            gres=gres or None,
            # Work is there as soon as the executor starts: ask for a block at once.
            init_blocks=1,
            min_blocks=0,
            max_blocks=partition.max_blocks,
            walltime=_parsl_walltime(partition.walltime),
            scheduler_options="\n".join(partition.scheduler_options),
            worker_init=_setup_lines(slurm, partition.setup),
            exclusive=partition.exclusive,
            cmd_timeout=slurm.cmd_timeout_s,
            launcher=SrunLauncher(overrides=overrides),
        ),
    )


def _llm_block_executor(
    name: str, server: LLMServer, slurm: SlurmSection, address: str | None, run_dir: Path
) -> Any:
    job = server.slurm
    assert job is not None
    options = [*job.scheduler_options]
    if job.memory:
        options.append(f"#SBATCH --mem={job.memory}")
    worker_init = _setup_lines(slurm, job.setup) + "\n" + server_start_script(name, server, run_dir)
    return HighThroughputExecutor(
        label=llm_executor_label(name),
        address=address,
        max_workers_per_node=server.workers,
        cores_per_worker=_LLM_CORES_PER_WORKER,
        worker_logdir_root=str(run_dir / "workers"),
        heartbeat_period=_HEARTBEAT_PERIOD_S,
        heartbeat_threshold=_HEARTBEAT_THRESHOLD_S,
        block_error_handler=_block_error_handler(),
        provider=SlurmProvider(
            partition=job.partition,
            account=job.account or None,
            qos=job.qos or None,
            constraint=job.constraint or None,
            nodes_per_block=1,
            cores_per_node=job.cores,
            gres=gpu_gres(job.gpus, job.gpu_type) or None,
            # Always one block: the server loads once and serves the whole campaign, and a
            # block that ends (cancelled, walltime, the server died) is replaced while requests
            # wait.
            init_blocks=1,
            min_blocks=1,
            max_blocks=1,
            walltime=_parsl_walltime(job.walltime),
            scheduler_options="\n".join(options),
            worker_init=worker_init,
            exclusive=False,
            cmd_timeout=slurm.cmd_timeout_s,
            # The workers run in the batch shell itself, beside the server they talk to: no
            # job step to compete with the server for the job's CPUs and memory.
            launcher=SimpleLauncher(),
        ),
    )


def _step_gpus_prefix(partition: Partition) -> str:
    """Shell text before process_worker_pool.py that saves the step's GPU list in STEP_GPUS_ENV.

    The launch command is written into the block's step script through SrunLauncher's unquoted
    here-document, so `$` is escaped to reach the step; HTEX .format()s it twice, so it holds no
    braces.
    """
    if partition.gpus_per_node < 1:
        return ""
    if partition.device == "amd":
        return (
            f"{STEP_GPUS_ENV}=\\$ROCR_VISIBLE_DEVICES; "
            f'[ -n "\\${STEP_GPUS_ENV}" ] || {STEP_GPUS_ENV}=\\$CUDA_VISIBLE_DEVICES; '
            f"export {STEP_GPUS_ENV}; "
        )
    return f"export {STEP_GPUS_ENV}=\\$CUDA_VISIBLE_DEVICES; "


def _setup_lines(slurm: SlurmSection, own_setup: tuple[str, ...]) -> str:
    """worker_init of a block: PATH as locally, then the site's and the job's setup, verbatim."""
    return "\n".join([worker_init_script(), *slurm.setup, *own_setup])


def _cores_per_worker(cores_per_node: int, workers_per_node: int) -> float:
    """Cores of a node shared out over its workers, rounded down to a thousandth so that Parsl's
    floor(cores / cores_per_worker) gives every worker (cores / (cores / n) can fall below n)."""
    if cores_per_node < 1:
        return 1.0
    return math.floor(1000 * cores_per_node / workers_per_node) / 1000 or 0.001


def _parsl_walltime(walltime: str) -> str:
    """[D-]HH:MM:SS as the HH:MM:SS Parsl reads (it has no days), rounded up to whole minutes,
    which is what it asks Slurm for."""
    minutes = max(1, math.ceil(walltime_s(walltime) / 60))
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def _block_error_handler() -> Any:
    return functools.partial(windowed_error_handler, threshold=BLOCK_FAILURES_IN_A_ROW)


def _driver_address(site: SiteConfig, slurm: SlurmSection) -> str | None:
    """Where workers reach the driver: [slurm].address, else the address of [slurm].interface,
    else None (Parsl offers all of this host's addresses and the workers probe them)."""
    if slurm.address:
        return slurm.address
    if not slurm.interface:
        return None
    try:
        return str(address_by_interface(slurm.interface))
    except OSError as error:
        raise ConfigError(
            str(site.source),
            "slurm.interface",
            f"this host has no IPv4 address on interface {slurm.interface!r} ({error})",
        ) from None
