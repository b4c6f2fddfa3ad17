"""run_sandboxed: run one untrusted command under limits and isolation, and record what happened."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lassi_hpc.errors import AppError, LassiError
from lassi_hpc.records import CommandResult, FailureKind, SandboxLimits
from lassi_hpc.sandbox.capabilities import HostCapabilities, IsolationMode
from lassi_hpc.sandbox.capture import OutputCapture, PumpEvent
from lassi_hpc.sandbox.child_watch import ChildWatch
from lassi_hpc.sandbox.classify import Outcome, classify
from lassi_hpc.sandbox.detect import host_capabilities, resolve_mode
from lassi_hpc.sandbox.devices import gpu_device_groups
from lassi_hpc.sandbox.isolation import LaunchPlan, plan_launch
from lassi_hpc.sandbox.limits import tasks_of_uid, validate_limits
from lassi_hpc.sandbox.ownership import chown_tree, first_unsearchable_ancestor
from lassi_hpc.sandbox.process_tree import (
    RUN_MARKER_ENV,
    descendants,
    kill_marked,
    kill_processes,
    kill_uid,
)
from lassi_hpc.sandbox.uid_lease import lease_sandbox_uid

_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# After the command exits (or is killed), how long to keep reading output that is still in the
# pipes; every writer is dead by then, so this only bounds a pathological case.
_DRAIN_S = 2.0


@dataclass(frozen=True)
class _Run:
    """Everything one execution needs besides the command line."""

    caps: HostCapabilities
    plan: LaunchPlan
    run_uid: int | None
    token: str

    @property
    def needs_tree_scan(self) -> bool:
        """Without a pid namespace or a per-run uid, the tree must be found process by process."""
        return not self.plan.pid_namespace and self.run_uid is None


def run_sandboxed(
    argv: Sequence[str],
    workdir: Path,
    limits: SandboxLimits,
    env: Mapping[str, str] | None = None,
    read_only_paths: Sequence[Path] = (),
    *,
    isolation: IsolationMode | str | None = None,
) -> CommandResult:
    """Run `argv` with cwd `workdir` under `limits`, in the strongest isolation available.

    Whatever the command does (hang, fork bomb, flood, crash, write outside), this returns a
    CommandResult: `failure` None on success, else the FailureKind with a sentence in
    `failure_detail`; `isolation` names the layers that were in force. Afterwards no process of
    the command is left running.

    The command gets a clean environment: PATH (ours), HOME=workdir, LANG=C, TMPDIR inside workdir,
    then `env` on top. stdin is /dev/null. `read_only_paths` are made visible read-only under
    bwrap (elsewhere they are merely paths). `isolation` (or $LASSI_HPC_SANDBOX) forces a layer:
    "auto" (default), "bwrap", "unshare" or "rlimits".

    Raises only for misuse: an empty argv, nonsensical limits (ValueError), a missing workdir or
    read-only path, a workdir the run's uid cannot reach (AppError), or a forced layer that is
    not usable here (ConfigError).
    """
    command = tuple(str(arg) for arg in argv)
    if not command:
        raise ValueError("run_sandboxed needs a non-empty argv")
    validate_limits(limits)
    if not Path(workdir).is_dir():
        raise AppError(f"sandbox workdir {workdir} does not exist or is not a directory")
    work = Path(workdir).resolve()
    readonly = [Path(p).resolve() for p in read_only_paths]
    for path in readonly:
        if not path.exists():
            raise AppError(f"sandbox read-only path {path} does not exist")
    caps = host_capabilities()
    mode = resolve_mode(isolation, caps)

    if caps.base_problem:
        return _not_started(command, work, caps.base_problem, "none")
    if not caps.uid_drop:
        nproc = limits.processes
        if mode is IsolationMode.RLIMITS:
            # Without a user namespace RLIMIT_NPROC counts every process of our uid, so the run's
            # allowance comes on top of what this user already runs.
            nproc += tasks_of_uid(os.getuid())
        plan = plan_launch(
            command, work, limits, mode, caps, nproc=nproc, run_uid=None, read_only_paths=readonly
        )
        return _execute(command, work, limits, env, _Run(caps, plan, None, secrets.token_hex(8)))

    with contextlib.ExitStack() as stack:
        try:
            uid = stack.enter_context(lease_sandbox_uid())
        except (OSError, LassiError) as exc:
            return _not_started(command, work, f"no sandbox uid available: {exc}", "none")
        return _execute_as_uid(command, work, limits, env, readonly, mode, caps, uid)


def _execute_as_uid(
    command: tuple[str, ...],
    work: Path,
    limits: SandboxLimits,
    env: Mapping[str, str] | None,
    readonly: Sequence[Path],
    mode: IsolationMode,
    caps: HostCapabilities,
    uid: int,
) -> CommandResult:
    """Run as the leased `uid`: hand the workdir to it, run, take everything back."""
    groups = gpu_device_groups()
    if mode is not IsolationMode.BWRAP:
        blocked = first_unsearchable_ancestor(work, uid, groups)
        if blocked is not None:
            raise AppError(
                f"sandbox workdir {work} is not reachable by the run's unprivileged uid: "
                f"{blocked} is not searchable by others (chmod o+x {blocked}, choose a scratch "
                "root under such a directory, or install bubblewrap, which works around it)"
            )
    plan = plan_launch(
        command,
        work,
        limits,
        mode,
        caps,
        nproc=limits.processes,
        run_uid=uid,
        groups=groups,
        read_only_paths=readonly,
    )
    owner = os.stat(work)
    kill_uid(caps, uid)  # leftovers of an earlier holder of this uid that crashed
    chown_tree(work, uid, uid)
    try:
        return _execute(command, work, limits, env, _Run(caps, plan, uid, secrets.token_hex(8)))
    finally:
        kill_uid(caps, uid)
        chown_tree(work, owner.st_uid, owner.st_gid)


def _not_started(command: tuple[str, ...], work: Path, why: str, isolation: str) -> CommandResult:
    now = time.time()
    return CommandResult(
        argv=command,
        cwd=str(work),
        returncode=None,
        stdout="",
        stderr="",
        wall_s=0.0,
        cpu_s=0.0,
        started_at_s=now,
        ended_at_s=now,
        failure=FailureKind.SANDBOX,
        failure_detail=f"the sandbox could not start the command: {why}",
        isolation=isolation,
    )


def _kill_all(run: _Run, child: ChildWatch) -> None:
    """Kill the command's whole tree. Call before reaping the child (see child_watch.py)."""
    stragglers = descendants(child.pid) if run.needs_tree_scan else []
    child.kill()
    kill_processes(stragglers)
    if run.run_uid is not None:
        kill_uid(run.caps, run.run_uid)
    if run.needs_tree_scan:
        kill_marked(run.token)


