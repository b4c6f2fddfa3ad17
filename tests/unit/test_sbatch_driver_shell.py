"""The rendered driver script's shell logic, run with bash and a FAKE `lassi-hpc` on PATH.

The fake records its arguments, working directory, environment and the signals it gets, then
sleeps until TERM (exit 7) or exits at once with $FAKE_EXIT_NOW. No Slurm is needed: the #SBATCH
lines are comments to bash, and the job's SLURM_* variables are set by the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sbatch_configs import write_configs

from lassi_hpc.slurm.scripts import driver_script

FAKE_LASSI_HPC = """#!/bin/bash
out=$FAKE_DRIVER_OUT
printf '%s\\n' "$@" > "$out/args"
pwd > "$out/cwd"
env > "$out/env"
trap 'echo TERM >> "$out/signals"; exit 7' TERM
touch "$out/started"
if [[ -n ${FAKE_EXIT_NOW:-} ]]; then exit "$FAKE_EXIT_NOW"; fi
# Short sleeps: bash runs a trap only between commands.
for _ in $(seq 600); do sleep 0.05; done
exit 99
"""

JOB_ENV = {
    "SLURM_JOB_ID": "4242",
    "SLURM_FOO": "inherited",
    "SLURM_MEM_PER_NODE": "1000",
    "SLURM_CONF": "/etc/slurm/test.conf",
}


def prepare(tmp_path: Path, *, setup: str | None = None) -> tuple[Path, Path, dict[str, str]]:
    """(script, out dir, environment) of a rendered driver script whose program is the fake."""
    campaign, site = (
        write_configs(tmp_path) if setup is None else write_configs(tmp_path, setup=setup)
    )
    script = tmp_path / "driver.sbatch"
    script.write_text(driver_script(campaign, site), encoding="utf-8")
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    fake = fake_bin / "lassi-hpc"
    fake.write_text(FAKE_LASSI_HPC, encoding="utf-8")
    fake.chmod(0o755)
    out = tmp_path / "fake-out"
    out.mkdir()
    env = {
        "PATH": f"{fake_bin}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FAKE_DRIVER_OUT": str(out),
        **JOB_ENV,
    }
    return script, out, env


def wait_for(path: Path, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout_s} s"
        time.sleep(0.02)


def run_script(script: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["bash", str(script)],
        env=env,
        cwd=script.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def environment(out: Path) -> dict[str, str]:
    lines = (out / "env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.mark.parametrize("signal_number", [signal.SIGUSR1, signal.SIGTERM])
def test_a_signal_reaches_the_driver_as_term_and_its_status_is_the_jobs(
    tmp_path: Path, signal_number: signal.Signals
) -> None:
    script, out, env = prepare(tmp_path)
    job = run_script(script, env)
    try:
        wait_for(out / "started")
        job.send_signal(signal_number)
        stdout, stderr = job.communicate(timeout=30)
    finally:
        job.kill()
    assert job.returncode == 7, stderr
    assert (out / "signals").read_text(encoding="utf-8") == "TERM\n"
    assert "signal received; asking the driver to stop" in stderr
    assert "the driver exited with status 7" in stdout
    assert "lassi-hpc driver job 4242 on " in stdout  # logged before SLURM_* are cleared


def test_slurm_variables_are_cleared_but_slurm_conf_and_setup_are_kept(tmp_path: Path) -> None:
    script, out, env = prepare(tmp_path)
    job = run_script(script, {**env, "FAKE_EXIT_NOW": "0"})
    _, stderr = job.communicate(timeout=30)
    assert job.returncode == 0, stderr
    seen = environment(out)
    assert not {name for name in seen if name.startswith("SLURM_")} - {"SLURM_CONF"}
    assert seen["SLURM_CONF"] == "/etc/slurm/test.conf"
    assert seen["LASSI_TEST_SITE_SETUP"] == "site"
    assert seen["LASSI_TEST_DRIVER_SETUP"] == "driver"


def test_the_driver_runs_in_the_campaign_directory_with_absolute_paths(tmp_path: Path) -> None:
    script, out, env = prepare(tmp_path)
    job = run_script(script, {**env, "FAKE_EXIT_NOW": "0"})
    job.communicate(timeout=30)
    campaign_dir = tmp_path / "campaign dir"
    assert (out / "cwd").read_text(encoding="utf-8").strip() == str(campaign_dir)
    assert (out / "args").read_text(encoding="utf-8").splitlines() == [
        "run",
        str(campaign_dir / "campaign.toml"),
        "--site",
        str(tmp_path / "site.toml"),
    ]


@pytest.mark.parametrize("status", [0, 3, 130])
def test_the_job_exits_with_the_drivers_status(tmp_path: Path, status: int) -> None:
    script, out, env = prepare(tmp_path)
    job = run_script(script, {**env, "FAKE_EXIT_NOW": str(status)})
    job.communicate(timeout=30)
    assert job.returncode == status
    assert not (out / "signals").exists()


def test_a_signal_during_setup_stops_the_job_before_the_driver_starts(tmp_path: Path) -> None:
    setup = "['touch \"$FAKE_DRIVER_OUT/setup-running\"', 'sleep 1']"
    script, out, env = prepare(tmp_path, setup=setup)
    job = run_script(script, env)
    try:
        wait_for(out / "setup-running")
        job.send_signal(signal.SIGUSR1)
        _, stderr = job.communicate(timeout=30)
    finally:
        job.kill()
    assert job.returncode == 143
    assert "stopped by a signal before the driver started" in stderr
    assert not (out / "started").exists()


def test_a_missing_program_is_named_after_the_setup_lines(tmp_path: Path) -> None:
    script, out, env = prepare(tmp_path)
    (tmp_path / "fake-bin" / "lassi-hpc").unlink()
    job = run_script(script, env)
    _, stderr = job.communicate(timeout=30)
    assert job.returncode == 127
    assert "this program is not on PATH after the setup lines: lassi-hpc" in stderr
    assert os.listdir(out) == []
