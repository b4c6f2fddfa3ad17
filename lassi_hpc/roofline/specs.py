"""Peak throughputs of target GPUs, and their roofline balance points.

A balance point is a peak operation rate over the peak DRAM bandwidth (op/byte): a kernel whose
arithmetic intensity lies below it in every precision cannot keep the units busy and is
bandwidth-bound. Figures are vendor datasheet or whitepaper values, each with its source; a
user's measured ceilings (a TOML or JSON file) override them, because a datasheet peak is seldom
reached. The RTX 3080 points of seed paper B are reproduced by a separate entry, whose derivation
is in docs/roofline.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lassi_hpc.config.validate import read_toml
from lassi_hpc.errors import ConfigError, nearest
from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.records import BalancePoints

TERA = 1e12
GIGA = 1e9


@dataclass(frozen=True)
class GpuSpec:
    """Peak rates of one GPU: thread-level operations per second (an FMA is 2 floating-point
    operations, an integer instruction 1) and DRAM bytes per second. `source` says where the
    figures come from."""

    name: str
    fp32_op_per_s: float
    fp64_op_per_s: float
    int32_op_per_s: float
    dram_byte_per_s: float
    source: str


def _spec(
    name: str, fp32_tflops: float, fp64_tflops: float, int32_tops: float, dram_gb_s: float, src: str
) -> GpuSpec:
    return GpuSpec(
        name, fp32_tflops * TERA, fp64_tflops * TERA, int32_tops * TERA, dram_gb_s * GIGA, src
    )


GPU_SPECS: dict[str, GpuSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "a100-sxm-80gb", 19.5, 9.7, 19.5, 2039.0,
            "NVIDIA A100 Tensor Core GPU datasheet (SXM 80GB: FP32 19.5 TF, FP64 9.7 TF, "
            "2,039 GB/s); INT32 = FP32 rate (64 INT32 + 64 FP32 lanes per SM, NVIDIA A100 "
            "architecture whitepaper)",
        ),
        _spec(
            "a100-pcie-40gb", 19.5, 9.7, 19.5, 1555.0,
            "NVIDIA A100 Tensor Core GPU datasheet (PCIe 40GB: FP32 19.5 TF, FP64 9.7 TF, "
            "1,555 GB/s); INT32 = FP32 rate (NVIDIA A100 architecture whitepaper)",
        ),
        _spec(
            "h100-sxm", 67.0, 34.0, 33.5, 3350.0,
            "NVIDIA H100 Tensor Core GPU datasheet (SXM: FP32 67 TF, FP64 34 TF, 3.35 TB/s); "
            "INT32 = half the FP32 rate (64 INT32 vs 128 FP32 lanes per SM, NVIDIA H100 "
            "architecture whitepaper)",
        ),
        _spec(
            "h200", 67.0, 34.0, 33.5, 4800.0,
            "NVIDIA H200 Tensor Core GPU datasheet (SXM: FP32 67 TF, FP64 34 TF, 4.8 TB/s); "
            "INT32 as H100 (same SM)",
        ),
        _spec(
            "mi100", 23.1, 11.5, 11.5, 1228.8,
            "AMD Instinct MI100 datasheet (FP32 23.1 TF, FP64 11.5 TF, 1.2288 TB/s); INT32 "
            "derived: 120 CUs x 64 lanes x 1,502 MHz, one op per lane per cycle (no datasheet "
            "figure)",
        ),
        _spec(
            "rtx3080", 29.77, 29.77 / 64, 29.77 / 2, 760.0,
            "NVIDIA Ampere GA102 whitepaper (RTX 3080: 8,704 CUDA cores x 2 x 1,710 MHz boost = "
            "29.77 TF FP32, 760 GB/s); FP64 = 1/64 and INT32 = 1/2 of FP32 on GA10x",
        ),
        _spec(
            "rtx3080-seed-paper", 29.77, 29.77 / 64, 29.77 / 2, 902.9,
            "seed paper B's balance points (SP 32.97, DP 0.52, INT 16.49 op/byte): GA102 "
            "whitepaper FP32 29.77 TF with the 902.9 GB/s those points imply (not the 760 GB/s "
            "datasheet figure; see docs/roofline.md)",
        ),
    )
}  # fmt: skip


def balance_points(spec: GpuSpec) -> BalancePoints:
    """Peak op/s over peak bytes/s per precision (op/byte)."""
    return BalancePoints(
        sp_op_per_byte=spec.fp32_op_per_s / spec.dram_byte_per_s,
        dp_op_per_byte=spec.fp64_op_per_s / spec.dram_byte_per_s,
        int_op_per_byte=spec.int32_op_per_s / spec.dram_byte_per_s,
    )


def gpu_spec(name: str) -> GpuSpec:
    """The table entry `name` (case-insensitive); RooflineError listing the names otherwise."""
    spec = GPU_SPECS.get(name.strip().lower())
    if spec is None:
        hint = nearest(name.strip().lower(), GPU_SPECS)
        did_you_mean = f" (did you mean {hint!r}?)" if hint else ""
        raise RooflineError(
            f"unknown GPU {name!r}{did_you_mean}; must be one of: {', '.join(GPU_SPECS)}"
        )
    return spec


_RATE_KEYS = ("fp32_op_per_s", "fp64_op_per_s", "int32_op_per_s", "dram_byte_per_s")
_CEILING_KEYS = ("gpu", "source", *_RATE_KEYS)


def load_measured_ceilings(path: Path) -> GpuSpec:
    """A GPU spec from a file of measured peaks (`.toml` or `.json`).

    Keys: `gpu` (a table entry whose figures fill any rate not given; optional when all four
    rates are given), `source` (required: how the peaks were measured), and any of
    fp32_op_per_s, fp64_op_per_s, int32_op_per_s, dram_byte_per_s (positive numbers, op/s and
    bytes/s). Raises ConfigError naming the file and key.
    """
    data = _read_mapping(path)
    file = str(path)
    for key in data:
        if key not in _CEILING_KEYS:
            hint = nearest(key, _CEILING_KEYS)
            problem = "unknown key" + (f" (did you mean {hint!r}?)" if hint else "")
            raise ConfigError(file, key, problem, allowed=_CEILING_KEYS)
    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(file, "source", "must say how the ceilings were measured (a string)")
    rates: dict[str, float] = {}
    for key in _RATE_KEYS:
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ConfigError(file, key, "must be a positive number", value=value, show_value=True)
        if not math.isfinite(value):
            raise ConfigError(file, key, "must be finite", value=value, show_value=True)
        rates[key] = float(value)
    base_name = data.get("gpu")
    if base_name is None:
        missing = [key for key in _RATE_KEYS if key not in rates]
        if missing:
            raise ConfigError(
                file, "gpu", "names no table GPU to take " + ", ".join(missing) + " from",
                allowed=GPU_SPECS,
            )  # fmt: skip
        return GpuSpec(
            name=f"measured:{path.name}",
            fp32_op_per_s=rates["fp32_op_per_s"],
            fp64_op_per_s=rates["fp64_op_per_s"],
            int32_op_per_s=rates["int32_op_per_s"],
            dram_byte_per_s=rates["dram_byte_per_s"],
            source=f"measured: {source}",
        )
    if not isinstance(base_name, str) or base_name.strip().lower() not in GPU_SPECS:
        raise ConfigError(
            file, "gpu", "unknown GPU", value=base_name, show_value=True, allowed=GPU_SPECS
        )
    base = GPU_SPECS[base_name.strip().lower()]
    taken = [key for key in _RATE_KEYS if key in rates]
    note = f"measured ({', '.join(taken)}): {source}"
    if len(taken) < len(_RATE_KEYS):
        note += f"; the rest from the datasheet: {base.source}"
    return replace(
        base,
        fp32_op_per_s=rates.get("fp32_op_per_s", base.fp32_op_per_s),
        fp64_op_per_s=rates.get("fp64_op_per_s", base.fp64_op_per_s),
        int32_op_per_s=rates.get("int32_op_per_s", base.int32_op_per_s),
        dram_byte_per_s=rates.get("dram_byte_per_s", base.dram_byte_per_s),
        source=note,
    )


def _read_mapping(path: Path) -> dict[str, Any]:
    if path.suffix.lower() == ".json":
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(str(path), "", "file not found") from None
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(str(path), "", f"cannot read as JSON: {error}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(str(path), "", "must hold a JSON object of ceilings")
        return loaded
    return read_toml(path)