def _execute(
    command: tuple[str, ...],
    work: Path,
    limits: SandboxLimits,
    env: Mapping[str, str] | None,
    run: _Run,
) -> CommandResult:
    tmpdir = work / f".sandbox-tmp-{run.token}"
    tmpdir.mkdir()
    if run.run_uid is not None:
        os.chown(tmpdir, run.run_uid, run.run_uid)
    child_env = {
        "PATH": os.environ.get("PATH") or _DEFAULT_PATH,
        "HOME": str(work),
        "LANG": "C",
        "TMPDIR": str(tmpdir),
        **(env or {}),
        RUN_MARKER_ENV: run.token,
    }

    started_at_s = time.time()
    start_s = time.monotonic()
    try:
        proc = subprocess.Popen(
            run.plan.argv,
            cwd=work,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        shutil.rmtree(tmpdir, ignore_errors=True)
        return _not_started(command, work, f"{run.plan.argv[0]}: {exc}", run.plan.isolation)

    assert proc.stdout is not None and proc.stderr is not None
    capture = OutputCapture(proc.stdout.fileno(), proc.stderr.fileno(), limits.output_bytes)
    child = ChildWatch(proc.pid)
    try:
        event = capture.pump(child, start_s + limits.wall_s)
        # On exit, anything the command left behind dies now; on a timeout or an overflow, the
        # whole tree does. Output already in the pipes is still read.
        _kill_all(run, child)
        capture.pump(None, time.monotonic() + _DRAIN_S)
        _, status, usage = os.wait4(proc.pid, 0)
        # Tell Popen the child is reaped, or its finalizer would waitpid() a recycled pid later.
        proc.returncode = os.waitstatus_to_exitcode(status)
        ended_s = time.monotonic()
        ended_at_s = time.time()
        if run.needs_tree_scan:
            kill_marked(run.token)
    finally:
        if proc.returncode is None:  # only on an unexpected error above
            child.kill()
            with contextlib.suppress(OSError):
                os.waitpid(proc.pid, 0)
            proc.returncode = -9
        child.close()
        capture.close()
        proc.stdout.close()
        proc.stderr.close()
        shutil.rmtree(tmpdir, ignore_errors=True)

    stderr = capture.text("stderr")
    cpu_s = usage.ru_utime + usage.ru_stime
    verdict = classify(
        Outcome(
            wait_status=status,
            timed_out=event is PumpEvent.DEADLINE,
            overflow_stream=capture.overflow,
            stderr=stderr,
            cpu_s=cpu_s,
            exit_status_carries_signal=run.plan.exit_status_carries_signal,
            wrapper_error_prefixes=run.plan.wrapper_error_prefixes,
        ),
        limits,
    )
    return CommandResult(
        argv=command,
        cwd=str(work),
        returncode=verdict.returncode,
        stdout=capture.text("stdout"),
        stderr=stderr,
        wall_s=ended_s - start_s,
        cpu_s=cpu_s,
        started_at_s=started_at_s,
        ended_at_s=ended_at_s,
        failure=verdict.failure,
        failure_detail=verdict.detail,
        isolation=run.plan.isolation,
    )
