"""Small multiples of power against time: per app, the baseline's trace and its best candidate's."""

from __future__ import annotations

import math

from matplotlib.axes import Axes

from lassi_hpc.analysis.model import Report, TracePair
from lassi_hpc.analysis.plots_canvas import (
    BASELINE_COLOUR,
    RenderedFigure,
    drawn_title,
    estimate_title,
    figure_png,
    legend_text,
    new_figure,
    placeholder_figure,
    short_label,
    strategy_colour,
    with_estimate_warning,
)
from lassi_hpc.records import PowerTrace

NAME = "power_traces"
_COLUMNS = 3


def power_traces_figure(report: Report) -> RenderedFigure:
    """One panel per TracePair in report.traces (the caller has already capped their number)."""
    title = "Power traces: baseline and best candidate"
    pairs = report.traces
    if not pairs:
        return placeholder_figure(NAME, title, "no power traces recorded")
    any_estimate = any(pair.is_estimate for pair in pairs)
    base_title = title
    title = estimate_title(base_title, any_estimate)
    columns = min(_COLUMNS, len(pairs))
    rows = math.ceil(len(pairs) / columns)
    figure = new_figure(3.6 * columns, 0.6 + 2.6 * rows)
    panels = figure.subplots(rows, columns, squeeze=False)
    for index, axes in enumerate(panels.flat):
        if index < len(pairs):
            _draw_pair(axes, pairs[index])
        else:
            axes.set_axis_off()
    figure.suptitle(drawn_title(base_title, any_estimate), fontsize=11)
    without_best = sum(1 for pair in pairs if pair.best is None)
    caption = (
        f"Power (W) against time from the start of the measurement window (s) for {len(pairs)} "
        "app lines: the baseline in grey, the best candidate (largest gain) in its strategy's "
        "colour."
    )
    if without_best:
        caption += f" {without_best} panels have no passing candidate to compare."
    return RenderedFigure(
        name=NAME,
        title=title,
        caption=with_estimate_warning(caption, any_estimate),
        png=figure_png(figure),
        alt=f"Power against time for {len(pairs)} app lines, baseline and best candidate",
    )


def _draw_pair(axes: Axes, pair: TracePair) -> None:
    key = pair.key
    heading = short_label(f"{key.app}/{key.variant}") + "\n"
    heading += short_label(f"{key.strategy} on {key.partition}")
    if pair.is_estimate:
        heading += " (estimated)"
    axes.set_title(heading, fontsize=8)
    axes.set_xlabel("time (s)", fontsize=8)
    axes.set_ylabel("power (W)", fontsize=8)
    axes.tick_params(labelsize=7)
    drawn = _draw_trace(axes, pair.baseline, BASELINE_COLOUR, "baseline")
    drawn += _draw_trace(
        axes, pair.best, strategy_colour(key.strategy), f"best (trial {pair.best_trial})"
    )
    missing = []
    if pair.baseline is None or not pair.baseline.time_s:
        missing.append("no baseline trace")
    if pair.best is None:
        missing.append("no passing candidate")
    elif not pair.best.time_s:
        missing.append("no best-candidate trace")
    if missing:
        axes.text(
            0.5,
            0.5,
            "\n".join(missing),
            transform=axes.transAxes,
            ha="center",
            va="center",
            fontsize=8,
            color="#444444",
        )
    if drawn:
        axes.legend(fontsize=6, loc="lower right")
        axes.set_ylim(bottom=0.0)
        axes.grid(True, alpha=0.3)


def _draw_trace(axes: Axes, trace: PowerTrace | None, colour: str, label: str) -> int:
    """Draw `trace`; returns how many lines were drawn (0 or 1)."""
    if trace is None or not trace.time_s:
        return 0
    axes.plot(trace.time_s, trace.power_w, color=colour, linewidth=1.0, label=legend_text(label))
    return 1
