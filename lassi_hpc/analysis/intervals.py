"""Confidence intervals for best-of-k figures: a bootstrap over apps and a jackknife within one app.

Resampling trials inside an app with replacement creates duplicate trials and biases best-of-k
downward, so campaign figures resample whole apps (bootstrap_mean_ci) and one app's curve is given
a leave-one-trial-out jackknife interval (jackknife_curve_ci). Bounds are in the unit of the
values (fractions for reductions and pass rates).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from lassi_hpc.analysis.metrics import AnalysisError

_BETA_TOLERANCE = 1e-15
_BETA_MAX_TERMS = 100_000
_BISECTION_STEPS = 200


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise AnalysisError(f"confidence is {confidence!r}: it must lie strictly between 0 and 1")


def _beta_continued_fraction(x: float, a: float, b: float) -> float:
    # Lentz's method for the continued fraction of I_x(a, b); it converges fast for
    # x < (a+1)/(a+b+2), in about sqrt(max(a, b)) terms.
    tiny = 1e-300
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, _BETA_MAX_TERMS + 1):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            step = c * d
            result *= step
        if abs(step - 1.0) < _BETA_TOLERANCE:
            return result
    raise AnalysisError(f"incomplete beta I_{x}({a}, {b}) did not converge")


def regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) for 0 <= x <= 1 and a, b > 0: the beta(a, b) distribution function at x."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(1.0 - x, b, a) / b


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom, t >= 0."""
    return 0.5 * regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5)


