"""A fake LLM server binary: `python -m lassi_hpc.testing.serve_scripted --host H --port P`.

Serves one fixed answer (a ScriptedLLM) until SIGTERM or SIGINT. Arguments it does not know are
ignored, so that it can stand in for `vllm serve MODEL ...` on the command line: tests put a
script named `vllm` that runs it on PATH to exercise the launcher with a real process.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from lassi_hpc.testing.scripted_llm import ScriptedLLM


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until a termination signal arrives; the exit status is 0."""
    parser = argparse.ArgumentParser(description="a fake OpenAI-compatible LLM server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model", default="scripted-fake")
    parser.add_argument("--text", default="scripted answer")
    args, _ignored = parser.parse_known_args(argv)
    stopped = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with ScriptedLLM([args.text], model=args.model, host=args.host, port=args.port) as server:
        print(f"scripted-fake LLM listening on {server.base_url}", flush=True)
        stopped.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
