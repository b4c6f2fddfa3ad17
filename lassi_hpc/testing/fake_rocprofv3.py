"""A FAKE `rocprofv3` for tests without ROCm or an AMD GPU: a shell script that writes canned
counter_collection.csv files, one per pass, where rocprofv3 would, and never runs the program.

FAKE: nothing here profiles anything. The layout it writes (`<output dir>/pass_<n>/<host>/<pid>_
counter_collection.csv`, one pass per `pmc:` line of the input file) is the one rocprofv3's
documentation shows; the files' contents are whatever the test gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lassi_hpc.roofline.rocprof import COUNTER_PASSES

FAKE_ROCPROFV3_SCRIPT = """#!/bin/sh
# FAKE rocprofv3 (lassi_hpc.testing.fake_rocprofv3): checks that it is called as
# `rocprofv3 -i INPUT -d DIR ...`, then copies pass_<n>.csv from its own directory to
# DIR/pass_<n>/fakehost/4242_counter_collection.csv for each pmc: line of INPUT.
[ "$1" = -i ] && [ "$3" = -d ] || { echo "FAKE rocprofv3: unexpected arguments $*" >&2; exit 2; }
passes=$(grep -c '^pmc:' "$2") || { echo "FAKE rocprofv3: no pmc: line in $2" >&2; exit 2; }
n=1
while [ "$n" -le "$passes" ]; do
  mkdir -p "$4/pass_$n/fakehost"
  cp "$(dirname "$0")/pass_$n.csv" "$4/pass_$n/fakehost/4242_counter_collection.csv" || exit 2
  n=$((n + 1))
done
"""


def split_into_passes(counter_collection: str) -> list[str]:
    """One long-format counter_collection.csv holding every counter, cut into the files
    rocprofv3's passes would write: one per pass of COUNTER_PASSES (a `pmc:` line of the input
    file), each with the header and the rows of that pass's counters."""
    header, *rows = counter_collection.splitlines()
    return [
        "\n".join([header, *(row for row in rows if any(f'"{c}"' in row for c in counters))]) + "\n"
        for counters in COUNTER_PASSES
    ]


def install_fake_rocprofv3(bin_dir: Path, pass_texts: Sequence[str]) -> Path:
    """Write the fake `rocprofv3` and its canned pass files into `bin_dir` (created, and left
    traversable for a sandboxed run's uid); returns the script's path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    bin_dir.chmod(0o755)
    for number, text in enumerate(pass_texts, start=1):
        canned = bin_dir / f"pass_{number}.csv"
        canned.write_text(text, encoding="utf-8")
        canned.chmod(0o644)
    script = bin_dir / "rocprofv3"
    script.write_text(FAKE_ROCPROFV3_SCRIPT, encoding="utf-8")
    script.chmod(0o755)
    return script
