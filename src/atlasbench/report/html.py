"""The report page's HTML pieces: tables, notes, inline styles and the image check.

Plain functions of values to HTML strings, shared by the report's sections
(:mod:`atlasbench.report.page`); nothing here reads a study.
"""

from __future__ import annotations

import html
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CHECK_SCRIPT", "CSS", "bold_text", "format_cell", "html_table", "join_words", "note_html", "png_size"]


def note_html(text: str) -> str:
    """A one-line note in place of (part of) a section; ``text`` is HTML."""
    return f'<p class="note">{text}</p>'


def bold_text(text: Any) -> str:
    """``text`` escaped and in bold."""
    return f"<b>{html.escape(str(text))}</b>"


def join_words(parts: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def png_size(data: bytes) -> tuple[int, int, float | None]:
    """Width, height and dots per inch (None when not recorded) of a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    at = 8
    while at + 8 <= len(data):  # walk the chunks before the image data
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"pHYs" and length >= 9:
            x, _y, unit = struct.unpack(">IIB", data[at + 8 : at + 17])
            return width, height, (x * 0.0254 if unit == 1 and x > 0 else None)
        if kind in (b"IDAT", b"IEND"):
            break
        at += 12 + length
    return width, height, None


def format_cell(value: Any, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        lower = column.lower()
        if lower in ("q", "p", "q_value", "p_value") or "jsd" in lower:
            return f"{value:.2g}"
        if not math.isfinite(value):
            return html.escape(str(value))
        if abs(value) >= 100 or (value == round(value) and abs(value) >= 10):
            return f"{value:,.0f}"
        return f"{value:.3f}"
    return html.escape(str(value))


def html_table(
    frame: pd.DataFrame,
    text_columns: Iterable[str] = (),
    highlight: Sequence[bool] | None = None,
    colours: Mapping[str, str] | None = None,
) -> str:
    """A plain HTML table: numbers right-aligned and rounded, highlighted rows, platform swatches."""
    text_columns = set(text_columns)
    head = "".join(
        f'<th class="{"text" if c in text_columns else "num"}">{html.escape(str(c))}</th>' for c in frame.columns
    )
    rows = []
    for i, (_, row) in enumerate(frame.iterrows()):
        cells = []
        for column in frame.columns:
            value = row[column]
            text = format_cell(value, str(column))
            if colours and isinstance(value, str) and value in colours and column in text_columns:
                text = f'<span class="swatch" style="background:{colours[value]}"></span>{text}'
            cells.append(f'<td class="{"text" if column in text_columns else "num"}">{text}</td>')
        mark = ' class="hit"' if highlight is not None and bool(highlight[i]) else ""
        rows.append(f"<tr{mark}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


CSS = """
:root{color-scheme:light}
body{margin:0;background:#fff;color:#1d1d1f;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:1200px;margin:0 auto;padding:1.2rem 2rem 3rem}
h1{font-size:1.65rem;margin:.4rem 0 .2rem}
h2{font-size:1.3rem;border-bottom:1px solid #d9d9d9;padding-bottom:.2rem;margin:2.2rem 0 .8rem}
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
.meta{color:#555;font-size:.9rem}
.description{margin:.2rem 0}
.summary{background:#f3f7fb;border-left:4px solid #0072B2;padding:.1rem 1.2rem .4rem;margin-top:1rem}
.summary h2{border:none;margin-top:.8rem}
.summary li{margin:.25rem 0}
nav.toc ol{columns:2;margin:.2rem 0}
nav.toc h2{font-size:1.05rem;border:none;margin:1.2rem 0 .2rem}
table{border-collapse:collapse;font-size:.86rem;margin:.6rem 0 1rem;font-variant-numeric:tabular-nums}
th,td{padding:.22rem .6rem;border-bottom:1px solid #e6e6e6}
th{background:#f4f4f4;font-weight:600;vertical-align:bottom}
.num{text-align:right}.text{text-align:left}
tr.hit td{background:#e7f4ea;font-weight:600}
figure{margin:1rem 0 1.4rem}
figure img{max-width:100%;height:auto;display:block}
figcaption{color:#444;font-size:.88rem;max-width:60rem;margin-top:.3rem}
.note{color:#6b5316;background:#fbf5e2;border-left:3px solid #e0b341;padding:.35rem .8rem}
.scroll{max-height:30rem;overflow:auto;border:1px solid #eee}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:.5rem 1.5rem}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.3em;vertical-align:-.05em}
.platform{margin-right:.6em;white-space:nowrap}
footer{margin-top:2.5rem;color:#666;font-size:.85rem;border-top:1px solid #e6e6e6}
code{font-size:.9em;background:#f4f4f4;padding:0 .2em;border-radius:2px}
"""

CHECK_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (img) { return !img.complete || img.naturalWidth === 0; }).length;
  document.getElementById("report-check").textContent =
    "images: " + (images.length - broken) + " loaded, " + broken + " broken";
});
"""
