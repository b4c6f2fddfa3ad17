"""Per-app grouped bars: ER@k of every app line at the highlighted ks, one bar per strategy, with
the within-app jackknife interval as error bars. Horizontal, so long app names fit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.patches import Patch

from lassi_hpc.analysis.model import AppSummary, Report
from lassi_hpc.analysis.plots_canvas import (
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

NAME = "app_bars"
_NAN = float("nan")


@dataclass(frozen=True)
class _AppLine:
    """One row of the chart: an app variant on one partition, with each strategy's summary."""

    app: str
    variant: str
    partition: str
    by_strategy: dict[str, AppSummary]


def app_bars_figure(report: Report) -> RenderedFigure:
    """Grouped horizontal bars of ER@k (%) per app line, at most options.max_bar_apps lines."""
    title = "ER@k per app"
    lines = _app_lines(report.apps)
    max_trials = max((app.trials for app in report.apps), default=0)
    ks = sorted({k for k in report.options.highlight_ks if 1 <= k <= max_trials})
    if not lines or not ks:
        return placeholder_figure(NAME, title, "no app has a trial at the highlighted k values")
    ranked = sorted(lines, key=lambda line: (-_rank_score(line, ks), _line_label(line, False)))
    shown = ranked[: max(report.options.max_bar_apps, 1)]
    strategies = sorted({strategy for line in shown for strategy in line.by_strategy})
    several_partitions = len({line.partition for line in lines}) > 1
    any_estimate = any(app.is_estimate for line in shown for app in line.by_strategy.values())
    base_title = title
    title = estimate_title(base_title, any_estimate)

    row_height_in = 0.16 * len(strategies) + 0.12
    figure = new_figure(2.8 + 2.6 * len(ks), max(2.6, 1.3 + row_height_in * len(shown)))
    panels = figure.subplots(1, len(ks), sharex=True, sharey=True, squeeze=False)[0]
    labels = [short_label(_line_label(line, several_partitions)) for line in shown]
    for axes, k in zip(panels, ks, strict=True):
        _draw_panel(axes, shown, strategies, k)
        axes.set_title(f"k = {k}", fontsize=10)
        axes.set_xlabel(f"ER@{k} (%)")
    panels[0].set_yticks(range(len(shown)), labels, fontsize=8)
    panels[0].set_ylim(len(shown) - 0.5, -0.5)
    panels[0].set_ylabel("app line")
    handles = [Patch(color=strategy_colour(s), label=legend_text(s)) for s in strategies]
    figure.legend(handles=handles, loc="outside upper right", fontsize=8, ncols=len(strategies))
    figure.suptitle(drawn_title(base_title, any_estimate), fontsize=11)
    return RenderedFigure(
        name=NAME,
        title=title,
        caption=with_estimate_warning(_caption(len(shown), len(lines), ks), any_estimate),
        png=figure_png(figure),
        alt=f"ER@k bars for {len(shown)} app lines at k = {', '.join(map(str, ks))}",
    )


def _app_lines(apps: Sequence[AppSummary]) -> list[_AppLine]:
    grouped: dict[tuple[str, str, str], dict[str, AppSummary]] = {}
    for app in apps:
        key = (app.key.app, app.key.variant, app.key.partition)
        grouped.setdefault(key, {})[app.key.strategy] = app
    return [
        _AppLine(app=app, variant=variant, partition=partition, by_strategy=by_strategy)
        for (app, variant, partition), by_strategy in grouped.items()
    ]


def _line_label(line: _AppLine, with_partition: bool) -> str:
    label = f"{line.app}/{line.variant}"
    if with_partition:
        label += f" on {line.partition}"
    if any(app.is_estimate for app in line.by_strategy.values()):
        label += " (est.)"
    return label


def _at_k(values: tuple[float, ...], k: int) -> float:
    return values[k - 1] if k <= len(values) else _NAN


def _rank_score(line: _AppLine, ks: Sequence[int]) -> float:
    """The line's best ER at the largest highlighted k its trials reach; -1 when it has none, so
    that lines without a number sort last."""
    best = -1.0
    for app in line.by_strategy.values():
        reachable = [k for k in ks if k <= app.trials]
        if reachable:
            value = _at_k(app.er_at_k, reachable[-1])
            if math.isfinite(value):
                best = max(best, value)
    return best


def _draw_panel(axes: Axes, lines: Sequence[_AppLine], strategies: Sequence[str], k: int) -> None:
    bar_height = 0.8 / len(strategies)
    for index, strategy in enumerate(strategies):
        offset = (index - (len(strategies) - 1) / 2.0) * bar_height
        rows: list[float] = []
        widths: list[float] = []
        lower: list[float] = []
        upper: list[float] = []
        for row, line in enumerate(lines):
            app = line.by_strategy.get(strategy)
            if app is None:
                continue
            value = _at_k(app.er_at_k, k)
            if not math.isfinite(value):
                axes.text(0.0, row + offset, " n/a", va="center", fontsize=6, color="#777777")
                continue
            rows.append(row + offset)
            widths.append(100.0 * value)
            lower.append(_error(value, _at_k(app.er_ci95_low, k)))
            upper.append(_error(_at_k(app.er_ci95_high, k), value))
        if rows:
            axes.barh(
                rows,
                widths,
                height=bar_height,
                color=strategy_colour(strategy),
                xerr=[lower, upper],
                error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#222222"},
            )
    axes.set_xlim(left=0.0)
    axes.grid(True, axis="x", alpha=0.3)


def _error(high: float, low: float) -> float:
    """One side of an error bar in percent points; 0 where the interval is undefined (NaN)."""
    gap = high - low
    return 100.0 * gap if math.isfinite(gap) and gap > 0.0 else 0.0


def _caption(shown: int, total: int, ks: Sequence[int]) -> str:
    at = ", ".join(str(k) for k in ks)
    text = (
        f"ER@k of each app line at k = {at}, one bar per strategy; error bars are the within-app "
        "jackknife interval over trials; n/a where k exceeds the app's trials."
    )
    if shown < total:
        return (
            f"{text} Showing {shown} of {total} app lines ({total - shown} left out: those with "
            "the lowest ER at the largest highlighted k); the CSV export has all."
        )
    return f"{text} All {total} app lines shown."
