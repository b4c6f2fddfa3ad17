"""Ask an OpenAI-compatible server (vLLM, llama.cpp, any other) for k candidate answers.

k candidates come from one request with `n` = k where the server honours it; a server that
returns fewer choices (llama.cpp returns one, silently) is asked again for each missing choice i
with `seed` + i and n = 1. Server faults never raise: they end as responses whose `error` says why.
See docs/llm.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from lassi_hpc.llm.endpoint import LLMEndpoint, api_key
from lassi_hpc.llm.errors import LLMServerError
from lassi_hpc.llm.transport import Exchange, request_json
from lassi_hpc.records import ChatMessage, LLMRequest, LLMResponse

_ROLE_LABELS = {"system": "System", "user": "User", "assistant": "Assistant"}

NEXT_TURN_STOPS: tuple[str, ...] = ("\n### User:", "\n### System:", "\n### Assistant:")
"""Stop sequences added to every /v1/completions request: a base model that has answered tends
to go on writing further turns of the conversation itself."""


def render_prompt(messages: Sequence[ChatMessage]) -> str:
    """The one prompt text sent to /v1/completions for base models (no chat template).

    Each message becomes a section `### System:` / `### User:` / `### Assistant:` (other roles:
    the role's name, capitalised) followed by its content and a blank line. The text ends with an
    open `### Assistant:` section for the model to continue; when the last message is itself an
    assistant message, its content is left open instead (a prefilled answer).
    """
    sections: list[str] = []
    for index, message in enumerate(messages):
        header = f"### {_ROLE_LABELS.get(message.role, message.role.capitalize())}:\n"
        is_prefill = message.role == "assistant" and index == len(messages) - 1
        if is_prefill:
            sections.append(header + message.content)
        else:
            sections.append(header + message.content.rstrip("\n") + "\n\n")
    if not messages or messages[-1].role != "assistant":
        sections.append("### Assistant:\n")
    return "".join(sections)


def complete(endpoint: LLMEndpoint, request: LLMRequest) -> tuple[LLMResponse, ...]:
    """Exactly request.n responses, in order.

    Never raises for server faults: a request that still fails after its retries gives responses
    whose .error says why (HTTP status and body excerpt, 'timed out after X s', 'connection
    refused'), with attempts counted. Each response records the seed sent in the HTTP request that
    produced it (request.seed for the choices of the first request, request.seed + i for a choice
    i asked for alone), the model the server reported, its token counts and the latency in
    seconds. Raises LLMServerError only when the endpoint names an API key variable that is unset.
    """
    if request.n < 1:
        return ()
    key = api_key(endpoint.api_key_env, f"LLM endpoint {endpoint.name!r}")
    responses = _ask(endpoint, request, key, n=request.n, seed=request.seed)
    if not responses[0].ok:
        return tuple(responses[0] for _ in range(request.n))
    responses = responses[: request.n]
    for index in range(len(responses), request.n):
        # The server ignored `n`: choice i is asked for alone with its own seed, so that the k
        # candidates differ and each can be reproduced.
        responses.append(_ask(endpoint, request, key, n=1, seed=request.seed + index)[0])
    return tuple(responses)


def served_models(base_url: str, api_key_env: str = "", timeout_s: float = 10.0) -> list[str]:
    """GET {base_url}/models -> the ids of the served models, in the server's order.

    Raises LLMServerError naming the URL when the server is unreachable, answers with an error or
    serves no model. One attempt, no retry: callers that wait for a server poll this.
    """
    base_url = base_url.rstrip("/")
    key = api_key(api_key_env, f"LLM server {base_url}")
    exchange = request_json(
        "GET", f"{base_url}/models", None, key=key, timeout_s=timeout_s, retries=0, backoff_s=0.0
    )
    if not exchange.ok:
        hint = " (does the base URL end in /v1?)" if exchange.status == 404 else ""
        raise LLMServerError(f"LLM server at {base_url} is not usable: {exchange.error}{hint}")
    assert exchange.payload is not None
    data = exchange.payload.get("data")
    ids = (
        [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]
        if isinstance(data, list)
        else []
    )
    if not ids:
        raise LLMServerError(f"LLM server at {base_url} lists no model at {base_url}/models")
    return ids


def answer_prefill(request: LLMRequest) -> str:
    """The start of the answer, given as a trailing assistant message ("" when there is none).

    A completions endpoint continues it, and the response's text is the prefill plus the
    continuation: the whole answer. Chat servers differ in what a trailing assistant message
    means, so for chat endpoints it is not sent at all.
    """
    messages = request.messages
    if len(messages) < 2 or messages[-1].role != "assistant":
        return ""
    return messages[-1].content


def _fence_stop(request: LLMRequest) -> tuple[str, ...]:
    # An answer opened with a code fence ends where that fence closes: stopping there saves a
    # small model's ramble after the code (the text then ends inside the block, which extraction
    # accepts when the server says it stopped rather than ran out of tokens).
    return ("\n```",) if answer_prefill(request).lstrip().startswith(("```", "~~~")) else ()


def _request_body(
    endpoint: LLMEndpoint, request: LLMRequest, n: int, seed: int
) -> tuple[str, dict[str, object]]:
    body: dict[str, object] = {
        "model": endpoint.model,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "seed": seed,
        "n": n,
        "stream": False,
    }
    if endpoint.api == "chat":
        messages = request.messages[:-1] if answer_prefill(request) else request.messages
        body["messages"] = [{"role": m.role, "content": m.content} for m in messages]
        stops = list(request.stop)
        path = "/chat/completions"
    else:
        body["prompt"] = render_prompt(request.messages)
        stops = list(dict.fromkeys(request.stop + NEXT_TURN_STOPS + _fence_stop(request)))
        path = "/completions"
    if stops:
        body["stop"] = stops
    return path, body


def _ask(
    endpoint: LLMEndpoint, request: LLMRequest, key: str, *, n: int, seed: int
) -> list[LLMResponse]:
    """The choices of one HTTP request (at least one; a single error response on failure)."""
    path, body = _request_body(endpoint, request, n, seed)
    exchange = request_json(
        "POST",
        endpoint.base_url + path,
        body,
        key=key,
        timeout_s=endpoint.timeout_s,
        retries=endpoint.retries,
        backoff_s=endpoint.backoff_s,
    )
    if not exchange.ok:
        return [_error_response(endpoint, exchange, seed, exchange.error)]
    choices = _parse_choices(endpoint, exchange, seed)
    prefill = answer_prefill(request) if endpoint.api == "completions" else ""
    if prefill:
        choices = [replace(c, text=prefill + c.text) if c.ok else c for c in choices]
    return choices


def _parse_choices(endpoint: LLMEndpoint, exchange: Exchange, seed: int) -> list[LLMResponse]:
    assert exchange.payload is not None
    payload = exchange.payload
    raw_choices = payload.get("choices")
    indexed = [
        (_as_int(choice.get("index"), default=position), choice)
        for position, choice in enumerate(raw_choices if isinstance(raw_choices, list) else [])
        if isinstance(choice, dict)
    ]
    if not indexed:
        error = f"no choices in the answer of {exchange.url}"
        return [_error_response(endpoint, exchange, seed, error)]
    choices = [choice for _, choice in sorted(indexed, key=lambda pair: pair[0])]
    texts: list[str] = []
    for choice in choices:
        text = _choice_text(choice, endpoint.api)
        if text is None:
            error = f"a choice without text in the answer of {exchange.url}"
            return [_error_response(endpoint, exchange, seed, error)]
        texts.append(text)
    raw_usage = payload.get("usage")
    usage: dict[str, object] = raw_usage if isinstance(raw_usage, dict) else {}
    prompt_tokens = _as_int(usage.get("prompt_tokens"))
    completion_tokens = _split_tokens(_as_int(usage.get("completion_tokens")), texts)
    model = payload.get("model")
    return [
        LLMResponse(
            text=text,
            finish_reason=str(choice.get("finish_reason") or ""),
            model=model if isinstance(model, str) and model else endpoint.model,
            endpoint=endpoint.base_url,
            seed=seed,
            prompt_tokens=prompt_tokens,
            completion_tokens=tokens,
            latency_s=exchange.latency_s,
            attempts=exchange.attempts,
        )
        for choice, text, tokens in zip(choices, texts, completion_tokens, strict=True)
    ]


def _choice_text(choice: dict[str, object], api: str) -> str | None:
    if api == "chat":
        message = choice.get("message")
        if not isinstance(message, dict):
            return None
        content = message.get("content")
        # A chat answer with no content (null) is an empty answer, not a malformed one.
        return content if isinstance(content, str) else "" if content is None else None
    text = choice.get("text")
    return text if isinstance(text, str) else None


def _split_tokens(total: int, texts: list[str]) -> list[int]:
    """`total` completion tokens shared out over choices in proportion to their lengths.

    OpenAI-compatible servers report one usage for all `n` choices of a request; the split keeps
    the sum exact (largest remainders) and is exact for a single choice.
    """
    if len(texts) == 1:
        return [total]
    weights = [len(text) for text in texts]
    weight_sum = sum(weights)
    if weight_sum == 0:
        weights = [1] * len(texts)
        weight_sum = len(texts)
    shares = [total * weight / weight_sum for weight in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(texts)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _error_response(
    endpoint: LLMEndpoint, exchange: Exchange, seed: int, error: str
) -> LLMResponse:
    return LLMResponse(
        text="",
        finish_reason="",
        model=endpoint.model,
        endpoint=endpoint.base_url,
        seed=seed,
        prompt_tokens=0,
        completion_tokens=0,
        latency_s=exchange.latency_s,
        attempts=exchange.attempts,
        error=error,
    )


def _as_int(value: object, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return default
