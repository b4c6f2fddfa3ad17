"""Clocks the measurement protocol reads and sleeps on; a manual one makes tests deterministic.

Times are host wall-clock seconds (`time.time()` scale), the same scale as
`CommandResult.started_at_s` / `ended_at_s`, so runs can be placed inside a measured window.
"""

from __future__ import annotations

import threading
import time
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
    """

    def __init__(self, start_s: float = 1_000_000.0) -> None:
        self._now_s = start_s
        self._lock = threading.Lock()
        self.sleeps_s: list[float] = []

    def now_s(self) -> float:
        with self._lock:
            return self._now_s

    def sleep(self, duration_s: float) -> None:
        if duration_s < 0:
            raise ValueError(f"cannot sleep a negative duration ({duration_s} s)")
        with self._lock:
            self.sleeps_s.append(duration_s)
            self._now_s += duration_s

    def advance(self, duration_s: float) -> None:
        """Move time forward without recording a sleep (time spent doing work)."""
        if duration_s < 0:
            raise ValueError(f"time cannot go backwards ({duration_s} s)")
        with self._lock:
            self._now_s += duration_s

    def __repr__(self) -> str:
        return f"ManualClock(start_s={self._now_s!r})"
