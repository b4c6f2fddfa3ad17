"""Best-of-k metrics: energy-reduction@k, pass@k and speedup@k, unbiased over one app's n trials.

All three are the expected best value of a k-subset drawn uniformly without replacement from the
app's n per-trial values. Sorting ascending, v_(1) <= ... <= v_(n), that expectation is

    E[best of k] = sum_{i=k..n} C(i-1, k-1) / C(n, k) * v_(i)

because v_(i) is the best of the subset exactly when the subset holds it and k-1 of the i-1 values
below it. For 0/1 scores this is the unbiased pass@k estimator. Reductions and pass rates are
fractions (0.29 is 29%); speedups are ratios T_baseline / T (1.0 is no change).

A public peer, ParEval's speedup_n@k, sorts the values the wrong way (descending) before applying
these weights, which weights the worst values instead of the best; its figures come out too low.
The tests compare ours with brute-force enumeration of every k-subset and check that the descending
order gives a different, wrong answer.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lassi_hpc.errors import LassiError


class AnalysisError(LassiError):
    """Analysis input that no figure can be computed from (a bad k, a NaN, a negative reduction)."""


def _require_int(value: object, name: str) -> int:
    # bool is an int subclass; True as a k is a caller's bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise AnalysisError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    return int(value)


def _require_k(k: object, n: int, what: str) -> int:
    k_int = _require_int(k, "k")
    if not 1 <= k_int <= n:
        raise AnalysisError(f"k is {k_int} but there are {n} {what}: k must be between 1 and {n}")
    return k_int


def _finite_values(
    values: Sequence[float] | ArrayLike,
    name: str,
    *,
    lowest: float = -math.inf,
    lowest_inclusive: bool = True,
    lowest_reason: str = "",
    highest: float = math.inf,
    highest_reason: str = "",
) -> NDArray[np.float64]:
    """`values` as a 1-D float64 array, checked: non-empty, finite, inside [lowest, highest]."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise AnalysisError(f"{name} must be a sequence of numbers: {error}") from error
    if array.ndim != 1:
        raise AnalysisError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise AnalysisError(f"{name} is empty: at least one trial is needed")
    bad = ~np.isfinite(array)
    if bad.any():
        index = int(np.argmax(bad))
        raise AnalysisError(f"{name}[{index}] is {array[index]}: every value must be finite")
    too_low = array < lowest if lowest_inclusive else array <= lowest
    if too_low.any():
        index = int(np.argmax(too_low))
        raise AnalysisError(f"{name}[{index}] is {array[index]}: {lowest_reason}")
    too_high = array > highest
    if too_high.any():
        index = int(np.argmax(too_high))
        raise AnalysisError(f"{name}[{index}] is {array[index]}: {highest_reason}")
    return array


def best_of_k_weights(n: int, k: int) -> NDArray[np.float64]:
    """The weight C(i-1, k-1) / C(n, k) of the i-th smallest of n values (index i - 1), for 1<=k<=n.

    Built from w_n = k/n downwards by w_{i-1} = w_i * (i-k)/(i-1), so n = 10,000 neither overflows
    nor loses precision; weights below the k-th smallest are 0, and the weights sum to 1.
    """
    n = _require_int(n, "n")
    if n < 1:
        raise AnalysisError(f"n is {n}: at least one value is needed")
    k = _require_k(k, n, "values")
    weights = np.zeros(n, dtype=np.float64)
    # ratios[j] = w_{i-1} / w_i for i = n, n-1, ..., k+1
    i = np.arange(n, k, -1, dtype=np.float64)
    ratios = (i - k) / (i - 1)
    weights[k - 1 :] = (k / n) * np.concatenate(([1.0], np.cumprod(ratios)))[::-1]
    return weights


def expected_best_of_k(values: Sequence[float] | NDArray[np.float64], k: int) -> float:
    """The expected maximum of a k-subset drawn uniformly without replacement from `values`
    (in the values' unit). k = 1 gives the mean, k = n the maximum."""
    array = _finite_values(values, "values")
    k = _require_k(k, array.size, "values")
    return float(np.dot(best_of_k_weights(array.size, k), np.sort(array)))


