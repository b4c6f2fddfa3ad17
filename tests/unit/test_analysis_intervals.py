"""App-level bootstrap and within-app jackknife intervals, and the exact Student t quantile."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from lassi_hpc.analysis.intervals import (
    bootstrap_mean_ci,
    jackknife_curve_ci,
    regularized_incomplete_beta,
    t_quantile,
)
from lassi_hpc.analysis.metrics import AnalysisError, best_of_k_rows, energy_reduction_curve


def mean_curve(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """The sample mean repeated once per k: its jackknife is the textbook t-interval."""
    return np.full(values.size, np.mean(values))


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 12.706), (2, 4.303), (4, 2.776), (10, 2.228), (29, 2.045), (1e6, 1.960)],
)
def test_t_quantile_matches_table(df: float, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


def test_t_quantile_other_levels_and_symmetry() -> None:
    assert t_quantile(0.995, 5) == pytest.approx(4.032, abs=5e-4)
    assert t_quantile(0.95, 20) == pytest.approx(1.725, abs=5e-4)
    assert t_quantile(0.5, 3) == pytest.approx(0.0, abs=1e-12)
    assert t_quantile(0.025, 4) == pytest.approx(-t_quantile(0.975, 4), abs=1e-12)
    # df = 1 is the Cauchy distribution: tan(pi * (p - 1/2)) exactly.
    assert t_quantile(0.9, 1) == pytest.approx(math.tan(math.pi * 0.4), rel=1e-10)


def test_incomplete_beta_known_values() -> None:
    # I_x(1, 1) = x; I_x(2, 1) = x^2; I_0.5(a, a) = 1/2 by symmetry.
    assert regularized_incomplete_beta(0.3, 1.0, 1.0) == pytest.approx(0.3, abs=1e-14)
    assert regularized_incomplete_beta(0.3, 2.0, 1.0) == pytest.approx(0.09, abs=1e-14)
    assert regularized_incomplete_beta(0.5, 7.5, 7.5) == pytest.approx(0.5, abs=1e-14)


def test_t_quantile_refuses_bad_arguments() -> None:
    with pytest.raises(AnalysisError, match=r"probability is 1\.0"):
        t_quantile(1.0, 3)
    with pytest.raises(AnalysisError, match=r"degrees of freedom is 0"):
        t_quantile(0.9, 0)


def test_bootstrap_brackets_the_mean_and_is_seeded() -> None:
    rng = np.random.default_rng(3)
    per_app = rng.uniform(0.0, 0.6, size=(25, 4))
    low, high = bootstrap_mean_ci(per_app, samples=1000, seed=11)
    means = per_app.mean(axis=0)
    assert np.all(low < means)
    assert np.all(means < high)
    again_low, again_high = bootstrap_mean_ci(per_app, samples=1000, seed=11)
    np.testing.assert_array_equal(low, again_low)
    np.testing.assert_array_equal(high, again_high)
    other_low, other_high = bootstrap_mean_ci(per_app, samples=1000, seed=12)
    assert not np.array_equal(low, other_low)
    assert not np.array_equal(high, other_high)


def test_bootstrap_constant_column_has_zero_width() -> None:
    per_app = np.column_stack([np.full(30, 0.3), np.linspace(0.0, 1.0, 30)])
    low, high = bootstrap_mean_ci(per_app, samples=500, seed=0)
    assert low[0] == 0.3
    assert high[0] == 0.3
    assert high[1] - low[1] > 0.1


def test_bootstrap_ignores_missing_values() -> None:
    # App 2 has no value in column 1 (too few trials for that k): the column's apps are 0 and 1.
    per_app = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, np.nan]])
    low, high = bootstrap_mean_ci(per_app, samples=2000, seed=5)
    assert 0.2 <= low[1] <= high[1] <= 0.4
    assert low[1] < 0.3 < high[1]
    # Had the missing value counted as 0, resamples would reach well below 0.2.
    as_zero_low, _ = bootstrap_mean_ci(np.nan_to_num(per_app), samples=2000, seed=5)
    assert as_zero_low[1] < 0.15


def test_bootstrap_column_with_too_few_apps_is_nan() -> None:
    per_app = np.array([[0.1, np.nan, np.nan], [0.3, 0.4, np.nan], [0.5, np.nan, np.nan]])
    low, high = bootstrap_mean_ci(per_app, samples=200, seed=1)
    assert np.isfinite(low[0])
    assert np.isfinite(high[0])
    assert np.isnan(low[1:]).all()
    assert np.isnan(high[1:]).all()


def test_bootstrap_coverage_on_normal_data() -> None:
    rng = np.random.default_rng(2024)
    true_mean = 0.3
    repeats = 200
    covered = 0
    for repeat in range(repeats):
        per_app = rng.normal(true_mean, 0.1, size=(40, 1))
        low, high = bootstrap_mean_ci(per_app, samples=500, seed=repeat)
        covered += int(low[0] <= true_mean <= high[0])
    assert 0.88 <= covered / repeats <= 0.99


@pytest.mark.parametrize(
    ("per_app", "samples", "confidence", "match"),
    [
        (np.zeros(3), 10, 0.95, r"per_app must be apps x columns"),
        (np.zeros((3, 2)), 0, 0.95, r"samples is 0"),
        (np.zeros((3, 2)), 10, 1.0, r"confidence is 1\.0"),
        (np.array([[0.0, np.inf], [0.1, 0.2]]), 10, 0.95, r"per_app\[0, 1\] is inf"),
    ],
)
def test_bootstrap_refuses_bad_input(
    per_app: NDArray[np.float64], samples: int, confidence: float, match: str
) -> None:
    with pytest.raises(AnalysisError, match=match):
        bootstrap_mean_ci(per_app, samples=samples, seed=0, confidence=confidence)


def test_jackknife_of_constant_values_has_zero_width() -> None:
    values = np.full(10, 0.4)
    low, high = jackknife_curve_ci(values, energy_reduction_curve)
    np.testing.assert_allclose(low[:-1], 0.4, atol=1e-12)
    np.testing.assert_allclose(high[:-1], 0.4, atol=1e-12)
    assert math.isnan(low[-1])
    assert math.isnan(high[-1])


def test_jackknife_of_the_mean_is_the_t_interval() -> None:
    values = np.array([0.12, 0.31, 0.05, 0.44, 0.27, 0.27, 0.18])
    n = values.size
    half_width = 2.447 * values.std(ddof=1) / math.sqrt(n)  # t(0.975, 6) = 2.447
    low, high = jackknife_curve_ci(values, mean_curve)
    np.testing.assert_allclose(low[:-1], values.mean() - half_width, rtol=2e-4)
    np.testing.assert_allclose(high[:-1], values.mean() + half_width, rtol=2e-4)


def test_jackknife_of_best_of_k_brackets_the_curve_and_clips() -> None:
    values = np.array([0.0, 0.0, 0.05, 0.1, 0.6, 0.0, 0.3, 0.95])
    curve = energy_reduction_curve(values)
    low, high = jackknife_curve_ci(values, energy_reduction_curve)
    assert np.all(low[:-1] <= curve[:-1])
    assert np.all(curve[:-1] <= high[:-1])
    assert low[0] < 0.0 or high[-2] > 1.0  # wide enough to need the clip
    clipped_low, clipped_high = jackknife_curve_ci(values, energy_reduction_curve, clip_unit=True)
    assert np.all(clipped_low[:-1] >= 0.0)
    assert np.all(clipped_high[:-1] <= 1.0)
    np.testing.assert_array_equal(clipped_low[:-1], np.clip(low[:-1], 0.0, 1.0))


def test_jackknife_ties_match_leaving_each_trial_out() -> None:
    # The unique-value shortcut must equal the plain leave-each-out computation.
    values = np.array([0.2, 0.0, 0.2, 0.5, 0.0, 0.0, 0.7])
    n = values.size
    left_out = np.array([energy_reduction_curve(np.delete(values, i)) for i in range(n)])
    spread = ((left_out - left_out.mean(axis=0)) ** 2).sum(axis=0)
    half_width = t_quantile(0.975, n - 1) * np.sqrt((n - 1) / n * spread)
    full = energy_reduction_curve(values)[:-1]
    low, high = jackknife_curve_ci(values, energy_reduction_curve)
    np.testing.assert_allclose(low[:-1], full - half_width, atol=1e-12)
    np.testing.assert_allclose(high[:-1], full + half_width, atol=1e-12)


def test_jackknife_over_rows_matches_one_curve_at_a_time() -> None:
    values = np.array([0.0, 0.0, 0.3, 0.1, 0.3, 0.0, 0.45, 0.2])
    one_by_one = jackknife_curve_ci(values, energy_reduction_curve)
    batched = jackknife_curve_ci(values, best_of_k_rows, rows=True)
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-12, atol=1e-15)


def test_jackknife_with_fewer_than_two_values_is_nan() -> None:
    low, high = jackknife_curve_ci(np.array([0.3]), energy_reduction_curve)
    assert low.shape == (1,)
    assert np.isnan(low).all()
    assert np.isnan(high).all()


def test_jackknife_refuses_bad_input() -> None:
    with pytest.raises(AnalysisError, match=r"values\[1\] is nan"):
        jackknife_curve_ci(np.array([0.1, np.nan, 0.2]), energy_reduction_curve)
    with pytest.raises(AnalysisError, match=r"the curve gave shape \(1,\) for 3 values"):
        jackknife_curve_ci(np.array([0.1, 0.2, 0.3]), lambda v: np.array([v.mean()]))
    with pytest.raises(AnalysisError, match=r"confidence is 0"):
        jackknife_curve_ci(np.array([0.1, 0.2]), energy_reduction_curve, confidence=0)
