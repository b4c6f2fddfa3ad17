"""Hand a scratch directory to a run's uid and back, and check that the uid can reach it."""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from pathlib import Path


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give `root` and everything below it to uid:gid, without following symbolic links.

    Files with more than one hard link are skipped: a previous run may have linked a file from
    elsewhere on the same filesystem into the scratch copy (possible where fs.protected_hardlinks
    is 0), and chowning it would hand that outside file to the next run.
    """
    os.chown(root, uid, gid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode):
                    continue
                if not stat.S_ISDIR(info.st_mode) and info.st_nlink > 1:
                    continue
                os.chown(path, uid, gid, follow_symlinks=False)
            except FileNotFoundError:
                continue


def can_search(path: Path, uid: int, gids: Collection[int]) -> bool:
    """Whether uid (with groups `gids`, no capabilities) may traverse the directory `path`.

    Only the classic permission bits are read; an ACL that grants more is ignored, which errs on
    the side of treating the directory as unreachable.
    """
    info = os.stat(path)
    if info.st_uid == uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid in gids:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def first_unsearchable_ancestor(path: Path, uid: int, gids: Collection[int]) -> Path | None:
    """The topmost proper ancestor of absolute `path` that uid cannot traverse; None if none."""
    for ancestor in reversed(path.parents):
        if not can_search(ancestor, uid, gids):
            return ancestor
    return None
