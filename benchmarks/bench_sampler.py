"""Sampler process: `python -m benchmarks.bench_sampler [--seconds 5] [--pairs 15] [--mpi] ...`.

1. Achieved sampling period: a sampler process (lassi_hpc.energy.sampler_process) runs for
   `--seconds` at each configured period (10 ms and 50 ms by default) on the FAKE backend, and on
   RAPL and NVML where they open here; the intervals between one device's consecutive ticks give
   the mean, median, p99 and the jitter (SD), in ms, and the CPU time the sampler's processes
   used per second (% of one core; energy requests twice a second included). `--mpi` adds the
   MPI sampler with two ranks emulating two nodes (mpiexec beside python or on PATH).
2. Overhead on a CPU-bound program: the nbody example's OpenMP variant built with
   `g++ -O2 -fopenmp` (its default input, about 1 s here), run `--pairs` times with and without a
   10 ms sampler running, alternating which goes first. Only the program's run is timed (the
   sampler starts before and stops after). The figure is the mean of the paired differences in %
   of the mean runtime without sampler, with a Student t 95% CI.

Prints Markdown tables; `--json FILE` also writes the figures. Figures and the command go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from lassi_hpc.energy.backend import BackendUnavailableError
from lassi_hpc.energy.mpi_sampler_main import RANK_IS_NODE_ENV
from lassi_hpc.energy.sampler_process import SamplerProcess, open_sampler_process
from lassi_hpc.energy.samples import PowerSamples, concat_samples
from lassi_hpc.energy.stats import summarize
from lassi_hpc.errors import LassiError
from lassi_hpc.testing.mpi_launcher import find_mpiexec

REPOSITORY = Path(__file__).resolve().parents[1]
NBODY_DIR = REPOSITORY / "examples" / "apps" / "nbody" / "omp"
NBODY_ARGS = ("2048", "10")
DEFAULT_WORK = Path("/tmp/lassi-bench-sampler")
FAKE_OPTIONS: Mapping[str, Any] = {"curve_spec": {"kind": "constant", "power_w": 100.0}}


class BenchSamplerError(LassiError):
    """The benchmark cannot run: the example does not build or its run fails."""


@dataclass(frozen=True)
class PeriodFigures:
    """Tick intervals of one device of one sampler run, in milliseconds."""

    sampler: str
    configured_ms: float
    ticks: int
    mean_ms: float
    median_ms: float
    p99_ms: float
    sd_ms: float
    cpu_percent: float  # CPU time of the sampler's processes per second sampled, % of one core


@dataclass(frozen=True)
class OverheadFigures:
    """Paired runtimes (s) without and with a sampler; difference in % of the mean without."""

    command: str
    sampler: str
    pairs: int
    mean_without_s: float
    mean_with_s: float
    difference_percent: float
    ci95_percent: float


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile by linear interpolation between order statistics."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def tick_intervals_ms(samples: PowerSamples, uid: str) -> list[float]:
    """Intervals between the ticks that read device `uid` (other nodes' ticks are NaN for it)."""
    row = samples.power_w[samples.uids.index(uid)]
    times = [t for t, p in zip(samples.time_s, row, strict=True) if not math.isnan(p)]
    return [1000 * (b - a) for a, b in itertools.pairwise(times)]


def process_tree_cpu_s(processes: Sequence[psutil.Process]) -> dict[int, float]:
    """CPU seconds (user + system) so far of each process still there, by pid."""
    found = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        found[process.pid] = times.user + times.system
    return found


def sample_for(sampler: SamplerProcess, seconds: float) -> tuple[PowerSamples, float]:
    """The ticks of `seconds` of sampling (the stop's last tick, off the grid, is left out) and
    the CPU the sampler's processes (a launcher's ranks included) used meanwhile, in % of a core.
    """
    root = psutil.Process(sampler.pid)
    tree = [root, *root.children(recursive=True)]
    parts = [sampler.drain_samples()]
    cpu_before = process_tree_cpu_s(tree)
    started_s = time.monotonic()
    deadline_s = started_s + seconds
    while time.monotonic() < deadline_s:
        time.sleep(min(0.5, max(0.0, deadline_s - time.monotonic())))
        sampler.request_energy()  # every tick up to the reply has then arrived
        parts.append(sampler.drain_samples())
    cpu_after = process_tree_cpu_s(tree)
    elapsed_s = time.monotonic() - started_s
    sampler.close()
    used_s = sum(cpu_after[pid] - cpu_before[pid] for pid in cpu_after if pid in cpu_before)
    return concat_samples(parts), 100 * used_s / elapsed_s


def period_figures(
    label: str, period_s: float, samples: PowerSamples, cpu_percent: float
) -> PeriodFigures:
    intervals = tick_intervals_ms(samples, samples.uids[0])
    return PeriodFigures(
        sampler=label,
        configured_ms=1000 * period_s,
        ticks=len(intervals) + 1,
        mean_ms=statistics.fmean(intervals),
        median_ms=statistics.median(intervals),
        p99_ms=percentile(intervals, 0.99),
        sd_ms=statistics.stdev(intervals),
        cpu_percent=cpu_percent,
    )


def sampler_cases(with_mpi: bool) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(label, backend, options, extra open_sampler_process arguments) of each sampler to time."""
    cases: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        ("fake, local", "fake", dict(FAKE_OPTIONS), {}),
        ("rapl, local", "rapl", {}, {}),
        ("nvml, local", "nvml", {}, {}),
    ]
    mpiexec = find_mpiexec() if with_mpi else None
    if mpiexec is not None:
        mpi_options = {**FAKE_OPTIONS, "uids": ["fake-{rank}"]}
        launch = {
            "launcher": (mpiexec, "-n", "2"),
            "env": {**os.environ, RANK_IS_NODE_ENV: "1"},
        }
        cases.append(("fake, MPI 2 ranks as 2 nodes", "fake", mpi_options, launch))
    return cases


def measure_periods(
    periods_s: Sequence[float], seconds: float, with_mpi: bool
) -> tuple[list[PeriodFigures], list[str]]:
    """Figures of every sampler that opens here, and one line per one that does not."""
    found, skipped = [], []
    for label, backend, options, extra in sampler_cases(with_mpi):
        for period_s in periods_s:
            try:
                sampler = open_sampler_process(backend, options, period_s, context=(), **extra)
            except BackendUnavailableError as error:
                skipped.append(f"{label}: {error.reason}")
                break
            samples, cpu_percent = sample_for(sampler, seconds)
            found.append(period_figures(label, period_s, samples, cpu_percent))
    return found, skipped


def build_nbody(work: Path) -> Path:
    """The nbody OpenMP example built with g++ -O2 -fopenmp into `work`."""
    work.mkdir(parents=True, exist_ok=True)
    binary = work / "nbody-omp"
    command = [
        "g++", "-O2", "-fopenmp", "-std=c++17", f"-I{NBODY_DIR}",
        str(NBODY_DIR / "main.cpp"), str(NBODY_DIR / "kernels.cpp"), "-o", str(binary),
    ]  # fmt: skip
    built = subprocess.run(command, capture_output=True, text=True, check=False)
    if built.returncode != 0:
        raise BenchSamplerError(f"{' '.join(command)} failed:\n{built.stderr[-2000:]}")
    return binary


def timed_run(command: Sequence[str]) -> float:
    started_s = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed_s = time.perf_counter() - started_s
    if done.returncode != 0:
        raise BenchSamplerError(f"{' '.join(command)} exited {done.returncode}")
    return elapsed_s


def run_with_sampler(command: Sequence[str], period_s: float) -> float:
    with open_sampler_process("fake", FAKE_OPTIONS, period_s, context=()):
        return timed_run(command)


def measure_overhead(command: Sequence[str], pairs: int, period_s: float) -> OverheadFigures:
    timed_run(command)  # warm-up: page cache, CPU frequency
    without_s, with_s = [], []
    for pair in range(pairs):
        # Alternate the order so that a slow drift of the machine does not favour one side.
        if pair % 2 == 0:
            without_s.append(timed_run(command))
            with_s.append(run_with_sampler(command, period_s))
        else:
            with_s.append(run_with_sampler(command, period_s))
            without_s.append(timed_run(command))
    mean_without_s = statistics.fmean(without_s)
    differences = [100 * (w - b) / mean_without_s for w, b in zip(with_s, without_s, strict=True)]
    summary = summarize(differences)
    return OverheadFigures(
        command=" ".join(Path(command[0]).name if i == 0 else a for i, a in enumerate(command)),
        sampler=f"fake, local, {1000 * period_s:g} ms",
        pairs=pairs,
        mean_without_s=mean_without_s,
        mean_with_s=statistics.fmean(with_s),
        difference_percent=summary.mean,
        ci95_percent=summary.ci95,
    )


def period_table(figures: Sequence[PeriodFigures]) -> str:
    lines = [
        "| sampler | configured (ms) | ticks | mean (ms) | median (ms) | p99 (ms) "
        "| jitter SD (ms) | sampler CPU (% of a core) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {f.sampler} | {f.configured_ms:g} | {f.ticks} | {f.mean_ms:.3f} | {f.median_ms:.3f} "
        f"| {f.p99_ms:.3f} | {f.sd_ms:.3f} | {f.cpu_percent:.2f} |"
        for f in figures
    ]
    return "\n".join(lines)


def overhead_table(figures: OverheadFigures) -> str:
    return "\n".join(
        [
            "| program | sampler | pairs | mean without (s) | mean with (s) | difference (%) |",
            "|---|---|---:|---:|---:|---:|",
            f"| `{figures.command}` | {figures.sampler} | {figures.pairs} "
            f"| {figures.mean_without_s:.4f} | {figures.mean_with_s:.4f} "
            f"| {figures.difference_percent:+.2f} ± {figures.ci95_percent:.2f} (95% CI) |",
        ]
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the figures it printed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="sampling time per sampler and period"
    )
    parser.add_argument(
        "--periods-ms", type=float, nargs="+", default=[10.0, 50.0], help="configured periods"
    )
    parser.add_argument("--pairs", type=int, default=15, help="runs with and without sampler")
    parser.add_argument(
        "--nbody-args",
        nargs=2,
        default=list(NBODY_ARGS),
        metavar=("BODIES", "STEPS"),
        help=f"the nbody input (default {' '.join(NBODY_ARGS)})",
    )
    parser.add_argument("--mpi", action="store_true", help="also time the MPI sampler")
    parser.add_argument(
        "--work", type=Path, default=DEFAULT_WORK, help=f"build directory (default {DEFAULT_WORK})"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    periods_s = [ms / 1000 for ms in args.periods_ms]
    load_before = os.getloadavg()[0]
    periods, skipped = measure_periods(periods_s, args.seconds, args.mpi)
    overhead = None
    if args.pairs > 1:
        binary = build_nbody(args.work)
        overhead = measure_overhead((str(binary), *args.nbody_args), args.pairs, 0.01)
    found: dict[str, Any] = {
        "periods": [asdict(f) for f in periods],
        "skipped": skipped,
        "overhead": None if overhead is None else asdict(overhead),
        "cpus": os.cpu_count(),
        # Other work on the machine disturbs both parts: the load shows whether there was any.
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
    }
    print(period_table(periods))
    for line in skipped:
        print(f"\nnot available: {line}")
    if overhead is not None:
        print()
        print(overhead_table(overhead))
    if args.json is not None:
        args.json.write_text(json.dumps(found, indent=2) + "\n")
    return found


if __name__ == "__main__":
    main()
