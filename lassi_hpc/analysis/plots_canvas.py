"""What every report figure shares: the RenderedFigure record, the palette, a fresh Figure, PNG
encoding and the placeholder for a figure whose data is empty.

Only matplotlib's object API is used (Figure + FigureCanvasAgg): no pyplot, so no global figure
registry, no display, and figures can be drawn from several threads at once.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FIGURE_DPI = 100
ESTIMATE_WARNING = "ESTIMATED energy (no meter), not a measurement"
MAX_LABEL_CHARS = 60

# Colour-blind-safe (Okabe-Ito); the two strategies of the study keep fixed colours in every figure.
STRATEGY_COLOURS = {"vanilla": "#0072B2", "lassi-ee": "#D55E00"}
_OTHER_COLOURS = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
BASELINE_COLOUR = "#555555"
REFERENCE_COLOUR = "#333333"


@dataclass(frozen=True)
class RenderedFigure:
    """One report figure as PNG bytes. `name` is a file-safe id (also the HTML anchor), `title`
    and `caption` are plain text for the page, `alt` describes the image for screen readers."""

    name: str
    title: str
    caption: str
    png: bytes
    alt: str


def strategy_colour(strategy: str) -> str:
    """The strategy's colour; an unknown strategy gets a colour fixed by its name (crc32, because
    Python's str hash changes from run to run)."""
    known = STRATEGY_COLOURS.get(strategy)
    if known is not None:
        return known
    return _OTHER_COLOURS[zlib.crc32(strategy.encode()) % len(_OTHER_COLOURS)]


def figure_text(text: str) -> str:
    """`text` as matplotlib shows it literally: "$" would start mathtext (and an odd count of them
    raises), so it is escaped."""
    return text.replace("$", r"\$")


def short_label(text: str) -> str:
    """`figure_text` for a tick or panel label, shortened with an ellipsis when very long."""
    if len(text) > MAX_LABEL_CHARS:
        text = text[: MAX_LABEL_CHARS - 1] + "…"
    return figure_text(text)


def legend_text(text: str) -> str:
    """`short_label` for a legend entry: matplotlib drops labels that start with "_"."""
    shown = short_label(text)
    return "\u200b" + shown if shown.startswith("_") else shown


def estimate_title(title: str, any_estimate: bool) -> str:
    """The page title of a figure: `title`, naming the estimate when any energy is one."""
    return f"{title} ({ESTIMATE_WARNING})" if any_estimate else title


def drawn_title(title: str, any_estimate: bool) -> str:
    """The title drawn in the image: the estimate warning gets a line of its own."""
    return figure_text(title) + (f"\n{ESTIMATE_WARNING}" if any_estimate else "")


def new_figure(width_in: float, height_in: float) -> Figure:
    """A Figure on an Agg canvas, `width_in` × `height_in` inches at FIGURE_DPI."""
    figure = Figure(figsize=(width_in, height_in), dpi=FIGURE_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def figure_png(figure: Figure) -> bytes:
    """The figure as PNG bytes that depend only on what was drawn (no software/version chunk)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    return buffer.getvalue()


def placeholder_figure(name: str, title: str, message: str) -> RenderedFigure:
    """A small labelled figure saying why there is nothing to show (an empty campaign)."""
    figure = new_figure(6.0, 1.6)
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.text(0.5, 0.5, short_label(message), ha="center", va="center", fontsize=13)
    axes.set_title(figure_text(title))
    return RenderedFigure(
        name=name,
        title=title,
        caption=message,
        png=figure_png(figure),
        alt=f"{title}: {message}",
    )


def with_estimate_warning(text: str, any_estimate: bool) -> str:
    """`text`, followed by the estimate warning when any energy behind the figure is an estimate."""
    return f"{text} {ESTIMATE_WARNING}." if any_estimate else text


def finite(values: Iterable[float]) -> list[float]:
    """The finite ones of `values` (NaN marks a number that does not exist)."""
    return [value for value in values if math.isfinite(value)]


def label_integer_ks(axes: Axes, ks: Iterable[int]) -> None:
    """Tick the x axis at the k values drawn (k is a count; 2.5 trials means nothing)."""
    ticks = sorted(set(ks))
    if len(ticks) > 20:
        step = math.ceil(len(ticks) / 20)
        ticks = ticks[::step]
    axes.set_xticks(ticks)
