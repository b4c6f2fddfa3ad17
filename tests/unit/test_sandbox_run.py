"""run_sandboxed against real misbehaving programs, under every isolation layer this machine has.

Payloads are small C programs compiled once per session with gcc. Each test that runs one copies it
into a fresh scratch directory under a name carrying a unique marker, so that surviving processes
can be found afterwards by their command line.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from sandbox_support import require_mode, traversable_scratch_root

from lassi_hpc.errors import AppError, ConfigError
from lassi_hpc.records import CommandResult, FailureKind, SandboxLimits
from lassi_hpc.sandbox import SANDBOX_ENV_VAR, make_scratch_copy, run_sandboxed
from lassi_hpc.sandbox.detect import host_capabilities, resolve_mode

MiB = 2**20

PAYLOAD_SOURCES = {
    "segv": r"""
int main(void) { volatile int *p = 0; *p = 1; return 0; }
""",
    # Writes 3 GiB in 1 MiB blocks; stops at the first failed write.
    "bigwrite": r"""
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
int main(void) {
    static char block[1 << 20];
    memset(block, 'x', sizeof block);
    int fd = open("big.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror("open"); return 2; }
    for (int i = 0; i < 3072; i++)
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block) { perror("write"); return 1; }
    return 0;
}
""",
    # A bounded fork bomb: at most 5000 children, each sleeping 60 s, so that it cannot take the
    # machine down even if containment failed. Gives up after 20 refused forks.
    "bomb": r"""
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    int made = 0, refused = 0;
    for (int i = 0; i < 5000; i++) {
        pid_t pid = fork();
        if (pid == 0) { sleep(60); _exit(0); }
        if (pid > 0) { made++; continue; }
        fprintf(stderr, "fork: %s\n", strerror(errno));
        if (++refused >= 20) break;
        usleep(1000);
    }
    printf("made=%d refused=%d\n", made, refused);
    return refused ? 1 : 0;
}
""",
    # Hangs, and hides a child in a new session (escaping the process group) that hangs too.
    "hang": r"""
#include <unistd.h>
int main(void) {
    if (fork() == 0) { setsid(); if (fork() == 0) for (;;) sleep(1000); for (;;) sleep(1000); }
    for (;;) sleep(1000);
}
""",
    # Burns CPU until its own CPU clock reaches argv[1] seconds (forever without an argument).
    "spin": r"""
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
    double limit = argc > 1 ? atof(argv[1]) : 1e12;
    volatile unsigned long n = 0;
    while ((double)clock() / CLOCKS_PER_SEC < limit) n++;
    return 0;
}
""",
    "alloc": r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    size_t size = (size_t)1 << 30;
    char *p = malloc(size);
    if (!p) { perror("malloc"); return 1; }
    memset(p, 1, size);
    return 0;
}
""",
    "connect": r"""
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); return 1; }
    puts("connected");
    return 0;
}
""",
    # Starts argv[1] children that each live 0.3 s, then waits for them all.
    "children": r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int n = atoi(argv[1]), refused = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) { usleep(300000); _exit(0); }
        if (pid < 0) { fprintf(stderr, "fork: %s\n", strerror(errno)); refused++; }
    }
    while (wait(NULL) > 0) {}
    printf("children done\n");
    return refused ? 1 : 0;
}
""",
}

MODES = ["bwrap", "unshare", "rlimits"]


@pytest.fixture(scope="session")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The compiled payload programs, by name."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not installed; the sandbox payloads are C programs")
    out = tmp_path_factory.mktemp("payloads")
    built = {}
    for name, source in PAYLOAD_SOURCES.items():
        (out / f"{name}.c").write_text(source)
        subprocess.run([gcc, "-O1", "-o", str(out / name), str(out / f"{name}.c")], check=True)
        built[name] = out / name
    return built


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Each isolation layer in turn; skipped where this machine does not offer it."""
    return require_mode(str(request.param))


@pytest.fixture
def scratch_root() -> Iterator[Path]:
    with traversable_scratch_root() as root:
        yield root


def marked_copy(payload: Path, scratch_root: Path) -> tuple[Path, str]:
    """A fresh scratch dir holding `payload` under a unique name; returns (workdir, that name)."""
    marker = f"{payload.name}-{uuid.uuid4().hex[:12]}"
    workdir = make_scratch_copy(payload.parent, [payload.name], scratch_root, payload.name)
    (workdir / payload.name).rename(workdir / marker)
    return workdir, marker


