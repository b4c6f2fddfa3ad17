"""Energy against time of every measured candidate, relative to its baseline, with each strategy's
Pareto front. Drawn for up to hundreds of thousands of points: markers, not a scatter collection,
and rasterized."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes

from lassi_hpc.analysis.model import CandidatePoint, Report
from lassi_hpc.analysis.plots_canvas import (
    BASELINE_COLOUR,
    RenderedFigure,
    drawn_title,
    estimate_title,
    figure_png,
    legend_text,
    new_figure,
    placeholder_figure,
    strategy_colour,
    with_estimate_warning,
)

NAME = "energy_vs_time"
# Beyond this spread (max/min) a linear axis squeezes most points into one corner.
_LOG_SPREAD = 20.0

_Floats = npt.NDArray[np.float64]


def energy_vs_time_figure(report: Report) -> RenderedFigure:
    """E/E_baseline against T/T_baseline per candidate; best-of-trial points emphasised."""
    title = "Energy against time of all measured candidates"
    shown = [
        c
        for c in report.candidates
        if np.isfinite(c.energy_ratio)
        and np.isfinite(c.time_ratio)
        and c.energy_ratio > 0.0
        and c.time_ratio > 0.0
    ]
    if not shown:
        return placeholder_figure(NAME, title, "no measured candidates")
    any_estimate = any(candidate.is_estimate for candidate in shown)
    base_title = title
    title = estimate_title(base_title, any_estimate)
    by_strategy: dict[str, list[CandidatePoint]] = {}
    for candidate in shown:
        by_strategy.setdefault(candidate.key.strategy, []).append(candidate)

    figure = new_figure(7.0, 5.0)
    axes = figure.add_subplot()
    alpha = 0.6 if len(shown) < 2000 else 0.2
    best_count = sum(1 for candidate in shown if candidate.is_best)
    best_size = 5.0 if best_count <= 500 else 3.0
    columns = {strategy: _Columns.of(candidates) for strategy, candidates in by_strategy.items()}
    # Clouds first, then best points, then fronts: one strategy's cloud never hides another's best.
    for strategy, column in sorted(columns.items()):
        _draw_cloud(axes, strategy, column, alpha)
    for strategy, column in sorted(columns.items()):
        _draw_best(axes, strategy, column, best_size)
    for strategy, column in sorted(columns.items()):
        _draw_front(axes, strategy, column)
    axes.axhline(1.0, color=BASELINE_COLOUR, linestyle="--", linewidth=0.9, label="baseline")
    axes.axvline(1.0, color=BASELINE_COLOUR, linestyle="--", linewidth=0.9)
    _choose_scales(axes, shown)
    axes.set_xlabel("time / baseline time (ratio, 1 = baseline)")
    axes.set_ylabel("energy / baseline energy (ratio, 1 = baseline)")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, loc="best", markerscale=2.0)
    axes.set_title(drawn_title(base_title, any_estimate), fontsize=10)
    left_out = len(report.candidates) - len(shown)
    caption = (
        f"{len(shown)} measured candidates; large outlined points are the best step of their "
        "trial; step lines are each strategy's Pareto front (no other candidate of the strategy "
        "is both cheaper and faster). Below 1 on the energy axis uses less energy than the "
        "baseline, left of 1 on the time axis is faster."
    )
    if left_out:
        caption += f" {left_out} candidates without a finite positive ratio are not drawn."
    return RenderedFigure(
        name=NAME,
        title=title,
        caption=with_estimate_warning(caption, any_estimate),
        png=figure_png(figure),
        alt=f"Scatter of energy ratio against time ratio for {len(shown)} candidates",
    )


@dataclass(frozen=True)
class _Columns:
    """One strategy's candidates as arrays (ratios to the baseline)."""

    time_ratio: _Floats
    energy_ratio: _Floats
    is_best: npt.NDArray[np.bool_]
    on_front: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, candidates: Sequence[CandidatePoint]) -> _Columns:
        count = len(candidates)
        return cls(
            time_ratio=_column(candidates, "time_ratio"),
            energy_ratio=_column(candidates, "energy_ratio"),
            is_best=np.fromiter((c.is_best for c in candidates), dtype=bool, count=count),
            on_front=np.fromiter((c.on_front for c in candidates), dtype=bool, count=count),
        )


def _draw_cloud(axes: Axes, strategy: str, columns: _Columns, alpha: float) -> None:
    rest = ~columns.is_best
    axes.plot(
        columns.time_ratio[rest],
        columns.energy_ratio[rest],
        linestyle="none",
        marker="o",
        markersize=2.0,
        markeredgewidth=0.0,
        alpha=alpha,
        color=strategy_colour(strategy),
        rasterized=True,
        label=legend_text(f"{strategy} (n={len(columns.time_ratio)})"),
    )


def _draw_best(axes: Axes, strategy: str, columns: _Columns, size: float) -> None:
    if not columns.is_best.any():
        return
    axes.plot(
        columns.time_ratio[columns.is_best],
        columns.energy_ratio[columns.is_best],
        linestyle="none",
        marker="o",
        markersize=size,
        markeredgecolor="#000000",
        markeredgewidth=0.5,
        alpha=0.9,
        color=strategy_colour(strategy),
        rasterized=True,
        label=legend_text(f"{strategy} best of trial"),
    )


def _draw_front(axes: Axes, strategy: str, columns: _Columns) -> None:
    if not columns.on_front.any():
        return
    time_ratio = columns.time_ratio[columns.on_front]
    energy_ratio = columns.energy_ratio[columns.on_front]
    order = np.argsort(time_ratio, kind="stable")
    axes.step(
        time_ratio[order],
        energy_ratio[order],
        where="post",
        color=strategy_colour(strategy),
        linewidth=1.5,
        label=legend_text(f"{strategy} Pareto front"),
    )


def _column(candidates: Sequence[CandidatePoint], field: str) -> _Floats:
    return np.fromiter(
        (getattr(candidate, field) for candidate in candidates),
        dtype=np.float64,
        count=len(candidates),
    )


def _choose_scales(axes: Axes, candidates: Sequence[CandidatePoint]) -> None:
    for values, set_scale in (
        (_column(candidates, "time_ratio"), axes.set_xscale),
        (_column(candidates, "energy_ratio"), axes.set_yscale),
    ):
        if float(values.max()) / float(values.min()) > _LOG_SPREAD:
            set_scale("log")
