"""Statistics over repetitions: mean, sample SD, 95% CI half-width (Student t), CV, and flags."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

CV_FLAG_THRESHOLD = 0.05
CV_FLAG = "cv>5%"
SINGLE_REPETITION_FLAG = "single-repetition"

# Two-sided 95% quantiles t(0.975, df). Past df = 30 a few anchors follow; a df between anchors
# takes the value of the anchor below it, which is slightly larger than the true quantile, so the
# interval errs on the wide side. Beyond df = 120 the normal 1.96 is within 1% of t.
_T975_BY_DF: dict[int, float] = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
    9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
    17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064,
    25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000,
    120: 1.980,
}  # fmt: skip
_T975_NORMAL = 1.960


def t_quantile_975(df: int) -> float:
    """The two-sided 95% Student t critical value for `df` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df > max(_T975_BY_DF):
        return _T975_NORMAL
    return _T975_BY_DF[max(d for d in _T975_BY_DF if d <= df)]


@dataclass(frozen=True)
class SampleSummary:
    """Summary of n repeated values (in the values' unit; `cv` is a fraction, 0.05 = 5%).

    With one value the spread is unknown: sd, ci95 and cv are NaN and the flag says so.
    """

    n: int
    mean: float
    sd: float
    ci95: float  # half-width of the 95% confidence interval of the mean
    cv: float  # sd / |mean|
    flags: tuple[str, ...]


def summarize(values: Sequence[float]) -> SampleSummary:
    """Mean, sample SD (n - 1), 95% CI half-width t * sd / sqrt(n), CV and validity flags."""
    n = len(values)
    if n == 0:
        raise ValueError("cannot summarize zero values")
    mean = math.fsum(values) / n
    if n == 1:
        return SampleSummary(1, mean, math.nan, math.nan, math.nan, (SINGLE_REPETITION_FLAG,))
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    ci95 = t_quantile_975(n - 1) * sd / math.sqrt(n)
    # A zero mean with spread has no finite CV; infinity still raises the flag.
    cv = sd / abs(mean) if mean != 0 else (0.0 if sd == 0 else math.inf)
    flags = (CV_FLAG,) if cv > CV_FLAG_THRESHOLD else ()
    return SampleSummary(n, mean, sd, ci95, cv, flags)
