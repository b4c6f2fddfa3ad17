"""A server in use: its endpoint, and for a launched server the process to stop at the end."""

from __future__ import annotations

import atexit
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from lassi_hpc.config.site import LLMServer
from lassi_hpc.llm.client import served_models
from lassi_hpc.llm.endpoint import LLMEndpoint
from lassi_hpc.llm.process import connect_host, launch, stop_process


class RunningServer:
    """A server that answers at `endpoint`. A context manager; stop() is idempotent.

    For a launched server (embedded, vllm), stop() terminates and then kills its process group;
    it also runs at interpreter exit, so that no server outlives the driver that started it. For an
    external server stop() does nothing.
    """

    def __init__(
        self,
        endpoint: LLMEndpoint,
        process: subprocess.Popen[bytes] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.log_path = log_path
        self._process = process
        self._owner_pid = os.getpid()
        if process is not None:
            atexit.register(self.stop)

    @property
    def pid(self) -> int | None:
        """The launched server's process id (also its process group id); None when external."""
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """Stop the launched server and everything it started; does nothing the second time."""
        process, self._process = self._process, None
        # A forked child inherits the atexit entry; only the process that launched may stop.
        if process is None or os.getpid() != self._owner_pid:
            return
        atexit.unregister(self.stop)
        stop_process(process)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"pid={self.pid}" if self._process is not None else "external or stopped"
        return f"RunningServer({self.endpoint.name!r}, {self.endpoint.base_url!r}, {where})"


def start_launched(
    name: str,
    server: LLMServer,
    command_for_port: Callable[[int], list[str]],
    *,
    health_path: str,
    log_dir: Path,
    timeout_s: float,
    retries: int,
    env: Mapping[str, str] | None = None,
) -> RunningServer:
    """Launch a server (see process.launch), then name its model: `server.model` when the server
    lists it, else the first id it lists at /v1/models. The endpoint gets `timeout_s` and
    `retries`. The process is stopped again if anything fails after it started."""
    launched = launch(
        name,
        command_for_port,
        host=server.host,
        port=server.port,
        health_path=health_path,
        log_dir=log_dir,
        startup_timeout_s=server.startup_timeout_s,
        env=env,
    )
    base_url = f"http://{connect_host(server.host)}:{launched.port}/v1"
    try:
        models = served_models(base_url, server.api_key_env)
    except BaseException:
        stop_process(launched.process)
        raise
    endpoint = LLMEndpoint(
        name=name,
        base_url=base_url,
        api=server.api,
        model=server.model if server.model in models else models[0],
        api_key_env=server.api_key_env,
        timeout_s=timeout_s,
        retries=retries,
    )
    return RunningServer(endpoint, launched.process, launched.log_path)
