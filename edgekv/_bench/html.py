"""A self-contained HTML report: tables, inline PNG plots and the run's parameters in one page.

Nothing is fetched when the page opens (no scripts, fonts or stylesheets from elsewhere): the
style is inline and plots are ``data:`` URIs, so the file can be mailed or archived as is.
Every piece of text is HTML-escaped. Same inputs, same bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

__all__ = ["Figure", "HtmlTable", "render_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f0f0f0; } td.num { text-align: right; white-space: nowrap; }
caption { caption-side: bottom; text-align: left; font-size: 0.85em; color: #555;
  padding-top: 0.4em; }
.title { white-space: pre-line; font-weight: 600; margin: 0.3em 0; }
img { max-width: 100%; border: 1px solid #ddd; }
footer { margin-top: 3em; font-size: 0.8em; color: #777; }
"""


@dataclass(frozen=True, slots=True)
class HtmlTable:
    """A table of text: a title above (newlines kept), a header row, rows (the first column
    is a label, the others are right-aligned figures) and a note below."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Figure:
    """A PNG image with its caption."""

    png: bytes
    caption: str
    alt: str = ""


def _table(t: HtmlTable) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(cell)}</td>" if i == 0 else f'<td class="num">{escape(cell)}</td>'
            for i, cell in enumerate(row)
        )
        + "</tr>\n"
        for row in t.rows
    )
    caption = f"<caption>{escape(t.note)}</caption>" if t.note else ""
    return (
        f'<div class="title">{escape(t.title)}</div>\n<table>{caption}<thead><tr>{head}</tr>'
        f"</thead>\n<tbody>\n{body}</tbody></table>\n"
    )


def _parameters(params: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(_text(v))}</td></tr>\n"
        for k, v in params.items()
    )
    return f'<table class="parameters">\n{rows}</table>\n'


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "; ".join(_text(v) for v in value) or "none"
    return "-" if value is None else str(value)


def _figure(f: Figure) -> str:
    data = base64.b64encode(f.png).decode("ascii")
    return (
        f'<figure><img alt="{escape(f.alt or f.caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(f.caption)}</figcaption></figure>\n"
    )


def render_report(
    title: str,
    tables: Sequence[HtmlTable],
    parameters: Mapping[str, Any],
    figures: Sequence[Figure] = (),
    notes: Sequence[str] = (),
    footer: str = "",
) -> str:
    """The whole page as a string: the title, ``notes`` (one paragraph each), the tables, the
    figures (or nothing), then the parameters as a two-column table."""
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n",
        f"<h1>{escape(title)}</h1>\n",
        *(f"<p>{escape(n)}</p>\n" for n in notes),
        "<h2>Results</h2>\n",
        *(_table(t) for t in tables),
    ]
    if figures:
        parts += ["<h2>Plots</h2>\n", *(_figure(f) for f in figures)]
    parts += ["<h2>Parameters</h2>\n", _parameters(parameters)]
    if footer:
        parts.append(f"<footer>{escape(footer)}</footer>\n")
    parts.append("</body>\n</html>\n")
    return "".join(parts)
