"""rocprofv3 pass files for tests, cut from the hand-written
tests/data/roofline/rocprofv3_counter_collection.csv (NOT captured output; see its README): one
file per `pmc:` line of the input file lassi_hpc gives rocprof."""

from __future__ import annotations

from pathlib import Path

from lassi_hpc.testing.fake_rocprofv3 import split_into_passes

DATA = Path(__file__).resolve().parents[1] / "data" / "roofline"
SINGLE_FILE = (DATA / "rocprofv3_counter_collection.csv").read_text()
START_NS, END_NS = "1569140249026000", "1569140249046000"  # the file's one dispatch: 20 us


def pass_files(duration_ns: dict[int, int] | None = None) -> list[tuple[str, str]]:
    """(text, name) per pass; `duration_ns` gives some passes (numbered from 0) another
    duration for the dispatch."""
    durations = duration_ns or {}
    files = []
    for number, text in enumerate(split_into_passes(SINGLE_FILE)):
        end_ns = str(int(START_NS) + durations[number]) if number in durations else END_NS
        files.append((text.replace(END_NS, end_ns), f"pass_{number + 1}.csv"))
    return files
