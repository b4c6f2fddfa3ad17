"""The one reader of labels files written by `lassi-hpc roofline label`.

A labels file is JSONL, one kernel a line: a JSON object with a "kernel" name (text) and a
"label" Compute|Bandwidth, plus what `label` adds ("profile_text", "launch_text", "profile" with
the invocation's "duration_s", ...) and, with `--app`, the "app" it was profiled in. Blank lines
are skipped. `roofline dataset` joins kernels
with these records and campaign guidance (stages/roofline_guidance.py) picks an app's main kernel
from them; both read through here, so the format is parsed in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.records import BOUNDEDNESS


class LabelsFileError(RooflineError):
    """A labels file cannot be used; the message names the file and, for a bad line, its number."""


@dataclass(frozen=True)
class LabelRecord:
    """One line of a labels file: its JSON object (with a valid "kernel" and "label") and where
    it was read, as "FILE:LINE" for error messages."""

    record: dict[str, Any]
    where: str

    @property
    def kernel(self) -> str:
        return str(self.record["kernel"])

    @property
    def label(self) -> str:
        return str(self.record["label"])

    @property
    def app(self) -> str:
        """The app whose profile gave the label (`roofline label --app`); "" when not said."""
        return str(self.record.get("app", ""))


def read_label_lines(path: Path) -> tuple[LabelRecord, ...]:
    """The records of a labels file, in file order.

    LabelsFileError naming the file for an unreadable file, and the file and line for a line
    that is not a JSON object with a "kernel" text and a "label" Compute|Bandwidth.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise LabelsFileError(f"cannot read labels file {path}: {error.strerror}") from None
    records: list[LabelRecord] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            where = f"{path}:{number}"
            records.append(LabelRecord(_checked(_json_object(line, where), where), where))
    return tuple(records)


def _json_object(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise LabelsFileError(f"{where}: not JSON: {error}") from None
    if not isinstance(record, dict):
        raise LabelsFileError(f"{where}: must be a JSON object, got {type(record).__name__}")
    return record


def _checked(record: dict[str, Any], where: str) -> dict[str, Any]:
    kernel = record.get("kernel")
    label = record.get("label")
    if not isinstance(kernel, str) or not kernel:
        raise LabelsFileError(f"{where}: needs a 'kernel' name (text)")
    if label not in BOUNDEDNESS:
        raise LabelsFileError(
            f"{where}: kernel {kernel!r}: 'label' is {label!r}; must be one of: "
            + ", ".join(BOUNDEDNESS)
        )
    if not isinstance(record.get("app", ""), str):
        raise LabelsFileError(f"{where}: kernel {kernel!r}: 'app' must be text")
    return record
