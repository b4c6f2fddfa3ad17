"""Line-oriented progress for long work: counts, elapsed time and an ETA, on stderr.

Lines rather than a redrawn bar, so that batch logs (sbatch, CI) stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def how_obtained(is_estimate: bool, method: str) -> str:
    """How an energy figure was obtained, as progress lines and `status` print it: an estimate
    is always shouted, so that it is never read as a measurement."""
    return "ESTIMATE" if is_estimate else method


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.started_s = time.monotonic()

    def message(self, text: str) -> None:
        print(f"{self.label}: {text}", file=self.stream, flush=True)

    def advance(self, text: str) -> None:
        """Count one finished item and print a line about it."""
        self.done += 1
        elapsed_s = time.monotonic() - self.started_s
        remaining = self.total - self.done
        eta = format_duration(elapsed_s / self.done * remaining) if remaining else "0:00"
        width = len(str(self.total))
        print(
            f"[{self.done:>{width}}/{self.total}] {text}  "
            f"(elapsed {format_duration(elapsed_s)}, eta {eta})",
            file=self.stream,
            flush=True,
        )
