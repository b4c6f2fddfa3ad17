"""All figures of the report, rendered to PNG bytes in a fixed order.

Every figure renders, even for an empty campaign (then as a labelled placeholder), and every
figure whose energies include an estimate says so in its title and caption.
"""

from __future__ import annotations

from lassi_hpc.analysis.model import Report
from lassi_hpc.analysis.plots_apps import app_bars_figure
from lassi_hpc.analysis.plots_canvas import RenderedFigure
from lassi_hpc.analysis.plots_curves import er_curves_figure, pass_curves_figure
from lassi_hpc.analysis.plots_energy import energy_vs_time_figure
from lassi_hpc.analysis.plots_failures import failures_figure
from lassi_hpc.analysis.plots_traces import power_traces_figure

__all__ = ["FIGURE_NAMES", "RenderedFigure", "render_figures"]

FIGURE_NAMES = (
    "er_curves",
    "pass_curves",
    "app_bars",
    "energy_vs_time",
    "power_traces",
    "failures",
)


def render_figures(report: Report) -> tuple[RenderedFigure, ...]:
    """The report's figures in FIGURE_NAMES order: ER@k and pass@k curves, per-app bars, energy
    against time with the Pareto fronts, power traces, and failures per stage."""
    return (
        er_curves_figure(report),
        pass_curves_figure(report),
        app_bars_figure(report),
        energy_vs_time_figure(report),
        power_traces_figure(report),
        failures_figure(report),
    )
