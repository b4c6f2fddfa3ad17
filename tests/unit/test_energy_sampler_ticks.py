"""One node's sampling, in this process: options per rank, context devices, ticks, batches,
energy reads and the tick grid. (The processes around it: tests/integration.)"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from lassi_hpc.energy.backend import BackendChoiceError, BackendUnavailableError
from lassi_hpc.energy.sampler_ticks import (
    NodeSampler,
    TickGrid,
    automatic_context,
    open_node_sampler,
    options_for_rank,
)
from lassi_hpc.energy.sampler_wire import ContextBackend, SamplerSpec
from lassi_hpc.errors import MeasurementError


def fake_options(uids: list[str], power_w: float = 100.0) -> dict[str, object]:
    return {
        "curve_spec": {"kind": "constant", "power_w": power_w},
        "origin_s": time.time(),
        "uids": uids,
    }


def powercap_tree(root: Path) -> Path:
    domain = root / "intel-rapl:0"
    domain.mkdir(parents=True)
    (domain / "name").write_text("package-0\n")
    (domain / "energy_uj").write_text("1000\n")
    (domain / "max_energy_range_uj").write_text("262143328850\n")
    return root


def test_options_for_rank_fill_in_the_rank_and_pick_per_rank_values() -> None:
    options = {
        "uids": ["gpu-{rank}", "fixed"],
        "curve_spec": {"kind": "constant", "power_w": {"per_rank": [100, 200]}},
        "has_counter": True,
    }
    assert options_for_rank(options, 1) == {
        "uids": ["gpu-1", "fixed"],
        "curve_spec": {"kind": "constant", "power_w": 200},
        "has_counter": True,
    }
    assert options_for_rank(options, 0)["curve_spec"]["power_w"] == 100
    with pytest.raises(MeasurementError, match=r"options.curve_spec.power_w: .* none for rank 2"):
        options_for_rank(options, 2)


def test_automatic_context_is_rapl_unless_measured_and_select_all_where_declared() -> None:
    assert automatic_context("fake", {}) == (ContextBackend("rapl", {}),)
    assert automatic_context("rapl", {}) == ()
    # NVML and AMD SMI declare `select`: the node's other GPUs come from select="all".
    assert automatic_context("nvml", {"select": "GPU-8d2f"}) == (
        ContextBackend("nvml", {"select": "all"}),
        ContextBackend("rapl", {}),
    )
    assert automatic_context("amdsmi", {}) == (
        ContextBackend("amdsmi", {"select": "all"}),
        ContextBackend("rapl", {}),
    )
    assert automatic_context("nvml", {"select": "all"}) == (ContextBackend("rapl", {}),)


def test_a_tick_reads_every_device_and_a_batch_hands_the_ticks_over_once() -> None:
    spec = SamplerSpec("fake", fake_options(["a", "b", "c"], 50.0), 0.01, ())
    node = open_node_sampler(spec, "node01")
    try:
        assert [d.uid for d in node.devices()] == ["a", "b", "c"]
        assert node.take_batch() is None
        node.tick()
        node.tick()
        batch = node.take_batch()
        assert batch is not None and batch.ticks == 2 and batch.node == "node01"
        assert batch.uids == ("a", "b", "c")
        assert batch.power_w == ((50.0, 50.0),) * 3
        assert all(b <= a for b, a in zip(batch.host_before_s, batch.host_after_s, strict=True))
        assert all(math.isnan(t) for row in batch.device_time_s for t in row)
        assert node.take_batch() is None
    finally:
        node.close()


def test_context_devices_are_the_other_devices_sampled_once(tmp_path: Path) -> None:
    options = fake_options(["a"])
    spec = SamplerSpec(
        "fake",
        options,
        0.01,
        (
            ContextBackend("fake", {**options, "uids": ["a", "b", "c"]}),
            ContextBackend("rapl", {"powercap_root": str(powercap_tree(tmp_path / "pc"))}),
            ContextBackend("rapl", {"powercap_root": str(tmp_path / "absent")}),
        ),
    )
    node = open_node_sampler(spec, "node01")
    try:
        assert [d.uid for d in node.devices()] == ["a"]
        context = node.context_devices()
        assert [d.uid for d in context][:2] == ["b", "c"]
        assert [d.kind for d in context] == ["gpu", "gpu", "cpu"]
        node.tick()
        node.tick()
        batch = node.take_batch()
        assert batch is not None and len(batch.uids) == 4
        assert batch.power_w[:3] == ((100.0, 100.0),) * 3
        # RAPL power is the counter's rate since the previous tick: none at the first.
        assert math.isnan(batch.power_w[3][0]) and batch.power_w[3][1] == 0.0
        # The unreadable RAPL tree is left out without a word in the problems.
        assert node.problems() == ()
    finally:
        node.close()


def test_a_context_backend_with_bad_options_is_left_out_with_a_problem_line() -> None:
    spec = SamplerSpec("fake", fake_options(["a"]), 0.01, (ContextBackend("fake", {"colour": 1}),))
    node = open_node_sampler(spec, "node01")
    try:
        assert node.context_devices() == ()
        (line,) = node.problems()
        assert "context backend fake not sampled" in line and "colour" in line
        report = node.take_problems_if_changed()
        assert report is not None and report.lines == (line,)
        assert node.take_problems_if_changed() is None
    finally:
        node.close()


def test_the_measured_backends_errors_propagate() -> None:
    with pytest.raises(BackendChoiceError, match="colour"):
        open_node_sampler(SamplerSpec("fake", {"colour": 1}, 0.01, ()), "node01")
    with pytest.raises(BackendUnavailableError, match="rapl"):
        open_node_sampler(SamplerSpec("rapl", {"powercap_root": "/absent"}, 0.01, ()), "node01")
    with pytest.raises(MeasurementError, match="positive"):
        open_node_sampler(SamplerSpec("fake", {}, 0.0, ()), "node01")


def test_energy_reads_the_measured_counter_between_two_host_times() -> None:
    origin_s = time.time()
    options = {"curve_spec": {"kind": "constant", "power_w": 100.0}, "origin_s": origin_s}
    node = open_node_sampler(SamplerSpec("fake", {**options, "uids": ["a", "b"]}, 0.01, ()), "n")
    try:
        read = node.read_energy()
        assert read.energy_j is not None
        assert 200 * (read.host_before_s - origin_s) <= read.energy_j
        assert read.energy_j <= 200 * (read.host_after_s - origin_s)
    finally:
        node.close()


def test_readings_out_of_order_are_refused() -> None:
    class SwappedReadings:
        """A FAKE backend whose readings come in another order than its devices."""

        def __init__(self) -> None:
            from lassi_hpc.energy.fake import open_fake

            self.inner = open_fake(uids=["a", "b"])

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def read_devices(self) -> tuple[object, ...]:
            return tuple(reversed(self.inner.read_devices()))

    node = NodeSampler("n", SwappedReadings())  # type: ignore[arg-type]
    with pytest.raises(MeasurementError, match="reading of device 'b' where 'a' was expected"):
        node.tick()


def test_the_grid_keeps_deadlines_fixed_and_skips_missed_ones() -> None:
    grid = TickGrid(0.01, start_s=100.0)
    assert grid.due(100.0)
    grid.advance(100.004)  # a slow first read does not shift the grid
    assert grid.next_deadline_s == pytest.approx(100.01)
    assert grid.seconds_to_next(100.004) == pytest.approx(0.006)
    assert not grid.due(100.009)
    grid.advance(100.0101)
    assert grid.next_deadline_s == pytest.approx(100.02)
    grid.advance(100.0555)  # stalled past the deadlines of 100.03, 100.04 and 100.05
    assert grid.next_deadline_s == pytest.approx(100.06)
    assert grid.missed == 3
    assert grid.seconds_to_next(200.0) == 0.0
