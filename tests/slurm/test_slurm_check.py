"""`lassi-hpc check SITE` against the real test cluster: the dry run accepts what the cluster can
run and names what it cannot, without submitting anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from slurm_campaign_setup import write_slurm_campaign

from lassi_hpc.cli import main

pytestmark = pytest.mark.slurm


def jobs_in_queue() -> set[str]:
    """Jobs named as a script without --job-name read from stdin would be (other tests' Parsl
    blocks may come and go meanwhile)."""
    done = subprocess.run(
        ["squeue", "--noheader", "--name", "sbatch", "-o", "%i"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(done.stdout.split())


def test_check_accepts_every_job_of_a_site_the_cluster_can_run(
    slurm_cluster: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = write_slurm_campaign(tmp_path, {"a100": 1, "mi100": 1})
    before = jobs_in_queue()
    assert main(["check", str(setup.site)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    for label in ("worker block a100", "worker block mi100", "LLM server fake-vllm", "driver"):
        assert f"ok   {label} request: sbatch --test-only" in out, out
    assert "FAIL" not in out
    assert not jobs_in_queue() - before  # a dry run: nothing was submitted


def test_check_names_a_walltime_gpus_and_a_partition_the_cluster_cannot_give(
    slurm_cluster: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = write_slurm_campaign(tmp_path, {"a100": 1})
    text = setup.site.read_text()
    text = text.replace("gpus_per_node = 2", "gpus_per_node = 8", 1)
    text = text.replace('walltime = "00:30:00"\ncores = 1', 'walltime = "3-00:00:00"\ncores = 1')
    text = text.replace('name = "mi100"', 'name = "mi10O"')
    setup.site.write_text(text)
    assert main(["check", str(setup.site)]) == 1
    out = capsys.readouterr().out
    assert "FAIL worker block a100 partition 'a100':" in out
    assert "asks gpu:a100:8 per node" in out
    assert "FAIL driver partition 'debug': walltime 3-00:00:00 exceeds the limit" in out
    assert "partition 'mi10O': sinfo lists no such partition; did you mean 'mi100'?" in out
    assert "sinfo lists: a100, mi100, llm, debug" in out
