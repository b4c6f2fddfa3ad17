"""rocprof (ROCm's profiler, v1 interface, also accepted by rocprofv2): the counter input file,
the command, and the parser of its results CSV (which also reads rocprofv3's
counter_collection.csv).

Counters are per wavefront: a VALU instruction counts once for a whole wave whatever the number
of active lanes. Thread-level operations are therefore estimated as count x wave size, an upper
bound that is exact when every lane is active (rocprof has no per-lane counter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.ncu import kernel_base_name
from lassi_hpc.roofline.records import KernelProfile
from lassi_hpc.roofline.tool_csv import csv_rows_from, has_csv_table, scaled_number

SP_COUNTERS = {"SQ_INSTS_VALU_ADD_F32": 1, "SQ_INSTS_VALU_MUL_F32": 1, "SQ_INSTS_VALU_FMA_F32": 2}
DP_COUNTERS = {"SQ_INSTS_VALU_ADD_F64": 1, "SQ_INSTS_VALU_MUL_F64": 1, "SQ_INSTS_VALU_FMA_F64": 2}
INT_COUNTERS = ("SQ_INSTS_VALU_INT32", "SQ_INSTS_VALU_INT64")
TRAFFIC_COUNTERS = ("FETCH_SIZE", "WRITE_SIZE")  # derived metrics, in kilobytes (1024 bytes)
# One profiling pass per group: a pass holds a few counters only.
COUNTER_PASSES = (tuple(SP_COUNTERS), tuple(DP_COUNTERS), INT_COUNTERS, TRAFFIC_COUNTERS)
INPUT_FILE_NAME = "rocprof_input.txt"
RESULTS_FILE_NAME = "rocprof_results.csv"
_KIB = 1024


def rocprof_input_text() -> str:
    """The `-i` input file: one `pmc:` line per pass of COUNTER_PASSES."""
    return "".join("pmc: " + " ".join(counters) + "\n" for counters in COUNTER_PASSES)


def rocprof_command(binary: str, args: Sequence[str], rocprof: str = "rocprof") -> tuple[str, ...]:
    """rocprof with the input file and results file named relative to the working directory,
    with timestamps (for kernel durations)."""
    return (
        rocprof,
        "-i", INPUT_FILE_NAME,
        "--timestamp", "on",
        "-o", RESULTS_FILE_NAME,
        binary,
        *args,
    )  # fmt: skip


def parse_rocprof_csv(
    text: str, device: str, source: str = "rocprof results", default_wave_size: int = 64
) -> list[KernelProfile]:
    """Every dispatch in rocprof's results CSV, in dispatch order.

    Reads rocprof v1's results file (one row per dispatch, `Index` first) and rocprofv3's
    counter_collection.csv (one row per dispatch and counter, `Correlation_Id` first, counters
    in `Counter_Name` / `Counter_Value`). Durations are EndNs - BeginNs (v3: End_Timestamp -
    Start_Timestamp), in ns; operations are counters x the row's `wave_size` (or
    `default_wave_size`: 64 on CDNA GPUs; v3 never prints it), FMA counting 2; DRAM bytes are
    (FETCH_SIZE + WRITE_SIZE) x 1024. `device` names the GPU (the CSV has only an index).
    """
    return parse_rocprof_passes([(text, source)], device, default_wave_size)


def parse_rocprof_passes(
    passes: Sequence[tuple[str, str]], device: str, default_wave_size: int = 64
) -> list[KernelProfile]:
    """Every dispatch of one program profiled in several passes, one results file per pass
    (`passes` holds each file's text and name), in dispatch order.

    rocprofv3 reruns the program for each `pmc:` line of its input file and writes each pass's
    counter_collection.csv on its own; the files are merged by dispatch number, which must name
    the same kernel in every pass. A counter collected in two passes is an error (which value
    would be meant?); a dispatch's duration is that of its fastest pass, the one least slowed by
    counter collection. Otherwise as parse_rocprof_csv.
    """
    if not passes:
        raise RooflineError("no rocprof results file to parse")
    if default_wave_size not in WAVE_SIZES:
        raise RooflineError(f"wave size {default_wave_size} is not one of {WAVE_SIZES}")
    merged: dict[int, dict[str, str]] = {}
    first_source = passes[0][1]
    for number, (text, source) in enumerate(passes):
        if has_csv_table(text, _V3_FIRST_COLUMN):
            dispatches = _v3_dispatches(csv_rows_from(text, _V3_FIRST_COLUMN), source)
        else:
            dispatches = _v1_dispatches(csv_rows_from(text, "Index"), source)
        by_index = {_index(row["Index"], source): row for row in dispatches}
        if len(by_index) != len(dispatches):
            raise RooflineError(f"{source}: a dispatch number appears on two rows")
        if number == 0:
            merged = by_index
            continue
        if set(by_index) != set(merged):
            only = sorted(set(by_index) ^ set(merged))[:5]
            raise RooflineError(
                f"{source}: not the dispatches of {first_source} (dispatches {only} are in one "
                "file only): passes of one program must see the same dispatches"
            )
        for index, row in by_index.items():
            _merge_pass(merged[index], row, f"{source}: dispatch {index}", first_source)
    profiles: list[KernelProfile] = []
    seen: dict[str, int] = {}
    where = first_source if len(passes) == 1 else f"{first_source} (+{len(passes) - 1} passes)"
    for index in sorted(merged):
        profiles.append(_profile(merged[index], device, where, default_wave_size, seen))
    return profiles


WAVE_SIZES = (32, 64)  # RDNA runs wave32 by default, CDNA (MI100, MI200, MI300) wave64
_TIMING_COLUMNS = ("BeginNs", "EndNs")


def _merge_pass(into: dict[str, str], row: dict[str, str], where: str, first: str) -> None:
    """Add one pass's counters of a dispatch to `into` (the same dispatch in earlier passes)."""
    kernel, first_kernel = row.get("KernelName", ""), into.get("KernelName", "")
    if kernel != first_kernel:
        raise RooflineError(
            f"{where} runs {kernel!r}, in {first} {first_kernel!r}: passes of one program must "
            "dispatch the same kernels in the same order"
        )
    for counter in (counter for counters in COUNTER_PASSES for counter in counters):
        if counter in row and counter in into:
            raise RooflineError(f"{where}: counter {counter} is in an earlier pass too")
        if counter in row:
            into[counter] = row[counter]
    if _duration_ns(row) < _duration_ns(into):
        for column in _TIMING_COLUMNS:
            into[column] = row[column]


def _duration_ns(row: dict[str, str]) -> float:
    try:
        return float(row["EndNs"]) - float(row["BeginNs"])
    except (KeyError, ValueError):
        return math.inf


_V3_FIRST_COLUMN = "Correlation_Id"
# rocprofv3 column -> the rocprof v1 column of the same meaning
_V3_TO_V1 = {
    "Dispatch_Id": "Index",
    "Kernel_Name": "KernelName",
    "Grid_Size": "grd",
    "Workgroup_Size": "wgr",
    "Start_Timestamp": "BeginNs",
    "End_Timestamp": "EndNs",
}


def _v1_dispatches(rows: list[list[str]], source: str) -> list[dict[str, str]]:
    header = rows[0]
    dispatches: list[dict[str, str]] = []
    for line_number, row in enumerate(rows[1:], start=2):
        if not row:
            continue  # rocprof writes a blank line under the header
        if len(row) != len(header):
            raise RooflineError(
                f"{source}: CSV line {line_number} has {len(row)} fields, the header {len(header)}"
            )
        dispatches.append(dict(zip(header, row, strict=True)))
    return dispatches


def _v3_dispatches(rows: list[list[str]], source: str) -> list[dict[str, str]]:
    header = rows[0]
    for needed in ("Dispatch_Id", "Counter_Name", "Counter_Value"):
        if needed not in header:
            raise RooflineError(f"{source}: rocprofv3 CSV has no {needed} column")
    by_dispatch: dict[str, dict[str, str]] = {}
    for line_number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise RooflineError(
                f"{source}: CSV line {line_number} has {len(row)} fields, the header {len(header)}"
            )
        fields = dict(zip(header, row, strict=True))
        dispatch = by_dispatch.setdefault(
            fields["Dispatch_Id"],
            {v1: fields.get(v3, "") for v3, v1 in _V3_TO_V1.items()},
        )
        counter = fields["Counter_Name"]
        if counter in dispatch:
            # each profiling pass reruns the program and numbers dispatches from 1 again
            raise RooflineError(
                f"{source}: CSV line {line_number}: counter {counter} appears twice for "
                f"dispatch {fields['Dispatch_Id']} (several passes in one file? give each "
                "pass's counter_collection.csv as a file of its own)"
            )
        dispatch[counter] = fields["Counter_Value"]
    return list(by_dispatch.values())


def _profile(
    columns: dict[str, str],
    device: str,
    source: str,
    default_wave_size: int,
    seen: dict[str, int],
) -> KernelProfile:
    kernel = kernel_base_name(columns.get("KernelName", ""))
    where = f"{source}: dispatch {columns['Index']} ({kernel})"

    def number(name: str) -> float:
        if name not in columns:
            raise RooflineError(f"{where}: column {name} is missing (was it collected?)")
        return scaled_number(columns[name], "", f"{where}: {name}")

    wave = columns.get("wave_size", "").strip()
    lanes = int(number("wave_size")) if wave else default_wave_size
    seen[kernel] = seen.get(kernel, 0) + 1
    return KernelProfile(
        kernel=kernel,
        invocation=seen[kernel],
        duration_s=(number("EndNs") - number("BeginNs")) * 1e-9,
        sp_ops=round(lanes * sum(w * number(c) for c, w in SP_COUNTERS.items())),
        dp_ops=round(lanes * sum(w * number(c) for c, w in DP_COUNTERS.items())),
        int_ops=round(lanes * sum(number(c) for c in INT_COUNTERS)),
        dram_bytes=round(_KIB * sum(number(c) for c in TRAFFIC_COUNTERS)),
        device=device,
        block_size=columns.get("wgr", ""),
        grid_size=columns.get("grd", ""),
    )


def _index(text: str, source: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RooflineError(f"{source}: dispatch Index {text!r} is not an integer") from None
