"""The LLM node of a Slurm site: a server started inside the block of its LLM executor.

For a site's `[llm_servers.<name>]` entry with a `slurm` table, the batch script of the LLM
executor's block runs `server_start_script(...)` (in its worker_init) before the workers start:

1. pick the port (`python -m lassi_hpc.llm.block free-port`, or the configured one);
2. start the server in the background as a child of the batch shell, so that Slurm ends it with
   the job, its output appended to `<log_dir>/<name>.slurm-<job id>.log` (on the shared
   filesystem, next to the driver's files);
3. wait until its health URL answers (`python -m lassi_hpc.llm.block wait ...`): if the server
   exits first or does not answer within `startup_timeout_s`, the block fails with the log's
   last lines on its stderr, which Parsl shows;
4. export the base URL in `llm_url_env(name)`: the workers read it where they make the
   requests (`LLMEndpoint.base_url_env`, see `block_endpoint`);
5. leave a watchdog that cancels the job when the server exits later, so that Parsl starts a new
   block and retries the requests in flight, instead of every later request failing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import sys
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path

from lassi_hpc.config.site import LLMServer
from lassi_hpc.llm.embedded import EMBEDDED_MODEL_ALIAS, embedded_command, embedded_model_path
from lassi_hpc.llm.embedded import HEALTH_PATH as EMBEDDED_HEALTH_PATH
from lassi_hpc.llm.endpoint import LLMEndpoint
from lassi_hpc.llm.errors import LLMServerError
from lassi_hpc.llm.process import answers_health, free_port, log_tail
from lassi_hpc.llm.vllm import HEALTH_PATH as VLLM_HEALTH_PATH
from lassi_hpc.llm.vllm import vllm_command

URL_ENV_PREFIX = "LASSI_HPC_LLM_URL_"
WATCH_PERIOD_S = 5.0
"""How often the watchdog checks that the server still runs, in seconds."""

_POLL_S = 0.5
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The shell variables of the script; prefixed so that no setup line's variable is overwritten.
_PORT = "lassi_llm_port"
_PID = "lassi_llm_pid"
_LOG = "lassi_llm_log"


def llm_url_env(name: str) -> str:
    """The environment variable holding the base URL (ending in /v1) of server `name` inside its
    block, e.g. LASSI_HPC_LLM_URL_CODER for "coder"."""
    return URL_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def block_endpoint(name: str, server: LLMServer, *, timeout_s: float, retries: int) -> LLMEndpoint:
    """The endpoint of server `name` started in its block: the base URL is read from
    `llm_url_env(name)` by the workers; the model is `server.model`, or the embedded server's
    alias (a block's server is not asked which model it serves: the driver never reaches it)."""
    model = server.model or (EMBEDDED_MODEL_ALIAS if server.kind == "embedded" else "")
    return LLMEndpoint(
        name=name,
        base_url="",
        api=server.api,
        model=model,
        api_key_env=server.api_key_env,
        timeout_s=timeout_s,
        retries=retries,
        base_url_env=llm_url_env(name),
    )


def server_start_script(
    name: str, server: LLMServer, log_dir: Path, *, watch_period_s: float = WATCH_PERIOD_S
) -> str:
    """Shell lines (bash) that start server `name` in a Slurm batch script, wait until it is
    healthy, export its base URL in `llm_url_env(name)` and leave a watchdog (see the module
    docstring). Every value from the config is shell-quoted; the port is the shell's.

    Raises LLMServerError for an external server (nothing to start), and where the embedded
    model is not installed (see embedded_model_path).
    """
    command_for_port, health_path, key_variable, unset = _launch_recipe(name, server)
    if server.api_key_env and not _ENV_NAME.match(server.api_key_env):
        raise LLMServerError(
            f"LLM server {name!r}: api_key_env {server.api_key_env!r} is not an environment "
            "variable name"
        )
    python = shlex.quote(sys.executable)
    url_base = "http://" + shlex.quote(_url_host(server.host)) + f':"${_PORT}"'
    log_name = re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".slurm-${SLURM_JOB_ID:-local}.log"
    if server.port:
        port_line = f"{_PORT}={server.port}"
    else:
        port_line = (
            f"{_PORT}=$({python} -m lassi_hpc.llm.block free-port "
            f"--host {shlex.quote(server.host)}) || exit 1"
        )
    server_env = [f"unset {' '.join(unset)}"] if unset else []
    if server.api_key_env:
        # In the server's environment only: on its command line the key would show in `ps`.
        server_env.append(f'export {key_variable}="${server.api_key_env}"')
    lines = [
        f"# LLM server {name!r} for this block's workers (lassi_hpc.llm.block)",
        f"mkdir -p {shlex.quote(str(log_dir))} || exit 1",
        f'{_LOG}={shlex.quote(str(log_dir))}/"{log_name}"',
        *_key_check(name, server.api_key_env),
        port_line,
        "printf '=== %s lassi-hpc starts LLM server %s in Slurm job %s on %s, port %s: %s\\n' "
        f"\"$(date '+%Y-%m-%d %H:%M:%S')\" {shlex.quote(name)} "
        f'"${{SLURM_JOB_ID:-?}}" "$(hostname)" "${_PORT}" '
        f'{shlex.quote(_shown(command_for_port))} >>"${_LOG}"',
        "(",
        *(f"  {line}" for line in server_env),
        # Python servers (llama_cpp.server) would otherwise hold their log lines in a buffer.
        "  export PYTHONUNBUFFERED=1",
        f"  exec {_command_text(command_for_port)}",
        f') >>"${_LOG}" 2>&1 </dev/null &',
        f"{_PID}=$!",
        f"{python} -m lassi_hpc.llm.block wait {url_base}{shlex.quote(health_path)} "
        f'--pid "${_PID}" --timeout-s {server.startup_timeout_s:g} --log "${_LOG}" || '
        f'{{ kill "${_PID}" 2>/dev/null; exit 1; }}',
        f"export {llm_url_env(name)}={url_base}/v1",
        "(",
        # An exited server stays a zombie until the shell reaps it: `ps` tells them apart.
        f'  while state=$(ps -o stat= -p "${_PID}") && [ "${{state#Z}}" = "$state" ]; do',
        f"    sleep {watch_period_s:g}",
        "  done",
        f'  echo "lassi-hpc: LLM server {_shell_words(name)} exited (see ${_LOG}); cancelling '
        'Slurm job $SLURM_JOB_ID so that Parsl starts another block" | '
        f'tee -a "${_LOG}" >&2',
        '  scancel "$SLURM_JOB_ID"',
        ") </dev/null &",
    ]
    return "\n".join(lines) + "\n"


def wait_until_healthy(url: str, pid: int, timeout_s: float, log_path: Path) -> None:
    """Return when GET `url` answers 200 (or 401/403: a server that wants its API key) while
    process `pid` runs. Raises LLMServerError with the log's last lines when the process exits
    first or `timeout_s` seconds pass."""
    deadline_s = time.monotonic() + timeout_s
    while True:
        if not _is_running(pid):
            raise LLMServerError(
                f"LLM server process {pid} exited before it answered GET {url}; "
                f"last lines of {log_path}:\n{log_tail(log_path)}"
            )
        if _answers(url):
            return
        if time.monotonic() > deadline_s:
            raise LLMServerError(
                f"LLM server process {pid} did not answer GET {url} within {timeout_s:g} s "
                f"(startup_timeout_s); last lines of {log_path}:\n{log_tail(log_path)}"
            )
        time.sleep(_POLL_S)


def main(argv: Sequence[str] | None = None) -> int:
    """`free-port` prints a free TCP port; `wait` exits 0 once the server answers, 1 otherwise
    (with the reason and the log's tail on stderr)."""
    parser = argparse.ArgumentParser(
        prog="python -m lassi_hpc.llm.block",
        description="helpers of the batch script that starts an LLM server in a Slurm job",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    port = commands.add_parser("free-port", help="print a TCP port that nothing listens on")
    port.add_argument("--host", default="127.0.0.1", help="the address the server will bind")
    wait = commands.add_parser("wait", help="wait until the server's health URL answers")
    wait.add_argument("url", help="the health URL, e.g. http://127.0.0.1:8000/health")
    wait.add_argument("--pid", type=int, required=True, help="the server's process id")
    wait.add_argument("--timeout-s", type=float, required=True, help="seconds to wait at most")
    wait.add_argument("--log", type=Path, required=True, help="the server's log file")
    args = parser.parse_args(argv)
    if args.command == "free-port":
        print(free_port(args.host))
        return 0
    try:
        wait_until_healthy(args.url, args.pid, args.timeout_s, args.log)
    except LLMServerError as error:
        print(f"lassi-hpc: {error}", file=sys.stderr)
        return 1
    print(f"lassi-hpc: LLM server process {args.pid} answers at {args.url}", file=sys.stderr)
    return 0


def _launch_recipe(
    name: str, server: LLMServer
) -> tuple[Callable[[int], list[str]], str, str, tuple[str, ...]]:
    """The command for a port, the health path, where the API key goes, what to unset."""
    if server.kind == "vllm":
        return (lambda port: vllm_command(server, port)), VLLM_HEALTH_PATH, "VLLM_API_KEY", ()
    if server.kind == "embedded":
        model_path = embedded_model_path()
        # llama_cpp.server reads same-named environment variables as settings: a stray API_KEY
        # or CONFIG_FILE in the job's environment would silently change the server.
        return (
            (lambda port: embedded_command(server, model_path, port)),
            EMBEDDED_HEALTH_PATH,
            "API_KEY",
            ("API_KEY", "CONFIG_FILE"),
        )
    raise LLMServerError(
        f"LLM server {name!r}: a {server.kind} server is not started by lassi_hpc; only "
        "embedded and vllm servers can run in a Slurm block"
    )


def _key_check(name: str, api_key_env: str) -> list[str]:
    if not api_key_env:
        return []
    return [
        f'if [ -z "${{{api_key_env}:-}}" ]; then',
        f'  echo "lassi-hpc: LLM server {_shell_words(name)}: the API key variable {api_key_env} '
        "is not set in this job's environment\" >&2",
        "  exit 1",
        "fi",
    ]


def _command_text(command_for_port: Callable[[int], list[str]]) -> str:
    """The command with every argument quoted, and the shell's port after --port."""
    command = command_for_port(0)
    at = command.index("--port") + 1
    return " ".join(
        f'"${_PORT}"' if index == at else shlex.quote(arg) for index, arg in enumerate(command)
    )


def _shown(command_for_port: Callable[[int], list[str]]) -> str:
    command = command_for_port(0)
    command[command.index("--port") + 1] = "PORT"
    return shlex.join(command)


def _shell_words(text: str) -> str:
    """`text` safe inside a double-quoted shell string (for messages)."""
    return re.sub(r"[^A-Za-z0-9_.:/ -]", "_", text)


def _url_host(host: str) -> str:
    # The workers run on the server's node: a wildcard address is reached through loopback.
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An exited child that its parent has not reaped yet still takes signal 0.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def _answers(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return answers_health(
        parts.hostname or "", parts.port, parts.path or "/", https=parts.scheme == "https"
    )


if __name__ == "__main__":
    sys.exit(main())
