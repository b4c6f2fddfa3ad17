"""The Slurm test-cluster helper without a cluster: job fields, and the "no Slurm" reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from lassi_hpc.testing.slurm_cluster import (
    SlurmClusterError,
    parse_job_fields,
    probe_cluster,
    submit,
)

# `scontrol show job --oneliner` of Slurm 22.05 (shortened), for a job named "my job" whose
# comment is "two words": values with spaces, keys with ':' and '/', an empty value.
SCONTROL_LINE = (
    "JobId=1 JobName=my job UserId=root(0) JobState=COMPLETED Reason=None ExitCode=0:0 "
    "Partition=a100 AllocNode:Sid=vm:3952 NumCPUs=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* "
    "TRES=cpu=1,node=1,billing=1 Comment=two words  StdOut=/tmp/sj/out3.txt Power= "
    "TresPerNode=gres:gpu:a100:2"
)


def test_job_fields_keep_values_with_spaces_and_keys_with_colons() -> None:
    fields = parse_job_fields(SCONTROL_LINE)

    assert fields["JobName"] == "my job"
    assert fields["Comment"] == "two words"
    assert fields["JobState"] == "COMPLETED"
    assert fields["AllocNode:Sid"] == "vm:3952"
    assert fields["CPUs/Task"] == "1"
    assert fields["TRES"] == "cpu=1,node=1,billing=1"
    assert fields["Power"] == ""
    assert fields["TresPerNode"] == "gres:gpu:a100:2"


def test_probe_without_slurm_says_how_to_start_the_test_cluster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no Slurm commands on it

    with pytest.raises(SlurmClusterError) as raised:
        probe_cluster()

    assert str(raised.value).startswith(
        "no Slurm here: start the test cluster with `sudo bash scripts/test-slurm.sh start`"
    )
    assert "scontrol: not installed" in str(raised.value)


def test_submit_refuses_a_script_without_a_shebang(tmp_path: Path) -> None:
    with pytest.raises(SlurmClusterError, match="must start with #!"):
        submit("echo hello\n", workdir=tmp_path, job_name="no-shebang")
