"""The one-node Slurm test cluster (scripts/test-slurm.sh): probe it, submit jobs, wait for them.

For the slurm test tier. The cluster is "lassi-test": one node (this host) with fake GPUs
gpu:a100:2 and gpu:mi100:2, in partitions a100, mi100, llm and debug (the default). Jobs run on
this machine, so a job script can run `sys.executable` and write into a test's tmp_path.
Everything goes through the real Slurm commands (sinfo, scontrol, sbatch, scancel).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lassi_hpc.errors import LassiError

TEST_CLUSTER_NAME = "lassi-test"
START_HINT = "start the test cluster with `sudo bash scripts/test-slurm.sh start`"

TERMINAL_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "TIMEOUT",
    }
)
"""Job states after which a job never runs again (Slurm's base states; `scontrol show job`)."""

# "planned": idle, but the backfill scheduler has set it aside for a pending job.
_USABLE_NODE_STATES = frozenset({"idle", "mixed", "allocated", "completing", "planned"})
_COMMAND_TIMEOUT_S = 30.0
_POLL_PERIOD_S = 0.25
_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9_:/]*)=(.*)$")


class SlurmClusterError(LassiError):
    """The Slurm test cluster is missing or unusable, or a job on it did not behave."""


@dataclass(frozen=True)
class SlurmCluster:
    """The running test cluster: its one node and its partitions (sinfo's order)."""

    cluster_name: str
    node_name: str
    partitions: tuple[str, ...]


