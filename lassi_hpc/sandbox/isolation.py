"""Build the wrapper command line that puts a command inside the chosen isolation layers.

The command is exec'd through a chain of small tools, each doing one thing:

    [bwrap ... | unshare ...] -- sh -c '"$@"; exit $?' sh            namespaces, read-only host
    [setpriv --reuid=UID ... --]                                       root only: per-run uid
    prlimit --cpu --fsize --nproc --core [--as] --                     resource limits
    argv                                                               the untrusted command
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lassi_hpc.records import SandboxLimits
from lassi_hpc.sandbox.capabilities import HostCapabilities, IsolationMode
from lassi_hpc.sandbox.devices import gpu_device_paths
from lassi_hpc.sandbox.limits import prlimit_prefix
from lassi_hpc.sandbox.ownership import can_search

# A shell as the pid namespace's init, with the command as its child:
# - the kernel does not deliver signals with a default action to a namespace's init unless they are
#   forced, so SIGXFSZ and SIGXCPU from the rlimits would be ignored if the command were pid 1;
# - the shell waits with waitpid(-1), so it reaps the command *and* every orphan re-parented to it,
#   accumulating their CPU time, which then reaches our os.wait4 through the wrapper. (bwrap's own
#   init does not get there: bwrap's outer process exits without reaping it, and the rusage of the
#   whole tree is lost; hence --as-pid-1 below.)
# It reports a command killed by signal N as exit status 128 + N.
_PID1_SHELL = ('"$@"; exit $?',)


@dataclass(frozen=True)
class LaunchPlan:
    """The full command line for one sandboxed run and what it puts in force."""

    argv: tuple[str, ...]
    layers: tuple[str, ...]  # e.g. ("bwrap", "netns", "uid-drop", "rlimits")
    exit_status_carries_signal: bool  # a signal N of the command arrives as exit status 128 + N
    pid_namespace: bool  # killing our direct child kills the whole tree
    wrapper_error_prefixes: tuple[str, ...]  # stderr prefixes of the wrappers' own errors

    @property
    def isolation(self) -> str:
        return "+".join(self.layers)


def _setpriv_prefix(
    caps: HostCapabilities, run_uid: int | None, groups: Sequence[int]
) -> list[str]:
    if not caps.setpriv:
        return []
    if run_uid is None:
        # Not root: keep our uid, but setuid binaries (sudo, su, mount) must not raise privileges.
        return [caps.setpriv, "--no-new-privs", "--"]
    group_arg = f"--groups={','.join(map(str, groups))}" if groups else "--clear-groups"
    return [
        caps.setpriv,
        f"--reuid={run_uid}",
        f"--regid={run_uid}",
        group_arg,
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def _tmpfs_roots(targets: Sequence[Path], run_uid: int | None, groups: Sequence[int]) -> list[Path]:
    """Directories to cover with an empty tmpfs so that every bind target is reachable.

    /tmp always gets one. As root, the run's uid may be unable to traverse an ancestor of the
    workdir (e.g. a 0700 /root or /tmp/pytest-of-root); a fresh tmpfs over the topmost such ancestor
    hides only what that uid could not have reached anyway, and the target is bound back into it.
    """
    roots = [Path("/tmp")]
    if run_uid is None:
        return roots
    for target in targets:
        for ancestor in reversed(target.parents):
            if any(ancestor == r or ancestor.is_relative_to(r) for r in roots):
                break
            if not can_search(ancestor, run_uid, groups):
                roots.append(ancestor)
                break
    return roots


def _bwrap_prefix(
    caps: HostCapabilities,
    workdir: Path,
    limits: SandboxLimits,
    read_only_paths: Sequence[Path],
    run_uid: int | None,
    groups: Sequence[int],
) -> list[str]:
    binds = [(workdir, "--bind")] + [(p, "--ro-bind") for p in read_only_paths]
    # Shallower binds first, so that a deeper one (the workdir inside a read-only tree, or the
    # reverse) is mounted on top and wins.
    binds.sort(key=lambda bind: len(bind[0].parts))
    targets = [path for path, _ in binds]

    argv = [caps.bwrap, "--ro-bind", "/", "/", "--dev", "/dev"]
    argv += ["--perms", "1777", "--tmpfs", "/dev/shm"]  # MPI and CUDA IPC need a writable /dev/shm
    for device in gpu_device_paths():
        argv += ["--dev-bind", str(device), str(device)]
    argv += ["--proc", "/proc"]

    # tmpfs mounts must come before the binds they contain, or they would hide them.
    roots = _tmpfs_roots(targets, run_uid, groups)
    for root in roots:
        mode = "1777" if root == Path("/tmp") else "0755"
        argv += ["--perms", mode, "--tmpfs", str(root)]
    # bwrap creates missing parents of a mount point with the mode of the host directory (0700 for
    # /tmp/pytest-of-root), which the run's uid could not traverse; create them 0755 first.
    made: set[Path] = set()
    for target in targets:
        inside = [r for r in roots if target.is_relative_to(r) and target != r]
        if not inside:
            continue
        root = max(inside, key=lambda r: len(r.parts))
        for parent in reversed(target.parents):
            if parent.is_relative_to(root) and parent != root and parent not in made:
                made.add(parent)
                argv += ["--perms", "0755", "--dir", str(parent)]
    for path, how in binds:
        argv += [how, str(path), str(path)]

    if run_uid is None:
        argv += ["--unshare-all"] + (["--share-net"] if limits.network else [])
    else:
        # As root a user namespace would map the run's uid back onto host uid 0, which is exempt
        # from RLIMIT_NPROC; keep the host user namespace and let setpriv drop to the run's uid.
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        argv += [] if limits.network else ["--unshare-net"]
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    argv += ["--as-pid-1", "--die-with-parent", "--new-session", "--chdir", str(workdir), "--"]
    return [*argv, caps.sh, "-c", *_PID1_SHELL, "sh"]


def _unshare_prefix(caps: HostCapabilities, limits: SandboxLimits) -> list[str]:
    argv = [caps.unshare]
    if not caps.is_root:
        argv.append("--map-root-user")
    if not limits.network:
        argv.append("--net")
    argv += ["--pid", "--fork", "--kill-child", "--mount-proc", "--"]
    return [*argv, caps.sh, "-c", *_PID1_SHELL, "sh"]


def plan_launch(
    argv: Sequence[str],
    workdir: Path,
    limits: SandboxLimits,
    mode: IsolationMode,
    caps: HostCapabilities,
    *,
    nproc: int,
    run_uid: int | None,
    groups: Sequence[int] = (),
    read_only_paths: Sequence[Path] = (),
) -> LaunchPlan:
    """The command line running `argv` in `workdir` under `mode` (not AUTO).

    `nproc` is the RLIMIT_NPROC value, `run_uid` the per-run uid when running as root (None
    otherwise), `groups` the supplementary groups that uid keeps (GPU device groups).
    """
    inner = _setpriv_prefix(caps, run_uid, groups) + prlimit_prefix(caps.prlimit, limits, nproc)
    layers: list[str] = []
    prefixes = ["prlimit: "] + (["setpriv: "] if caps.setpriv else [])
    if mode is IsolationMode.BWRAP:
        outer = _bwrap_prefix(caps, workdir, limits, read_only_paths, run_uid, groups)
        layers.append("bwrap")
        prefixes.append("bwrap: ")
    elif mode is IsolationMode.UNSHARE:
        outer = _unshare_prefix(caps, limits)
        layers.append("unshare")
        prefixes.append("unshare: ")
    elif mode is IsolationMode.RLIMITS:
        outer = []
    else:
        raise ValueError(f"plan_launch needs a concrete mode, got {mode!r}")
    namespaced = mode is not IsolationMode.RLIMITS
    if namespaced and not limits.network:
        layers.append("netns")
    if run_uid is not None:
        layers.append("uid-drop")
    layers.append("rlimits")
    return LaunchPlan(
        argv=(*outer, *inner, *argv),
        layers=tuple(layers),
        exit_status_carries_signal=namespaced,
        pid_namespace=namespaced,
        wrapper_error_prefixes=tuple(prefixes),
    )
