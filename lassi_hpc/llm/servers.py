"""The LLM servers of a site: launched by lassi_hpc (embedded, vllm) or the user's (external).

`start_server` turns a site's `[llm_servers.<name>]` entry into a RunningServer whose endpoint the
client uses. See docs/llm.md.
"""

from __future__ import annotations

from pathlib import Path

from lassi_hpc.config.site import LLMServer
from lassi_hpc.llm.client import served_models
from lassi_hpc.llm.embedded import embedded_command, embedded_model_path, start_embedded
from lassi_hpc.llm.endpoint import LLMEndpoint
from lassi_hpc.llm.errors import LLMServerError
from lassi_hpc.llm.running import RunningServer
from lassi_hpc.llm.vllm import start_vllm, vllm_command

__all__ = [
    "LLMServerError",
    "RunningServer",
    "embedded_command",
    "embedded_model_path",
    "start_server",
    "vllm_command",
]


def start_server(
    name: str,
    server: LLMServer,
    log_dir: Path,
    *,
    timeout_s: float = 600.0,
    retries: int = 3,
) -> RunningServer:
    """A running server for the site's entry `name`; `timeout_s` and `retries` go into its endpoint.

    embedded / vllm: launch on server.host and server.port (0 = a free port), output to
    `log_dir/<name>.log`, wait until healthy (bounded by server.startup_timeout_s, failing early
    with the log's tail if the process exits), and name the model (server.model, or the first id
    from /v1/models). external: check that server.url answers /v1/models and serves server.model
    (if named); its stop() does nothing. Raises LLMServerError saying what failed and where.
    """
    if server.kind == "embedded":
        return start_embedded(
            name, server, embedded_model_path(), log_dir, timeout_s=timeout_s, retries=retries
        )
    if server.kind == "vllm":
        return start_vllm(name, server, log_dir, timeout_s=timeout_s, retries=retries)
    if server.kind == "external":
        return _use_external(name, server, timeout_s=timeout_s, retries=retries)
    raise LLMServerError(
        f"LLM server {name!r}: kind {server.kind!r} must be one of: embedded, vllm, external"
    )


def _use_external(name: str, server: LLMServer, *, timeout_s: float, retries: int) -> RunningServer:
    try:
        models = served_models(server.url, server.api_key_env)
    except LLMServerError as error:
        raise LLMServerError(f"external LLM server {name!r}: {error}") from None
    if server.model and server.model not in models:
        raise LLMServerError(
            f"external LLM server {name!r} at {server.url} does not serve model {server.model!r}; "
            f"it serves: {', '.join(models)}"
        )
    endpoint = LLMEndpoint(
        name=name,
        base_url=server.url,
        api=server.api,
        model=server.model or models[0],
        api_key_env=server.api_key_env,
        timeout_s=timeout_s,
        retries=retries,
    )
    return RunningServer(endpoint)
