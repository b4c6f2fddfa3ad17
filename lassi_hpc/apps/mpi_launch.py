"""Command lines of MPI apps: the app's launch and the energy sampler's one-rank-per-node launch.

Which flags carry the counts depends on the launcher program (its file name, path ignored):

- mpiexec / mpirun (MPICH's Hydra, Intel MPI, Open MPI): `-n R`, and `-ppn ceil(R / N)` ranks
  per node when N > 1 (Hydra's and Intel MPI's spelling);
- srun: `--ntasks=R --nodes=N`.

A site partition may name the launcher to use there (`mpi_launcher`, e.g. srun on a Slurm
cluster); it replaces the app's. Program names without a path are found by apps.mpi_install.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import PurePath
from typing import Literal

from lassi_hpc.apps.manifest import MpiSpec
from lassi_hpc.apps.mpi_install import find_mpi_tool

LauncherStyle = Literal["mpiexec", "srun"]

MPIEXEC_PROGRAMS = (
    "mpiexec",
    "mpirun",
    "mpiexec.hydra",
    "mpiexec.mpich",
    "mpirun.mpich",
    "mpiexec.openmpi",
    "mpirun.openmpi",
)
SRUN_PROGRAMS = ("srun",)


def launcher_style(launcher: Sequence[str]) -> LauncherStyle | None:
    """How `launcher` takes rank and node counts; None for a program this module does not know."""
    if not launcher:
        return None
    program = PurePath(launcher[0]).name
    if program in MPIEXEC_PROGRAMS:
        return "mpiexec"
    if program in SRUN_PROGRAMS:
        return "srun"
    return None


def launcher_problem(launcher: Sequence[str]) -> str | None:
    """Why `launcher` cannot launch an MPI app (an error text for a config check), or None."""
    if not launcher:
        return "must name a launcher program, e.g. ['mpiexec'] or ['srun']"
    if launcher_style(launcher) is None:
        known = ", ".join((*MPIEXEC_PROGRAMS, *SRUN_PROGRAMS))
        return f"launcher program {launcher[0]!r} is not known; must be one of: {known}"
    return None


def optional_mpi_launcher(launcher: Sequence[str]) -> str | None:
    """launcher_problem for a setting where empty means "not set" (a site partition's)."""
    return launcher_problem(launcher) if launcher else None


def count_flags(style: LauncherStyle, ranks: int, nodes: int) -> tuple[str, ...]:
    """The launcher options that start `ranks` ranks spread over `nodes` nodes."""
    if ranks < 1 or nodes < 1 or nodes > ranks:
        raise ValueError(f"need 1 <= nodes <= ranks, got ranks={ranks}, nodes={nodes}")
    if style == "srun":
        return (f"--ntasks={ranks}", f"--nodes={nodes}")
    if nodes == 1:
        return ("-n", str(ranks))
    return ("-n", str(ranks), "-ppn", str(math.ceil(ranks / nodes)))


def chosen_launcher(mpi: MpiSpec, site_launcher: Sequence[str] = ()) -> tuple[str, ...]:
    """The site partition's launcher where it names one, else the app's."""
    return tuple(site_launcher) if site_launcher else mpi.launcher


def resolved_launcher(launcher: Sequence[str]) -> tuple[str, ...]:
    """`launcher` with its program made an absolute path where one is found (else left as is).

    The sandbox and the sampler start it with a PATH lookup of their own, which could find a
    wrapper (a pyenv shim) instead of the MPI installation the app was built against.
    """
    program, *options = launcher
    if "/" in program:
        return tuple(launcher)
    return (find_mpi_tool(program) or program, *options)


def app_launch_prefix(mpi: MpiSpec, site_launcher: Sequence[str] = ()) -> tuple[str, ...]:
    """`<launcher> <count flags>` as configured, the program not resolved (what people read)."""
    launcher = chosen_launcher(mpi, site_launcher)
    style = launcher_style(launcher)
    if style is None:
        raise ValueError(launcher_problem(launcher))
    return (*launcher, *count_flags(style, mpi.ranks, mpi.nodes))


def app_launch_argv(
    mpi: MpiSpec, argv: Sequence[str], site_launcher: Sequence[str] = ()
) -> tuple[str, ...]:
    """`<launcher> <count flags> <argv>`: how an MPI app's binary runs with its ranks."""
    return (*resolved_launcher(app_launch_prefix(mpi, site_launcher)), *argv)


def per_node_launcher(mpi: MpiSpec, site_launcher: Sequence[str] = ()) -> tuple[str, ...]:
    """The same launcher starting one rank on each of the app's nodes (the energy sampler's).

    srun steps inside a job share its allocation with the app's own step (`--overlap`).
    """
    launcher = chosen_launcher(mpi, site_launcher)
    style = launcher_style(launcher)
    if style is None:
        raise ValueError(launcher_problem(launcher))
    nodes = mpi.nodes
    if style == "srun":
        flags: tuple[str, ...] = (
            f"--nodes={nodes}",
            f"--ntasks={nodes}",
            "--ntasks-per-node=1",
            "--overlap",
        )
    else:
        flags = ("-n", str(nodes), "-ppn", "1")
    return (*resolved_launcher(launcher), *flags)
