"""Server launchers: command lines, start failures, and the life of a real (fake) server process.

The stand-in for a server binary is `python -m lassi_hpc.testing.serve_scripted` (a fake
OpenAI-compatible server), put on PATH as a script named `vllm` where the vllm launcher is tested.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from lassi_hpc.config.site import LLMServer
from lassi_hpc.llm import (
    LLMEndpoint,
    LLMServerError,
    RunningServer,
    complete,
    embedded_command,
    embedded_model_path,
    start_server,
    vllm_command,
)
from lassi_hpc.llm.embedded import EMBEDDED_MODEL_ALIAS, check_model_file, start_embedded
from lassi_hpc.llm.process import launch
from lassi_hpc.records import ChatMessage, LLMRequest
from lassi_hpc.testing import ScriptedLLM

FAKE_SERVER = [sys.executable, "-m", "lassi_hpc.testing.serve_scripted"]
REQUEST = LLMRequest("test", (ChatMessage("user", "hello"),), 16, 0.0, seed=3, n=2)


def fake_server_command(port: int) -> list[str]:
    return [*FAKE_SERVER, "--host", "127.0.0.1", "--port", str(port)]


def is_gone(pid: int) -> bool:
    """True when the process no longer runs (a zombie left to a non-reaping init counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def fake_vllm_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `vllm` program on PATH that runs the fake server with whatever arguments it gets."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "vllm"
    script.write_text(
        f'#!/bin/sh\nexec {sys.executable} -m lassi_hpc.testing.serve_scripted "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return script


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_vllm_command_golden() -> None:
    server = LLMServer(
        kind="vllm",
        model="Qwen/Qwen2.5-Coder-7B-Instruct",
        host="0.0.0.0",
        context_tokens=16384,
        tensor_parallel_size=2,
        extra_args=("--gpu-memory-utilization", "0.85"),
    )
    assert vllm_command(server, 8123) == [
        "vllm",
        "serve",
        "Qwen/Qwen2.5-Coder-7B-Instruct",
        "--host",
        "0.0.0.0",
        "--port",
        "8123",
        "--tensor-parallel-size",
        "2",
        "--max-model-len",
        "16384",
        "--enable-prefix-caching",
        "--seed",
        "0",
        "--gpu-memory-utilization",
        "0.85",
    ]


def test_vllm_command_turns_prefix_caching_off_explicitly() -> None:
    server = LLMServer(kind="vllm", model="m", enable_prefix_caching=False)
    command = vllm_command(server, 1)
    assert "--no-enable-prefix-caching" in command
    assert "--enable-prefix-caching" not in command


def test_embedded_command_golden() -> None:
    server = LLMServer(kind="embedded", context_tokens=4096, extra_args=("--n_threads", "2"))
    assert embedded_command(server, Path("/models/g.gguf"), 4321) == [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        "/models/g.gguf",
        "--host",
        "127.0.0.1",
        "--port",
        "4321",
        "--n_ctx",
        "4096",
        "--model_alias",
        EMBEDDED_MODEL_ALIAS,
        "--chat_format",
        "gemma",
        "--n_threads",
        "2",
    ]


def test_a_nonexistent_model_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gguf"
    with pytest.raises(LLMServerError, match=rf"model file {re.escape(str(missing))} does not"):
        start_embedded(
            "embedded", LLMServer(kind="embedded"), missing, tmp_path, timeout_s=1, retries=0
        )


def test_a_model_file_with_other_content_is_rejected(tmp_path: Path) -> None:
    impostor = tmp_path / "gemma.gguf"
    impostor.write_bytes(b"GGUF but not the right one")
    with pytest.raises(LLMServerError, match=r"has sha256 .* expected a5fd3b62"):
        check_model_file(impostor)


def test_missing_llama_cpp_names_the_pip_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(LLMServerError, match=r"llama_cpp.*llm-local"):
        embedded_model_path()


def test_a_server_that_exits_at_once_fails_with_its_log_tail(tmp_path: Path) -> None:
    def crashing(port: int) -> list[str]:
        return [sys.executable, "-c", "print('model load failed: out of memory'); exit(3)"]

    with pytest.raises(LLMServerError) as caught:
        launch(
            "crashy",
            crashing,
            host="127.0.0.1",
            port=0,
            health_path="/health",
            log_dir=tmp_path,
            startup_timeout_s=30,
        )
    message = str(caught.value)
    assert "'crashy' exited with status 3 while starting" in message
    assert "model load failed: out of memory" in message
    assert str(tmp_path / "crashy.log") in message


def test_a_taken_port_is_refused_before_starting(tmp_path: Path, taken_port: int) -> None:
    server = LLMServer(kind="embedded", port=taken_port)
    model = tmp_path / "model.gguf"
    model.write_bytes(b"")
    with pytest.raises(LLMServerError, match=rf"port {taken_port} on 127.0.0.1 is already in use"):
        start_embedded("embedded", server, model, tmp_path, timeout_s=1, retries=0)
    assert not (tmp_path / "embedded.log").exists()


def test_a_port_collision_on_a_picked_port_is_retried(tmp_path: Path) -> None:
    commands: list[int] = []

    def collides_once(port: int) -> list[str]:
        commands.append(port)
        if len(commands) == 1:
            return [sys.executable, "-c", "print('[Errno 98] Address already in use'); exit(1)"]
        return fake_server_command(port)

    launched = launch(
        "busy",
        collides_once,
        host="127.0.0.1",
        port=0,
        health_path="/health",
        log_dir=tmp_path,
        startup_timeout_s=30,
    )
    with RunningServer(_endpoint_at(launched.port), launched.process):
        assert len(commands) == 2
        assert launched.port == commands[1]


def test_a_server_that_never_gets_healthy_is_stopped(tmp_path: Path) -> None:
    def silent(port: int) -> list[str]:
        return [sys.executable, "-c", "import time; print('loading', flush=True); time.sleep(60)"]

    started = time.monotonic()
    with pytest.raises(
        LLMServerError, match=r"did not answer GET .*/health within 0.5 s"
    ) as caught:
        launch(
            "sleepy",
            silent,
            host="127.0.0.1",
            port=0,
            health_path="/health",
            log_dir=tmp_path,
            startup_timeout_s=0.5,
        )
    assert "loading" in str(caught.value)
    assert time.monotonic() - started < 30
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if "time.sleep(60)" in str(p.info)]
    assert all(is_gone(p.pid) for p in leftovers)


def test_vllm_not_on_path_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LLMServerError, match=r"`vllm` program is not on PATH.*lassi_hpc\[vllm\]"):
        start_server("big", LLMServer(kind="vllm", model="m"), tmp_path)


