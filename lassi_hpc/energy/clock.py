"""Clocks the measurement protocol reads and sleeps on; a manual one makes tests deterministic.

Times are host wall-clock seconds (`time.time()` scale), the same scale as
`CommandResult.started_at_s` / `ended_at_s`, so runs can be placed inside a measured window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now_s(self) -> float:
        """Current host time in seconds since the epoch."""
        ...

    def sleep(self, duration_s: float) -> None:
        """Let `duration_s` seconds pass."""
        ...


class SystemClock:
    """The real host clock: `time.time()` and `time.sleep()`."""

    def now_s(self) -> float:
        return time.time()

    def sleep(self, duration_s: float) -> None:
        if duration_s > 0:
            time.sleep(duration_s)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()


class ManualClock:
    """A clock that moves only when told to: `sleep` and `advance` add to the current time.

    Every `sleep` is recorded in `sleeps_s` so tests can check what the protocol waited for.
    `every(period_s, callback)` calls `callback` at each multiple of the period that time passes
    through, with the clock showing that instant: a sampler on a manual clock is deterministic.
    """

    def __init__(self, start_s: float = 1_000_000.0) -> None:
        self._now_s = start_s
        self._lock = threading.Lock()
        self._timers: list[_Timer] = []
        self.sleeps_s: list[float] = []

    def now_s(self) -> float:
        with self._lock:
            return self._now_s

    def sleep(self, duration_s: float) -> None:
        if duration_s < 0:
            raise ValueError(f"cannot sleep a negative duration ({duration_s} s)")
        with self._lock:
            self.sleeps_s.append(duration_s)
        self._move_to(self.now_s() + duration_s)

    def advance(self, duration_s: float) -> None:
        """Move time forward without recording a sleep (time spent doing work)."""
        if duration_s < 0:
            raise ValueError(f"time cannot go backwards ({duration_s} s)")
        self._move_to(self.now_s() + duration_s)

    def every(self, period_s: float, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` at now + period, now + 2 x period, ...; returns a function that stops it.

        Due times are kept as integer multiples of the period from the start, so no rounding
        error builds up over many ticks.
        """
        if not period_s > 0:
            raise ValueError(f"period_s must be positive, got {period_s}")
        timer = _Timer(self.now_s(), period_s, callback)
        with self._lock:
            self._timers.append(timer)

        def cancel() -> None:
            with self._lock:
                if timer in self._timers:
                    self._timers.remove(timer)

        return cancel

    def _move_to(self, target_s: float) -> None:
        while True:
            with self._lock:
                due = [t for t in self._timers if t.next_due_s() <= target_s]
                if not due:
                    self._now_s = target_s
                    return
                timer = min(due, key=lambda t: t.next_due_s())
                self._now_s = timer.next_due_s()
                timer.ticks += 1
            timer.callback()  # outside the lock: it reads the clock

    def __repr__(self) -> str:
        return f"ManualClock(start_s={self._now_s!r})"


class _Timer:
    def __init__(self, origin_s: float, period_s: float, callback: Callable[[], None]) -> None:
        self.origin_s = origin_s
        self.period_s = period_s
        self.callback = callback
        self.ticks = 0

    def next_due_s(self) -> float:
        return self.origin_s + (self.ticks + 1) * self.period_s
