"""Site config: where work runs (partitions), with which toolchains, measured by which meter."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lassi_hpc.apps.manifest import Language
from lassi_hpc.apps.mpi_launch import optional_mpi_launcher
from lassi_hpc.config.sbatch_values import check_sbatch_values
from lassi_hpc.config.validate import (
    build,
    checked,
    non_empty,
    non_negative,
    positive,
    read_toml,
    require_kind,
)
from lassi_hpc.errors import ConfigError
from lassi_hpc.records import SandboxLimits

Scheduler = Literal["local", "slurm"]
DeviceKind = Literal["cpu", "nvidia", "amd"]
EnergyBackendName = Literal["auto", "nvml", "amdsmi", "rapl", "estimate", "fake"]
ServerKind = Literal["embedded", "vllm", "external"]
ApiKind = Literal["completions", "chat"]


_SLURM_TIME = re.compile(r"^(\d+-)?\d{1,2}:\d{2}:\d{2}$")


def slurm_time(value: str) -> str | None:
    """Walltimes as [D-]HH:MM:SS: the one form every Slurm command accepts."""
    if not _SLURM_TIME.match(value):
        return "must be a walltime [D-]HH:MM:SS, e.g. '04:00:00'"
    minutes, seconds = (int(part) for part in value.rsplit(":", 2)[1:])
    if minutes > 59 or seconds > 59:
        return f"{value!r} has more than 59 minutes or seconds; write it as [D-]HH:MM:SS"
    if walltime_s(value) == 0:
        # Slurm reads a zero limit as "no limit", and the drain margin is a share of it
        return "must be longer than zero"
    return None


def walltime_s(value: str) -> int:
    """Seconds in a walltime [D-]HH:MM:SS (validated by slurm_time)."""
    days, _, clock = value.rpartition("-")
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return ((int(days or 0) * 24 + hours) * 60 + minutes) * 60 + seconds


def absolute_or_empty(value: str) -> str | None:
    """Paths that every node must resolve alike: relative ones depend on where a job starts."""
    if value and not Path(value).is_absolute():
        return "must be an absolute path (every node resolves it alike), or empty"
    return None


@dataclass(frozen=True)
class SiteSection:
    name: str = checked(check=non_empty)
    scheduler: Scheduler = "local"
    # Scratch copies for builds and runs; "" means the system temporary directory.
    scratch_dir: str = ""
    keep_scratch: bool = False


@dataclass(frozen=True)
class Toolchain:
    """How to build one language: make variables appended to the build command, and environment."""

    language: Language
    compiler: str = checked(check=non_empty)  # looked up on PATH by `lassi-hpc check`
    make_vars: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


DEFAULT_DRAIN_MAX_S = 600


@dataclass(frozen=True)
class Partition:
    """A pool of identical workers; `workers` tasks run at once (1 = one measurement at a time)."""

    name: str = checked(check=non_empty)
    toolchain: str = checked(check=non_empty)
    device: DeviceKind = "cpu"
    workers: int = checked(1, check=positive)
    energy_backend: EnergyBackendName = "auto"
    # Compile-only partitions build variants whose binaries cannot run here (no GPU).
    compile_only: bool = False
    run_env: dict[str, str] = field(default_factory=dict)
    # MPI apps here start under this launcher (e.g. ["srun"]); empty = the app's own launcher.
    mpi_launcher: tuple[str, ...] = checked((), check=optional_mpi_launcher)
    # ---- scheduler = "slurm" only: how a block of workers is requested (docs/clusters.md) ----
    slurm_partition: str = ""  # the Slurm partition; "" = `name`
    account: str = ""
    qos: str = ""
    walltime: str = checked("01:00:00", check=slurm_time)  # of one block of workers
    # Seconds before the walltime at which the block's workers take no new task (Parsl's
    # drain_period), so that Slurm does not kill a measurement half-way; 0 = never; left out:
    # a tenth of the walltime, at most DEFAULT_DRAIN_MAX_S.
    drain_before_walltime_s: int | None = None
    constraint: str = ""
    # GPUs of one node, all requested; one worker per GPU, each pinned to its own.
    gpus_per_node: int = checked(0, check=non_negative)
    gpu_type: str = ""  # the GRES type in the request (gpu:<type>:<n>); "" = any GPU
    gpu_model: str = ""  # what the GPUs are, for people and roofline specs, e.g. "A100-SXM4-40GB"
    nodes_per_block: int = checked(1, check=positive)
    max_blocks: int = checked(1, check=positive)
    cores_per_node: int = checked(0, check=non_negative)  # 0 = not requested
    exclusive: bool = False  # whole nodes (--exclusive)
    scheduler_options: tuple[str, ...] = ()  # extra "#SBATCH ..." lines, verbatim
    setup: tuple[str, ...] = ()  # shell lines run before the workers start, after [slurm].setup

    @property
    def slurm_name(self) -> str:
        return self.slurm_partition or self.name

    @property
    def drain_period_s(self) -> int | None:
        """Seconds after a block starts at which its workers drain; None: they never do."""
        block_s = walltime_s(self.walltime)
        margin_s = self.drain_before_walltime_s
        if margin_s is None:
            margin_s = min(DEFAULT_DRAIN_MAX_S, block_s // 10)
        return block_s - margin_s if margin_s > 0 else None

    @property
    def workers_per_node(self) -> int:
        """Tasks at once on one node: one per GPU where GPUs are requested, else `workers`."""
        return self.gpus_per_node if self.gpus_per_node > 0 else self.workers


SLURM_PARTITION_KEYS = (
    "slurm_partition",
    "account",
    "qos",
    "walltime",
    "drain_before_walltime_s",
    "constraint",
    "gpus_per_node",
    "gpu_type",
    "gpu_model",
    "nodes_per_block",
    "max_blocks",
    "cores_per_node",
    "exclusive",
    "scheduler_options",
    "setup",
)
"""Partition keys that only a Slurm site may set."""


@dataclass(frozen=True)
class SlurmJob:
    """A Slurm job of its own: the LLM node's block or the campaign driver's sbatch."""

    partition: str = checked(check=non_empty)
    account: str = ""
    qos: str = ""
    walltime: str = checked("24:00:00", check=slurm_time)
    constraint: str = ""
    gpus: int = checked(0, check=non_negative)  # GPUs of its node requested
    gpu_type: str = ""
    cores: int = checked(1, check=positive)
    memory: str = ""  # --mem, e.g. "64G"; "" = the partition's default
    scheduler_options: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()  # after [slurm].setup


@dataclass(frozen=True)
class SlurmSection:
    """Settings for every job of a Slurm site (scheduler = "slurm")."""

    # Shell lines run first in every job: module loads, activating the environment that has
    # lassi_hpc installed (the same one on login and compute nodes).
    setup: tuple[str, ...] = ()
    # How workers reach the driver: "" = this host's fully qualified name; or name an interface
    # (e.g. "ib0") whose address is used.
    address: str = ""
    interface: str = ""
    # The driver's own allocation when the campaign is submitted with sbatch (render-sbatch).
    driver: SlurmJob | None = None
    # Seconds before the driver job's walltime at which Slurm signals it, so that it stores what
    # is finished and cancels its blocks.
    driver_signal_s: int = checked(300, check=positive)
    cmd_timeout_s: int = checked(60, check=positive)  # sbatch / squeue / scancel calls
    # A directory every node mounts at the same path (a parallel or network filesystem). Parsl's
    # run directory (block scripts, worker and LLM server logs) goes to
    # <shared_dir>/<campaign>/parsl; "" = next to the results file, which then must be shared.
    shared_dir: str = checked("", check=absolute_or_empty)


@dataclass(frozen=True)
class LLMServer:
    """An OpenAI-compatible LLM server: launched by lassi_hpc (embedded, vllm) or external.

    `api` picks the endpoint: "completions" sends one rendered prompt (base models without a chat
    template, such as the embedded Gemma 3 270M), "chat" sends the messages. `workers` is how many
    requests are in flight at once. The API key, if the server needs one, is read from the
    environment variable named by `api_key_env` and is never written anywhere.
    """

    kind: ServerKind
    api: ApiKind = "completions"
    model: str = ""  # the served model name; "" = whatever the server serves (asked at start)
    url: str = ""  # external: base URL ending in /v1
    api_key_env: str = ""
    workers: int = checked(1, check=positive)
    # embedded and vllm: where the launched server listens; port 0 = a free port.
    host: str = "127.0.0.1"
    port: int = checked(0, check=non_negative)
    startup_timeout_s: float = checked(600.0, check=positive)
    # embedded: llama.cpp's context size; vllm: the model's maximum length.
    context_tokens: int = checked(8192, check=positive)
    # Appended to the launched server's command line (embedded and vllm).
    extra_args: tuple[str, ...] = ()
    # vllm only.
    tensor_parallel_size: int = checked(1, check=positive)
    enable_prefix_caching: bool = True
    # Slurm sites: start the server (embedded or vllm) inside a job on this partition, as the block
    # of the LLM executor; requests are then made from that node. None = the driver starts it.
    slurm: SlurmJob | None = None


@dataclass(frozen=True)
class SandboxSection:
    memory_bytes: int = checked(8 * 2**30, check=non_negative)  # 0 = no address-space limit
    file_size_bytes: int = checked(512 * 2**20, check=positive)
    processes: int = checked(256, check=positive)
    output_bytes: int = checked(4 * 2**20, check=positive)
    cpu_s: float = checked(600.0, check=positive)
    network: bool = False

    def limits(self, wall_s: float) -> SandboxLimits:
        """Limits for one command whose wall-clock budget is `wall_s` (from the app manifest)."""
        return SandboxLimits(
            wall_s=wall_s,
            cpu_s=self.cpu_s,
            memory_bytes=self.memory_bytes,
            file_size_bytes=self.file_size_bytes,
            processes=self.processes,
            output_bytes=self.output_bytes,
            network=self.network,
        )


@dataclass(frozen=True)
class SiteFile:
    site: SiteSection
    toolchains: dict[str, Toolchain]
    partitions: tuple[Partition, ...] = checked(check=non_empty)
    sandbox: SandboxSection = field(default_factory=SandboxSection)
    llm_servers: dict[str, LLMServer] = field(default_factory=dict)
    slurm: SlurmSection | None = None


@dataclass(frozen=True)
class SiteConfig:
    name: str
    scheduler: Scheduler
    scratch_dir: Path
    keep_scratch: bool
    toolchains: dict[str, Toolchain]
    partitions: tuple[Partition, ...]
    sandbox: SandboxSection
    llm_servers: dict[str, LLMServer]
    source: Path
    text: str
    slurm: SlurmSection | None = None

    def partition_for(self, language: str) -> Partition | None:
        """The first partition (in file order) whose toolchain builds `language`."""
        for partition in self.partitions:
            if self.toolchains[partition.toolchain].language == language:
                return partition
        return None


def load_site(path: Path) -> SiteConfig:
    data = read_toml(path)
    file = str(path)
    require_kind(data, file, "site")
    parsed = build(SiteFile, data, file)
    seen: list[str] = []
    for index, partition in enumerate(parsed.partitions):
        key = f"partitions[{index}]"
        if partition.name in seen:
            raise ConfigError(file, f"{key}.name", f"partition {partition.name!r} defined twice")
        seen.append(partition.name)
        _check_scheduler_keys(file, key, parsed.site.scheduler, partition)
        if partition.toolchain not in parsed.toolchains:
            raise ConfigError(
                file,
                f"{key}.toolchain",
                f"no toolchain named {partition.toolchain!r}",
                allowed=sorted(parsed.toolchains),
            )
    for name, server in parsed.llm_servers.items():
        key = f"llm_servers.{name}"
        if server.kind == "external" and not server.url:
            raise ConfigError(file, f"{key}.url", "required when kind = 'external'")
        if server.kind != "external" and server.url:
            raise ConfigError(
                file,
                f"{key}.url",
                f"only for kind = 'external'; a {server.kind} server is started "
                "by lassi_hpc at host:port",
            )
        if server.kind == "vllm" and not server.model:
            raise ConfigError(file, f"{key}.model", "required when kind = 'vllm'")
        if server.slurm is not None and parsed.site.scheduler != "slurm":
            raise ConfigError(file, f"{key}.slurm", "only for scheduler = 'slurm'")
        if server.slurm is not None and server.kind == "external":
            raise ConfigError(
                file, f"{key}.slurm", "an external server is not started by lassi_hpc"
            )
        if server.slurm is not None:
            _check_job_values(file, f"{key}.slurm", server.slurm)
        if (
            server.kind == "vllm"
            and server.slurm
            and 0 < server.slurm.gpus < server.tensor_parallel_size
        ):
            # vLLM shards the model over tensor_parallel_size GPUs of its node; with fewer it
            # fails only after the job waited in the queue. (gpus = 0 asks for none through this
            # key: a CPU build of vLLM, or GPUs asked for in scheduler_options.)
            raise ConfigError(
                file,
                f"{key}.slurm.gpus",
                f"vLLM needs at least tensor_parallel_size = {server.tensor_parallel_size} GPUs "
                "in its job",
                value=server.slurm.gpus,
                show_value=True,
            )
    if parsed.site.scheduler == "slurm" and parsed.slurm is None:
        raise ConfigError(file, "slurm", "a [slurm] table is required when scheduler = 'slurm'")
    if parsed.site.scheduler != "slurm" and parsed.slurm is not None:
        raise ConfigError(file, "slurm", "only for scheduler = 'slurm'")
    if parsed.slurm is not None and parsed.slurm.driver is not None:
        _check_job_values(file, "slurm.driver", parsed.slurm.driver)
    base = path.resolve().parent
    section = parsed.site
    scratch = base / section.scratch_dir if section.scratch_dir else Path(tempfile.gettempdir())
    return SiteConfig(
        name=section.name,
        scheduler=section.scheduler,
        scratch_dir=scratch,
        keep_scratch=section.keep_scratch,
        toolchains=parsed.toolchains,
        partitions=parsed.partitions,
        sandbox=parsed.sandbox,
        llm_servers=parsed.llm_servers,
        source=path.resolve(),
        text=path.read_text(encoding="utf-8"),
        slurm=parsed.slurm,
    )


def _check_scheduler_keys(file: str, key: str, scheduler: str, partition: Partition) -> None:
    if scheduler != "slurm":
        defaults = Partition(name="x", toolchain="x")
        for name in SLURM_PARTITION_KEYS:
            if getattr(partition, name) != getattr(defaults, name):
                raise ConfigError(file, f"{key}.{name}", "only for scheduler = 'slurm'")
        return
    # Parsl writes these on the block's #SBATCH lines as they are.
    check_sbatch_values(
        file,
        key,
        _sbatch_fields(partition, ("slurm_partition", "partition")),
        partition.scheduler_options,
    )
    drain_s, block_s = partition.drain_before_walltime_s, walltime_s(partition.walltime)
    if drain_s is not None and not 0 <= drain_s < block_s:
        raise ConfigError(
            file,
            f"{key}.drain_before_walltime_s",
            f"must be 0 (never drain) or a number of seconds shorter than the walltime "
            f"{partition.walltime} ({block_s} s)",
            value=drain_s,
            show_value=True,
        )
    if partition.device != "cpu" and not partition.compile_only and partition.gpus_per_node < 1:
        raise ConfigError(
            file,
            f"{key}.gpus_per_node",
            f"a {partition.device} partition on Slurm must request its GPUs (one worker per GPU)",
        )
    if partition.gpus_per_node > 0 and partition.workers not in (1, partition.gpus_per_node):
        raise ConfigError(
            file,
            f"{key}.workers",
            "a GPU partition on Slurm runs one worker per GPU (gpus_per_node); leave workers out",
        )


def _check_job_values(file: str, key: str, job: SlurmJob) -> None:
    fields = _sbatch_fields(job, ("partition", "partition"), ("memory", "mem"))
    check_sbatch_values(file, key, fields, job.scheduler_options)


def _sbatch_fields(
    record: Partition | SlurmJob, *own: tuple[str, str]
) -> dict[str, tuple[str, str]]:
    """Config field -> (its value, the sbatch option it becomes), for the fields a partition and
    a job share plus the record's `own` (field, option) pairs."""
    shared = (("account", "account"), ("qos", "qos"), ("constraint", "constraint"))
    pairs = (*own, *shared, ("gpu_type", "gres"))
    return {field: (str(getattr(record, field)), option) for field, option in pairs}
