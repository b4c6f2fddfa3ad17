"""The campaign curves: ER@k and pass@k against k per strategy and partition, with the app-level
bootstrap band and the seed paper's published figures as dashed reference lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes

from lassi_hpc.analysis.model import CurvePoint, ReferenceCurve, Report
from lassi_hpc.analysis.plots_canvas import (
    REFERENCE_COLOUR,
    RenderedFigure,
    drawn_title,
    estimate_title,
    figure_png,
    label_integer_ks,
    legend_text,
    new_figure,
    placeholder_figure,
    strategy_colour,
    with_estimate_warning,
)

_PARTITION_STYLES = (("-", "o"), ("-.", "s"), (":", "^"), ((0, (5, 1)), "D"))
_REFERENCE_STYLES = ("--", (0, (3, 1, 1, 1)), (0, (6, 2)), (0, (1, 1)))


@dataclass(frozen=True)
class _Metric:
    """Which CurvePoint fields one curve figure draws (fractions, shown as percent)."""

    name: str  # the figure name and the ReferenceCurve.metric it draws
    label: str
    mean: Callable[[CurvePoint], float]
    low: Callable[[CurvePoint], float]
    high: Callable[[CurvePoint], float]


_ER = _Metric(
    name="er",
    label="ER@k",
    mean=lambda point: point.er_mean,
    low=lambda point: point.er_ci95_low,
    high=lambda point: point.er_ci95_high,
)
_PASS = _Metric(
    name="pass",
    label="pass@k",
    mean=lambda point: point.pass_mean,
    low=lambda point: point.pass_ci95_low,
    high=lambda point: point.pass_ci95_high,
)


def er_curves_figure(report: Report) -> RenderedFigure:
    """ER@k (%) against k; energies behind it may be estimates, which the caption then says."""
    any_estimate = any(app.is_estimate for app in report.apps)
    return _curve_figure(report, _ER, any_estimate)


def pass_curves_figure(report: Report) -> RenderedFigure:
    """pass@k (%) against k: the chance that at least one of k trials passes every gate."""
    return _curve_figure(report, _PASS, any_estimate=False)


def _curve_figure(report: Report, metric: _Metric, any_estimate: bool) -> RenderedFigure:
    name = f"{metric.name}_curves"
    base_title = f"Campaign {metric.label} against k"
    title = estimate_title(base_title, any_estimate)
    groups = _curves_by_group(report.curves)
    if not groups:
        return placeholder_figure(name, title, "no campaign curves (no app has a scored trial)")
    references = [ref for ref in report.references if ref.metric == metric.name and ref.points]
    figure = new_figure(7.0, 4.2)
    axes = figure.add_subplot()
    partitions = sorted({partition for _, partition in groups})
    drawn_ks: list[int] = []
    for (strategy, partition), points in sorted(groups.items()):
        line_style, marker = _PARTITION_STYLES[partitions.index(partition) % len(_PARTITION_STYLES)]
        ks = [point.k for point in points]
        drawn_ks.extend(ks)
        colour = strategy_colour(strategy)
        axes.fill_between(
            ks,
            [100.0 * metric.low(point) for point in points],
            [100.0 * metric.high(point) for point in points],
            color=colour,
            alpha=0.18,
            linewidth=0,
        )
        axes.plot(
            ks,
            [100.0 * metric.mean(point) for point in points],
            color=colour,
            linestyle=line_style,
            marker=marker,
            markersize=4,
            label=legend_text(f"{strategy} on {partition}"),
        )
    drawn_ks.extend(_draw_references(axes, references))
    label_integer_ks(axes, drawn_ks)
    axes.set_xlabel("k (trials per app)")
    axes.set_ylabel(f"{metric.label} (%)")
    axes.set_ylim(bottom=0.0)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    axes.set_title(drawn_title(base_title, any_estimate), fontsize=10)
    band = f"{100.0 * report.options.confidence:g}%"
    caption = (
        f"Mean {metric.label} over apps per strategy and partition; the band is the {band} "
        f"app-level bootstrap interval ({report.options.bootstrap_samples} samples). "
        + (
            "Dashed lines are published reference figures."
            if references
            else "No published reference figures for this metric."
        )
    )
    return RenderedFigure(
        name=name,
        title=title,
        caption=with_estimate_warning(caption, any_estimate),
        png=figure_png(figure),
        alt=f"{metric.label} in percent against k for {len(groups)} strategy/partition lines",
    )


def _curves_by_group(curves: Sequence[CurvePoint]) -> dict[tuple[str, str], list[CurvePoint]]:
    groups: dict[tuple[str, str], list[CurvePoint]] = {}
    for point in curves:
        groups.setdefault((point.strategy, point.partition), []).append(point)
    return {key: sorted(points, key=lambda point: point.k) for key, points in groups.items()}


def _draw_references(axes: Axes, references: Sequence[ReferenceCurve]) -> list[int]:
    """Draw each reference as a dashed line; returns the ks drawn."""
    drawn: list[int] = []
    for index, reference in enumerate(references):
        points = sorted(reference.points)
        ks = [k for k, _ in points]
        drawn.extend(ks)
        axes.plot(
            ks,
            [100.0 * value for _, value in points],
            color=REFERENCE_COLOUR,
            linestyle=_REFERENCE_STYLES[index % len(_REFERENCE_STYLES)],
            linewidth=1.2,
            marker="x",
            markersize=4,
            label=legend_text(reference.label),
        )
    return drawn
