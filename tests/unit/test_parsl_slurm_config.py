"""site -> parsl.Config: Slurm partitions, the LLM node's block, and the local site as before.

Nothing here needs a Slurm cluster: the Config is built and inspected, and the worker launch
command is run through Parsl's own srun launcher script by bash, with stand-ins for the vendor
programs `srun` and `process_worker_pool.py` (fakes that record what they were given).
"""

from __future__ import annotations

import math
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from parsl.executors import HighThroughputExecutor
from parsl.jobs.states import JobState, JobStatus
from parsl.launchers import SimpleLauncher, SrunLauncher
from parsl.providers import LocalProvider, SlurmProvider

from lassi_hpc.config import load_site
from lassi_hpc.config.site import SiteConfig
from lassi_hpc.errors import ConfigError
from lassi_hpc.flow.parsl_config import (
    BLOCK_FAILURES_IN_A_ROW,
    TASK_RETRIES,
    llm_executor_label,
    parsl_config,
    worker_init_script,
)

REPO = Path(__file__).resolve().parents[2]
BIN = str(Path(sys.executable).parent)

SLURM_SITE = """
[site]
name = "cluster"
scheduler = "slurm"

[slurm]
setup = ["module load cuda/12.4", "source /opt/lassi/bin/activate"]
address = "10.1.2.3"
cmd_timeout_s = 45

[toolchains.nvcc]
language = "cuda"
compiler = "nvcc"

[toolchains.hipcc]
language = "hip"
compiler = "hipcc"

[toolchains.gcc-omp]
language = "omp"
compiler = "g++"

[[partitions]]
name = "a100"
toolchain = "nvcc"
device = "nvidia"
slurm_partition = "gpu-a100"
account = "proj42"
qos = "high"
walltime = "1-02:00:00"
constraint = "a100_40g"
gpus_per_node = 4
gpu_type = "a100"
gpu_model = "A100-SXM4-40GB"
max_blocks = 2
cores_per_node = 32
exclusive = true
scheduler_options = ["#SBATCH --mail-type=NONE", "#SBATCH --comment=lassi"]
setup = ["module load nvhpc", "export OMP_PROC_BIND=close"]

[[partitions]]
name = "mi100"
toolchain = "hipcc"
device = "amd"
gpus_per_node = 2
gpu_type = "mi100"

[[partitions]]
name = "cpu"
toolchain = "gcc-omp"
workers = 3

[llm_servers.coder]
kind = "vllm"
api = "chat"
model = "Qwen/Qwen2.5-Coder-7B-Instruct"
api_key_env = "CODER_KEY"
workers = 8

[llm_servers.coder.slurm]
partition = "llm"
account = "proj42"
walltime = "12:00:00"
gpus = 2
gpu_type = "h100"
cores = 16
memory = "128G"
scheduler_options = ["#SBATCH --comment=vllm"]
setup = ["module load vllm/0.8"]

[llm_servers.remote]
kind = "external"
url = "https://llm.example.org/v1"
model = "big"
workers = 4
"""


def write_site(tmp_path: Path, text: str = SLURM_SITE) -> SiteConfig:
    path = tmp_path / "site.toml"
    path.write_text(text)
    return load_site(path)


@pytest.fixture
def site(tmp_path: Path) -> SiteConfig:
    return write_site(tmp_path)


def executors_of(site: SiteConfig, run_dir: Path, **kwargs: Any) -> dict[str, Any]:
    config = parsl_config(site, run_dir, **kwargs)
    return {executor.label: executor for executor in config.executors}


def test_one_executor_per_partition_and_per_llm_server(site: SiteConfig, tmp_path: Path) -> None:
    config = parsl_config(site, tmp_path / "run", llm_servers=site.llm_servers)
    assert [e.label for e in config.executors] == [
        "a100",
        "mi100",
        "cpu",
        "llm-coder",
        "llm-remote",
    ]
    assert all(isinstance(e, HighThroughputExecutor) for e in config.executors)
    assert config.retries == TASK_RETRIES >= 1
    # "simple" scales out (replacing a block that ended) but never in: Parsl's htex scale-in
    # cancels blocks that have not connected yet (see parsl_config).
    assert config.strategy == "simple"
    assert config.run_dir == str(tmp_path / "run")
    used = parsl_config(site, tmp_path / "run", partitions={"mi100"})
    assert [e.label for e in used.executors] == ["mi100"]


