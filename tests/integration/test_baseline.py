"""`lassi-hpc baseline` end to end: real g++, real Parsl (local HTEX), real sandbox, real HDF5.

Misbehaving apps (a hang, a fork bomb, a multi-GB write, one that deletes and writes files outside
its scratch copy) are each recorded as a failure with its reason, and the good app still completes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.flow.baseline import run_baseline
from lassi_hpc.records import StageStatus
from lassi_hpc.store import ResultsReader

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "data" / "apps" / "tiny"

HANG = """
#include "kernel.h"
double series_sum(long n, int repeats) { volatile long spin = 0; for (;;) spin++; return 0; }
"""

# Every process forks forever; only the sandbox's process limit and wall-clock limit stop it.
FORK_BOMB = """
#include "kernel.h"
#include <cstdio>
#include <unistd.h>
double series_sum(long n, int repeats) {
  for (;;) if (fork() < 0) std::perror("fork");
  return 1.5;
}
"""

BIG_WRITE = """
#include "kernel.h"
#include <cstdio>
#include <vector>
double series_sum(long n, int repeats) {
  std::vector<char> block(1 << 20, 'x');
  FILE* f = std::fopen("huge.bin", "wb");
  for (int i = 0; i < 3072; i++) std::fwrite(block.data(), 1, block.size(), f);
  std::fclose(f);
  return 1.5;
}
"""

VANDAL = """
#include "kernel.h"
#include <cstdio>
double series_sum(long n, int repeats) {
  std::remove("VICTIM");
  FILE* f = std::fopen("PLANTED", "w");
  if (f) { std::fputs("owned", f); std::fclose(f); }
  return 1.5;
}
"""


def make_app(suite: Path, name: str, kernel: str | None) -> None:
    app = suite / name
    shutil.copytree(TINY, app)
    manifest = app / "app.toml"
    manifest.write_text(manifest.read_text().replace('name = "tiny"', f'name = "{name}"'))
    if kernel is not None:
        (app / "omp" / "kernel.cpp").write_text(kernel)


def write_configs(
    tmp_path: Path, apps: list[str], backend: str = "estimate", idle_s: float = 0.0
) -> tuple[Path, Path]:
    campaign = tmp_path / "campaign.toml"
    entries = "".join(f'\n[[apps]]\nname = "{a}"\n' for a in apps)
    campaign.write_text(
        f"""
