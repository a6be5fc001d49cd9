"""`edgekv bench --html`: one self-contained page, opened in a real headless browser (Debian's
chromium, installed here when missing): the DOM holds every figure of the table, the plot is
inline, and the page renders to a non-blank screenshot."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from browser import browser_argv

from edgekv.cli import main
from edgekv.lowlevel import HtmlTable, render_report, summary_rows

SMALL = ["--users", "1500", "--duration", "15s", "--mobility", "0.3", "--seed", "2"]


def _browser(chromium: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = browser_argv(chromium, tmp / "profile", *args)
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


class _Cells(HTMLParser):
    """The text of every table row of a page: header rows (th) and body rows (td)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.images: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs).get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("html")
    page, data = tmp / "report.html", tmp / "report.json"
    assert main(["bench", *SMALL, "--html", str(page), "--json", str(data)]) == 0
    return page, json.loads(data.read_text())


def test_page_is_self_contained(report: tuple[Path, dict[str, Any]]) -> None:
    text = report[0].read_text()
    assert text.startswith("<!DOCTYPE html>")
    for needle in ("<script", "<link", "http://", "https://", "@import", "url("):
        assert needle not in text, needle
    assert 'src="data:image/png;base64,' in text


def test_browser_dom_holds_every_figure_and_parameter(
    report: tuple[Path, dict[str, Any]], chromium: str, tmp_path: Path
) -> None:
    page, data = report
    dom = _browser(chromium, tmp_path, "--dump-dom", page.as_uri()).stdout
    parsed = _Cells()
    parsed.feed(dom)
    header, rows = summary_rows(data)
    assert header in parsed.rows
    start = parsed.rows.index(header)
    assert parsed.rows[start + 1 : start + 1 + len(rows)] == rows
    # The figures a reader looks for, exactly as the JSON has them.
    stale = data["systems"]["replicated:eventual"]["stale_reads"]
    assert stale["n"] > 0
    row = next(r for r in parsed.rows if r[0] == "stale reads % (n)")
    assert row[1].startswith(f"{stale['pct']:.3f} [") and row[1].endswith(f"({stale['n']:,})")
    p99 = data["systems"]["single-home"]["reads"]["latency_ms"]["p99"]
    row = next(r for r in parsed.rows if r[0] == "read p99 ms")
    assert row[3].startswith(f"{p99:.1f} [")
    params = {row[0]: row[1] for row in parsed.rows if len(row) == 2}
    assert params["seeds"] == "2" and params["users"] == "1500"
    assert params["lag"] == data["scenario"]["lag"]
    assert params["workload.login"] == str(data["workload"]["login"])
    assert len(parsed.images) == 1 and parsed.images[0].startswith("data:image/png;base64,")


def test_browser_screenshot_is_a_rendered_png(
    report: tuple[Path, dict[str, Any]], chromium: str, tmp_path: Path
) -> None:
    shot = tmp_path / "page.png"
    _browser(
        chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", report[0].as_uri()
    )
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    image = pytest.importorskip("PIL.Image")
    with image.open(shot) as img:
        assert img.size == (1280, 2400)
        colours = img.convert("L").getcolors(maxcolors=256 * 256)
    # Text, table borders and the plot: far more than a blank page's one or two shades.
    assert colours is not None and len(colours) > 20


def test_render_escapes_text() -> None:
    page = render_report(
        "a <b> & c",
        [HtmlTable("t <1>", ["figure", "x&y"], [["<script>", "1 < 2"]], "note <i>")],
        {"path": "<evil>"},
    )
    assert "<script>" not in page and "&lt;script&gt;" in page and "x&amp;y" in page
    assert "&lt;evil&gt;" in page and "note &lt;i&gt;" in page and "<figure>" not in page


def test_page_without_matplotlib_says_so_and_repeats_show_every_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import edgekv

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    result = edgekv.bench(users=300, duration="5s", seed=3, repeat=2)
    parsed = _Cells()
    page = result.to_html()
    parsed.feed(page)
    assert parsed.images == [] and "pip install &#x27;edgekv[plot]&#x27;" in page
    assert "seed 3</div>" in page and "seed 4</div>" in page
    across = result.tables()[0]
    assert across[2][0] in parsed.rows  # the across-seed means come first
    assert parsed.rows.count(["figure", *result.systems]) == 3


def test_same_seed_same_page() -> None:
    import edgekv

    pages = [edgekv.bench(users=300, duration="5s", seed=s).to_html() for s in (1, 1, 2)]
    assert pages[0] == pages[1] and pages[0] != pages[2]
