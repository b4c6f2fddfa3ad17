"""`lassi-hpc render-sbatch`, through a parser of its own (cli.py wires the same function)."""

from __future__ import annotations

import argparse
import re
import stat
from pathlib import Path

import pytest
from sbatch_configs import GOLDEN_DATA, REPO, write_configs

from lassi_hpc.cli_sbatch import add_render_sbatch_parser
from lassi_hpc.errors import ConfigError, LassiError


def render_sbatch(*argv: str) -> int:
    top = argparse.ArgumentParser(prog="lassi-hpc")
    commands = top.add_subparsers(dest="command", required=True)
    add_render_sbatch_parser(commands)
    args = top.parse_args(["render-sbatch", *argv])
    code: int = args.handler(args)
    return code


def test_the_driver_script_goes_to_stdout_and_its_log_directory_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign, site = write_configs(tmp_path)
    log_dir = tmp_path / "out" / "shell"
    assert not log_dir.exists()
    assert render_sbatch(str(campaign.source), "--site", str(site.source)) == 0
    out, err = capsys.readouterr()
    assert out.startswith("#!/bin/bash\n#SBATCH --job-name=lassi-shell\n")
    assert f"#SBATCH --output={log_dir}/slurm-driver-%j.log" in out
    assert log_dir.is_dir()  # Slurm would not create it, and the job would leave no log
    assert f"created {log_dir}" in err


def test_an_existing_log_directory_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign, site = write_configs(tmp_path)
    (tmp_path / "out" / "shell").mkdir(parents=True)
    assert render_sbatch(str(campaign.source), "--site", str(site.source)) == 0
    assert capsys.readouterr().err == ""


# The driver would find the mismatch only after its job had waited in the queue.
@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (('name = "stencil2d"', 'name = "stencil2d"\n\n[llm]\ngenerator = "vllm"'),
         ["llm.generator: no LLM server named 'vllm'", "must be one of: embedded"]),
        (('variants = ["omp"]', 'variants = ["cuda"]'),
         ["stencil2d/cuda", "no partition that builds cuda"]),
    ],
)  # fmt: skip
def test_a_campaign_the_site_cannot_run_is_refused_before_rendering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str], fragments: list[str]
) -> None:
    campaign, site = write_configs(tmp_path)
    text = campaign.source.read_text(encoding="utf-8")
    assert edit[0] in text
    campaign.source.write_text(text.replace(*edit), encoding="utf-8")
    with pytest.raises(LassiError) as error:
        render_sbatch(str(campaign.source), "--site", str(site.source))
    for fragment in fragments:
        assert fragment in str(error.value)
    assert capsys.readouterr().out == ""


def test_the_vllm_server_script_is_written_executable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "vllm.sbatch"
    site = GOLDEN_DATA / "site.toml"
    assert render_sbatch("--vllm-server", "vllm", "--site", str(site), "-o", str(target)) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"submit it with: sbatch {target}" in err
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    text = target.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/bash\n#SBATCH --job-name=lassi-vllm-vllm\n")
    assert "exec vllm serve Qwen/Qwen2.5-Coder-32B-Instruct " in text


@pytest.mark.parametrize("with_campaign", [True, False])
def test_campaign_and_vllm_server_exclude_each_other(tmp_path: Path, with_campaign: bool) -> None:
    campaign, site = write_configs(tmp_path)
    argv = [str(campaign.source), "--vllm-server", "vllm"] if with_campaign else []
    with pytest.raises(LassiError, match=r"give either a CAMPAIGN file .* or --vllm-server NAME"):
        render_sbatch(*argv, "--site", str(site.source))


def test_the_site_is_required(tmp_path: Path) -> None:
    campaign, _ = write_configs(tmp_path)
    with pytest.raises(SystemExit):
        render_sbatch(str(campaign.source))


def test_a_local_site_is_a_config_error(tmp_path: Path) -> None:
    campaign, _ = write_configs(tmp_path)
    local = REPO / "site_configs" / "local.toml"
    with pytest.raises(ConfigError) as error:
        render_sbatch(str(campaign.source), "--site", str(local))
    assert error.value.key == "site.scheduler"


def test_an_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "vllm.sbatch"
    site = GOLDEN_DATA / "site.toml"
    with pytest.raises(LassiError, match=re.escape(f"cannot write {target}")):
        render_sbatch("--vllm-server", "vllm", "--site", str(site), "-o", str(target))