def _slurm_command(args: Sequence[str], *, input_text: str | None = None) -> str:
    """Run a Slurm command without the caller's SLURM_*/SBATCH_* settings; return its stdout.

    Inside an allocation those variables would make sbatch submit into that job's settings.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if name == "SLURM_CONF" or not name.startswith(("SLURM_", "SBATCH_", "SALLOC_"))
    }
    try:
        completed = subprocess.run(
            list(args),
            input=input_text,
            capture_output=True,
            text=True,
            env=env,
            timeout=_COMMAND_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError as error:
        raise SlurmClusterError(f"{args[0]}: not installed (no such command)") from error
    except subprocess.TimeoutExpired as error:
        raise SlurmClusterError(
            f"`{' '.join(args)}` did not answer within {_COMMAND_TIMEOUT_S:.0f} s"
        ) from error
    if completed.returncode != 0:
        detail = completed.stderr.strip() or completed.stdout.strip() or "no output"
        raise SlurmClusterError(
            f"`{' '.join(args)}` failed (exit {completed.returncode}): {detail}"
        )
    return completed.stdout


def probe_cluster() -> SlurmCluster:
    """The running test cluster, after checking that it answers and its node takes jobs.

    Raises SlurmClusterError whose message says what is wrong and how to start the cluster;
    also when the Slurm here is another cluster (a real one must not get test jobs).
    """
    try:
        config = _slurm_command(["scontrol", "show", "config"])
        listing = _slurm_command(["sinfo", "--noheader", "--Node", "--format=%N|%T|%P"])
    except SlurmClusterError as error:
        raise SlurmClusterError(f"no Slurm here: {START_HINT} ({error})") from error
    name_match = re.search(r"^ClusterName\s*=\s*(\S+)", config, re.MULTILINE)
    cluster_name = name_match.group(1) if name_match else ""
    if cluster_name != TEST_CLUSTER_NAME:
        raise SlurmClusterError(
            f"the Slurm here is cluster {cluster_name!r}, not the test cluster "
            f"{TEST_CLUSTER_NAME!r}: {START_HINT} on a test machine"
        )
    rows = [line.split("|") for line in listing.splitlines() if line.strip()]
    nodes = sorted({row[0] for row in rows})
    if len(nodes) != 1:
        raise SlurmClusterError(
            f"the test cluster should have one node, sinfo lists {nodes or 'none'}: {START_HINT}"
        )
    states = {row[1] for row in rows}
    if not states <= _USABLE_NODE_STATES:
        raise SlurmClusterError(
            f"node {nodes[0]} of the test cluster is {'/'.join(sorted(states))}, "
            f"not usable: {START_HINT} (it resumes a drained node)"
        )
    try:
        # slurmctld notices a dead slurmd only after SlurmdTimeout (5 min): ask slurmd itself.
        _slurm_command(["scontrol", "show", "slurmd"])
    except SlurmClusterError as error:
        raise SlurmClusterError(
            f"slurmd of the test cluster does not answer: {START_HINT} ({error})"
        ) from error
    partitions = tuple(dict.fromkeys(row[2].rstrip("*") for row in rows))
    return SlurmCluster(cluster_name=cluster_name, node_name=nodes[0], partitions=partitions)


def submit(
    script_text: str,
    *,
    workdir: Path | None = None,
    partition: str | None = None,
    gres: str | None = None,
    time_limit: str | None = None,
    job_name: str | None = None,
    extra_args: Sequence[str] = (),
) -> str:
    """Submit a batch script (its text, starting with #!) with sbatch; return the job id.

    Only the options given are passed, because sbatch's command line overrides the script's own
    #SBATCH lines: `workdir` is the job's directory, where its output goes to slurm-<id>.out;
    `partition` (else the script's, else the cluster's default, debug); `gres` is --gres, e.g.
    "gpu:a100:2"; `time_limit` a walltime [D-]HH:MM:SS.
    """
    if not script_text.startswith("#!"):
        raise SlurmClusterError(f"job {job_name or '(unnamed)'}: a batch script must start with #!")
    args = ["sbatch", "--parsable"]
    if workdir is not None:
        args += [f"--chdir={workdir}", f"--output={workdir / 'slurm-%j.out'}"]
    options = {"partition": partition, "gres": gres, "time": time_limit, "job-name": job_name}
    args += [f"--{option}={value}" for option, value in options.items() if value is not None]
    args.extend(extra_args)
    answer = _slurm_command(args, input_text=script_text).strip()
    job_id = answer.split(";")[0]  # --parsable prints "id" or "id;cluster"
    if not job_id.isdigit():
        raise SlurmClusterError(f"sbatch answered {answer!r}, not a job id")
    return job_id


def parse_job_fields(one_line: str) -> dict[str, str]:
    """The Key=Value fields of `scontrol show job -o` output; a value may contain spaces."""
    fields: dict[str, str] = {}
    key = ""
    for token in one_line.split():
        match = _FIELD.match(token)
        if match:
            key = match.group(1)
            fields[key] = match.group(2)
        elif key:
            fields[key] += " " + token
    return fields


def job_fields(job_id: str) -> Mapping[str, str]:
    """What `scontrol show job` says about a job (JobState, ExitCode, Partition, TRES, ...)."""
    return parse_job_fields(_slurm_command(["scontrol", "show", "job", "--oneliner", job_id]))


def wait_for_state(job_id: str, states: Collection[str], timeout_s: float) -> str:
    """Poll the job until its state is in `states` or final; return that state.

    Raises SlurmClusterError when neither happens within `timeout_s` seconds.
    """
    deadline_s = time.monotonic() + timeout_s
    while True:
        state = job_fields(job_id).get("JobState", "")
        if state in states or state in TERMINAL_STATES:
            return state
        if time.monotonic() >= deadline_s:
            raise SlurmClusterError(
                f"job {job_id} is still {state or 'unknown'} after {timeout_s:.0f} s "
                f"(waiting for {'/'.join(sorted(states))})"
            )
        time.sleep(_POLL_PERIOD_S)


def wait_for_job(job_id: str, timeout_s: float) -> str:
    """Wait until the job has ended; return its final state (COMPLETED, FAILED, CANCELLED, ...)."""
    return wait_for_state(job_id, TERMINAL_STATES, timeout_s)


def cancel(job_id: str) -> None:
    """scancel the job (a no-op for a job that has already ended)."""
    _slurm_command(["scancel", job_id])
