"""The MPI sampler: two ranks on this machine emulate two nodes (LASSI_HPC_SAMPLER_RANK_IS_NODE=1),
each with its own FAKE device ("gpu-{rank}") at its own constant power ({"per_rank": [...]}).

Needs mpi4py and an MPI launcher (`pip install mpi4py mpich` provides both); skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import textwrap
import time
from typing import Any

import psutil
import pytest

from lassi_hpc.energy.mpi_sampler_main import RANK_IS_NODE_ENV
from lassi_hpc.energy.sampler_process import SamplerProcess, open_sampler_process
from lassi_hpc.energy.samples import energy_between_j
from lassi_hpc.errors import MeasurementError
from lassi_hpc.testing.mpi_launcher import find_mpiexec

POWERS_W = (100.0, 200.0)
PERIOD_S = 0.01


MPIEXEC = find_mpiexec()
pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("mpi4py") is None,
        reason="mpi4py is not installed (pip install mpi4py mpich)",
    ),
    pytest.mark.skipif(
        MPIEXEC is None, reason="no mpiexec beside python or on PATH (pip install mpich)"
    ),
]


def two_node_options(origin_s: float) -> dict[str, Any]:
    return {
        "curve_spec": {"kind": "constant", "power_w": {"per_rank": list(POWERS_W)}},
        "origin_s": origin_s,
        "uids": ["gpu-{rank}"],
    }


def open_two_nodes(options: dict[str, Any]) -> SamplerProcess:
    assert MPIEXEC is not None
    return open_sampler_process(
        "fake",
        options,
        PERIOD_S,
        launcher=(MPIEXEC, "-n", "2"),
        env={**os.environ, RANK_IS_NODE_ENV: "1"},
        context=(),
    )


def sampler_ranks() -> list[psutil.Process]:
    """Live processes running the MPI sampler (the ranks live in sessions of their own)."""
    found = []
    for process in psutil.process_iter():
        try:
            if (
                "lassi_hpc.energy.mpi_sampler_main" in " ".join(process.cmdline())
                and process.status() != psutil.STATUS_ZOMBIE
                and process.pid != os.getpid()
            ):
                found.append(process)
        except psutil.Error:
            continue
    return found


def wait_until_no_ranks(timeout_s: float = 20.0) -> list[psutil.Process]:
    deadline_s = time.monotonic() + timeout_s
    while (left := sampler_ranks()) and time.monotonic() < deadline_s:
        time.sleep(0.05)
    return left


def test_two_nodes_energy_is_the_sum_and_both_nodes_devices_and_samples_arrive() -> None:
    origin_s = time.time()
    with open_two_nodes(two_node_options(origin_s)) as sampler:
        assert [d.uid for d in sampler.devices()] == ["gpu-0", "gpu-1"]
        assert len(sampler.nodes) == 2 and sampler.nodes[0] != sampler.nodes[1]
        assert sampler.context_devices() == ()
        first = sampler.request_energy()
        time.sleep(0.4)
        second = sampler.request_energy()
        samples = sampler.drain_samples()
    samples_at_stop = sampler.drain_samples()
    total_w = sum(POWERS_W)
    # Every node read its counter between the request's host times.
    assert first.energy_j is not None and second.energy_j is not None
    assert total_w * (first.host_before_s - origin_s) <= first.energy_j
    assert first.energy_j <= total_w * (first.host_after_s - origin_s)
    measured_j = second.energy_j - first.energy_j
    assert total_w * (second.host_before_s - first.host_after_s) <= measured_j
    assert measured_j <= total_w * (second.host_after_s - first.host_before_s)

    # Samples of both nodes, each device at its own node's power on its own ticks.
    assert samples.uids == ("gpu-0", "gpu-1")
    for row, power_w in zip(samples.power_w, POWERS_W, strict=True):
        values = [v for v in row if math.isfinite(v)]
        assert len(values) > 10 and set(values) == {power_w}
    sampled_j = energy_between_j(samples, samples.uids, first.host_after_s, second.host_before_s)
    assert sampled_j == pytest.approx(total_w * (second.host_before_s - first.host_after_s))
    assert samples_at_stop.ticks >= 2  # the last tick of each node


def test_ranks_sharing_a_machine_are_one_node_with_one_sampler() -> None:
    assert MPIEXEC is not None
    environment = {k: v for k, v in os.environ.items() if k != RANK_IS_NODE_ENV}
    with open_sampler_process(
        "fake",
        two_node_options(time.time()),
        PERIOD_S,
        launcher=(MPIEXEC, "-n", "2"),
        env=environment,
        context=(),
    ) as sampler:
        assert [d.uid for d in sampler.devices()] == ["gpu-0"]
        assert sampler.nodes == (sampler.devices()[0].host,)
        first = sampler.request_energy()
        time.sleep(0.1)
        second = sampler.request_energy()
    assert first.energy_j is not None and second.energy_j is not None
    assert second.energy_j - first.energy_j <= POWERS_W[0] * (
        second.host_after_s - first.host_before_s
    )
    assert wait_until_no_ranks() == []


def test_stop_reaches_every_rank() -> None:
    sampler = open_two_nodes(two_node_options(time.time()))
    assert len(sampler_ranks()) >= 2
    sampler.close()
    assert wait_until_no_ranks() == []


def test_a_node_that_cannot_open_its_backend_fails_the_start_naming_the_node() -> None:
    options = {**two_node_options(time.time()), "uids": {"per_rank": [["gpu-0"], []]}}
    with pytest.raises(MeasurementError, match=r"rank 1: ValueError: .*at least one device uid"):
        open_two_nodes(options)
    assert wait_until_no_ranks() == []


def test_no_rank_is_left_when_the_parent_dies() -> None:
    parent = textwrap.dedent(
        f"""
        import os
        from lassi_hpc.energy.sampler_process import open_sampler_process
        options = {{"curve_spec": {{"kind": "constant", "power_w": 1.0}}, "uids": ["g{{rank}}"]}}
        sampler = open_sampler_process(
            "fake", options, 0.01, launcher=({MPIEXEC!r}, "-n", "2"),
            env={{**os.environ, {RANK_IS_NODE_ENV!r}: "1"}}, context=(),
        )
        os._exit(0)  # no close(): rank 0 only sees its stdin close
        """
    )
    subprocess.run([sys.executable, "-c", parent], check=True, timeout=60)
    assert wait_until_no_ranks() == []
