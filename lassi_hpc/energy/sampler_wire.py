"""The messages between a measuring process and its sampler process: one JSON object per line.

The parent writes to the sampler's stdin, the sampler to its protocol stream (its original stdout):

    parent -> sampler   spec (first line), energy-request, stop
    sampler -> parent   ready (after the first tick), samples, energy (the reply to a request),
                        problems, failure, stopped (after the last tick of a stop)

Every object carries `"v": WIRE_VERSION` and `"type"`. Floats that may be missing (a power value
with no reading, a device without timestamps) travel as null and come back as NaN; the JSON is
strict (no NaN literals). A line that is not a valid message raises SamplerWireError naming the
line and what is wrong with it.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lassi_hpc.errors import MeasurementError
from lassi_hpc.records import DeviceIdentity, EnergyMethod

WIRE_VERSION = 1
_PREVIEW_CHARS = 160


class SamplerWireError(MeasurementError):
    """A line between the parent and its sampler is not a valid message (or cannot be one)."""


@dataclass(frozen=True)
class ContextBackend:
    """A backend the sampler opens for context devices, with its JSON options."""

    backend: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SamplerSpec:
    """What to sample: the measured backend and its options, the period, the context backends.

    `context` None means automatic: the measured backend again with select="all" where it declares
    the option `select`, and RAPL (where readable). An explicit tuple replaces that choice.
    """

    backend: str
    options: Mapping[str, Any]
    period_s: float
    context: tuple[ContextBackend, ...] | None = None


@dataclass(frozen=True)
class EnergyRequest:
    """Ask for a fresh counter read of the measured devices; answered by EnergyReply."""

    request_id: int


@dataclass(frozen=True)
class StopRequest:
    """Take one last tick, send what is left, answer Stopped and exit."""


@dataclass(frozen=True)
class Ready:
    """The first tick is taken on every node: the workload may start.

    `devices` are measured, `context_devices` sampled alongside; `nodes` names the nodes sampled.
    """

    name: str
    method: EnergyMethod
    period_s: float
    devices: tuple[DeviceIdentity, ...]
    context_devices: tuple[DeviceIdentity, ...]
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class SampleBatch:
    """Ticks of one node: host time before and after each tick's reads (s since the epoch), and per
    device (`uids`, rows) the power (W, NaN: no value) and the device's own timestamp (s on the
    device's clock, not aligned; NaN: none)."""

    node: str
    uids: tuple[str, ...]
    host_before_s: tuple[float, ...]
    host_after_s: tuple[float, ...]
    power_w: tuple[tuple[float, ...], ...]
    device_time_s: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        ticks = len(self.host_before_s)
        if len(self.host_after_s) != ticks:
            raise ValueError(f"{ticks} host times before but {len(self.host_after_s)} after")
        if len(self.power_w) != len(self.uids) or len(self.device_time_s) != len(self.uids):
            raise ValueError(
                f"{len(self.uids)} devices but {len(self.power_w)} power rows and "
                f"{len(self.device_time_s)} timestamp rows"
            )
        for uid, powers, stamps in zip(self.uids, self.power_w, self.device_time_s, strict=True):
            if len(powers) != ticks or len(stamps) != ticks:
                raise ValueError(f"device {uid!r}: rows must have {ticks} values, one per tick")

    @property
    def ticks(self) -> int:
        return len(self.host_before_s)


@dataclass(frozen=True)
class EnergyReply:
    """Cumulative joules of the measured devices (summed over nodes; None: no counter), read
    between host times `host_before_s` and `host_after_s` (s since the epoch)."""

    request_id: int
    energy_j: float | None
    host_before_s: float
    host_after_s: float


@dataclass(frozen=True)
class ProblemsReport:
    """The backend's current problem lines on `node` (replaces the node's previous report)."""

    node: str
    lines: tuple[str, ...]


class FailureKind(enum.StrEnum):
    UNAVAILABLE = "unavailable"  # BackendUnavailableError: `reason` is the backend's one line
    CHOICE = "choice"  # BackendChoiceError: unknown backend or option
    FAILED = "failed"  # anything else; the sampler exits


@dataclass(frozen=True)
class SamplerFailure:
    """The sampler cannot go on (or could not start); it exits after sending this."""

    kind: FailureKind
    backend: str
    reason: str


@dataclass(frozen=True)
class Stopped:
    """The sampler took its last tick and sent every batch; it exits next."""


ParentMessage = SamplerSpec | EnergyRequest | StopRequest
SamplerMessage = Ready | SampleBatch | EnergyReply | ProblemsReport | SamplerFailure | Stopped
Message = ParentMessage | SamplerMessage


# ------------------------------------------------------------------------------------------------
# Encoding


