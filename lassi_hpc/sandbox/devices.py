"""GPU device nodes that must stay usable inside the sandbox."""

from __future__ import annotations

import glob
import os
import stat
from pathlib import Path

# NVIDIA: /dev/nvidia0.., nvidiactl, nvidia-uvm(-tools), nvidia-modeset, nvidia-caps/.
# AMD ROCm: /dev/kfd plus the DRM render nodes under /dev/dri.
_GPU_DEVICE_GLOBS = ("/dev/nvidia*", "/dev/kfd", "/dev/dri")


def gpu_device_paths() -> list[Path]:
    """The GPU device nodes and device directories present on this host, sorted."""
    found: set[str] = set()
    for pattern in _GPU_DEVICE_GLOBS:
        found.update(glob.glob(pattern))
    return [Path(p) for p in sorted(found)]


def gpu_device_groups() -> list[int]:
    """Non-root groups that own group-accessible GPU device nodes (e.g. render, video).

    A run dropped to an unprivileged uid keeps these groups so that /dev/kfd and /dev/dri/renderD*
    (mode 0660 on most distributions) stay usable. Group 0 is never granted: it would also grant
    whatever the root group may write.
    """
    groups: set[int] = set()
    for path in gpu_device_paths():
        candidates = [path]
        if path.is_dir():
            candidates.extend(path.iterdir())
        for node in candidates:
            try:
                info = os.stat(node)
            except OSError:
                continue
            if (
                stat.S_ISCHR(info.st_mode)
                and info.st_gid != 0
                and info.st_mode & (stat.S_IRGRP | stat.S_IWGRP)
            ):
                groups.add(info.st_gid)
    return sorted(groups)