def expected_best_curve(values: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    """expected_best_of_k for every k = 1..n at once (index k - 1), in the values' unit."""
    ordered = np.sort(_finite_values(values, "values"))
    first: NDArray[np.float64] = best_of_k_rows(ordered[np.newaxis, :])[0]
    return first


def best_of_k_rows(sorted_rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """expected_best_curve of each row of a 2-D array whose rows are sorted ascending (unchecked:
    callers validate), as an array of the same shape; for many curves of one length at once.

    O(n^2) time per row and O(n) memory for the weights: the weight row moves from k to k + 1 by
    the factor (i-k)(k+1) / (k(n-k)) for the i-th smallest value. For a fixed i that factor
    exceeds 1 and then stays below 1, so a weight that underflows to 0 never had to grow again.
    """
    n = sorted_rows.shape[1]
    i = np.arange(1, n + 1, dtype=np.float64)
    weights = np.full(n, 1.0 / n)
    curves = np.empty(sorted_rows.shape, dtype=np.float64)
    for k in range(1, n + 1):
        curves[:, k - 1] = sorted_rows @ weights
        if k < n:
            weights = np.maximum(weights * ((i - k) * (k + 1) / (k * (n - k))), 0.0)
    return curves


def _reductions(reductions: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    return _finite_values(
        reductions,
        "reductions",
        lowest=0.0,
        lowest_reason="reductions are never negative (a failed or slower trial counts as 0)",
        highest=1.0,
        highest_reason="a reduction 1 - E/E_baseline is at most 1 (a fraction, not a percent)",
    )


def energy_reduction_at_k(reductions: Sequence[float] | NDArray[np.float64], k: int) -> float:
    """ER@k of one app: the expected best energy reduction (fraction) among k of its n trials.

    `reductions` holds g_i = max(0, 1 - E_i/E_baseline) for trials that passed every gate and 0
    for the rest; each lies in [0, 1]. Campaign figures average this over apps.
    """
    array = _reductions(reductions)
    return expected_best_of_k(array, _require_k(k, array.size, "reductions"))


def energy_reduction_curve(
    reductions: Sequence[float] | NDArray[np.float64],
) -> NDArray[np.float64]:
    """ER@k of one app for every k = 1..n (index k - 1); same input as energy_reduction_at_k."""
    return expected_best_curve(_reductions(reductions))


def _pass_counts(n: object, c: object) -> tuple[int, int]:
    n_int = _require_int(n, "n")
    c_int = _require_int(c, "c")
    if n_int < 1:
        raise AnalysisError(f"n is {n_int}: pass@k needs at least one trial")
    if not 0 <= c_int <= n_int:
        raise AnalysisError(f"c is {c_int}: the passing trials must be between 0 and n = {n_int}")
    return n_int, c_int


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k (fraction): the chance that at least one of k of n trials, c of which
    passed, passes. 1 - C(n-c, k)/C(n, k), computed as 1 - prod_{i=n-c+1..n} (1 - k/i)."""
    n, c = _pass_counts(n, c)
    k = _require_k(k, n, "trials")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def pass_curve(n: int, c: int) -> NDArray[np.float64]:
    """pass_at_k(n, c, k) for every k = 1..n (index k - 1)."""
    n, c = _pass_counts(n, c)
    ks = np.arange(1, n + 1, dtype=np.float64)
    all_fail = np.ones(n, dtype=np.float64)
    for i in range(n - c + 1, n + 1):
        # A factor for i <= k is 0 or below: once k reaches n-c+1 a pass is certain.
        all_fail *= np.maximum(1.0 - ks / i, 0.0)
    return 1.0 - all_fail


def _speedups(speedups: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    return _finite_values(
        speedups,
        "speedups",
        lowest=0.0,
        lowest_inclusive=False,
        lowest_reason="a speedup T_baseline/T must be above 0",
    )


def speedup_at_k(speedups: Sequence[float] | NDArray[np.float64], k: int) -> float:
    """speedup@k of one app: the expected best speedup (ratio) among k of its n trials.

    The caller clips: it passes max(1, T_baseline/T) for passing trials and 1 for the rest (the
    original is kept), so the figure is never below 1. Here values need only be finite and > 0.
    """
    array = _speedups(speedups)
    return expected_best_of_k(array, _require_k(k, array.size, "speedups"))


def speedup_curve(speedups: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    """speedup@k of one app for every k = 1..n (index k - 1); same input as speedup_at_k."""
    return expected_best_curve(_speedups(speedups))
