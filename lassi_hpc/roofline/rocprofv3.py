"""rocprofv3 (ROCm 6.2 and later, rocprofiler-sdk): the command, and finding the counter files it
writes.

rocprofv3 reads the same `pmc:` input file as rocprof v1 and reruns the program once per line,
writing each pass's counter_collection.csv on its own. Where those files land under the output
directory (host name, process id, `pass_N`) is not the same in every release, so they are found
by name, not by path. Direct CSV output is deprecated in favour of the rocpd database; when only
a database is there, the error says how to convert it. Parsing and merging the passes is
rocprof.parse_rocprof_passes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.rocprof import INPUT_FILE_NAME

OUTPUT_DIR_NAME = "rocprofv3-out"
COUNTER_FILE_SUFFIX = "counter_collection.csv"
DATABASE_SUFFIX = "_results.db"
_PASS_NUMBER = re.compile(r"pass_(\d+)")
_FILES_NAMED_IN_ERRORS = 8


def rocprofv3_command(
    binary: str, args: Sequence[str], rocprofv3: str = "rocprofv3"
) -> tuple[str, ...]:
    """rocprofv3 with the input file and an output directory relative to the working directory,
    asking for CSV; the program follows `--`."""
    return (
        rocprofv3,
        "-i", INPUT_FILE_NAME,
        "-d", OUTPUT_DIR_NAME,
        "--output-format", "csv",
        "--",
        binary,
        *args,
    )  # fmt: skip


def counter_collection_files(directory: Path) -> list[Path]:
    """Every `*counter_collection.csv` under `directory`, in pass order (pass_2 before pass_10,
    then by path). RooflineError when there is none, naming what is there instead."""
    if not directory.is_dir():
        raise RooflineError(f"rocprofv3 wrote no output directory {directory}")
    found = [path for path in directory.rglob(f"*{COUNTER_FILE_SUFFIX}") if path.is_file()]
    if found:
        return sorted(found, key=_pass_order)
    present = sorted(p.relative_to(directory) for p in directory.rglob("*") if p.is_file())
    databases = [name for name in present if str(name).endswith(DATABASE_SUFFIX)]
    if databases:
        raise RooflineError(
            f"rocprofv3 wrote a rocpd database ({directory / databases[0]}) and no CSV: convert "
            "it with `rocpd convert -i FILE --output-format csv` and label the "
            "counter_collection.csv files with `lassi-hpc roofline label --tool rocprofv3`"
        )
    shown = ", ".join(str(name) for name in present[:_FILES_NAMED_IN_ERRORS]) or "nothing"
    raise RooflineError(f"rocprofv3 wrote no *{COUNTER_FILE_SUFFIX} under {directory} ({shown})")


def read_counter_collections(directory: Path) -> list[tuple[str, str]]:
    """(text, path) of each counter_collection_files(directory), ready for
    parse_rocprof_passes."""
    texts = []
    for path in counter_collection_files(directory):
        try:
            texts.append((path.read_text(encoding="utf-8"), str(path)))
        except OSError as error:
            raise RooflineError(f"cannot read {path}: {error.strerror}") from None
    return texts


def _pass_order(path: Path) -> tuple[int, str]:
    match = _PASS_NUMBER.search(str(path))
    return (int(match.group(1)) if match else 0, str(path))
