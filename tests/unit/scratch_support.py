"""A scratch root that a run's uid can reach, for tests that run programs in the sandbox."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


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
