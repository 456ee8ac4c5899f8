"""The study report: one self-contained HTML page a scientist reads at a glance, and tidy tables.

Everything a study produced is gathered into ``report.html``: a short summary in
sentences (which platform ranks first at full data, or that the study cannot tell them
apart, where accuracy saturates, the cheapest designs, whether the Tn5 bias and the
learned motifs agree), then one section per read-out, each a table and a figure:

1. *Summary*: the key sentences.
2. *Quality control*: per platform, cells, median unique fragments, FRiP and TSS
   enrichment, with their distributions and the unique fragments per cell reached at each
   depth level.
3. *Accuracy* against reads per cell and against cells, per platform, with the saturation
   curves fitted by :func:`atlasbench.readouts.cost.fit_saturation` and error bars over folds.
4. *The reads x cells grid*: one annotated heatmap of accuracy per platform.
5. *Cross-platform transfer*: the model trained on each platform's full data, evaluated
   against every platform's full data.
6. *Cost*: the cost-accuracy frontier with the cheapest design of each platform
   (:mod:`atlasbench.readouts.cost`).
7. *Tn5 insertion bias* (:mod:`atlasbench.readouts.tn5`), 8. *motifs* (:mod:`atlasbench.readouts.motifs`),
   9. *validated enhancers* (:mod:`atlasbench.readouts.enhancers`): their tables and figures.
10. *Simulation truth*: on a simulated atlas, each result beside the truth it should
    recover (the Tn5 log-odds, the planted activator motifs, the platforms' library
    complexity and where their unique fragments saturate).

A section whose input is missing is replaced by a one-line note, so a report can be
written at any point of a study; a section that fails makes the report fail, unless a
partial report is allowed (``strict=False``), which notes the failure in its place. The
page needs nothing beside it: figures are embedded as PNG (``data:`` URIs), styles are
inline, and a few lines of script at its end count the images the browser could not draw
(``<p id="report-check">``), which the tests read in a headless browser. Each figure
drawn here is also written as PNG and PDF under ``figures/`` (paper quality, one colour
per platform across all figures), and every table as a tidy CSV under ``tables/``.

This module writes the page: it runs the section functions in order, gathers their
summaries, and assembles the HTML head, table of contents and body. The sections live
in :mod:`atlasbench.report.qc_accuracy` (2-5), :mod:`atlasbench.report.comparisons`
(which differences hold), :mod:`atlasbench.report.readouts` (6-9) and
:mod:`atlasbench.report.truth` (10); what they share is in
:mod:`atlasbench.report.context`. The report knows the study only through
:class:`ReportSettings`.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import logging
from collections.abc import Callable
from pathlib import Path

from atlasbench.errors import AtlasbenchError
from atlasbench.io.atomic import write_text_atomic
from atlasbench.report.comparisons import comparisons_section
from atlasbench.report.context import METRIC_LABEL, ReportContext, ReportInputs, ReportSettings, Section
from atlasbench.report.html import CHECK_SCRIPT, CSS, note_html
from atlasbench.report.plots import PALETTE, platform_colours
from atlasbench.report.qc_accuracy import accuracy_section, grid_section, qc_section, transfer_section
from atlasbench.report.readouts import cost_section, enhancers_section, motifs_section, tn5_section
from atlasbench.report.truth import truth_section

log = logging.getLogger(__name__)

__all__ = ["PALETTE", "PARTIAL_FILE", "SECTIONS", "ReportInputs", "ReportSettings", "platform_colours", "write_report"]

PARTIAL_FILE = "partial.json"
"""Beside a partial report's page: the sections left out, by id, with their errors."""

SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("qc", "Quality control per platform"),
    ("accuracy", "Accuracy against reads per cell and cells"),
    ("comparisons", "Which differences hold"),
    ("grid", "Accuracy over the reads x cells grid"),
    ("transfer", "Cross-platform transfer"),
    ("cost", "Cost and accuracy"),
    ("tn5", "Tn5 insertion bias"),
    ("motifs", "Motifs learned by the models"),
    ("enhancers", "Validated enhancers"),
    ("truth", "Results against the simulation truth"),
)
"""Section ids (HTML anchors) and headings of the report, in page order."""

_STEPS: tuple[tuple[str, Callable[[ReportContext], Section]], ...] = (
    ("qc", qc_section),
    ("accuracy", accuracy_section),
    ("comparisons", comparisons_section),
    ("grid", grid_section),
    ("transfer", transfer_section),
    ("cost", cost_section),
    ("tn5", tn5_section),
    ("motifs", motifs_section),
    ("enhancers", enhancers_section),
    ("truth", truth_section),
)
"""The section functions in the order they run: the truth section compares what the QC and
motifs sections measured, so it runs after them."""

_SUMMARY_ORDER = ("accuracy", "comparisons", "cost", "tn5", "motifs", "enhancers", "truth", "qc", "grid", "transfer")
"""Whose sentences come first in the summary: the ranking and the differences, then the read-outs."""


