"""Run untrusted, LLM-written code under resource limits and isolation layers.

The public surface is three functions; everything else in this package is an implementation detail.
See docs/sandbox.md for what each layer enforces on which kind of machine.
"""

from __future__ import annotations

from lassi_hpc.sandbox.capabilities import SANDBOX_ENV_VAR, IsolationMode
from lassi_hpc.sandbox.detect import isolation_report
from lassi_hpc.sandbox.run import run_sandboxed
from lassi_hpc.sandbox.scratch import make_scratch_copy

__all__ = [
    "SANDBOX_ENV_VAR",
    "IsolationMode",
    "isolation_report",
    "make_scratch_copy",
    "run_sandboxed",
]
