"""Where an OpenAI-compatible server answers, and how requests to it are made."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from lassi_hpc.llm.errors import LLMServerError

ApiKind = Literal["completions", "chat"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class LLMEndpoint:
    """A reachable OpenAI-compatible server. Picklable: sent to Parsl workers.

    `base_url` ends in /v1 (a trailing slash is removed). The API key is never stored: only the
    name of the environment variable that holds it, read when a request is made, so the worker
    that makes it must have the variable too. `timeout_s` bounds each wait for the server within
    one HTTP attempt; `retries` further attempts follow connection errors, timeouts, HTTP 429 and
    5xx (never other 4xx), after `backoff_s`, doubling each time, with up to 10 % jitter.

    With `base_url_env` set, `base_url` is "" and the URL is read from that environment variable
    where the request is made (`resolve_base_url`): a server started inside a Slurm job is known
    only to that job's workers (llm/block.py).
    """

    name: str
    base_url: str
    api: ApiKind
    model: str
    api_key_env: str = ""
    timeout_s: float = 600.0
    retries: int = 3
    backoff_s: float = 1.0
    base_url_env: str = ""

    def __post_init__(self) -> None:
        where = f"LLM endpoint {self.name!r}"
        if self.base_url_env:
            if not _ENV_NAME.match(self.base_url_env):
                raise LLMServerError(
                    f"{where}: base_url_env {self.base_url_env!r} is not an environment "
                    "variable name"
                )
            if self.base_url:
                raise LLMServerError(
                    f"{where}: give base_url or base_url_env, not both (base_url "
                    f"{self.base_url!r}, base_url_env {self.base_url_env!r})"
                )
        elif not self.base_url.startswith(("http://", "https://")):
            raise LLMServerError(
                f"{where}: base_url {self.base_url!r} must start with http:// or https://"
            )
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if self.api not in ("completions", "chat"):
            raise LLMServerError(f"{where}: api {self.api!r} must be one of: completions, chat")
        if self.timeout_s <= 0:
            raise LLMServerError(f"{where}: timeout_s must be positive, got {self.timeout_s}")
        if self.retries < 0:
            raise LLMServerError(f"{where}: retries must be >= 0, got {self.retries}")
        if self.backoff_s < 0:
            raise LLMServerError(f"{where}: backoff_s must be >= 0, got {self.backoff_s}")


def resolve_base_url(endpoint: LLMEndpoint, env: Mapping[str, str] = os.environ) -> LLMEndpoint:
    """The endpoint with its base URL, read from `endpoint.base_url_env` in `env` where that is
    named; the endpoint itself otherwise.

    Raises LLMServerError naming the variable when it is unset or empty (the request is made
    outside the Slurm job that started the server), or when its value is not an http(s) URL.
    """
    if not endpoint.base_url_env:
        return endpoint
    where = f"LLM endpoint {endpoint.name!r}"
    url = env.get(endpoint.base_url_env, "")
    if not url:
        raise LLMServerError(
            f"{where}: the base URL variable {endpoint.base_url_env} is not set in this "
            "process's environment; it is set only for the workers of the Slurm job that "
            "started the server (its executor's block)"
        )
    if not url.startswith(("http://", "https://")):
        raise LLMServerError(
            f"{where}: {endpoint.base_url_env} = {url!r} must start with http:// or https://"
        )
    return replace(endpoint, base_url=url, base_url_env="")


def api_key(api_key_env: str, where: str) -> str:
    """The key held by the environment variable `api_key_env`; "" when no variable is named.

    Raises LLMServerError (naming the variable and `where`, never a value) when a variable is
    named but unset or empty: a server that needs a key would only answer 401.
    """
    if not api_key_env:
        return ""
    key = os.environ.get(api_key_env, "")
    if not key:
        raise LLMServerError(
            f"{where}: the API key variable {api_key_env} is not set in this process's "
            "environment (Parsl workers need it too)"
        )
    return key
