"""The MPI sampler: `mpiexec -n N python -m lassi_hpc.energy.mpi_sampler_main`, one per node.

Node leaders are rank 0 of `COMM_WORLD.Split_type(COMM_TYPE_SHARED)`; with the environment variable
LASSI_HPC_SAMPLER_RANK_IS_NODE=1 every rank is a node of its own, which is how two ranks on one
machine emulate two nodes in tests (with "{rank}" and {"per_rank": [...]} in the options, see
sampler_ticks.options_for_rank). Other ranks only wait for the end.

World rank 0 speaks the same wire protocol as sampler_main on its stdin and stdout (mpiexec
forwards stdin to rank 0 and rank 0's stdout back). It broadcasts the spec; every leader opens its
node's backends and takes its first tick; `ready` goes out once all have. Leaders send their
batches to rank 0 point to point and rank 0 forwards them (each batch names its node, each device
its host). An energy request makes rank 0 ask every leader, read its own counter and answer the sum;
a leader sends its pending batch before its reply, so the parent has every tick up to the reply
first. `stop` (or stdin closing: the parent died) reaches every leader, which takes a last tick,
sends its batch and says `stopped`; then all ranks leave through a non-blocking barrier.

Every rank is single-threaded (MPI_THREAD_SINGLE) and polls (Iprobe) instead of blocking: blocking
MPI calls spin in MPICH, which would take a core from the workload. Rank 0 waits on stdin until its
next tick and forwards what the leaders sent at every wake-up; it polls every REPLY_POLL_S only
while it waits for replies. The other leaders look for requests every LEADER_POLL_S, so a remote
node's counter is read at most that long after the request (an error of at most LEADER_POLL_S x
the node's power: 0.1% of a 5 s window).
"""

from __future__ import annotations

import contextlib
import enum
import os
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lassi_hpc.energy.host import host_name
from lassi_hpc.energy.sampler_main import (
    EXIT_CHOICE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    LineInput,
    ParentGoneError,
    ProtocolOutput,
    failure_for,
    protect_protocol_stream,
    read_spec,
)
from lassi_hpc.energy.sampler_ticks import EnergyRead, NodeSampler, TickGrid, open_node_sampler
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
)
from lassi_hpc.errors import MeasurementError
from lassi_hpc.records import DeviceIdentity, EnergyMethod

if TYPE_CHECKING:
    from mpi4py import MPI

RANK_IS_NODE_ENV = "LASSI_HPC_SAMPLER_RANK_IS_NODE"

# 5 ms: 200 wake-ups a second cost a leader about 1.5% of one core here (a VM, Python 3.11,
# MPICH 5; polling every 2 ms cost 3 to 4%), and delay a remote counter read by 5 ms at most.
LEADER_POLL_S = 0.005
REPLY_POLL_S = 0.0005
# Ranks with nothing to do (non-leaders, the end barrier) look less often.
IDLE_POLL_S = 0.05
REPLY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0

EXIT_CODES = {
    FailureKind.UNAVAILABLE: EXIT_UNAVAILABLE,
    FailureKind.CHOICE: EXIT_CHOICE,
    FailureKind.FAILED: EXIT_FAILED,
}


class Tag(enum.IntEnum):
    ENERGY_REQUEST = 1  # rank 0 -> leader: request id
    STOP = 2  # rank 0 -> leader
    BATCH = 10  # leader -> rank 0: SampleBatch
    PROBLEMS = 11  # leader -> rank 0: ProblemsReport
    ENERGY_REPLY = 12  # leader -> rank 0: (request id, EnergyRead)
    FAILURE = 13  # leader -> rank 0: SamplerFailure
    STOPPED = 14  # leader -> rank 0: its last message


@dataclass(frozen=True)
class NodeOutcome:
    """What a leader says after opening its backends and taking its first tick."""

    rank: int
    node: str
    name: str
    method: EnergyMethod | None
    devices: tuple[DeviceIdentity, ...]
    context_devices: tuple[DeviceIdentity, ...]
    failure: SamplerFailure | None


