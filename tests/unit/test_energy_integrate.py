"""Energy from power samples (the SAMPLED_POWER path)."""

from __future__ import annotations

import pytest

from lassi_hpc.energy.integrate import integrate_power_j


def test_constant_power_is_exact_even_beyond_the_samples() -> None:
    assert integrate_power_j([1.0, 1.5], [40.0, 40.0], 0.0, 3.0) == pytest.approx(120.0)


def test_linear_power_is_exact_between_samples() -> None:
    times_s = [float(t) for t in range(11)]
    powers_w = [2.0 * t for t in times_s]  # energy from a to b = b^2 - a^2
    assert integrate_power_j(times_s, powers_w, 1.5, 7.25) == pytest.approx(7.25**2 - 1.5**2)


def test_power_is_held_outside_the_samples() -> None:
    # 1 s at 10 W before the first sample, 1 s ramp 10 -> 20 W, 1 s at 20 W after the last
    assert integrate_power_j([1.0, 2.0], [10.0, 20.0], 0.0, 3.0) == pytest.approx(45.0)


def test_power_below_idle_is_not_clipped() -> None:
    assert integrate_power_j([0.0, 1.0], [-5.0, -5.0], 0.0, 1.0) == pytest.approx(-5.0)


@pytest.mark.parametrize(
    ("times_s", "powers_w", "start_s", "end_s"),
    [([], [], 0.0, 1.0), ([0.0], [1.0, 2.0], 0.0, 1.0), ([0.0], [1.0], 2.0, 1.0)],
    ids=str,
)
def test_bad_input_is_rejected(
    times_s: list[float], powers_w: list[float], start_s: float, end_s: float
) -> None:
    with pytest.raises(ValueError):
        integrate_power_j(times_s, powers_w, start_s, end_s)
