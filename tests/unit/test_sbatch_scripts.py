"""driver_script and vllm_server_script: what goes in, and every refusal naming file and key."""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from sbatch_configs import REPO, golden_configs, write_configs

from lassi_hpc.config.campaign import load_campaign
from lassi_hpc.config.site import LLMServer, SiteConfig, SlurmJob, load_site
from lassi_hpc.errors import ConfigError
from lassi_hpc.llm.vllm import vllm_command
from lassi_hpc.slurm.render import TemplateError
from lassi_hpc.slurm.scripts import driver_script, template_text, vllm_server_script

EXAMPLE_SITES = ["slurm-a100-mi100.toml", "slurm-external-llm.toml"]


def with_server(site: SiteConfig, **changes: object) -> SiteConfig:
    server = replace(site.llm_servers["vllm"], **changes)  # type: ignore[arg-type]
    return replace(site, llm_servers={**site.llm_servers, "vllm": server})


def test_driver_runs_the_campaign_with_absolute_quoted_paths(tmp_path: Path) -> None:
    campaign, site = write_configs(tmp_path)
    script = driver_script(campaign, site)
    run_line = f"lassi-hpc run {shlex.quote(str(campaign.source))} --site {site.source} &"
    assert run_line in script.splitlines()
    assert f"cd {shlex.quote(str(campaign.source.parent))} || exit 1" in script
    assert f"#SBATCH --output={tmp_path}/out/shell/slurm-driver-%j.log" in script


def test_driver_program_can_be_python_dash_m(tmp_path: Path) -> None:
    campaign, site = write_configs(tmp_path)
    program = (sys.executable, "-m", "lassi_hpc.cli")
    script = driver_script(campaign, site, program=program)
    assert f"{shlex.join(program)} run " in script
    assert f"command -v {shlex.quote(sys.executable)} " in script


def test_driver_setup_lines_come_site_first_then_driver(tmp_path: Path) -> None:
    campaign, site = write_configs(tmp_path, setup="['module load a', 'echo \"$HOME\"']")
    lines = driver_script(campaign, site).splitlines()
    first = lines.index("module load a")
    assert lines[first : first + 3] == [
        "module load a",
        'echo "$HOME"',
        "export LASSI_TEST_DRIVER_SETUP=driver",
    ]


def test_setup_lines_may_read_unset_variables_under_the_scripts_set_u(tmp_path: Path) -> None:
    """conda's activate scripts read unset variables; under the script's `set -u` they ended the
    job before the driver started."""
    setup = "['echo \"setup saw [${LASSI_TEST_NEVER_SET}]\"']"
    campaign, site = write_configs(tmp_path, setup=setup)
    script = driver_script(campaign, site)
    lines = script.splitlines()
    start = lines.index("set -uo pipefail")
    setup_at = next(i for i, line in enumerate(lines) if "LASSI_TEST_NEVER_SET" in line)
    assert lines[setup_at - 1] == "set +u" and "set -u" in lines[setup_at + 1 :]
    shell = "\n".join([lines[start], *lines[setup_at - 1 : setup_at + 3], "echo $NEVER_SET_EITHER"])
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=False)
    assert "setup saw []" in done.stdout  # the setup line ran to its end
    assert done.returncode != 0 and "NEVER_SET_EITHER" in done.stderr  # set -u is back after it


def test_driver_signal_and_optional_keys_follow_the_site() -> None:
    campaign, site = golden_configs()
    assert site.slurm is not None and site.slurm.driver is not None
    driver = replace(site.slurm.driver, gpus=1, gpu_type="", account="", qos="", memory="")
    slurm = replace(site.slurm, driver=driver, driver_signal_s=120)
    script = driver_script(campaign, replace(site, slurm=slurm))
    assert "#SBATCH --signal=B:USR1@120" in script
    assert "#SBATCH --gres=gpu:1" in script
    for option in ("--account", "--qos", "--mem", "--constraint"):
        assert f"#SBATCH {option}=" not in script


def test_driver_needs_a_slurm_site() -> None:
    campaign = load_campaign(REPO / "examples" / "campaigns" / "demo.toml")
    site = load_site(REPO / "site_configs" / "local.toml")
    with pytest.raises(ConfigError) as error:
        driver_script(campaign, site)
    assert error.value.key == "site.scheduler"
    assert error.value.file == str(site.source)
    assert "only for Slurm sites" in str(error.value)


def test_driver_needs_a_driver_table() -> None:
    campaign, site = golden_configs()
    assert site.slurm is not None
    with pytest.raises(ConfigError) as error:
        driver_script(campaign, replace(site, slurm=replace(site.slurm, driver=None)))
    assert error.value.key == "slurm.driver"
    assert error.value.file == str(site.source)


@pytest.mark.parametrize("signal_s", [2 * 86400, 70000])
def test_driver_signal_time_must_fit_the_walltime_and_slurm(signal_s: int) -> None:
    campaign, site = golden_configs()
    assert site.slurm is not None
    slurm = replace(site.slurm, driver_signal_s=signal_s)
    with pytest.raises(ConfigError) as error:
        driver_script(campaign, replace(site, slurm=slurm))
    assert error.value.key == "slurm.driver_signal_s"


def test_driver_refuses_a_campaign_name_sbatch_would_misread() -> None:
    campaign, site = golden_configs()
    with pytest.raises(ConfigError) as error:
        driver_script(replace(campaign, name="my campaign"), site)
    assert (error.value.file, error.value.key) == (str(campaign.source), "campaign.name")


def test_driver_refuses_a_results_dir_with_a_space(tmp_path: Path) -> None:
    campaign, site = write_configs(tmp_path)
    with pytest.raises(ConfigError) as error:
        driver_script(replace(campaign, results_dir=tmp_path / "my results"), site)
    assert error.value.key == "campaign.results_dir"


