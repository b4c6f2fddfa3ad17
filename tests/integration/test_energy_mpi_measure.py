"""A whole measurement of an MPI job: one sampler per node, energies summed over every node's
devices, duration the longest rank's. Two ranks of PyPI's MPICH emulate two nodes (FAKE devices).
"""

from __future__ import annotations

import importlib.util
import random
import sys
import textwrap
from pathlib import Path

import pytest

from lassi_hpc.energy import measure_workload
from lassi_hpc.energy.command_runner import run_command_once
from lassi_hpc.energy.mpi_sampler_main import RANK_IS_NODE_ENV
from lassi_hpc.energy.session import MeterRequest, open_meter
from lassi_hpc.testing.mpi_launcher import find_mpiexec

MPIEXEC = find_mpiexec()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("mpi4py") is None,
        reason="mpi4py is not installed (pip install mpi4py mpich)",
    ),
    pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install mpich)"),
]

# Rank 1 works four times as long as rank 0: the job lasts as long as its slowest rank.
MPI_JOB = textwrap.dedent("""
    import time
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    time.sleep(0.1 if comm.Get_rank() == 0 else 0.4)
    comm.Barrier()
""")


def test_an_mpi_job_is_measured_on_every_node_and_summed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert MPIEXEC is not None
    monkeypatch.setenv(RANK_IS_NODE_ENV, "1")
    request = MeterRequest(
        backend="fake",
        options={
            "curve_spec": {"kind": "constant", "power_w": {"per_rank": [100.0, 250.0]}},
            "uids": ["node{rank}-gpu"],
        },
        launcher=(MPIEXEC, "-n", "2"),
        lock_dir=tmp_path / "locks",
    )
    job = [MPIEXEC, "-n", "2", sys.executable, "-c", MPI_JOB]
    with open_meter(request) as opened:
        measurement = measure_workload(
            lambda: run_command_once(job, "discard"),
            opened.meter,
            repetitions=2,
            # Seconds, as the protocol recommends: a remote node's counter is read a few ms after
            # the mark (more when the machine is busy), which must stay small against the window.
            min_window_s=2.0,
            idle_s=0.2,
            rng=random.Random(0),
            settle_s=0.05,
        )
    assert [d.uid for d in measurement.devices] == ["node0-gpu", "node1-gpu"]
    for repetition in measurement.repetitions:
        assert repetition.duration_s >= 0.4  # the slower rank's time, not the faster one's
        # Both nodes' counters, summed: 100 W + 250 W over the whole window.
        assert repetition.average_power_w == pytest.approx(350.0, rel=0.02)
        assert repetition.idle_power_w == pytest.approx(350.0, rel=0.02)
        trace = repetition.trace
        assert trace is not None
        assert set(trace.device_uids) == {"node0-gpu", "node1-gpu"}
        # Samples of both nodes integrate to what both counters say.
        assert repetition.integrated_energy_j == pytest.approx(
            repetition.counter_energy_j, rel=0.05
        )
    assert "counter-vs-power>5%" not in measurement.flags
