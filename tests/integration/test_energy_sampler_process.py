"""The sampler in a real process of its own, on FAKE devices whose JSON options let the child
open the same scripted curve (same origin): ready before the workload, every device sampled,
energy from counter requests, a clean protocol stream despite noise, and no hang when it dies."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from lassi_hpc.energy.backend import BackendChoiceError, BackendUnavailableError
from lassi_hpc.energy.fake import curve_from_spec
from lassi_hpc.energy.meter import Meter
from lassi_hpc.energy.sampler_process import SamplerProcess, open_sampler_process
from lassi_hpc.energy.sampler_wire import ContextBackend, SamplerWireError
from lassi_hpc.energy.samples import energy_between_j
from lassi_hpc.errors import MeasurementError

PERIOD_S = 0.01
SQUARE = {"kind": "square", "low_w": 80.0, "high_w": 240.0, "half_period_s": 0.05}


def fake_options(uids: list[str], curve_spec: dict[str, Any], origin_s: float) -> dict[str, Any]:
    return {"curve_spec": curve_spec, "origin_s": origin_s, "uids": uids}


def open_fake_sampler(
    uids: list[str], curve_spec: dict[str, Any], origin_s: float, **kwargs: Any
) -> SamplerProcess:
    kwargs.setdefault("context", ())
    return open_sampler_process(
        "fake", fake_options(uids, curve_spec, origin_s), PERIOD_S, **kwargs
    )


def session_processes(session_id: int) -> list[psutil.Process]:
    """Live (not zombie) processes of a session: the sampler and anything it started."""
    alive = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session_id and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return alive


def wait_until_gone(session_id: int, timeout_s: float = 15.0) -> list[psutil.Process]:
    deadline_s = time.monotonic() + timeout_s
    while (left := session_processes(session_id)) and time.monotonic() < deadline_s:
        time.sleep(0.05)
    return left


def test_ready_follows_the_first_tick_and_a_later_workload_lies_inside_the_samples() -> None:
    sampler = open_fake_sampler(["gpu-a"], {"kind": "constant", "power_w": 50.0}, time.time())
    returned_s = time.time()
    try:
        started_s = time.time()
        subprocess.run([sys.executable, "-c", "import time; time.sleep(0.3)"], check=True)
        ended_s = time.time()
        before_stop = sampler.drain_samples()
    finally:
        sampler.close()
    after_stop = sampler.drain_samples()  # the stop's last tick, handed over after close()
    assert before_stop.ticks > 0 and after_stop.ticks >= 1
    first_tick_s = before_stop.time_s[0]
    assert first_tick_s < sampler.ready_received_s <= returned_s
    assert first_tick_s < started_s
    assert after_stop.time_s[-1] > ended_s
    times = before_stop.time_s + after_stop.time_s
    assert list(times) == sorted(times)
    assert sampler.drain_samples().ticks == 0  # every tick handed over once


def test_every_device_is_sampled_and_the_counter_covers_all_measured_ones() -> None:
    origin_s = time.time()
    with open_fake_sampler(["a", "b", "c"], {"kind": "constant", "power_w": 70.0}, origin_s) as s:
        assert [d.uid for d in s.devices()] == ["a", "b", "c"]
        assert all(d.is_fake for d in s.devices())
        reply = s.request_energy()
        time.sleep(0.1)
        samples = s.drain_samples()
    assert samples.uids == ("a", "b", "c")
    assert all(v == 70.0 for row in samples.power_w for v in row)
    assert reply.energy_j is not None
    assert 3 * 70.0 * (reply.host_before_s - origin_s) <= reply.energy_j
    assert reply.energy_j <= 3 * 70.0 * (reply.host_after_s - origin_s)


def test_context_devices_are_the_nodes_other_devices_sampled_alongside() -> None:
    # The fake backend has no `select`; a context backend listing every device ("a", "b", "c")
    # plays the part of select="all", exactly as the automatic context does for NVML.
    origin_s = time.time()
    curve = {"kind": "constant", "power_w": 30.0}
    everything = ContextBackend("fake", fake_options(["a", "b", "c"], curve, origin_s))
    with open_fake_sampler(["a"], curve, origin_s, context=[everything]) as sampler:
        assert [d.uid for d in sampler.devices()] == ["a"]
        assert [d.uid for d in sampler.context_devices()] == ["b", "c"]
        first = sampler.request_energy()
        time.sleep(0.1)
        second = sampler.request_energy()
        samples = sampler.drain_samples()
    assert samples.uids == ("a", "b", "c")
    assert samples.ticks > 1 and all(v == 30.0 for row in samples.power_w for v in row)
    # The counter is the measured device's alone.
    assert first.energy_j is not None and second.energy_j is not None
    assert second.energy_j - first.energy_j <= 30.0 * (second.host_after_s - first.host_before_s)


def test_rapl_is_cpu_context_where_readable_and_silently_absent_otherwise(tmp_path: Path) -> None:
    domain = tmp_path / "powercap" / "intel-rapl:0"
    domain.mkdir(parents=True)
    (domain / "name").write_text("package-0\n")
    (domain / "energy_uj").write_text("5000000\n")
    (domain / "max_energy_range_uj").write_text("262143328850\n")
    origin_s = time.time()
    curve = {"kind": "constant", "power_w": 30.0}
    readable = ContextBackend("rapl", {"powercap_root": str(tmp_path / "powercap")})
    with open_fake_sampler(["a"], curve, origin_s, context=[readable]) as sampler:
        (cpu,) = sampler.context_devices()
        time.sleep(0.05)
    samples = sampler.drain_samples()  # everything, the stop's last tick included
    assert cpu.kind == "cpu" and cpu.backend == "rapl" and cpu.uid.endswith(":intel-rapl:0")
    assert samples.uids == ("a", cpu.uid)
    assert samples.power_w[1][-1] == 0.0  # the counter did not move: 0 W

    absent = ContextBackend("rapl", {"powercap_root": str(tmp_path / "absent")})
    with open_fake_sampler(["a"], curve, origin_s, context=[absent]) as sampler:
        assert sampler.context_devices() == ()
        assert sampler.problems() == ()


def test_energy_between_two_requests_is_the_curves_integral_between_them() -> None:
    origin_s = time.time()
    curve = curve_from_spec(SQUARE)
    with open_fake_sampler(["a", "b"], SQUARE, origin_s) as sampler:
        first = sampler.request_energy()
        time.sleep(0.37)
        second = sampler.request_energy()
    assert first.energy_j is not None and second.energy_j is not None
    measured_j = second.energy_j - first.energy_j

    def energy_at(host_s: float) -> float:
        return 2 * curve.energy_j(host_s - origin_s)

    # Each read happened somewhere between its host times; the counter only grows.
    assert energy_at(second.host_before_s) - energy_at(first.host_after_s) <= measured_j
    assert measured_j <= energy_at(second.host_after_s) - energy_at(first.host_before_s)
    read_s = max(
        second.host_after_s - second.host_before_s, first.host_after_s - first.host_before_s
    )
    # Within the error the read time allows (whatever that time was: no bound on it here,
    # a loaded machine can make the round trip to the sampler process slow).
    assert measured_j == pytest.approx(
        energy_at(second.host_before_s) - energy_at(first.host_before_s), abs=2 * 2 * 240 * read_s
    )


def test_integrated_samples_of_a_constant_curve_match_its_energy() -> None:
    origin_s = time.time()
    with open_fake_sampler(["a", "b"], {"kind": "constant", "power_w": 125.0}, origin_s) as s:
        first = s.request_energy()
        time.sleep(0.25)
        second = s.request_energy()
        samples = s.drain_samples()
    assert first.energy_j is not None and second.energy_j is not None
    start_s, end_s = first.host_after_s, second.host_before_s
    sampled_j = energy_between_j(samples, samples.uids, start_s, end_s)
    assert sampled_j == pytest.approx(2 * 125.0 * (end_s - start_s), rel=1e-9)
    assert sampled_j == pytest.approx(second.energy_j - first.energy_j, rel=1e-3)


def test_noise_on_fd_1_in_the_child_never_reaches_the_protocol_stream() -> None:
    script = textwrap.dedent(
        """
        import os, subprocess
        from lassi_hpc.energy.sampler_main import protect_protocol_stream
        from lassi_hpc.energy.sampler_wire import Stopped
        output = protect_protocol_stream()
        print("python noise")
        os.write(1, b"C-level noise\\n")
        subprocess.run(["echo", "noise of a tool the library runs"], check=True)
        output.send(Stopped())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=True, timeout=30
    )
    assert done.stdout == b'{"v":1,"type":"stopped"}\n'
    for noise in (b"python noise", b"C-level noise", b"noise of a tool"):
        assert noise in done.stderr


