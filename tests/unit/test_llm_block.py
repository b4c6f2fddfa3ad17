"""The LLM node's block: the worker_init that starts a server, waits for it, exports its URL and
watches it; the `wait` helper; endpoints whose base URL comes from the block's environment.

Stand-ins for vendor programs, put on PATH: `vllm` runs the fake OpenAI-compatible server
(lassi_hpc.testing.serve_scripted), `scancel` records the job it was asked to cancel.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lassi_hpc.config import load_campaign, load_site
from lassi_hpc.config.site import LLMServer, SlurmJob
from lassi_hpc.flow.campaign import _llm_servers, ask_llm
from lassi_hpc.llm import LLMEndpoint, LLMServerError
from lassi_hpc.llm.block import (
    block_endpoint,
    llm_url_env,
    main,
    server_start_script,
    wait_until_healthy,
)
from lassi_hpc.llm.embedded import EMBEDDED_MODEL_ALIAS
from lassi_hpc.llm.endpoint import resolve_base_url
from lassi_hpc.records import ChatMessage, LLMRequest
from lassi_hpc.testing import ScriptedLLM

VLLM = LLMServer(kind="vllm", model="org/model", slurm=SlurmJob(partition="llm"))
REQUEST = LLMRequest("test", (ChatMessage("user", "hello"),), 16, 0.0, seed=3)

FAKE_VLLM = f"""#!/bin/sh
# Stand-in for vLLM's program: the fake OpenAI-compatible server, given the same arguments.
exec {sys.executable} -m lassi_hpc.testing.serve_scripted "$@"
"""
FAKE_VLLM_THAT_FAILS = """#!/bin/sh
# Stand-in for a vLLM that cannot start.
echo "RuntimeError: CUDA out of memory (fake)"
exit 3
"""
FAKE_SCANCEL = """#!/bin/sh
# Stand-in for scancel: records the job it was asked to cancel.
echo "$1" > "$FAKE_DIR/scancelled"
"""


def put_on_path(bin_dir: Path, name: str, text: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / name
    program.write_text(text)
    program.chmod(program.stat().st_mode | stat.S_IXUSR)


def block_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LASSI_HPC_", "VLLM_", "SLURM_"))
    }
    env.update(
        PATH=f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        FAKE_DIR=str(tmp_path),
        SLURM_JOB_ID="4242",
        **extra,
    )
    return env


@contextlib.contextmanager
def batch_shell(script: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """Run `script` as Slurm runs a batch script (a file, by bash); afterwards kill everything it
    left running."""
    path = Path(env["FAKE_DIR"]) / "batch_script.sh"
    path.write_text(script)
    shell = subprocess.Popen(
        ["bash", str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield shell
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
        shell.communicate(timeout=30)


def read_until(stream: object, pattern: str, timeout_s: float = 60.0) -> re.Match[str]:
    assert hasattr(stream, "readline")
    found: list[re.Match[str]] = []

    def scan() -> None:
        for line in iter(stream.readline, ""):
            match = re.search(pattern, line)
            if match:
                found.append(match)
                return

    reader = threading.Thread(target=scan, daemon=True)
    reader.start()
    reader.join(timeout_s)
    assert found, f"no line matching {pattern!r} within {timeout_s} s"
    return found[0]


def get(url: str) -> tuple[int, bytes]:
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", "/" + path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# ---- the worker_init script --------------------------------------------------------------------


def test_block_script_starts_the_server_waits_exports_the_url_and_watches_it(
    tmp_path: Path,
) -> None:
    put_on_path(tmp_path / "bin", "vllm", FAKE_VLLM)
    put_on_path(tmp_path / "bin", "scancel", FAKE_SCANCEL)
    log_dir = tmp_path / "run dir"
    script = server_start_script("coder", VLLM, log_dir, watch_period_s=0.2)
    # What the workers would do next, in place of the worker pool: use the URL, then stay.
    script += 'echo "URL=$LASSI_HPC_LLM_URL_CODER PID=$lassi_llm_pid"\nsleep 60\n'
    with batch_shell(script, block_env(tmp_path)) as shell:
        started = read_until(shell.stdout, r"URL=(\S+) PID=(\d+)")
        url, pid = started.group(1), int(started.group(2))
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", url)
        status, body = get(url + "/models")
        assert status == 200
        assert json.loads(body)["data"][0]["id"] == "scripted-fake"
        log = log_dir / "coder.slurm-4242.log"
        assert "lassi-hpc starts LLM server coder in Slurm job 4242" in log.read_text()
        assert "vllm serve org/model --host 127.0.0.1 --port PORT" in log.read_text()
        # The server dies: the watchdog cancels the job, so that Parsl starts another block.
        os.kill(pid, signal.SIGKILL)
        deadline_s = time.monotonic() + 30
        while not (tmp_path / "scancelled").exists() and time.monotonic() < deadline_s:
            time.sleep(0.1)
        assert (tmp_path / "scancelled").read_text().strip() == "4242"
        assert "LLM server coder exited" in log.read_text()


def test_block_fails_with_the_log_tail_when_the_server_exits_while_starting(
    tmp_path: Path,
) -> None:
    put_on_path(tmp_path / "bin", "vllm", FAKE_VLLM_THAT_FAILS)
    script = server_start_script("coder", VLLM, tmp_path / "run") + 'echo "workers start"\n'
    with batch_shell(script, block_env(tmp_path)) as shell:
        stdout, stderr = shell.communicate(timeout=60)
    assert shell.returncode == 1
    assert "workers start" not in stdout
    assert "exited before it answered GET http://127.0.0.1:" in stderr
    assert "CUDA out of memory (fake)" in stderr  # the log's tail


def test_block_fails_before_starting_when_the_api_key_variable_is_unset(tmp_path: Path) -> None:
    put_on_path(tmp_path / "bin", "vllm", FAKE_VLLM)
    server = LLMServer(kind="vllm", model="m", api_key_env="CODER_KEY")
    script = server_start_script("coder", server, tmp_path / "run")
    assert "secret" not in script
    with batch_shell(script, block_env(tmp_path)) as shell:
        _, stderr = shell.communicate(timeout=60)
    assert shell.returncode == 1
    assert "the API key variable CODER_KEY is not set" in stderr
    assert not list((tmp_path / "run").glob("*.log"))  # nothing was started


def test_block_script_with_a_fixed_port_and_a_wildcard_host(tmp_path: Path) -> None:
    server = LLMServer(kind="vllm", model="m", host="0.0.0.0", port=8123)
    script = server_start_script("Big-Model", server, tmp_path)
    assert "lassi_llm_port=8123\n" in script
    assert "free-port" not in script
    assert "--host 0.0.0.0" in script
    # The workers are on the server's node: loopback reaches a wildcard listener.
    assert "export LASSI_HPC_LLM_URL_BIG_MODEL=http://127.0.0.1:" in script


def test_embedded_block_script_runs_llama_cpp_without_stray_settings(tmp_path: Path) -> None:
    server = LLMServer(kind="embedded", api_key_env="LOCAL_KEY", slurm=SlurmJob(partition="llm"))
    try:
        script = server_start_script("embedded", server, tmp_path)
    except LLMServerError as error:
        pytest.skip(f"the embedded model is not installed: {error}")
    assert "-m llama_cpp.server --model" in script
    assert '--port "$lassi_llm_port"' in script
    assert "unset API_KEY CONFIG_FILE" in script
    assert 'export API_KEY="$LOCAL_KEY"' in script
    assert "/v1/models --pid" in script  # its health URL
    syntax = subprocess.run(
        ["bash", "-n"], input=script, text=True, capture_output=True, check=False
    )
    assert syntax.returncode == 0, syntax.stderr


def test_external_servers_are_not_started_in_a_block(tmp_path: Path) -> None:
    with pytest.raises(LLMServerError, match="only embedded and vllm"):
        server_start_script("remote", LLMServer(kind="external", url="http://h:1/v1"), tmp_path)


def test_an_api_key_env_that_is_not_a_variable_name_is_refused(tmp_path: Path) -> None:
    server = LLMServer(kind="vllm", model="m", api_key_env="KEY; rm -rf /")
    with pytest.raises(LLMServerError, match="not an environment variable name"):
        server_start_script("coder", server, tmp_path)


# ---- wait --------------------------------------------------------------------------------------


@contextlib.contextmanager
def health_server(healthy_after_s: float) -> Iterator[tuple[str, list[int]]]:
    """A tiny HTTP server whose /health answers 503 until `healthy_after_s` seconds passed."""
    ready_at_s = time.monotonic() + healthy_after_s
    answers: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if time.monotonic() >= ready_at_s else 503
            answers.append(status)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health", answers
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_wait_returns_once_the_server_answers(tmp_path: Path) -> None:
    with health_server(healthy_after_s=1.0) as (url, answers):
        wait_until_healthy(url, os.getpid(), 30.0, tmp_path / "server.log")
    assert answers[-1] == 200
    assert 503 in answers  # it did wait


def test_wait_fails_with_the_log_tail_when_the_process_exits(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            ["sh", "-c", "echo 'loading model'; echo 'ValueError: no such model (fake)'; exit 2"],
            stdout=output,
        )
    try:
        with (
            health_server(healthy_after_s=3600) as (url, _),
            pytest.raises(LLMServerError) as raised,
        ):
            wait_until_healthy(url, process.pid, 30.0, log)
    finally:
        process.wait()
    message = str(raised.value)
    assert f"process {process.pid} exited before it answered GET {url}" in message
    assert "ValueError: no such model (fake)" in message


def test_wait_gives_up_after_its_timeout(tmp_path: Path) -> None:
    (tmp_path / "server.log").write_text("still loading\n")
    with (
        health_server(healthy_after_s=3600) as (url, _),
        pytest.raises(LLMServerError, match=r"did not answer GET .* within 0\.6 s"),
    ):
        wait_until_healthy(url, os.getpid(), 0.6, tmp_path / "server.log")


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["free-port", "--host", "127.0.0.1"]) == 0
    assert 0 < int(capsys.readouterr().out) < 65536
    log = str(tmp_path / "none.log")
    code = main(
        ["wait", "http://127.0.0.1:9/h", "--pid", "999999999", "--timeout-s", "5", "--log", log]
    )
    assert code == 1
    assert "exited before it answered" in capsys.readouterr().err


# ---- endpoints whose base URL is the block's ----------------------------------------------------


def test_block_endpoint_reads_its_url_from_the_blocks_environment() -> None:
    endpoint = block_endpoint("coder", VLLM, timeout_s=30.0, retries=1)
    assert endpoint.base_url == ""
    assert endpoint.base_url_env == llm_url_env("coder") == "LASSI_HPC_LLM_URL_CODER"
    assert endpoint.model == "org/model"
    assert (endpoint.timeout_s, endpoint.retries) == (30.0, 1)
    resolved = resolve_base_url(endpoint, {"LASSI_HPC_LLM_URL_CODER": "http://node7:8000/v1/"})
    assert resolved.base_url == "http://node7:8000/v1"
    assert resolved.base_url_env == ""
    assert resolve_base_url(resolved) is resolved
    embedded = block_endpoint("e", LLMServer(kind="embedded"), timeout_s=1.0, retries=0)
    assert embedded.model == EMBEDDED_MODEL_ALIAS


def test_resolving_outside_the_block_names_the_variable() -> None:
    endpoint = block_endpoint("coder", VLLM, timeout_s=30.0, retries=1)
    with pytest.raises(LLMServerError, match="LASSI_HPC_LLM_URL_CODER is not set"):
        resolve_base_url(endpoint, {})
    with pytest.raises(LLMServerError, match="must start with http"):
        resolve_base_url(endpoint, {"LASSI_HPC_LLM_URL_CODER": "node7:8000"})


def test_endpoint_checks_base_url_env() -> None:
    with pytest.raises(LLMServerError, match="not both"):
        LLMEndpoint("x", "http://h:1/v1", "chat", "m", base_url_env="URL")
    with pytest.raises(LLMServerError, match="not an environment variable name"):
        LLMEndpoint("x", "", "chat", "m", base_url_env="A-B")
    with pytest.raises(LLMServerError, match="must start with http"):
        LLMEndpoint("x", "", "chat", "m")


def test_ask_llm_sends_to_the_url_of_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = block_endpoint(
        "coder", LLMServer(kind="vllm", model="scripted-fake"), timeout_s=10.0, retries=0
    )
    with ScriptedLLM(["from the block"]) as server:
        monkeypatch.setenv("LASSI_HPC_LLM_URL_CODER", server.base_url)
        (response,) = ask_llm(endpoint, REQUEST)
    assert response.ok, response.error
    assert response.text == "from the block"
    assert response.endpoint == server.base_url


def test_driver_does_not_start_a_server_that_runs_in_a_block(tmp_path: Path) -> None:
    site_file = tmp_path / "site.toml"
    site_file.write_text(
        "[site]\nname = 's'\nscheduler = 'slurm'\n[slurm]\n"
        "[toolchains.g]\nlanguage = 'omp'\ncompiler = 'g++'\n"
        "[[partitions]]\nname = 'cpu'\ntoolchain = 'g'\n"
        "[llm_servers.coder]\nkind = 'vllm'\nmodel = 'org/model'\n"
        "[llm_servers.coder.slurm]\npartition = 'llm'\n"
    )
    campaign_file = tmp_path / "campaign.toml"
    campaign_file.write_text(
        "[campaign]\nname = 't'\nresults_dir = 'out'\n[[apps]]\nname = 'any'\n"
        "[llm]\ngenerator = 'coder'\ntimeout_s = 12\nretries = 1\n"
    )
    roles = {"generator": "coder", "judge": "coder"}
    site, campaign = load_site(site_file), load_campaign(campaign_file)
    # No `vllm` on PATH here: starting it would fail.
    with _llm_servers(roles, site, campaign, tmp_path / "run") as endpoints:
        assert endpoints["generator"] == endpoints["judge"]
        assert endpoints["generator"].base_url_env == "LASSI_HPC_LLM_URL_CODER"
        assert endpoints["generator"].name == "coder"
        assert (endpoints["generator"].timeout_s, endpoints["generator"].retries) == (12.0, 1)
