"""The report as one self-contained HTML page: inline CSS, PNG figures as data URLs, no scripts
and no external links, so that it can be mailed, archived or attached to a paper as it is."""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from lassi_hpc.analysis.model import AppSummary, CurvePoint, Report
from lassi_hpc.analysis.plots_canvas import ESTIMATE_WARNING, RenderedFigure

MAX_APP_ROWS = 500  # rows of the per-app table on the page; the CSV file holds every one

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #555; }
.warnings { border: 2px solid #b00; background: #fff4f4; padding: 0.5em 1em; margin: 1em 0; }
.estimate { font-weight: bold; color: #b00; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th { background: #f0f0f0; } td.text { text-align: left; }
.hl { background: #fff8dc; font-weight: bold; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #444; font-size: 0.9em; }
pre { background: #f7f7f7; padding: 0.5em; overflow-x: auto; font-size: 0.8em; }
"""


def render_html(report: Report, figures: Sequence[RenderedFigure]) -> str:
    """The whole page for `report` with `figures` embedded."""
    title = f"lassi_hpc report: {report.campaign}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{_e(title)}</title>",
        f"<style>{_STYLE}</style></head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">results file {_e(report.results_path)}; generated '
        f"{_e(report.generated_utc)}</p>",
        _warnings(report),
        "<h2>Campaign figures</h2>",
        _campaign_table(report),
        "<h2>Per app</h2>",
        _apps_table(report),
        "<h2>Figures</h2>",
        *(_figure(figure) for figure in figures),
        _method_section(report),
        _provenance_section(report),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _warnings(report: Report) -> str:
    estimated = any(app.is_estimate for app in report.apps) or any(
        point.is_estimate for point in report.candidates
    )
    if not report.notes and not estimated:
        return ""
    items = []
    if estimated:
        items.append(f'<li class="estimate">{_e(ESTIMATE_WARNING)}: see the notes below.</li>')
    items.extend(f"<li>{_e(note)}</li>" for note in report.notes)
    return f'<div class="warnings"><strong>Notes</strong><ul>{"".join(items)}</ul></div>'


def _campaign_table(report: Report) -> str:
    ks = report.options.highlight_ks
    points = {(p.strategy, p.partition, p.k): p for p in report.curves}
    groups = sorted({(p.strategy, p.partition) for p in report.curves})
    if not groups:
        return "<p>No refactoring trials were scored.</p>"
    header = ["strategy", "partition", "apps"]
    header += [f"{name}@{k}" for k in ks for name in ("ER", "pass", "speedup")]
    rows = []
    for strategy, partition in groups:
        first = points.get((strategy, partition, 1))
        cells = [_text(strategy), _text(partition), _cell(str(first.apps if first else 0))]
        for k in ks:
            point = points.get((strategy, partition, k))
            cells += _campaign_cells(point)
        rows.append(cells)
    references = [
        f"{_e(ref.label)}: "
        + ", ".join(
            f"{ref.metric.upper() if ref.metric == 'er' else ref.metric}@{k} {_percent(value)}"
            for k, value in ref.points
        )
        for ref in report.references
    ]
    published = f"<p>Published for comparison: {'; '.join(references)}.</p>" if references else ""
    return _table(header, rows) + published


def _campaign_cells(point: CurvePoint | None) -> list[str]:
    if point is None:
        return [_cell("–", hl=True), _cell("–"), _cell("–")]
    er = (
        f"{_percent(point.er_mean)} [{_percent(point.er_ci95_low)}, {_percent(point.er_ci95_high)}]"
    )
    passed = (
        f"{_percent(point.pass_mean)} "
        f"[{_percent(point.pass_ci95_low)}, {_percent(point.pass_ci95_high)}]"
    )
    return [_cell(er, hl=True), _cell(passed), _cell(_ratio(point.speedup_mean))]


def _apps_table(report: Report) -> str:
    apps = report.apps
    if not apps:
        return "<p>No app has scored trials.</p>"
    ks = report.options.highlight_ks
    header = ["app", "variant", "strategy", "partition", "device", "trials", "passes"]
    header += [f"{name}@{k}" for k in ks for name in ("pass", "ER [CI]", "speedup")]
    header += ["baseline J", "baseline s", "baseline W", "best J", "best s", "best W"]
    header += ["energy", "scored on"]
    rows = [_app_row(app, ks) for app in apps[:MAX_APP_ROWS]]
    more = len(apps) - MAX_APP_ROWS
    note = f"<p>{more} more rows in tables/apps.csv.</p>" if more > 0 else ""
    return _table(header, rows) + note


def _app_row(app: AppSummary, ks: Iterable[int]) -> list[str]:
    key = app.key
    cells = [_text(key.app), _text(key.variant), _text(key.strategy), _text(key.partition)]
    cells += [_text(app.device), _cell(str(app.trials)), _cell(str(app.passes))]
    for k in ks:
        er = _at(app.er_at_k, k)
        interval = f"[{_percent(_at(app.er_ci95_low, k))}, {_percent(_at(app.er_ci95_high, k))}]"
        cells += [
            _cell(_percent(_at(app.pass_at_k, k))),
            _cell(f"{_percent(er)} {interval}" if math.isfinite(er) else "–", hl=True),
            _cell(_ratio(_at(app.speedup_at_k, k))),
        ]
    for value in (
        app.baseline_energy_j_median,
        app.baseline_duration_s_median,
        app.baseline_power_w_median,
        app.best_energy_j_median,
        app.best_duration_s_median,
        app.best_power_w_median,
    ):
        cells.append(_cell(_number(value)))
    method = app.energy_method + (" (ESTIMATE)" if app.is_estimate else "")
    cells += [_text(method, estimate=app.is_estimate), _text(app.scored_on or "–")]
    return cells


def _figure(figure: RenderedFigure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    return (
        f'<figure id="{_e(figure.name)}"><h3>{_e(figure.title)}</h3>'
        f'<img src="data:image/png;base64,{data}" alt="{_e(figure.alt)}">'
        f"<figcaption>{_e(figure.caption)}</figcaption></figure>"
    )


def _method_section(report: Report) -> str:
    options = report.options
    items = [
        "A trial passes when a candidate passed every harness gate (screen, build, every input, "
        "output oracle, measurement) and the judge did not reject it.",
        "Gain g = max(0, 1 − E/E_baseline) of a passing trial, else 0. E is the trial's "
        "independent second measurement (rescore) where one exists: the best candidate is "
        "selected on one measurement and scored on another.",
        f"A gain of at most {options.noise_sds:g} × the baseline's run-to-run coefficient of "
        "variation counts as 0 (inside the noise).",
        "ER@k = Σ_{i=k..n} C(i−1, k−1)/C(n, k) · g_(i) over gains sorted ascending: the expected "
        "best gain of k trials drawn from the n. pass@k = 1 − C(n−c, k)/C(n, k). speedup@k: the "
        "same estimator over max(1, T_baseline/T) (1 for trials that did not pass).",
        f"Campaign intervals: percentile bootstrap over apps, {options.bootstrap_samples} "
        f"resamples, seed {options.seed}, {100 * options.confidence:g}%. Per-app intervals: "
        "jackknife over the app's trials (Student t), undefined at k = n.",
    ]
    listed = "".join(f"<li>{_e(item)}</li>" for item in items)
    return f"<h2>How these numbers were obtained</h2><ul>{listed}</ul>"


def _provenance_section(report: Report) -> str:
    provenance = report.provenance
    if not provenance:
        return ""
    parts = ["<h2>Campaign configs and environment</h2>"]
    for name in ("campaign_config", "site_config", "versions", "host", "devices", "git_revision"):
        if name in provenance:
            parts.append(f"<h3>{_e(name)}</h3><pre>{_e(_pretty(provenance[name]))}</pre>")
    return "".join(parts)


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(name)}</th>" for name in header)
    body = "".join(f"<tr>{''.join(row)}</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(text: str, *, hl: bool = False) -> str:
    return f'<td class="hl">{_e(text)}</td>' if hl else f"<td>{_e(text)}</td>"


def _text(text: str, *, estimate: bool = False) -> str:
    css = "text estimate" if estimate else "text"
    return f'<td class="{css}">{_e(text)}</td>'


def _at(curve: Sequence[float], k: int) -> float:
    return curve[k - 1] if k <= len(curve) else math.nan


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%" if math.isfinite(value) else "–"


def _ratio(value: float) -> str:
    return f"{value:.2f}×" if math.isfinite(value) else "–"


def _number(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "–"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
