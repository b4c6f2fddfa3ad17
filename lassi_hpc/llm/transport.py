"""HTTP exchanges with an OpenAI-compatible server: one JSON request, its timeouts and retries.

Plain `http.client`, one connection per attempt. Proxy variables (http_proxy, ...) are not
honoured on purpose: servers are on loopback or the cluster's own network, where a site-wide proxy
would only get in the way.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
import urllib.parse
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_BODY_EXCERPT_CHARS = 500
_MAX_RETRY_AFTER_S = 60.0
_JITTER = random.Random()


@dataclass(frozen=True)
class Exchange:
    """The outcome of one request after its retries.

    `payload` is the decoded JSON object of a 200 answer (None otherwise); `error` is "" on success
    and otherwise says why the last attempt failed. `latency_s` is the wall time of the last
    attempt, in seconds; `attempts` counts HTTP attempts (1 = no retry).
    """

    url: str
    status: int  # HTTP status of the last answer; 0 when none came
    payload: dict[str, object] | None
    error: str
    attempts: int
    latency_s: float

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class _Attempt:
    status: int
    payload: dict[str, object] | None
    error: str
    retryable: bool
    retry_after_s: float
    latency_s: float


def request_json(
    method: str,
    url: str,
    body: dict[str, object] | None,
    *,
    key: str,
    timeout_s: float,
    retries: int,
    backoff_s: float,
) -> Exchange:
    """Send `body` (or nothing, for GET) to `url` and decode the JSON answer, retrying faults.

    Connection errors, timeouts, HTTP 429 and 5xx are retried up to `retries` times, waiting
    `backoff_s` then twice as long each time (plus up to 10 % jitter, at least a 429's
    Retry-After). Never raises for a server fault; `key` (sent as a Bearer token) is removed from
    every error text.
    """
    data = json.dumps(body).encode("utf-8") if body is not None else None
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if key:
        headers["Authorization"] = f"Bearer {key}"
    attempts = 0
    delay_s = backoff_s
    while True:
        attempts += 1
        attempt = _attempt_once(method, url, data, headers, timeout_s)
        error = _redact(attempt.error, key)
        if not error:
            return Exchange(url, attempt.status, attempt.payload, "", attempts, attempt.latency_s)
        if not attempt.retryable or attempts > retries:
            if attempts > 1:
                error = f"{error} (gave up after {attempts} attempts)"
            return Exchange(url, attempt.status, None, error, attempts, attempt.latency_s)
        wait_s = max(delay_s * (1.0 + 0.1 * _JITTER.random()), attempt.retry_after_s)
        logger.warning(
            "%s %s failed: %s; retry %d of %d in %.1f s",
            method,
            url,
            error,
            attempts,
            retries,
            wait_s,
        )
        time.sleep(wait_s)
        delay_s *= 2.0


def _attempt_once(
    method: str, url: str, data: bytes | None, headers: dict[str, str], timeout_s: float
) -> _Attempt:
    parts = urllib.parse.urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    # The timeout bounds each blocking step (connect, each read): a non-streaming server sends
    # nothing until its answer is complete, so this bounds the whole attempt in practice.
    connection = connection_class(parts.netloc, timeout=timeout_s)
    started_s = time.monotonic()

    def failed(error: str, *, status: int = 0, retryable: bool = True) -> _Attempt:
        return _Attempt(status, None, error, retryable, 0.0, time.monotonic() - started_s)

    try:
        connection.request(method, target, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        status = response.status
        retry_after = response.getheader("Retry-After", "")
    except TimeoutError:
        return failed(f"timed out after {timeout_s:g} s ({method} {url})")
    except ConnectionRefusedError:
        return failed(f"connection refused ({url})")
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        return failed(f"connection closed by the server without an answer ({url})")
    except (OSError, http.client.HTTPException) as exc:
        return failed(f"{type(exc).__name__}: {exc} ({url})")
    finally:
        connection.close()
    latency_s = time.monotonic() - started_s
    if status != 200:
        retryable = status == 429 or status >= 500
        return _Attempt(
            status,
            None,
            f"HTTP {status} from {url}: {_excerpt(raw)}",
            retryable,
            _retry_after_s(retry_after) if status == 429 else 0.0,
            latency_s,
        )
    try:
        payload = json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict):
        return _Attempt(
            status,
            None,
            f"answer from {url} is not a JSON object: {_excerpt(raw)}",
            False,
            0.0,
            latency_s,
        )
    return _Attempt(status, payload, "", False, 0.0, latency_s)


def _excerpt(raw: bytes) -> str:
    text = " ".join(raw.decode("utf-8", errors="replace").split())
    if len(text) > _BODY_EXCERPT_CHARS:
        return text[:_BODY_EXCERPT_CHARS] + " ..."
    return text or "(empty body)"


def _retry_after_s(value: str) -> float:
    # Retry-After may also be an HTTP date; servers of this kind send seconds, dates are ignored.
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER_S)
    except ValueError:
        return 0.0


def _redact(text: str, key: str) -> str:
    # A server may echo request headers in its error body; the key must never reach a record.
    return text.replace(key, "[redacted]") if key and text else text
