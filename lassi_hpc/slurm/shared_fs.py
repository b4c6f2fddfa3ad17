"""Is a path on a filesystem that every node of the cluster sees? A best guess from /proc/mounts.

Compute nodes write Parsl's block scripts and logs, and read the app sources; the driver writes
the results file. Those paths must be on a parallel or network filesystem mounted at the same
place on every node. From one host we cannot prove that another host mounts a path, but the
filesystem type says a lot: ext4 or tmpfs is this host's own disk, Lustre or NFS is shared. So
`lassi-hpc check` reports the type and warns (it does not fail: a one-node cluster or a type
not in the list below is legitimate) when a path looks local.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MOUNTS_FILE = Path("/proc/mounts")

# Filesystem types (as /proc/mounts names them) that are shared between hosts.
SHARED_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "lustre",
        "gpfs",
        "beegfs",
        "fhgfs",
        "ceph",
        "cephfs",
        "glusterfs",
        "fuse.glusterfs",
        "panfs",
        "wekafs",
        "orangefs",
        "pvfs2",
        "cifs",
        "smb3",
        "fuse.juicefs",
        "fuse.sshfs",
    }
)


@dataclass(frozen=True)
class Mount:
    mount_point: Path
    fs_type: str


@dataclass(frozen=True)
class SharedPathCheck:
    role: str  # what the path is for, e.g. "Parsl run directory"
    path: Path
    mount: Mount | None  # None when /proc/mounts could not be read
    shared: bool | None  # None = unknown

    def line(self) -> str:
        if self.mount is None:
            return f"?    {self.role} {self.path}: filesystem unknown (no {MOUNTS_FILE})"
        where = f"{self.mount.fs_type} (mounted at {self.mount.mount_point})"
        if self.shared:
            return f"ok   {self.role} {self.path}: on {where}, shared between nodes"
        return (
            f"WARN {self.role} {self.path}: on {where}, which looks local to this host; "
            "compute nodes must see this path"
        )


def parse_mounts(text: str) -> list[Mount]:
    """The (mount point, type) pairs of /proc/mounts text; octal escapes (\\040) decoded."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            mounts.append(Mount(Path(_unescape(fields[1])), fields[2]))
    return mounts


def mount_of(path: Path, mounts: Sequence[Mount]) -> Mount | None:
    """The mount holding `path`: its nearest existing ancestor's, longest mount point first
    (the results directory may not exist before the first run). The last of equal mount points
    wins, as in the kernel's table, where a later mount hides an earlier one."""
    existing = path.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    resolved = Path(os.path.realpath(existing))
    best: Mount | None = None
    for mount in mounts:
        holds = resolved == mount.mount_point or mount.mount_point in resolved.parents
        if holds and (best is None or len(mount.mount_point.parts) >= len(best.mount_point.parts)):
            best = mount
    return best


def check_shared_paths(
    paths: Sequence[tuple[str, Path]], mounts_text: str | None = None
) -> list[SharedPathCheck]:
    """One check per (role, path). `mounts_text` defaults to this host's /proc/mounts."""
    if mounts_text is None:
        try:
            mounts_text = MOUNTS_FILE.read_text(encoding="utf-8")
        except OSError:
            return [SharedPathCheck(role, path, None, None) for role, path in paths]
    mounts = parse_mounts(mounts_text)
    checks = []
    for role, path in paths:
        mount = mount_of(path, mounts)
        shared = None if mount is None else mount.fs_type in SHARED_FILESYSTEMS
        checks.append(SharedPathCheck(role, path, mount, shared))
    return checks


def _unescape(field: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as \040, \011, \012, \134.
    out, index = [], 0
    while index < len(field):
        chunk = field[index : index + 4]
        if len(chunk) == 4 and chunk[0] == "\\" and chunk[1:].isdigit():
            out.append(chr(int(chunk[1:], 8)))
            index += 4
        else:
            out.append(field[index])
            index += 1
    return "".join(out)