[campaign]
name = "itest"
suite = "examples"
suite_path = "suite"
results_dir = "results"
{entries}
[measure]
repetitions = 2
min_window_s = 0.2
idle_s = {idle_s}
max_start_delay_s = 0.0
settle_s = 0.05
"""
    )
    site_text = (REPO / "site_configs" / "local.toml").read_text()
    site_text = site_text.replace('scratch_dir = ""', 'scratch_dir = "scratch"')
    site_text = site_text.replace('energy_backend = "auto"', f'energy_backend = "{backend}"')
    site_text = site_text.replace("file_size_bytes = 536870912", "file_size_bytes = 67108864")
    site_text = site_text.replace("processes = 256", "processes = 64")
    site = tmp_path / "site.toml"
    site.write_text(site_text)
    return campaign, site


@pytest.fixture
def victim(tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "precious.txt"
    target.write_text("keep me")
    return target, outside / "planted.txt"


def test_baseline_records_every_app_and_contains_the_bad_ones(
    tmp_path: Path, victim: tuple[Path, Path]
) -> None:
    target, planted = victim
    suite = tmp_path / "suite"
    make_app(suite, "good", None)
    make_app(suite, "hang", HANG)
    make_app(suite, "forkbomb", FORK_BOMB)
    make_app(suite, "bigwrite", BIG_WRITE)
    make_app(
        suite,
        "vandal",
        VANDAL.replace("VICTIM", str(target)).replace("PLANTED", str(planted)),
    )
    for quick in ("hang", "forkbomb"):  # both must hit the wall-clock limit quickly
        manifest = suite / quick / "app.toml"
        manifest.write_text(manifest.read_text().replace("timeout_s = 20", "timeout_s = 3"))
    apps = ["hang", "forkbomb", "bigwrite", "vandal", "good"]
    campaign_file, site_file = write_configs(tmp_path, apps)

    results = run_baseline(load_campaign(campaign_file), load_site(site_file))

    with ResultsReader(results) as reader:
        rows = {row.app: row for row in reader.baselines()}
        assert set(rows) == set(apps)
        good = rows["good"]
        assert good.status == StageStatus.OK.value, good.reason
        assert good.is_estimate and good.method == "estimate"
        assert good.energy_j_mean > 0
        assert good.repetitions == 2

        hang = rows["hang"]
        assert hang.status == StageStatus.RUN_FAILED.value
        assert "wall-clock" in hang.reason or "timeout" in hang.reason

        bomb = rows["forkbomb"]
        assert bomb.status == StageStatus.RUN_FAILED.value
        assert bomb.reason

        big = rows["bigwrite"]
        assert big.status == StageStatus.RUN_FAILED.value
        assert "file" in big.reason.lower()

    # Whatever the vandal's own status, the files outside its scratch copy are untouched.
    assert target.read_text() == "keep me"
    assert not planted.exists()
    # Scratch copies are removed after each task.
    assert not any((tmp_path / "scratch").rglob("huge.bin"))


def test_baseline_resumes_without_redoing_and_cli_prints_the_path(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    make_app(suite, "good", None)
    campaign_file, site_file = write_configs(tmp_path, ["good"])
    first = run_baseline(load_campaign(campaign_file), load_site(site_file))
    with h5py.File(first, "r") as handle:
        created = handle.attrs["created_utc"]

    # A second app added to the campaign: only it is profiled; the first record stays as it was.
    make_app(suite, "second", None)
    campaign_file, site_file = write_configs(tmp_path, ["good", "second"])
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "lassi_hpc.cli",
            "baseline",
            str(campaign_file),
            "--site",
            str(site_file),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == str(first)
    assert "1 already stored, 1 to profile" in completed.stderr
    assert "the campaign config differs from the one this file was last run with" in (
        completed.stderr
    )
    with h5py.File(first, "r") as handle:
        assert handle.attrs["created_utc"] == created
    with ResultsReader(first) as reader:
        assert sorted(row.app for row in reader.baselines()) == ["good", "second"]
        provenance = reader.provenance()
    # The file keeps the config it was created with, and records the changed one of the resume.
    assert 'name = "second"' not in provenance["campaign_config"]
    (resumed,) = provenance["resumes"]
    assert 'name = "second"' in resumed["campaign_config"]


# The program's complaint, as a run with a wrong argument or a missing data file would print it.
CANNOT_OPEN = """
#include "kernel.h"
#include <cstdio>
#include <cstdlib>
double series_sum(long n, int repeats) {
  std::fprintf(stderr, "Error: cannot open input.dat\\n");
  std::exit(1);
}
"""


def test_a_failed_baseline_is_kept_on_resume_and_redone_with_redo_failed(
    tmp_path: Path,
) -> None:
    suite = tmp_path / "suite"
    make_app(suite, "flaky", CANNOT_OPEN)
    make_app(suite, "good", None)
    campaign_file, site_file = write_configs(tmp_path, ["flaky", "good"])
    results = run_baseline(load_campaign(campaign_file), load_site(site_file))
    with ResultsReader(results) as reader:
        rows = {row.app: row for row in reader.baselines()}
    assert rows["flaky"].status == StageStatus.RUN_FAILED.value
    assert "(output: 'Error: cannot open input.dat')" in rows["flaky"].reason

    shutil.copy(TINY / "omp" / "kernel.cpp", suite / "flaky" / "omp" / "kernel.cpp")  # fixed
    command = [sys.executable, "-m", "lassi_hpc.cli", "baseline", str(campaign_file)]
    command += ["--site", str(site_file)]

    def stamps() -> dict[str, str]:
        with h5py.File(results, "r") as handle:
            return {app: str(handle[f"apps/{app}/omp/baseline"].attrs["written_utc"])
                    for app in ("flaky", "good")}  # fmt: skip

    before = stamps()
    kept = subprocess.run(command, capture_output=True, text=True, check=False)
    assert kept.returncode == 0, kept.stderr
    assert "2 already stored, 0 to profile" in kept.stderr
    assert "1 stored baseline(s) failed and are kept: flaky/omp (run-failed)" in kept.stderr
    assert "--redo-failed" in kept.stderr
    assert "campaign config differs" not in kept.stderr  # the same config as before
    assert stamps() == before

    redone = subprocess.run(
        [*command, "--redo-failed"], capture_output=True, text=True, check=False
    )
    assert redone.returncode == 0, redone.stderr
    assert "1 already stored, 1 to profile" in redone.stderr
    after = stamps()
    assert after["good"] == before["good"]  # an ok baseline is never redone
    assert after["flaky"] != before["flaky"]
    with ResultsReader(results) as reader:
        rows = {row.app: row for row in reader.baselines()}
    assert len(rows) == 2
    assert rows["flaky"].status == StageStatus.OK.value, rows["flaky"].reason


def test_a_meter_backend_is_sampled_in_its_own_process_inside_the_worker(tmp_path: Path) -> None:
    # The FAKE device (a scripted 100 W / 300 W square wave) stands in for a GPU: the worker opens a
    # sampler process for it, and counter, samples and traces travel back to the file.
    suite = tmp_path / "suite"
    make_app(suite, "good", None)
    campaign_file, site_file = write_configs(tmp_path, ["good"], backend="fake", idle_s=0.1)

    results = run_baseline(load_campaign(campaign_file), load_site(site_file))

    with ResultsReader(results) as reader:
        (row,) = reader.baselines()
        assert row.status == StageStatus.OK.value, row.reason
        assert row.method == "counter" and not row.is_estimate
        record = reader.read_baseline("good", "omp")
    measurement = record.measurement
    assert measurement is not None
    assert "fake-device" in measurement.flags
    assert measurement.sample_period_s == pytest.approx(0.01)
    for repetition in measurement.repetitions:
        trace = repetition.trace
        assert trace is not None and len(trace.time_s) > 10
        assert trace.device_uids == ("fake-device-0",)
        assert set(trace.power_w) <= {100.0, 300.0}
        # Counter and integrated samples cover the same span and agree on the square wave.
        assert repetition.integrated_energy_j == pytest.approx(
            repetition.counter_energy_j, rel=0.05
        )