def survivors(marker: str, wait_s: float = 5.0) -> list[str]:
    """Live (non-zombie) processes whose command line contains `marker`, after dying ones die."""
    end = time.monotonic() + wait_s
    while True:
        alive = []
        for proc in psutil.process_iter(["cmdline", "status"]):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if marker in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid}: {cmdline}")
        if not alive or time.monotonic() > end:
            return alive
        time.sleep(0.05)


def assert_next_app_runs(mode: str, scratch_root: Path) -> None:
    """A normal command in a fresh scratch directory still runs after a misbehaving one."""
    workdir = scratch_root / f"next-{uuid.uuid4().hex[:8]}"
    workdir.mkdir()
    result = run_sandboxed(["sh", "-c", "echo next"], workdir, SandboxLimits(), isolation=mode)
    assert result.failure is None, result
    assert result.stdout == "next\n"


def run_marked(
    mode: str, payload: Path, scratch_root: Path, limits: SandboxLimits, *args: str
) -> tuple[CommandResult, Path, str]:
    workdir, marker = marked_copy(payload, scratch_root)
    result = run_sandboxed([f"./{marker}", *args], workdir, limits, isolation=mode)
    return result, workdir, marker


# --------------------------------------------------------------------------------------------------
# Plain outcomes


def test_success_captures_both_streams(mode: str, scratch_root: Path) -> None:
    result = run_sandboxed(
        ["sh", "-c", "echo hello; echo oops >&2"], scratch_root, SandboxLimits(), isolation=mode
    )
    assert result.failure is None
    assert result.failure_detail == ""
    assert result.returncode == 0
    assert result.stdout == "hello\n"
    assert result.stderr == "oops\n"
    layers = result.isolation.split("+")
    assert layers[-1] == "rlimits"
    assert ("bwrap" in layers) == (mode == "bwrap")
    assert ("unshare" in layers) == (mode == "unshare")
    assert ("uid-drop" in layers) == host_capabilities().uid_drop
    assert result.started_at_s <= result.ended_at_s


def test_exit_code_is_reported(mode: str, scratch_root: Path) -> None:
    result = run_sandboxed(["sh", "-c", "exit 3"], scratch_root, SandboxLimits(), isolation=mode)
    assert result.failure is FailureKind.EXIT_CODE
    assert result.returncode == 3
    assert "exit code 3" in result.failure_detail


def test_missing_command_is_exit_127(mode: str, scratch_root: Path) -> None:
    result = run_sandboxed(["./no-such-program"], scratch_root, SandboxLimits(), isolation=mode)
    assert result.failure is FailureKind.EXIT_CODE
    assert result.returncode == 127
    assert "not found" in result.failure_detail


def test_segfault_names_sigsegv(mode: str, payloads: dict[str, Path], scratch_root: Path) -> None:
    result, _, _ = run_marked(mode, payloads["segv"], scratch_root, SandboxLimits())
    assert result.failure is FailureKind.SIGNAL
    assert "SIGSEGV" in result.failure_detail
    assert result.returncode == -11


def test_cpu_time_of_the_command_is_recorded(
    mode: str, payloads: dict[str, Path], scratch_root: Path
) -> None:
    # The payload runs until its own CPU clock reads 0.5 s, so at least that much was used; under
    # bwrap and unshare it is a grandchild of our direct child, so this also checks that its time
    # reaches us through the reapers.
    result, _, _ = run_marked(mode, payloads["spin"], scratch_root, SandboxLimits(), "0.5")
    assert result.failure is None, result
    assert result.cpu_s >= 0.45


