"""The HTML report built by the real pipeline from a synthetic campaign file: it parses, every
figure is an embedded PNG, user names are escaped, estimates are flagged, nothing is external."""

from __future__ import annotations

import base64
import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from analysis_report_fixture import empty_report

from lassi_hpc.analysis.html_report import png_size, render_html
from lassi_hpc.analysis.model import GroupKey, Report, ReportOptions
from lassi_hpc.analysis.plots import FIGURE_NAMES, render_figures
from lassi_hpc.analysis.report import build_report, run_report
from lassi_hpc.testing.synthetic_campaign import write_synthetic_campaign

pytestmark = pytest.mark.slow  # draws every figure (about 2 s each time)

VOID = {"meta", "img", "br", "hr", "link", "input"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HOSTILE = "<script>alert('x')</script>&\"q\""


class StrictParser(HTMLParser):
    """Checks that every opened element is closed, in order; collects <img> sources."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.links.append(value)
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    path = tmp_path_factory.mktemp("synthetic") / "results.h5"
    write_synthetic_campaign(path, apps=6, trials=5, repetitions=3, trace_samples=50, seed=4)
    return build_report(path, ReportOptions(bootstrap_samples=300, max_trace_apps=3))


def parse(page: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(page)
    parser.close()
    assert parser.open == [], f"never closed: {parser.open}"
    return parser


def test_every_figure_is_an_embedded_png(report: Report) -> None:
    figures = render_figures(report)
    assert tuple(figure.name for figure in figures) == FIGURE_NAMES
    parser = parse(render_html(report, figures))
    assert len(parser.images) == len(FIGURE_NAMES)
    for image in parser.images:
        source = image["src"] or ""
        assert source.startswith("data:image/png;base64,")
        png = base64.b64decode(source.split(",", 1)[1])
        assert png.startswith(PNG_SIGNATURE)
        width, height = png_size(png)
        assert width > 100 and height > 100
    assert not [link for link in parser.links if re.match(r"https?:", link)]


def test_the_page_shows_the_campaign_and_its_apps(report: Report) -> None:
    page = render_html(report, render_figures(report))
    assert report.apps and report.curves
    assert page.count("<tr>") >= len(report.apps) + 1
    for app in report.apps:
        assert app.key.app in page
    assert "How these numbers were obtained" in page and "campaign_config" in page
    assert "LASSI-EE, published" in page


def test_user_names_are_escaped(report: Report) -> None:
    hostile = dataclasses.replace(
        report.apps[0], key=dataclasses.replace(report.apps[0].key, app=HOSTILE)
    )
    changed = dataclasses.replace(report, apps=(hostile, *report.apps[1:]), notes=(HOSTILE,))
    page = render_html(changed, ())
    assert "<script>" not in page and "&lt;script&gt;" in page
    parse(page)


def test_estimates_are_flagged_only_when_present(report: Report) -> None:
    measured = render_html(report, ())
    assert "ESTIMATED energy" not in measured  # the synthetic file is a (fake) counter
    estimated_app = dataclasses.replace(report.apps[0], is_estimate=True)
    estimated = dataclasses.replace(report, apps=(estimated_app, *report.apps[1:]))
    assert "ESTIMATED energy" in render_html(estimated, ())


def test_an_empty_report_renders_every_figure(tmp_path: Path) -> None:
    empty = empty_report()
    figures = render_figures(empty)
    assert len(figures) == len(FIGURE_NAMES)
    parser = parse(render_html(empty, figures))
    assert len(parser.images) == len(FIGURE_NAMES)


def test_run_report_writes_the_page_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    write_synthetic_campaign(path, apps=2, trials=3, repetitions=2, trace_samples=20, seed=1)
    files = run_report(path, tmp_path / "out", ReportOptions(bootstrap_samples=100))
    assert files.html.exists() and len(files.tables) == 7
    assert all(table.stat().st_size > 0 for table in files.tables)
    keys = {app.key for app in files.report.apps}
    assert all(isinstance(key, GroupKey) for key in keys) and len(keys) == 2 * 2
