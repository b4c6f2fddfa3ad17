"""The sampler process: `python -m lassi_hpc.energy.sampler_main`, started by SamplerProcess.

It reads a spec line on stdin (lassi_hpc.energy.sampler_wire), opens the node's backends, takes a
tick every period on a fixed grid and sends `ready` after the first one. It then streams sample
batches (about every FLUSH_INTERVAL_S and before every reply), answers energy requests with a fresh
counter read, and exits on `stop` (after a last tick and a final batch) or when stdin closes (the
parent is gone). One thread: select() on stdin, with the time to the next tick as timeout.

The protocol goes to the process's original stdout, which is moved away from fd 1 before anything
else happens: fd 1 then points at stderr, so prints and vendor libraries' noise (amdsmi prints on
import) can never corrupt the stream.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import time
import traceback

from lassi_hpc.energy.backend import BackendChoiceError, BackendUnavailableError
from lassi_hpc.energy.host import host_name
from lassi_hpc.energy.sampler_ticks import NodeSampler, TickGrid, open_node_sampler
from lassi_hpc.energy.sampler_wire import (
    EnergyReply,
    EnergyRequest,
    FailureKind,
    Message,
    Ready,
    SamplerFailure,
    SamplerSpec,
    SamplerWireError,
    Stopped,
    StopRequest,
    decode_message,
    encode_message,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CHOICE = 2
EXIT_UNAVAILABLE = 3


class ParentGoneError(Exception):
    """The protocol stream is closed: nobody is listening any more."""


class ProtocolOutput:
    """The protocol stream: whole lines written with os.write, never through sys.stdout."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, message: Message) -> None:
        data = encode_message(message)
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except (BrokenPipeError, ConnectionResetError):
            raise ParentGoneError from None


def protect_protocol_stream() -> ProtocolOutput:
    """Keep the original stdout for the protocol and point fd 1 (and sys.stdout) at stderr.

    Must run before anything can print: C libraries write to fd 1 directly, so replacing
    sys.stdout alone would not be enough.
    """
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.set_inheritable(protocol_fd, False)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return ProtocolOutput(protocol_fd)


class LineInput:
    """Lines from a file descriptor read with os.read, so select() on it never misses buffered
    data (a text wrapper's buffer is invisible to select)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.eof = False
        self._partial = b""
        self._lines: list[bytes] = []

    def poll(self, timeout_s: float | None) -> None:
        """Wait up to `timeout_s` (None: until data or EOF) and queue the complete lines read.

        Returns at once when lines are already queued or stdin is closed.
        """
        if self._lines or self.eof:
            return
        readable, _, _ = select.select([self.fd], [], [], timeout_s)
        if not readable:
            return
        chunk = os.read(self.fd, 65536)
        if not chunk:
            self.eof = True
            chunk = b"\n"  # a last line without its newline still counts
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        self._lines.extend(line for line in lines if line.strip())

    def take_lines(self) -> list[bytes]:
        """The queued lines, oldest first; the queue is then empty."""
        lines, self._lines = self._lines, []
        return lines

    def first_line(self) -> bytes | None:
        """Block until one complete line arrives; None on EOF first. Later lines stay queued."""
        while not self._lines and not self.eof:
            self.poll(None)
        return self._lines.pop(0) if self._lines else None


def read_spec(stdin: LineInput) -> SamplerSpec | None:
    """The spec line; None when stdin closes first; SamplerWireError when it is not a spec."""
    line = stdin.first_line()
    if line is None:
        return None
    message = decode_message(line)
    if not isinstance(message, SamplerSpec):
        raise SamplerWireError(f"the first line must be a spec, got a {type(message).__name__}")
    return message


def failure_for(error: BaseException, backend: str) -> tuple[SamplerFailure, int]:
    """The failure message and exit code for an error that ends the sampler."""
    if isinstance(error, BackendUnavailableError):
        return SamplerFailure(
            FailureKind.UNAVAILABLE, error.backend, error.reason
        ), EXIT_UNAVAILABLE
    if isinstance(error, BackendChoiceError):
        return SamplerFailure(FailureKind.CHOICE, backend, str(error)), EXIT_CHOICE
    return (
        SamplerFailure(FailureKind.FAILED, backend, f"{type(error).__name__}: {error}"),
        EXIT_FAILED,
    )


def send_batch(node: NodeSampler, output: ProtocolOutput) -> None:
    """The node's pending ticks and, when they changed, its problem lines."""
    problems = node.take_problems_if_changed()
    if problems is not None:
        output.send(problems)
    batch = node.take_batch()
    if batch is not None:
        output.send(batch)


def run_local(
    node: NodeSampler, spec: SamplerSpec, stdin: LineInput, output: ProtocolOutput
) -> int:
    """The sampling loop of a single node; returns the exit code."""
    grid = TickGrid(spec.period_s, time.monotonic())
    node.tick()
    grid.advance(time.monotonic())
    send_batch(node, output)
    output.send(
        Ready(
            name=node.measured.name,
            method=node.measured.method,
            period_s=spec.period_s,
            devices=node.devices(),
            context_devices=node.context_devices(),
            nodes=(node.node,),
        )
    )
    while True:
        stdin.poll(grid.seconds_to_next(time.monotonic()))
        for line in stdin.take_lines():
            message = decode_message(line)
            if isinstance(message, EnergyRequest):
                send_batch(node, output)
                read = node.read_energy()
                output.send(
                    EnergyReply(
                        message.request_id, read.energy_j, read.host_before_s, read.host_after_s
                    )
                )
            elif isinstance(message, StopRequest):
                node.tick()
                send_batch(node, output)
                output.send(Stopped())
                return EXIT_OK
            else:
                raise SamplerWireError(f"unexpected {type(message).__name__} from the parent")
        if stdin.eof:
            return EXIT_OK
        now_s = time.monotonic()
        if grid.due(now_s):
            node.tick()
            grid.advance(now_s)
            if node.batch_due(now_s):
                send_batch(node, output)


def main() -> int:
    output = protect_protocol_stream()
    stdin = LineInput(sys.stdin.fileno())
    backend = "?"
    node: NodeSampler | None = None
    try:
        spec = read_spec(stdin)
        if spec is None:
            return EXIT_OK
        backend = spec.backend
        node = open_node_sampler(spec, host_name())
        return run_local(node, spec, stdin, output)
    except ParentGoneError:
        return EXIT_OK
    except Exception as error:
        failure, code = failure_for(error, backend)
        if failure.kind is FailureKind.FAILED:
            traceback.print_exc()
        with contextlib.suppress(ParentGoneError):
            output.send(failure)
        return code
    finally:
        if node is not None:
            node.close()


if __name__ == "__main__":
    sys.exit(main())
