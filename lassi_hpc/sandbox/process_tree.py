"""Kill every process a sandboxed command started, whichever layers are in force.

Which mechanism reaches the whole tree depends on the layer:
- a pid namespace (bwrap, unshare): killing our direct child kills the namespace's init, and the
  kernel then kills everything else in the namespace;
- a per-run uid (root): `kill(-1, SIGKILL)` sent *as that uid* reaches every process of the uid,
  including ones that called setsid() or were re-parented to init; the kernel walks the task list
  under a lock that also blocks fork(), so no child forked meanwhile escapes;
- otherwise (non-root, no namespaces): the process group and session of the command, its
  descendants, and any process still carrying the run's marker in its environment. A process that
  daemonizes *and* clears its environment escapes this last case; see docs/sandbox.md.
"""

from __future__ import annotations

import contextlib
import os
import subprocess

import psutil

from lassi_hpc.sandbox.capabilities import HostCapabilities

RUN_MARKER_ENV = "LASSI_HPC_SANDBOX_RUN"
"""Environment variable set to a per-run token in every sandboxed command's environment."""

_KILL_HELPER_TIMEOUT_S = 30.0


def descendants(pid: int) -> list[psutil.Process]:
    """The current descendants of `pid` (empty if it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def kill_processes(processes: list[psutil.Process]) -> None:
    """SIGKILL each of `processes` that still exists (psutil checks the pid was not reused)."""
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def kill_uid(caps: HostCapabilities, uid: int) -> None:
    """SIGKILL every process running as `uid`, by sending kill(-1) from a process of that uid."""
    subprocess.run(
        [
            caps.setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            caps.sh,
            "-c",
            "kill -9 -1 2>/dev/null; exit 0",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin"},
        cwd="/",
        timeout=_KILL_HELPER_TIMEOUT_S,
        check=False,
    )


def kill_marked(token: str) -> None:
    """SIGKILL our own uid's processes whose environment carries RUN_MARKER_ENV=token."""
    me = os.getuid()
    for proc in psutil.process_iter(["uids"]):
        uids = proc.info["uids"]
        if uids is None or uids.real != me or proc.pid == os.getpid():
            continue
        with contextlib.suppress(psutil.Error):
            if proc.environ().get(RUN_MARKER_ENV) == token:
                proc.kill()
