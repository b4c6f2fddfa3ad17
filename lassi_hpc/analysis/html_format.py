"""How the HTML report writes numbers and text: percentages with one decimal, energies and other
physical quantities with 4 significant digits, NaN (a number that does not exist) as "–", and
every user string escaped."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable

MISSING = "–"


def text(value: object) -> str:
    """`value` as HTML text: `str(value)` with <, >, & and both quotes escaped."""
    return html.escape(str(value), quote=True)


def percent(fraction: float) -> str:
    """A fraction as a percentage with one decimal ("29.4%"); "–" when NaN."""
    if not math.isfinite(fraction):
        return MISSING
    return f"{100.0 * fraction:.1f}%"


def percent_with_interval(fraction: float, low: float, high: float) -> str:
    """ "29.4% [21.0, 37.2]"; the bracket is left out when the interval is undefined (NaN)."""
    shown = percent(fraction)
    if shown == MISSING or not (math.isfinite(low) and math.isfinite(high)):
        return shown
    return f"{shown} [{100.0 * low:.1f}, {100.0 * high:.1f}]"


def significant(value: float, digits: int = 4) -> str:
    """`value` with `digits` significant digits, in plain notation between 0.001 and 10 million
    (1235, 0.01235, 12350), scientific outside; "–" when NaN or infinite."""
    if not math.isfinite(value):
        return MISSING
    rounded = float(f"{value:.{digits}g}")
    if rounded == 0.0:
        return "0"
    magnitude = math.floor(math.log10(abs(rounded)))
    if -3 <= magnitude < 7:
        return f"{rounded:.{max(0, digits - 1 - magnitude)}f}"
    return f"{rounded:.{digits - 1}e}"


def speedup(value: float) -> str:
    """A speedup factor with two decimals ("1.23×"); "–" when NaN."""
    return MISSING if not math.isfinite(value) else f"{value:.2f}×"


def speedup_with_interval(value: float, low: float, high: float) -> str:
    """ "1.23× [1.10, 1.35]"; the bracket is left out when the interval is undefined (NaN)."""
    shown = speedup(value)
    if shown == MISSING or not (math.isfinite(low) and math.isfinite(high)):
        return shown
    return f"{shown} [{low:.2f}, {high:.2f}]"


def at_k(values: tuple[float, ...], k: int) -> float:
    """The value at k of a per-k tuple indexed by k - 1; NaN when k is beyond the tuple."""
    return values[k - 1] if 1 <= k <= len(values) else math.nan


def table_row(cells: Iterable[tuple[str, str]], row_class: str = "") -> str:
    """One <tr> of <td> cells; each cell is (already escaped HTML, CSS class or "")."""
    parts = [f'<td class="{css}">{body}</td>' if css else f"<td>{body}</td>" for body, css in cells]
    opening = f'<tr class="{row_class}">' if row_class else "<tr>"
    return opening + "".join(parts) + "</tr>"


def header_row(cells: Iterable[tuple[str, str]]) -> str:
    """One <tr> of <th scope="col"> cells; each cell is (already escaped HTML, CSS class or "")."""
    parts = [
        f'<th scope="col" class="{css}">{body}</th>' if css else f'<th scope="col">{body}</th>'
        for body, css in cells
    ]
    return "<tr>" + "".join(parts) + "</tr>"
