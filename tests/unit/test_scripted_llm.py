"""The scripted fake LLM server itself: what it plays, what it records, how it answers over HTTP."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from lassi_hpc.llm import complete, served_models
from lassi_hpc.records import ChatMessage, LLMRequest
from lassi_hpc.testing import Reply, ScriptedLLM, ScriptedRequest


def ask(n: int = 1, text: str = "question", seed: int = 0) -> LLMRequest:
    return LLMRequest("test", (ChatMessage("user", text),), 32, 0.5, seed=seed, n=n)


def raw(
    server: ScriptedLLM, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_sequence_is_played_in_order_and_its_last_reply_repeats() -> None:
    with ScriptedLLM(["one", "two"]) as server:
        texts = [complete(server.endpoint(), ask())[0].text for _ in range(4)]
    assert texts == ["one", "two", "two", "two"]


def test_each_choice_takes_one_reply() -> None:
    with ScriptedLLM(["a", "b", "c", "d"]) as server:
        first = complete(server.endpoint(), ask(n=3))
        second = complete(server.endpoint(), ask(n=1))
    assert [r.text for r in first] == ["a", "b", "c"]
    assert second[0].text == "d"


def test_a_failing_request_takes_only_one_reply() -> None:
    with ScriptedLLM([Reply(status=503), "a", "b"]) as server:
        responses = complete(server.endpoint(), ask(n=2))
    assert [r.text for r in responses] == ["a", "b"]
    assert all(r.attempts == 2 for r in responses)


def test_a_responder_answers_per_request_and_choice() -> None:
    def by_prompt(request: ScriptedRequest, index: int) -> Reply:
        return Reply(text=f"{'fix' if 'error' in request.prompt else 'plan'}-{index}")

    with ScriptedLLM(by_prompt) as server:
        fixes = complete(server.endpoint(), ask(n=2, text="the build error was ..."))
        plans = complete(server.endpoint(), ask(n=1, text="make it faster"))
    assert [r.text for r in fixes] == ["fix-0", "fix-1"]
    assert [r.text for r in plans] == ["plan-0"]


def test_without_honour_n_one_choice_comes_back_like_llama_cpp() -> None:
    with ScriptedLLM(["x y", "z"], honour_n=False) as server:
        status, body = raw(
            server, "POST", "/v1/completions", json.dumps({"prompt": "p", "n": 3}).encode()
        )
    answer = json.loads(body)
    assert status == 200
    assert [c["text"] for c in answer["choices"]] == ["x y"]
    assert answer["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}


def test_requests_are_recorded_with_their_fields() -> None:
    with ScriptedLLM(["ok"]) as server:
        complete(server.endpoint("chat"), ask(n=2, seed=11))
    (recorded,) = server.requests
    assert recorded.path == "/v1/chat/completions"
    assert recorded.messages == (ChatMessage("user", "question"),)
    assert (recorded.n, recorded.seed, recorded.max_tokens) == (2, 11, 32)
    assert recorded.body["temperature"] == 0.5
    assert recorded.headers["Content-Type"] == "application/json"


def test_chat_answers_carry_messages_and_finish_reasons() -> None:
    with ScriptedLLM([Reply("cut short", finish_reason="length")]) as server:
        (response,) = complete(server.endpoint("chat"), ask())
    assert response.text == "cut short"
    assert response.finish_reason == "length"


def test_models_health_and_unknown_routes() -> None:
    with ScriptedLLM(["ok"], model="my-model") as server:
        assert served_models(server.base_url) == ["my-model"]
        assert raw(server, "GET", "/health")[0] == 200
        assert raw(server, "GET", "/v1/nothing")[0] == 404
        assert raw(server, "POST", "/v1/embeddings", b"{}")[0] == 404
        status, body = raw(server, "POST", "/v1/completions", b"not json")
    assert status == 400
    assert b"bad request" in body


def test_an_error_reply_sends_its_text_as_the_error_message() -> None:
    with ScriptedLLM([Reply(status=422, text="prompt too long")]) as server:
        status, body = raw(server, "POST", "/v1/completions", b'{"prompt": "p"}')
    assert status == 422
    assert json.loads(body)["error"]["message"] == "prompt too long"


def test_a_dropped_connection_gets_no_answer() -> None:
    with (
        ScriptedLLM([Reply(drop_connection=True)]) as server,
        pytest.raises(http.client.RemoteDisconnected),
    ):
        raw(server, "POST", "/v1/completions", b'{"prompt": "p"}')


def test_per_token_delay_applies_to_the_longest_choice() -> None:
    with ScriptedLLM(["one two three four", "five"], delay_per_token_s=0.05) as server:
        responses = complete(server.endpoint(), ask(n=2))
    # Sleeping never ends early: 4 words x 0.05 s is a floor on the exchange's wall time.
    assert all(r.latency_s >= 0.2 for r in responses)


def test_at_most_max_concurrent_requests_are_answered_at_once() -> None:
    with ScriptedLLM([Reply("slow", delay_s=0.2)], max_concurrent=2) as server:
        endpoint = server.endpoint()
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda _: complete(endpoint, ask()), range(6)))
    assert all(r[0].ok for r in results)
    assert len(server.requests) == 6
    assert server.peak_in_flight == 2


def test_close_stops_listening_and_is_idempotent() -> None:
    server = ScriptedLLM(["ok"])
    server.close()
    server.close()
    with pytest.raises(ConnectionRefusedError):
        raw(server, "GET", "/health")


def test_an_empty_script_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one reply"):
        ScriptedLLM([])


def test_completion_continues_after_a_prefilled_start() -> None:
    messages = (ChatMessage("user", "write it"), ChatMessage("assistant", "```cpp k.cpp\n"))
    request = LLMRequest("refactor", messages, max_tokens=20, temperature=0.0, seed=1)
    with ScriptedLLM(["```cpp k.cpp\nint f();\n```\n"]) as server:
        (answer,) = complete(server.endpoint(), request)
    assert answer.text == "```cpp k.cpp\nint f();\n```\n"  # the prefill once, not twice
