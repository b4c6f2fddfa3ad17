"""`lassi-hpc measure [options] -- COMMAND ARGS`: the energy of any command, like perf stat."""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
from pathlib import Path
from typing import Any

from lassi_hpc.cli_types import non_negative_float, positive_float, positive_int
from lassi_hpc.energy import measure_workload
from lassi_hpc.energy.command_runner import OutputMode, run_command_once
from lassi_hpc.energy.host_load import read_host_busy_cpu_s
from lassi_hpc.energy.measure_report import measurement_document, summary_lines, write_trace_csv
from lassi_hpc.energy.session import MeterRequest, open_meter
from lassi_hpc.errors import LassiError


def add_measure_parser(commands: Any) -> None:
    measure = commands.add_parser(
        "measure",
        help="measure the energy of any command, like perf stat for energy",
        description=(
            "Run COMMAND repeatedly inside measured windows on the best energy meter here (or "
            "--backend) and print its energy per run with spread, and how it was obtained. "
            "The command's own output goes to stderr."
        ),
    )
    measure.add_argument("--json", action="store_true", help="print one JSON document")
    measure.add_argument(
        "--reps", type=positive_int, default=5, metavar="N", help="repetitions (default 5)"
    )
    measure.add_argument(
        "--backend",
        default="auto",
        help="auto (default), nvml, amdsmi, rapl, estimate or fake (tests only)",
    )
    measure.add_argument(
        "--min-window",
        type=non_negative_float,
        default=2.0,
        metavar="S",
        help="repeat the command inside one window until it lasts S seconds (default 2)",
    )
    measure.add_argument(
        "--idle", type=non_negative_float, default=1.0, metavar="S",
        help="idle seconds measured before and after each window (default 1)",
    )  # fmt: skip
    measure.add_argument(
        "--settle", type=non_negative_float, default=0.25, metavar="S",
        help="margins after idle and after the window counted with the run (default 0.25)",
    )  # fmt: skip
    measure.add_argument(
        "--max-delay", type=non_negative_float, default=0.2, metavar="S",
        help="start phases spread over S seconds across repetitions (default 0.2)",
    )  # fmt: skip
    measure.add_argument(
        "--period", type=positive_float, default=0.01, metavar="S",
        help="power sampling period in seconds (default 0.01)",
    )  # fmt: skip
    measure.add_argument(
        "--sampler", choices=("process", "thread", "none"), default="process",
        help="where power is sampled (default: a process of its own)",
    )  # fmt: skip
    measure.add_argument(
        "--launcher", default="", metavar="CMD",
        help='one sampler per node of an MPI job, e.g. "srun --ntasks-per-node=1 --overlap"',
    )  # fmt: skip
    measure.add_argument("--seed", type=int, default=0, help="seed of the start phases")
    measure.add_argument(
        "--trace-csv", type=Path, metavar="FILE", help="write every power sample to FILE"
    )
    measure.add_argument(
        "--quiet-command", action="store_true", help="discard the command's own output"
    )
    measure.add_argument("command_argv", nargs=argparse.REMAINDER, metavar="-- COMMAND ARGS")
    measure.set_defaults(handler=cmd_measure)


def cmd_measure(args: argparse.Namespace) -> int:
    command = list(args.command_argv)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise LassiError(
            "measure: no command given; usage: lassi-hpc measure [options] -- COMMAND ARGS..."
        )
    request = MeterRequest(
        backend=args.backend,
        period_s=args.period,
        sampler=args.sampler,
        launcher=tuple(shlex.split(args.launcher)) if args.launcher else (),
    )
    output: OutputMode = "discard" if args.quiet_command else "stderr"
    with open_meter(request) as opened:
        measurement = measure_workload(
            lambda: run_command_once(command, output),
            opened.meter,
            repetitions=args.reps,
            min_window_s=args.min_window,
            idle_s=args.idle,
            rng=random.Random(args.seed),
            max_start_delay_s=args.max_delay,
            settle_s=args.settle,
            record_trace=args.trace_csv is not None,
            read_host_busy_cpu_s=read_host_busy_cpu_s,
        )
    if args.trace_csv is not None:
        rows = write_trace_csv(measurement, args.trace_csv)
        print(f"lassi-hpc measure: {rows} power samples in {args.trace_csv}", file=sys.stderr)
    if args.json:
        document = measurement_document(measurement, command, opened.skipped)
        print(json.dumps(document, indent=1, allow_nan=False))
    else:
        print("\n".join(summary_lines(measurement, command, opened.skipped)))
    return 0
