"""The parent side of a sampler process: a `Meter` whose sampling runs in a process of its own.

`open_sampler_process("nvml", {...}, 0.01)` starts `python -m lassi_hpc.energy.sampler_main`
(or, with a launcher such as ("mpiexec", "-n", "4"), `lassi_hpc.energy.mpi_sampler_main`: one
sampler per node) and returns once the sampler has taken its first tick on every node: the workload
may start. Messages are JSON lines (lassi_hpc.energy.sampler_wire). A reader thread collects the
sample batches; `drain_samples()` hands over the ticks since the last drain with the devices'
timestamps aligned to the host clock (lassi_hpc.energy.align, offset from every tick so far).
`read_energy_j()` asks the sampler for a fresh counter read of the measured devices.

The sampler's stderr goes to an unlinked temporary file whose last lines end up in every error
about it.
The sampler runs in a session of its own, so that close() can end it and everything it started
(mpiexec's ranks) and a terminal's Ctrl-C does not reach it before the parent has stopped it; if
the parent dies, the sampler sees its stdin close and exits.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import lassi_hpc
from lassi_hpc.energy.align import device_clock_offset_s, shift_times
from lassi_hpc.energy.backend import BackendChoiceError, BackendUnavailableError
from lassi_hpc.energy.sampler_wire import (
    ContextBackend,
    EnergyReply,
    EnergyRequest,
    FailureKind,
    Message,
    ProblemsReport,
    Ready,
    SampleBatch,
    SamplerFailure,
    SamplerSpec,
    SamplerWireError,
    Stopped,
    StopRequest,
    decode_message,
    encode_message,
)
from lassi_hpc.energy.samples import PowerSamples, empty_samples
from lassi_hpc.errors import LassiError, MeasurementError
from lassi_hpc.records import DeviceIdentity, EnergyMethod

SAMPLER_MODULE = "lassi_hpc.energy.sampler_main"
MPI_SAMPLER_MODULE = "lassi_hpc.energy.mpi_sampler_main"
REPLY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
KILL_WAIT_S = 5.0
TERM_WAIT_S = 2.0
# A sampler that failed to start exits by itself at once; one that hangs is not worth waiting for.
OPEN_FAILED_GRACE_S = 1.0
STDERR_TAIL_LINES = 15
STDERR_TAIL_BYTES = 16384


class SamplerProcess:
    """A running sampler process (see the module docstring); made by open_sampler_process.

    Thread-safe: the protocol may read the counter while another thread drains samples.
    After close(), drain_samples() still returns the last ticks (those of the stop).
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        command: tuple[str, ...],
        stderr_file: IO[bytes],
        spec: SamplerSpec,
    ) -> None:
        self._process = process
        self.command = command
        self._stderr_file = stderr_file
        self._stderr_tail: str | None = None
        self.spec = spec
        self._condition = threading.Condition()
        self._request_lock = threading.Lock()
        self._ready: Ready | None = None
        self.ready_received_s = math.nan
        self._failure: SamplerFailure | None = None
        self._wire_error: SamplerWireError | None = None
        self._replies: dict[int, EnergyReply] = {}
        self._batches: list[SampleBatch] = []
        self._problems: dict[str, tuple[str, ...]] = {}
        self._offsets_s: dict[str, float] = {}
        self._next_request_id = 1
        self._stopped = False
        self._eof = False
        self._closed = False
        self._reader = threading.Thread(
            target=self._read_messages, name="lassi-sampler-reader", daemon=True
        )
        self._reader.start()

    # -- reading the sampler ---------------------------------------------------------------------

    def _read_messages(self) -> None:
        stream = self._process.stdout
        assert stream is not None
        for line in stream:
            if not line.strip():
                continue
            try:
                message = decode_message(line)
            except SamplerWireError as error:
                with self._condition:
                    self._wire_error = self._wire_error or error
                    self._condition.notify_all()
                continue  # keep reading, so the sampler never blocks on a full pipe
            with self._condition:
                self._receive(message)
                self._condition.notify_all()
        with self._condition:
            self._eof = True
            self._condition.notify_all()

    def _receive(self, message: Message) -> None:
        if isinstance(message, SampleBatch):
            self._batches.append(message)
        elif isinstance(message, EnergyReply):
            self._replies[message.request_id] = message
        elif isinstance(message, ProblemsReport):
            self._problems[message.node] = message.lines
        elif isinstance(message, Ready):
            self._ready = message
            self.ready_received_s = time.time()
        elif isinstance(message, SamplerFailure):
            self._failure = self._failure or message
        elif isinstance(message, Stopped):
            self._stopped = True
        else:
            self._wire_error = self._wire_error or SamplerWireError(
                f"the sampler sent a {type(message).__name__}, which only the parent sends"
            )

    # -- errors ----------------------------------------------------------------------------------

    def stderr_tail(self) -> str:
        """The last lines the sampler wrote to stderr (kept after close)."""
        if self._stderr_tail is not None:
            return self._stderr_tail
        try:
            # pread: the sampler shares this file's offset and keeps writing at it.
            fd = self._stderr_file.fileno()
            size = os.fstat(fd).st_size
            start = max(0, size - STDERR_TAIL_BYTES)
            text = os.pread(fd, size - start, start).decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return ""
        return "\n".join(text.strip().splitlines()[-STDERR_TAIL_LINES:])

    def _exit_status(self) -> str:
        try:
            code = self._process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return "still running"
        if code < 0:
            return f"killed by signal {signal.Signals(-code).name} (exit code {code})"
        return f"exit code {code}"

    def _error(self, what: str) -> LassiError:
        """The error for a sampler that failed, died or broke the protocol, with its evidence."""
        if self._failure is not None:
            failure = self._failure
            if failure.kind is FailureKind.UNAVAILABLE:
                return BackendUnavailableError(failure.backend, failure.reason)
            if failure.kind is FailureKind.CHOICE:
                return BackendChoiceError(failure.reason)
            cause = f"it failed: {failure.reason}"
        elif self._wire_error is not None:
            cause = f"its output is corrupt: {self._wire_error}"
        elif self._eof:
            cause = f"it exited unexpectedly ({self._exit_status()})"
        else:
            cause = "it did not answer"
        tail = self.stderr_tail()
        return MeasurementError(
            f"sampler process {' '.join(self.command)} (backend {self.spec.backend!r}): {what}: "
            f"{cause}" + (f"; last lines of its stderr:\n{tail}" if tail else "; stderr was empty")
        )

    def _broken(self) -> bool:
        """The sampler failed, broke the protocol, or ended without being stopped (even during
        close(): its samples are then incomplete)."""
        ended_early = self._eof and not self._stopped
        return self._failure is not None or self._wire_error is not None or ended_early

    def _wait(self, done: Any, timeout_s: float) -> bool:
        """Wait under the condition until done() or the sampler broke or ended; done()'s value."""
        with self._condition:
            self._condition.wait_for(lambda: done() or self._broken() or self._eof, timeout_s)
            return bool(done())

    # -- starting and stopping -------------------------------------------------------------------

    def _send(self, message: Message) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(encode_message(message))
            stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            with self._condition:
                self._condition.wait_for(lambda: self._eof, 2.0)
            raise self._error(f"cannot send {type(message).__name__}") from None

    def _wait_ready(self, timeout_s: float) -> None:
        if self._wait(lambda: self._ready is not None, timeout_s):
            return
        if self._broken() or self._eof:
            if self._wire_error is None:  # it exits by itself: wait for its exit code
                with self._condition:
                    self._condition.wait_for(lambda: self._eof, 2.0)
            raise self._error("not ready")
        raise MeasurementError(
            f"sampler process {' '.join(self.command)} (backend {self.spec.backend!r}) was not "
            f"ready within {timeout_s} s"
            + (f"; last lines of its stderr:\n{tail}" if (tail := self.stderr_tail()) else "")
        )

    def close(self) -> None:
        """Stop the sampler (last tick, last batch), wait for it, kill it after a timeout.

        Harmless when called again or after the sampler died.
        """
        with self._condition:
            if self._closed:
                return
            self._closed = True
        try:
            if self._process.poll() is None and not self._broken():
                try:
                    self._send(StopRequest())
                    self._wait(lambda: self._stopped, STOP_TIMEOUT_S)
                except LassiError:
                    pass  # it died meanwhile; drain_samples() then says so
        finally:
            self._end_process()

    def _end_process(self, grace_s: float = KILL_WAIT_S) -> None:
        """Close stdin, wait up to `grace_s` for the exit, then kill the process group."""
        stdin = self._process.stdin
        if stdin is not None:
            # EOF: a sampler that missed the stop exits on it.
            with contextlib.suppress(OSError):
                stdin.close()
        try:
            self._process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            # Still unreaped, so its process group is certainly ours. SIGTERM first: a launcher
            # (mpiexec, srun) passes it on to its ranks, which live in sessions of their own.
            for signal_number, wait_s in ((signal.SIGTERM, TERM_WAIT_S), (signal.SIGKILL, None)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal_number)
                try:
                    self._process.wait(timeout=wait_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._reader.join(timeout=KILL_WAIT_S)
        if self._process.stdout is not None and not self._reader.is_alive():
            self._process.stdout.close()
        self._stderr_tail = self.stderr_tail()
        self._stderr_file.close()

    def __enter__(self) -> SamplerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the Meter interface ---------------------------------------------------------------------

    def _ready_message(self) -> Ready:
        if self._ready is None:
            raise MeasurementError("the sampler process is not ready")
        return self._ready

    @property
    def name(self) -> str:
        return self._ready_message().name

    @property
    def method(self) -> EnergyMethod:
        return self._ready_message().method

    @property
    def pid(self) -> int:
        """The process id of the sampler (of the launcher, with one)."""
        return self._process.pid

    @property
    def period_s(self) -> float:
        return self.spec.period_s

    @property
    def nodes(self) -> tuple[str, ...]:
        """The nodes sampled (host names; "host rank N" for ranks emulating nodes)."""
        return self._ready_message().nodes

    def devices(self) -> tuple[DeviceIdentity, ...]:
        return self._ready_message().devices

    def context_devices(self) -> tuple[DeviceIdentity, ...]:
        return self._ready_message().context_devices

    def request_energy(self) -> EnergyReply:
        """A fresh counter read of the measured devices (summed over nodes) with its host times.

        MeasurementError when the sampler has died, failed or not answered in REPLY_TIMEOUT_S.
        """
        with self._request_lock:
            with self._condition:
                if self._closed:
                    raise MeasurementError("the sampler process is closed")
                if self._broken():
                    raise self._error("cannot read energy")
                request_id = self._next_request_id
                self._next_request_id += 1
            self._send(EnergyRequest(request_id))
            if not self._wait(lambda: request_id in self._replies, REPLY_TIMEOUT_S):
                raise self._error(f"no reply to energy request {request_id}")
            with self._condition:
                return self._replies.pop(request_id)

    def read_energy_j(self) -> float | None:
        return self.request_energy().energy_j

    def problems(self) -> tuple[str, ...]:
        with self._condition:
            reports = dict(self._problems)
        if len(reports) == 1:
            return next(iter(reports.values()))
        return tuple(f"{node}: {line}" for node, lines in reports.items() for line in lines)

    def drain_samples(self) -> PowerSamples:
        """The ticks received since the last drain, for measured and context devices alike.

        Batches arrive about every 0.2 s; every tick up to a request_energy() reply, and after
        close() every tick up to the stop, has arrived.

        Times are the middle of each tick's host reads; device timestamps are aligned to the host
        clock with the offset from every tick so far. Ticks of several nodes are merged in time
        order, NaN where a tick did not read a device (it was another node's tick).
        MeasurementError when the sampler died or failed before it was stopped.
        """
        with self._condition:
            if self._broken():
                raise self._error("samples incomplete")
            batches, self._batches = self._batches, []
        uids = tuple(d.uid for d in (*self.devices(), *self.context_devices()))
        if not batches:
            return empty_samples(uids)
        for batch in batches:
            update_clock_offsets(self._offsets_s, batch)
        return merge_batches(uids, batches, self._offsets_s)


def update_clock_offsets(offsets_s: dict[str, float], batch: SampleBatch) -> None:
    """Tighten each device's clock offset (s, see energy/align.py) with the ticks of `batch`."""
    for uid, stamps in zip(batch.uids, batch.device_time_s, strict=True):
        offset_s = device_clock_offset_s(stamps, batch.host_after_s)
        if math.isfinite(offset_s):
            offsets_s[uid] = min(offset_s, offsets_s.get(uid, math.inf))


def merge_batches(
    uids: Sequence[str], batches: Sequence[SampleBatch], offsets_s: Mapping[str, float]
) -> PowerSamples:
    """The ticks of `batches` (of one or several nodes) as PowerSamples over the devices `uids`.

    A tick's time is the middle of its host reads; ticks are in time order; a device a tick did
    not read (another node's) is NaN there. Device timestamps are shifted by `offsets_s[uid]`
    (NaN without an offset). MeasurementError for a device that is not in `uids`.
    """
    rows = {uid: index for index, uid in enumerate(uids)}
    ticks: list[tuple[float, int, int]] = []
    for batch_index, batch in enumerate(batches):
        unknown = [uid for uid in batch.uids if uid not in rows]
        if unknown:
            raise MeasurementError(
                f"node {batch.node} sent samples of devices {unknown} that its ready message "
                f"did not list ({', '.join(uids)})"
            )
        for tick, (before_s, after_s) in enumerate(
            zip(batch.host_before_s, batch.host_after_s, strict=True)
        ):
            ticks.append((0.5 * (before_s + after_s), batch_index, tick))
    ticks.sort()
    power_w = [[math.nan] * len(ticks) for _ in uids]
    device_time_s = [[math.nan] * len(ticks) for _ in uids]
    for column, (_, batch_index, tick) in enumerate(ticks):
        batch = batches[batch_index]
        for row_in_batch, uid in enumerate(batch.uids):
            power_w[rows[uid]][column] = batch.power_w[row_in_batch][tick]
            device_time_s[rows[uid]][column] = batch.device_time_s[row_in_batch][tick]
    return PowerSamples(
        tuple(uids),
        tuple(time_s for time_s, _, _ in ticks),
        tuple(tuple(row) for row in power_w),
        tuple(
            shift_times(stamps, offsets_s.get(uid, math.nan))
            for uid, stamps in zip(uids, device_time_s, strict=True)
        ),
    )


def _child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """The sampler's environment: `env` (default: ours) with this lassi_hpc importable."""
    child = dict(os.environ if env is None else env)
    package_root = str(Path(lassi_hpc.__file__).resolve().parents[1])
    paths = [p for p in child.get("PYTHONPATH", "").split(os.pathsep) if p]
    if package_root not in paths:
        child["PYTHONPATH"] = os.pathsep.join([package_root, *paths])
    return child


def open_sampler_process(
    backend: str,
    options: Mapping[str, Any],
    period_s: float,
    *,
    launcher: Sequence[str] = (),
    ready_timeout_s: float = 30.0,
    env: Mapping[str, str] | None = None,
    context: Sequence[ContextBackend] | None = None,
) -> SamplerProcess:
    """Start a sampler of `backend` (opened with the JSON `options`) ticking every `period_s`
    seconds, and return once it has taken its first tick on every node.

    `launcher` (e.g. ("mpiexec", "-n", "2")) runs the MPI sampler under it, one sampler per node.
    `context`: the backends sampled for the node's other devices; None picks them (the measured
    backend with select="all" where it has that option, and RAPL where readable); () samples none.
    `env`: the sampler's environment (default: this process's), with PYTHONPATH extended so that
    this lassi_hpc imports.

    Raises BackendUnavailableError (with the backend's own reason) when the backend cannot be
    opened, BackendChoiceError for an unknown backend or option, and MeasurementError when the
    sampler cannot start, dies, or is not ready within `ready_timeout_s`.
    """
    if not (math.isfinite(period_s) and period_s > 0):
        raise MeasurementError(f"sampling period must be a positive number of s, got {period_s}")
    spec = SamplerSpec(
        backend, dict(options), period_s, None if context is None else tuple(context)
    )
    spec_line = encode_message(spec)  # an option that is not JSON fails here, before any process
    module = MPI_SAMPLER_MODULE if launcher else SAMPLER_MODULE
    command = (*launcher, sys.executable, "-m", module)
    # An unlinked file: it disappears with the last process holding it, even if the parent dies.
    # The SamplerProcess owns it and closes it when the sampler has ended.
    stderr_file = tempfile.TemporaryFile(prefix="lassi-sampler-", suffix=".stderr")  # noqa: SIM115
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            env=_child_env(env),
            start_new_session=True,
        )
    except OSError as error:
        stderr_file.close()
        raise MeasurementError(
            f"cannot start sampler process {' '.join(command)}: {error}"
        ) from None
    sampler = SamplerProcess(process, command, stderr_file, spec)
    try:
        stdin: IO[bytes] | None = process.stdin
        assert stdin is not None
        try:
            stdin.write(spec_line)
            stdin.flush()
        except OSError:
            pass  # it died at once; the wait below says how
        sampler._wait_ready(ready_timeout_s)
    except BaseException:
        sampler._closed = True
        sampler._end_process(grace_s=OPEN_FAILED_GRACE_S)
        raise
    return sampler
