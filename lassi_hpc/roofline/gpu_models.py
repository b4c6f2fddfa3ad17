"""Which GPU spec table entry a site partition's `gpu_model` text means.

Sites write what the GPUs are the way people say it ("A100-SXM4-40GB", "NVIDIA H100 80GB HBM3",
"MI100"); the specs table (specs.py) has a few canonical names. The A100 40 GB parts (PCIe and
SXM4) share their peaks (19.5 TF FP32, 1,555 GB/s), so both map to `a100-pcie-40gb`.
"""

from __future__ import annotations

import re

from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.specs import GPU_SPECS, GpuSpec, gpu_spec

# (pattern on the lower-cased model text, table entry); the first match wins, so the more
# specific patterns come first.
_MODEL_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"a100.*80\s*gb?", "a100-sxm-80gb"),
    (r"a100", "a100-pcie-40gb"),
    (r"h200", "h200"),
    (r"h100", "h100-sxm"),
    (r"mi100", "mi100"),
    (r"3080", "rtx3080"),
)


def spec_name_for_gpu_model(model: str) -> str | None:
    """The specs table entry for a partition's `gpu_model` text; None when none matches."""
    text = model.strip().lower()
    if not text:
        return None
    if text in GPU_SPECS:
        return text
    for pattern, name in _MODEL_PATTERNS:
        if re.search(pattern, text):
            return name
    return None


def profiled_on_another_gpu(device: str, spec_name: str) -> bool:
    """Whether a profile's `device` text names a GPU of another kind than the table entry
    `spec_name` (an A100 40 GB against `a100-sxm-80gb` is the same kind); False when the device
    text names no GPU of the table."""
    profiled = spec_name_for_gpu_model(device)
    target = spec_name_for_gpu_model(spec_name)
    return profiled is not None and _kind(profiled) != _kind(target or spec_name)


def _kind(spec_name: str) -> str:
    # The table names' first word: "a100-sxm-80gb" and "a100-pcie-40gb" are both "a100",
    # "rtx3080" and "rtx3080-seed-paper" both "rtx3080".
    return spec_name.split("-", 1)[0]


def spec_for_partition(partition_name: str, gpu_model: str) -> GpuSpec:
    """The spec of a partition's GPUs from its `gpu_model`; RooflineError naming the partition
    (and telling to pass --gpu) when the model is empty or unknown."""
    name = spec_name_for_gpu_model(gpu_model)
    if name is None:
        said = f"gpu_model {gpu_model!r}" if gpu_model else "no gpu_model"
        raise RooflineError(
            f"partition {partition_name!r} has {said}, which names no GPU of the specs table; "
            f"pass --gpu NAME (one of: {', '.join(GPU_SPECS)})"
        )
    return gpu_spec(name)
