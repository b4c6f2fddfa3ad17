"""Best-of-k metrics against brute-force enumeration of every k-subset, and their input checks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from numpy.typing import NDArray

from lassi_hpc.analysis.metrics import (
    AnalysisError,
    best_of_k_weights,
    energy_reduction_at_k,
    energy_reduction_curve,
    expected_best_curve,
    expected_best_of_k,
    pass_at_k,
    pass_curve,
    speedup_at_k,
    speedup_curve,
)


def brute_force_best_of_k(values: NDArray[np.float64], k: int) -> float:
    subsets = list(itertools.combinations(values.tolist(), k))
    return math.fsum(max(subset) for subset in subsets) / len(subsets)


def random_reductions(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    # Rounded to one decimal and with failed trials at 0, so ties are common.
    values = np.round(rng.uniform(0.0, 0.8, size=n), 1)
    values[rng.random(n) < 0.3] = 0.0
    return values


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 12])
def test_matches_brute_force_for_every_k(n: int) -> None:
    rng = np.random.default_rng(100 + n)
    for _ in range(5):
        values = random_reductions(rng, n)
        for k in range(1, n + 1):
            expected = brute_force_best_of_k(values, k)
            assert expected_best_of_k(values, k) == pytest.approx(expected, abs=1e-12)
            assert energy_reduction_at_k(values, k) == pytest.approx(expected, abs=1e-12)


def test_all_ties_give_the_tied_value() -> None:
    values = np.full(7, 0.25)
    assert expected_best_curve(values) == pytest.approx(np.full(7, 0.25), abs=1e-15)


def test_descending_order_as_in_pareval_is_wrong() -> None:
    values = np.array([0.0, 0.1, 0.5, 0.2, 0.4])
    k = 2
    correct = brute_force_best_of_k(values, k)
    descending_weighted = float(np.dot(best_of_k_weights(values.size, k), np.sort(values)[::-1]))
    assert energy_reduction_at_k(values, k) == pytest.approx(correct, abs=1e-12)
    assert abs(descending_weighted - correct) > 0.1


def test_zero_one_scores_equal_pass_at_k() -> None:
    for n in range(1, 16):
        for c in range(n + 1):
            scores = np.array([1.0] * c + [0.0] * (n - c))
            curve = energy_reduction_curve(scores)
            passes = pass_curve(n, c)
            for k in range(1, n + 1):
                assert energy_reduction_at_k(scores, k) == pytest.approx(
                    pass_at_k(n, c, k), abs=1e-12
                )
                assert curve[k - 1] == pytest.approx(pass_at_k(n, c, k), abs=1e-12)
                assert passes[k - 1] == pytest.approx(pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_by_hand() -> None:
    # 10 trials, 3 pass: 1 - C(7,2)/C(10,2) = 1 - 21/45
    assert pass_at_k(10, 3, 2) == pytest.approx(1 - 21 / 45, abs=1e-15)
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 8, 3) == 1.0


@pytest.mark.parametrize("n", [1, 4, 11, 40])
def test_curve_equals_scalar_and_is_monotone(n: int) -> None:
    rng = np.random.default_rng(n)
    reductions = random_reductions(rng, n)
    speedups = 1.0 + rng.exponential(0.5, size=n)
    for values, curve, scalar in (
        (reductions, energy_reduction_curve(reductions), energy_reduction_at_k),
        (speedups, speedup_curve(speedups), speedup_at_k),
    ):
        for k in range(1, n + 1):
            assert curve[k - 1] == pytest.approx(scalar(values, k), abs=1e-12)
        assert np.all(np.diff(curve) >= -1e-12)
        assert curve[0] == pytest.approx(np.mean(values), abs=1e-12)
        assert curve[-1] == pytest.approx(np.max(values), abs=1e-12)


def test_large_n_is_sane() -> None:
    rng = np.random.default_rng(7)
    n = 5000
    reductions = rng.beta(2.0, 5.0, size=n)
    for k in (1, 2, 10, 2500, 4999, 5000):
        assert best_of_k_weights(n, k).sum() == pytest.approx(1.0, abs=1e-9)
        value = energy_reduction_at_k(reductions, k)
        assert reductions.mean() - 1e-12 <= value <= reductions.max() + 1e-12
    curve = energy_reduction_curve(reductions)
    assert np.all(np.isfinite(curve))
    assert np.all(np.diff(curve) >= -1e-12)
    for k in (1, 3, 100, 4000, 5000):
        assert curve[k - 1] == pytest.approx(energy_reduction_at_k(reductions, k), abs=1e-9)


def test_ten_thousand_trials_do_not_overflow() -> None:
    weights = best_of_k_weights(10_000, 30)
    assert np.all(np.isfinite(weights))
    assert weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert weights[-1] == pytest.approx(30 / 10_000)


@pytest.mark.parametrize(
    ("reductions", "k", "match"),
    [
        ([0.1, 0.2], 0, r"k is 0 but there are 2 reductions"),
        ([0.1, 0.2], 3, r"k is 3 but there are 2 reductions"),
        ([0.1, 0.2], 1.0, r"k must be an int, got 1\.0 \(float\)"),
        ([0.1, 0.2], True, r"k must be an int, got True \(bool\)"),
        ([], 1, r"reductions is empty"),
        ([0.1, math.nan], 1, r"reductions\[1\] is nan: every value must be finite"),
        ([0.1, 0.2, math.inf], 1, r"reductions\[2\] is inf"),
        ([0.1, 0.2, 0.0, -0.2], 1, r"reductions\[3\] is -0\.2: reductions are never negative"),
        ([0.1, 1.5], 1, r"reductions\[1\] is 1\.5: a reduction .* is at most 1"),
        ([[0.1, 0.2]], 1, r"reductions must be one-dimensional"),
    ],
)
def test_energy_reduction_refuses_bad_input(reductions: object, k: object, match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        energy_reduction_at_k(reductions, k)  # type: ignore[arg-type]


def test_energy_reduction_curve_refuses_bad_input() -> None:
    with pytest.raises(AnalysisError, match=r"reductions\[0\] is -0\.1"):
        energy_reduction_curve([-0.1, 0.2])
    with pytest.raises(AnalysisError, match=r"reductions is empty"):
        energy_reduction_curve([])
    with pytest.raises(AnalysisError, match=r"reductions\[1\] is 2\.0"):
        energy_reduction_curve([0.5, 2.0])


@pytest.mark.parametrize(
    ("n", "c", "k", "match"),
    [
        (0, 0, 1, r"n is 0"),
        (5, -1, 1, r"c is -1"),
        (5, 6, 1, r"c is 6: .* between 0 and n = 5"),
        (5, 2, 0, r"k is 0 but there are 5 trials"),
        (5, 2, 6, r"k is 6 but there are 5 trials"),
        (5.0, 2, 1, r"n must be an int, got 5\.0"),
        (5, 2.0, 1, r"c must be an int"),
        (5, 2, 1.5, r"k must be an int"),
        (5, True, 1, r"c must be an int, got True"),
    ],
)
def test_pass_at_k_refuses_bad_input(n: object, c: object, k: object, match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        pass_at_k(n, c, k)  # type: ignore[arg-type]


def test_pass_curve_refuses_bad_counts() -> None:
    with pytest.raises(AnalysisError, match=r"c is 4"):
        pass_curve(3, 4)


def test_numpy_integers_are_accepted() -> None:
    assert pass_at_k(np.int64(4), np.int64(1), np.int64(2)) == pytest.approx(0.5)  # type: ignore[arg-type]
    assert energy_reduction_at_k([0.0, 0.4], np.int64(2)) == pytest.approx(0.4)  # type: ignore[arg-type]


def test_speedups_must_be_positive_and_finite() -> None:
    assert speedup_at_k([1.0, 2.0, 1.5], 2) == pytest.approx((2 + 2 + 1.5) / 3)
    with pytest.raises(AnalysisError, match=r"speedups\[1\] is 0\.0: .* above 0"):
        speedup_at_k([1.0, 0.0], 1)
    with pytest.raises(AnalysisError, match=r"speedups\[0\] is inf"):
        speedup_curve([math.inf])
