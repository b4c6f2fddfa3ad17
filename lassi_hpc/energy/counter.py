"""Bookkeeping shared by the GPU backends: cumulative energy counters, a log of rejected readings.

`CumulativeCounter` turns the raw readings of one hardware energy counter into a monotonic total
since the first reading, in the counter's own units (NVML: mJ; AMD SMI: accumulator ticks). A
counter that wraps at a known modulus is unwrapped; a counter that steps back without a known
modulus was reset (driver reload, GPU reset) and the interval around the reset cannot be known, so
that step adds nothing and is logged. `ProblemLog` counts rejected readings by kind, so that a
sensor that misbehaves at every tick gives one line with a count instead of thousands.

Neither class locks for the counter arithmetic: the backends call them under their own lock.
"""

from __future__ import annotations

import threading


class ProblemLog:
    """Rejected readings counted by kind: one line per key, the first description kept.

    `add(key, line)` records one rejection; `lines()` gives "<first line of that key>, rejected N
    times" per key, in the order the keys first appeared. Safe to call from several threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first_line: dict[str, str] = {}
        self._count: dict[str, int] = {}

    def add(self, key: str, line: str) -> None:
        with self._lock:
            self._first_line.setdefault(key, line)
            self._count[key] = self._count.get(key, 0) + 1

    def count(self, key: str) -> int:
        """How many times `key` was rejected (0 if never)."""
        with self._lock:
            return self._count.get(key, 0)

    def lines(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(
                f"{line}, rejected {_times(self._count[key])}"
                for key, line in self._first_line.items()
            )


def _times(count: int) -> str:
    return "1 time" if count == 1 else f"{count} times"


class CumulativeCounter:
    """A hardware energy counter made monotonic: the total since the first reading, in raw units.

    `modulus` is the value at which the counter wraps to 0 (None when it is not known to wrap).
    With a modulus, a reading below the previous one is taken as one wrap (two wraps between
    readings cannot be seen). Without one, such a reading is a reset: `advance` logs it under
    `problem_key` in `problems`, takes the new reading as the base and adds nothing for that
    interval, so the total stays monotonic and is short by the energy of one interval.
    """

    def __init__(
        self, first_raw: int, *, modulus: int | None, problems: ProblemLog, problem_key: str
    ) -> None:
        if modulus is not None and modulus <= 0:
            raise ValueError(f"a counter modulus must be positive, got {modulus}")
        self.modulus = modulus
        self._problems = problems
        self._problem_key = problem_key
        self._last_raw = first_raw
        self._total = 0

    @property
    def total(self) -> int:
        """Raw units counted since the first reading (monotonic)."""
        return self._total

    def advance(self, raw: int) -> int | None:
        """Account for a new reading: the new total, or None when the step was a reset."""
        previous = self._last_raw
        self._last_raw = raw
        if raw >= previous:
            self._total += raw - previous
            return self._total
        if self.modulus is not None:
            self._total += raw + self.modulus - previous
            return self._total
        self._problems.add(
            self._problem_key,
            f"{self._problem_key}: energy counter stepped back from {previous} to {raw} "
            "(a reset?); that interval is not counted",
        )
        return None