def test_gpu_partition_block_requests_its_gpus_for_the_job_and_the_step(
    site: SiteConfig, tmp_path: Path
) -> None:
    a100 = executors_of(site, tmp_path)["a100"]
    provider = a100.provider
    assert isinstance(provider, SlurmProvider)
    assert provider.partition == "gpu-a100"
    assert (provider.account, provider.qos, provider.constraint) == ("proj42", "high", "a100_40g")
    assert provider.walltime == "26:00:00"  # Parsl reads HH:MM:SS only
    assert provider.gres == "gpu:a100:4"
    assert provider.exclusive is True
    assert (provider.init_blocks, provider.min_blocks, provider.max_blocks) == (1, 0, 2)
    assert provider.nodes_per_block == 1
    assert provider.cores_per_node == 32
    assert provider.cmd_timeout == 45
    options = provider.scheduler_options.splitlines()
    for line in (
        "#SBATCH --mail-type=NONE",
        "#SBATCH --comment=lassi",
        "#SBATCH --exclusive",
        "#SBATCH --partition=gpu-a100",
        "#SBATCH --account=proj42",
        "#SBATCH --gres=gpu:a100:4",
    ):
        assert line in options
    assert isinstance(provider.launcher, SrunLauncher)
    assert provider.launcher.overrides == "--cpus-per-task=32 --gres=gpu:a100:4"
    assert a100.max_workers_per_node == 4
    assert a100.workers_per_node == 4
    assert a100.available_accelerators == []  # each task pins its own GPU (worker_env)


def test_partition_without_cores_or_type_takes_the_jobs_cpus_and_any_gpu(
    site: SiteConfig, tmp_path: Path
) -> None:
    executors = executors_of(site, tmp_path)
    mi100 = executors["mi100"].provider
    assert mi100.partition == "mi100"  # slurm_partition defaults to the name
    assert mi100.gres == "gpu:mi100:2"
    assert mi100.exclusive is False
    assert mi100.cores_per_node is None
    assert mi100.walltime == "01:00:00"
    assert (mi100.account, mi100.qos, mi100.constraint) == (None, None, None)
    assert mi100.launcher.overrides == "--cpus-per-task=$SLURM_CPUS_ON_NODE --gres=gpu:mi100:2"
    cpu = executors["cpu"]
    assert cpu.provider.gres is None
    assert cpu.provider.launcher.overrides == "--cpus-per-task=$SLURM_CPUS_ON_NODE"
    assert cpu.max_workers_per_node == 3


def test_worker_init_is_path_then_site_setup_then_partition_setup(
    site: SiteConfig, tmp_path: Path
) -> None:
    provider = executors_of(site, tmp_path)["a100"].provider
    assert provider.worker_init.splitlines() == [
        f"export PATH={BIN}:$PATH",
        "module load cuda/12.4",
        "source /opt/lassi/bin/activate",
        "module load nvhpc",
        "export OMP_PROC_BIND=close",
    ]


def test_executors_reach_the_driver_at_the_configured_address(
    site: SiteConfig, tmp_path: Path
) -> None:
    for label, executor in executors_of(site, tmp_path, llm_servers=site.llm_servers).items():
        if label == "llm-remote":  # on the driver's machine
            assert executor.address == "127.0.0.1"
            continue
        assert executor.address == "10.1.2.3"
        assert executor.heartbeat_period == 5
        assert executor.heartbeat_threshold == 30
        assert executor.worker_logdir_root == str(tmp_path / "workers")


def test_address_from_an_interface_or_parsls_default(tmp_path: Path) -> None:
    by_interface = SLURM_SITE.replace('address = "10.1.2.3"', 'interface = "lo"')
    (executor,) = parsl_config(write_site(tmp_path, by_interface), tmp_path, {"cpu"}).executors
    assert executor.address == "127.0.0.1"
    default = SLURM_SITE.replace('address = "10.1.2.3"\n', "")
    (executor,) = parsl_config(write_site(tmp_path, default), tmp_path, {"cpu"}).executors
    assert executor.address is None
    assert executor.all_addresses  # Parsl offers this host's addresses; workers probe them


