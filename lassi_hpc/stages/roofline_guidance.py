"""The roofline label that guides an app's lassi-ee trials: its main kernel's class.

A campaign names, per app, a labels file written by `lassi-hpc roofline label` (JSONL, one
kernel a line: "kernel", "label" Compute|Bandwidth, and "profile" with the invocation's
"duration_s"). The app's main kernel is the one with the longest profiled duration (the first
listed when no durations are known); its class becomes the label the plan prompt is steered by.
An app without a labels file gets no label (source "none"). Predicting a missing label with an
LLM is not done here (docs/campaign.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lassi_hpc.errors import LassiError
from lassi_hpc.roofline.records import BOUNDEDNESS

# The labels file says "Compute"/"Bandwidth"; the prompts say what that means.
PROMPT_LABELS = {"Compute": "compute-bound", "Bandwidth": "bandwidth-bound"}
LABEL_SOURCES = ("measured", "predicted", "none")


class RooflineGuidanceError(LassiError):
    """A labels file cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class AppRooflineLabel:
    """An app's main-kernel class for the prompts.

    `label` is "compute-bound", "bandwidth-bound" or "" (none known); `source` is "measured"
    (from a profile), "predicted" (by an LLM) or "none"; `kernel` names the main kernel and
    `labels_file` the file it came from ("" when none).
    """

    label: str = ""
    source: str = "none"
    kernel: str = ""
    labels_file: str = ""

    def as_pairs(self, guidance: bool) -> tuple[tuple[str, str], ...]:
        """The (key, value) pairs stored with each trial (TrialRecord.extra)."""
        return (
            ("roofline_guidance", "on" if guidance else "off"),
            ("roofline_label", self.label),
            ("roofline_label_source", self.source),
            ("roofline_kernel", self.kernel),
        )


@dataclass(frozen=True)
class LabelledKernelLine:
    """One line of a labels file: the kernel, its class, and its profiled duration in seconds
    (NaN when the line has none)."""

    kernel: str
    label: str  # "Compute" or "Bandwidth"
    duration_s: float


def read_labels_file(path: Path) -> tuple[LabelledKernelLine, ...]:
    """The kernels of a labels file written by `lassi-hpc roofline label`, in file order.

    RooflineGuidanceError naming the file (and line) for an unreadable file, a line that is not
    a JSON object with a "kernel" text and a "label" Compute|Bandwidth, or a bad duration.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise RooflineGuidanceError(f"cannot read labels file {path}: {error.strerror}") from None
    kernels: list[LabelledKernelLine] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            kernels.append(_kernel_line(_json_object(line, f"{path}:{number}"), f"{path}:{number}"))
    return tuple(kernels)


def _json_object(line: str, where: str) -> dict[str, Any]:
    """One JSONL line as an object; RooflineGuidanceError naming `where` otherwise."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise RooflineGuidanceError(f"{where}: not JSON: {error}") from None
    if not isinstance(record, dict):
        raise RooflineGuidanceError(f"{where}: must be a JSON object, got {type(record).__name__}")
    return record


def _kernel_line(record: dict[str, Any], where: str) -> LabelledKernelLine:
    kernel = record.get("kernel")
    label = record.get("label")
    if not isinstance(kernel, str) or not kernel:
        raise RooflineGuidanceError(f"{where}: needs a 'kernel' name (text)")
    if label not in BOUNDEDNESS:
        raise RooflineGuidanceError(
            f"{where}: kernel {kernel!r}: 'label' is {label!r}; must be one of: "
            + ", ".join(BOUNDEDNESS)
        )
    profile = record.get("profile")
    duration = profile.get("duration_s") if isinstance(profile, dict) else None
    if duration is None:
        return LabelledKernelLine(kernel, str(label), math.nan)
    if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0:
        raise RooflineGuidanceError(
            f"{where}: kernel {kernel!r}: profile.duration_s is {duration!r}; must be a "
            "number of seconds, 0 or more"
        )
    return LabelledKernelLine(kernel, str(label), float(duration))


def main_kernel(kernels: tuple[LabelledKernelLine, ...]) -> LabelledKernelLine | None:
    """The kernel with the longest profiled duration (the earliest listed on a tie); the first
    kernel when none has a duration; None for no kernels."""
    if not kernels:
        return None
    timed = [k for k in kernels if not math.isnan(k.duration_s)]
    if not timed:
        return kernels[0]
    return max(timed, key=lambda k: k.duration_s)


def app_roofline_label(app: str, label_files: Mapping[str, Path]) -> AppRooflineLabel:
    """The label of `app`'s main kernel from its labels file in `label_files` (app name ->
    path); no label (source "none") when the app has no file or its file lists no kernel."""
    path = label_files.get(app)
    if path is None:
        return AppRooflineLabel()
    chosen = main_kernel(read_labels_file(path))
    if chosen is None:
        return AppRooflineLabel(labels_file=str(path))
    return AppRooflineLabel(
        label=PROMPT_LABELS[chosen.label],
        source="measured",
        kernel=chosen.kernel,
        labels_file=str(path),
    )
