"""Records of the roofline package: profiles, balance points, labels, kernels and predictions.

Operation counts are thread-level operations (an FMA counts 2); traffic is DRAM bytes; arithmetic
intensities are operations per byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Boundedness = Literal["Compute", "Bandwidth"]
Language = Literal["cuda", "omp"]
BOUNDEDNESS: tuple[Boundedness, ...] = ("Compute", "Bandwidth")
LANGUAGES: tuple[Language, ...] = ("cuda", "omp")


@dataclass(frozen=True)
class KernelProfile:
    """One profiled invocation of one kernel.

    `invocation` counts from 1 per kernel name in launch order. `sp_ops` / `dp_ops` are
    fadd + fmul + 2 * ffma thread operations in single / double precision, `int_ops` integer
    thread instructions, `dram_bytes` bytes read plus written in device memory.
    """

    kernel: str
    invocation: int
    duration_s: float
    sp_ops: int
    dp_ops: int
    int_ops: int
    dram_bytes: int
    device: str
    block_size: str = ""  # as the tool printed it, e.g. "(256, 1, 1)"
    grid_size: str = ""


@dataclass(frozen=True)
class BalancePoints:
    """Peak operations per second over peak DRAM bytes per second, per precision (op/byte)."""

    sp_op_per_byte: float
    dp_op_per_byte: float
    int_op_per_byte: float


@dataclass(frozen=True)
class KernelLabel:
    """A kernel's roofline class, with the intensities and balance points that decided it.

    `reason` is "" in the ordinary case and says why otherwise (no DRAM traffic measured).
    `ceilings_source` names where the peaks came from (datasheet or measured file).
    """

    kernel: str
    invocation: int
    sp_ai_op_per_byte: float
    dp_ai_op_per_byte: float
    int_ai_op_per_byte: float
    label: Boundedness
    balance: BalancePoints
    ceilings_source: str
    reason: str = ""


@dataclass(frozen=True)
class ExtractedKernel:
    """A kernel's source: a CUDA `__global__` function or an OpenMP target region.

    `name` is the function name (CUDA) or `<enclosing function>:omp_target<n>` (OpenMP, n from
    1 in source order); `line` is the 1-based line where it starts in `file`; `app` the app it
    belongs to when `roofline extract --app` said so ("" otherwise).
    """

    name: str
    language: Language
    source: str
    file: str
    line: int
    app: str = ""


@dataclass(frozen=True)
class LabelledKernel:
    """A dataset entry: a kernel's source and its measured class.

    `profile_text` is the profile summary shown in the `profile` scenario ("" when unknown);
    `launch_text` says the launch geometry and arguments when known.
    """

    name: str
    language: Language
    source: str
    label: Boundedness
    profile_text: str = ""
    launch_text: str = ""
    file: str = ""


@dataclass(frozen=True)
class Prediction:
    """One model's answer for one kernel in one scenario; `predicted` None: no label found."""

    kernel: str
    language: Language
    scenario: str
    model: str
    truth: Boundedness
    predicted: Boundedness | None
    answer: str
    error: str = ""  # the client's error when the server failed ("" otherwise)

    @property
    def correct(self) -> bool:
        return self.predicted == self.truth
