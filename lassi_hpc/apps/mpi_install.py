"""Where this host's MPI installation lives, so that sandboxed builds and runs can reach it.

The PyPI `mpich` wheel puts mpicxx and mpiexec beside the Python executable (a venv's bin/), and
binaries built with its mpicxx find libmpi through a RUNPATH into the same prefix. A sandboxed
command runs as an unprivileged uid that may be unable to traverse the path to that prefix (a
pyenv under a 0700 /root), so MPI apps get the prefix bound read-only into the sandbox (bwrap) and
its bin/ first on PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def find_mpi_tool(name: str) -> str | None:
    """`name` (mpicxx, mpiexec, srun, ...) beside this Python, else on PATH; None if neither.

    Beside this Python first: on PATH a pyenv shim may come first, a script that the sandbox's
    uid cannot run.
    """
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def install_prefix(tool: str) -> Path:
    """The installation prefix of an MPI tool: the parent of the bin/ it is in (links resolved)."""
    return Path(os.path.realpath(tool)).parent.parent


def mpi_bin_dir(tool: str = "mpicxx") -> Path | None:
    """The directory of `tool` (links resolved), to put first on a sandboxed build's PATH."""
    found = find_mpi_tool(tool)
    return Path(os.path.realpath(found)).parent if found else None


def mpi_read_only_paths(*tools: str) -> tuple[Path, ...]:
    """The installation prefixes of `tools` (absolute paths or names), each once, in order."""
    prefixes: list[Path] = []
    for tool in tools:
        found = tool if "/" in tool else find_mpi_tool(tool)
        if found is None or not Path(found).exists():
            continue
        prefix = install_prefix(found)
        # A tool in /bin would name "/" itself: bound again, it would cover the sandbox's own
        # /tmp and /dev mounts.
        if prefix != Path("/") and prefix not in prefixes:
            prefixes.append(prefix)
    return tuple(prefixes)