def wait_for_everyone(world: MPI.Comm) -> None:
    """A barrier that sleeps between tests instead of spinning."""
    request = world.Ibarrier()
    while not request.Test():
        time.sleep(IDLE_POLL_S)


def incoming(world: MPI.Comm, source: int) -> Iterator[tuple[int, int, Any]]:
    """(source, tag, payload) of every message from `source` that has arrived, oldest first."""
    from mpi4py import MPI

    # MPICH's Iprobe moves a message that arrived since the last call into its queue but does not
    # report it until the next call; without this first probe every message waits one poll more.
    world.Iprobe(source=source, tag=MPI.ANY_TAG)
    status = MPI.Status()
    while world.Iprobe(source=source, tag=MPI.ANY_TAG, status=status):
        found_source, tag = status.Get_source(), status.Get_tag()
        yield found_source, tag, world.recv(source=found_source, tag=tag)


class Outbox:
    """Messages from a leader to rank 0, sent without blocking.

    Rank 0 receives only when it wakes (every tick); a blocking send of a batch too large for
    MPI's eager protocol would hold the leader until then and cost it ticks. MPI keeps the order
    of messages between two ranks, so rank 0 still gets them in the order they were sent.
    """

    def __init__(self, world: MPI.Comm) -> None:
        self.world = world
        self.pending: list[MPI.Request] = []

    def send(self, payload: Any, tag: Tag) -> None:
        self.pending.append(self.world.isend(payload, dest=0, tag=tag))
        self.progress()

    def progress(self) -> None:
        self.pending = [request for request in self.pending if not request.Test()]

    def flush(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Wait (sleeping, not spinning) until everything sent has been delivered."""
        deadline_s = time.monotonic() + timeout_s
        while self.pending and time.monotonic() < deadline_s:
            time.sleep(REPLY_POLL_S)
            self.progress()

    def send_node_batch(self, node: NodeSampler) -> None:
        problems = node.take_problems_if_changed()
        if problems is not None:
            self.send(problems, Tag.PROBLEMS)
        batch = node.take_batch()
        if batch is not None:
            self.send(batch, Tag.BATCH)


def run_leader(world: MPI.Comm, node: NodeSampler, spec: SamplerSpec) -> int:
    """A node leader other than rank 0: tick, send batches, answer rank 0 until it says stop."""
    grid = TickGrid(spec.period_s, time.monotonic())
    grid.advance(time.monotonic())  # the first tick was taken before the outcomes were shared
    outbox = Outbox(world)
    failed = False
    while True:
        for _, tag, payload in incoming(world, source=0):
            if tag == Tag.STOP:
                if not failed:
                    node.tick()
                    outbox.send_node_batch(node)
                outbox.send(None, Tag.STOPPED)
                outbox.flush()
                return EXIT_FAILED if failed else EXIT_OK
            if tag == Tag.ENERGY_REQUEST and not failed:
                outbox.send_node_batch(node)
                outbox.send((payload, node.read_energy()), Tag.ENERGY_REPLY)
        outbox.progress()
        if not failed:
            try:
                now_s = time.monotonic()
                if grid.due(now_s):
                    node.tick()
                    grid.advance(now_s)
                    if node.batch_due(now_s):
                        outbox.send_node_batch(node)
            except Exception as error:
                traceback.print_exc()
                failure, _ = failure_for(error, spec.backend)
                outbox.send(_on_node(failure, node.node), Tag.FAILURE)
                failed = True
        wait_s = IDLE_POLL_S if failed else grid.seconds_to_next(time.monotonic())
        time.sleep(wait_s if failed else min(LEADER_POLL_S, wait_s))


def _on_node(failure: SamplerFailure, node: str) -> SamplerFailure:
    return SamplerFailure(failure.kind, failure.backend, f"{node}: {failure.reason}")


class RootSampler:
    """World rank 0: its own node's sampling, the wire protocol, and the other leaders."""

    def __init__(
        self,
        world: MPI.Comm,
        node: NodeSampler,
        spec: SamplerSpec,
        output: ProtocolOutput,
        remote_ranks: tuple[int, ...],
    ) -> None:
        self.world = world
        self.node = node
        self.spec = spec
        self.output = output
        self.remote_ranks = remote_ranks
        self.grid = TickGrid(spec.period_s, time.monotonic())
        self.grid.advance(time.monotonic())
        self.ticking = True
        self.parent_gone = False
        self.failure: SamplerFailure | None = None
        self.replies: dict[int, dict[int, EnergyRead]] = {}
        self.stopped: set[int] = set()

    def emit(self, message: Message) -> None:
        """Send to the parent; once it is gone, messages are dropped (the ranks still stop)."""
        if self.parent_gone:
            return
        try:
            self.output.send(message)
        except ParentGoneError:
            self.parent_gone = True

    def emit_own_batch(self) -> None:
        problems = self.node.take_problems_if_changed()
        if problems is not None:
            self.emit(problems)
        batch = self.node.take_batch()
        if batch is not None:
            self.emit(batch)

    def service(self) -> None:
        """Forward what the leaders sent, and tick when a deadline has come."""
        from mpi4py import MPI

        for source, tag, payload in incoming(self.world, MPI.ANY_SOURCE):
            if tag in (Tag.BATCH, Tag.PROBLEMS):
                self.emit(payload)
            elif tag == Tag.ENERGY_REPLY:
                request_id, read = payload
                self.replies.setdefault(request_id, {})[source] = read
            elif tag == Tag.FAILURE:
                self.failure = self.failure or payload
            elif tag == Tag.STOPPED:
                self.stopped.add(source)
        now_s = time.monotonic()
        if self.ticking and self.grid.due(now_s):
            self.node.tick()
            self.grid.advance(now_s)
            if self.node.batch_due(now_s):
                self.emit_own_batch()

    def answer_energy(self, request_id: int) -> None:
        for rank in self.remote_ranks:
            self.world.send(request_id, dest=rank, tag=Tag.ENERGY_REQUEST)
        own = self.node.read_energy()
        deadline_s = time.monotonic() + REPLY_TIMEOUT_S
        while len(self.replies.get(request_id, {})) < len(self.remote_ranks):
            if self.failure is not None:
                raise MeasurementError(self.failure.reason)
            if time.monotonic() > deadline_s:
                missing = set(self.remote_ranks) - set(self.replies.get(request_id, {}))
                raise MeasurementError(
                    f"ranks {sorted(missing)} did not answer an energy request in "
                    f"{REPLY_TIMEOUT_S} s"
                )
            self.service()
            time.sleep(REPLY_POLL_S)
        reads = [own, *self.replies.pop(request_id, {}).values()]
        self.emit_own_batch()
        energies = [read.energy_j for read in reads]
        total_j = None if any(e is None for e in energies) else sum(e or 0.0 for e in energies)
        self.emit(
            EnergyReply(
                request_id,
                total_j,
                min(read.host_before_s for read in reads),
                max(read.host_after_s for read in reads),
            )
        )

    def stop_all(self, *, last_tick: bool) -> None:
        """Every leader takes its last tick and sends its batch; so does rank 0 if `last_tick`."""
        for rank in self.remote_ranks:
            self.world.send(None, dest=rank, tag=Tag.STOP)
        self.ticking = False
        if last_tick:
            self.node.tick()
        deadline_s = time.monotonic() + STOP_TIMEOUT_S
        while self.stopped != set(self.remote_ranks) and time.monotonic() < deadline_s:
            self.service()
            time.sleep(REPLY_POLL_S)
        if self.stopped != set(self.remote_ranks):
            missing = sorted(set(self.remote_ranks) - self.stopped)
            print(f"ranks {missing} did not stop in {STOP_TIMEOUT_S} s; aborting", file=sys.stderr)
            self.world.Abort(EXIT_FAILED)
        if last_tick:
            self.emit_own_batch()

    def run(self, stdin: LineInput, ready: Ready) -> int:
        self.emit_own_batch()
        self.emit(ready)
        while True:
            stdin.poll(self.grid.seconds_to_next(time.monotonic()))
            for line in stdin.take_lines():
                message = decode_message(line)
                if isinstance(message, EnergyRequest):
                    self.answer_energy(message.request_id)
                elif isinstance(message, StopRequest):
                    self.stop_all(last_tick=True)
                    self.emit(Stopped())
                    return EXIT_OK
                else:
                    raise SamplerWireError(f"unexpected {type(message).__name__} from the parent")
            if stdin.eof or self.parent_gone:
                self.stop_all(last_tick=False)
                return EXIT_OK
            if self.failure is not None:
                raise MeasurementError(self.failure.reason)
            self.service()


def open_and_tick(
    spec: SamplerSpec, node_label: str, rank: int
) -> tuple[NodeSampler | None, NodeOutcome]:
    """Open this leader's node and take its first tick; failures become the outcome."""
    node: NodeSampler | None = None
    try:
        node = open_node_sampler(spec, node_label, rank)
        node.tick()
        return node, NodeOutcome(
            rank,
            node_label,
            node.measured.name,
            node.measured.method,
            node.devices(),
            node.context_devices(),
            None,
        )
    except Exception as error:
        failure, _ = failure_for(error, spec.backend)
        if failure.kind is FailureKind.FAILED:
            traceback.print_exc()
        if node is not None:
            node.close()
        return None, NodeOutcome(rank, node_label, spec.backend, None, (), (), failure)


def ready_from(outcomes: list[NodeOutcome], spec: SamplerSpec) -> Ready:
    first = outcomes[0]
    assert first.method is not None
    return Ready(
        name=first.name,
        method=first.method,
        period_s=spec.period_s,
        devices=tuple(d for o in outcomes for d in o.devices),
        context_devices=tuple(d for o in outcomes for d in o.context_devices),
        nodes=tuple(o.node for o in outcomes),
    )


def main() -> int:
    output = protect_protocol_stream()
    import mpi4py

    # One thread per rank; MPI_THREAD_MULTIPLE (mpi4py's default) is not needed and costs locks.
    mpi4py.rc.thread_level = "single"
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    rank = world.Get_rank()
    stdin = LineInput(sys.stdin.fileno()) if rank == 0 else None
    spec: SamplerSpec | None = None
    if stdin is not None:
        try:
            spec = read_spec(stdin)
        except SamplerWireError as error:
            with contextlib.suppress(ParentGoneError):
                output.send(failure_for(error, "?")[0])
    spec = world.bcast(spec, root=0)
    if spec is None:
        wait_for_everyone(world)
        return EXIT_OK

    rank_is_node = os.environ.get(RANK_IS_NODE_ENV) == "1"
    node_comm = MPI.COMM_SELF if rank_is_node else world.Split_type(MPI.COMM_TYPE_SHARED, key=rank)
    is_leader = node_comm.Get_rank() == 0
    leaders = world.Split(0 if is_leader else MPI.UNDEFINED, key=rank)
    if not is_leader:
        wait_for_everyone(world)
        return EXIT_OK

    node_label = f"{host_name()} rank {rank}" if rank_is_node else host_name()
    node, outcome = open_and_tick(spec, node_label, rank)
    outcomes: list[NodeOutcome] = leaders.allgather(outcome)
    failed = [o for o in outcomes if o.failure is not None]
    if node is None or failed:
        code = EXIT_FAILED
        if failed and failed[0].failure is not None:
            failure = failed[0].failure
            if len(outcomes) > 1:
                failure = _on_node(failure, failed[0].node)
            code = EXIT_CODES[failure.kind]
            if rank == 0:
                with contextlib.suppress(ParentGoneError):
                    output.send(failure)
        if node is not None:
            node.close()
        wait_for_everyone(world)
        return code

    try:
        if rank != 0:
            code = run_leader(world, node, spec)
        else:
            assert stdin is not None
            remote = tuple(o.rank for o in outcomes if o.rank != 0)
            root = RootSampler(world, node, spec, output, remote)
            try:
                code = root.run(stdin, ready_from(outcomes, spec))
            except Exception as error:
                failure, code = failure_for(error, spec.backend)
                if failure.kind is FailureKind.FAILED:
                    traceback.print_exc()
                root.emit(failure)
                root.stop_all(last_tick=False)
    finally:
        node.close()
    wait_for_everyone(world)
    return code


if __name__ == "__main__":
    sys.exit(main())
