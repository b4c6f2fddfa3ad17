"""Time the oracle on a large output: `python benchmarks/bench_oracle.py` (see docs/oracle.md)."""

from __future__ import annotations

import time

from lassi_hpc.apps.manifest import OracleSpec
from lassi_hpc.records import CommandResult, RunResult
from lassi_hpc.stages.verify import verify_run

LINES = 120_000  # about 5.5 MB, 360,000 numbers


def run_of(stdout: str) -> RunResult:
    command = CommandResult(("./main",), "/tmp", 0, stdout, "", 1.0, 1.0, 0.0, 1.0, None, "", "b")
    return RunResult("bench", "omp", "default", command)


def main() -> None:
    text = "".join(f"sample[{i}]: {i * 0.001:.6e} {i * 1.5e-3:.6e}\n" for i in range(LINES))
    text += "time: 12.5 ms\nPASS\n"
    reference, candidate = run_of(text), run_of(text.replace("time: 12.5", "time: 13.1"))
    for masks in (0, 1, 3):
        oracle = OracleSpec(mask=(r"(?i)\btime\b", r"elapsed", r"\bms\b")[:masks])
        best_s = float("inf")
        for _ in range(5):
            start_s = time.perf_counter()
            verdict = verify_run(reference, candidate, oracle)
            best_s = min(best_s, time.perf_counter() - start_s)
        assert verdict.ok or masks == 0
        print(f"{len(text) / 1e6:.1f} MB, {masks} mask patterns: best of 5 {best_s:.3f} s")


if __name__ == "__main__":
    main()
