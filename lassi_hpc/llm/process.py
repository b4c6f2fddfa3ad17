"""Start a server process, wait until it answers, and stop it with everything it started.

The process runs in its own session (so its process group holds it and its children), with stdin
closed and stdout and stderr appended to a log file: never to our own stdout.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lassi_hpc.llm.errors import LLMServerError

_POLL_S = 0.2
_PORT_COLLISION_RETRIES = 3
_LOG_TAIL_LINES = 30
_PORT_IN_USE = re.compile(r"address already in use|errno 98", re.IGNORECASE)


@dataclass(frozen=True)
class LaunchedProcess:
    """A server process that answered its health check; `port` is where it listens."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path


def connect_host(host: str) -> str:
    """The host name clients use to reach a server listening on `host` (a wildcard address is
    reached through this machine's name, so that workers on other nodes can use it too)."""
    return socket.gethostname() if host in ("", "0.0.0.0", "::") else host


def free_port(host: str) -> int:
    """A TCP port on `host` that nothing listens on now (the kernel's pick for port 0)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could bind host:port now."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def launch(
    name: str,
    command_for_port: Callable[[int], list[str]],
    *,
    host: str,
    port: int,
    health_path: str,
    log_dir: Path,
    startup_timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> LaunchedProcess:
    """Run `command_for_port(port)` and wait until GET http://host:port{health_path} answers 200
    (or 401/403: a server that wants an API key).

    Port 0 picks a free port (and another one, up to 3 times, if the server then finds it taken);
    a fixed port that is taken is an error before anything starts. Output goes to
    `log_dir/<name>.log`. Raises LLMServerError, with the command and the log's last lines, when
    the process exits before it is healthy or is not healthy within `startup_timeout_s` seconds
    (it is then stopped).
    """
    if port and not port_is_free(host, port):
        raise LLMServerError(
            f"LLM server {name!r}: port {port} on {host} is already in use; choose another "
            "port in the site config, or 0 for a free one"
        )
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.log"
    tries = 1 if port else _PORT_COLLISION_RETRIES
    for attempt in range(1, tries + 1):
        chosen = port or free_port(host)
        command = command_for_port(chosen)
        process, log_offset = _spawn(command, log_path, env)
        try:
            _wait_healthy(name, process, command, host, chosen, health_path, startup_timeout_s)
        except _ExitedEarlyError as exited:
            tail = log_tail(log_path, log_offset)
            # Another program can take a free port between our probe and the server's bind.
            if attempt < tries and _PORT_IN_USE.search(tail):
                continue
            raise LLMServerError(
                f"LLM server {name!r} exited with status {exited.returncode} while starting; "
                f"command: {shlex.join(command)}\n"
                f"last lines of {log_path}:\n{tail}"
            ) from None
        except LLMServerError as error:
            stop_process(process)
            raise LLMServerError(
                f"{error}\nlast lines of {log_path}:\n{log_tail(log_path, log_offset)}"
            ) from None
        return LaunchedProcess(process, chosen, log_path)
    raise AssertionError("unreachable: the last try returns or raises")


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Terminate the process's group, kill it after `grace_s` seconds, and reap the process.

    Every process left in the group is killed, also when the leader has already exited.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # Children that ignored SIGTERM outlive a leader that obeyed it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def log_tail(log_path: Path, offset: int = 0, lines: int = _LOG_TAIL_LINES) -> str:
    """The last `lines` lines of the log written after byte `offset` (indented, for messages)."""
    try:
        with log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"  (log unreadable: {exc})"
    kept = text.splitlines()[-lines:]
    return "\n".join(f"  {line}" for line in kept) if kept else "  (the log is empty)"


class _ExitedEarlyError(Exception):
    def __init__(self, returncode: int) -> None:
        super().__init__(returncode)
        self.returncode = returncode


def _spawn(
    command: list[str], log_path: Path, env: Mapping[str, str] | None
) -> tuple[subprocess.Popen[bytes], int]:
    child_env = dict(os.environ if env is None else env)
    # Python servers (llama_cpp.server) would otherwise hold their log lines in a buffer.
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    with log_path.open("ab") as log:
        offset = log.tell()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"=== {stamp} lassi-hpc starts: {shlex.join(command)}\n".encode())
        log.flush()
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env,
                start_new_session=True,
            )
        except OSError as exc:
            raise LLMServerError(
                f"cannot start the LLM server command {shlex.join(command)}: {exc}"
            ) from None
    return process, offset


def _wait_healthy(
    name: str,
    process: subprocess.Popen[bytes],
    command: list[str],
    host: str,
    port: int,
    health_path: str,
    startup_timeout_s: float,
) -> None:
    deadline_s = time.monotonic() + startup_timeout_s
    while True:
        returncode = process.poll()
        if returncode is not None:
            raise _ExitedEarlyError(returncode)
        if answers_health(connect_host(host), port, health_path):
            return
        if time.monotonic() > deadline_s:
            raise LLMServerError(
                f"LLM server {name!r} did not answer GET http://{connect_host(host)}:{port}"
                f"{health_path} within {startup_timeout_s:g} s (startup_timeout_s); "
                f"command: {shlex.join(command)}"
            )
        time.sleep(_POLL_S)


def answers_health(host: str, port: int | None, path: str, *, https: bool = False) -> bool:
    """Whether GET {http|https}://host:port{path} answers 200, 401 or 403 within 2 s."""
    connection_class = http.client.HTTPSConnection if https else http.client.HTTPConnection
    connection = connection_class(host, port, timeout=2.0)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        # 401/403: up, and wanting the API key that the requests after this one send.
        return response.status in (200, 401, 403)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
