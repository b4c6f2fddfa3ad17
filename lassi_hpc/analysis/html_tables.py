"""The report's two tables as HTML: the headline (campaign curves at the highlighted ks, next to
the published reference figures) and the per-app table (capped; the CSV export holds every row)."""

from __future__ import annotations

from collections.abc import Sequence

from lassi_hpc.analysis.html_format import (
    MISSING,
    at_k,
    header_row,
    percent,
    percent_with_interval,
    significant,
    speedup,
    speedup_with_interval,
    table_row,
    text,
)
from lassi_hpc.analysis.model import AppSummary, CurvePoint, ReferenceCurve, Report

MAX_APP_ROWS = 500
_HIGHLIGHT = "hl"


def headline_table(report: Report) -> str:
    """Campaign ER@k, pass@k and speedup@k with their intervals at each highlighted k, per
    strategy and partition, followed at each k by the reference figures published for that k."""
    ks = sorted({k for k in report.options.highlight_ks if k >= 1})
    points = sorted(
        (point for point in report.curves if point.k in ks),
        key=lambda point: (point.k, point.strategy, point.partition),
    )
    if not points:
        return '<p class="empty">No campaign curves: no app line has a scored trial.</p>'
    band = f"{100.0 * report.options.confidence:g}%"
    head = header_row(
        [
            ("k", ""),
            ("strategy", ""),
            ("partition", ""),
            ("apps", "num"),
            (text(f"ER@k [{band} CI]"), _HIGHLIGHT),
            (text(f"pass@k [{band} CI]"), ""),
            (text(f"speedup@k [{band} CI]"), ""),
        ]
    )
    rows: list[str] = []
    for k in ks:
        rows.extend(_headline_row(point) for point in points if point.k == k)
        rows.extend(_reference_row(reference, k) for reference in report.references)
    body = "".join(row for row in rows if row)
    return (
        '<table id="headline-table"><thead>'
        + head
        + "</thead><tbody>"
        + body
        + "</tbody></table>"
        + _reference_sources(report.references)
    )


def _headline_row(point: CurvePoint) -> str:
    return table_row(
        [
            (str(point.k), "num"),
            (text(point.strategy), ""),
            (text(point.partition), ""),
            (str(point.apps), "num"),
            (
                text(percent_with_interval(point.er_mean, point.er_ci95_low, point.er_ci95_high)),
                _HIGHLIGHT,
            ),
            (
                text(
                    percent_with_interval(
                        point.pass_mean, point.pass_ci95_low, point.pass_ci95_high
                    )
                ),
                "",
            ),
            (
                text(
                    speedup_with_interval(
                        point.speedup_mean, point.speedup_ci95_low, point.speedup_ci95_high
                    )
                ),
                "",
            ),
        ]
    )


def _reference_row(reference: ReferenceCurve, k: int) -> str:
    """A row with the reference's published value at k; "" when it publishes none at k."""
    values = [value for point_k, value in reference.points if point_k == k]
    if not values:
        return ""
    shown = text(percent(values[0]))
    return table_row(
        [
            (str(k), "num"),
            (text(f"reference: {reference.label}"), "reference-label"),
            ("", ""),
            ("", ""),
            (shown if reference.metric == "er" else "", _HIGHLIGHT),
            (shown if reference.metric == "pass" else "", ""),
            ("", ""),
        ],
        row_class="reference",
    )


def _reference_sources(references: Sequence[ReferenceCurve]) -> str:
    if not references:
        return '<p class="small">No published reference figures were given.</p>'
    items = "".join(
        f"<li>{text(reference.label)} ({text(reference.metric)}): {text(reference.source)}</li>"
        for reference in references
    )
    return f'<p class="small">Reference figures:</p><ul class="small">{items}</ul>'


def app_table(report: Report) -> str:
    """One row per app line (at most MAX_APP_ROWS), with the highlighted-k columns emphasised."""
    apps = report.apps
    if not apps:
        return '<p class="empty">No app lines in this results file.</p>'
    ks = sorted({k for k in report.options.highlight_ks if k >= 1})
    shown = apps[:MAX_APP_ROWS]
    columns: list[tuple[str, str]] = [
        ("app", ""),
        ("variant", ""),
        ("strategy", ""),
        ("partition", ""),
        ("device", ""),
        ("trials", "num"),
        ("passes", "num"),
    ]
    for k in ks:
        columns += [(f"pass@{k}", _HIGHLIGHT), (text(f"ER@{k} [CI]"), _HIGHLIGHT)]
    columns += [(f"speedup@{k}", "num") for k in ks]
    columns += [
        ("baseline energy (J)", "num"),
        ("baseline time (s)", "num"),
        ("baseline power (W)", "num"),
        ("best energy (J)", "num"),
        ("best time (s)", "num"),
        ("best power (W)", "num"),
        ("energy method", ""),
        ("scored on", ""),
    ]
    rows = "".join(_app_row(app, ks) for app in shown)
    table = (
        '<div class="scroll"><table id="app-table"><thead>'
        + header_row(columns)
        + "</thead><tbody>"
        + rows
        + "</tbody></table></div>"
    )
    if len(shown) < len(apps):
        return (
            f'<p class="warning-inline">Showing the first {len(shown)} of {len(apps)} app lines; '
            "the CSV export holds all of them.</p>" + table
        )
    return table


def _app_row(app: AppSummary, ks: Sequence[int]) -> str:
    key = app.key
    cells: list[tuple[str, str]] = [
        (text(key.app), ""),
        (text(key.variant), ""),
        (text(key.strategy), ""),
        (text(key.partition), ""),
        (text(app.device or MISSING), ""),
        (str(app.trials), "num"),
        (str(app.passes), "num"),
    ]
    for k in ks:
        er = percent_with_interval(
            at_k(app.er_at_k, k), at_k(app.er_ci95_low, k), at_k(app.er_ci95_high, k)
        )
        cells += [(text(percent(at_k(app.pass_at_k, k))), _HIGHLIGHT), (text(er), _HIGHLIGHT)]
    cells += [(text(speedup(at_k(app.speedup_at_k, k))), "num") for k in ks]
    cells += [
        (significant(value), "num")
        for value in (
            app.baseline_energy_j_median,
            app.baseline_duration_s_median,
            app.baseline_power_w_median,
            app.best_energy_j_median,
            app.best_duration_s_median,
            app.best_power_w_median,
        )
    ]
    method = text(app.energy_method or MISSING)
    if app.is_estimate:
        method += ' <strong class="estimate-tag">ESTIMATE</strong>'
    cells += [(method, ""), (text(app.scored_on or MISSING), "")]
    if app.is_estimate:
        # Marked on the cells: the row stays a plain <tr> like every other.
        cells = [(body, f"{css} estimate".strip()) for body, css in cells]
    return table_row(cells)