def test_a_noisy_unavailable_vendor_library_is_unavailable_with_its_reason(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # amdsmi without ROCm prints on import and raises; its backend reports it unavailable.
    with pytest.raises(BackendUnavailableError) as caught:
        open_sampler_process("amdsmi", {}, PERIOD_S, context=())
    assert caught.value.backend == "amdsmi"
    assert "amdsmi" in caught.value.reason
    assert "\n" not in caught.value.reason
    assert capfd.readouterr().out == ""


def test_unknown_options_and_options_that_are_not_json_are_refused() -> None:
    with pytest.raises(BackendChoiceError, match="colour"):
        open_sampler_process("fake", {"colour": "blue"}, PERIOD_S, context=())
    with pytest.raises(SamplerWireError, match="plain JSON"):
        open_sampler_process("fake", {"clock": object()}, PERIOD_S)
    with pytest.raises(MeasurementError, match="positive"):
        open_sampler_process("fake", {}, -1.0)


def test_a_child_killed_mid_measurement_is_an_error_not_a_hang() -> None:
    sampler = open_fake_sampler(["a"], {"kind": "constant", "power_w": 10.0}, time.time())
    sampler.request_energy()
    os.kill(sampler.pid, signal.SIGKILL)
    with pytest.raises(MeasurementError, match=r"SIGKILL") as caught:
        sampler.request_energy()
    assert "fake" in str(caught.value)
    with pytest.raises(MeasurementError, match="samples incomplete"):
        sampler.drain_samples()
    sampler.close()
    sampler.close()
    with pytest.raises(MeasurementError):
        sampler.request_energy()


def test_a_launcher_that_dies_at_once_is_reported_with_its_exit_code_and_stderr() -> None:
    with pytest.raises(MeasurementError, match=r"(?s)exit code 3.*launcher gave up") as caught:
        open_fake_sampler(
            ["a"],
            {"kind": "constant", "power_w": 1.0},
            time.time(),
            launcher=("bash", "-c", "echo 'launcher gave up' >&2; exit 3", "--"),
        )
    assert "not ready" in str(caught.value)


def test_a_sampler_that_is_not_ready_in_time_is_ended() -> None:
    with pytest.raises(MeasurementError, match=r"not ready within 0.5 s"):
        open_fake_sampler(
            ["a"],
            {"kind": "constant", "power_w": 1.0},
            time.time(),
            launcher=("bash", "-c", "sleep 30", "--"),
            ready_timeout_s=0.5,
        )


def test_output_that_is_not_the_protocol_is_a_clear_error() -> None:
    with pytest.raises(MeasurementError, match=r"output is corrupt.*'Welcome to the cluster'"):
        open_fake_sampler(
            ["a"],
            {"kind": "constant", "power_w": 1.0},
            time.time(),
            launcher=("bash", "-c", 'echo "Welcome to the cluster"; exec "$@"', "--"),
        )


def test_the_sampler_exits_when_its_parent_dies() -> None:
    parent = textwrap.dedent(
        """
        import os, time
        from lassi_hpc.energy.sampler_process import open_sampler_process
        options = {"curve_spec": {"kind": "constant", "power_w": 1.0}, "uids": ["a"]}
        sampler = open_sampler_process("fake", options, 0.01, context=())
        print(sampler.pid, flush=True)
        os._exit(0)  # no close(): the sampler only sees its stdin close
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", parent], capture_output=True, text=True, check=True, timeout=60
    )
    sampler_pid = int(done.stdout.strip())
    assert wait_until_gone(sampler_pid) == []


def test_close_leaves_no_process_behind() -> None:
    sampler = open_fake_sampler(["a"], {"kind": "constant", "power_w": 1.0}, time.time())
    meter: Meter = sampler  # mypy checks that SamplerProcess implements the Meter protocol
    assert meter.name == "fake" and meter.period_s == PERIOD_S
    assert session_processes(sampler.pid)
    sampler.close()
    assert session_processes(sampler.pid) == []
    assert math.isfinite(sampler.ready_received_s)