def test_environment_is_clean_and_home_is_the_workdir(
    mode: str, scratch_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LASSI_TEST_SECRET", "must-not-leak")
    script = (
        'echo "$HOME|$LANG|$FOO|${LASSI_TEST_SECRET:-unset}"; echo t > "$TMPDIR/t"; echo $TMPDIR'
    )
    result = run_sandboxed(
        ["sh", "-c", script], scratch_root, SandboxLimits(), env={"FOO": "bar"}, isolation=mode
    )
    assert result.failure is None, result
    first, tmpdir = result.stdout.splitlines()
    assert first == f"{scratch_root.resolve()}|C|bar|unset"
    assert Path(tmpdir).parent == scratch_root.resolve()
    assert not Path(tmpdir).exists(), "the per-run TMPDIR is removed afterwards"


def test_files_written_by_the_run_are_handed_back(mode: str, scratch_root: Path) -> None:
    owner = os.stat(scratch_root)
    result = run_sandboxed(
        ["sh", "-c", "mkdir out && echo data > out/result.txt"],
        scratch_root,
        SandboxLimits(),
        isolation=mode,
    )
    assert result.failure is None, result
    written = scratch_root / "out" / "result.txt"
    assert written.read_text() == "data\n"
    assert (os.stat(written).st_uid, os.stat(written).st_gid) == (owner.st_uid, owner.st_gid)
    assert os.stat(scratch_root).st_uid == owner.st_uid


# --------------------------------------------------------------------------------------------------
# Limits


def test_hang_is_killed_with_its_whole_tree(
    mode: str, payloads: dict[str, Path], scratch_root: Path
) -> None:
    result, _, marker = run_marked(mode, payloads["hang"], scratch_root, SandboxLimits(wall_s=1.5))
    assert result.failure is FailureKind.TIMEOUT
    assert result.failure_detail == "wall-clock limit 1.5 s reached; process tree killed"
    assert result.returncode is None
    assert survivors(marker) == []
    assert_next_app_runs(mode, scratch_root)


def test_fork_bomb_is_stopped(mode: str, payloads: dict[str, Path], scratch_root: Path) -> None:
    limits = SandboxLimits(wall_s=20, processes=32)
    result, _, marker = run_marked(mode, payloads["bomb"], scratch_root, limits)
    assert result.failure is FailureKind.PROCESS_LIMIT, result
    assert "Resource temporarily unavailable" in result.stderr
    made = int(result.stdout.split("made=")[1].split()[0])
    assert made < 32
    assert survivors(marker) == []
    assert_next_app_runs(mode, scratch_root)


def test_large_write_stops_at_the_file_size_limit(
    mode: str, payloads: dict[str, Path], scratch_root: Path
) -> None:
    limits = SandboxLimits(wall_s=60, file_size_bytes=64 * MiB)
    result, workdir, _ = run_marked(mode, payloads["bigwrite"], scratch_root, limits)
    assert result.failure is FailureKind.FILE_SIZE_LIMIT, result
    assert "SIGXFSZ" in result.failure_detail
    assert (workdir / "big.bin").stat().st_size <= 64 * MiB
    assert_next_app_runs(mode, scratch_root)


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_endless_output_is_cut_at_the_cap(mode: str, scratch_root: Path, stream: str) -> None:
    cap = 64 * 1024
    redirect = "" if stream == "stdout" else " >&2"
    result = run_sandboxed(
        ["sh", "-c", f"yes 0123456789{redirect}"],
        scratch_root,
        SandboxLimits(output_bytes=cap),
        isolation=mode,
    )
    assert result.failure is FailureKind.OUTPUT_LIMIT
    assert result.failure_detail.startswith(f"{stream} passed the output limit of {cap} bytes")
    captured = result.stdout if stream == "stdout" else result.stderr
    assert 0 < len(captured.encode()) <= cap
    assert_next_app_runs(mode, scratch_root)


def test_cpu_limit_stops_a_spinning_program(
    mode: str, payloads: dict[str, Path], scratch_root: Path
) -> None:
    limits = SandboxLimits(wall_s=30, cpu_s=1)
    result, _, marker = run_marked(mode, payloads["spin"], scratch_root, limits)
    assert result.failure is FailureKind.CPU_LIMIT, result
    assert "SIGXCPU" in result.failure_detail
    assert survivors(marker) == []


def test_memory_limit_refuses_a_large_allocation(
    mode: str, payloads: dict[str, Path], scratch_root: Path
) -> None:
    limits = SandboxLimits(memory_bytes=256 * MiB)
    result, _, _ = run_marked(mode, payloads["alloc"], scratch_root, limits)
    assert result.failure is FailureKind.MEMORY_LIMIT, result
    assert "Cannot allocate memory" in result.failure_detail


def test_memory_limit_zero_disables_it(
    mode: str, payloads: dict[str, Path], scratch_root: Path
) -> None:
    result, _, _ = run_marked(mode, payloads["alloc"], scratch_root, SandboxLimits(memory_bytes=0))
    assert result.failure is None, result


# --------------------------------------------------------------------------------------------------
# Containment


def test_writes_and_deletes_outside_the_scratch_copy_are_contained(
    mode: str, scratch_root: Path, tmp_path: Path
) -> None:
    caps = host_capabilities()
    if not caps.is_root and mode != "bwrap":
        pytest.skip("without root or bwrap a run has the user's own file permissions (documented)")
    private = tmp_path / "private"  # under the 0700 pytest directory
    private.mkdir()
    home = Path(tempfile.mkdtemp(prefix="lassi-home-", dir="/tmp"))  # a typical 0755 home
    home.chmod(0o755)
    try:
        for directory in (private, home):
            (directory / "victim.txt").write_text("original\n")
            (directory / "victim.txt").chmod(0o644)
        workdir = make_scratch_copy(tmp_path, [], scratch_root, "vandal")
        script = """
for d in "$PRIVATE" "$HOMELIKE"; do
    echo pwned > "$d/victim.txt"; rm -f "$d/victim.txt"; echo new > "$d/new.txt"
done
echo escaped > "$SCRATCH_ROOT/escaped.txt"
echo inside > inside.txt
"""
        env = {"PRIVATE": str(private), "HOMELIKE": str(home), "SCRATCH_ROOT": str(scratch_root)}
        run_sandboxed(["sh", "-c", script], workdir, SandboxLimits(), env=env, isolation=mode)

        for directory in (private, home):
            assert (directory / "victim.txt").read_text() == "original\n"
            assert sorted(p.name for p in directory.iterdir()) == ["victim.txt"]
        assert sorted(p.name for p in scratch_root.iterdir()) == [workdir.name]
        assert (workdir / "inside.txt").read_text() == "inside\n", "the workdir stays writable"
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert_next_app_runs(mode, scratch_root)


@pytest.mark.parametrize("network", [False, True])
def test_network_is_cut_unless_allowed(
    mode: str, payloads: dict[str, Path], scratch_root: Path, network: bool
) -> None:
    if mode == "rlimits":
        pytest.skip("the rlimits layer has no network namespace; the network stays reachable")
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        limits = SandboxLimits(network=network)
        result, _, _ = run_marked(mode, payloads["connect"], scratch_root, limits, str(port))
    assert ("netns" in result.isolation) == (not network)
    if network:
        assert result.failure is None, result
        assert result.stdout == "connected\n"
    else:
        assert result.failure is FailureKind.EXIT_CODE
        assert "connected" not in result.stdout
        assert "connect:" in result.stderr


def test_concurrent_runs_each_get_their_own_process_limit(
    mode: str, payloads: dict[str, Path], scratch_root: Path
) -> None:
    if not host_capabilities().is_root and mode == "rlimits":
        pytest.skip("without root or a user namespace RLIMIT_NPROC is shared by all our processes")
    limits = SandboxLimits(wall_s=30, processes=32)
    jobs = [("bomb", ()), ("bomb", ()), ("children", ("20",)), ("children", ("20",))]
    jobs += [("children", ("20",))]
    start = threading.Barrier(len(jobs))

    def one(job: tuple[str, tuple[str, ...]]) -> tuple[str, CommandResult, str]:
        name, args = job
        workdir, marker = marked_copy(payloads[name], scratch_root)
        start.wait()
        return name, run_sandboxed([f"./{marker}", *args], workdir, limits, isolation=mode), marker

    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(one, jobs))
    for name, result, marker in results:
        if name == "bomb":
            assert result.failure is FailureKind.PROCESS_LIMIT, result
        else:
            assert result.failure is None, result
            assert result.stdout == "children done\n"
        assert survivors(marker) == []


