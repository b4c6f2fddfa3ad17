"""For tests that run programs in the sandbox: a scratch root the run's uid can reach, and each
isolation layer skipped where this machine does not offer it."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lassi_hpc.errors import ConfigError
from lassi_hpc.sandbox.detect import host_capabilities, resolve_mode


@contextlib.contextmanager
def traversable_scratch_root() -> Iterator[Path]:
    """A scratch root under /tmp that others may traverse (mode 0755), removed afterwards.

    As root without bwrap a run's uid must reach its workdir by path; pytest's own tmp_path lies
    under the private /tmp/pytest-of-root (the case test_sandbox_run's test_private_parent_*
    covers).
    """
    root = Path(tempfile.mkdtemp(prefix="lassi-scratch-test-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def require_mode(mode: str) -> str:
    """`mode` (an isolation layer), or a skip naming why this machine does not offer it."""
    try:
        resolve_mode(mode, host_capabilities())
    except ConfigError as exc:
        pytest.skip(str(exc))
    return mode
