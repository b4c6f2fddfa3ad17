"""The LLM client against the scripted fake server: n vs seeded repeats, retries, faults, keys."""

from __future__ import annotations

import dataclasses
import pickle
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lassi_hpc.llm import LLMEndpoint, LLMServerError, complete, render_prompt, served_models
from lassi_hpc.llm.client import NEXT_TURN_STOPS
from lassi_hpc.records import ChatMessage, LLMRequest
from lassi_hpc.testing import Reply, ScriptedLLM, ScriptedRequest

MESSAGES = (
    ChatMessage("system", "You refactor C++ code."),
    ChatMessage("user", "Make this loop faster."),
)


def request(n: int = 1, seed: int = 7, stop: tuple[str, ...] = ()) -> LLMRequest:
    return LLMRequest(
        purpose="refactor",
        messages=MESSAGES,
        max_tokens=64,
        temperature=0.7,
        seed=seed,
        n=n,
        stop=stop,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_n_honoured_gives_the_choices_of_one_request() -> None:
    with ScriptedLLM(["alpha one", "beta two three", "gamma"]) as server:
        responses = complete(server.endpoint(), request(n=3))
    assert [r.text for r in responses] == ["alpha one", "beta two three", "gamma"]
    assert len(server.requests) == 1
    assert server.requests[0].n == 3
    assert server.requests[0].seed == 7
    assert all(r.ok and r.attempts == 1 and r.seed == 7 for r in responses)
    assert all(r.model == "scripted-fake" and r.finish_reason == "stop" for r in responses)
    # The server reports one usage for the request (6 words); the split keeps the sum.
    assert sum(r.completion_tokens for r in responses) == 6
    assert all(r.prompt_tokens == len(server.requests[0].prompt.split()) for r in responses)
    assert all(r.latency_s > 0 for r in responses)


def test_n_ignored_asks_for_each_missing_choice_with_its_own_seed() -> None:
    with ScriptedLLM(["first", "second", "third"], honour_n=False) as server:
        responses = complete(server.endpoint(), request(n=3, seed=100))
    assert [r.text for r in responses] == ["first", "second", "third"]
    assert [(q.n, q.seed) for q in server.requests] == [(3, 100), (1, 101), (1, 102)]
    assert [r.seed for r in responses] == [100, 101, 102]
    assert [r.completion_tokens for r in responses] == [1, 1, 1]


def test_retries_a_server_error_then_succeeds() -> None:
    with ScriptedLLM([Reply(status=500, text="overloaded"), Reply(status=503), "fine"]) as server:
        (response,) = complete(server.endpoint(retries=3), request())
    assert response.ok, response.error
    assert response.text == "fine"
    assert response.attempts == 3
    assert len(server.requests) == 3


def test_retries_a_rate_limit() -> None:
    with ScriptedLLM([Reply(status=429), "fine"]) as server:
        (response,) = complete(server.endpoint(), request())
    assert response.text == "fine"
    assert response.attempts == 2


def test_gives_up_after_its_retries_with_the_error_in_every_response() -> None:
    with ScriptedLLM([Reply(status=500, text="model crashed")]) as server:
        responses = complete(server.endpoint(retries=2), request(n=2))
    assert len(responses) == 2
    assert len(server.requests) == 3
    for response in responses:
        assert not response.ok
        assert response.text == ""
        assert response.attempts == 3
        assert "HTTP 500" in response.error
        assert "model crashed" in response.error
        assert "3 attempts" in response.error


def test_no_retry_on_a_client_error() -> None:
    with ScriptedLLM([Reply(status=400, text="max_tokens too large"), "never"]) as server:
        (response,) = complete(server.endpoint(retries=3), request())
    assert len(server.requests) == 1
    assert response.attempts == 1
    assert "HTTP 400" in response.error
    assert "max_tokens too large" in response.error


def test_a_slow_server_times_out_and_is_retried() -> None:
    with ScriptedLLM([Reply(text="late", delay_s=2.0), "in time"]) as server:
        (response,) = complete(server.endpoint(timeout_s=0.3, retries=1), request())
    assert response.ok, response.error
    assert response.text == "in time"
    assert response.attempts == 2


def test_a_timeout_after_the_last_retry_says_so() -> None:
    with ScriptedLLM([Reply(text="late", delay_s=2.0)]) as server:
        (response,) = complete(server.endpoint(timeout_s=0.2, retries=0), request())
    assert response.attempts == 1
    assert "timed out after 0.2 s" in response.error


def test_a_dropped_connection_is_retried_then_reported() -> None:
    with ScriptedLLM([Reply(drop_connection=True)]) as server:
        (response,) = complete(server.endpoint(retries=1), request())
    assert len(server.requests) == 2
    assert response.attempts == 2
    assert "connection closed by the server" in response.error


def test_connection_refused_is_reported_not_raised() -> None:
    endpoint = LLMEndpoint(
        name="nobody",
        base_url=f"http://127.0.0.1:{closed_port()}/v1",
        api="completions",
        model="m",
        retries=1,
        backoff_s=0.0,
    )
    responses = complete(endpoint, request(n=2))
    assert len(responses) == 2
    assert all("connection refused" in r.error and r.attempts == 2 for r in responses)


def test_completions_sends_the_rendered_prompt_and_stops() -> None:
    with ScriptedLLM(["ok"]) as server:
        complete(server.endpoint("completions"), request(stop=("```\n",)))
    sent = server.requests[0]
    assert sent.path == "/v1/completions"
    assert sent.prompt == render_prompt(MESSAGES)
    assert sent.messages == ()
    assert sent.body["stop"] == ["```\n", *NEXT_TURN_STOPS]
    assert sent.body["model"] == "scripted-fake"
    assert sent.max_tokens == 64
    assert sent.body["temperature"] == 0.7


def test_chat_sends_the_messages() -> None:
    with ScriptedLLM(["chatty answer"]) as server:
        (response,) = complete(server.endpoint("chat"), request())
    sent = server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.messages == MESSAGES
    assert sent.prompt == ""
    assert "stop" not in sent.body
    assert response.text == "chatty answer"


def test_rendered_prompt_ends_with_an_open_assistant_turn() -> None:
    assert render_prompt(MESSAGES) == (
        "### System:\nYou refactor C++ code.\n\n"
        "### User:\nMake this loop faster.\n\n"
        "### Assistant:\n"
    )


def test_rendered_prompt_leaves_a_trailing_assistant_message_open() -> None:
    prompt = render_prompt(
        (ChatMessage("user", "Write code."), ChatMessage("assistant", "```cpp\n"))
    )
    assert prompt == "### User:\nWrite code.\n\n### Assistant:\n```cpp\n"


def test_the_key_is_sent_but_never_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("LASSI_TEST_LLM_KEY", secret)

    def echo_headers(sent: ScriptedRequest, index: int) -> Reply:
        # A careless server that echoes the request, header included, in its answers.
        if len(server.requests) == 1:
            return Reply(status=401, text=f"bad key {sent.headers.get('Authorization')}")
        return Reply(text=f"you sent {sent.headers.get('Authorization')}")

    with ScriptedLLM(echo_headers) as server:
        endpoint = server.endpoint(api_key_env="LASSI_TEST_LLM_KEY")
        (refused,) = complete(endpoint, request())
        assert server.requests[0].headers["Authorization"] == f"Bearer {secret}"
        assert "HTTP 401" in refused.error
        assert secret not in repr(refused)
        assert secret not in repr(endpoint)
        assert secret not in pickle.dumps(endpoint).decode("latin-1")
        assert served_models(server.base_url, "LASSI_TEST_LLM_KEY") == ["scripted-fake"]
        assert [q.headers.get("Authorization") for q in server.requests] == [f"Bearer {secret}"]


def test_the_key_is_redacted_from_a_successful_answer_error_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "sk-another-secret"
    monkeypatch.setenv("LASSI_TEST_LLM_KEY", secret)
    with ScriptedLLM([Reply(status=500, text=f"echo Bearer {secret}")]) as server:
        (response,) = complete(
            server.endpoint(api_key_env="LASSI_TEST_LLM_KEY", retries=0), request()
        )
    assert "[redacted]" in response.error
    assert all(secret not in str(value) for value in dataclasses.astuple(response))


def test_an_unset_key_variable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LASSI_TEST_LLM_KEY", raising=False)
    with ScriptedLLM(["never"]) as server:
        with pytest.raises(LLMServerError, match="LASSI_TEST_LLM_KEY is not set"):
            complete(server.endpoint(api_key_env="LASSI_TEST_LLM_KEY"), request())
        assert server.requests == []


def test_a_key_free_request_sends_no_authorization() -> None:
    with ScriptedLLM(["ok"]) as server:
        complete(server.endpoint(), request())
    assert "Authorization" not in server.requests[0].headers


def test_served_models_names_the_url_when_unreachable() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(LLMServerError, match=rf"{url}.*connection refused"):
        served_models(url)


def test_served_models_hints_at_a_missing_v1() -> None:
    with ScriptedLLM(["ok"]) as server:
        bare = server.base_url.removesuffix("/v1")
        with pytest.raises(LLMServerError, match="end in /v1"):
            served_models(bare)


def test_endpoint_normalises_and_checks_its_fields() -> None:
    endpoint = LLMEndpoint("x", "http://h:1/v1/", "chat", "m")
    assert endpoint.base_url == "http://h:1/v1"
    assert pickle.loads(pickle.dumps(endpoint)) == endpoint
    with pytest.raises(LLMServerError, match="must start with http"):
        LLMEndpoint("x", "h:1/v1", "chat", "m")
    with pytest.raises(LLMServerError, match="retries"):
        LLMEndpoint("x", "http://h:1/v1", "chat", "m", retries=-1)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>not json</html>", "not a JSON object"),
        (b'{"choices": []}', "no choices"),
        (b'{"choices": [{"index": 0}]}', "without text"),
    ],
)
def test_a_malformed_answer_is_an_error_response_without_retry(body: bytes, expected: str) -> None:
    hits: list[str] = []

    class Garbage(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        endpoint = LLMEndpoint("garbage-fake", f"http://127.0.0.1:{port}/v1", "completions", "m")
        responses = complete(endpoint, request(n=2))
    finally:
        server.shutdown()
        server.server_close()
    assert len(hits) == 1
    assert len(responses) == 2
    assert all(expected in r.error and r.attempts == 1 for r in responses)


def test_zero_requested_choices_give_no_response() -> None:
    with ScriptedLLM(["x"]) as server:
        assert complete(server.endpoint(), request(n=0)) == ()
        assert server.requests == []


def test_prefilled_answer_start_is_continued_on_completions_and_dropped_on_chat() -> None:
    messages = (
        ChatMessage("user", "write the file"),
        ChatMessage("assistant", "```cpp kernels.cpp\n"),
    )
    request = LLMRequest("refactor", messages, max_tokens=20, temperature=0.0, seed=1)
    with ScriptedLLM(["int f();\n```\n"]) as server:
        (answer,) = complete(server.endpoint(api="completions"), request)
        assert answer.text == "```cpp kernels.cpp\nint f();\n```\n"
        assert server.requests[-1].prompt.endswith("### Assistant:\n```cpp kernels.cpp\n")
        # The answer ends where the opened fence closes.
        assert "\n```" in server.requests[-1].body["stop"]  # type: ignore[operator]
        (chat_answer,) = complete(server.endpoint(api="chat"), request)
        assert chat_answer.text == "int f();\n```\n"
        assert [m.role for m in server.requests[-1].messages] == ["user"]
        assert "\n```" not in (server.requests[-1].body.get("stop") or [])  # type: ignore[operator]
