"""GPU validation in one go: `python -m benchmarks.gpu_validation --out DIR [--steps ...]`.

Written for a lent GPU machine (scripts/gpu-validation.sh runs it there and packs DIR), where it
gathers what docs/validation.md needs from real hardware:

1. `measure`: each example app's default input under `lassi-hpc measure --json --reps N`: the
   energy per run with its spread, and per repetition the counter's energy beside the integral of
   the sampled power (their disagreement in %).
2. `linearity`: stream-triad and nbody with their repetition / step count at 1x, 2x and 4x: energy
   per run against work, and the ratios to 1x.
3. `sensor`: the backend polled every `--poll-ms` for `--sensor-seconds` while stream-triad runs in
   a loop: how often the power value, the device's timestamp and the energy counter change.
4. `ncu`: each app under Nsight Compute with lassi_hpc's metric set (`roofline.ncu.ncu_command`);
   the raw CSV is kept (captured output for tests/data/) and labelled with `lassi-hpc roofline
   label --gpu GPU`.

Writes DIR/summary.json, DIR/summary.md (tables) and one file per command's output. With
`--variant omp --backend estimate --steps measure linearity sensor` the same steps run on a CPU,
which checks the plumbing only: such figures are estimates and are never published.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lassi_hpc.apps.load import load_manifest
from lassi_hpc.energy.backend import open_backend
from lassi_hpc.roofline.ncu import ncu_command

REPOSITORY = Path(__file__).resolve().parents[1]
APPS_DIR = REPOSITORY / "examples" / "apps"
APPS = ("stream-triad", "nbody", "stencil2d", "histogram")
# Which argument of the default input counts the work (repetitions, time steps).
WORK_ARGUMENT = {"stream-triad": 1, "nbody": 1}
WORK_FACTORS = (1, 2, 4)
STEPS = ("measure", "linearity", "sensor", "ncu")
CLI = (sys.executable, "-m", "lassi_hpc.cli")


@dataclass(frozen=True)
class Settings:
    out: Path
    variant: str
    arch: str
    backend: str
    reps: int
    gpu: str
    poll_ms: float
    sensor_seconds: float


@dataclass
class Summary:
    settings: dict[str, Any]
    environment: dict[str, str] = field(default_factory=dict)
    measure: dict[str, Any] = field(default_factory=dict)
    linearity: dict[str, Any] = field(default_factory=dict)
    sensor: dict[str, Any] = field(default_factory=dict)
    ncu: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def run_logged(command: Sequence[str], log: Path, cwd: Path | None = None) -> str:
    """Run `command`, keep its stdout and stderr in `log`; return stdout (raises on failure)."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    log.write_text(f"$ {' '.join(command)}\n{done.stdout}\n--- stderr\n{done.stderr}")
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} exited {done.returncode}: see {log.name}")
    return done.stdout


def build(app: str, settings: Settings) -> tuple[Path, list[str]]:
    """Build the app's variant in DIR/build/<app>; (binary, default arguments)."""
    manifest = load_manifest(APPS_DIR / app)
    variant = manifest.variant(settings.variant)
    work = settings.out / "build" / app
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(APPS_DIR / app / variant.dir, work)
    make = ["make", f"ARCH={settings.arch}"] if settings.variant == "cuda" else ["make", "CC=g++"]
    run_logged(make, settings.out / f"build-{app}.log", cwd=work)
    return work / manifest.build.binary, list(manifest.default_input.args)


def measure(binary: Path, args: Sequence[str], settings: Settings, tag: str) -> dict[str, Any]:
    """`lassi-hpc measure --json` of `binary args`; its document with the counter/integral gap."""
    command = [
        *CLI, "measure", "--json", "--quiet-command", "--reps", str(settings.reps),
        "--backend", settings.backend, "--trace-csv", str(settings.out / f"trace-{tag}.csv"),
        "--", str(binary), *args,
    ]  # fmt: skip
    document: dict[str, Any] = json.loads(run_logged(command, settings.out / f"measure-{tag}.log"))
    gaps = [
        100.0 * (rep["integrated_energy_j"] - rep["counter_energy_j"]) / rep["counter_energy_j"]
        for rep in document["measurement"]["repetitions"]
        if rep["counter_energy_j"] and rep["integrated_energy_j"] is not None
    ]
    document["integral_minus_counter_percent"] = gaps
    return document


def measure_step(settings: Settings, binaries: dict[str, tuple[Path, list[str]]]) -> dict[str, Any]:
    return {app: measure(binary, args, settings, app) for app, (binary, args) in binaries.items()}


