"""Fresh scratch copies of an application's files, one per build or run, so runs cannot meet."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from lassi_hpc.errors import AppError

_UNSAFE_LABEL_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def _checked_relative(name: str, src_dir: Path) -> PurePosixPath:
    """`name` as a safe relative path, or AppError saying why it is refused."""
    path = PurePosixPath(name)
    if not name or name in (".", "./"):
        raise AppError(f"scratch copy of {src_dir}: empty file name in the file list")
    if path.is_absolute():
        raise AppError(
            f"scratch copy of {src_dir}: {name!r} is an absolute path; "
            "files must be given relative to the application directory"
        )
    if ".." in path.parts:
        raise AppError(
            f"scratch copy of {src_dir}: {name!r} contains '..'; "
            "files must stay inside the application directory"
        )
    return path


def make_scratch_copy(src_dir: Path, files: Sequence[str], scratch_root: Path, label: str) -> Path:
    """Copy exactly `files` (paths relative to `src_dir`, subdirectories allowed) into a new,
    uniquely named directory under `scratch_root` (created if missing) and return its path.

    The new directory is private (mode 0700, as tempfile.mkdtemp makes it); run_sandboxed hands it
    to the run's uid when it drops privileges. File modes are preserved (an executable stays
    executable). Raises AppError for an absolute
    path, a path with '..', a missing file, a directory, or a file whose real location (after
    symbolic links) lies outside `src_dir`; nothing is left behind in that case.
    """
    src_root = Path(src_dir).resolve()
    if not src_root.is_dir():
        raise AppError(f"scratch copy: source directory {src_dir} does not exist")
    relative = [_checked_relative(name, src_root) for name in files]
    for rel in relative:
        source = src_root / rel
        if not source.exists():
            raise AppError(f"scratch copy of {src_root}: {str(rel)!r} does not exist")
        if not source.resolve().is_relative_to(src_root):
            raise AppError(
                f"scratch copy of {src_root}: {str(rel)!r} resolves to {source.resolve()}, "
                "outside the application directory"
            )
        if not source.is_file():
            raise AppError(f"scratch copy of {src_root}: {str(rel)!r} is not a regular file")

    root = Path(scratch_root)
    root.mkdir(parents=True, exist_ok=True)
    prefix = _UNSAFE_LABEL_CHARS.sub("_", label).strip("._") or "run"
    target = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=root)).resolve()
    try:
        for rel in relative:
            destination = target / rel
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src_root / rel, destination)
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise AppError(f"scratch copy of {src_root} into {target} failed: {exc}") from exc
    return target
