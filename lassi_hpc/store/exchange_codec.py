"""LLM exchanges (LLMRequest, LLMResponse) <-> the `request` and `response` groups of a trial step.

Prompts and answers can be long and hold anything an LLM or a source file holds, so their texts are
datasets (`messages/<nnnn>/content`, `text`, `error`); the short fields are attributes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from lassi_hpc.records import ChatMessage, LLMRequest, LLMResponse
from lassi_hpc.store.encoding import (
    check_int64,
    get_float_attr,
    get_int_attr,
    get_text_attr,
    get_text_list_attr,
    group_at,
    read_text,
    set_text_attr,
    set_text_list_attr,
    write_text,
)
from lassi_hpc.store.h5_direct import new_group, set_attr
from lassi_hpc.store.schema import ATTR_INDEX, CONTENT, ERROR, MESSAGES, TEXT, index_name
from lassi_hpc.store.stage_codec import (
    DATASET_OVERHEAD_BYTES,
    GROUP_OVERHEAD_BYTES,
    in_index_order,
    text_size_bytes,
)

# Integer fields stored as int64 attributes.
_REQUEST_INTEGERS = ("max_tokens", "seed", "n")
_RESPONSE_INTEGERS = ("seed", "prompt_tokens", "completion_tokens", "attempts")


def validate_exchange(label: str, request: LLMRequest, response: LLMResponse) -> None:
    """Raise StoreError (starting with `label`) for integers that do not fit an int64."""
    for what, record, names in (
        ("request", request, _REQUEST_INTEGERS),
        ("response", response, _RESPONSE_INTEGERS),
    ):
        for name in names:
            check_int64(f"{label}: {what} {name}", getattr(record, name))


def exchange_size_bytes(request: LLMRequest, response: LLMResponse) -> int:
    """Upper bound of the bytes of a step's `request` and `response` groups."""
    messages = request.messages
    size = 3 * GROUP_OVERHEAD_BYTES + 2 * DATASET_OVERHEAD_BYTES
    size += len(messages) * (GROUP_OVERHEAD_BYTES + DATASET_OVERHEAD_BYTES)
    texts: Iterable[str] = (
        request.purpose,
        *request.stop,
        *(text for message in messages for text in (message.role, message.content)),
        response.text,
        response.error,
        response.finish_reason,
        response.model,
        response.endpoint,
    )
    return size + text_size_bytes(texts)


def write_request(group: Any, request: LLMRequest) -> None:
    """Fill an empty `request` group: attributes, and `messages/<nnnn>` (attribute `role`, dataset
    `content`) in order."""
    set_text_attr(group, "purpose", request.purpose)
    for name in _REQUEST_INTEGERS:
        set_attr(group, name, np.int64(getattr(request, name)))
    set_attr(group, "temperature", np.float64(request.temperature))
    set_text_list_attr(group, "stop", request.stop)
    messages = new_group(group, MESSAGES)
    for index, message in enumerate(request.messages):
        message_group = new_group(messages, index_name(index))
        set_attr(message_group, ATTR_INDEX, np.int64(index))
        set_text_attr(message_group, "role", message.role)
        write_text(message_group, CONTENT, message.content)


def read_request(group: Any) -> LLMRequest:
    """The LLMRequest stored in a `request` group."""
    return LLMRequest(
        purpose=get_text_attr(group, "purpose"),
        messages=tuple(
            ChatMessage(role=get_text_attr(message, "role"), content=read_text(message, CONTENT))
            for message in in_index_order(group_at(group, MESSAGES).values())
        ),
        max_tokens=get_int_attr(group, "max_tokens"),
        temperature=get_float_attr(group, "temperature"),
        seed=get_int_attr(group, "seed"),
        n=get_int_attr(group, "n"),
        stop=get_text_list_attr(group, "stop"),
    )


def write_response(group: Any, response: LLMResponse) -> None:
    """Fill an empty `response` group: attributes, and the `text` and `error` datasets."""
    for name in ("finish_reason", "model", "endpoint"):
        set_text_attr(group, name, getattr(response, name))
    for name in _RESPONSE_INTEGERS:
        set_attr(group, name, np.int64(getattr(response, name)))
    set_attr(group, "latency_s", np.float64(response.latency_s))
    # Derived from `error`; lets tables count failed exchanges without reading texts.
    set_attr(group, "ok", np.bool_(response.ok))
    write_text(group, TEXT, response.text)
    write_text(group, ERROR, response.error)


def read_response(group: Any) -> LLMResponse:
    """The LLMResponse stored in a `response` group."""
    return LLMResponse(
        text=read_text(group, TEXT),
        finish_reason=get_text_attr(group, "finish_reason"),
        model=get_text_attr(group, "model"),
        endpoint=get_text_attr(group, "endpoint"),
        seed=get_int_attr(group, "seed"),
        prompt_tokens=get_int_attr(group, "prompt_tokens"),
        completion_tokens=get_int_attr(group, "completion_tokens"),
        latency_s=get_float_attr(group, "latency_s"),
        attempts=get_int_attr(group, "attempts"),
        error=read_text(group, ERROR),
    )
