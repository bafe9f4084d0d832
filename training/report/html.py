"""Lay the sections out as one self-contained HTML page: inline CSS, inline SVG, no scripts
fetched from anywhere (the page works from a file with no network)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

from kizuna.training.report.sections import Section, number_text

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
header{background:#1d3557;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.85;font-size:13px}
nav{padding:8px 32px;background:#e9edf2;font-size:13px} nav a{margin-right:14px;color:#1d3557}
main{padding:8px 32px 40px;max-width:1200px}
section{overflow-x:auto;background:#fff;border-radius:8px;padding:16px 20px;margin:16px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
section h2{margin:0 0 6px;font-size:18px} .intro{color:#4a5664;font-size:14px;margin:0 0 10px}
figure.plot{margin:8px 0;overflow-x:auto} figure.plot svg,figure.plot img{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:12px;margin:6px 0 12px} caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border-bottom:1px solid #e2e6ea;padding:3px 8px;text-align:right} th:first-child,td:first-child{text-align:left}
.note{color:#8a5a00;font-size:13px} td.text{text-align:left}
.pair{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
"""


def render(sections: Sequence[Section], *, title: str, subtitle: str) -> str:
    """The whole page as text.

    Parameters
    ----------
    sections
        The sections, in order.
    title
        The page's title.
    subtitle
        The line under it.

    Returns
    -------
    str
    """
    nav = " ".join(f'<a href="#section-{s.key}">{html.escape(s.title)}</a>' for s in sections)
    body = "\n".join(_section(s) for s in sections)
    n_plots = sum(len(s.plots) for s in sections)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head>\n"
        f'<body data-plots="{n_plots}"><header><h1>{html.escape(title)}</h1>'
        f"<p>{html.escape(subtitle)}</p></header>\n<nav>{nav}</nav>\n<main>\n{body}\n</main></body></html>\n"
    )


def _section(section: Section) -> str:
    parts = [f'<section id="section-{section.key}"><h2>{html.escape(section.title)}</h2>']
    if section.intro:
        parts.append(f'<p class="intro">{html.escape(section.intro)}</p>')
    for note in section.notes:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    if section.tables_first:
        parts.extend(_table(caption, table) for caption, table in section.tables)
    parts.append('<div class="pair">')
    for plot_id, markup in section.plots:
        parts.append(f'<figure class="plot" data-plot="{html.escape(plot_id)}">{markup}</figure>')
    parts.append("</div>")
    if not section.tables_first:
        parts.extend(_table(caption, table) for caption, table in section.tables)
    parts.append("</section>")
    return "\n".join(parts)


def _table(caption: str, frame: pd.DataFrame) -> str:
    index_name = frame.index.name or ""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [index_name, *frame.columns])
    rows = []
    for idx, row in frame.iterrows():
        cells = "".join(
            f"<td>{html.escape(_cell(v))}</td>"
            if _numeric(v)
            else f'<td class="text">{html.escape(_cell(v))}</td>'
            for v in row.tolist()
        )
        rows.append(f"<tr><td>{html.escape(str(idx))}</td>{cells}</tr>")
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _numeric(value: object) -> bool:
    if isinstance(value, int | float):
        return True
    text = str(value).replace(",", "").replace("%", "")
    try:
        float(text)
    except ValueError:
        return text == ""
    return True


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):  # a whole one is a count (customers, orders) read as float
        return number_text(value, value.is_integer() and abs(value) >= 1)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