def test_an_unknown_interface_names_the_key(tmp_path: Path) -> None:
    site = write_site(tmp_path, SLURM_SITE.replace('address = "10.1.2.3"', 'interface = "nope9"'))
    with pytest.raises(ConfigError, match=r"site\.toml: slurm\.interface: .*'nope9'"):
        parsl_config(site, tmp_path)


def test_workers_follow_the_gpus_whatever_the_cores(tmp_path: Path) -> None:
    # 9 cores over 7 GPUs: Parsl's floor(cores / (cores / 7)) would give 6 workers.
    text = SLURM_SITE.replace("gpus_per_node = 4", "gpus_per_node = 7").replace(
        "cores_per_node = 32", "cores_per_node = 9"
    )
    a100 = executors_of(write_site(tmp_path, text), tmp_path)["a100"]
    assert a100.workers_per_node == 7
    assert math.floor(9 / a100.cores_per_worker) >= 7  # what each node's worker pool computes


@pytest.mark.parametrize(
    ("walltime", "parsl_walltime"),
    [("00:00:30", "00:01:00"), ("04:30:00", "04:30:00"), ("2-00:00:01", "48:01:00")],
)
def test_walltimes_become_whole_minutes_in_hours(
    tmp_path: Path, walltime: str, parsl_walltime: str
) -> None:
    text = SLURM_SITE.replace('walltime = "1-02:00:00"', f'walltime = "{walltime}"')
    assert executors_of(write_site(tmp_path, text), tmp_path)["a100"].provider.walltime == (
        parsl_walltime
    )


@pytest.mark.parametrize(
    ("walltime", "drain_line", "drain_period"),
    [
        ("1-02:00:00", "", 26 * 3600 - 600),  # default: a tenth of the walltime, at most 600 s
        ("00:30:00", "", 1800 - 180),
        ("00:00:30", "", 27),
        ("04:00:00", "drain_before_walltime_s = 900", 4 * 3600 - 900),
        ("04:00:00", "drain_before_walltime_s = 0", None),
    ],
)
def test_workers_drain_before_the_blocks_walltime(
    tmp_path: Path, walltime: str, drain_line: str, drain_period: int | None
) -> None:
    text = SLURM_SITE.replace('walltime = "1-02:00:00"', f'walltime = "{walltime}"\n{drain_line}')
    executor = executors_of(write_site(tmp_path, text), tmp_path)["a100"]
    assert executor.drain_period == drain_period


@pytest.mark.parametrize("drain", ["3600", "-5"])
def test_a_drain_not_inside_the_walltime_names_the_key(tmp_path: Path, drain: str) -> None:
    text = SLURM_SITE.replace(
        'walltime = "1-02:00:00"', f'walltime = "01:00:00"\ndrain_before_walltime_s = {drain}'
    )
    with pytest.raises(ConfigError, match=r"partitions\[0\]\.drain_before_walltime_s.*3600 s"):
        write_site(tmp_path, text)


