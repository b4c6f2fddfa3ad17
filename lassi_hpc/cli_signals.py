"""SIGTERM stops the driver the way Ctrl-C does.

A campaign submitted with sbatch is told to stop before its walltime (the batch script forwards
Slurm's warning signal to the driver as SIGTERM), and `scancel` and `kill` send SIGTERM too.
Python's default for SIGTERM ends the process at once, so nothing is cleaned up: Parsl's blocks
would keep their nodes until their own walltime. As a KeyboardInterrupt raised in the main thread,
it unwinds the driver instead: the results writer closes its file, and leaving `parsl.load(...)`
runs Parsl's cleanup, which cancels every block that is still pending or running (scancel, via
the job status poller's scale-in of each executor).
"""

from __future__ import annotations

import os
import signal
from types import FrameType


def interrupt_on_sigterm() -> None:
    """From now on, the first SIGTERM raises KeyboardInterrupt in the main thread; later ones are
    reported on stderr and otherwise ignored, so that they do not cut the cleanup short (SIGKILL
    and Ctrl-C still stop it).

    Call it from the main thread (Python runs signal handlers only there; elsewhere it raises
    ValueError).
    """
    stopping = False

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            # os.write, not print: the signal may have interrupted a write to sys.stderr.
            os.write(2, b"lassi-hpc: SIGTERM again; still stopping (cancelling Parsl blocks)\n")
            return
        stopping = True
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, on_sigterm)