def test_hard_link_to_an_outside_file_is_not_handed_to_the_run(
    mode: str, scratch_root: Path
) -> None:
    # Where fs.protected_hardlinks is 0, an earlier run could have linked an outside file into the
    # scratch copy; handing the copy to the next run's uid must not hand that file over too.
    if not host_capabilities().uid_drop:
        pytest.skip("only root hands the workdir to a per-run uid")
    outside = scratch_root / "outside.txt"
    outside.write_text("original\n")
    outside.chmod(0o644)
    workdir = scratch_root / "work"
    workdir.mkdir()
    os.link(outside, workdir / "linked.txt")
    result = run_sandboxed(
        ["sh", "-c", "echo pwned > linked.txt"], workdir, SandboxLimits(), isolation=mode
    )
    assert result.failure is FailureKind.EXIT_CODE
    assert outside.read_text() == "original\n"
    assert os.stat(outside).st_uid == os.getuid()


def test_kernels_without_pidfd_are_polled(
    mode: str, payloads: dict[str, Path], scratch_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pidfd(pid: int, flags: int = 0) -> int:
        raise OSError(errno.ENOSYS, "pidfd_open not implemented (Linux < 5.3)")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    done = run_sandboxed(["sh", "-c", "echo polled"], scratch_root, SandboxLimits(), isolation=mode)
    assert done.failure is None, done
    assert done.stdout == "polled\n"
    hung, _, marker = run_marked(mode, payloads["hang"], scratch_root, SandboxLimits(wall_s=1))
    assert hung.failure is FailureKind.TIMEOUT
    assert survivors(marker) == []


def test_bwrap_setup_failure_is_a_sandbox_failure(scratch_root: Path) -> None:
    # Our own /proc/<pid> cannot be mounted inside the fresh /proc of a new pid namespace.
    try:
        resolve_mode("bwrap", host_capabilities())
    except ConfigError as exc:
        pytest.skip(str(exc))
    result = run_sandboxed(
        ["true"],
        scratch_root,
        SandboxLimits(),
        read_only_paths=[Path(f"/proc/{os.getpid()}")],
        isolation="bwrap",
    )
    assert result.failure is FailureKind.SANDBOX
    assert result.failure_detail.startswith("the sandbox could not start the command: bwrap: ")
    assert result.returncode is None
    assert_next_app_runs("bwrap", scratch_root)


# --------------------------------------------------------------------------------------------------
# Misuse and layer selection


def test_missing_workdir_raises(tmp_path: Path) -> None:
    with pytest.raises(AppError, match="does not exist"):
        run_sandboxed(["true"], tmp_path / "absent", SandboxLimits())


def test_nonsense_limits_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="wall_s must be > 0"):
        run_sandboxed(["true"], tmp_path, SandboxLimits(wall_s=0))
    with pytest.raises(ValueError, match="non-empty argv"):
        run_sandboxed([], tmp_path, SandboxLimits())


