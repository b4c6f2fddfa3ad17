"""The host's name and CPU model, for naming CPU devices ("<hostname>:cpu")."""

from __future__ import annotations

import platform
import socket
from pathlib import Path

DEFAULT_CPUINFO_PATH = Path("/proc/cpuinfo")

# x86 kernels write "model name"; arm64 and others use one of the later keys.
_MODEL_KEYS = ("model name", "Model", "Processor", "cpu model", "Hardware")


def host_name() -> str:
    return socket.gethostname()


def cpu_model(cpuinfo_path: Path = DEFAULT_CPUINFO_PATH) -> str:
    """The CPU model string from /proc/cpuinfo, or a fallback when the file says nothing useful."""
    try:
        text = cpuinfo_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip():
            fields.setdefault(key.strip(), value.strip())
    for key in _MODEL_KEYS:
        if key in fields:
            return fields[key]
    return platform.processor() or "unknown CPU"
