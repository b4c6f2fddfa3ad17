"""The sampler benchmark at a tiny size yields every figure (no timing targets here: the figures go
to docs/benchmarks.md)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks.bench_sampler import main, percentile


def test_percentile_interpolates_between_order_statistics() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([1.0, 2.0], 0.99) == pytest.approx(1.99)
    assert percentile([7.0], 0.99) == 7.0


@pytest.mark.slow
def test_a_tiny_run_gives_period_and_overhead_figures(tmp_path: Path) -> None:
    found = main(
        ["--seconds", "0.5", "--periods-ms", "10", "--pairs", "2", "--work", str(tmp_path)]
    )
    (fake,) = [f for f in found["periods"] if f["sampler"] == "fake, local"]
    assert fake["configured_ms"] == 10 and fake["ticks"] > 10
    assert all(math.isfinite(fake[key]) for key in ("mean_ms", "median_ms", "p99_ms", "sd_ms"))
    overhead = found["overhead"]
    assert overhead["pairs"] == 2 and overhead["mean_without_s"] > 0
    assert math.isfinite(overhead["difference_percent"])
    assert math.isfinite(overhead["ci95_percent"])
