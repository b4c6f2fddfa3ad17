"""Records of a campaign's roofline run: one per profiled app variant, and one LLM evaluation.

These are what workers return to the driver and what the roofline HDF5 file stores
(store/roofline_codec.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from lassi_hpc.roofline.records import KernelLabel, KernelProfile, Prediction

if TYPE_CHECKING:
    from lassi_hpc.roofline.evaluate import ClassificationScores

RooflineStatus = Literal["ok", "build-failed", "profile-failed", "compile-only"]
ROOFLINE_STATUSES: tuple[RooflineStatus, ...] = (
    "ok",
    "build-failed",
    "profile-failed",
    "compile-only",
)


@dataclass(frozen=True)
class VariantRoofline:
    """What profiling one app variant gave: every parsed launch, and a label per kernel (its
    fastest of the first two launches) against the GPU spec named `gpu`.

    `status` is "ok" only when at least one kernel was labelled; `reason` says why otherwise.
    `input_name` names the app input the profiled run used.
    """

    app: str
    variant: str
    partition: str
    tool: str
    gpu: str
    status: RooflineStatus
    reason: str
    input_name: str = ""
    profiles: tuple[KernelProfile, ...] = ()
    labels: tuple[KernelLabel, ...] = ()


@dataclass(frozen=True)
class RooflineEvaluation:
    """One model's predictions in one scenario, with their scores (None: not computed)."""

    model: str
    scenario: str
    gpu: str
    predictions: tuple[Prediction, ...]
    scores: ClassificationScores | None = None


@dataclass(frozen=True)
class RooflineContents:
    """Everything a roofline file holds, as read back."""

    path: str
    campaign: str
    created_utc: str
    variants: tuple[VariantRoofline, ...]
    evaluations: tuple[RooflineEvaluation, ...]
