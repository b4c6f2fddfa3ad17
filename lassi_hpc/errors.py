"""The few error classes lassi_hpc raises on purpose; each message says what is wrong and where."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LassiError(Exception):
    """Base of the errors lassi_hpc raises on purpose; the CLI prints them without a traceback."""


class ConfigError(LassiError):
    """A config file (campaign, site or app manifest) is malformed.

    The message names the file, the dotted key, the offending value, the allowed choices and, for a
    typo, the nearest valid key.
    """

    def __init__(
        self,
        file: str,
        key: str,
        problem: str,
        *,
        value: object = None,
        allowed: Iterable[str] = (),
        show_value: bool = False,
    ) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        self.value = value
        self.allowed = tuple(allowed)
        parts = [f"{file}: {key or '(top level)'}: {problem}"]
        if show_value:
            parts.append(f"got {value!r}")
        if self.allowed:
            parts.append("must be one of: " + ", ".join(self.allowed))
        super().__init__("; ".join(parts))


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to `word`, for 'did you mean' hints; None when nothing is close."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


class AppError(LassiError):
    """An application directory or manifest cannot be used (missing file, unknown variant, ...)."""


class ToolchainError(LassiError):
    """A toolchain named by the site is not installed or cannot build the requested variant."""


class StoreError(LassiError):
    """The HDF5 results file cannot be written or read as expected."""


class MeasurementError(LassiError):
    """An energy backend failed in a way that makes the measurement unusable."""