def write_report(settings: ReportSettings, inputs: ReportInputs, out: str | Path, *, strict: bool = True) -> Path:
    """Write the HTML report of a study, its figures and its tidy tables.

    Accuracy is the test Pearson correlation against the platform's full data
    (``pearson_mean`` against ``full``), averaged over folds and seeds, with the standard
    deviation over them; it is the measure the cost analysis uses
    (:func:`atlasbench.readouts.cost.aggregate_designs`), so the ranking, the saturation depths
    and the cheapest designs speak of one number. Platforms keep the study's order, and
    with it their colour, in every figure and table.

    Sections whose input is missing (``None``, or a file that is not there) are kept in
    the table of contents with a one-line note saying what was missing. A section that
    fails (raises) makes the report fail when ``strict`` (the default): every section is
    still tried, then an error names each failed section with its error, and no page is
    written (a ``report.html`` from an earlier run is left as it was). With
    ``strict=False`` a failed section is replaced by a note saying why, a warning is
    logged, and the others are still drawn. When the
    evaluation table holds several architectures, the study's own
    (``settings.architecture``) is reported, else the first by name.

    Files written under ``out``, each atomically:

    - ``report.html``: the page, self-contained (figures embedded);
    - ``figures/<name>.png`` and ``.pdf``: every figure drawn for the report;
    - ``partial.json``: only for a partial report, the sections left out and their errors
      (a strict run rebuilds such a report);
    - ``tables/<name>.csv``: tidy tables, one row per observation (``qc``,
      ``qc_levels``, ``accuracy``, ``ranking``, ``saturation``, ``cheapest``,
      ``transfer``, ``tn5_similarity``, ``motifs``, ``motif_overlap``, ``enhancers``,
      ``truth_tn5``, ``truth_motifs``, ``truth_platforms``, ``truth_grid``, as their inputs allow).

    Parameters
    ----------
    settings
        What the report needs of the study: its name, description, platforms, costs and
        reference platform (:func:`atlasbench.study.jobs.report_settings` builds it from a
        study).
    inputs
        Where the study's results are.
    out
        Output folder (created when needed).
    strict
        Fail when a section fails (True), or write the page with a note in its place
        (False: a partial report).

    Returns
    -------
    pathlib.Path
        ``out / "report.html"``.

    Raises
    ------
    AtlasbenchError
        When ``strict`` and a section failed: every failed section is named with its error.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = ReportContext(settings, inputs, out)
    bodies, summary, failed = _draw_sections(ctx)
    if failed and strict:
        lines = [f"{key}: {type(exc).__name__}: {exc}" for key, exc in failed.items()]
        raise AtlasbenchError(
            f"{len(failed)} report section(s) could not be drawn, so no report was written "
            "(allow a partial report to write it with notes in their place):\n  " + "\n  ".join(lines)
        )
    marker = out / PARTIAL_FILE
    if failed:
        log.warning("report written without section(s) %s, which could not be drawn", ", ".join(failed))
        write_text_atomic(marker, json.dumps({key: f"{type(exc).__name__}: {exc}" for key, exc in failed.items()}))
    else:
        marker.unlink(missing_ok=True)
    path = out / "report.html"
    write_text_atomic(path, _page(ctx, bodies, summary))
    log.info("report: %s (%d figures, %d tables)", path, ctx.n_images, len(ctx.tables))
    return path


def _draw_sections(ctx: ReportContext) -> tuple[dict[str, str], list[str], dict[str, Exception]]:
    """Every section's HTML by id, the summary's sentences in :data:`_SUMMARY_ORDER`, and
    the error of each section that failed, by id.

    A section that raises becomes a note saying why (and says nothing in the summary), and
    the others are still drawn, so every failure is known at once; whether a failure costs
    the report is :func:`write_report`'s decision.
    """
    bodies: dict[str, str] = {}
    said: dict[str, list[str]] = {}
    failed: dict[str, Exception] = {}
    for key, step in _STEPS:
        try:
            section = step(ctx)
        except Exception as exc:  # every section is tried; write_report decides whether one costs the report
            log.warning("report section %s failed: %s", key, exc, exc_info=not isinstance(exc, AtlasbenchError))
            failed[key] = exc
            section = Section(note_html(f"This section could not be drawn: {html.escape(str(exc))}"), [])
        bodies[key], said[key] = section
    return bodies, [s for key in _SUMMARY_ORDER for s in said.get(key, [])], failed


def _page(ctx: ReportContext, bodies: dict[str, str], summary: list[str]) -> str:
    """The whole page: head and styles, title, platforms, summary, contents, sections, image check."""
    settings = ctx.settings
    title = f"atlasbench report: {settings.name}"
    toc = "".join(f'<li><a href="#{sid}">{html.escape(name)}</a></li>' for sid, name in SECTIONS)
    swatches = " ".join(
        f'<span class="platform"><span class="swatch" style="background:{c}"></span>{html.escape(p)}</span>'
        for p, c in ctx.colours.items()
    )
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    description = f'<p class="description">{html.escape(settings.description)}</p>' if settings.description else ""
    summary_html = (
        "<ul>" + "".join(f"<li>{s}</li>" for s in summary) + "</ul>"
        if summary
        else note_html("No result to summarise yet.")
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>",
        f"<header><h1>{html.escape(title)}</h1>{description}",
        f'<p class="meta">Platforms: {swatches} &middot; accuracy: {METRIC_LABEL} '
        f"(mean &plusmn; SD over folds and seeds) &middot; written {stamp}</p></header>",
        f'<section id="summary" class="summary"><h2>{_heading("summary")}</h2>{summary_html}</section>',
        f'<nav class="toc"><h2>Contents</h2><ol>{toc}</ol></nav>',
    ]
    for sid, _ in SECTIONS[1:]:
        parts.append(f'<section id="{sid}"><h2>{_heading(sid)}</h2>{bodies.get(sid, "")}</section>')
    parts += [
        "<footer><p>Tables: <code>tables/*.csv</code>; figures as PNG and PDF: <code>figures/</code>.</p>",
        '<p id="report-check">images: not checked</p></footer>',
        f"</main><script>{CHECK_SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _heading(section_id: str) -> str:
    return html.escape(dict(SECTIONS)[section_id])