def _number_or_null(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _device_json(device: DeviceIdentity) -> dict[str, Any]:
    return {
        "backend": device.backend,
        "kind": device.kind,
        "name": device.name,
        "uid": device.uid,
        "host": device.host,
        "is_fake": device.is_fake,
        "details": [list(pair) for pair in device.details],
    }


def _context_json(context: tuple[ContextBackend, ...] | None) -> list[dict[str, Any]] | None:
    if context is None:
        return None
    return [{"backend": c.backend, "options": dict(c.options)} for c in context]


def _message_json(message: Message) -> dict[str, Any]:
    match message:
        case SamplerSpec():
            return {
                "type": "spec",
                "backend": message.backend,
                "options": dict(message.options),
                "period_s": message.period_s,
                "context": _context_json(message.context),
            }
        case EnergyRequest():
            return {"type": "energy-request", "id": message.request_id}
        case StopRequest():
            return {"type": "stop"}
        case Ready():
            return {
                "type": "ready",
                "name": message.name,
                "method": message.method.value,
                "period_s": message.period_s,
                "devices": [_device_json(d) for d in message.devices],
                "context_devices": [_device_json(d) for d in message.context_devices],
                "nodes": list(message.nodes),
            }
        case SampleBatch():
            return {
                "type": "samples",
                "node": message.node,
                "uids": list(message.uids),
                "host_before_s": list(message.host_before_s),
                "host_after_s": list(message.host_after_s),
                "power_w": [[_number_or_null(v) for v in row] for row in message.power_w],
                "device_time_s": [
                    [_number_or_null(v) for v in row] for row in message.device_time_s
                ],
            }
        case EnergyReply():
            return {
                "type": "energy",
                "id": message.request_id,
                "energy_j": message.energy_j,
                "host_before_s": message.host_before_s,
                "host_after_s": message.host_after_s,
            }
        case ProblemsReport():
            return {"type": "problems", "node": message.node, "lines": list(message.lines)}
        case SamplerFailure():
            return {
                "type": "failure",
                "kind": message.kind.value,
                "backend": message.backend,
                "reason": message.reason,
            }
        case Stopped():
            return {"type": "stopped"}
    raise TypeError(f"not a sampler message: {message!r}")


def encode_message(message: Message) -> bytes:
    """One line of UTF-8 JSON, ending in a newline; SamplerWireError if it cannot be JSON.

    (Backend options must be plain JSON: strings, numbers, booleans, null, lists, objects.)
    """
    payload = {"v": WIRE_VERSION, **_message_json(message)}
    try:
        text = json.dumps(payload, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise SamplerWireError(
            f"cannot send a {payload['type']!r} message to or from the sampler: {error} "
            "(options must be plain JSON values, without NaN or infinity)"
        ) from None
    return text.encode("utf-8") + b"\n"


# ------------------------------------------------------------------------------------------------
# Decoding


class _Fields:
    """Typed access to a decoded object's fields; every failure names the line and the field."""

    def __init__(self, data: Mapping[str, Any], line: str) -> None:
        self.data = data
        self.line = line

    def error(self, problem: str) -> SamplerWireError:
        preview = self.line if len(self.line) <= _PREVIEW_CHARS else self.line[:_PREVIEW_CHARS]
        ellipsis = "" if len(self.line) <= _PREVIEW_CHARS else "..."
        return SamplerWireError(f"malformed sampler message {preview!r}{ellipsis}: {problem}")

    def get(self, key: str) -> Any:
        if key not in self.data:
            raise self.error(f"field {key!r} is missing")
        return self.data[key]

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise self.error(f"field {key!r} must be a string, got {value!r}")
        return value

    def integer(self, key: str) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"field {key!r} must be an integer, got {value!r}")
        return value

    def _as_number(self, key: str, value: Any, *, allow_null: bool) -> float:
        if value is None and allow_null:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"field {key!r} must hold numbers, got {value!r}")
        return float(value)

    def number(self, key: str) -> float:
        return self._as_number(key, self.get(key), allow_null=False)

    def optional_number(self, key: str) -> float | None:
        value = self.get(key)
        return None if value is None else self._as_number(key, value, allow_null=False)

    def _as_list(self, key: str, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.error(f"field {key!r} must be a list, got {value!r}")
        return value

    def listed(self, key: str) -> list[Any]:
        return self._as_list(key, self.get(key))

    def texts(self, key: str) -> tuple[str, ...]:
        values = self.listed(key)
        if not all(isinstance(v, str) for v in values):
            raise self.error(f"field {key!r} must be a list of strings")
        return tuple(values)

    def numbers(self, key: str, *, allow_null: bool) -> tuple[float, ...]:
        return tuple(self._as_number(key, v, allow_null=allow_null) for v in self.listed(key))

    def rows(self, key: str) -> tuple[tuple[float, ...], ...]:
        return tuple(
            tuple(self._as_number(key, v, allow_null=True) for v in self._as_list(key, row))
            for row in self.listed(key)
        )

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.get(key)
        if not isinstance(value, dict):
            raise self.error(f"field {key!r} must be an object, got {value!r}")
        return value

    def devices(self, key: str) -> tuple[DeviceIdentity, ...]:
        devices = []
        for item in self.listed(key):
            if not isinstance(item, dict):
                raise self.error(f"field {key!r} must hold device objects, got {item!r}")
            device = _Fields(item, self.line)
            details = []
            for pair in device.listed("details"):
                if not (
                    isinstance(pair, list)
                    and len(pair) == 2
                    and all(isinstance(p, str) for p in pair)
                ):
                    raise self.error(f"device details must be [key, value] strings, got {pair!r}")
                details.append((pair[0], pair[1]))
            is_fake = device.get("is_fake")
            if not isinstance(is_fake, bool):
                raise self.error(f"device field 'is_fake' must be true or false, got {is_fake!r}")
            devices.append(
                DeviceIdentity(
                    backend=device.text("backend"),
                    kind=device.text("kind"),
                    name=device.text("name"),
                    uid=device.text("uid"),
                    host=device.text("host"),
                    is_fake=is_fake,
                    details=tuple(details),
                )
            )
        return tuple(devices)

    def context(self, key: str) -> tuple[ContextBackend, ...] | None:
        if self.get(key) is None:
            return None
        backends = []
        for item in self.listed(key):
            if not isinstance(item, dict):
                raise self.error(f"field {key!r} must hold backend objects, got {item!r}")
            entry = _Fields(item, self.line)
            backends.append(ContextBackend(entry.text("backend"), entry.mapping("options")))
        return tuple(backends)

    def choice(self, key: str, enum_type: type[enum.StrEnum]) -> str:
        value = self.text(key)
        allowed = [member.value for member in enum_type]
        if value not in allowed:
            raise self.error(f"field {key!r} is {value!r}; must be one of: {', '.join(allowed)}")
        return value


def _decode_fields(fields: _Fields, kind: str) -> Message:
    if kind == "spec":
        return SamplerSpec(
            backend=fields.text("backend"),
            options=fields.mapping("options"),
            period_s=fields.number("period_s"),
            context=fields.context("context"),
        )
    if kind == "energy-request":
        return EnergyRequest(fields.integer("id"))
    if kind == "stop":
        return StopRequest()
    if kind == "ready":
        return Ready(
            name=fields.text("name"),
            method=EnergyMethod(fields.choice("method", EnergyMethod)),
            period_s=fields.number("period_s"),
            devices=fields.devices("devices"),
            context_devices=fields.devices("context_devices"),
            nodes=fields.texts("nodes"),
        )
    if kind == "samples":
        try:
            return SampleBatch(
                node=fields.text("node"),
                uids=fields.texts("uids"),
                host_before_s=fields.numbers("host_before_s", allow_null=False),
                host_after_s=fields.numbers("host_after_s", allow_null=False),
                power_w=fields.rows("power_w"),
                device_time_s=fields.rows("device_time_s"),
            )
        except ValueError as error:
            raise fields.error(str(error)) from None
    if kind == "energy":
        return EnergyReply(
            request_id=fields.integer("id"),
            energy_j=fields.optional_number("energy_j"),
            host_before_s=fields.number("host_before_s"),
            host_after_s=fields.number("host_after_s"),
        )
    if kind == "problems":
        return ProblemsReport(fields.text("node"), fields.texts("lines"))
    if kind == "failure":
        return SamplerFailure(
            kind=FailureKind(fields.choice("kind", FailureKind)),
            backend=fields.text("backend"),
            reason=fields.text("reason"),
        )
    if kind == "stopped":
        return Stopped()
    raise fields.error(f"unknown message type {kind!r}; must be one of: {', '.join(MESSAGE_TYPES)}")


MESSAGE_TYPES = (
    "spec",
    "energy-request",
    "stop",
    "ready",
    "samples",
    "energy",
    "problems",
    "failure",
    "stopped",
)


def decode_message(line: bytes | str) -> Message:
    """The message on one line (with or without its newline); SamplerWireError if it is not one."""
    if isinstance(line, bytes):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise _Fields({}, repr(line)).error("not UTF-8 text") from None
    else:
        text = line
    text = text.rstrip("\r\n")
    fields = _Fields({}, text)
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise fields.error(f"not JSON ({error})") from None
    if not isinstance(data, dict):
        raise fields.error("not a JSON object")
    fields = _Fields(data, text)
    version = data.get("v")
    if version != WIRE_VERSION:
        raise fields.error(
            f"wire version {version!r}, this side speaks version {WIRE_VERSION} "
            "(parent and sampler from different lassi_hpc versions?)"
        )
    return _decode_fields(fields, fields.text("type"))


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not strict JSON")
