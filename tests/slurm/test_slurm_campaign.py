"""Campaigns on a real one-node Slurm: Parsl blocks on the a100 and mi100 partitions (fake GPUs
as GRES), the LLM server started in a block on the llm partition, the driver submitted with the
rendered sbatch script, and a block cancelled with scancel mid-campaign."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slurm_campaign_setup import SlurmCampaign, write_slurm_campaign

from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.records import TrialOutcome
from lassi_hpc.slurm.scripts import driver_script
from lassi_hpc.store import ResultsReader
from lassi_hpc.testing.slurm_cluster import submit, wait_for_job

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

PROGRAM = (sys.executable, "-m", "lassi_hpc.cli")


def placements(setup: SlurmCampaign) -> list[tuple[str, str, dict[str, str]]]:
    """(app, what, placement) for every baseline and every evaluated candidate."""
    found = []
    with ResultsReader(setup.results) as reader:
        for baseline_row in reader.baselines():
            record = reader.read_baseline(baseline_row.app, baseline_row.variant)
            found.append((baseline_row.app, "baseline", dict(record.placement)))
        for row in reader.trials():
            trial = reader.read_trial(row.app, row.variant, row.strategy, row.trial)
            for step in trial.steps:
                if step.evaluation is not None:
                    found.append((row.app, "candidate", dict(step.evaluation.placement)))
    return found


def stored_outcomes(setup: SlurmCampaign) -> dict[tuple[str, int], TrialOutcome]:
    with ResultsReader(setup.results) as reader:
        return {(row.app, row.trial): TrialOutcome(row.outcome) for row in reader.trials()}


def test_campaign_submitted_with_sbatch_runs_each_task_on_its_partition_and_gpu(
    slurm_cluster: object, tmp_path: Path
) -> None:
    setup = write_slurm_campaign(tmp_path, {"a100": 2, "mi100": 2})
    script = driver_script(load_campaign(setup.campaign), load_site(setup.site), program=PROGRAM)
    setup.results.parent.mkdir(parents=True)  # where the job's log goes (render-sbatch makes it)
    job = submit(script)
    state = wait_for_job(job, timeout_s=900)
    log = "\n".join(p.read_text() for p in setup.results.parent.glob("slurm-driver-*.log"))
    assert state == "COMPLETED", f"driver job {job} ended {state}:\n{log[-4000:]}"

    # Parsl's run directory (block scripts, worker logs) went to the site's shared_dir.
    run_dir = tmp_path / "shared" / "slurmtest" / "parsl"
    assert list(run_dir.glob("*/submit_scripts/parsl.a100.block-*")), (
        f"no block script in {run_dir}"
    )
    assert list(run_dir.rglob("worker_*.log")), f"no worker logs under {run_dir}"
    assert not (setup.results.parent / "parsl").exists()

    outcomes = stored_outcomes(setup)
    assert sorted(outcomes) == [(app, i) for app in sorted(setup.apps) for i in (0, 1)]
    assert all(o is TrialOutcome.ACCEPTED for o in outcomes.values()), outcomes
    seen = placements(setup)
    assert {app for app, _, _ in seen} == set(setup.apps)
    for app, what, where in seen:
        partition = setup.apps[app]
        assert where["slurm_partition"] == partition, (app, what, where)
        assert where["slurm_job_id"] != job  # a Parsl block, not the driver's own allocation
        if partition == "a100":
            visible, other = "cuda_visible_devices", "rocr_visible_devices"
        else:
            visible, other = "rocr_visible_devices", "cuda_visible_devices"
        assert len(where[visible].split(",")) == 1, (app, what, where)  # exactly one GPU
        assert other not in where, (app, what, where)  # only the vendor's own variable


def test_a_block_cancelled_mid_campaign_is_replaced_and_the_campaign_completes(
    slurm_cluster: object, tmp_path: Path
) -> None:
    setup = write_slurm_campaign(tmp_path, {"a100": 6}, name="scancel")
    status_file = setup.results.parent / "status.json"
    log = (tmp_path / "driver.log").open("w")
    driver = subprocess.Popen(
        [*PROGRAM, "run", str(setup.campaign), "--site", str(setup.site)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    cancelled = ""
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and driver.poll() is None:
            status = json.loads(status_file.read_text()) if status_file.exists() else {}
            if status.get("phase") == "trials" and status.get("trials_done", 0) >= 1:
                blocks = subprocess.run(
                    ["squeue", "--noheader", "-p", "a100", "-t", "RUNNING", "-o", "%i"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()
                if blocks:
                    cancelled = blocks[0]
                    subprocess.run(["scancel", cancelled], check=True)
                    break
            time.sleep(0.5)
        assert cancelled, "no running a100 block to cancel while trials were left"
        assert driver.wait(timeout=900) == 0, (tmp_path / "driver.log").read_text()[-4000:]
    finally:
        if driver.poll() is None:
            driver.terminate()
            driver.wait(timeout=120)
        log.close()
    outcomes = stored_outcomes(setup)
    assert sorted(outcomes) == [("tiny-a100", i) for i in range(6)]
    assert all(o is TrialOutcome.ACCEPTED for o in outcomes.values()), outcomes
    trial_jobs = {
        where["slurm_job_id"] for _, what, where in placements(setup) if what == "candidate"
    }
    assert len(trial_jobs - {cancelled}) >= 1, "no candidate ran on a replacement block"
