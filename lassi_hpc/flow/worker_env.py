"""What a Parsl worker on a GPU partition sees: its one GPU, and where it runs.

On Slurm, every worker of a block starts inside one job step that holds all the GPUs of its
node. The worker launch command saves the step's GPU list (Slurm's CUDA_VISIBLE_DEVICES, or
ROCR_VISIBLE_DEVICES on AMD) in STEP_GPUS_ENV before Parsl starts the workers; each task then pins
its worker to the entry at the worker's rank. Parsl's own pinning is not used because it sets the
NVIDIA and the AMD variables together (which can hide every GPU from HIP) and divides devices by
what `nvidia-smi` lists on the node rather than by what the job holds.
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping

from lassi_hpc.config.site import DeviceKind

STEP_GPUS_ENV = "LASSI_HPC_STEP_GPUS"
"""The job step's GPU list, comma-separated, as Slurm set it for the step."""

_NVIDIA_VARS = ("CUDA_VISIBLE_DEVICES",)
# HIP_VISIBLE_DEVICES would index into ROCR's list again; GPU_DEVICE_ORDINAL is OpenCL's.
_AMD_VARS = ("ROCR_VISIBLE_DEVICES",)
_OTHER_VARS = ("HIP_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "ZE_AFFINITY_MASK")


def pin_accelerator(device: DeviceKind, env: MutableMapping[str, str] = os.environ) -> str:
    """Make exactly one GPU visible to this worker and what it starts; return its id ("" for CPU).

    The GPU is entry PARSL_WORKER_RANK of STEP_GPUS_ENV (or the rank itself where Slurm set no
    list, as on a node without a scheduler). Only the vendor's own variable is set: on AMD,
    CUDA_VISIBLE_DEVICES is removed. Idempotent: a worker runs many tasks.
    """
    if device == "cpu":
        return ""
    rank = int(env.get("PARSL_WORKER_RANK", "0"))
    listed = [gpu for gpu in env.get(STEP_GPUS_ENV, "").split(",") if gpu]
    if listed and rank >= len(listed):
        raise RuntimeError(
            f"worker rank {rank} has no GPU: the job step holds only {','.join(listed)} "
            f"({STEP_GPUS_ENV}); gpus_per_node is larger than what Slurm gave the step"
        )
    gpu = listed[rank] if listed else str(rank)
    keep, drop = (_NVIDIA_VARS, _AMD_VARS) if device == "nvidia" else (_AMD_VARS, _NVIDIA_VARS)
    for name in keep:
        env[name] = gpu
    for name in (*drop, *_OTHER_VARS):
        env.pop(name, None)
    return gpu


def worker_placement(env: MutableMapping[str, str] = os.environ) -> tuple[tuple[str, str], ...]:
    """Where a task ran, for the results file: host, Slurm job and partition, worker, visible GPUs.

    Only keys with a value are given, in a fixed order.
    """
    pairs = [
        ("host", socket.gethostname()),
        ("slurm_job_id", env.get("SLURM_JOB_ID", "")),
        ("slurm_partition", env.get("SLURM_JOB_PARTITION", "")),
        ("slurm_node", env.get("SLURMD_NODENAME", "")),
        ("parsl_block", env.get("PARSL_WORKER_BLOCK_ID", "")),
        ("parsl_worker", env.get("PARSL_WORKER_RANK", "")),
        ("cuda_visible_devices", env.get("CUDA_VISIBLE_DEVICES", "")),
        ("rocr_visible_devices", env.get("ROCR_VISIBLE_DEVICES", "")),
    ]
    return tuple((key, value) for key, value in pairs if value)
