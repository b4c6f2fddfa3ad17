"""Whether a profiler can read the GPU's performance counters, and what to say when it cannot.

NVIDIA drivers keep the counters for administrators by default (`RmProfilingAdminOnly: 1` in
/proc/driver/nvidia/params; root, CAP_SYS_ADMIN, or CAP_PERFMON from driver R565). A sandboxed
run is never one: as root the sandbox drops to a uid of its own with no capabilities. ncu then
prints ERR_NVGPUCTRPERM, which a profile record turns into the one fix that works, an
administrator loading the driver with NVreg_RestrictProfilingToAdminUsers=0.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

NVIDIA_PARAMS = Path("/proc/driver/nvidia/params")
ADMIN_ONLY_KEY = "RmProfilingAdminOnly"
NCU_PERMISSION_ERROR = "ERR_NVGPUCTRPERM"

COUNTERS_ADMIN_ONLY_ADVICE = (
    "the NVIDIA driver keeps GPU performance counters for administrators "
    f"({ADMIN_ONLY_KEY}: 1 in {NVIDIA_PARAMS}) and a sandboxed run never is one (as root it drops "
    "to a uid of its own); an administrator can load the driver with "
    "NVreg_RestrictProfilingToAdminUsers=0 (NVIDIA's ERR_NVGPUCTRPERM page)"
)


def counter_permission_refusal(tool: str, output: str) -> str:
    """Why `tool` read no counter, when its output says it was refused them; "" otherwise."""
    if tool == "ncu" and NCU_PERMISSION_ERROR in output:
        return f"ncu may not read the GPU's counters ({NCU_PERMISSION_ERROR}): " + (
            COUNTERS_ADMIN_ONLY_ADVICE
        )
    return ""


def nvidia_counters_admin_only(params: Path = NVIDIA_PARAMS) -> bool | None:
    """Whether the loaded NVIDIA driver keeps the counters for administrators; None where
    `params` is missing or does not say (no NVIDIA driver, another OS)."""
    try:
        text = params.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == ADMIN_ONLY_KEY:
            return value.strip() != "0"
    return None


def profiler_lines(
    tools: Sequence[str], search_path: str | None = None, params: Path = NVIDIA_PARAMS
) -> list[str]:
    """`lassi-hpc env`'s lines on the profilers: where each of `tools` is, and for ncu whether
    a sandboxed run may read the counters."""
    lines = []
    for tool in tools:
        found = shutil.which(tool, path=search_path)
        line = f"profiler {tool}: {found or 'not found'}"
        if tool == "ncu" and found:
            admin_only = nvidia_counters_admin_only(params)
            if admin_only is None:
                line += f" (counter access unknown: no {ADMIN_ONLY_KEY} in {params})"
            elif admin_only:
                line += f"; cannot profile in the sandbox: {COUNTERS_ADMIN_ONLY_ADVICE}"
            else:
                line += " (GPU counters open to every user)"
        lines.append(line)
    return lines
