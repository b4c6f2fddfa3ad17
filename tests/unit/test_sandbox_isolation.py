"""The bwrap/unshare command lines: mount order, namespaces, uid drop and limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from lassi_hpc.records import SandboxLimits
from lassi_hpc.sandbox.capabilities import HostCapabilities, IsolationMode
from lassi_hpc.sandbox.isolation import plan_launch
from lassi_hpc.sandbox.limits import prlimit_prefix


def capabilities(*, is_root: bool) -> HostCapabilities:
    return HostCapabilities(
        is_root=is_root,
        sh="/bin/sh",
        prlimit="/usr/bin/prlimit",
        setpriv="/usr/bin/setpriv",
        bwrap="/usr/bin/bwrap",
        bwrap_version="bubblewrap 0.8.0",
        bwrap_problem="",
        unshare="/usr/bin/unshare",
        unshare_problem="",
    )


def index_of(argv: tuple[str, ...], *sequence: str) -> int:
    for i in range(len(argv) - len(sequence) + 1):
        if argv[i : i + len(sequence)] == sequence:
            return i
    raise AssertionError(f"{sequence} not in {argv}")


@pytest.fixture
def private_workdir(tmp_path: Path) -> Path:
    """A workdir below a 0700 directory (like /tmp/pytest-of-root or a home directory)."""
    hidden = tmp_path / "private"
    workdir = hidden / "a" / "work"
    workdir.mkdir(parents=True)
    hidden.chmod(0o700)
    return workdir


def test_root_bwrap_mounts_tmpfs_before_binding_the_workdir(private_workdir: Path) -> None:
    plan = plan_launch(
        ["./app"],
        private_workdir,
        SandboxLimits(),
        IsolationMode.BWRAP,
        capabilities(is_root=True),
        nproc=64,
        run_uid=1_900_000_007,
        read_only_paths=[Path("/opt")],
    )
    argv = plan.argv
    bind = index_of(argv, "--bind", str(private_workdir), str(private_workdir))
    assert index_of(argv, "--tmpfs", "/tmp") < bind
    assert index_of(argv, "--ro-bind", "/", "/") < index_of(argv, "--tmpfs", "/tmp")
    # /opt is shallower than the workdir, so it is bound first and cannot cover it.
    assert index_of(argv, "--ro-bind", "/opt", "/opt") < bind
    # The topmost directory the run's uid cannot traverse gets its own tmpfs, with the path to the
    # workdir recreated traversable inside it.
    if str(private_workdir).startswith("/tmp/"):
        assert index_of(argv, "--perms", "0755", "--dir", str(private_workdir.parent)) < bind
    assert "--unshare-user" not in argv and "--unshare-all" not in argv
    assert "--unshare-net" in argv
    assert index_of(argv, "--", "/bin/sh", "-c") < index_of(argv, "/usr/bin/setpriv")
    assert "--reuid=1900000007" in argv
    assert "--nproc=64" in argv
    assert argv[-1] == "./app"
    assert plan.isolation == "bwrap+netns+uid-drop+rlimits"
    assert plan.exit_status_carries_signal and plan.pid_namespace


def test_tmpfs_covers_a_private_directory_outside_tmp() -> None:
    # /root is the usual 0700 directory outside /tmp; nothing below it is created or read.
    root_home = Path("/root")
    if not root_home.is_dir() or root_home.stat().st_mode & 0o001:
        pytest.skip("/root is missing or searchable by others on this machine")
    workdir = root_home / "lassi-scratch" / "run-1"
    plan = plan_launch(
        ["true"],
        workdir,
        SandboxLimits(),
        IsolationMode.BWRAP,
        capabilities(is_root=True),
        nproc=8,
        run_uid=1_900_000_007,
    )
    argv = plan.argv
    bind = index_of(argv, "--bind", str(workdir), str(workdir))
    assert index_of(argv, "--perms", "0755", "--tmpfs", "/root") < bind
    assert index_of(argv, "--perms", "0755", "--dir", "/root/lassi-scratch") < bind


def test_non_root_bwrap_uses_a_user_namespace_and_keeps_the_uid(tmp_path: Path) -> None:
    plan = plan_launch(
        ["true"],
        tmp_path,
        SandboxLimits(network=True),
        IsolationMode.BWRAP,
        capabilities(is_root=False),
        nproc=8,
        run_uid=None,
    )
    assert "--unshare-all" in plan.argv
    assert "--share-net" in plan.argv
    assert not any(arg.startswith("--reuid") for arg in plan.argv)
    assert plan.isolation == "bwrap+rlimits"


def test_unshare_keeps_the_command_off_pid_1() -> None:
    plan = plan_launch(
        ["./app"],
        Path("/tmp"),
        SandboxLimits(),
        IsolationMode.UNSHARE,
        capabilities(is_root=False),
        nproc=8,
        run_uid=None,
    )
    argv = plan.argv
    assert argv[:2] == ("/usr/bin/unshare", "--map-root-user")
    assert index_of(argv, "--", "/bin/sh", "-c", '"$@"; exit $?', "sh") > 0
    assert plan.isolation == "unshare+netns+rlimits"


def test_rlimits_only_runs_the_command_through_prlimit() -> None:
    plan = plan_launch(
        ["./app"],
        Path("/tmp"),
        SandboxLimits(),
        IsolationMode.RLIMITS,
        capabilities(is_root=True),
        nproc=8,
        run_uid=1_900_000_001,
    )
    assert plan.argv[0] == "/usr/bin/setpriv"
    assert "--no-new-privs" in plan.argv
    assert not plan.exit_status_carries_signal and not plan.pid_namespace
    assert plan.isolation == "uid-drop+rlimits"


def test_prlimit_sets_every_limit_and_address_space_only_when_positive() -> None:
    limits = SandboxLimits(cpu_s=2.5, file_size_bytes=1000, memory_bytes=0)
    argv = prlimit_prefix("/usr/bin/prlimit", limits, nproc=7)
    assert argv == [
        "/usr/bin/prlimit",
        "--cpu=3:4",
        "--fsize=1000",
        "--nproc=7",
        "--core=0",
        "--",
    ]
    with_memory = prlimit_prefix("p", SandboxLimits(memory_bytes=2**30), nproc=7)
    assert f"--as={2**30}" in with_memory
