"""Smoke tests of the Slurm test cluster: the behaviour the campaign's Slurm tests rely on.

What Slurm 22.05 sets for GPU steps on this cluster (the Parsl translator depends on it): both
CUDA_VISIBLE_DEVICES and ROCR_VISIBLE_DEVICES, for either GPU type, with the node's own indices
(a100: 0,1; mi100: 2,3: no device cgroup renumbers them); a step without --gres gets every GPU of
its job, and --gres=none none.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import pytest

from lassi_hpc.testing.slurm_cluster import (
    SlurmCluster,
    cancel,
    job_fields,
    submit,
    wait_for_job,
    wait_for_state,
)

JOB_TIMEOUT_S = 60.0
GPU_VARIABLES = ("CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")
_DUMP_ENV = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"


def dump_env(name: str) -> str:
    """A shell command that writes its environment to <name>.json (in the job's directory)."""
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(_DUMP_ENV)} {name}.json"


def read_env(workdir: Path, name: str) -> dict[str, str]:
    env: dict[str, str] = json.loads((workdir / f"{name}.json").read_text())
    return env


def job_output(workdir: Path, job_id: str) -> str:
    output = workdir / f"slurm-{job_id}.out"
    return output.read_text() if output.exists() else "(no output file)"


def run_to_completion(script: str, workdir: Path, **submit_args: str) -> str:
    """Submit, wait, check that the job COMPLETED; return its id."""
    job_id = submit(script, workdir=workdir, time_limit="00:05:00", **submit_args)
    state = wait_for_job(job_id, JOB_TIMEOUT_S)
    assert state == "COMPLETED", f"job {job_id} ended {state}: {job_output(workdir, job_id)}"
    return job_id


@pytest.mark.parametrize(("gpu_type", "node_indices"), [("a100", "0,1"), ("mi100", "2,3")])
def test_gpu_steps_see_the_gpus_of_their_type(
    slurm_cluster: SlurmCluster, tmp_path: Path, gpu_type: str, node_indices: str
) -> None:
    script = "\n".join(
        [
            "#!/bin/bash",
            "set -euo pipefail",
            dump_env("batch"),
            f"srun --gres=gpu:{gpu_type}:2 {dump_env('step_with_gres')}",
            f"srun {dump_env('step_without_gres')}",
            f"srun --gres=none {dump_env('step_gres_none')}",
            "",
        ]
    )
    job_id = run_to_completion(script, tmp_path, partition=gpu_type, gres=f"gpu:{gpu_type}:2")

    fields = job_fields(job_id)
    assert fields["Partition"] == gpu_type
    assert fields["TresPerNode"] == f"gres:gpu:{gpu_type}:2"
    assert read_env(tmp_path, "batch")["SLURM_JOB_PARTITION"] == gpu_type
    with_gres = read_env(tmp_path, "step_with_gres")
    assert len(with_gres["CUDA_VISIBLE_DEVICES"].split(",")) == 2
    for name in ("step_with_gres", "step_without_gres"):
        step_env = read_env(tmp_path, name)
        assert {var: step_env.get(var) for var in GPU_VARIABLES} == dict.fromkeys(
            GPU_VARIABLES, node_indices
        ), name
    gres_none = read_env(tmp_path, "step_gres_none")
    assert [var for var in GPU_VARIABLES if var in gres_none] == []


@pytest.mark.parametrize("partition", ["llm", "debug"])
def test_job_runs_in_the_partition_it_asks(
    slurm_cluster: SlurmCluster, tmp_path: Path, partition: str
) -> None:
    assert partition in slurm_cluster.partitions
    run_to_completion(f"#!/bin/bash\n{dump_env('batch')}\n", tmp_path, partition=partition)

    assert read_env(tmp_path, "batch")["SLURM_JOB_PARTITION"] == partition


def test_job_without_a_partition_runs_in_debug(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    run_to_completion(f"#!/bin/bash\n{dump_env('batch')}\n", tmp_path)

    env = read_env(tmp_path, "batch")
    assert env["SLURM_JOB_PARTITION"] == "debug"
    assert env["SLURMD_NODENAME"] == slurm_cluster.node_name


def test_gpu_blocks_an_llm_job_and_a_driver_run_at_once(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    """Each job waits (60 s at most) until all four have started: they complete only together."""
    jobs = {"a100": "gpu:a100:2", "mi100": "gpu:mi100:2", "llm": None, "debug": None}
    rendezvous = "\n".join(
        [
            "#!/bin/bash",
            "touch started-$SLURM_JOB_PARTITION",
            "for attempt in $(seq 600); do",
            f'  [ "$(ls started-* | wc -l)" -ge {len(jobs)} ] && exit 0',
            "  sleep 0.1",
            "done",
            "exit 1",
            "",
        ]
    )
    job_ids = [
        submit(rendezvous, workdir=tmp_path, partition=partition, gres=gres, time_limit="00:05:00")
        for partition, gres in jobs.items()
    ]
    states = [wait_for_job(job_id, JOB_TIMEOUT_S + 30) for job_id in job_ids]

    assert states == ["COMPLETED"] * len(jobs), [job_output(tmp_path, i) for i in job_ids]


def test_scancel_ends_a_running_job_and_its_processes(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    script = "#!/bin/bash\nsleep 300 &\necho $! > sleep.pid\nwait\n"
    job_id = submit(script, workdir=tmp_path, partition="debug", time_limit="00:05:00")
    assert wait_for_state(job_id, {"RUNNING"}, JOB_TIMEOUT_S) == "RUNNING"
    pid_file = tmp_path / "sleep.pid"
    wait_for_file(pid_file)
    sleep_pid = int(pid_file.read_text())

    cancel(job_id)

    assert wait_for_job(job_id, JOB_TIMEOUT_S) == "CANCELLED"
    wait_until_gone(sleep_pid)


def wait_for_file(path: Path) -> None:
    for _attempt in range(int(JOB_TIMEOUT_S / 0.1)):
        if path.exists() and path.read_text().strip():
            return
        time.sleep(0.1)
    pytest.fail(f"{path} was not written within {JOB_TIMEOUT_S} s")


def wait_until_gone(pid: int) -> None:
    """Wait until `pid` has exited; a zombie has (PID 1 here may not reap orphans)."""
    stat = Path(f"/proc/{pid}/stat")
    for _attempt in range(int(JOB_TIMEOUT_S / 0.1)):
        try:
            # The state follows the parenthesised command name, which may contain spaces.
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except FileNotFoundError:
            return
        time.sleep(0.1)
    pytest.fail(f"process {pid} of the cancelled job still runs after {JOB_TIMEOUT_S} s")
