"""Which energy sampler measures an app: the local one, or one per node under the MPI launcher.

An MPI app on one node uses only this node's devices, which the ordinary local sampler reads; its
ranks' duration is the launch's wall time either way. On several nodes every node's devices spend
energy for the job, so the sampler runs under the app's launcher with one rank per node
(lassi_hpc.energy.mpi_sampler_main): energies are summed over every node's devices.
"""

from __future__ import annotations

from collections.abc import Sequence

from lassi_hpc.apps.manifest import MpiSpec
from lassi_hpc.apps.mpi_launch import per_node_launcher


def sampler_launcher(mpi: MpiSpec | None, site_launcher: Sequence[str] = ()) -> tuple[str, ...]:
    """The `MeterRequest.launcher` for an app: () = the local sampler, else one per node.

    `mpi` is the app's MPI description (None: not an MPI app); `site_launcher` the partition's
    `mpi_launcher` (empty: the app's launcher).
    """
    if mpi is None or mpi.nodes == 1:
        return ()
    return per_node_launcher(mpi, site_launcher)
