"""Offline analysis of a campaign's results file: energy-reduction@k, pass@k, speedup@k,
confidence intervals, tables, CSV files and the HTML report (`lassi-hpc report`)."""

from lassi_hpc.analysis.metrics import (
    AnalysisError,
    energy_reduction_at_k,
    energy_reduction_curve,
    pass_at_k,
    pass_curve,
    speedup_at_k,
    speedup_curve,
)
from lassi_hpc.analysis.model import Report, ReportOptions

__all__ = [
    "AnalysisError",
    "Report",
    "ReportOptions",
    "energy_reduction_at_k",
    "energy_reduction_curve",
    "pass_at_k",
    "pass_curve",
    "speedup_at_k",
    "speedup_curve",
]
