"""Report at scale: `python -m benchmarks.bench_report_scale [--apps 1000] [--trials 100] ...`.

Writes (or reuses) a synthetic campaign file of apps x trials x repetitions with power traces
(lassi_hpc.testing.synthetic_campaign; `trials` per app and strategy, two strategies), then runs
`lassi-hpc report FILE --out DIR` as a child process and measures its wall time and peak resident
memory, with the file's size, the HTML page's size and the time the file took to write. Prints a
Markdown table row and writes the figures as JSON (`--write-only`: the file's figures alone).
Figures and the command are in docs/benchmarks.md.

A file is reused when `--work` holds one of the same parameters and seed, written to the end by
the same generator and store code (a `.done.json` file beside it says so); anything else there of
that name is written again.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import lassi_hpc
import lassi_hpc.store
from lassi_hpc.errors import LassiError
from lassi_hpc.store.provenance import host_identity
from lassi_hpc.store.schema import SCHEMA_VERSION
from lassi_hpc.testing import synthetic_model, synthetic_trials
from lassi_hpc.testing.synthetic_campaign import write_synthetic_campaign

DEFAULT_WORK = Path("/tmp/lassi-bench-report")
STRATEGIES = ("lassi-ee", "vanilla")
TRACE_SAMPLES = 200
LOG_TAIL_CHARS = 2000


class ReportScaleError(LassiError):
    """The report child failed, or wrote no HTML page: there is nothing to measure."""


@dataclass(frozen=True)
class ScaleCase:
    """The synthetic campaign: `trials` per app and strategy, `repetitions` per measurement."""

    apps: int = 1000
    trials: int = 100
    repetitions: int = 5
    seed: int = 0

    @property
    def name(self) -> str:
        return f"synthetic-{self.apps}x{self.trials}x{self.repetitions}-seed{self.seed}"


@dataclass(frozen=True)
class SyntheticFile:
    """A complete synthetic results file: its size (bytes), the trials it holds, the seconds it
    took to write, and whether this run reused it instead of writing it."""

    path: Path
    trials_written: int
    file_bytes: int
    write_s: float
    reused: bool


@dataclass(frozen=True)
class ReportRun:
    """One `lassi-hpc report` child: wall time (s), peak resident memory (bytes) of the child and
    the processes it waited for, the HTML page and everything written under the output dir."""

    command: tuple[str, ...]
    wall_s: float
    peak_rss_bytes: int
    html: Path
    html_bytes: int
    out_bytes: int


# ------------------------------------------------------------------------------------------------
# The synthetic file


def code_fingerprint() -> str:
    """sha256 of the code that draws and stores the file (the generator's model and trials, and
    the store package): a file that other code wrote is not reused."""
    store = Path(str(lassi_hpc.store.__file__)).parent
    sources = [Path(str(module.__file__)) for module in (synthetic_model, synthetic_trials)]
    digest = hashlib.sha256()
    for source in [*sources, *sorted(store.glob("*.py"))]:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def _file_parameters(case: ScaleCase) -> dict[str, Any]:
    return {
        **dataclasses.asdict(case),
        "strategies": list(STRATEGIES),
        "trace_samples": TRACE_SAMPLES,
        "schema_version": SCHEMA_VERSION,
        "code_sha256": code_fingerprint(),
    }


def prepare_file(case: ScaleCase, work: Path, progress: TextIO | None = None) -> SyntheticFile:
    """The complete synthetic file of `case` in `work`: reused if there, else written.

    Progress of a write goes to `progress` (nothing when None).
    """
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{case.name}.h5"
    done_path = work / f"{case.name}.done.json"
    parameters = _file_parameters(case)
    found = _read_done(done_path)
    if (
        found is not None
        and found.get("parameters") == parameters
        and path.is_file()
        and path.stat().st_size == found.get("file_bytes")
    ):
        return SyntheticFile(
            path, int(found["trials_written"]), path.stat().st_size, float(found["write_s"]), True
        )
    done_path.unlink(missing_ok=True)
    path.unlink(missing_ok=True)

    def say(done: int, total: int) -> None:
        if progress is not None:
            print(f"synthetic file: {done}/{total} trials", file=progress, flush=True)

    campaign = write_synthetic_campaign(
        path,
        apps=case.apps,
        trials=case.trials,
        repetitions=case.repetitions,
        strategies=STRATEGIES,
        trace_samples=TRACE_SAMPLES,
        seed=case.seed,
        progress=say,
    )
    written = SyntheticFile(
        path, campaign.trials_written, path.stat().st_size, campaign.seconds_to_write, False
    )
    done = {
        "parameters": parameters,
        "trials_written": written.trials_written,
        "file_bytes": written.file_bytes,
        "write_s": written.write_s,
    }
    done_path.write_text(json.dumps(done, indent=2) + "\n")
    return written


def _read_done(done_path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(done_path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


# ------------------------------------------------------------------------------------------------
# The report child


def report_command(results: Path, out_dir: Path) -> tuple[str, ...]:
    """`lassi-hpc report RESULTS --out OUT_DIR`, run by this interpreter (the console script is
    `lassi_hpc.cli:main`; going through it directly avoids a launcher such as a pyenv shim)."""
    return (sys.executable, "-m", "lassi_hpc.cli", "report", str(results), "--out", str(out_dir))


def report_available() -> bool:
    """Whether this installation has a working `lassi-hpc report` (its module imports and the
    command line knows it)."""
    checks = (
        (sys.executable, "-c", "import lassi_hpc.analysis.report"),
        (sys.executable, "-m", "lassi_hpc.cli", "report", "--help"),
    )
    return all(
        subprocess.run(check, capture_output=True, check=False).returncode == 0 for check in checks
    )


def run_report_child(results: Path, out_dir: Path, log_path: Path) -> ReportRun:
    """Run the report on `results` into a fresh `out_dir` as a child process and measure it.

    The child's stdout and stderr go to `log_path`. ReportScaleError if it fails or writes no
    out_dir/report.html.
    """
    shutil.rmtree(out_dir, ignore_errors=True)
    command = report_command(results, out_dir)
    with log_path.open("wb") as log:
        started_s = time.perf_counter()
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        # wait4 gives this child's own resource usage (RUSAGE_CHILDREN would mix in every child
        # this process ever waited for, such as the git call that provenance makes).
        _, status, usage = os.wait4(child.pid, 0)
        wall_s = time.perf_counter() - started_s
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        raise ReportScaleError(
            f"{' '.join(command)} exited with status {child.returncode}; its output ends:\n{tail}"
        )
    html = out_dir / "report.html"
    if not html.is_file():
        raise ReportScaleError(f"{' '.join(command)} wrote no {html}")
    return ReportRun(
        command=command,
        wall_s=wall_s,
        peak_rss_bytes=usage.ru_maxrss * 1024,  # Linux reports KiB
        html=html,
        html_bytes=html.stat().st_size,
        out_bytes=sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file()),
    )


# ------------------------------------------------------------------------------------------------
# Figures


def figures(case: ScaleCase, synthetic: SyntheticFile, report: ReportRun | None) -> dict[str, Any]:
    """Everything the benchmark measured, with the machine, as one JSON object; the report's
    figures are absent when `report` is None (--write-only)."""
    host = host_identity()
    found: dict[str, Any] = {
        "apps": case.apps,
        "trials_per_app_and_strategy": case.trials,
        "repetitions": case.repetitions,
        "seed": case.seed,
        "strategies": list(STRATEGIES),
        "trace_samples": TRACE_SAMPLES,
        "trials_written": synthetic.trials_written,
        "results_file": str(synthetic.path),
        "file_bytes": synthetic.file_bytes,
        "write_s": synthetic.write_s,
        "write_ms_per_trial": 1000 * synthetic.write_s / max(synthetic.trials_written, 1),
        "file_reused": synthetic.reused,
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": host.get("cpu_model", ""),
            "memory_bytes": host.get("memory_bytes", 0),
            "python": sys.version.split()[0],
            "lassi_hpc": lassi_hpc.__version__,
        },
    }
    if report is not None:
        found.update(
            report_command=list(report.command),
            report_wall_s=report.wall_s,
            report_peak_rss_bytes=report.peak_rss_bytes,
            html=str(report.html),
            html_bytes=report.html_bytes,
            report_out_bytes=report.out_bytes,
        )
    return found


TABLE_HEADER = (
    "| apps x trials x reps | trials in file | file | write | report wall | report peak RSS "
    "| HTML |\n|---|---|---|---|---|---|---|"
)


def table_row(found: dict[str, Any]) -> str:
    """The figures as one row under TABLE_HEADER ("-" for a report that did not run)."""
    case = f"{found['apps']} x {found['trials_per_app_and_strategy']} x {found['repetitions']}"
    wall = peak = html = "-"
    if "report_wall_s" in found:
        wall = f"{found['report_wall_s']:.1f} s"
        peak = f"{found['report_peak_rss_bytes'] / 2**20:,.0f} MiB"
        html = f"{found['html_bytes'] / 1e6:.2f} MB"
    return (
        f"| {case} | {found['trials_written']:,} | {found['file_bytes'] / 1e9:.2f} GB "
        f"| {found['write_s'] / 60:.1f} min | {wall} | {peak} | {html} |"
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the figures it printed and wrote."""
    default = ScaleCase()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=default.apps)
    parser.add_argument(
        "--trials", type=int, default=default.trials, help="trials per app and strategy"
    )
    parser.add_argument("--repetitions", type=int, default=default.repetitions)
    parser.add_argument("--seed", type=int, default=default.seed)
    parser.add_argument(
        "--work", type=Path, default=DEFAULT_WORK, help=f"where files go (default {DEFAULT_WORK})"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--write-only", action="store_true", help="write (or reuse) the file; run no report"
    )
    args = parser.parse_args(argv)
    case = ScaleCase(args.apps, args.trials, args.repetitions, args.seed)
    work: Path = args.work
    load_before = os.getloadavg()[0]
    synthetic = prepare_file(case, work, sys.stderr)
    report = None
    if not args.write_only:
        report = run_report_child(
            synthetic.path, work / f"{case.name}-report", work / f"{case.name}-report.log"
        )
    found = figures(case, synthetic, report)
    # Other work on the machine slows both steps: the load shows whether there was any.
    found["load_average_before"] = load_before
    found["load_average_after"] = os.getloadavg()[0]
    print(TABLE_HEADER)
    print(table_row(found))
    if args.json is not None:
        args.json.write_text(json.dumps(found, indent=2) + "\n")
    return found


if __name__ == "__main__":
    main()
