"""The report as one self-contained HTML5 page: inline CSS, figures embedded as base64 PNG data
URLs, no scripts and no external resources, so the file can be mailed, archived or opened
offline. Every string from the results file is escaped."""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence

from lassi_hpc.analysis.html_format import text
from lassi_hpc.analysis.html_method import method_section
from lassi_hpc.analysis.html_provenance import provenance_section
from lassi_hpc.analysis.html_tables import app_table, headline_table
from lassi_hpc.analysis.model import Report
from lassi_hpc.analysis.plots_canvas import ESTIMATE_WARNING, RenderedFigure
from lassi_hpc.roofline.report_section import roofline_section_beside

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em auto;
  max-width: 1400px; padding: 0 1em; color: #1a1a1a; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
h3 { font-size: 1em; margin-bottom: 0.3em; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.meta dt { font-weight: bold; }
dl.meta dd { margin: 0; }
.warning { border: 2px solid #b45309; background: #fff7ed; padding: 0.6em 1em; margin: 1em 0; }
.estimate-banner { border: 3px solid #b91c1c; background: #fee2e2; color: #7f1d1d;
  padding: 0.8em 1em; margin: 1em 0; font-weight: bold; }
.warning-inline { color: #92400e; font-weight: bold; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; white-space: nowrap; }
th { background: #f3f4f6; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.hl, th.hl { background: #fef9c3; font-weight: 600; }
tr.reference td { font-style: italic; color: #374151; background: #f9fafb; }
tr.reference td.hl { background: #fefce8; }
td.estimate { background: #fef2f2; }
td.hl.estimate { background: #fde68a; }
.estimate-tag { color: #b91c1c; }
.scroll { overflow-x: auto; max-height: 80vh; overflow-y: auto; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #374151; max-width: 80em; }
pre { background: #f6f8fa; border: 1px solid #e5e7eb; padding: 0.6em; overflow-x: auto;
  font-size: 0.85em; }
.small { font-size: 0.85em; color: #4b5563; }
.empty { color: #6b7280; font-style: italic; }
nav ul { display: flex; flex-wrap: wrap; gap: 0.3em 1.2em; list-style: none; padding: 0; }
dd { margin-bottom: 0.6em; }
"""


def render_html(
    report: Report, figures: Sequence[RenderedFigure], roofline_path: str | None = None
) -> str:
    """The whole page as a string (UTF-8 when written): header, warnings, headline and per-app
    tables, the figures, the roofline section (of `roofline_path` when given, else of the file
    beside the results), how the numbers were obtained, and the campaign's configs and
    environment."""
    title = f"lassi_hpc energy report: {report.campaign}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{text(title)}</title><style>{_STYLE}</style></head><body>",
        f"<header><h1>{text(title)}</h1>{_meta(report)}</header>",
        _navigation(),
        _estimate_banner(report),
        _notes(report.notes),
        '<section id="headline"><h2>Headline</h2>',
        "<p>Campaign means over app lines at the highlighted k values, next to the published "
        "reference figures.</p>",
        headline_table(report),
        "</section>",
        '<section id="apps"><h2>Per-app results</h2>',
        "<p>Energies, times and powers are medians over repetitions; the best candidate is the "
        "trial with the largest gain. Highlighted columns are the highlighted k values.</p>",
        app_table(report),
        "</section>",
        _figures(figures),
        roofline_section_beside(report.results_path, roofline_path),
        method_section(report),
        provenance_section(report.provenance),
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def any_estimate(report: Report) -> bool:
    """Whether any energy in the report is an estimate rather than a measurement."""
    return (
        any(app.is_estimate for app in report.apps)
        or any(candidate.is_estimate for candidate in report.candidates)
        or any(pair.is_estimate for pair in report.traces)
        or any(score.is_estimate for score in report.scores)
    )


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk; (0, 0) when `png` is not a PNG."""
    if len(png) < 24 or not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR":
        return 0, 0
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _meta(report: Report) -> str:
    options = report.options
    rows = [
        ("Campaign", text(report.campaign)),
        ("Results file", f"<code>{text(report.results_path)}</code>"),
        ("Generated (UTC)", text(report.generated_utc)),
        ("Highlighted k", text(", ".join(str(k) for k in options.highlight_ks) or "none")),
        ("App lines", str(len(report.apps))),
        ("Measured candidates", str(len(report.candidates))),
    ]
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    return f'<dl class="meta">{items}</dl>'


def _navigation() -> str:
    links = (
        ("headline", "Headline"),
        ("apps", "Per-app results"),
        ("figures", "Figures"),
        ("method", "How these numbers were obtained"),
        ("provenance", "Campaign configs and environment"),
    )
    items = "".join(f'<li><a href="#{anchor}">{name}</a></li>' for anchor, name in links)
    return f"<nav><ul>{items}</ul></nav>"


def _estimate_banner(report: Report) -> str:
    if not any_estimate(report):
        return ""
    apps = sum(1 for app in report.apps if app.is_estimate)
    candidates = sum(1 for candidate in report.candidates if candidate.is_estimate)
    traces = sum(1 for pair in report.traces if pair.is_estimate)
    return (
        '<div class="estimate-banner" id="estimate-banner" role="alert">'
        f"<p>Some energies in this report are {text(ESTIMATE_WARNING)}: "
        f"{_count(apps, 'app line')}, {_count(candidates, 'candidate')} and "
        f"{_count(traces, 'power trace')}. They are marked ESTIMATE in the "
        "tables and named in the figure titles; do not compare them with measured energies."
        "</p></div>"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{text(note)}</li>" for note in notes)
    return (
        '<div class="warning" id="notes" role="note"><p><strong>Read before using these '
        f"numbers</strong></p><ul>{items}</ul></div>"
    )


def _figures(figures: Sequence[RenderedFigure]) -> str:
    parts = ['<section id="figures"><h2>Figures</h2>']
    if not figures:
        parts.append('<p class="empty">No figures were rendered.</p>')
    for figure in figures:
        width, height = png_size(figure.png)
        size = f' width="{width}" height="{height}"' if width and height else ""
        encoded = base64.b64encode(figure.png).decode("ascii")
        parts.append(
            f'<figure id="figure-{text(figure.name)}">'
            f'<img id="img-{text(figure.name)}" src="data:image/png;base64,{encoded}"'
            f' alt="{text(figure.alt)}"{size}>'
            f"<figcaption><strong>{text(figure.title)}.</strong> {text(figure.caption)}"
            "</figcaption></figure>"
        )
    parts.append("</section>")
    return "".join(parts)
