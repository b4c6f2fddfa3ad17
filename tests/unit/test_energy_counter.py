"""Cumulative energy counters (wrap at a modulus, resets rejected) and the problem log."""

from __future__ import annotations

import pytest

from lassi_hpc.energy.counter import CumulativeCounter, ProblemLog


def counter(first_raw: int, modulus: int | None = None) -> tuple[CumulativeCounter, ProblemLog]:
    problems = ProblemLog()
    return (
        CumulativeCounter(first_raw, modulus=modulus, problems=problems, problem_key="dev-0"),
        problems,
    )


def test_forward_steps_add_up_from_the_first_reading() -> None:
    energy, problems = counter(1_000)
    assert energy.total == 0
    assert energy.advance(1_250) == 250
    assert energy.advance(1_250) == 250
    assert energy.advance(2_000) == 1_000
    assert problems.lines() == ()


def test_a_wrap_at_the_modulus_is_undone() -> None:
    energy, problems = counter(990, modulus=1_000)
    assert energy.advance(995) == 5
    # 995 -> wrap at 1000 -> 20: 5 + 20 more.
    assert energy.advance(20) == 30
    assert energy.advance(40) == 50
    assert problems.lines() == ()


def test_a_backward_step_without_modulus_is_a_reset_counted_once_per_time() -> None:
    energy, problems = counter(5_000)
    assert energy.advance(5_100) == 100
    assert energy.advance(30) is None  # driver reload: the interval is unknown
    assert energy.total == 100
    assert energy.advance(80) == 150  # counting resumes from the new base
    assert energy.advance(10) is None
    assert problems.count("dev-0") == 2
    assert problems.lines() == (
        "dev-0: energy counter stepped back from 5100 to 30 (a reset?); that interval is not "
        "counted, rejected 2 times",
    )


def test_the_total_never_decreases() -> None:
    energy, _ = counter(0)
    totals = [energy.total]
    for raw in (10, 20, 5, 7, 3, 50):
        energy.advance(raw)
        totals.append(energy.total)
    assert totals == sorted(totals)
    assert totals[-1] == 20 + 2 + 47


def test_a_modulus_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        counter(0, modulus=0)


def test_problem_log_keeps_the_first_line_per_key_in_order() -> None:
    log = ProblemLog()
    log.add("b", "b: sentinel 0xFFFFFFFF")
    log.add("a", "a: power above limit (900 W)")
    log.add("b", "b: sentinel again")
    assert log.lines() == (
        "b: sentinel 0xFFFFFFFF, rejected 2 times",
        "a: power above limit (900 W), rejected 1 time",
    )
    assert log.count("b") == 2
    assert log.count("never") == 0
