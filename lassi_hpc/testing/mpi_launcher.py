"""Where the MPI launcher of this Python lives, for tests and benchmarks of the MPI sampler."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def find_mpiexec() -> str | None:
    """mpiexec beside this Python (a venv's bin/, where the `mpich` wheel puts it), else on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")
