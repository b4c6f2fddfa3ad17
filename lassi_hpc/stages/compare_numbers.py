"""Number-aware comparison of two program outputs: masking, tokenizing, and the tolerance test.

A line is split into text and numbers. Text must match exactly (up to runs of whitespace);
numbers match when |candidate - reference| <= atol + rtol * |reference|, evaluated in float64. The
rules, with examples, are in docs/oracle.md; `lassi_hpc.stages.verify` turns a `Comparison` into a
`Verdict`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress
from operator import ne

import numpy as np
from numpy.typing import NDArray

from lassi_hpc.errors import AppError

# A number is an optional sign, then digits with an optional fraction (or a bare fraction), then an
# optional exponent; or inf/infinity/nan in any case. It may not start inside an identifier or
# right after a digit or dot: "float32", "sm_80", "x2" and "v1.2.3" stay text (they are names,
# compared exactly), and the "-" in "1-2" or "x-1" is text, not a sign. "-nan" is accepted because
# glibc prints NaN with its sign bit. The leading lookahead only lets re skip quickly to where a
# number can start.
_NUMBER = r"""
    (?=[-+\d.iInN])
    (?<![\w.])
    [+-]?
    (?:
        (?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?
      | (?i:inf(?:inity)?|nan)(?!\w)
    )
"""
NUMBER_RE = re.compile(_NUMBER, re.ASCII | re.VERBOSE)
# The capturing copy for re.split: texts land at even indices, numbers at odd ones.
_SPLIT_RE = re.compile(f"({_NUMBER})", re.ASCII | re.VERBOSE)

_SHOW_CHARS = 120


@dataclass(frozen=True)
class Tolerance:
    """Numbers match when |candidate - reference| <= atol + rtol * |reference| (both unitless)."""

    rtol: float
    atol: float

    def bound(self, reference: float) -> float:
        """The largest allowed |candidate - reference| for this reference value."""
        return self.atol + self.rtol * abs(reference)

    def describe(self) -> str:
        return f"atol {self.atol:g} + rtol {self.rtol:g} * |reference|"


@dataclass(frozen=True)
class Roles:
    """What the two sides are called in reasons: reference/candidate, or first/second run."""

    reference: str = "reference"
    candidate: str = "candidate"


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing one output stream (stdout or one file).

    `compared_values` counts the numbers compared; on a failure it counts those compared before the
    failure was found, so it is informational only. `empty_reference` marks the failure "the
    reference has nothing to compare", which is the caller's problem rather than the candidate's.
    """

    ok: bool
    reason: str
    compared_values: int
    empty_reference: bool = False


@dataclass(frozen=True)
class KeptLines:
    """The lines of an output that take part in the comparison, in order.

    `line_numbers` are 1-based numbers in the original text; `raw` is each line without trailing
    whitespace (shown in reasons); `normalized` has every whitespace run collapsed to one space and
    no leading whitespace (what is compared).
    """

    line_numbers: list[int]
    raw: list[str]
    normalized: list[str]


# --------------------------------------------------------------------------------------------------
# Tokenizing


def tokenize(line: str) -> list[str | float]:
    """Split a line into text pieces and numbers, in order; empty text pieces are left out.

    `tokenize("x=3.0,y=-4e-1")` is `["x=", 3.0, ",y=", -0.4]`.
    """
    parts = _SPLIT_RE.split(line)
    tokens: list[str | float] = []
    for index, part in enumerate(parts):
        if index % 2:
            tokens.append(float(part))
        elif part:
            tokens.append(part)
    return tokens


def count_numbers(text: str) -> int:
    """How many numbers `tokenize` would find in `text`."""
    return len(NUMBER_RE.findall(text))


def _to_floats(numbers: Sequence[str]) -> NDArray[np.float64]:
    return np.fromiter(map(float, numbers), dtype=np.float64, count=len(numbers))


def within_tolerance(
    reference: NDArray[np.float64], candidate: NDArray[np.float64], tolerance: Tolerance
) -> NDArray[np.bool_]:
    """Element-wise match of two equally long float64 arrays.

    Finite values match within the tolerance; an infinity matches only the same infinity; NaN
    matches only NaN (of either sign), so a NaN where the reference is finite always fails.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.abs(candidate - reference) <= tolerance.atol + tolerance.rtol * np.abs(reference)
        finite = np.isfinite(reference) & np.isfinite(candidate)
        same = candidate == reference
        both_nan = np.isnan(reference) & np.isnan(candidate)
    result: NDArray[np.bool_] = (finite & close) | same | both_nan
    return result


# --------------------------------------------------------------------------------------------------
# Line patterns (masks and self-check lines)


@functools.lru_cache(maxsize=256)
def _compile_line_pattern(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise AppError(
            f"oracle {what} {pattern!r} is not a valid regular expression: {error}"
        ) from None


def compile_line_patterns(patterns: Sequence[str], what: str) -> None:
    """Check that every pattern compiles; raise `AppError` naming the bad one (`what`: its role)."""
    for pattern in patterns:
        _compile_line_pattern(pattern, what)


def matching_lines(lines: Sequence[str], pattern: str, what: str) -> set[int]:
    """Indices of the lines that `pattern` matches somewhere (re.search on each line)."""
    search = _compile_line_pattern(pattern, what).search
    return {index for index, line in enumerate(lines) if search(line)}


def first_matching_line(lines: Sequence[str], pattern: str, what: str) -> int | None:
    """Index of the first line that `pattern` matches somewhere, or None."""
    search = _compile_line_pattern(pattern, what).search
    return next((index for index, line in enumerate(lines) if search(line)), None)


def stripped_lines(text: str) -> tuple[list[int], list[str]]:
    """The non-blank lines of `text` without trailing whitespace, with their 1-based numbers."""
    stripped = [line.rstrip() for line in text.splitlines()]
    return list(compress(range(1, len(stripped) + 1), stripped)), list(filter(None, stripped))


def keep_lines(text: str, mask: Sequence[str]) -> KeptLines:
    """The lines of `text` that are compared: not blank and matching no `mask` regex."""
    numbers, raw = stripped_lines(text)
    dropped: set[int] = set()
    for pattern in mask:
        dropped |= matching_lines(raw, pattern, "mask pattern")
    if dropped:
        numbers = [n for i, n in enumerate(numbers) if i not in dropped]
        raw = [line for i, line in enumerate(raw) if i not in dropped]
    return KeptLines(numbers, raw, [" ".join(line.split()) for line in raw])


def mask_lines(text: str, patterns: Sequence[str]) -> list[str]:
    """The compared lines of `text` as they appear in it, without trailing whitespace."""
    return keep_lines(text, patterns).raw


# --------------------------------------------------------------------------------------------------
# Comparing lines


def quote_line(text: str) -> str:
    """`text` quoted for a reason, cut to a readable length."""
    if len(text) > _SHOW_CHARS:
        text = text[: _SHOW_CHARS - 3] + "..."
    return repr(text)


def _where(label: str, lines: KeptLines, index: int) -> str:
    number = lines.line_numbers[index]
    original = "" if number == index + 1 else f" (line {number} before masking)"
    return f"{label} line {index + 1}{original}"


def _skeleton(line: str) -> str:
    return NUMBER_RE.sub("#", line)


def _reorder_hint(reference: KeptLines, candidate: KeptLines, index: int, roles: Roles) -> str:
    # Only on the failure path: a linear search is fine here.
    wanted = candidate.normalized[index]
    for other, line in enumerate(reference.normalized):
        if other != index and line == wanted:
            return (
                f"; that {roles.candidate} line equals {roles.reference} line {other + 1}"
                " (lines reordered?)"
            )
    return ""


def _compare_line(
    reference: KeptLines,
    candidate: KeptLines,
    index: int,
    tolerance: Tolerance,
    label: str,
    roles: Roles,
) -> tuple[str, int]:
    """The reason line `index` fails ("" when it matches) and how many numbers it compared."""
    ref_parts = _SPLIT_RE.split(reference.normalized[index])
    cand_parts = _SPLIT_RE.split(candidate.normalized[index])
    where = _where(label, reference, index)
    both = (
        f"{roles.reference} line {quote_line(reference.raw[index])}, "
        f"{roles.candidate} line {quote_line(candidate.raw[index])}"
    )
    if len(ref_parts) != len(cand_parts):
        counts = (
            f"{roles.reference} has {len(ref_parts) // 2} numbers on it, "
            f"{roles.candidate} has {len(cand_parts) // 2}"
        )
        hint = _reorder_hint(reference, candidate, index, roles)
        return f"{where}: {counts}; {both}{hint}", 0
    for ref_text, cand_text in zip(ref_parts[0::2], cand_parts[0::2], strict=True):
        if ref_text != cand_text:
            hint = _reorder_hint(reference, candidate, index, roles)
            return (
                f"{where}: text differs: {roles.reference} has {quote_line(ref_text)} where "
                f"{roles.candidate} has {quote_line(cand_text)}; {both}{hint}",
                0,
            )
    ref_numbers, cand_numbers = ref_parts[1::2], cand_parts[1::2]
    good = within_tolerance(_to_floats(ref_numbers), _to_floats(cand_numbers), tolerance)
    if bool(good.all()):
        return "", len(ref_numbers)
    position = int(np.argmin(good))
    ref_token, cand_token = ref_numbers[position], cand_numbers[position]
    detail = _number_mismatch(float(ref_token), float(cand_token), tolerance, roles)
    hint = _reorder_hint(reference, candidate, index, roles)
    return (
        f"{where}, number {position + 1}: {roles.reference} {ref_token}, {roles.candidate} "
        f"{cand_token}: {detail}; {both}{hint}",
        position,
    )


def _number_mismatch(ref: float, cand: float, tolerance: Tolerance, roles: Roles) -> str:
    if np.isnan(cand) and not np.isnan(ref):
        return f"{roles.candidate} is NaN where {roles.reference} is not (NaN matches only NaN)"
    if np.isnan(ref):
        return f"{roles.reference} is NaN, so only NaN matches it"
    if np.isinf(ref) or np.isinf(cand):
        return "an infinity matches only the same infinity"
    difference = abs(cand - ref)
    bound = tolerance.bound(ref)
    return f"|difference| {difference:.6g} > tolerance {bound:.6g} ({tolerance.describe()})"


def _line_count_reason(reference: KeptLines, candidate: KeptLines, label: str, roles: Roles) -> str:
    n_ref, n_cand = len(reference.raw), len(candidate.raw)
    guess = "truncated?" if n_cand < n_ref else "extra output?"
    head = f"{roles.candidate} {label} has {n_cand} lines, {roles.reference} has {n_ref} ({guess})"
    for index in range(min(n_ref, n_cand)):
        if _skeleton(reference.normalized[index]) != _skeleton(candidate.normalized[index]):
            return (
                f"{head}; the text first differs at {_where(label, reference, index)}: "
                f"{roles.reference} {quote_line(reference.raw[index])}, "
                f"{roles.candidate} {quote_line(candidate.raw[index])}"
            )
    index = min(n_ref, n_cand)
    if n_cand < n_ref:
        return (
            f"{head}; first {roles.reference} line without a counterpart: "
            f"{_where(label, reference, index)} {quote_line(reference.raw[index])}"
        )
    return (
        f"{head}; first extra {roles.candidate} line: "
        f"{_where(label, candidate, index)} {quote_line(candidate.raw[index])}"
    )


def compare_text(
    reference: str,
    candidate: str,
    tolerance: Tolerance,
    mask: Sequence[str],
    label: str = "stdout",
    roles: Roles = Roles(),
    empty_ok: bool = False,
) -> Comparison:
    """Compare two texts line by line (order matters) under `tolerance`, after masking.

    `label` names the stream in reasons ("stdout", "file 'out.txt'"). The first mismatch is reported
    with its line number after masking, the line number in the original text, both values and the
    tolerance. An empty reference (after masking) fails, unless `empty_ok` and the candidate's is
    empty too.
    """
    ref_lines = keep_lines(reference, mask)
    cand_lines = keep_lines(candidate, mask)
    if not ref_lines.raw and empty_ok:
        if not cand_lines.raw:
            return Comparison(True, "", 0)
        return Comparison(False, _line_count_reason(ref_lines, cand_lines, label, roles), 0)
    if not ref_lines.raw:
        reason = f"{roles.reference} output is empty: {label} has no lines after masking"
        return Comparison(False, reason, 0, empty_reference=True)
    if len(ref_lines.raw) != len(cand_lines.raw):
        return Comparison(False, _line_count_reason(ref_lines, cand_lines, label, roles), 0)
    return _compare_kept(ref_lines, cand_lines, tolerance, label, roles)


def _compare_kept(
    reference: KeptLines, candidate: KeptLines, tolerance: Tolerance, label: str, roles: Roles
) -> Comparison:
    # Fast path: split both whole outputs at once; when all text pieces agree (the common case),
    # the numbers are compared as two arrays. A line break can never be part of a number, and it
    # looks to the number regex like the start of a line, so this equals splitting line by line.
    ref_parts = _SPLIT_RE.split("\n".join(reference.normalized))
    cand_parts = _SPLIT_RE.split("\n".join(candidate.normalized))
    if ref_parts[0::2] == cand_parts[0::2]:
        ref_numbers, cand_numbers = ref_parts[1::2], cand_parts[1::2]
        # Numbers spelled the same always match (NaN included), so only the others are parsed.
        differing = list(compress(range(len(ref_numbers)), map(ne, ref_numbers, cand_numbers)))
        good = within_tolerance(
            _to_floats([ref_numbers[i] for i in differing]),
            _to_floats([cand_numbers[i] for i in differing]),
            tolerance,
        )
        if bool(good.all()):
            return Comparison(True, "", len(ref_numbers))
        first_bad = differing[int(np.argmin(good))]
        # Line of the first bad number: the line breaks in the text pieces before it.
        line = sum(piece.count("\n") for piece in ref_parts[0 : 2 * first_bad + 1 : 2])
        reason, _ = _compare_line(reference, candidate, line, tolerance, label, roles)
        if reason:
            return Comparison(False, reason, first_bad)
    compared = 0
    for index in range(len(reference.normalized)):
        if reference.normalized[index] == candidate.normalized[index]:
            compared += count_numbers(reference.normalized[index])
            continue
        reason, count = _compare_line(reference, candidate, index, tolerance, label, roles)
        compared += count
        if reason:
            return Comparison(False, reason, compared)
    # Reached only if the fast path saw a difference that the line walk could not place, which
    # would be a bug here; an oracle must fail closed rather than pass what it could not explain.
    return Comparison(False, f"{label} differs, but the first difference could not be located", 0)


# --------------------------------------------------------------------------------------------------
# Comparing arrays (binary output files with a declared dtype)


def compare_arrays(
    reference: NDArray[np.floating] | NDArray[np.integer],
    candidate: NDArray[np.floating] | NDArray[np.integer],
    tolerance: Tolerance,
    label: str,
    roles: Roles = Roles(),
) -> Comparison:
    """Compare two 1-D numeric arrays element-wise under `tolerance`; order matters."""
    if reference.size == 0:
        reason = f"{roles.reference} output is empty: {label} has no values"
        return Comparison(False, reason, 0, empty_reference=True)
    if candidate.size != reference.size:
        guess = "truncated?" if candidate.size < reference.size else "extra output?"
        return Comparison(
            False,
            f"{roles.candidate} {label} has {candidate.size} values, {roles.reference} has "
            f"{reference.size} ({guess})",
            0,
        )
    ref64 = reference.astype(np.float64)
    cand64 = candidate.astype(np.float64)
    good = within_tolerance(ref64, cand64, tolerance)
    if bool(good.all()):
        return Comparison(True, "", int(reference.size))
    index = int(np.argmin(good))
    detail = _number_mismatch(float(ref64[index]), float(cand64[index]), tolerance, roles)
    return Comparison(
        False,
        f"{label} value {index} (0-based): {roles.reference} {reference[index]}, "
        f"{roles.candidate} {candidate[index]}: {detail}",
        index,
    )
