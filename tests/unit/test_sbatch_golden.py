"""The rendered sbatch scripts, compared line for line with the golden files.

The inputs are tests/data/slurm/campaign.toml and site.toml; the repository's path in a rendered
script is replaced by @REPO@, so the golden files hold no machine's paths. After an intended
change of a template or of the rendering, regenerate the golden files with

    LASSI_HPC_UPDATE_GOLDEN=1 pytest tests/unit/test_sbatch_golden.py

and review the difference (git diff tests/data/slurm/golden) before committing it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sbatch_configs import GOLDEN_DATA, REPO, golden_configs

from lassi_hpc.slurm.scripts import driver_script, vllm_server_script

GOLDEN_DIR = GOLDEN_DATA / "golden"
REPO_TOKEN = "@REPO@"


def normalised(script: str) -> str:
    return script.replace(str(REPO), REPO_TOKEN)


def rendered_driver() -> str:
    campaign, site = golden_configs()
    return driver_script(campaign, site)


def rendered_vllm_server() -> str:
    _, site = golden_configs()
    return vllm_server_script(site, "vllm")


def check_golden(name: str, script: str) -> None:
    golden = GOLDEN_DIR / name
    text = normalised(script)
    if os.environ.get("LASSI_HPC_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8")
    assert text.splitlines() == expected.splitlines()
    assert text == expected


def test_driver_script_matches_its_golden_file() -> None:
    check_golden("campaign-driver.sbatch", rendered_driver())


def test_vllm_server_script_matches_its_golden_file() -> None:
    check_golden("vllm-server.sbatch", rendered_vllm_server())


def test_the_golden_files_hold_no_machine_path() -> None:
    for golden in GOLDEN_DIR.glob("*.sbatch"):
        assert str(REPO) not in golden.read_text(encoding="utf-8")
    assert REPO_TOKEN in (GOLDEN_DIR / "campaign-driver.sbatch").read_text(encoding="utf-8")


@pytest.mark.parametrize("render", [rendered_driver, rendered_vllm_server])
def test_rendered_scripts_are_valid_bash(render: Callable[[], str], tmp_path: Path) -> None:
    script = tmp_path / "job.sbatch"
    script.write_text(render(), encoding="utf-8")
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False, timeout=10
    )
    assert result.returncode == 0, result.stderr
