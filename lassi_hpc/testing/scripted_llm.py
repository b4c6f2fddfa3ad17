"""A fake LLM server for tests and benchmarks: OpenAI-compatible HTTP on loopback, scripted answers.

It stands in for vLLM or llama.cpp at the HTTP seam, so that the client, the campaign driver and
the makespan benchmark run without a model. Usage::

    with ScriptedLLM(["first answer", Reply(status=500), "third"]) as server:
        responses = complete(server.endpoint(), request)
        assert server.requests[0].n == request.n

`python -m lassi_hpc.testing.serve_scripted` runs one as a program (a fake server binary).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from lassi_hpc.llm.endpoint import ApiKind, LLMEndpoint
from lassi_hpc.records import ChatMessage


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Only the first reply of a request decides its status, delay and drop;
    the replies for its other choices contribute their text and finish reason."""

    text: str = ""
    status: int = 200  # HTTP status; non-200 sends an error body with `text` as its message
    delay_s: float = 0.0  # before answering (use for timeouts)
    finish_reason: str = "stop"
    drop_connection: bool = False  # close the socket without answering


@dataclass(frozen=True)
class ScriptedRequest:
    """A request the fake server received, decoded."""

    path: str
    prompt: str  # /v1/completions; "" for chat
    messages: tuple[ChatMessage, ...]  # /v1/chat/completions; () for completions
    n: int
    seed: int | None
    max_tokens: int | None
    body: dict[str, object]
    headers: dict[str, str]


Responder = Callable[[ScriptedRequest, int], Reply]
"""(request, choice index) -> the reply for that choice."""


