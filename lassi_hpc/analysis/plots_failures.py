"""Where candidates stopped: stacked bars of failure counts by stage per iteration, one panel per
strategy, stages always in pipeline order with fixed colours."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes

from lassi_hpc.analysis.model import Report, StageFailureCount
from lassi_hpc.analysis.plots_canvas import (
    RenderedFigure,
    figure_png,
    legend_text,
    new_figure,
    placeholder_figure,
    short_label,
)

NAME = "failures"
STAGE_ORDER = ("no-code", "screen", "compile", "runtime", "oracle", "measure", "judge")
_STAGE_COLOURS = {
    "no-code": "#999999",
    "screen": "#E69F00",
    "compile": "#D55E00",
    "runtime": "#CC79A7",
    "oracle": "#0072B2",
    "measure": "#56B4E9",
    "judge": "#009E73",
}
_UNKNOWN_STAGE_COLOUR = "#000000"


def failures_figure(report: Report) -> RenderedFigure:
    """Stacked counts per iteration (0 = answers before any code change) and stage."""
    title = "Failures per stage and iteration"
    failures = [count for count in report.failures if count.count > 0]
    if not failures:
        return placeholder_figure(NAME, title, "no failed candidates recorded")
    strategies = sorted({count.strategy for count in failures})
    # A stage the lead adds later still shows, after the known ones, rather than vanishing.
    stages = list(STAGE_ORDER) + sorted({c.stage for c in failures} - set(STAGE_ORDER))
    iterations = sorted({count.iteration for count in failures})
    figure = new_figure(max(4.5, 0.9 + 0.35 * len(iterations)) * len(strategies), 4.0)
    panels = figure.subplots(1, len(strategies), sharey=True, squeeze=False)[0]
    for axes, strategy in zip(panels, strategies, strict=True):
        own = [count for count in failures if count.strategy == strategy]
        _draw_panel(axes, own, stages, iterations)
        axes.set_title(short_label(strategy), fontsize=10)
        axes.set_xlabel("iteration (0 = before any code change)")
    panels[0].set_ylabel("candidates stopped (count)")
    handles, labels = panels[0].get_legend_handles_labels()
    for axes in panels[1:]:
        more_handles, more_labels = axes.get_legend_handles_labels()
        for handle, label in zip(more_handles, more_labels, strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    order = sorted(range(len(labels)), key=lambda i: stages.index(labels[i]))
    figure.legend(
        [handles[i] for i in order],
        [legend_text(labels[i]) for i in order],
        loc="outside right upper",
        fontsize=8,
        title="stage",
    )
    figure.suptitle(title, fontsize=11)
    total = sum(count.count for count in failures)
    return RenderedFigure(
        name=NAME,
        title=title,
        caption=(
            f"{total} candidates that stopped at a gate, by the stage that stopped them "
            f"({', '.join(STAGE_ORDER)}), per refinement iteration and strategy."
        ),
        png=figure_png(figure),
        alt=f"Stacked bars of {total} failures by stage and iteration per strategy",
    )


def _draw_panel(
    axes: Axes, counts: Sequence[StageFailureCount], stages: Sequence[str], iterations: list[int]
) -> None:
    totals: dict[tuple[int, str], int] = {}
    for count in counts:
        key = (count.iteration, count.stage)
        totals[key] = totals.get(key, 0) + count.count
    bottoms = [0] * len(iterations)
    for stage in stages:
        heights = [totals.get((iteration, stage), 0) for iteration in iterations]
        if not any(heights):
            continue
        axes.bar(
            iterations,
            heights,
            bottom=bottoms,
            color=_STAGE_COLOURS.get(stage, _UNKNOWN_STAGE_COLOUR),
            label=stage,
            width=0.8,
        )
        bottoms = [bottom + height for bottom, height in zip(bottoms, heights, strict=True)]
    axes.set_xticks(iterations)
    axes.grid(True, axis="y", alpha=0.3)
