"""Which isolation layers this machine offers, detected once per process and cached.

Detection runs each candidate layer once on `true`, with exactly the command-line shape real runs
use, because a tool being installed says nothing about whether the kernel lets us create namespaces
(containers, AppArmor's unprivileged-userns restriction and `kernel.unprivileged_userns_clone=0` all
disable them) nor whether an older bwrap knows every option we pass.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from lassi_hpc.errors import ConfigError
from lassi_hpc.records import SandboxLimits
from lassi_hpc.sandbox.capabilities import SANDBOX_ENV_VAR, HostCapabilities, IsolationMode
from lassi_hpc.sandbox.isolation import plan_launch
from lassi_hpc.sandbox.uid_lease import SANDBOX_UID_BASE, SANDBOX_UID_COUNT

# Tools are looked up in the caller's PATH and then in the standard system directories, since a
# cluster module environment may put its own PATH first and drop /usr/sbin.
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PROBE_TIMEOUT_S = 20.0
_PROBE_UID = 65534  # nobody: only runs `true`, so sharing it with other processes is harmless


def _which(name: str) -> str:
    search = os.pathsep.join(p for p in (os.environ.get("PATH", ""), _SYSTEM_PATH) if p)
    return shutil.which(name, path=search) or ""


def _probe(argv: list[str], cwd: Path) -> str:
    """Run `argv` once; return "" on success or a one-line reason for failing."""
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"probe failed: {exc}"
    if done.returncode == 0:
        return ""
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return f"probe exited {done.returncode}: {lines[0] if lines else 'no message'}"


def _tool_version(path: str) -> str:
    try:
        done = subprocess.run(
            [path, "--version"], capture_output=True, timeout=_PROBE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode("utf-8", "replace").strip()


def _probe_layer(caps: HostCapabilities, mode: IsolationMode) -> str:
    """Run `true` under `mode` as a real run would; "" when that works, else why not."""
    with tempfile.TemporaryDirectory(prefix="lassi-hpc-sandbox-probe-") as probe_dir:
        workdir = Path(probe_dir).resolve()
        plan = plan_launch(
            [_which("true") or "/bin/true"],
            workdir,
            SandboxLimits(),
            mode,
            caps,
            nproc=1024,
            run_uid=_PROBE_UID if caps.uid_drop else None,
        )
        return _probe(list(plan.argv), workdir)


@functools.cache
def host_capabilities() -> HostCapabilities:
    """Detect the usable layers once per process (thread-safe: a race only repeats the probes)."""
    bwrap = _which("bwrap")
    unshare = _which("unshare")
    caps = HostCapabilities(
        is_root=os.geteuid() == 0,
        sh=_which("sh") or "/bin/sh",
        prlimit=_which("prlimit"),
        setpriv=_which("setpriv"),
        bwrap=bwrap,
        bwrap_version=_tool_version(bwrap) if bwrap else "",
        bwrap_problem="" if bwrap else "not installed (Debian/Ubuntu package bubblewrap)",
        unshare=unshare,
        unshare_problem="" if unshare else "not installed (util-linux)",
    )
    if caps.base_problem:
        return dataclasses.replace(
            caps, bwrap_problem=caps.base_problem, unshare_problem=caps.base_problem
        )
    return dataclasses.replace(
        caps,
        bwrap_problem=caps.bwrap_problem or _probe_layer(caps, IsolationMode.BWRAP),
        unshare_problem=caps.unshare_problem or _probe_layer(caps, IsolationMode.UNSHARE),
    )


def requested_mode(requested: IsolationMode | str | None = None) -> IsolationMode:
    """The mode asked for: the argument, else $LASSI_HPC_SANDBOX, else AUTO.

    Raises ConfigError naming the variable and the allowed values for an unknown mode.
    """
    source = "argument isolation"
    if requested is None:
        requested = os.environ.get(SANDBOX_ENV_VAR, "").strip() or IsolationMode.AUTO
        source = SANDBOX_ENV_VAR
    try:
        return IsolationMode(str(requested).lower())
    except ValueError:
        raise ConfigError(
            "environment" if source == SANDBOX_ENV_VAR else "run_sandboxed()",
            source,
            "unknown sandbox isolation mode",
            value=requested,
            allowed=[m.value for m in IsolationMode],
            show_value=True,
        ) from None


def resolve_mode(requested: IsolationMode | str | None, caps: HostCapabilities) -> IsolationMode:
    """The concrete mode to use (never AUTO); ConfigError when a forced layer is not usable."""
    mode = requested_mode(requested)
    if mode is IsolationMode.AUTO:
        if caps.bwrap_usable:
            return IsolationMode.BWRAP
        if caps.unshare_usable:
            return IsolationMode.UNSHARE
        return IsolationMode.RLIMITS
    problem = {
        IsolationMode.BWRAP: caps.bwrap_problem,
        IsolationMode.UNSHARE: caps.unshare_problem,
        IsolationMode.RLIMITS: "",
    }[mode]
    if problem:
        raise ConfigError(
            "environment",
            SANDBOX_ENV_VAR,
            f"sandbox layer {mode.value!r} was requested but is not usable here: {problem}",
        )
    return mode


def isolation_report() -> str:
    """One line: the layer runs will use, which layers are available, and why the others are not.

    E.g. "bwrap as root; available: bwrap (bubblewrap 0.8.0), unshare, uid-drop (uids ...), rlimits;
    unavailable: none". Callers add their own "sandbox:" label.
    """
    caps = host_capabilities()
    available: list[str] = []
    missing: list[str] = []
    version = f" ({caps.bwrap_version})" if caps.bwrap_version else ""
    if caps.bwrap_usable:
        available.append(f"bwrap{version}")
    else:
        missing.append(f"bwrap: {caps.bwrap_problem}")
    if caps.unshare_usable:
        available.append("unshare")
    else:
        missing.append(f"unshare: {caps.unshare_problem}")
    if caps.uid_drop:
        last = SANDBOX_UID_BASE + SANDBOX_UID_COUNT - 1
        available.append(f"uid-drop (uids {SANDBOX_UID_BASE}-{last})")
    elif caps.is_root:
        missing.append("uid-drop: setpriv (util-linux) not found")
    else:
        missing.append("uid-drop: not root (runs keep your uid; see docs/sandbox.md)")
    if caps.base_problem:
        missing.append(f"rlimits: {caps.base_problem}")
    else:
        available.append("rlimits")

    try:
        chosen = resolve_mode(None, caps).value
    except ConfigError as exc:
        chosen = f"none ({exc})"
    who = "root" if caps.is_root else f"uid {os.geteuid()}"
    return (
        f"{chosen} as {who}; available: {', '.join(available) or 'none'}; "
        f"unavailable: {'; '.join(missing) or 'none'}"
    )
