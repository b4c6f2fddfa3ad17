"""The sampler's JSON-lines messages: every type survives a round trip, lines are strict JSON,
and a malformed line is an error that names the line and what is wrong."""

from __future__ import annotations

import json
import math

import pytest

from lassi_hpc.energy.sampler_wire import (
    WIRE_VERSION,
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
from lassi_hpc.records import DeviceIdentity, EnergyMethod

GPU = DeviceIdentity(
    backend="nvml",
    kind="gpu",
    name="NVIDIA H100 80GB HBM3",
    uid="GPU-8d2f",
    host="node01",
    details=(("pci_bus_id", "00000000:19:00.0"), ("power_limit_w", "700")),
)
CPU = DeviceIdentity(
    backend="rapl", kind="cpu", name="Xeon", uid="node01:intel-rapl:0", host="node01"
)

BATCH = SampleBatch(
    node="node01",
    uids=("GPU-8d2f", "node01:intel-rapl:0"),
    host_before_s=(1795000000.125, 1795000000.135),
    host_after_s=(1795000000.126, 1795000000.1361),
    power_w=((312.5, math.nan), (math.nan, 88.25)),
    device_time_s=((1795000000.1, 1795000000.1), (math.nan, math.nan)),
)

MESSAGES: list[Message] = [
    SamplerSpec(
        "fake",
        {"curve_spec": {"kind": "constant", "power_w": {"per_rank": [100, 200]}}, "uids": ["a"]},
        0.01,
    ),
    SamplerSpec(
        "nvml",
        {"select": "GPU-8d2f"},
        0.05,
        (ContextBackend("nvml", {"select": "all"}), ContextBackend("rapl")),
    ),
    SamplerSpec("rapl", {}, 0.1, ()),
    EnergyRequest(7),
    StopRequest(),
    Ready("nvml", EnergyMethod.COUNTER, 0.01, (GPU,), (CPU,), ("node01",)),
    BATCH,
    EnergyReply(7, 1234.5, 1795000001.0, 1795000001.001),
    EnergyReply(8, None, 1795000002.0, 1795000002.001),
    ProblemsReport("node01", ("power of GPU-8d2f rejected 3 times (0xFFFF: unsupported)",)),
    ProblemsReport("node01", ()),
    SamplerFailure(FailureKind.UNAVAILABLE, "amdsmi", "amdsmi cannot load libamd_smi.so"),
    Stopped(),
]


def same(a: object, b: object) -> bool:
    """Equality where NaN equals NaN (dataclass == compares floats with ==, and NaN != NaN)."""
    return repr(a) == repr(b)


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_survives_a_round_trip_as_one_strict_json_line(message: Message) -> None:
    line = encode_message(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    payload = json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in {line!r}"))
    assert payload["v"] == WIRE_VERSION
    decoded = decode_message(line)
    assert type(decoded) is type(message)
    assert same(decoded, message)


def test_missing_values_travel_as_null_and_come_back_as_nan() -> None:
    payload = json.loads(encode_message(BATCH))
    assert payload["power_w"] == [[312.5, None], [None, 88.25]]
    decoded = decode_message(encode_message(BATCH))
    assert isinstance(decoded, SampleBatch)
    assert math.isnan(decoded.power_w[0][1]) and decoded.power_w[1][1] == 88.25
    assert decoded.host_after_s == BATCH.host_after_s  # floats exact, not rounded


def test_newlines_inside_strings_do_not_split_the_line() -> None:
    failure = SamplerFailure(FailureKind.FAILED, "nvml", "first line\nsecond line")
    line = encode_message(failure)
    assert line.count(b"\n") == 1
    decoded = decode_message(line)
    assert isinstance(decoded, SamplerFailure) and decoded.reason == "first line\nsecond line"


def test_options_that_are_not_json_are_refused_when_encoding() -> None:
    with pytest.raises(SamplerWireError, match="options must be plain JSON"):
        encode_message(SamplerSpec("fake", {"clock": object()}, 0.01))
    with pytest.raises(SamplerWireError, match="without NaN"):
        encode_message(SamplerSpec("fake", {"origin_s": math.nan}, 0.01))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"noise from a vendor library", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "stop"}', "wire version None"),
        (b'{"v": 99, "type": "stop"}', "wire version 99"),
        (b'{"v": 1, "type": "hello"}', "unknown message type 'hello'; must be one of: spec"),
        (b'{"v": 1}', "field 'type' is missing"),
        (b'{"v": 1, "type": "energy-request"}', "field 'id' is missing"),
        (b'{"v": 1, "type": "energy-request", "id": "7"}', "'id' must be an integer"),
        (b'{"v": 1, "type": "energy-request", "id": true}', "'id' must be an integer"),
        (
            b'{"v": 1, "type": "energy", "id": 1, "energy_j": NaN, '
            b'"host_before_s": 1, "host_after_s": 2}',
            "NaN is not strict JSON",
        ),
        (
            b'{"v": 1, "type": "failure", "kind": "oops", "backend": "x", "reason": "y"}',
            "must be one of: unavailable, choice, failed",
        ),
        (
            b'{"v": 1, "type": "samples", "node": "n", "uids": ["a"], "host_before_s": [1, 2], '
            b'"host_after_s": [1, 2], "power_w": [[1]], "device_time_s": [[null, null]]}',
            "device 'a': rows must have 2 values",
        ),
        (
            b'{"v": 1, "type": "samples", "node": "n", "uids": ["a"], "host_before_s": [1], '
            b'"host_after_s": [1], "power_w": [["1"]], "device_time_s": [[null]]}',
            "'power_w' must hold numbers",
        ),
        (
            b'{"v": 1, "type": "ready", "name": "fake", "method": "guess", "period_s": 0.01, '
            b'"devices": [], "context_devices": [], "nodes": []}',
            "'method' is 'guess'; must be one of: counter, sampled-power, estimate",
        ),
        (
            b'{"v": 1, "type": "spec", "backend": "fake", "options": [], "period_s": 0.01, '
            b'"context": null}',
            "'options' must be an object",
        ),
    ],
)
def test_a_malformed_line_names_itself_and_the_problem(line: bytes, problem: str) -> None:
    with pytest.raises(SamplerWireError, match="malformed sampler message") as caught:
        decode_message(line)
    assert problem in str(caught.value)


def test_a_long_malformed_line_is_shortened_in_the_message() -> None:
    with pytest.raises(SamplerWireError) as caught:
        decode_message("x" * 10_000)
    assert len(str(caught.value)) < 400 and "..." in str(caught.value)


def test_a_line_without_its_newline_and_a_str_line_decode() -> None:
    assert decode_message('{"v": 1, "type": "stopped"}') == Stopped()
    assert decode_message(b'{"v": 1, "type": "stopped"}\r\n') == Stopped()
