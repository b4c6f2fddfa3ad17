"""Site config: where work runs (partitions), with which toolchains, measured by which meter."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lassi_hpc.apps.manifest import Language
from lassi_hpc.config.validate import build, checked, non_empty, non_negative, positive, read_toml
from lassi_hpc.errors import ConfigError
from lassi_hpc.records import SandboxLimits

Scheduler = Literal["local"]
DeviceKind = Literal["cpu", "nvidia", "amd"]
EnergyBackendName = Literal["auto", "nvml", "amdsmi", "rapl", "estimate", "fake"]
ServerKind = Literal["embedded", "vllm", "external"]
ApiKind = Literal["completions", "chat"]


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

    def partition_for(self, language: str) -> Partition | None:
        """The first partition (in file order) whose toolchain builds `language`."""
        for partition in self.partitions:
            if self.toolchains[partition.toolchain].language == language:
                return partition
        return None


def load_site(path: Path) -> SiteConfig:
    data = read_toml(path)
    file = str(path)
    parsed = build(SiteFile, data, file)
    seen: list[str] = []
    for index, partition in enumerate(parsed.partitions):
        key = f"partitions[{index}]"
        if partition.name in seen:
            raise ConfigError(file, f"{key}.name", f"partition {partition.name!r} defined twice")
        seen.append(partition.name)
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
    )
