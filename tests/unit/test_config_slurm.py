"""Slurm site configs: partitions as data, the driver and LLM jobs; mistakes name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.config.site import walltime_s
from lassi_hpc.errors import ConfigError

SITE = """
[site]
name = "cluster"
scheduler = "slurm"

[slurm]
setup = ["module load cuda/12.4", "source /shared/venv/bin/activate"]

[slurm.driver]
partition = "cpu"
walltime = "2-00:00:00"

[toolchains.nvcc]
language = "cuda"
compiler = "nvcc"

[toolchains.gcc]
language = "omp"
compiler = "g++"

[[partitions]]
name = "a100"
toolchain = "nvcc"
device = "nvidia"
gpus_per_node = 4
gpu_type = "a100"
account = "proj42"
walltime = "04:00:00"

[[partitions]]
name = "omp"
slurm_partition = "cpu"
toolchain = "gcc"
workers = 8

[llm_servers.big]
kind = "vllm"
model = "Qwen/Qwen2.5-Coder-32B-Instruct"
api = "chat"

[llm_servers.big.slurm]
partition = "gpu-llm"
gpus = 4
"""


def write(tmp_path: Path, text: str, name: str = "site.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_slurm_site_loads_with_its_jobs(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, SITE))
    a100, omp = site.partitions
    assert site.scheduler == "slurm"
    assert site.slurm is not None and site.slurm.driver is not None
    assert site.slurm.driver.partition == "cpu"
    assert a100.workers_per_node == 4  # one worker per GPU
    assert a100.slurm_name == "a100"
    assert omp.slurm_name == "cpu"
    assert omp.workers_per_node == 8
    server_job = site.llm_servers["big"].slurm
    assert server_job is not None and server_job.gpus == 4


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (('walltime = "04:00:00"', 'walltime = "4h"'), ["partitions[0].walltime", "[D-]HH:MM:SS"]),
        (('walltime = "04:00:00"', 'walltime = "00:61:00"'), ["partitions[0].walltime", "59"]),
        (('walltime = "04:00:00"', 'walltime = "00:00:00"'), ["partitions[0].walltime", "zero"]),
        (
            ('api = "chat"', 'api = "chat"\ntensor_parallel_size = 8'),
            ["llm_servers.big.slurm.gpus", "tensor_parallel_size = 8", "4"],
        ),
        (("gpus_per_node = 4\n", ""), ["partitions[0].gpus_per_node", "must request its GPUs"]),
        (("gpus_per_node = 4\n", "gpus_per_node = 4\nworkers = 2\n"), ["partitions[0].workers"]),
        (('scheduler = "slurm"', 'scheduler = "pbs"'), ["site.scheduler", "local, slurm"]),
        (('partition = "gpu-llm"\n', ""), ["llm_servers.big.slurm.partition", "required"]),
        (('[slurm.driver]\npartition = "cpu"', '[slurm.driver]\npartiton = "cpu"'), ["partition"]),
        (("[slurm]\n", '[slurm]\nshared_dir = "work/lassi"\n'), ["slurm.shared_dir", "absolute"]),
        # Parsl writes a partition's own requests (partition, account, GPUs) after its
        # scheduler_options, and sbatch stops reading directives at the first line that is not
        # one: such a line used to drop them silently. Values sbatch would misread failed only at
        # submission.
        (
            (
                'walltime = "04:00:00"',
                'walltime = "04:00:00"\nscheduler_options = ["--mail-type=END"]',
            ),
            ["partitions[0].scheduler_options[0]", "starting with '#SBATCH '"],
        ),
        (('gpu_type = "a100"', 'gpu_type = "gpu:a100"'), ["partitions[0].gpu_type", "GRES type"]),
        (('account = "proj42"', 'account = "proj 42"'), ["partitions[0].account", "--account"]),
        (
            ('slurm_partition = "cpu"', 'slurm_partition = "cpu#2"'),
            ["partitions[1].slurm_partition"],
        ),
        (
            ('walltime = "2-00:00:00"', 'walltime = "2-00:00:00"\nmemory = "16 GB"'),
            ["slurm.driver.memory", "--mem"],
        ),
        (
            ("gpus = 4\n", 'gpus = 4\nscheduler_options = ["--comment=vllm"]\n'),
            ["llm_servers.big.slurm.scheduler_options[0]", "'#SBATCH '"],
        ),
        (("gpus = 4\n", 'gpus = 4\ngpu_type = "gpu:a100"\n'), ["llm_servers.big.slurm.gpu_type"]),
    ],
)
def test_slurm_mistakes_name_the_key(
    tmp_path: Path, edit: tuple[str, str], fragments: list[str]
) -> None:
    assert edit[0] in SITE
    with pytest.raises(ConfigError) as caught:
        load_site(write(tmp_path, SITE.replace(*edit, 1)))
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)


def test_a_slurm_site_needs_its_slurm_table(tmp_path: Path) -> None:
    text = (
        SITE.split("[slurm]", maxsplit=1)[0]
        + "[toolchains.gcc]"
        + SITE.split("[toolchains.gcc]")[1]
    )
    text = text.replace('[llm_servers.big.slurm]\npartition = "gpu-llm"\ngpus = 4\n', "")
    text = text.replace('toolchain = "nvcc"', 'toolchain = "gcc"')
    with pytest.raises(ConfigError, match=r"slurm.*required when scheduler = 'slurm'"):
        load_site(write(tmp_path, text))


def test_a_local_site_refuses_slurm_keys(tmp_path: Path) -> None:
    text = """
[site]
name = "laptop"

[toolchains.gcc]
language = "omp"
compiler = "g++"

[[partitions]]
name = "cpu"
toolchain = "gcc"
account = "proj42"
"""
    with pytest.raises(ConfigError, match=r"partitions\[0\]\.account.*only for scheduler"):
        load_site(write(tmp_path, text))


def test_walltime_seconds() -> None:
    assert walltime_s("04:00:00") == 4 * 3600
    assert walltime_s("1-00:30:05") == 24 * 3600 + 30 * 60 + 5


CAMPAIGN = """
[campaign]
name = "routing"
variants = ["omp"]

[[apps]]
name = "stencil2d"
partition = "mi100"

[[apps]]
name = "histogram"
"""


def test_campaign_apps_may_name_their_partition(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, CAMPAIGN, "campaign.toml"))
    assert campaign.app_partitions == {"stencil2d": "mi100"}