def test_llm_server_with_a_slurm_table_runs_in_its_own_block(
    site: SiteConfig, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    executor = executors_of(site, run_dir, partitions={"cpu"}, llm_servers=site.llm_servers)[
        llm_executor_label("coder")
    ]
    assert executor.label == "llm-coder"
    assert executor.max_workers_per_node == 8
    provider = executor.provider
    assert isinstance(provider, SlurmProvider)
    assert provider.partition == "llm"
    assert provider.account == "proj42"
    assert provider.walltime == "12:00:00"
    assert provider.gres == "gpu:h100:2"
    assert provider.cores_per_node == 16
    assert (provider.init_blocks, provider.min_blocks, provider.max_blocks) == (1, 1, 1)
    assert provider.exclusive is False
    assert "#SBATCH --mem=128G" in provider.scheduler_options.splitlines()
    assert "#SBATCH --comment=vllm" in provider.scheduler_options.splitlines()
    # The workers run beside the server, in the batch shell.
    assert isinstance(provider.launcher, SimpleLauncher)
    lines = provider.worker_init.splitlines()
    assert lines[:4] == [
        f"export PATH={BIN}:$PATH",
        "module load cuda/12.4",
        "source /opt/lassi/bin/activate",
        "module load vllm/0.8",
    ]
    script = provider.worker_init
    starts = script.index("exec vllm serve Qwen/Qwen2.5-Coder-7B-Instruct")
    waits = script.index("-m lassi_hpc.llm.block wait http://127.0.0.1:")
    exports = script.index("export LASSI_HPC_LLM_URL_CODER=http://127.0.0.1:")
    assert starts < waits < exports
    assert '--port "$lassi_llm_port"' in script
    assert 'export VLLM_API_KEY="$CODER_KEY"' in script
    assert str(run_dir) in script  # the server's log, on the shared filesystem
    syntax = subprocess.run(
        ["bash", "-n"], input=script, text=True, capture_output=True, check=False
    )
    assert syntax.returncode == 0, syntax.stderr


def test_external_server_executor_stays_on_the_drivers_machine(
    site: SiteConfig, tmp_path: Path
) -> None:
    remote = executors_of(site, tmp_path, llm_servers={"remote": site.llm_servers["remote"]})
    assert list(remote) == ["a100", "mi100", "cpu", "llm-remote"]
    executor = remote["llm-remote"]
    assert isinstance(executor.provider, LocalProvider)
    assert executor.max_workers_per_node == 4
    assert executor.cores_per_worker == 0.01


def test_a_block_that_ended_after_its_workers_connected_is_replaced_not_fatal(
    site: SiteConfig, tmp_path: Path
) -> None:
    # A block cancelled under its workers stays CANCELLED (HTEX rewrites to MISSING only blocks
    # that never connected), which the error handler does not count; only a run of blocks that
    # never got a worker going makes the executor give up and fail its tasks.
    executor = executors_of(site, tmp_path)["a100"]
    executor.handle_errors({"0": JobStatus(JobState.CANCELLED), "1": JobStatus(JobState.MISSING)})
    assert not executor.bad_state_is_set
    failed = {str(i): JobStatus(JobState.FAILED) for i in range(BLOCK_FAILURES_IN_A_ROW - 1)}
    executor.handle_errors({"0": JobStatus(JobState.COMPLETED), **failed})
    assert not executor.bad_state_is_set
    failed = {str(i): JobStatus(JobState.FAILED) for i in range(BLOCK_FAILURES_IN_A_ROW)}
    executor.handle_errors(failed)
    assert executor.bad_state_is_set


# ---- the worker launch command, run through Parsl's srun launcher script ----------------------

FAKE_SRUN = """#!/bin/sh
# Stand-in for srun: records its arguments, sets the step's GPU variables as Slurm would, and
# runs the step's command (its last two arguments: bash SCRIPT) on this machine.
printf '%s\\n' "$@" > "$FAKE_DIR/srun.args"
unset CUDA_VISIBLE_DEVICES ROCR_VISIBLE_DEVICES
[ -n "$FAKE_STEP_CUDA" ] && export CUDA_VISIBLE_DEVICES="$FAKE_STEP_CUDA"
[ -n "$FAKE_STEP_ROCR" ] && export ROCR_VISIBLE_DEVICES="$FAKE_STEP_ROCR"
for last; do :; done
exec bash "$last"
"""

FAKE_WORKER_POOL = """#!/bin/sh
# Stand-in for Parsl's process_worker_pool.py: records what the step gave it.
printf '%s\\n' "${LASSI_HPC_STEP_GPUS-<unset>}" > "$FAKE_DIR/step_gpus"
printf '%s\\n' "$@" > "$FAKE_DIR/pool.args"
"""


def launch_in_fake_step(
    executor: Any, tmp_path: Path, step_cuda: str, step_rocr: str
) -> tuple[str, list[str], list[str]]:
    """Run the block's launch script as the batch shell would; return what the worker pool saw
    in LASSI_HPC_STEP_GPUS, its arguments, and srun's arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("srun", FAKE_SRUN), ("process_worker_pool.py", FAKE_WORKER_POOL)):
        program = bin_dir / name
        program.write_text(text)
        program.chmod(program.stat().st_mode | stat.S_IXUSR)
    # What HTEX does when the executor starts and then for each block.
    executor.logconf_path = None
    executor.initialize_scaling()
    command = executor._get_launch_command("0")
    script = executor.provider.launcher(
        command, 1, executor.provider.nodes_per_block, str(tmp_path)
    )
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_DIR": str(tmp_path),
        "FAKE_STEP_CUDA": step_cuda,
        "FAKE_STEP_ROCR": step_rocr,
        # The batch shell's own view: every GPU of the job, not the step's.
        "CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7",
        "ROCR_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7",
        "SLURM_JOB_NAME": "parsl.test.block-0",
        "SLURM_CPUS_ON_NODE": "8",
    }
    done = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return (
        (tmp_path / "step_gpus").read_text().strip(),
        (tmp_path / "pool.args").read_text().splitlines(),
        (tmp_path / "srun.args").read_text().splitlines(),
    )


def test_nvidia_step_saves_cuda_visible_devices_before_the_worker_pool(
    site: SiteConfig, tmp_path: Path
) -> None:
    a100 = executors_of(site, tmp_path / "run")["a100"]
    gpus, pool_args, srun_args = launch_in_fake_step(a100, tmp_path, "4,5,6,7", "9")
    assert gpus == "4,5,6,7"
    assert "--max_workers_per_node=4" in pool_args
    assert "--block_id=0" in pool_args
    assert "--hb_threshold=30" in pool_args
    assert any(arg.startswith("--logdir=") for arg in pool_args)
    assert srun_args[:3] == ["--ntasks", "1", "-l"]
    assert "--gres=gpu:a100:4" in srun_args
    assert "--cpus-per-task=32" in srun_args


@pytest.mark.parametrize(("step_rocr", "expected"), [("2,3", "2,3"), ("", "0,1")])
def test_amd_step_saves_rocr_visible_devices_else_cuda_visible_devices(
    site: SiteConfig, tmp_path: Path, step_rocr: str, expected: str
) -> None:
    mi100 = executors_of(site, tmp_path / "run")["mi100"]
    gpus, pool_args, srun_args = launch_in_fake_step(mi100, tmp_path, "0,1", step_rocr)
    assert gpus == expected
    assert "--max_workers_per_node=2" in pool_args
    assert "--cpus-per-task=8" in srun_args  # the job's CPUs on the node, from the batch shell


def test_cpu_partition_launches_the_worker_pool_as_parsl_does(
    site: SiteConfig, tmp_path: Path
) -> None:
    cpu = executors_of(site, tmp_path / "run")["cpu"]
    gpus, pool_args, _ = launch_in_fake_step(cpu, tmp_path, "", "")
    assert gpus == "<unset>"
    assert "--max_workers_per_node=3" in pool_args


# ---- the local site ---------------------------------------------------------------------------


def test_local_site_config_is_unchanged(tmp_path: Path) -> None:
    site = load_site(REPO / "site_configs" / "local.toml")
    config = parsl_config(site, tmp_path, {"cpu"}, site.llm_servers)
    assert [e.label for e in config.executors] == ["cpu", "llm-embedded"]
    cpu, llm = config.executors
    assert config.strategy_period == 0.5
    assert config.usage_tracking == 0
    assert config.retries == TASK_RETRIES
    for executor, workers, cores in ((cpu, 1, 1.0), (llm, 1, 0.01)):
        assert executor.address == "127.0.0.1"
        assert executor.max_workers_per_node == workers
        assert executor.cores_per_worker == cores
        assert executor.heartbeat_period == 5
        assert executor.heartbeat_threshold == 30
        assert executor.worker_logdir_root == str(tmp_path / "workers")
        provider = executor.provider
        assert isinstance(provider, LocalProvider)
        assert (provider.init_blocks, provider.min_blocks, provider.max_blocks) == (1, 1, 1)
        assert provider.worker_init.strip() == worker_init_script() == f"export PATH={BIN}:$PATH"
    everything = parsl_config(site, tmp_path)
    assert [e.label for e in everything.executors] == [p.name for p in site.partitions]
