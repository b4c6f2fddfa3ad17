"""The roofline label that guides an app's lassi-ee trials: its main kernel's class.

A campaign names, per app, a labels file written by `lassi-hpc roofline label` (JSONL, one
kernel a line: "kernel", "label" Compute|Bandwidth, and "profile" with the invocation's
"duration_s"). The app's main kernel is the one with the longest profiled duration (the first
listed when no durations are known); its class becomes the label the plan prompt is steered by.
An app without a labels file gets no label (source "none") here; with `[roofline] predict`, the
driver then asks the generator LLM for one per variant (stages/roofline_prediction.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lassi_hpc.roofline.labels_file import LabelRecord, LabelsFileError, read_label_lines

# The labels file says "Compute"/"Bandwidth"; the prompts say what that means.
PROMPT_LABELS = {"Compute": "compute-bound", "Bandwidth": "bandwidth-bound"}
LABEL_SOURCES = ("measured", "predicted", "none")


# A labels file that cannot be used; the message names the file and line.
RooflineGuidanceError = LabelsFileError


@dataclass(frozen=True)
class AppRooflineLabel:
    """An app's main-kernel class for the prompts.

    `label` is "compute-bound", "bandwidth-bound" or "" (none known); `source` is "measured"
    (from a profile), "predicted" (by an LLM) or "none"; `kernel` names the main kernel and
    `labels_file` the file it came from ("" when none). A prediction was asked for when
    `prediction` is not "": it holds the answer's last line (trimmed), and `reason` says why a
    prediction gave no label ("" otherwise).
    """

    label: str = ""
    source: str = "none"
    kernel: str = ""
    labels_file: str = ""
    prediction: str = ""
    reason: str = ""

    def as_pairs(self, guidance: bool) -> tuple[tuple[str, str], ...]:
        """The (key, value) pairs stored with each trial (TrialRecord.extra); the prediction's
        pairs only when one was asked for, so trials without one store what they always did."""
        pairs: tuple[tuple[str, str], ...] = (
            ("roofline_guidance", "on" if guidance else "off"),
            ("roofline_label", self.label),
            ("roofline_label_source", self.source),
            ("roofline_kernel", self.kernel),
        )
        if self.prediction or self.reason:
            pairs += (
                ("roofline_prediction", self.prediction),
                ("roofline_prediction_reason", self.reason),
            )
        return pairs


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
    a JSON object with a "kernel" text and a "label" Compute|Bandwidth (roofline/labels_file.py),
    or a bad duration.
    """
    return tuple(_kernel_line(line) for line in read_label_lines(path))


def _kernel_line(line: LabelRecord) -> LabelledKernelLine:
    profile = line.record.get("profile")
    duration = profile.get("duration_s") if isinstance(profile, dict) else None
    if duration is None:
        return LabelledKernelLine(line.kernel, line.label, math.nan)
    if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0:
        raise RooflineGuidanceError(
            f"{line.where}: kernel {line.kernel!r}: profile.duration_s is {duration!r}; must be "
            "a number of seconds, 0 or more"
        )
    return LabelledKernelLine(line.kernel, line.label, float(duration))


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