class ScriptedLLM:
    """An OpenAI-compatible HTTP server on loopback that plays scripted answers. Context manager.

    `replies` is either a sequence (played in order, one per choice asked, the last repeated when
    exhausted; a request that fails takes one reply) or a Responder called per choice. With
    `honour_n` False it returns one choice whatever `n` asks, like llama.cpp. Answering sleeps
    `delay_s` of the first reply plus `delay_per_token_s` per word of the longest choice (a batching
    server generates choices together); at most `max_concurrent` requests are answered at once,
    later ones wait (`peak_in_flight` says how many were answered at once). Token counts in
    `usage` are word counts. It listens from construction until close() (or the `with` block's end).
    """

    def __init__(
        self,
        replies: Sequence[Reply | str] | Responder,
        *,
        honour_n: bool = True,
        delay_per_token_s: float = 0.0,
        model: str = "scripted-fake",
        max_concurrent: int = 8,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not callable(replies):
            script = [r if isinstance(r, Reply) else Reply(text=r) for r in replies]
            if not script:
                raise ValueError("ScriptedLLM needs at least one reply")
            self._script: list[Reply] | None = script
        else:
            self._script = None
            self._responder = replies
        self.honour_n = honour_n
        self.delay_per_token_s = delay_per_token_s
        self.model = model
        self.requests: list[ScriptedRequest] = []
        self._lock = threading.Lock()
        self._next_reply = 0
        self._in_flight = 0
        self.peak_in_flight = 0  # the most requests answered at once so far
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._server = _Server((host, port), _handler_for(self))
        self.host = host
        self.port = int(self._server.server_address[1])
        self.base_url = f"http://{host}:{self.port}/v1"
        # A short poll interval: shutdown() waits for the next poll, and tests close many servers.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"scripted-llm-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def endpoint(
        self,
        api: ApiKind = "completions",
        *,
        api_key_env: str = "",
        timeout_s: float = 30.0,
        retries: int = 3,
        backoff_s: float = 0.01,
    ) -> LLMEndpoint:
        """An endpoint for this server; the backoff is short by default, to keep tests fast."""
        return LLMEndpoint(
            name="scripted-fake",
            base_url=self.base_url,
            api=api,
            model=self.model,
            api_key_env=api_key_env,
            timeout_s=timeout_s,
            retries=retries,
            backoff_s=backoff_s,
        )

    def close(self) -> None:
        """Stop listening; requests still being answered are abandoned. Idempotent."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def replies_for(self, request: ScriptedRequest) -> list[Reply]:
        """The replies that answer `request`: one per choice it gets (one if the first fails)."""
        with self._lock:
            self.requests.append(request)
            choices = max(request.n, 1) if self.honour_n else 1
            replies: list[Reply] = []
            for index in range(choices):
                reply = self._reply(request, index)
                replies.append(reply)
                if index == 0 and (reply.status != 200 or reply.drop_connection):
                    break
            return replies

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def _reply(self, request: ScriptedRequest, index: int) -> Reply:
        if self._script is None:
            return self._responder(request, index)
        reply = self._script[min(self._next_reply, len(self._script) - 1)]
        self._next_reply += 1
        return reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that timed out and left makes the late answer fail; that is the test's point.
        pass


def _handler_for(fake: ScriptedLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                self._send(200, b"")
            elif path == "/v1/models":
                models = {
                    "object": "list",
                    "data": [{"id": fake.model, "object": "model", "owned_by": "scripted-fake"}],
                }
                self._send_json(200, models)
            else:
                self._send_json(404, _error_body(404, f"no route {path}"))

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if path not in ("/v1/completions", "/v1/chat/completions"):
                self._send_json(404, _error_body(404, f"no route {path}"))
                return
            try:
                body = json.loads(raw)
                request = _decode(path, body, dict(self.headers.items()))
            except (ValueError, TypeError, KeyError) as exc:
                self._send_json(400, _error_body(400, f"bad request: {exc}"))
                return
            replies = fake.replies_for(request)
            first = replies[0]
            with fake._slots, fake._answering():
                words = max(len(reply.text.split()) for reply in replies)
                time.sleep(first.delay_s + words * fake.delay_per_token_s)
            if first.drop_connection:
                self.close_connection = True
                return
            if first.status != 200:
                self._send_json(first.status, _error_body(first.status, first.text))
                return
            self._send_json(200, _answer(fake.model, request, replies))

        def _send_json(self, status: int, payload: Mapping[str, object]) -> None:
            self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

        def _send(self, status: int, data: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _decode(path: str, body: object, headers: dict[str, str]) -> ScriptedRequest:
    if not isinstance(body, dict):
        raise ValueError("the body is not a JSON object")
    raw_messages = body.get("messages", []) if path.endswith("/chat/completions") else []
    messages = tuple(ChatMessage(str(m["role"]), str(m["content"])) for m in raw_messages)
    seed = body.get("seed")
    max_tokens = body.get("max_tokens")
    return ScriptedRequest(
        path=path,
        prompt=str(body.get("prompt", "")) if path.endswith("/v1/completions") else "",
        messages=messages,
        n=int(body.get("n", 1)),
        seed=int(seed) if seed is not None else None,
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        body=body,
        headers=headers,
    )


def _answer(model: str, request: ScriptedRequest, replies: list[Reply]) -> dict[str, object]:
    chat = request.path.endswith("/chat/completions")
    choices: list[dict[str, object]] = []
    for index, reply in enumerate(replies):
        choice: dict[str, object] = {"index": index, "finish_reason": reply.finish_reason}
        if chat:
            choice["message"] = {"role": "assistant", "content": reply.text}
        else:
            choice["text"] = _continuation(request.prompt, reply.text)
            choice["logprobs"] = None
        choices.append(choice)
    prompt_text = " ".join(m.content for m in request.messages) if chat else request.prompt
    prompt_tokens = len(prompt_text.split())
    completion_tokens = sum(len(reply.text.split()) for reply in replies)
    return {
        "id": f"scripted-{next(_ANSWER_IDS)}",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


_ANSWER_IDS = itertools.count()


def _continuation(prompt: str, text: str) -> str:
    """What a completion model writes after `prompt`: a scripted whole answer whose start the
    prompt already holds (an answer opened with its code fence) is continued after that start."""
    for cut in range(min(len(prompt), len(text)), 0, -1):
        if prompt.endswith(text[:cut]) and "\n" in text[:cut]:
            return text[cut:]
    return text


def _error_body(status: int, message: str) -> dict[str, object]:
    return {"error": {"message": message or f"scripted error {status}", "code": status}}
