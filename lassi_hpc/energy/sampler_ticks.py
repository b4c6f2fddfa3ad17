"""One node's sampling, shared by the local sampler and every node leader of the MPI sampler.

A `NodeSampler` holds the node's backends: the measured one (opened from the spec's options) and
the context ones (the node's other devices, the CPU). A tick reads every device of every backend
between two host clock reads; ticks collect until `take_batch()` hands them over as a
`SampleBatch`. Energy requests read the measured backend's counter. `TickGrid` keeps the tick
deadlines on a fixed grid so that reading time never accumulates as drift.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lassi_hpc.energy.backend import (
    BackendUnavailableError,
    EnergyBackend,
    backend_spec,
    open_backend,
)
from lassi_hpc.energy.sampler_wire import ContextBackend, ProblemsReport, SampleBatch, SamplerSpec
from lassi_hpc.errors import MeasurementError
from lassi_hpc.records import DeviceIdentity

# Batches go out about five times a second: often enough that a parent draining after a window
# waits for little, rarely enough that encoding and the pipe cost nothing next to the reads.
FLUSH_INTERVAL_S = 0.2

RANK_PLACEHOLDER = "{rank}"
PER_RANK_KEY = "per_rank"


def options_for_rank(options: Mapping[str, Any], rank: int) -> dict[str, Any]:
    """Backend options as the process of MPI rank `rank` must use them.

    In every string, "{rank}" becomes the rank; an object {"per_rank": [v0, v1, ...]} anywhere in
    the options becomes its element `rank`. This is how ranks emulating nodes get devices of their
    own (uids ["gpu-{rank}"]) and different fake powers ({"per_rank": [100, 200]}); real backends
    need neither. The local sampler is rank 0.
    """
    resolved = _for_rank(dict(options), rank, "options")
    assert isinstance(resolved, dict)
    return resolved


def _for_rank(value: Any, rank: int, where: str) -> Any:
    if isinstance(value, str):
        return value.replace(RANK_PLACEHOLDER, str(rank))
    if isinstance(value, list):
        return [_for_rank(item, rank, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        if set(value) == {PER_RANK_KEY}:
            choices = value[PER_RANK_KEY]
            if not isinstance(choices, list) or rank >= len(choices):
                count = len(choices) if isinstance(choices, list) else "no"
                raise MeasurementError(
                    f"{where}: {{'per_rank': ...}} has {count} values, none for rank {rank}"
                )
            return _for_rank(choices[rank], rank, where)
        return {key: _for_rank(item, rank, f"{where}.{key}") for key, item in value.items()}
    return value


def automatic_context(backend: str, options: Mapping[str, Any]) -> tuple[ContextBackend, ...]:
    """The context backends when the spec names none.

    The measured backend again with select="all" where it declares `select` (the node's other
    GPUs), and RAPL (the CPU packages) unless it is the measured backend.
    """
    context = []
    if "select" in backend_spec(backend).options and options.get("select") != "all":
        context.append(ContextBackend(backend, {**options, "select": "all"}))
    if backend != "rapl":
        context.append(ContextBackend("rapl", {}))
    return tuple(context)


@dataclass(frozen=True)
class EnergyRead:
    """Cumulative joules of the measured devices (None: no counter), read between two host times
    (s since the epoch)."""

    energy_j: float | None
    host_before_s: float
    host_after_s: float


class NodeSampler:
    """The backends of one node, their ticks since the last batch, and their problem lines.

    `context` backends may repeat measured devices (select="all" lists every GPU); those are
    sampled once, from the measured backend.
    """

    def __init__(
        self,
        node: str,
        measured: EnergyBackend,
        context: Sequence[EnergyBackend] = (),
        notes: Sequence[str] = (),
    ) -> None:
        self.node = node
        self.measured = measured
        measured_uids = {d.uid for d in measured.devices()}
        self.context: list[tuple[EnergyBackend, frozenset[str]]] = []
        context_devices: list[DeviceIdentity] = []
        for backend in context:
            fresh = [
                d
                for d in backend.devices()
                if d.uid not in measured_uids and all(d.uid != c.uid for c in context_devices)
            ]
            if fresh:
                self.context.append((backend, frozenset(d.uid for d in fresh)))
                context_devices.extend(fresh)
            else:
                backend.close()
        self._context_devices = tuple(context_devices)
        self._notes = tuple(notes)
        self.uids = tuple(d.uid for d in (*self.devices(), *self._context_devices))
        self._clear()
        self._sent_problems: tuple[str, ...] | None = None
        self.last_batch_s = time.monotonic()

    def _clear(self) -> None:
        self._before_s: list[float] = []
        self._after_s: list[float] = []
        self._power_w: list[list[float]] = [[] for _ in self.uids]
        self._device_time_s: list[list[float]] = [[] for _ in self.uids]

    def devices(self) -> tuple[DeviceIdentity, ...]:
        return self.measured.devices()

    def context_devices(self) -> tuple[DeviceIdentity, ...]:
        return self._context_devices

    def tick(self) -> None:
        """Read every device once; the tick's host times bracket all the reads."""
        before_s = time.time()
        readings = list(self.measured.read_devices())
        for backend, uids in self.context:
            readings.extend(r for r in backend.read_devices() if r.uid in uids)
        after_s = time.time()
        if len(readings) != len(self.uids):
            raise MeasurementError(
                f"{self.node}: a tick read {len(readings)} devices, expected {len(self.uids)} "
                f"({', '.join(self.uids)}); a backend's read_devices() does not match devices()"
            )
        self._before_s.append(before_s)
        self._after_s.append(after_s)
        for row, (uid, reading) in enumerate(zip(self.uids, readings, strict=True)):
            if reading.uid != uid:
                raise MeasurementError(
                    f"{self.node}: reading of device {reading.uid!r} where {uid!r} was expected"
                )
            self._power_w[row].append(reading.power_w)
            self._device_time_s[row].append(reading.device_time_s)

    @property
    def pending_ticks(self) -> int:
        return len(self._before_s)

    def batch_due(self, now_s: float) -> bool:
        """Whether FLUSH_INTERVAL_S has passed since the last batch (time.monotonic() seconds)."""
        return now_s - self.last_batch_s >= FLUSH_INTERVAL_S

    def take_batch(self) -> SampleBatch | None:
        """The ticks since the last batch (None when there are none); they are then forgotten."""
        self.last_batch_s = time.monotonic()
        if not self._before_s:
            return None
        batch = SampleBatch(
            node=self.node,
            uids=self.uids,
            host_before_s=tuple(self._before_s),
            host_after_s=tuple(self._after_s),
            power_w=tuple(tuple(row) for row in self._power_w),
            device_time_s=tuple(tuple(row) for row in self._device_time_s),
        )
        self._clear()
        return batch

    def read_energy(self) -> EnergyRead:
        """A fresh counter read of the measured devices, with the host times around it."""
        before_s = time.time()
        energy_j = self.measured.read_energy_j()
        after_s = time.time()
        return EnergyRead(energy_j, before_s, after_s)

    def problems(self) -> tuple[str, ...]:
        lines = [*self._notes, *self.measured.problems()]
        for backend, _ in self.context:
            lines.extend(f"{backend.name} (context): {line}" for line in backend.problems())
        return tuple(lines)

    def take_problems_if_changed(self) -> ProblemsReport | None:
        """The node's problem lines when they changed since the last call, else None."""
        lines = self.problems()
        if lines == self._sent_problems or (not lines and self._sent_problems is None):
            return None
        self._sent_problems = lines
        return ProblemsReport(self.node, lines)

    def close(self) -> None:
        for backend in (self.measured, *(b for b, _ in self.context)):
            try:
                backend.close()
            except Exception as error:  # closing must not hide what happened before it
                print(f"{self.node}: closing {backend.name} failed: {error}", file=sys.stderr)


