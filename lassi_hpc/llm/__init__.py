"""LLM access: one client for OpenAI-compatible servers, and the launchers of the site's servers.

Typical use (the campaign driver)::

    with start_server(name, site.llm_servers[name], log_dir) as server:
        responses = complete(server.endpoint, request)  # exactly request.n LLMResponse records

Nothing here imports vllm or llama_cpp: servers run as separate programs. See docs/llm.md.
"""

from lassi_hpc.llm.client import complete, render_prompt, served_models
from lassi_hpc.llm.endpoint import LLMEndpoint
from lassi_hpc.llm.errors import LLMServerError
from lassi_hpc.llm.servers import (
    RunningServer,
    embedded_command,
    embedded_model_path,
    start_server,
    vllm_command,
)

__all__ = [
    "LLMEndpoint",
    "LLMServerError",
    "RunningServer",
    "complete",
    "embedded_command",
    "embedded_model_path",
    "render_prompt",
    "served_models",
    "start_server",
    "vllm_command",
]
