"""The isolation modes and the record of what this machine allows (pure data; see detect.py)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

SANDBOX_ENV_VAR = "LASSI_HPC_SANDBOX"
"""Environment variable that forces an isolation layer: auto, bwrap, unshare or rlimits."""


class IsolationMode(enum.StrEnum):
    """The outermost isolation layer a sandboxed command runs under.

    AUTO picks the strongest one available: BWRAP, then UNSHARE, then RLIMITS. Resource limits
    (rlimits) and, as root, the per-run unprivileged uid are applied under every mode.
    """

    AUTO = "auto"
    BWRAP = "bwrap"
    UNSHARE = "unshare"
    RLIMITS = "rlimits"


@dataclass(frozen=True)
class HostCapabilities:
    """What this machine allows; a `*_problem` string is empty when that layer is usable."""

    is_root: bool
    sh: str  # absolute paths of the tools below; "" when missing
    prlimit: str
    setpriv: str
    bwrap: str
    bwrap_version: str
    bwrap_problem: str
    unshare: str
    unshare_problem: str

    @property
    def bwrap_usable(self) -> bool:
        return not self.bwrap_problem

    @property
    def unshare_usable(self) -> bool:
        return not self.unshare_problem

    @property
    def uid_drop(self) -> bool:
        """True when each run gets its own unprivileged uid (root with setpriv only)."""
        return self.is_root and bool(self.setpriv)

    @property
    def base_problem(self) -> str:
        """Why no sandboxed command can run at all here; empty when the base layer is usable."""
        if not self.prlimit:
            return "prlimit (util-linux) not found; it applies the resource limits"
        if self.is_root and not self.setpriv:
            return "setpriv (util-linux) not found; as root it drops each run to its own uid"
        return ""
