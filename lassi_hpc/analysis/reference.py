"""Published figures that reports draw as reference lines (the numbers to beat)."""

from __future__ import annotations

from lassi_hpc.analysis.model import ReferenceCurve

_SEED_PAPER = (
    "LASSI-EE (seed paper): 20 HeCBench apps + 2 miniApps, CUDA on A100 and HIP on MI100, "
    "30 trials per app and device"
)

SEED_PAPER_REFERENCES = (
    ReferenceCurve(
        label="LASSI-EE, published",
        metric="er",
        points=((1, 0.29), (3, 0.48), (5, 0.55)),
        source=f"{_SEED_PAPER}; the k = 5 figure from secondary notes",
    ),
    ReferenceCurve(
        label="vanilla prompting, published",
        metric="er",
        points=((1, 0.10), (3, 0.26), (5, 0.35)),
        source=f"{_SEED_PAPER}; zero-shot baseline, from secondary notes",
    ),
    ReferenceCurve(
        label="LASSI-EE pass rate, published",
        metric="pass",
        points=((1, 0.81), (3, 0.97)),
        source=_SEED_PAPER,
    ),
)