def linearity_step(
    settings: Settings, binaries: dict[str, tuple[Path, list[str]]]
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for app, index in WORK_ARGUMENT.items():
        if app not in binaries:
            continue
        binary, args = binaries[app]
        rows = []
        for factor in WORK_FACTORS:
            scaled = list(args)
            scaled[index] = str(int(args[index]) * factor)
            document = measure(binary, scaled, settings, f"{app}-x{factor}")
            figures = document["measurement"]
            rows.append(
                {
                    "factor": factor,
                    "args": scaled,
                    "energy_j_mean": figures["energy_j_mean"],
                    "energy_cv": figures["energy_cv"],
                    "duration_s_mean": figures["duration_s_mean"],
                    "method": figures["method"],
                }
            )
        base = rows[0]["energy_j_mean"]
        for row in rows:
            row["ratio_to_1x"] = row["energy_j_mean"] / base if base else None
        found[app] = {"rows": rows, **linear_fit(rows)}
    return found


def linear_fit(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Energy per run = fixed + per_unit * factor, least squares, with R²: the fixed part (set-up,
    copies) is why 2x work costs less than 2x energy; linear in work means R² near 1."""
    factors = [float(row["factor"]) for row in rows]
    energies = [float(row["energy_j_mean"]) for row in rows]
    slope, intercept = statistics.linear_regression(factors, energies)
    mean = statistics.fmean(energies)
    total = sum((e - mean) ** 2 for e in energies)
    residual = sum((e - intercept - slope * f) ** 2 for f, e in zip(factors, energies, strict=True))
    return {
        "fixed_j": intercept,
        "per_unit_j": slope,
        "r_squared": 1.0 - residual / total if total else 1.0,
    }


def change_intervals_ms(times_s: Sequence[float], values: Sequence[float]) -> list[float]:
    """Milliseconds between the moments a polled value changed; invalid (NaN) readings skipped."""
    valid = [(t, v) for t, v in zip(times_s, values, strict=True) if not math.isnan(v)]
    changed = [later[0] for earlier, later in itertools.pairwise(valid) if later[1] != earlier[1]]
    return [1000.0 * (later - earlier) for earlier, later in itertools.pairwise(changed)]


def interval_figures(intervals_ms: Sequence[float]) -> dict[str, Any]:
    if len(intervals_ms) < 2:
        return {"intervals": len(intervals_ms), "median_ms": None, "mean_ms": None}
    return {
        "intervals": len(intervals_ms),
        "median_ms": statistics.median(intervals_ms),
        "mean_ms": statistics.fmean(intervals_ms),
        "sd_ms": statistics.stdev(intervals_ms),
        "min_ms": min(intervals_ms),
        "max_ms": max(intervals_ms),
    }


def sensor_step(settings: Settings, binaries: dict[str, tuple[Path, list[str]]]) -> dict[str, Any]:
    """Poll the backend while stream-triad runs in a loop; how often each reading changes."""
    binary, args = binaries["stream-triad"]
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            subprocess.run([str(binary), *args], capture_output=True, check=False)

    backend = open_backend(settings.backend)
    devices = backend.devices()
    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    times: list[float] = []
    readings: list[Any] = []
    try:
        end = time.monotonic() + settings.sensor_seconds
        while time.monotonic() < end:
            times.append(time.monotonic())
            readings.append(backend.read_devices()[0])
            time.sleep(settings.poll_ms / 1000.0)
    finally:
        stop.set()
        worker.join()
        backend.close()
    poll = [1000.0 * (b - a) for a, b in itertools.pairwise(times)]
    return {
        "backend": settings.backend,
        "device": devices[0].name if devices else "",
        "polls": len(times),
        "poll_interval_ms_median": statistics.median(poll) if poll else None,
        "power": interval_figures(change_intervals_ms(times, [r.power_w for r in readings])),
        "device_timestamp": interval_figures(
            change_intervals_ms(times, [r.device_time_s for r in readings])
        ),
        "energy_counter": interval_figures(
            change_intervals_ms(times, [r.energy_j for r in readings])
        ),
    }


def ncu_step(settings: Settings, binaries: dict[str, tuple[Path, list[str]]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for app, (binary, args) in binaries.items():
        raw = settings.out / f"ncu-{app}.csv"
        try:
            raw.write_text(
                run_logged(ncu_command(str(binary), args), settings.out / f"ncu-{app}.log")
            )
            labels = settings.out / f"labels-{app}.jsonl"
            run_logged(
                [*CLI, "roofline", "label", "--tool", "ncu", "--gpu", settings.gpu,
                 str(raw), "-o", str(labels)],
                settings.out / f"label-{app}.log",
            )  # fmt: skip
            found[app] = [json.loads(line) for line in labels.read_text().splitlines() if line]
        except (RuntimeError, OSError) as exc:
            found[app] = {"error": str(exc)}
    return found


def environment() -> dict[str, str]:
    found = {}
    for name, command in (
        ("nvidia-smi", ["nvidia-smi", "--query-gpu=name,uuid,driver_version,power.limit",
                        "--format=csv,noheader"]),
        ("ncu", ["ncu", "--version"]),
        ("nvcc", ["nvcc", "--version"]),
        ("lassi-hpc env", [*CLI, "env"]),
    ):  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
            found[name] = (done.stdout + done.stderr).strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            found[name] = f"not available: {exc}"
    return found


def markdown(summary: Summary) -> str:
    lines = [
        "| app | method | energy per run (J) | CV | integral - counter (%) |",
        "|---|---|---|---|---|",
    ]
    for app, document in summary.measure.items():
        figures = document["measurement"]
        gaps = document["integral_minus_counter_percent"]
        gap = f"{min(gaps):+.2f} .. {max(gaps):+.2f}" if gaps else "n/a"
        lines.append(
            f"| {app} | {figures['method']} | {figures['energy_j_mean']:.3f} "
            f"± {figures['energy_j_sd']:.3f} | {100 * figures['energy_cv']:.2f} % | {gap} |"
        )
    for app, fit in summary.linearity.items():
        lines += [
            "",
            f"{app}: fixed {fit['fixed_j']:.3f} J + {fit['per_unit_j']:.3f} J per unit of work, "
            f"R² {fit['r_squared']:.5f}",
            "",
            "| work | args | energy per run (J) | CV | ratio to 1x |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['factor']}x | {' '.join(r['args'])} | {r['energy_j_mean']:.3f} | "
            f"{100 * r['energy_cv']:.2f} % | {r['ratio_to_1x']:.3f} |"
            for r in fit["rows"]
        ]
    if summary.sensor:
        lines += ["", "sensor: " + json.dumps(summary.sensor)]
    for app, labels in summary.ncu.items():
        lines += ["", f"ncu {app}: " + json.dumps(labels)[:2000]]
    if summary.failures:
        lines += ["", "failures:", *[f"- {failure}" for failure in summary.failures]]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "/tmp/lassi-gpu")))
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--apps", nargs="+", choices=APPS, default=list(APPS))
    parser.add_argument("--variant", choices=("cuda", "omp"), default="cuda")
    parser.add_argument("--arch", default="sm_90", help="nvcc -arch (default sm_90: H100/H200)")
    parser.add_argument("--backend", default="nvml")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--gpu", default="h100-sxm", help="roofline spec for the labels")
    parser.add_argument("--poll-ms", type=float, default=1.0)
    parser.add_argument("--sensor-seconds", type=float, default=5.0)
    options = parser.parse_args(argv)
    settings = Settings(
        options.out.resolve(), options.variant, options.arch, options.backend, options.reps,
        options.gpu, options.poll_ms, options.sensor_seconds,
    )  # fmt: skip
    settings.out.mkdir(parents=True, exist_ok=True)
    summary = Summary(settings={k: str(v) for k, v in asdict(settings).items()})
    summary.environment = environment()
    binaries: dict[str, tuple[Path, list[str]]] = {}
    for app in options.apps:
        try:
            binaries[app] = build(app, settings)
        except (RuntimeError, OSError, KeyError) as exc:
            summary.failures.append(f"build {app}: {exc}")
    steps = {"measure": measure_step, "linearity": linearity_step, "sensor": sensor_step,
             "ncu": ncu_step}  # fmt: skip
    for step in options.steps:
        started = time.monotonic()
        try:
            setattr(summary, step, steps[step](settings, binaries))
        except Exception as exc:  # one step's failure must not lose the others' figures
            summary.failures.append(f"{step}: {type(exc).__name__}: {exc}")
        print(f"{step}: {time.monotonic() - started:.0f} s", flush=True)
        (settings.out / "summary.json").write_text(json.dumps(asdict(summary), indent=1))
    (settings.out / "summary.md").write_text(markdown(summary))
    print(markdown(summary))
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(main())