def test_driver_refuses_a_bad_scheduler_option() -> None:
    campaign, site = golden_configs()
    assert site.slurm is not None and site.slurm.driver is not None
    driver = replace(site.slurm.driver, scheduler_options=("--mail-type=END",))
    with pytest.raises(ConfigError) as error:
        driver_script(campaign, replace(site, slurm=replace(site.slurm, driver=driver)))
    assert error.value.key == "slurm.driver.scheduler_options[0]"


def test_driver_needs_a_program(tmp_path: Path) -> None:
    campaign, site = write_configs(tmp_path)
    with pytest.raises(TemplateError, match="`program` must name"):
        driver_script(campaign, site, program=())


def test_vllm_script_runs_exactly_vllm_command() -> None:
    _, site = golden_configs()
    server = site.llm_servers["vllm"]
    script = vllm_server_script(site, "vllm")
    assert f"exec {shlex.join(vllm_command(server, server.port))}" in script.splitlines()
    assert "server_port=8000" in script
    assert "#SBATCH --job-name=lassi-vllm-vllm" in script
    assert "#SBATCH --gres=gpu:a100:4" in script
    assert "#SBATCH --partition=gpu-llm" in script


def test_vllm_script_takes_the_key_from_the_named_variable_never_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LASSI_VLLM_KEY", "secret-value-123")
    _, site = golden_configs()
    script = vllm_server_script(site, "vllm")
    assert 'export VLLM_API_KEY="$LASSI_VLLM_KEY"' in script
    assert "secret-value-123" not in script


def test_vllm_script_without_a_key_clears_an_inherited_one() -> None:
    _, site = golden_configs()
    script = vllm_server_script(with_server(site, api_key_env=""), "vllm")
    assert "unset VLLM_API_KEY" in script.splitlines()
    assert "VLLM_API_KEY=" not in script


@pytest.mark.parametrize(
    ("changes", "key", "problem"),
    [
        ({"port": 0}, "llm_servers.vllm.port", "needs a fixed port"),
        ({"host": "127.0.0.1"}, "llm_servers.vllm.host", "other nodes"),
        ({"host": "localhost"}, "llm_servers.vllm.host", "other nodes"),
        ({"kind": "embedded"}, "llm_servers.vllm.kind", "only for servers of kind 'vllm'"),
        ({"slurm": None}, "llm_servers.vllm.slurm", "required"),
        ({"tensor_parallel_size": 8}, "llm_servers.vllm.slurm.gpus", "tensor_parallel_size = 8"),
        ({"api_key_env": "MY-KEY"}, "llm_servers.vllm.api_key_env", "environment variable"),
        ({"api_key_env": "K; rm -rf ~"}, "llm_servers.vllm.api_key_env", "environment variable"),
    ],
)
def test_vllm_script_refusals_name_the_key(
    changes: dict[str, object], key: str, problem: str
) -> None:
    _, site = golden_configs()
    with pytest.raises(ConfigError) as error:
        vllm_server_script(with_server(site, **changes), "vllm")
    assert error.value.key == key
    assert error.value.file == str(site.source)
    assert problem in str(error.value)


def test_vllm_script_refuses_a_server_job_value_sbatch_would_misread() -> None:
    _, site = golden_configs()
    job = SlurmJob(partition="gpu llm", gpus=4)
    with pytest.raises(ConfigError) as error:
        vllm_server_script(with_server(site, slurm=job), "vllm")
    assert error.value.key == "llm_servers.vllm.slurm.partition"


def test_vllm_script_for_an_unknown_server_lists_the_known_ones() -> None:
    _, site = golden_configs()
    with pytest.raises(ConfigError) as error:
        vllm_server_script(site, "vlm")
    assert error.value.key == "llm_servers.vlm"
    assert error.value.allowed == ("vllm",)


def test_vllm_script_needs_a_slurm_site() -> None:
    site = load_site(REPO / "site_configs" / "local.toml")
    extra = LLMServer(kind="vllm", model="m", port=8000, host="0.0.0.0")
    with pytest.raises(ConfigError) as error:
        vllm_server_script(replace(site, llm_servers={"v": extra}), "v")
    assert error.value.key == "site.scheduler"


@pytest.mark.parametrize("name", EXAMPLE_SITES)
def test_example_sites_load_and_render_a_driver_script(name: str) -> None:
    site = load_site(REPO / "site_configs" / name)
    campaign = load_campaign(REPO / "examples" / "campaigns" / "demo.toml")
    assert site.scheduler == "slurm"
    assert {p.name for p in site.partitions} == {"cpu", "a100", "mi100"}
    script = driver_script(campaign, site)
    assert "source /shared/software/lassi-hpc/venv/bin/activate" in script.splitlines()


def test_the_vllm_example_renders_a_server_script() -> None:
    site = load_site(REPO / "site_configs" / "slurm-a100-mi100.toml")
    script = vllm_server_script(site, "vllm")
    assert "#SBATCH --partition=gpu-llm" in script
    assert "--tensor-parallel-size 4" in script


def test_the_external_example_points_at_a_server_url() -> None:
    site = load_site(REPO / "site_configs" / "slurm-external-llm.toml")
    (server,) = site.llm_servers.values()
    assert server.kind == "external"
    assert server.url.endswith("/v1")


@pytest.mark.parametrize("name", ["campaign-driver.sbatch", "vllm-server.sbatch"])
def test_templates_are_package_data(name: str) -> None:
    text, where = template_text(name)
    assert text.startswith("#!/bin/bash\n")
    assert Path(where).is_relative_to(REPO / "lassi_hpc" / "slurm" / "templates")
