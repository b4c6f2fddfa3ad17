"""The pieces under the oracle: tokenizing, masking, line matching and the tolerance test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lassi_hpc.stages.compare_numbers import (
    Roles,
    Tolerance,
    compare_text,
    count_numbers,
    first_matching_line,
    keep_lines,
    mask_lines,
    matching_lines,
    tokenize,
    within_tolerance,
)

TOLERANCE = Tolerance(rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(
    ("line", "tokens"),
    [
        ("-1.5e-03", [-1.5e-3]),
        ("+2E+10", [2e10]),
        (".5 5.", [0.5, " ", 5.0]),
        ("x=3.0,y=4.0", ["x=", 3.0, ",y=", 4.0]),
        ("sample[17]:", ["sample[", 17.0, "]:"]),
        ("a = -7", ["a = ", -7.0]),
        ("1-2", [1.0, "-", 2.0]),  # a minus right after a number is text
        ("x-1", ["x-", 1.0]),  # ...and so is one right after a name
        ("float32 sm_80 x2 v1.2.3", ["float32 sm_80 x2 v1.2.3"]),  # names keep their digits
        ("12ms 3.5GB/s", [12.0, "ms ", 3.5, "GB/s"]),  # units glued to a number are text
        ("1e5x 1e", [1e5, "x ", 1.0, "e"]),
        ("info nano Inference", ["info nano Inference"]),  # words that start like inf/nan
        ("inf -inf Infinity INF", [math.inf, " ", -math.inf, " ", math.inf, " ", math.inf]),
        ("0x1F", [0.0, "x1F"]),
    ],
)
def test_tokenize(line: str, tokens: list[str | float]) -> None:
    assert tokenize(line) == tokens
    assert count_numbers(line) == sum(isinstance(t, float) for t in tokens)


@pytest.mark.parametrize("spelling", ["nan", "NaN", "-nan", "+NAN"])
def test_tokenize_nan(spelling: str) -> None:
    tokens = tokenize(f"v={spelling};")
    assert tokens[0] == "v=" and tokens[2] == ";"
    value = tokens[1]
    assert isinstance(value, float) and math.isnan(value)


def test_mask_lines_drops_blank_masked_and_trailing_whitespace() -> None:
    text = "a 1   \n\nKernel TIME: 3 ms\n  b 2\r\nElapsed: 4\n"
    assert mask_lines(text, (r"(?i)\btime\b", r"Elapsed")) == ["a 1", "  b 2"]


def test_keep_lines_numbers_lines_before_masking() -> None:
    kept = keep_lines("x 1\n\ntime 5\ny   2\n", (r"time",))
    assert kept.line_numbers == [1, 4]
    assert kept.raw == ["x 1", "y   2"]
    assert kept.normalized == ["x 1", "y 2"]


def test_matching_lines_searches_each_line() -> None:
    lines = ["Kernel time: 12.5 ms", "timeout reached", "KERNEL TIME 3", "sum = 10.0"]
    assert matching_lines(lines, r"(?i)\btime\b", "mask pattern") == {0, 2}
    assert first_matching_line(lines, r"(?i)\btime\b", "mask pattern") == 0
    assert first_matching_line(lines, r"^sum", "mask pattern") == 3
    assert first_matching_line(lines, r"PASS", "mask pattern") is None
    assert matching_lines([], "x", "mask pattern") == set()
    assert first_matching_line([], "x", "mask pattern") is None


def test_within_tolerance_elementwise() -> None:
    nan, inf = math.nan, math.inf
    reference = np.array([0.0, 1.0, nan, inf, -inf, 1.0, inf, 5.0])
    candidate = np.array([-0.0, 1.000001, nan, inf, -inf, nan, -inf, inf])
    expected = [True, True, True, True, True, False, False, False]
    assert within_tolerance(reference, candidate, TOLERANCE).tolist() == expected


def test_compare_text_names_the_stream_and_the_roles() -> None:
    result = compare_text(
        "v 1\n", "v 2\n", TOLERANCE, (), label="file 'out.txt'", roles=Roles("first", "second")
    )
    assert not result.ok
    assert result.reason.startswith("file 'out.txt' line 1, number 1: first 1, second 2:")


def test_compare_text_quotes_long_lines_shortened() -> None:
    long_line = "v " + "x" * 500 + " 1"
    result = compare_text(long_line, long_line.replace(" 1", " 2"), TOLERANCE, ())
    assert not result.ok
    assert "x" * 200 not in result.reason
    assert "...'" in result.reason


def test_compare_text_reports_the_first_of_several_mismatches() -> None:
    reference = "a 1\nb 2\nc 3\n"
    result = compare_text(reference, "a 1\nb 9\nc 9\n", TOLERANCE, ())
    assert result.reason.startswith("stdout line 2, number 1: reference 2, candidate 9")
    result = compare_text(reference, "a 1\nB 2\nc 9\n", TOLERANCE, ())
    assert result.reason.startswith("stdout line 2: text differs")
    # A number mismatch before a text mismatch is the one reported.
    result = compare_text(reference, "a 5\nB 2\nc 3\n", TOLERANCE, ())
    assert result.reason.startswith("stdout line 1, number 1")


def test_compare_text_counts_values_of_identical_and_close_lines() -> None:
    result = compare_text("a 1 2\nb 3\n", "a 1 2\nb 3.00000001\n", TOLERANCE, ())
    assert result.ok
    assert result.compared_values == 3