def test_vllm_server_starts_answers_and_stops(tmp_path: Path, fake_vllm_on_path: Path) -> None:
    server = LLMServer(kind="vllm", model="org/model", startup_timeout_s=60)
    running = start_server("big", server, tmp_path / "logs", timeout_s=30, retries=1)
    try:
        pid = running.pid
        assert pid is not None
        endpoint = running.endpoint
        port = int(endpoint.base_url.rsplit(":", 1)[1].removesuffix("/v1"))
        assert endpoint.base_url == f"http://127.0.0.1:{port}/v1"
        # The fake serves its own model name, not the one asked for: the server's list wins.
        assert endpoint.model == "scripted-fake"
        assert (endpoint.timeout_s, endpoint.retries, endpoint.api) == (30, 1, "completions")
        responses = complete(endpoint, REQUEST)
        assert [r.text for r in responses] == ["scripted answer", "scripted answer"]
        log = (tmp_path / "logs" / "big.log").read_text()
        assert "serve org/model --host 127.0.0.1" in log
        assert "listening" in log
    finally:
        running.stop()
    assert is_gone(pid)
    assert not port_answers(port)
    running.stop()  # idempotent
    assert running.pid is None


def test_stop_kills_children_that_ignore_sigterm(tmp_path: Path) -> None:
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"

    def with_child(port: int) -> list[str]:
        script = f"""
            {sys.executable} -c '{stubborn}' &
            echo "child $!"
            exec {" ".join(fake_server_command(port))}
        """
        return ["/bin/sh", "-c", textwrap.dedent(script)]

    launched = launch(
        "family",
        with_child,
        host="127.0.0.1",
        port=0,
        health_path="/health",
        log_dir=tmp_path,
        startup_timeout_s=30,
    )
    running = RunningServer(_endpoint_at(launched.port), launched.process, launched.log_path)
    child = int(re.findall(r"child (\d+)", launched.log_path.read_text())[0])
    try:
        assert not is_gone(child)
        running.stop()
        deadline = time.monotonic() + 10
        while not is_gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert is_gone(child)
        assert is_gone(launched.process.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_no_server_outlives_the_interpreter_that_started_it(
    tmp_path: Path, fake_vllm_on_path: Path
) -> None:
    program = textwrap.dedent(
        f"""
        from pathlib import Path
        from lassi_hpc.config.site import LLMServer
        from lassi_hpc.llm import start_server
        running = start_server("left", LLMServer(kind="vllm", model="m"), Path({str(tmp_path)!r}))
        print(running.pid, running.endpoint.base_url, flush=True)
        """
    )
    finished = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=False
    )
    assert finished.returncode == 0, finished.stderr
    pid_text, base_url = finished.stdout.split()
    assert is_gone(int(pid_text))
    port = int(base_url.rsplit(":", 1)[1].removesuffix("/v1"))
    assert not port_answers(port)


def test_external_server_is_checked_and_never_stopped() -> None:
    with ScriptedLLM(["hi"], model="served-model") as fake:
        server = LLMServer(kind="external", url=fake.base_url + "/", api="chat")
        with start_server("remote", server, Path("/nonexistent"), retries=5) as running:
            assert running.pid is None
            assert running.endpoint.base_url == fake.base_url
            assert running.endpoint.model == "served-model"
            assert running.endpoint.retries == 5
        (response, _) = complete(running.endpoint, REQUEST)
        assert response.text == "hi"


def test_external_server_must_serve_the_named_model() -> None:
    with ScriptedLLM(["hi"], model="served-model") as fake:
        server = LLMServer(kind="external", url=fake.base_url, model="other-model")
        with pytest.raises(
            LLMServerError, match=r"does not serve model 'other-model'.*served-model"
        ):
            start_server("remote", server, Path("/nonexistent"))


def test_unreachable_external_server_names_its_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    server = LLMServer(kind="external", url=url)
    with pytest.raises(LLMServerError, match=rf"'remote'.*{re.escape(url)}.*connection refused"):
        start_server("remote", server, Path("/nonexistent"))


def _endpoint_at(port: int) -> LLMEndpoint:
    return LLMEndpoint("fake", f"http://127.0.0.1:{port}/v1", "completions", "scripted-fake")