def test_environment_variable_forces_a_layer(
    scratch_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SANDBOX_ENV_VAR, "rlimits")
    result = run_sandboxed(["true"], scratch_root, SandboxLimits())
    assert result.failure is None
    assert "bwrap" not in result.isolation
    assert "unshare" not in result.isolation
    monkeypatch.setenv(SANDBOX_ENV_VAR, "chroot")
    with pytest.raises(ConfigError, match=r"LASSI_HPC_SANDBOX.*auto, bwrap, unshare, rlimits"):
        run_sandboxed(["true"], scratch_root, SandboxLimits())


def test_private_parent_is_worked_around_by_bwrap(tmp_path: Path) -> None:
    # tmp_path lies under /tmp/pytest-of-<user> (mode 0700). As root the run's own uid could not
    # traverse it; bwrap mounts a fresh /tmp and recreates the path to the workdir inside it.
    try:
        resolve_mode("bwrap", host_capabilities())
    except ConfigError as exc:
        pytest.skip(str(exc))
    workdir = tmp_path / "deep" / "work"
    workdir.mkdir(parents=True)
    result = run_sandboxed(
        ["sh", "-c", f"echo ok > {workdir}/abs.txt && cat {workdir}/abs.txt"],
        workdir,
        SandboxLimits(),
        isolation="bwrap",
    )
    assert result.failure is None, result
    assert result.stdout == "ok\n"


@pytest.mark.parametrize("forced", ["unshare", "rlimits"])
def test_private_parent_without_bwrap_is_refused_as_root(tmp_path: Path, forced: str) -> None:
    caps = host_capabilities()
    if not caps.uid_drop:
        pytest.skip("only root drops to a per-run uid that must traverse the workdir's parents")
    try:
        resolve_mode(forced, caps)
    except ConfigError as exc:
        pytest.skip(str(exc))
    parent_mode = stat.S_IMODE(os.stat(tmp_path.parent.parent).st_mode)
    if parent_mode & stat.S_IXOTH:
        pytest.skip(f"{tmp_path.parent.parent} is searchable by others on this machine")
    with pytest.raises(AppError, match=r"not reachable by the run's unprivileged uid.*chmod o\+x"):
        run_sandboxed(["true"], tmp_path, SandboxLimits(), isolation=forced)
