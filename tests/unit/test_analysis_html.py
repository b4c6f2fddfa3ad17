"""The report figures and the self-contained HTML page, from hand-built Report objects: the page
parses strictly, every figure is one embedded PNG, nothing is external, user strings are escaped,
estimates are flagged exactly when present, and an empty campaign still renders everything."""

from __future__ import annotations

import base64
import dataclasses
import html
import math
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from analysis_report_fixture import (
    HOSTILE_APP,
    build_report,
    empty_report,
    with_many_candidates,
)

from lassi_hpc.analysis.html_format import (
    percent,
    percent_with_interval,
    significant,
    speedup,
)
from lassi_hpc.analysis.html_provenance import provenance_text
from lassi_hpc.analysis.html_report import png_size, render_html
from lassi_hpc.analysis.html_tables import MAX_APP_ROWS
from lassi_hpc.analysis.model import Report
from lassi_hpc.analysis.plots import FIGURE_NAMES, RenderedFigure, render_figures
from lassi_hpc.analysis.plots_canvas import ESTIMATE_WARNING
from lassi_hpc.analysis.plots_curves import er_curves_figure
from lassi_hpc.analysis.plots_energy import energy_vs_time_figure

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "firefox")


class StrictParser(HTMLParser):
    """Fails on any non-void element closed out of order; collects images, links, row counts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, str]] = []  # (tag, id)
        self.images: list[dict[str, str]] = []
        self.links: list[str] = []
        self.rows_by_table: dict[str, int] = {}
        self.reference_rows = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "img":
            self.images.append(attributes)
        self.links += [value for name, value in attributes.items() if name in ("src", "href")]
        if tag == "tr" and self._inside("tbody"):
            table = self._enclosing_table()
            self.rows_by_table[table] = self.rows_by_table.get(table, 0) + 1
            self.reference_rows += attributes.get("class") == "reference"
        if tag not in VOID:
            self.open.append((tag, attributes.get("id", "")))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in VOID, f"<{tag}/> is not a void element"
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        assert tag not in VOID, f"</{tag}> closes a void element"
        assert self.open, f"</{tag}> closes nothing"
        assert self.open[-1][0] == tag, f"</{tag}> closes <{self.open[-1][0]}>"
        self.open.pop()

    def _inside(self, tag: str) -> bool:
        return any(open_tag == tag for open_tag, _ in self.open)

    def _enclosing_table(self) -> str:
        return next(ident for tag, ident in reversed(self.open) if tag == "table")


def parse(page: str) -> StrictParser:
    assert page.startswith("<!DOCTYPE html>")
    parser = StrictParser()
    parser.feed(page)
    parser.close()
    assert parser.open == [], f"never closed: {parser.open}"
    return parser


def image_png(image: dict[str, str]) -> bytes:
    source = image["src"]
    prefix = "data:image/png;base64,"
    assert source.startswith(prefix)
    return base64.b64decode(source[len(prefix) :], validate=True)


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report(hostile_app=True, notes=("Note with <b>markup</b> & an ampersand",))


@pytest.fixture(scope="module")
def figures(report: Report) -> tuple[RenderedFigure, ...]:
    return render_figures(report)


@pytest.fixture(scope="module")
def page(report: Report, figures: tuple[RenderedFigure, ...]) -> str:
    return render_html(report, figures)


def test_the_page_parses_and_embeds_every_figure_once_as_a_png(
    page: str, figures: tuple[RenderedFigure, ...]
) -> None:
    assert tuple(figure.name for figure in figures) == FIGURE_NAMES
    parser = parse(page)
    assert len(parser.images) == len(FIGURE_NAMES)
    for name in FIGURE_NAMES:
        matching = [image for image in parser.images if image.get("id") == f"img-{name}"]
        assert len(matching) == 1, name
        png = image_png(matching[0])
        assert png.startswith(PNG_SIGNATURE) and png[12:16] == b"IHDR"
        width, height = struct.unpack(">II", png[16:24])
        assert width > 0 and height > 0
        assert (int(matching[0]["width"]), int(matching[0]["height"])) == (width, height)
        assert matching[0]["alt"]


def test_nothing_is_loaded_from_elsewhere(page: str) -> None:
    parser = parse(page)
    assert parser.links
    external = [link for link in parser.links if link.lower().startswith(("http:", "https:"))]
    assert external == []
    assert all(link.startswith(("data:image/png;base64,", "#")) for link in parser.links)
    assert "<script" not in page.lower() and "<link" not in page.lower()


def test_a_hostile_app_name_is_escaped_in_the_page(page: str) -> None:
    assert "<script>" not in page
    assert html.escape(HOSTILE_APP, quote=True) in page
    assert "Note with &lt;b&gt;markup&lt;/b&gt; &amp; an ampersand" in page


def test_notes_appear_in_the_warning_box(report: Report, page: str) -> None:
    box = page[page.index('id="notes"') : page.index("</div>", page.index('id="notes"'))]
    for note in report.notes:
        assert html.escape(note, quote=True) in box


def test_the_estimate_banner_appears_exactly_when_an_energy_is_an_estimate() -> None:
    estimated = build_report(estimate=True)
    measured = build_report(estimate=False)
    estimated_page = render_html(estimated, ())
    assert 'id="estimate-banner"' in estimated_page
    assert 'class="estimate-tag"' in estimated_page
    measured_page = render_html(measured, ())
    assert 'id="estimate-banner"' not in measured_page
    assert 'class="estimate-tag"' not in measured_page
    one_candidate = dataclasses.replace(measured.candidates[0], is_estimate=True)
    only_a_candidate = dataclasses.replace(
        measured, candidates=(one_candidate, *measured.candidates[1:])
    )
    assert 'id="estimate-banner"' in render_html(only_a_candidate, ())


def test_figures_name_estimates_exactly_when_present(
    figures: tuple[RenderedFigure, ...],
) -> None:
    estimated = {figure.name: figure for figure in figures}  # the module's report has estimates
    for name in ("er_curves", "energy_vs_time", "power_traces"):
        assert ESTIMATE_WARNING in estimated[name].title
        assert ESTIMATE_WARNING in estimated[name].caption
    assert ESTIMATE_WARNING not in estimated["pass_curves"].title
    for figure in render_figures(build_report(estimate=False)):
        assert ESTIMATE_WARNING not in figure.title + figure.caption, figure.name


def test_the_per_app_table_has_one_row_per_app_line(report: Report, page: str) -> None:
    parser = parse(page)
    assert parser.rows_by_table["app-table"] == len(report.apps)
    assert "the CSV export holds all" not in page


def test_a_large_per_app_table_is_cut_at_the_row_limit() -> None:
    large = build_report(extra_apps=130)
    assert len(large.apps) > MAX_APP_ROWS
    page = render_html(large, ())
    assert parse(page).rows_by_table["app-table"] == MAX_APP_ROWS
    assert f"Showing the first {MAX_APP_ROWS} of {len(large.apps)} app lines" in page


def test_the_headline_table_shows_highlighted_ks_next_to_the_references(
    report: Report, page: str
) -> None:
    parser = parse(page)
    groups = {(point.strategy, point.partition) for point in report.curves}
    ks = report.options.highlight_ks
    published = sum(1 for ref in report.references for k, _ in ref.points if k in ks)
    assert parser.reference_rows == published
    assert parser.rows_by_table["headline-table"] == len(groups) * len(ks) + published
    assert "reference: LASSI-EE, published" in page and "29.0%" in page


def test_a_k_above_the_trials_shows_as_a_dash(report: Report, page: str) -> None:
    short = next(app for app in report.apps if app.trials == 3)
    assert len(short.er_at_k) == 3 and math.isnan(short.er_ci95_low[2])
    start = page.index(f"<td>{short.key.app}</td><td>{short.key.variant}</td>")
    row = page[start : page.index("</tr>", start)]
    assert row.count('<td class="hl">–</td>') == 2  # pass@5 and ER@5


def test_numbers_are_formatted_as_the_report_promises() -> None:
    assert percent(0.29444) == "29.4%"
    assert percent(math.nan) == "–"
    assert percent_with_interval(0.3, 0.21, 0.372) == "30.0% [21.0, 37.2]"
    assert percent_with_interval(0.3, math.nan, math.nan) == "30.0%"
    assert significant(1234.56) == "1235"
    assert significant(12345.6) == "12350"
    assert significant(0.0123456) == "0.01235"
    assert significant(81.0) == "81.00"
    assert significant(2.5e9) == "2.500e+09"
    assert significant(math.inf) == "–"
    assert speedup(1.234) == "1.23×"


def test_provenance_is_shown_readably(page: str) -> None:
    assert "Campaign configs and environment" in page
    assert "[campaign]\nname = &quot;fixture-campaign&quot;" in page
    assert "&quot;nvcc&quot;: &quot;12.4&quot;" in page
    assert "9f8f6f5 (clean)" in page
    assert provenance_text('{"b": 1, "a": [2]}') == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}'
    assert provenance_text("[site]\nname = 'x'") == "[site]\nname = 'x'"
    assert provenance_text(None) == "(not recorded)"


def test_the_method_section_names_this_reports_settings(report: Report, page: str) -> None:
    section = page[page.index('id="method"') :]
    assert "How these numbers were obtained" in section
    assert f"{report.options.bootstrap_samples} bootstrap resamples" in section
    assert f"noise_sds = {report.options.noise_sds:g}" in section
    assert "jackknife" in section


def test_an_empty_report_renders_every_figure_as_a_placeholder() -> None:
    empty = empty_report()
    figures = render_figures(empty)
    assert tuple(figure.name for figure in figures) == FIGURE_NAMES
    for figure in figures:
        assert png_size(figure.png) == (600, 160), figure.name  # the placeholder's size
        assert figure.caption.startswith("no "), figure.name
    page = render_html(empty, figures)
    parser = parse(page)
    assert len(parser.images) == len(FIGURE_NAMES)
    assert "No app lines in this results file." in page
    assert "The results file records no provenance." in page


def test_a_report_without_candidates_draws_a_placeholder_scatter(report: Report) -> None:
    figure = energy_vs_time_figure(dataclasses.replace(report, candidates=()))
    assert figure.caption == "no measured candidates"
    assert png_size(figure.png) == (600, 160)


def test_figures_say_what_was_left_out(figures: tuple[RenderedFigure, ...], report: Report) -> None:
    by_name = {figure.name: figure for figure in figures}
    lines = len({(a.key.app, a.key.variant, a.key.partition) for a in report.apps})
    shown = report.options.max_bar_apps
    assert f"Showing {shown} of {lines} app lines" in by_name["app_bars"].caption
    assert "the CSV export has all" in by_name["app_bars"].caption
    without_best = sum(1 for pair in report.traces if pair.best is None)
    assert without_best and f"{without_best} panels have no passing candidate" in (
        by_name["power_traces"].caption
    )


def test_png_bytes_are_deterministic(report: Report) -> None:
    first = er_curves_figure(report).png
    assert first == er_curves_figure(report).png
    assert b"matplotlib" not in first.lower()  # no Software chunk naming the version


@pytest.mark.slow
def test_three_hundred_thousand_candidates_render() -> None:
    large = with_many_candidates(build_report(), 300_000)
    figure = energy_vs_time_figure(large)
    width, height = png_size(figure.png)
    assert width == 700 and height == 500
    assert figure.caption.startswith("300000 measured candidates")


def test_a_headless_browser_renders_the_page(page: str, tmp_path: Path) -> None:
    found = [(name, shutil.which(name)) for name in BROWSERS]
    browsers = [(name, path) for name, path in found if path]
    if not browsers:
        pytest.skip(f"no headless browser installed (looked for {', '.join(BROWSERS)})")
    name, path = browsers[0]
    assert path is not None
    page_path = tmp_path / "report.html"
    page_path.write_text(page, encoding="utf-8")
    shot = tmp_path / "screenshot.png"
    if name == "firefox":
        command = [path, "--headless", "--screenshot", str(shot), page_path.as_uri()]
    else:
        command = [
            path,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            page_path.as_uri(),
        ]
    subprocess.run(command, check=True, timeout=120, capture_output=True)
    assert shot.read_bytes().startswith(PNG_SIGNATURE)
    assert png_size(shot.read_bytes())[0] > 0
