"""vLLM's OpenAI-compatible server (`vllm serve`), launched on a GPU node. vLLM is an optional extra
that is never imported: only its command-line program is run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lassi_hpc.config.site import LLMServer
from lassi_hpc.llm.endpoint import api_key
from lassi_hpc.llm.errors import LLMServerError
from lassi_hpc.llm.running import RunningServer, start_launched

HEALTH_PATH = "/health"


def vllm_command(server: LLMServer, port: int) -> list[str]:
    """`vllm serve MODEL --host H --port P --tensor-parallel-size N --max-model-len L
    --enable-prefix-caching|--no-enable-prefix-caching --seed 0 ...extra_args`.

    Prefix caching is named either way because vLLM's default has changed between versions; the
    engine seed is fixed so that a run is reproducible (requests carry their own seeds too).
    """
    caching = (
        "--enable-prefix-caching" if server.enable_prefix_caching else "--no-enable-prefix-caching"
    )
    return [
        "vllm",
        "serve",
        server.model,
        "--host",
        server.host,
        "--port",
        str(port),
        "--tensor-parallel-size",
        str(server.tensor_parallel_size),
        "--max-model-len",
        str(server.context_tokens),
        caching,
        "--seed",
        "0",
        *server.extra_args,
    ]


def start_vllm(
    name: str, server: LLMServer, log_dir: Path, *, timeout_s: float, retries: int
) -> RunningServer:
    """Launch `vllm serve` for `server` and wait for /health (see start_server)."""
    if shutil.which("vllm") is None:
        raise LLMServerError(
            f"LLM server {name!r} (kind = 'vllm'): the `vllm` program is not on PATH; install "
            "the vllm extra (pip install 'lassi_hpc[vllm]') in the environment that starts the "
            "server, on a machine with a GPU"
        )
    env = dict(os.environ)
    key = api_key(server.api_key_env, f"LLM server {name!r}")
    if key:
        # On vLLM's command line (--api-key) the key would show in `ps` and in our error texts.
        env["VLLM_API_KEY"] = key
    return start_launched(
        name,
        server,
        lambda port: vllm_command(server, port),
        health_path=HEALTH_PATH,
        log_dir=log_dir,
        timeout_s=timeout_s,
        retries=retries,
        env=env,
    )
