"""A driver killed (SIGKILL) in the middle of writing a record loses only that record."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import h5py
import pytest
from test_store_support import bulky_baseline, failed_build_baseline, measured_baseline, provenance

import lassi_hpc
from lassi_hpc.store import ResultsReader, ResultsWriter

REPO_ROOT = Path(lassi_hpc.__file__).resolve().parents[1]
TESTS_UNIT = Path(__file__).resolve().parent

# Writes a new baseline ("third"), then replaces it again and again, until killed; one write takes
# a few tenths of a second, so a kill lands inside a write far more often than between two.
CHILD = """
import sys
from lassi_hpc.store import ResultsWriter
from test_store_support import bulky_baseline
record = bulky_baseline("third")
writer = ResultsWriter.open_existing(sys.argv[1])
print("writing", flush=True)
while True:
    writer.write_baseline(record)
"""


def read_everything(path: Path) -> int:
    """Read every dataset and attribute with plain h5py; returns how many objects were read."""
    count = 0

    def visit(name: str, obj: Any) -> None:
        nonlocal count
        assert not name.rsplit("/", 1)[-1].startswith("."), f"staging group visible: {name}"
        if isinstance(obj, h5py.Dataset):
            obj[()]
        for key in obj.attrs:
            obj.attrs[key]
        count += 1

    with h5py.File(path, "r") as file:
        file.visititems(visit)
    return count


@pytest.mark.slow
@pytest.mark.parametrize("delay_s", [0.02, 0.11, 0.23, 0.37, 0.61])
def test_killed_writer_loses_only_the_record_in_flight(tmp_path: Path, delay_s: float) -> None:
    path = tmp_path / "results.h5"
    first, second = measured_baseline(), failed_build_baseline()
    with ResultsWriter.create(path, "demo-campaign", provenance()) as writer:
        writer.write_baseline(first)
        writer.write_baseline(second)

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(TESTS_UNIT)]))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"writing\n", child.stderr
        time.sleep(delay_s)
        assert child.poll() is None, "the writer ended before it was killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
        assert child.stdout is not None and child.stderr is not None
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    assert read_everything(path) > 0
    with ResultsReader(path) as reader:
        assert reader.read_baseline("jacobi", "cuda") == first
        assert reader.read_baseline("lulesh", "cuda") == second
        apps = [row.app for row in reader.baselines()]
        # The record in flight is either absent or complete, never half there.
        assert apps in (["jacobi", "lulesh"], ["jacobi", "lulesh", "third"])
        if "third" in apps:
            assert reader.read_baseline("third", "cuda") == bulky_baseline("third")
    # The campaign can resume: the file opens for writing and takes new records.
    with ResultsWriter.open_existing(path) as writer:
        writer.write_baseline(measured_baseline("fourth"))
    with ResultsReader(path) as reader:
        assert reader.read_baseline("fourth", "cuda") == measured_baseline("fourth")
        assert reader.read_baseline("jacobi", "cuda") == first