def open_node_sampler(spec: SamplerSpec, node: str, rank: int = 0) -> NodeSampler:
    """Open the node's measured backend (its errors propagate: BackendUnavailableError,
    BackendChoiceError, ...) and its context backends (an unavailable one is left out silently;
    one that fails otherwise is left out with a problem line)."""
    if not (math.isfinite(spec.period_s) and spec.period_s > 0):
        raise MeasurementError(
            f"sampling period must be a positive number of s, got {spec.period_s}"
        )
    options = options_for_rank(spec.options, rank)
    measured = open_backend(spec.backend, **options)
    context_specs = (
        spec.context if spec.context is not None else automatic_context(spec.backend, options)
    )
    context: list[EnergyBackend] = []
    notes: list[str] = []
    try:
        for entry in context_specs:
            try:
                context.append(open_backend(entry.backend, **options_for_rank(entry.options, rank)))
            except BackendUnavailableError as error:
                # Context is a bonus (RAPL is root-only on most kernels): say why on stderr only.
                print(f"{node}: no context from {entry.backend}: {error.reason}", file=sys.stderr)
            except Exception as error:
                notes.append(
                    f"context backend {entry.backend} not sampled: {type(error).__name__}: {error}"
                )
        return NodeSampler(node, measured, context, notes)
    except BaseException:
        for backend in (measured, *context):
            backend.close()
        raise


class TickGrid:
    """Tick deadlines start_s + k x period_s on the time.monotonic() scale.

    A deadline that has passed by more than a period is skipped rather than caught up with a
    burst of ticks; `missed` counts those.
    """

    def __init__(self, period_s: float, start_s: float) -> None:
        self.period_s = period_s
        self.start_s = start_s
        self.next_index = 0
        self.missed = 0

    @property
    def next_deadline_s(self) -> float:
        return self.start_s + self.next_index * self.period_s

    def seconds_to_next(self, now_s: float) -> float:
        return max(0.0, self.next_deadline_s - now_s)

    def due(self, now_s: float) -> bool:
        return now_s >= self.next_deadline_s

    def advance(self, now_s: float) -> None:
        """After a tick at `now_s`: the next deadline is the first grid point after now_s."""
        following = math.floor((now_s - self.start_s) / self.period_s) + 1
        self.missed += max(0, following - self.next_index - 1)
        self.next_index = max(following, self.next_index + 1)
