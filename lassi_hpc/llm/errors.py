"""The error raised when an LLM server cannot be started, reached or used as configured."""

from __future__ import annotations

from lassi_hpc.errors import LassiError


class LLMServerError(LassiError):
    """An LLM server could not be started or reached, or an endpoint is misconfigured.

    The message names the server or URL and, for a launched server, the tail of its log. It never
    contains an API key.
    """
