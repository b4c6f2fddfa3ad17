"""Repetition statistics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from lassi_hpc.energy.stats import summarize, t_quantile_975


def test_three_values_by_hand() -> None:
    # mean 12; deviations -2, 0, 2 -> sd = sqrt(8 / 2) = 2; ci = 4.303 * 2 / sqrt(3); cv = 1/6
    summary = summarize([10.0, 12.0, 14.0])
    assert summary.n == 3
    assert summary.mean == pytest.approx(12.0)
    assert summary.sd == pytest.approx(2.0)
    assert summary.ci95 == pytest.approx(4.968676, rel=1e-6)
    assert summary.cv == pytest.approx(1 / 6)
    assert summary.flags == ("cv>5%",)


def test_four_values_by_hand() -> None:
    # mean 100; sd = sqrt(2 / 3) = 0.816497; ci = 3.182 * 0.816497 / 2 = 1.299046; cv 0.82%
    summary = summarize([100.0, 101.0, 99.0, 100.0])
    assert summary.sd == pytest.approx(0.8164966, rel=1e-6)
    assert summary.ci95 == pytest.approx(1.2990460, rel=1e-6)
    assert summary.cv == pytest.approx(0.008164966, rel=1e-6)
    assert summary.flags == ()


@pytest.mark.parametrize(
    ("values", "flagged"),
    [
        ([96.0, 104.0], True),  # cv = 5.66%
        ([97.0, 103.0], False),  # cv = 4.24%
        ([95.0, 105.0], True),  # cv = 7.07%
        ([99.0, 101.0], False),  # cv = 1.41%
    ],
    ids=str,
)
def test_cv_flag_only_above_five_percent(values: list[float], flagged: bool) -> None:
    assert ("cv>5%" in summarize(values).flags) is flagged


def test_single_value_has_no_spread_and_says_so() -> None:
    summary = summarize([5.0])
    assert summary.mean == 5.0
    assert math.isnan(summary.sd)
    assert math.isnan(summary.ci95)
    assert math.isnan(summary.cv)
    assert summary.flags == ("single-repetition",)


def test_zero_mean_with_spread_is_flagged() -> None:
    summary = summarize([-1.0, 1.0])
    assert summary.cv == math.inf
    assert "cv>5%" in summary.flags


def test_empty_input_is_an_error() -> None:
    with pytest.raises(ValueError, match="zero values"):
        summarize([])


@pytest.mark.parametrize(
    ("df", "t"),
    [(1, 12.706), (2, 4.303), (10, 2.228), (30, 2.042), (35, 2.042), (45, 2.021), (1000, 1.960)],
    ids=str,
)
def test_t_quantiles(df: int, t: float) -> None:
    assert t_quantile_975(df) == t


def test_t_quantile_needs_a_degree_of_freedom() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        t_quantile_975(0)
