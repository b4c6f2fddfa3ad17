"""rocprof (ROCm's profiler, v1 interface, also accepted by rocprofv2): the counter input file,
the command, and the parser of its results CSV.

Counters are per wavefront: a VALU instruction counts once for a whole wave whatever the number
of active lanes. Thread-level operations are therefore estimated as count x wave size, an upper
bound that is exact when every lane is active (rocprof has no per-lane counter).
"""

from __future__ import annotations

from collections.abc import Sequence

from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.ncu import kernel_base_name
from lassi_hpc.roofline.records import KernelProfile
from lassi_hpc.roofline.tool_csv import csv_rows_from, scaled_number

SP_COUNTERS = {"SQ_INSTS_VALU_ADD_F32": 1, "SQ_INSTS_VALU_MUL_F32": 1, "SQ_INSTS_VALU_FMA_F32": 2}
DP_COUNTERS = {"SQ_INSTS_VALU_ADD_F64": 1, "SQ_INSTS_VALU_MUL_F64": 1, "SQ_INSTS_VALU_FMA_F64": 2}
INT_COUNTERS = ("SQ_INSTS_VALU_INT32", "SQ_INSTS_VALU_INT64")
TRAFFIC_COUNTERS = ("FETCH_SIZE", "WRITE_SIZE")  # derived metrics, in kilobytes (1024 bytes)
INPUT_FILE_NAME = "rocprof_input.txt"
RESULTS_FILE_NAME = "rocprof_results.csv"
_KIB = 1024


def rocprof_input_text() -> str:
    """The `-i` input file: one `pmc:` line per pass (a pass holds a few counters only)."""
    passes = (tuple(SP_COUNTERS), tuple(DP_COUNTERS), INT_COUNTERS, TRAFFIC_COUNTERS)
    return "".join("pmc: " + " ".join(counters) + "\n" for counters in passes)


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
    """Every dispatch in rocprof's results CSV, in dispatch (Index) order.

    Durations are EndNs - BeginNs; operations are counters x the row's `wave_size` (or
    `default_wave_size`: 64 on CDNA GPUs), FMA counting 2; DRAM bytes are (FETCH_SIZE +
    WRITE_SIZE) x 1024. `device` names the GPU (the CSV has only an index).
    """
    rows = csv_rows_from(text, "Index")
    header = rows[0]
    profiles: list[KernelProfile] = []
    seen: dict[str, int] = {}
    body = [(number, row) for number, row in enumerate(rows[1:], start=2) if row]
    for line_number, row in sorted(body, key=lambda item: _index(item[1][0], source)):
        if len(row) != len(header):
            raise RooflineError(
                f"{source}: CSV line {line_number} has {len(row)} fields, the header {len(header)}"
            )
        columns = dict(zip(header, row, strict=True))
        kernel = kernel_base_name(columns.get("KernelName", ""))
        where = f"{source}: dispatch {columns['Index']} ({kernel})"

        def number(name: str, where: str = where, columns: dict[str, str] = columns) -> float:
            if name not in columns:
                raise RooflineError(f"{where}: column {name} is missing (was it collected?)")
            return scaled_number(columns[name], "", f"{where}: {name}")

        wave = columns.get("wave_size", "").strip()
        lanes = int(number("wave_size")) if wave else default_wave_size
        seen[kernel] = seen.get(kernel, 0) + 1
        profiles.append(
            KernelProfile(
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
        )
    return profiles


def _index(text: str, source: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RooflineError(f"{source}: dispatch Index {text!r} is not an integer") from None