@functools.lru_cache(maxsize=256)
def t_quantile(probability: float, df: float) -> float:
    """The `probability` quantile of Student's t with `df` > 0 degrees of freedom (exact to about
    1e-12, by bisection on the regularised incomplete beta); t_quantile(0.975, 4) is 2.776."""
    if not 0.0 < probability < 1.0:
        raise AnalysisError(f"probability is {probability!r}: it must lie strictly between 0 and 1")
    if not (math.isfinite(df) and df > 0):
        raise AnalysisError(f"degrees of freedom is {df!r}: it must be a finite number above 0")
    if probability < 0.5:
        return -t_quantile(1.0 - probability, df)
    tail = 1.0 - probability
    low, high = 0.0, 1.0
    while _t_upper_tail(high, df) > tail:
        low, high = high, 2.0 * high
    for _ in range(_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        if _t_upper_tail(middle, df) > tail:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def bootstrap_mean_ci(
    per_app: NDArray[np.float64], samples: int, seed: int, confidence: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Percentile bootstrap bounds (low, high) of every column mean of `per_app` (apps x columns),
    resampling apps (rows) with replacement; same seed, same bounds.

    NaN means "no value for this app at this column" (k above its trial count): that app does not
    count in that column's resampled means. A column with fewer than 2 finite apps gets NaN bounds.
    Memory is O(samples x (apps + columns)): a resample is a row of per-app draw counts, and its
    means come from two matrix products.
    """
    values = np.asarray(per_app, dtype=np.float64)
    if values.ndim != 2:
        raise AnalysisError(f"per_app must be apps x columns (2-D), got shape {values.shape}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise AnalysisError(f"samples is {samples!r}: it must be an int of at least 1")
    _check_confidence(confidence)
    if np.isinf(values).any():
        row, column = np.argwhere(np.isinf(values))[0]
        raise AnalysisError(f"per_app[{row}, {column}] is {values[row, column]}: must be finite")
    apps, columns = values.shape
    low = np.full(columns, np.nan)
    high = np.full(columns, np.nan)
    present = np.isfinite(values)
    usable = present.sum(axis=0) >= 2
    if apps == 0 or not usable.any():
        return low, high
    present = present[:, usable]
    # Deviations from one actual value per column: a constant column gives exactly zero width,
    # and the sums stay small.
    first_present = np.argmax(present, axis=0)
    centre = values[:, usable][first_present, np.arange(present.shape[1])]
    deviations = np.where(present, values[:, usable] - centre, 0.0)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(apps, np.full(apps, 1.0 / apps), size=samples).astype(np.float64)
    sums = counts @ deviations
    weights = counts @ present.astype(np.float64)
    means = np.divide(sums, weights, out=np.full_like(sums, np.nan), where=weights > 0)
    tail_percent = 50.0 * (1.0 - confidence)
    # A resample that drew none of a column's apps has no mean there; it is left out.
    bounds = np.nanpercentile(means, [tail_percent, 100.0 - tail_percent], axis=0)
    low[usable] = centre + bounds[0]
    high[usable] = centre + bounds[1]
    return low, high


def jackknife_curve_ci(
    values: NDArray[np.float64],
    curve: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    confidence: float = 0.95,
    *,
    clip_unit: bool = False,
    rows: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Leave-one-trial-out jackknife bounds (low, high) of `curve(values)` at every k = 1..n.

    With `rows`, `curve` takes a 2-D array of sorted rows and gives one curve per row
    (metrics.best_of_k_rows): all left-out arrays go in one call, which matters for thousands of
    apps.

    `curve` maps m values to m figures (k = 1..m) and must not depend on the order of its input
    (expected_best_curve, energy_reduction_curve, ...): it is given sorted arrays. Each trial is
    left out in turn; SE = sqrt((n-1)/n * sum (theta_i - mean theta)^2) and the bounds are
    theta_full ± t_{n-1, (1+confidence)/2} × SE, clipped to [0, 1] when `clip_unit`. The entry
    k = n has no leave-one-out value and is NaN; n < 2 gives all NaN.
    """
    _check_confidence(confidence)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise AnalysisError(f"values must be one-dimensional, got shape {array.shape}")
    if not np.isfinite(array).all():
        index = int(np.argmax(~np.isfinite(array)))
        raise AnalysisError(f"values[{index}] is {array[index]}: every value must be finite")
    n = array.size
    low = np.full(n, np.nan)
    high = np.full(n, np.nan)
    if n < 2:
        return low, high
    ordered = np.sort(array)
    # Leaving out either of two equal values gives the same array: one curve per distinct value.
    distinct, first_index, repeats = np.unique(ordered, return_index=True, return_counts=True)
    if rows:
        full = _checked_curve(curve, ordered[np.newaxis, :])[0, : n - 1]
        kept = np.ones((distinct.size, n), dtype=bool)
        kept[np.arange(distinct.size), first_index] = False
        left_out = _checked_curve(
            curve,
            ordered[np.newaxis, :].repeat(distinct.size, 0)[kept].reshape(distinct.size, n - 1),
        )
    else:
        full = _checked_curve(curve, ordered)[: n - 1]
        left_out = np.empty((distinct.size, n - 1), dtype=np.float64)
        for row, index in enumerate(first_index):
            left_out[row] = _checked_curve(curve, np.delete(ordered, index))
    weights = repeats.astype(np.float64)
    mean = weights @ left_out / n
    spread = weights @ (left_out - mean) ** 2
    standard_error = np.sqrt((n - 1) / n * spread)
    half_width = t_quantile((1.0 + confidence) / 2.0, float(n - 1)) * standard_error
    low[: n - 1] = full - half_width
    high[: n - 1] = full + half_width
    if clip_unit:
        np.clip(low, 0.0, 1.0, out=low)
        np.clip(high, 0.0, 1.0, out=high)
    return low, high


def _checked_curve(
    curve: Callable[[NDArray[np.float64]], NDArray[np.float64]], values: NDArray[np.float64]
) -> NDArray[np.float64]:
    result = np.asarray(curve(values), dtype=np.float64)
    if result.shape != values.shape:
        raise AnalysisError(
            f"the curve gave shape {result.shape} for {values.size} values: it must give one "
            "figure per k = 1..m (per row, with rows=True)"
        )
    return result
