"""Per-task GPU pinning on partition workers, and the placement recorded with each result."""

from __future__ import annotations

import pytest

from lassi_hpc.flow.worker_env import STEP_GPUS_ENV, pin_accelerator, worker_placement


def test_nvidia_worker_gets_its_entry_of_the_step_list_and_no_amd_variable() -> None:
    env = {
        STEP_GPUS_ENV: "2,3",
        "PARSL_WORKER_RANK": "1",
        # What Parsl's own pinning leaves behind: both vendors' variables set.
        "CUDA_VISIBLE_DEVICES": "1",
        "ROCR_VISIBLE_DEVICES": "1",
        "ZE_AFFINITY_MASK": "1",
    }
    assert pin_accelerator("nvidia", env) == "3"
    assert env["CUDA_VISIBLE_DEVICES"] == "3"
    assert "ROCR_VISIBLE_DEVICES" not in env
    assert "ZE_AFFINITY_MASK" not in env


def test_amd_worker_sets_only_rocr_visible_devices() -> None:
    env = {STEP_GPUS_ENV: "0,1", "PARSL_WORKER_RANK": "0", "CUDA_VISIBLE_DEVICES": "0"}
    env["HIP_VISIBLE_DEVICES"] = "0"
    assert pin_accelerator("amd", env) == "0"
    assert env["ROCR_VISIBLE_DEVICES"] == "0"
    assert "CUDA_VISIBLE_DEVICES" not in env
    assert "HIP_VISIBLE_DEVICES" not in env  # it would index into ROCR's list a second time


def test_pinning_twice_keeps_the_same_gpu() -> None:
    env = {STEP_GPUS_ENV: "5,7", "PARSL_WORKER_RANK": "1"}
    first = pin_accelerator("nvidia", env)
    assert pin_accelerator("nvidia", env) == first == "7"


def test_without_a_step_list_the_rank_is_the_gpu() -> None:
    env = {"PARSL_WORKER_RANK": "2"}
    assert pin_accelerator("nvidia", env) == "2"


def test_cpu_partitions_are_left_alone() -> None:
    env = {"CUDA_VISIBLE_DEVICES": "0,1", "PARSL_WORKER_RANK": "0"}
    assert pin_accelerator("cpu", env) == ""
    assert env["CUDA_VISIBLE_DEVICES"] == "0,1"


def test_a_rank_beyond_the_step_list_is_an_error_naming_both() -> None:
    env = {STEP_GPUS_ENV: "0,1", "PARSL_WORKER_RANK": "2"}
    with pytest.raises(RuntimeError, match=r"rank 2 .*0,1"):
        pin_accelerator("nvidia", env)


def test_placement_names_only_what_is_set() -> None:
    env = {
        "SLURM_JOB_ID": "42",
        "SLURM_JOB_PARTITION": "a100",
        "PARSL_WORKER_RANK": "1",
        "CUDA_VISIBLE_DEVICES": "1",
    }
    placement = dict(worker_placement(env))
    assert placement["slurm_job_id"] == "42"
    assert placement["slurm_partition"] == "a100"
    assert placement["cuda_visible_devices"] == "1"
    assert "rocr_visible_devices" not in placement
    assert placement["host"]
