"""Reading the CSV that profilers print: numbers with thousands separators, units to scale."""

from __future__ import annotations

import csv
import io
import re

from lassi_hpc.roofline.errors import RooflineError

_SCALES: dict[str, float] = {
    "": 1.0,
    "inst": 1.0,
    "byte": 1.0,
    "kbyte": 1e3,
    "mbyte": 1e6,
    "gbyte": 1e9,
    "tbyte": 1e12,
    "nsecond": 1e-9,
    "usecond": 1e-6,
    "msecond": 1e-3,
    "second": 1.0,
    # Nsight Compute 2025 prints time units abbreviated (captured raw page, see
    # tests/data/roofline/README.md); older versions spell them out as above.
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
}
_NUMBER_RE = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d*)?([eE][+-]?\d+)?$")


def scaled_number(text: str, unit: str, where: str) -> float:
    """`text` (e.g. "12,582,912" or "1.5e3") times the scale of `unit` (e.g. "Kbyte": 1000),
    in base units (bytes, seconds, counts). RooflineError naming `where` otherwise."""
    cleaned = text.strip()
    if cleaned.lower() == "n/a":
        raise RooflineError(f"{where}: the profiler reported n/a (not available on this GPU)")
    if not _NUMBER_RE.match(cleaned):
        raise RooflineError(f"{where}: {text!r} is not a number")
    scale = _SCALES.get(unit.strip().lower())
    if scale is None:
        raise RooflineError(
            f"{where}: unit {unit!r} is not known; must be one of: "
            + ", ".join(repr(u) for u in _SCALES)
        )
    return float(cleaned.replace(",", "")) * scale


def has_csv_table(text: str, first_column: str) -> bool:
    """Whether some line of `text` starts a CSV table whose first field is `first_column`."""
    return _table_start(text.splitlines(), first_column) is not None


def csv_rows_from(text: str, first_column: str) -> list[list[str]]:
    """The CSV table in `text` that starts at the first line whose first field is
    `first_column` (profilers print log lines and the program's output before it)."""
    lines = text.splitlines()
    start = _table_start(lines, first_column)
    if start is None:
        raise RooflineError(f"no CSV table with a {first_column!r} column found in the output")
    return list(csv.reader(io.StringIO("\n".join(lines[start:]))))


def _table_start(lines: list[str], first_column: str) -> int | None:
    quoted = f'"{first_column}",'
    bare = f"{first_column},"
    for index, line in enumerate(lines):
        if line.startswith((quoted, bare)):
            return index
    return None
