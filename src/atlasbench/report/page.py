"""The study report: one self-contained HTML page a scientist reads at a glance, and tidy tables.

Everything a study produced is gathered into ``report.html``: a short summary in
sentences (which platform ranks first at full data, where accuracy saturates, the
cheapest designs, whether the Tn5 bias and the learned motifs agree), then one section
per read-out, each a table and a figure:

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
written at any point of a study. The page needs nothing beside it: figures are embedded
as PNG (``data:`` URIs), styles are inline, and a few lines of script at its end count
the images the browser could not draw (``<p id="report-check">``), which the tests read
in a headless browser. Each figure drawn here is also written as PNG and PDF under
``figures/`` (paper quality, one colour per platform across all figures), and every
table as a tidy CSV under ``tables/``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from atlasbench.readouts import comparisons, cost
from atlasbench.io.atomic import atomic_path, write_text_atomic
from atlasbench.data.complexity import library_complexity, saturation_curve, saturation_depth
from atlasbench.study.schema import Study
from atlasbench.errors import AtlasbenchError
from atlasbench.io.figures import save_figure
from atlasbench.report.html import (
    CHECK_SCRIPT,
    CSS,
    bold_text,
    html_table,
    join_words,
    note_html,
    png_size,
)
from atlasbench.study.scenarios import FULL_LEVEL

log = logging.getLogger(__name__)

__all__ = ["PALETTE", "SECTIONS", "ReportInputs", "platform_colours", "write_report"]

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

PALETTE: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
"""Platform colours (Okabe-Ito, distinguishable with colour-vision deficiencies), in platform order."""

METRIC = "pearson_mean"
METRIC_LABEL = "test Pearson vs full data"
Q_THRESHOLD = 0.05
FIGURE_DPI = 150
CSS_DPI = 96  # CSS pixels per inch: figures are shown at their printed size
_LEVEL = re.compile(r"^reads-(?P<reads>[^_]+)_cells-(?P<cells>.+)$")
_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")


@dataclass(frozen=True)
class ReportInputs:
    """What a study produced, as files and folders; any may be missing (its section is skipped).

    Attributes
    ----------
    evaluation
        Tidy evaluation table (Parquet, TSV or CSV) with the columns of
        :data:`atlasbench.readouts.evaluate.TIDY_COLUMNS`: one row per (platform, level, fold,
        seed, model, against, cell type, metric). ``against`` is ``own``, ``full`` (the
        platform's full data) or ``platform:<other>``; ``cell_type`` ``all`` rows hold the
        summary metrics such as ``pearson_mean``.
    qc
        Platform -> targets folder holding ``qc.tsv`` (per-cell QC) and ``levels.tsv``
        (achieved reads and cells of every level), as
        :func:`atlasbench.study.data_stages.targets_stage` writes them.
    tn5
        Folder written by :func:`atlasbench.readouts.tn5.write_bias`.
    motifs
        Folder written by :func:`atlasbench.readouts.motifs.write_motifs`.
    enhancers
        Platform -> folder written by :func:`atlasbench.readouts.enhancers.write_enhancer_report`.
    truth
        The ``truth/`` folder of a simulated atlas (``simulation.json``,
        ``tn5_log_odds.tsv``), when the study is a simulation.
    enhancer_summary
        Validated-enhancer read-out of every scenario's fold models and ensemble
        (``summary.tsv`` of the enhancers job).
    scenario_labels
        (platform, level key) -> how the report names the grid point
        (:func:`atlasbench.study.scenarios.scenario_labels`).
    scenario_pairs
        Grid points (platform, level key) to compare, ``(a, b)``
        (:func:`atlasbench.readouts.comparisons.one_factor_pairs` of the named scenarios).
    """

    evaluation: Path | None
    qc: dict[str, Path] = field(default_factory=dict)
    tn5: Path | None = None
    motifs: Path | None = None
    enhancers: dict[str, Path] | None = None
    truth: Path | None = None
    enhancer_summary: Path | None = None
    scenario_labels: dict[tuple[str, str], str] = field(default_factory=dict)
    scenario_pairs: list[tuple[tuple[str, str], tuple[str, str]]] = field(default_factory=list)


def platform_colours(platforms: Iterable[str]) -> dict[str, str]:
    """One colour per platform, :data:`PALETTE` in the given order (repeating after eight)."""
    names = list(dict.fromkeys(str(p) for p in platforms))
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def write_report(study: Study, inputs: ReportInputs, out: str | Path) -> Path:
    """Write the HTML report of a study, its figures and its tidy tables.

    Accuracy is the test Pearson correlation against the platform's full data
    (``pearson_mean`` against ``full``), averaged over folds and seeds, with the standard
    deviation over them; it is the measure the cost analysis uses
    (:func:`atlasbench.readouts.cost.aggregate_designs`), so the ranking, the saturation depths
    and the cheapest designs speak of one number. Platforms keep the study's order, and
    with it their colour, in every figure and table.

    Sections whose input is missing (``None``, or a file that is not there) are kept in
    the table of contents with a one-line note saying what was missing; nothing else is
    skipped. When the evaluation table holds several architectures, the study's own
    (``study.model.architecture``) is reported, else the first by name.

    Files written under ``out``, each atomically:

    - ``report.html``: the page, self-contained (figures embedded);
    - ``figures/<name>.png`` and ``.pdf``: every figure drawn for the report;
    - ``tables/<name>.csv``: tidy tables, one row per observation (``qc``,
      ``qc_levels``, ``accuracy``, ``ranking``, ``saturation``, ``cheapest``,
      ``transfer``, ``tn5_similarity``, ``motifs``, ``motif_overlap``, ``enhancers``,
      ``truth_tn5``, ``truth_motifs``, ``truth_platforms``, as their inputs allow).

    Parameters
    ----------
    study
        The study (its name, description, platforms, costs and reference platform).
    inputs
        Where the study's results are.
    out
        Output folder (created when needed).

    Returns
    -------
    pathlib.Path
        ``out / "report.html"``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = _Report(study, inputs, out)
    report.build()
    path = out / "report.html"
    write_text_atomic(path, report.html())
    log.info("report: %s (%d figures, %d tables)", path, report.n_images, len(report.tables))
    return path


# ---------------------------------------------------------------------------------------
# The report builder
# ---------------------------------------------------------------------------------------


@dataclass
class _Accuracy:
    """The evaluation table reduced to what the accuracy sections need."""

    evaluation: pd.DataFrame  # rows of the chosen model, platforms in report order
    designs: pd.DataFrame  # aggregate_designs + design_costs + reads/cells level keys
    fits: dict[str, cost.SaturationFit]
    full: pd.DataFrame  # one row per platform: its full-data design
    model: str | None


class _Report:
    def __init__(self, study: Study, inputs: ReportInputs, out: Path) -> None:
        self.study = study
        self.inputs = inputs
        self.out = out
        self.summary: list[str] = []  # HTML sentences
        self.bodies: dict[str, str] = {}
        self.tables: dict[str, Path] = {}
        self.n_images = 0
        self.qc_medians: pd.DataFrame | None = None
        self.complexity: dict[str, pd.Series] = {}  # per platform, each annotated cell's library complexity
        self.accuracy: _Accuracy | None = None
        self.motif_table: pd.DataFrame | None = None
        names = [p.name for p in study.platforms]
        self.currency = cost._currency(study)
        self.evaluation, self.evaluation_note = self._read_evaluation()
        extra = list(self.evaluation["platform"].astype(str).unique()) if self.evaluation is not None else []
        extra += list(inputs.qc or {}) + list(inputs.enhancers or {})
        self.platforms = list(dict.fromkeys([*names, *extra]))
        self.colours = platform_colours(self.platforms)

    # -- assembling ------------------------------------------------------------------

    def build(self) -> None:
        steps = (("qc", self._qc), ("accuracy", self._accuracy), ("comparisons", self._comparisons), ("grid", self._grid),
                 ("transfer", self._transfer), ("cost", self._cost), ("tn5", self._tn5),
                 ("motifs", self._motifs), ("enhancers", self._enhancers), ("truth", self._truth))
        summary: dict[str, list[str]] = {}
        for key, step in steps:
            self.summary = []
            try:
                self.bodies[key] = step()
            except Exception as exc:  # noqa: BLE001 - one bad input must not cost the whole report
                log.warning("report section %s skipped: %s", key, exc, exc_info=not isinstance(exc, AtlasbenchError))
                self.bodies[key] = note_html(f"This section could not be drawn: {html.escape(str(exc))}")
                self.summary = []
            summary[key] = self.summary
        order = ("accuracy", "comparisons", "cost", "tn5", "motifs", "enhancers", "truth", "qc", "grid", "transfer")
        self.summary = [s for key in order for s in summary.get(key, [])]

    def html(self) -> str:
        title = f"atlasbench report: {self.study.name}"
        toc = "".join(f'<li><a href="#{sid}">{html.escape(name)}</a></li>' for sid, name in SECTIONS)
        swatches = " ".join(
            f'<span class="platform"><span class="swatch" style="background:{c}"></span>{html.escape(p)}</span>'
            for p, c in self.colours.items()
        )
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        description = (f'<p class="description">{html.escape(self.study.description)}</p>'
                       if self.study.description else "")
        summary = ("<ul>" + "".join(f"<li>{s}</li>" for s in self.summary) + "</ul>" if self.summary
                   else note_html("No result to summarise yet."))
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>",
            f"<header><h1>{html.escape(title)}</h1>{description}",
            f'<p class="meta">Platforms: {swatches} &middot; accuracy: {METRIC_LABEL} '
            f"(mean &plusmn; SD over folds and seeds) &middot; written {stamp}</p></header>",
            f'<section id="summary" class="summary"><h2>{_heading("summary")}</h2>{summary}</section>',
            f'<nav class="toc"><h2>Contents</h2><ol>{toc}</ol></nav>',
        ]
        for sid, _ in SECTIONS[1:]:
            parts.append(f'<section id="{sid}"><h2>{_heading(sid)}</h2>{self.bodies.get(sid, "")}</section>')
        parts += [
            '<footer><p>Tables: <code>tables/*.csv</code>; figures as PNG and PDF: <code>figures/</code>.</p>',
            '<p id="report-check">images: not checked</p></footer>',
            f"</main><script>{CHECK_SCRIPT}</script></body></html>",
        ]
        return "\n".join(parts) + "\n"

    # -- helpers -------------------------------------------------------------------

    def _table(self, name: str, frame: pd.DataFrame) -> None:
        path = self.out / "tables" / f"{name}.csv"
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False, float_format="%.6g")
        self.tables[name] = path

    def _figure(self, fig: Any, name: str, caption: str) -> str:
        png, _ = save_figure(fig, self.out / "figures" / f"{name}.png", dpi=FIGURE_DPI)
        return self._embed(png, caption)

    def _embed(self, png: Path, caption: str, alt: str | None = None) -> str:
        data = Path(png).read_bytes()
        width, height, dpi = png_size(data)
        shown = round(width * CSS_DPI / dpi) if dpi else width
        self.n_images += 1
        encoded = base64.b64encode(data).decode("ascii")
        alt_text = html.escape(alt or re.sub(r"<[^>]+>", "", caption).split(".")[0], quote=True)
        return (f'<figure><img src="data:image/png;base64,{encoded}" alt="{alt_text}" width="{shown}" '
                f'style="aspect-ratio:{width}/{height}"><figcaption>{caption}</figcaption></figure>')

    # -- evaluation ---------------------------------------------------------------

    def _read_evaluation(self) -> tuple[pd.DataFrame | None, str]:
        path = self.inputs.evaluation
        if path is None:
            return None, "No evaluation table was given (train the grid first)."
        if not Path(path).is_file():
            log.warning("report: evaluation table %s not found", path)
            return None, f"No evaluation table at <code>{html.escape(str(path))}</code> (train the grid first)."
        try:
            table = cost.read_evaluation(path)
        except AtlasbenchError as exc:
            log.warning("report: %s", exc)
            return None, html.escape(str(exc))
        missing = [c for c in ("platform", "level", "reads_per_cell", "n_cells", "against", "metric", "value")
                   if c not in table.columns]
        if missing:
            return None, f"The evaluation table lacks column(s) {html.escape(', '.join(missing))}."
        return table, ""

    def _load_accuracy(self) -> _Accuracy | None:
        if self.accuracy is not None or self.evaluation is None:
            return self.accuracy
        table = self.evaluation
        chosen = None
        if "model" in table.columns:
            models = sorted(map(str, table["model"].dropna().unique()))
            if models:
                chosen = self.study.model.architecture if self.study.model.architecture in models else models[0]
                if len(models) > 1:
                    log.info("report: the evaluation holds models %s; reporting %s", ", ".join(models), chosen)
                table = table[table["model"].astype(str) == chosen]
        rank = {p: i for i, p in enumerate(self.platforms)}
        table = table.assign(_order=table["platform"].astype(str).map(rank))
        table = table.sort_values("_order", kind="stable").drop(columns="_order")
        designs = cost.design_costs(cost.aggregate_designs(table, METRIC, "full"), self.study)
        parsed = designs["level"].astype(str).str.extract(_LEVEL)
        designs["reads_level"] = parsed["reads"].fillna(designs["reads_per_cell"].round().astype(int).astype(str))
        designs["cells_level"] = parsed["cells"].fillna(designs["n_cells"].round().astype(int).astype(str))
        fits: dict[str, cost.SaturationFit] = {}
        for platform, group in designs.groupby("platform", sort=False):
            try:
                fits[str(platform)] = cost.fit_saturation(group["reads_per_cell"], group["n_cells"],
                                                          group["accuracy_mean"])
            except AtlasbenchError as exc:
                log.warning("report: %s: no saturation fit: %s", platform, exc)
        full = []
        for _, group in designs.groupby("platform", sort=False):
            at_full = group[group["level"] == FULL_LEVEL]
            row = at_full.iloc[0] if len(at_full) else group.loc[(group["reads_per_cell"] * group["n_cells"]).idxmax()]
            full.append(row)
        self.accuracy = _Accuracy(table, designs, fits, pd.DataFrame(full).reset_index(drop=True), chosen)
        return self.accuracy

    # -- 2. QC ---------------------------------------------------------------------

    def _qc(self) -> str:
        if not self.inputs.qc:
            return note_html("No QC tables were given (the targets stage writes them).")
        notes, medians, cells, levels = [], [], {}, []
        for platform, folder in self.inputs.qc.items():
            path = Path(folder) / "qc.tsv"
            if not path.is_file():
                notes.append(f"{platform}: no <code>qc.tsv</code> in <code>{html.escape(str(folder))}</code>.")
                continue
            qc = pd.read_csv(path, sep="\t")
            if "n_fragments" not in qc.columns:
                notes.append(f"{platform}: <code>qc.tsv</code> has no n_fragments column.")
                continue
            qc = qc[qc["n_fragments"] > 0]
            cells[platform] = qc
            row: dict[str, Any] = {"platform": platform, "cells": len(qc),
                                   "median_unique_fragments": qc["n_fragments"].median()}
            for column, name in (("n_reads", "median_reads"), ("duplication_rate", "median_duplication_rate"),
                                 ("frip", "median_frip"), ("tss_enrichment", "median_tss_enrichment")):
                if column in qc.columns:
                    values = qc[column].replace([np.inf, -np.inf], np.nan)
                    row[name] = values.median()
            if "n_reads" in qc.columns:
                m = pd.Series(library_complexity(qc["n_fragments"], qc["n_reads"]),
                              index=qc["barcode"] if "barcode" in qc.columns else qc.index)
                self.complexity[platform] = m
                row["median_complexity"] = m.median()
                row["saturation_depth"] = saturation_depth(m.to_numpy())
            medians.append(row)
            level_path = Path(folder) / "levels.tsv"
            if level_path.is_file():
                lv = pd.read_csv(level_path, sep="\t", dtype={"reads_per_cell": str, "cells": str})
                keep = [c for c in ("reads_per_cell", "cells", "n_cells", "mean_reads_per_cell",
                                    "mean_fragments_per_cell") if c in lv.columns]
                levels.append(lv[keep].assign(platform=platform)[["platform", *keep]])
        if not medians:
            return note_html(" ".join(notes) or "No QC table could be read.")
        table = pd.DataFrame(medians)
        self.qc_medians = table
        self._table("qc", table)
        level_table = pd.concat(levels, ignore_index=True) if levels else None
        if level_table is not None:
            self._table("qc_levels", level_table)
        shown = table.rename(columns={
            "cells": "cells", "median_unique_fragments": "median unique fragments per cell",
            "median_reads": "median reads per cell", "median_duplication_rate": "median duplication rate",
            "median_frip": "median FRiP", "median_tss_enrichment": "median TSS enrichment",
            "median_complexity": "median library complexity (fragments)",
            "saturation_depth": "95% saturation depth (reads per cell)"})
        parts = [html_table(shown, text_columns={"platform"}, colours=self.colours)]
        parts.append(self._figure(self._qc_figure(cells, level_table), "qc",
                                  "<b>Per-cell quality.</b> Distributions over the annotated cells with at least one "
                                  "fragment (median marked); FRiP: share of Tn5 insertions inside the study's regions; "
                                  "TSS enrichment: insertions at transcription start sites over their flanks. "
                                  "Last panel: mean unique fragments per cell at each depth level (all cells)."
                                  + (" Library complexity: each cell's distinct fragments, from its reads and unique "
                                     "fragments by the Lander-Waterman law U = M(1 &minus; e<sup>&minus;R/M</sup>); "
                                     "saturation depth: reads per cell at which the cells' mean unique fragments reach "
                                     "95% of their mean complexity." if self.complexity else "")))
        parts.extend(note_html(n) for n in notes)
        return "".join(parts)

    def _qc_figure(self, cells: Mapping[str, pd.DataFrame], levels: pd.DataFrame | None) -> Any:
        from matplotlib.figure import Figure

        panels = [("n_fragments", "unique fragments per cell\n(log scale)", True),
                  ("frip", "FRiP\n(fraction of insertions in regions)", False),
                  ("tss_enrichment", "TSS enrichment\n(TSS / flank insertion rate)", False)]
        panels = [p for p in panels if any(p[0] in qc.columns for qc in cells.values())]
        n = len(panels) + (levels is not None)
        fig = Figure(figsize=(2.8 * n + 0.6, 3.4), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, n))
        names = list(cells)
        for ax, (column, label, logged) in zip(axes, panels):
            data, where = [], []
            for i, name in enumerate(names):
                if column not in cells[name].columns:
                    continue
                values = cells[name][column].replace([np.inf, -np.inf], np.nan).dropna().to_numpy(float)
                if logged:
                    values = np.log10(values[values > 0])
                if len(values):
                    data.append(values)
                    where.append(i)
            _violins(ax, data, where, [self.colours[names[i]] for i in where])
            ax.set_xticks(range(len(names)), names)
            ax.set_xlim(-0.6, len(names) - 0.4)
            ax.set_ylabel(label)
            if logged and data:
                _log10_ticks(ax, min(float(d.min()) for d in data), max(float(d.max()) for d in data))
            _despine(ax)
        if levels is not None:
            ax = axes[-1]
            for platform, group in levels.groupby("platform", sort=False):
                group = group[group["cells"] == "all"] if (group["cells"] == "all").any() else group
                group = group.sort_values("mean_reads_per_cell")
                ax.plot(group["mean_reads_per_cell"], group["mean_fragments_per_cell"], "o-",
                        color=self.colours[str(platform)], label=str(platform), ms=4)
            ax.set_xlabel("reads per cell (mean)")
            ax.set_ylabel("unique fragments per cell (mean)")
            ax.set_xlim(left=0)
            ax.set_ylim(bottom=0)
            ax.legend(fontsize=8, frameon=False)
            _despine(ax)
        return fig

    # -- 3. accuracy -------------------------------------------------------------

    def _accuracy(self) -> str:
        acc = self._load_accuracy()
        if acc is None:
            return note_html(self.evaluation_note)
        designs, fits = acc.designs, acc.fits
        self._table("accuracy", designs.assign(metric=METRIC, against="full", model=acc.model))
        ranking = acc.full.sort_values("accuracy_mean", ascending=False, kind="stable").reset_index(drop=True)
        ranking = ranking.assign(rank=np.arange(1, len(ranking) + 1))
        self._table("ranking", ranking[["rank", "platform", "level", "reads_per_cell", "n_cells", "accuracy_mean",
                                        "accuracy_sd", "n_models"]].assign(metric=METRIC, against="full"))
        saturation = pd.DataFrame([{"platform": p, **f.as_row(), "reads_min": f.reads_range[0],
                                    "reads_max": f.reads_range[1], "cells_min": f.cells_range[0],
                                    "cells_max": f.cells_range[1]} for p, f in fits.items()])
        if len(saturation):
            self._table("saturation", saturation)
        self.summary.append(_ranking_sentence(ranking))
        sentence = self._saturation_sentence(fits)
        if sentence:
            self.summary.append(sentence)

        fig = self._accuracy_figure(designs, fits)
        rows = []
        for _, r in ranking.iterrows():
            fit = fits.get(str(r["platform"]))
            rows.append({"rank": int(r["rank"]), "platform": r["platform"],
                         "reads per cell": r["reads_per_cell"], "cells": r["n_cells"],
                         "Pearson (mean)": r["accuracy_mean"], "SD": r["accuracy_sd"], "models": int(r["n_models"]),
                         "fitted plateau": fit.plateau if fit is not None else math.nan,
                         "95% saturation depth (reads per cell)": fit.saturation_depth if fit is not None else math.nan,
                         "fit R2": fit.r2 if fit is not None else math.nan})
        model = f" Model: <code>{html.escape(acc.model)}</code>." if acc.model else ""
        return (f"<p>Accuracy of each platform's model on its held-out test folds against its full data, at "
                f"full data (all reads of all cells), ranked.{model}</p>"
                + html_table(pd.DataFrame(rows), text_columns={"platform"}, colours=self.colours)
                + self._figure(fig, "accuracy",
                               "<b>Accuracy saturates with depth and with cells.</b> Points: mean over folds and "
                               "seeds, bars: SD; lines: the saturation surface fitted per platform "
                               "(plateau &middot; r/(r+K<sub>reads</sub>) &middot; c/(c+K<sub>cells</sub>)); dashed "
                               "vertical lines: the depth reaching 95% of the plateau, where measured (legend: "
                               "every platform's). Left: against reads per cell, "
                               "one line per cell level; right: against cells, one line per depth level."))

    # -- 2b. comparisons -------------------------------------------------------------

    def _platform_comparison(self, against: str) -> pd.DataFrame:
        """The platforms against the reference (or first), paired over the grid points they share."""
        acc = self._load_accuracy()
        reference = self.study.evaluation.reference_platform
        order = sorted(self.platforms, key=lambda p: p != reference)
        return comparisons.compare_platforms(acc.evaluation, order, metric=METRIC, against=against, model=acc.model)

    def _comparisons(self) -> str:
        acc = self._load_accuracy()
        if acc is None:
            return note_html(self.evaluation_note)
        tables, parts = [], []
        platforms = None
        if acc.evaluation["platform"].nunique() > 1:
            try:
                platforms = self._platform_comparison("full")
            except AtlasbenchError as exc:  # one grid point of one fold: nothing to pair
                parts.append(note_html(f"Platforms not compared: {html.escape(str(exc))}"))
        if platforms is not None:
            tables.append(platforms.assign(kind="platforms over the grid"))
            sentences = [comparisons.describe(r) for _, r in platforms.iterrows()]
            self.summary += sentences
            parts.append("<h3>Platforms</h3><p>Each platform against the reference, paired at every grid point "
                         "(same reads per cell and cells level, test fold and seed), so the comparison has power "
                         "even with one test fold.</p><ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in sentences)
                         + "</ul>")
        labels = self.inputs.scenario_labels
        pairs = [(labels[a], labels[b]) for a, b in self.inputs.scenario_pairs]
        if pairs:
            names = {f"{p}/{level}": label for (p, level), label in labels.items()}
            named = comparisons.compare_scenarios(acc.evaluation, pairs, names=names, metric=METRIC,
                                                  against="full", model=acc.model)
            tables.append(named.assign(kind="named scenarios"))
            held = named[named["verdict"] == comparisons.HOLDS]
            self.summary.append(f"Named scenarios: {len(held)} of {len(named)} one-step differences hold "
                                "(paired t-test over folds, Holm-adjusted, and a bootstrap interval excluding 0)"
                                + (": " + "; ".join(f"{bold_text(r['b'])} vs {bold_text(r['a'])} "
                                                    f"{r['mean_difference']:+.3f}"
                                                    for _, r in held.iterrows()) if len(held) else ""))
            parts.append("<h3>Named scenarios</h3><p>Every two named scenarios that differ in one factor (platform, "
                         "cells or reads per cell), paired by test fold.</p><ul>"
                         + "".join(f"<li>{html.escape(comparisons.describe(r))}</li>" for _, r in named.iterrows())
                         + "</ul>")
        if not tables:
            return note_html("One platform and no named scenarios: nothing to compare.")
        self._table("comparisons", pd.concat(tables, ignore_index=True))
        return ("<p>Accuracy differences with their uncertainty: mean &plusmn; SD of each side, the mean paired "
                "difference with its 95% bootstrap interval, and the paired t-test, Holm-adjusted over the "
                "comparisons of each list. A difference <i>holds</i> when the adjusted p is below 0.05 and the "
                "interval excludes 0; otherwise it is <i>within noise</i>. The paper reports means and SDs "
                "only; pairing removes the differences between folds, which are often larger than those between "
                "scenarios.</p>" + "".join(parts))

    def _saturation_sentence(self, fits: Mapping[str, cost.SaturationFit]) -> str:
        parts, beyond = [], []
        for platform, fit in fits.items():
            if "reads" not in fit.axes or not math.isfinite(fit.saturation_depth):
                continue
            unit = " reads per cell" if not parts else ""
            parts.append(f"{fit.saturation_depth:,.0f}{unit} on {bold_text(platform)}")
            if fit.saturation_depth > fit.reads_range[1]:
                beyond.append(bold_text(platform))
        if not parts:
            return ""
        text = "Accuracy reaches 95% of its fitted plateau at about " + join_words(parts)
        if beyond:
            text += (f" (beyond the deepest level measured on {join_words(beyond)}: an extrapolation, "
                     "sequence deeper to confirm it)")
        return text + "."

    def _accuracy_figure(self, designs: pd.DataFrame, fits: Mapping[str, cost.SaturationFit]) -> Any:
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D

        fig = Figure(figsize=(10.5, 4.0), layout="constrained")
        ax_reads, ax_cells = fig.subplots(1, 2, sharey=True)
        cell_keys = _ordered_levels(designs["cells_level"], designs["n_cells"])
        read_keys = _ordered_levels(designs["reads_level"], designs["reads_per_cell"])
        for platform, group in designs.groupby("platform", sort=False):
            colour = self.colours.get(str(platform), "0.3")
            fit = fits.get(str(platform))
            for panel, x, keys, key_column, other in ((ax_reads, "reads_per_cell", cell_keys, "cells_level", "n_cells"),
                                                      (ax_cells, "n_cells", read_keys, "reads_level",
                                                       "reads_per_cell")):
                axis = "reads" if x == "reads_per_cell" else "cells"
                for key, rows in group.groupby(key_column, sort=False):
                    style = keys.index(key) if key in keys else 0
                    rows = rows.sort_values(x)
                    # largest level first in the key order: solid lines for full data
                    linestyle = _LINESTYLES[(len(keys) - 1 - style) % len(_LINESTYLES)]
                    marker = _MARKERS[(len(keys) - 1 - style) % len(_MARKERS)]
                    panel.errorbar(rows[x], rows["accuracy_mean"], yerr=rows["accuracy_sd"].fillna(0), fmt=marker,
                                   color=colour, ms=5, capsize=2.5, elinewidth=1)
                    if fit is not None and axis in fit.axes:
                        grid = np.geomspace(group[x].min(), group[x].max(), 100)
                        fixed = float(rows[other].mean())
                        values = fit.predict(grid, fixed) if axis == "reads" else fit.predict(fixed, grid)
                        panel.plot(grid, values, linestyle, color=colour, lw=1.4)
                    elif len(rows) > 1:
                        panel.plot(rows[x], rows["accuracy_mean"], linestyle, color=colour, lw=1.0, alpha=0.7)
            if fit is not None and "reads" in fit.axes and math.isfinite(fit.saturation_depth):
                if fit.saturation_depth <= group["reads_per_cell"].max():
                    ax_reads.axvline(fit.saturation_depth, color=colour, ls=(0, (4, 3)), lw=0.9, alpha=0.8)
        platform_handles, depths = [], False
        for platform in designs["platform"].astype(str).unique():
            fit = fits.get(platform)
            label = platform
            if fit is not None and "reads" in fit.axes and math.isfinite(fit.saturation_depth):
                beyond = fit.saturation_depth > fit.reads_range[1]
                label += f": 95% at {cost._short(round(fit.saturation_depth, -2))}{' (extrapolated)' if beyond else ''}"
                depths = True
            platform_handles.append(Line2D([], [], color=self.colours.get(platform, "0.3"), marker="o", lw=1.4,
                                           label=label))
        ax_reads.add_artist(ax_reads.legend(handles=platform_handles, fontsize=7.5, frameon=False, loc="upper left",
                                            title="platform: saturation depth" if depths else "platform",
                                            title_fontsize=7.5,
                                            alignment="left"))
        for ax, x, keys, noun in ((ax_reads, "reads_per_cell", cell_keys, "cells"),
                                  (ax_cells, "n_cells", read_keys, "reads per cell")):
            ax.set_xscale("log")
            ticks = np.unique(designs[x].round(-1 if x == "n_cells" else -2).to_numpy(float))
            cost._log_ticks(ax.xaxis, _thin_ticks(ticks), cost._short)
            handles = [Line2D([], [], color="0.35", ls=_LINESTYLES[(len(keys) - 1 - i) % len(_LINESTYLES)],
                              marker=_MARKERS[(len(keys) - 1 - i) % len(_MARKERS)], ms=4,
                              label=f"{_level_text(k)} {noun}") for i, k in enumerate(keys)]
            ax.legend(handles=handles, fontsize=7.5, frameon=False, loc="lower right")
            ax.grid(True, which="major", color="0.92", lw=0.6)
            _despine(ax)
        ax_reads.set_xlabel("reads per cell (mean read pairs, log scale)")
        ax_cells.set_xlabel("cells (log scale)")
        ax_reads.set_ylabel(f"{METRIC_LABEL}\n(mean ± SD over folds)")
        ax_reads.set_title("against depth", fontsize=10, loc="left")
        ax_cells.set_title("against cells", fontsize=10, loc="left")
        return fig

    # -- 4. grid heatmaps ----------------------------------------------------------

    def _grid(self) -> str:
        acc = self._load_accuracy()
        if acc is None:
            return note_html(self.evaluation_note)
        from matplotlib.figure import Figure

        designs = acc.designs
        platforms = list(designs["platform"].astype(str).unique())
        read_keys = _ordered_levels(designs["reads_level"], designs["reads_per_cell"])
        cell_keys = _ordered_levels(designs["cells_level"], designs["n_cells"])
        low, high = float(designs["accuracy_mean"].min()), float(designs["accuracy_mean"].max())
        if high - low < 1e-9:
            low, high = low - 0.05, high + 0.05
        width = max(3.2, 1.05 * len(cell_keys) + 1.6)
        ncols = min(len(platforms), 3)  # three panels a row at most: labels stay legible on a laptop
        nrows = math.ceil(len(platforms) / ncols)
        fig = Figure(figsize=(width * ncols + 1.0, (0.75 * len(read_keys) + 1.7) * nrows), layout="constrained")
        grid = fig.subplots(nrows, ncols, squeeze=False)
        axes = grid.ravel()[: len(platforms)]
        for ax in grid.ravel()[len(platforms):]:
            ax.set_axis_off()
        image = None
        for ax, platform in zip(axes, platforms):
            group = designs[designs["platform"].astype(str) == platform]
            values = np.full((len(read_keys), len(cell_keys)), np.nan)
            sds = np.full_like(values, np.nan)
            reads_seen = ["" for _ in read_keys]
            cells_seen = ["" for _ in cell_keys]
            for _, row in group.iterrows():
                i, j = read_keys.index(row["reads_level"]), cell_keys.index(row["cells_level"])
                values[i, j], sds[i, j] = row["accuracy_mean"], row["accuracy_sd"]
                reads_seen[i] = f"{row['reads_per_cell']:,.0f}"
                cells_seen[j] = f"{row['n_cells']:,.0f}"
            image = ax.imshow(np.ma.masked_invalid(values), origin="lower", cmap="viridis", vmin=low, vmax=high,
                              aspect="auto")
            for i in range(len(read_keys)):
                for j in range(len(cell_keys)):
                    if np.isnan(values[i, j]):
                        ax.text(j, i, "not\ntrained", ha="center", va="center", fontsize=7, color="0.5")
                        continue
                    light = (values[i, j] - low) / (high - low) > 0.6
                    sd = f"\n± {sds[i, j]:.3f}" if np.isfinite(sds[i, j]) else ""
                    ax.text(j, i, f"{values[i, j]:.3f}{sd}", ha="center", va="center", fontsize=8,
                            color="black" if light else "white")
            ax.set_xticks(range(len(cell_keys)), [_axis_label(k, s) for k, s in zip(cell_keys, cells_seen)],
                          fontsize=8)
            ax.set_yticks(range(len(read_keys)), [_axis_label(k, s) for k, s in zip(read_keys, reads_seen)],
                          fontsize=8)
            ax.set_xlabel("cells (level: achieved)")
            ax.set_title(platform, color=self.colours.get(platform, "black"), fontweight="bold", fontsize=10)
        for row in grid:
            row[0].set_ylabel("reads per cell (level: achieved mean)")
        if image is not None:
            bar = fig.colorbar(image, ax=list(axes), shrink=0.9)
            bar.set_label(f"{METRIC_LABEL}\n(mean over folds)")
        return self._figure(fig, "accuracy_grid",
                            "<b>Accuracy at every (reads per cell, cells) level</b>, mean &plusmn; SD over folds and "
                            "seeds, on one colour scale for all platforms. Axis labels: the grid level and, after "
                            "the colon, what was achieved.")

    # -- 5. transfer ---------------------------------------------------------------

    def _transfer(self) -> str:
        acc = self._load_accuracy()
        if acc is None:
            return note_html(self.evaluation_note)
        ev = acc.evaluation
        rows = ev[(ev["metric"] == METRIC) & (ev["level"].isin(set(acc.full["level"])))]
        if "cell_type" in rows.columns:
            rows = rows[rows["cell_type"] == "all"]
        if not rows["against"].astype(str).str.startswith("platform:").any():
            return note_html("The evaluation table holds no cross-platform rows (<code>against = platform:&lt;name&gt;"
                             "</code>): models were evaluated against their own platform only.")
        full_level = dict(zip(acc.full["platform"].astype(str), acc.full["level"]))
        records = []
        for platform, level in full_level.items():
            mine = rows[(rows["platform"].astype(str) == platform) & (rows["level"] == level)]
            for against, values in mine.groupby("against", sort=False):
                against = str(against)
                if against == "full":
                    target = platform
                elif against.startswith("platform:"):
                    target = against.removeprefix("platform:")
                else:
                    continue
                v = values["value"].astype(float).dropna()
                records.append({"trained_on": platform, "level": level, "evaluated_on": target,
                                "against": against, "pearson_mean": v.mean(), "pearson_sd": v.std(),
                                "n_models": len(v)})
        table = pd.DataFrame(records)
        self._table("transfer", table.assign(metric=METRIC))
        trained = [p for p in self.platforms if p in set(table["trained_on"])]
        targets = [p for p in self.platforms if p in set(table["evaluated_on"])]
        targets += [p for p in table["evaluated_on"].unique() if p not in targets]
        values = np.full((len(trained), len(targets)), np.nan)
        sds = np.full_like(values, np.nan)
        for _, r in table.iterrows():
            i, j = trained.index(r["trained_on"]), targets.index(r["evaluated_on"])
            values[i, j], sds[i, j] = r["pearson_mean"], r["pearson_sd"]

        from matplotlib.figure import Figure

        fig = Figure(figsize=(1.5 * len(targets) + 2.6, 1.0 * len(trained) + 1.6), layout="constrained")
        ax = fig.subplots()
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        if high - low < 1e-9:
            low, high = low - 0.05, high + 0.05
        image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=low, vmax=high, aspect="auto")
        for i in range(len(trained)):
            for j in range(len(targets)):
                if np.isnan(values[i, j]):
                    ax.text(j, i, "n/a", ha="center", va="center", fontsize=8, color="0.5")
                    continue
                light = (values[i, j] - low) / (high - low) > 0.6
                sd = f"\n± {sds[i, j]:.3f}" if np.isfinite(sds[i, j]) else ""
                ax.text(j, i, f"{values[i, j]:.3f}{sd}", ha="center", va="center", fontsize=9,
                        color="black" if light else "white", fontweight="bold" if trained[i] == targets[j] else None)
        ax.set_xticks(range(len(targets)), targets)
        ax.set_yticks(range(len(trained)), trained)
        for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
            label.set_color(self.colours.get(label.get_text(), "black"))
        ax.set_xlabel("evaluated against the full data of")
        ax.set_ylabel("trained on (full data)")
        bar = fig.colorbar(image, ax=ax, shrink=0.9)
        bar.set_label("test Pearson (mean over folds)")
        caption = ("<b>Cross-platform transfer.</b> Each row: the models trained on one platform's full data, "
                   "evaluated on their test folds against each platform's full data (diagonal: its own). "
                   "Mean &plusmn; SD over folds and seeds.")
        shown = table.rename(columns={"trained_on": "trained on", "evaluated_on": "evaluated against",
                                      "pearson_mean": "Pearson (mean)", "pearson_sd": "SD", "n_models": "models"})
        return self._figure(fig, "transfer", caption) + html_table(
            shown[["trained on", "evaluated against", "Pearson (mean)", "SD", "models"]],
            text_columns={"trained on", "evaluated against"}, colours=self.colours)

    # -- 6. cost ------------------------------------------------------------------

    def _cost(self) -> str:
        acc = self._load_accuracy()
        if acc is None:
            return note_html(self.evaluation_note)
        prices = cost.unit_costs(self.study)
        designs = acc.designs
        evaluated = list(designs["platform"].astype(str).unique())
        priced = [p for p in evaluated if p in prices]
        if not priced:
            return note_html("No evaluated platform has cost figures in the study.")
        reference = self.study.evaluation.reference_platform
        if reference not in evaluated:
            reference = priced[0]
        target = cost.default_target(designs, acc.fits)
        if not target > 0:
            return note_html(f"The lowest accuracy every platform attains is not positive (target {target:.3f}): the "
                             "models have not learned enough for a cost comparison.")
        table = designs.rename(columns={"accuracy_mean": "accuracy"})
        cheapest = cost.cheapest_designs(table, target, acc.fits, costs=prices)
        label = "Pearson"
        sentences = cost.compare_costs(cheapest, reference, label=label, currency=self.currency)
        self.summary.extend(html.escape(s) for s in sentences)
        self._table("cheapest", cheapest.assign(metric=METRIC, against="full"))
        frontier = cost._plot_frontier(designs, cheapest, target, label, self.currency,
                                       self.out / "figures" / "cost_frontier", colours=self.colours)
        lines = cost._cheapest_sentences(cheapest, label, self.currency)
        # "X does not reach ..." is said by both; once is enough
        lines += [s for s in sentences if " does not reach " not in s or " reaches " in s]
        shown = cheapest[["platform", "reached", "source", "reads_per_cell", "n_cells", "accuracy", "library_cost",
                          "sequencing_cost", "cost"]].rename(columns={
                              "reads_per_cell": "reads per cell", "n_cells": "cells", "accuracy": "Pearson",
                              "library_cost": f"library ({self.currency})",
                              "sequencing_cost": f"sequencing ({self.currency})", "cost": f"total ({self.currency})"})
        figures = ", ".join(f"{p}: {c[0]:g} per cell + {c[1]:g} per million reads" for p, c in prices.items())
        return (f"<p>Cost of a data set = library (cells &times; cost per cell) + sequencing (cells &times; reads "
                f"per cell / 10<sup>6</sup> &times; cost per million reads), in {html.escape(self.currency)} "
                f"({html.escape(figures)}). Target: {label} {target:.3f} (95% of the lowest accuracy every platform "
                f"attains), compared with the reference platform {bold_text(reference)}.</p>"
                + "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in lines) + "</ul>"
                + html_table(shown, text_columns={"platform", "source", "reached"}, colours=self.colours)
                + self._embed(frontier["cost_frontier_png"],
                              "<b>Cost-accuracy frontier.</b> Every measured design (mean &plusmn; SD over folds), "
                              "the Pareto frontier of each platform (steps), the target (dotted) and the cheapest "
                              "design reaching it (stars; &lsquo;fitted&rsquo;: a point of the fitted saturation "
                              "surface within the measured range)."))

    # -- 7. Tn5 -------------------------------------------------------------------

    def _tn5(self) -> str:
        folder = self.inputs.tn5
        if folder is None:
            return note_html("No Tn5 bias was given (<code>atlasbench tn5</code> writes it).")
        folder = Path(folder)
        similarity_path, logos = folder / "tn5_similarity.tsv", folder / "tn5_logos.png"
        if not similarity_path.is_file() and not logos.is_file():
            return note_html(f"No Tn5 bias tables in <code>{html.escape(str(folder))}</code>.")
        parts = []
        if similarity_path.is_file():
            similarity = pd.read_csv(similarity_path, sep="\t")
            self._table("tn5_similarity", similarity)
            if len(similarity):
                said = []
                for _, r in similarity.iterrows():
                    same = str(r["same"]).lower() in ("true", "1")
                    said.append(f"{bold_text(r['platform_a'])} and {bold_text(r['platform_b'])}: "
                                f"{'the same' if same else 'different'} (Pearson of log-odds {r['pearson']:.3f}, "
                                f"JSD {r['jsd']:.2g} bits)")
                self.summary.append("Tn5 insertion bias: " + "; ".join(said) + ".")
            else:
                parts.append(note_html("One platform only: no pair of biases to compare."))
            parts.append(html_table(similarity.rename(columns={
                "platform_a": "platform A", "platform_b": "platform B", "pearson": "Pearson of log-odds",
                "jsd": "mean JSD (bits)", "max_jsd": "max JSD (bits)", "same": "same bias"}),
                text_columns={"platform A", "platform B", "same bias"}, colours=self.colours))
        intro = ("<p>Base preferences around Tn5 insertion sites against the genome composition. "
                 "Two platforms have the same bias when the shapes agree (Pearson of the log-odds &ge; 0.9) and "
                 "the strengths too (mean Jensen-Shannon divergence of the base frequencies &le; 10<sup>-4</sup> "
                 "bits).</p>")
        if logos.is_file():
            parts.append(self._embed(logos, "<b>Tn5 insertion bias per platform</b> (log<sub>2</sub> odds against "
                                            "the genome; letters above the line enriched at insertion sites)."))
        return intro + "".join(parts)

    # -- 8. motifs ----------------------------------------------------------------

    def _motifs(self) -> str:
        folder = self.inputs.motifs
        if folder is None:
            return note_html("No motifs were given (<code>atlasbench motifs</code> writes them).")
        folder = Path(folder)
        path = folder / "motifs.tsv"
        if not path.is_file():
            return note_html(f"No <code>motifs.tsv</code> in <code>{html.escape(str(folder))}</code>.")
        motifs = pd.read_csv(path, sep="\t")
        if "model" not in motifs.columns:
            motifs.insert(0, "model", "model")
        self.motif_table = motifs
        self._table("motifs", motifs)
        parts = []
        if motifs.empty:
            parts.append(note_html("TF-MoDISco found no pattern."))
        else:
            shown = motifs.sort_values(["model", "cell_type", "pattern"], kind="stable")
            hit = (shown["q_value"].astype(float) <= Q_THRESHOLD).to_numpy()
            columns = {"model": "model", "cell_type": "cell type", "pattern": "pattern", "n_seqlets": "seqlets",
                       "consensus": "consensus", "match": "best JASPAR match", "matrix_id": "JASPAR id",
                       "q_value": "q"}
            shown = shown[[c for c in columns if c in shown.columns]].rename(columns=columns)
            n_hit = int(hit.sum())
            parts.append(f"<p>Best JASPAR CORE match of every TF-MoDISco pattern (TOMTOM, Benjamini-Hochberg q); "
                         f"matches with q &le; {Q_THRESHOLD} are highlighted ({n_hit} of {len(hit)} patterns). "
                         "<code>pos_</code> patterns raise the prediction, <code>neg_</code> lower it.</p>")
            parts.append('<div class="scroll">' + html_table(
                shown, text_columns={"model", "cell type", "pattern", "consensus", "best JASPAR match", "JASPAR id"},
                highlight=hit, colours=self.colours) + "</div>")
        overlap_path = folder / "overlap.tsv"
        models = list(pd.unique(motifs["model"].astype(str))) if len(motifs) else []
        if overlap_path.is_file():
            overlap = pd.read_csv(overlap_path, sep="\t", keep_default_na=False, na_values={"jaccard": [""]})
            names = models if len(models) == 2 else ["first", "second"]
            overlap = overlap.rename(columns={"first": names[0], "second": names[1]})
            self._table("motif_overlap", overlap)
            jaccard = pd.to_numeric(overlap["jaccard"], errors="coerce").astype(float)
            overlap["jaccard"] = jaccard
            shared = sum(len([m for m in str(s).split(",") if m]) for s in overlap["shared"])
            either = sum(len({m for col in names for m in str(r[col]).split(",") if m})
                         for _, r in overlap.iterrows())
            self.summary.append(
                f"Motifs: the models of {bold_text(names[0])} and {bold_text(names[1])} share {shared} of the "
                f"{either} JASPAR motifs either matches (q &le; {Q_THRESHOLD}, positive patterns, per cell type); "
                f"mean Jaccard {jaccard.mean():.2f} over {int(jaccard.notna().sum())} cell type(s) with a match.")
            parts.append(f"<p>Matched JASPAR motifs (q &le; {Q_THRESHOLD}, positive patterns) per cell type for the "
                         "two models, those they share and their Jaccard index.</p>")
            parts.append(html_table(overlap.rename(columns={"cell_type": "cell type", "jaccard": "Jaccard"}),
                                    text_columns={"cell type", *names, "shared"}))
        elif len(motifs):
            matched = motifs[(motifs["q_value"].astype(float) <= Q_THRESHOLD)
                             & motifs["pattern"].astype(str).str.startswith("pos_")]
            names = ", ".join(html.escape(m) for m in pd.unique(matched["match"].astype(str)))
            self.summary.append(f"Motifs: {len(matched)} of {len(motifs)} TF-MoDISco patterns raising the prediction "
                                f"match a JASPAR motif at q &le; {Q_THRESHOLD}" + (f" ({names})." if names else "."))
        logos = sorted((folder / "logos").glob("*.png")) if (folder / "logos").is_dir() else []
        for logo in logos:
            parts.append(self._embed(logo, f"<b>{html.escape(logo.stem)}</b>: each pattern's contribution weight "
                                           "matrix (left) beside the logo of its best JASPAR match (right).",
                                     alt=f"motif logos {logo.stem}"))
        return "".join(parts)

    # -- 9. enhancers -------------------------------------------------------------

    def _enhancers(self) -> str:
        folders = self.inputs.enhancers
        if not folders:
            return note_html("No validated-enhancer scores were given (<code>atlasbench enhancers</code> writes them).")
        tables, rocs, notes, headline = [], [], [], []
        for platform, folder in folders.items():
            folder = Path(folder)
            path = folder / "per_cell_type.tsv"
            if not path.is_file():
                notes.append(f"{platform}: no <code>per_cell_type.tsv</code> in <code>{html.escape(str(folder))}"
                             "</code>.")
                continue
            per_type = pd.read_csv(path, sep="\t").assign(platform=platform)
            tables.append(per_type)
            top1 = math.nan
            per_enhancer = folder / "per_enhancer.tsv"
            if per_enhancer.is_file():
                ranks = pd.read_csv(per_enhancer, sep="\t")
                if "correct" in ranks.columns and len(ranks):
                    top1 = float(ranks["correct"].astype(str).str.lower().isin(("true", "1")).mean())
            macro = per_type[per_type["cell_type"] == "macro"]
            if len(macro):
                text = (f"{bold_text(platform)} macro auROC {macro['auroc'].iloc[0]:.2f}, "
                        f"auPRC {macro['auprc'].iloc[0]:.2f}")
                if math.isfinite(top1):
                    text += f", target cell type on top for {top1:.0%} of the enhancers"
                headline.append(text)
            if (folder / "roc.png").is_file():
                rocs.append(self._embed(folder / "roc.png", f"<b>{html.escape(platform)}</b>: ROC curve per cell type "
                                                          "on specificity-normalised predictions."))
        if not tables:
            return note_html(" ".join(notes))
        table = pd.concat(tables, ignore_index=True)
        table = table[["platform", *[c for c in table.columns if c != "platform"]]]
        self._table("enhancers", table)
        if headline:
            self.summary.append("Validated enhancers: " + "; ".join(headline) + ".")
        wide = table.pivot_table(index="cell_type", columns="platform", values=["auroc", "auprc"], sort=False)
        order = [p for p in self.platforms if p in set(table["platform"])]
        columns = [(m, p) for p in order for m in ("auroc", "auprc")]
        wide = wide.reindex(columns=columns)
        wide.columns = [f"{p} {'auROC' if m == 'auroc' else 'auPRC'}" for m, p in columns]
        cell_types = [c for c in pd.unique(table["cell_type"]) if c != "macro"] + ["macro"]
        wide = wide.reindex([c for c in cell_types if c in wide.index]).reset_index()
        wide = wide.rename(columns={"cell_type": "cell type"})
        bold = (wide["cell type"] == "macro").to_numpy()
        return ("<p>Enhancers tested in vivo, scored by each platform's model (fold ensemble) on "
                "specificity-normalised predictions: per cell type, the areas under the ROC and precision-recall "
                "curves separating its enhancers from every other sequence; <i>macro</i>: their mean.</p>"
                + html_table(wide, text_columns={"cell type"}, highlight=bold)
                + (f'<div class="grid2">{"".join(rocs)}</div>' if rocs else "")
                + self._enhancers_by_scenario()
                + "".join(note_html(n) for n in notes))

    def _enhancers_by_scenario(self) -> str:
        """The published read-out of every scenario: its fold ensemble, and its fold models' mean and SD."""
        path = self.inputs.enhancer_summary
        if path is None or not Path(path).is_file():
            return ""
        summary = pd.read_csv(path, sep="\t", dtype={"fold": str, "seed": str})
        self._table("enhancers_by_scenario", summary)
        rows = []
        for (platform, scenario), group in summary.groupby(["platform", "scenario"], sort=False):
            ensemble = group[group["fold"] == "ensemble"].iloc[0]
            folds = group[group["fold"] != "ensemble"]
            rows.append({"scenario": scenario, "platform": platform, "ensemble accuracy": ensemble["accuracy"],
                         "ensemble macro auROC": ensemble["macro_auroc"],
                         "ensemble macro auPRC": ensemble["macro_auprc"],
                         "fold models' accuracy": f"{folds['accuracy'].mean():.3f} ± "
                                                  f"{folds['accuracy'].std(ddof=1):.3f}" if len(folds) > 1
                         else f"{folds['accuracy'].mean():.3f}",
                         "models": len(folds)})
        return ("<h3>Per scenario</h3><p>As published: each scenario's fold models averaged into one ensemble; "
                "<i>accuracy</i> is the share of enhancers whose target cell type scores highest after "
                "specificity normalisation. The fold models alone show how much that varies with the model.</p>"
                + html_table(pd.DataFrame(rows), text_columns={"scenario", "platform", "fold models' accuracy"},
                             colours=self.colours))

    # -- 10. truth ----------------------------------------------------------------

    def _truth(self) -> str:
        folder = self.inputs.truth
        if folder is None:
            return note_html("Not a simulated study: there is no truth to compare with.")
        folder = Path(folder)
        record_path = folder / "simulation.json"
        if not record_path.is_file():
            return note_html(f"No <code>simulation.json</code> in <code>{html.escape(str(folder))}</code>.")
        record = json.loads(record_path.read_text())
        parts, summary = [], []
        platforms_html, said = self._truth_platforms(record, folder)
        parts.append(platforms_html)
        summary += said
        tn5_html, said = self._truth_tn5(folder)
        parts.append(tn5_html)
        summary += said
        motif_html, said = self._truth_motifs(record)
        parts.append(motif_html)
        summary += said
        if summary:
            self.summary.append("Against the simulation truth: " + "; ".join(summary) + ".")
        return ("<p>The study is a simulation (preset "
                f"<code>{html.escape(str(record.get('preset', '?')))}</code>, seed "
                f"{html.escape(str(record.get('seed', '?')))}): here each result stands beside the truth the "
                "simulator planted.</p>" + "".join(parts))

    def _truth_platforms(self, record: Mapping[str, Any], folder: Path) -> tuple[str, list[str]]:
        simulated = set(record.get("simulated_platforms") or [p["name"] for p in record.get("platforms", [])])
        profiles = [p for p in record.get("platforms", []) if p.get("name") in simulated]
        if not profiles:
            return note_html("simulation.json lists no simulated platform."), []
        try:
            acc = self._load_accuracy()
        except AtlasbenchError:
            acc = None
        accuracy = self._accuracy_against_truth()
        ordered = sorted(accuracy, key=lambda p: -accuracy[p])
        ranking = {p: i + 1 for i, p in enumerate(ordered)}
        true_complexity = self._true_complexity(folder, [str(p["name"]) for p in profiles])
        medians = ({} if self.qc_medians is None
                   else dict(zip(self.qc_medians["platform"], self.qc_medians["median_unique_fragments"])))
        by_complexity = sorted(profiles, key=lambda p: -float(p["complexity"]))
        rows = []
        for profile in profiles:
            name = str(profile["name"])
            m, r = float(profile["complexity"]), float(profile["reads_per_cell"])
            fit = acc.fits.get(name) if acc is not None else None
            measured = self.complexity.get(name)
            true = true_complexity.get(name)
            rows.append({
                "platform": name, "complexity": m, "complexity_sigma": profile.get("complexity_sigma", math.nan),
                "simulated_reads_per_cell": r,
                "expected_unique_fragments": m * (1 - math.exp(-r / m)),
                "measured_median_unique_fragments": medians.get(name, math.nan),
                "true_median_complexity": true.median() if true is not None else math.nan,
                "measured_median_complexity": measured.median() if measured is not None else math.nan,
                "fragments_saturation_depth": saturation_depth(true.to_numpy()) if true is not None else math.nan,
                "measured_fragments_saturation_depth": (saturation_depth(measured.to_numpy())
                                                        if measured is not None else math.nan),
                "fitted_accuracy_saturation_depth": fit.saturation_depth if fit is not None else math.nan,
                "accuracy_vs_truth": accuracy.get(name, math.nan),
                "expected_rank": by_complexity.index(profile) + 1,
                "benchmark_rank": ranking.get(name, math.nan),
            })
        table = pd.DataFrame(rows)
        self._table("truth_platforms", table)
        said = []
        ranked = table.dropna(subset=["benchmark_rank"])
        if len(ranked) >= 2:
            expected = ranked.sort_values("expected_rank")["platform"].tolist()
            found = ranked.sort_values("benchmark_rank")["platform"].tolist()
            first = ranked.sort_values("expected_rank").iloc[0]
            agree = expected[0] == found[0]
            said.append(f"{bold_text(str(first['platform']))} was simulated with the most complex libraries "
                        f"({first['complexity']:,.0f} molecules per cell) and the benchmark, by its models' "
                        f"accuracy against the true accessibility over the whole grid, ranks "
                        f"{bold_text(found[0])} first: {'as expected' if agree else 'NOT as expected'}"
                        + self._truth_difference())
        for _, r in table.iterrows():
            if math.isfinite(r["measured_fragments_saturation_depth"]) and math.isfinite(r["fragments_saturation_depth"]):
                said.append(f"{bold_text(r['platform'])} libraries saturate (95%) at "
                            f"{r['measured_fragments_saturation_depth']:,.0f} reads per cell as measured, "
                            f"{r['fragments_saturation_depth']:,.0f} as simulated")
        sentences = [
            f"{bold_text(r['platform'])}: unique fragments reach 95% of the libraries at "
            f"{r['fragments_saturation_depth']:,.0f} reads per cell as simulated, "
            f"{r['measured_fragments_saturation_depth']:,.0f} as measured from each cell's reads and unique fragments "
            f"({(r['measured_fragments_saturation_depth'] / r['fragments_saturation_depth'] - 1) * 100:+.1f}%)"
            + (f"; the models' accuracy saturates at {r['fitted_accuracy_saturation_depth']:,.0f}"
               if math.isfinite(r["fitted_accuracy_saturation_depth"]) else "")
            for _, r in table.iterrows()]
        shown = table.rename(columns={
            "complexity": "complexity M (molecules)", "complexity_sigma": "SD of log M",
            "simulated_reads_per_cell": "reads per cell R",
            "expected_unique_fragments": "expected unique fragments",
            "measured_median_unique_fragments": "measured unique fragments (median)",
            "true_median_complexity": "M of the cells (median, true)",
            "measured_median_complexity": "M of the cells (median, measured)",
            "fragments_saturation_depth": "fragments: 95% at (reads, true)",
            "measured_fragments_saturation_depth": "fragments: 95% at (reads, measured)",
            "fitted_accuracy_saturation_depth": "accuracy: 95% at (reads, fitted)",
            "accuracy_vs_truth": "Pearson vs truth (grid mean)", "expected_rank": "rank by complexity",
            "benchmark_rank": "rank found"})
        body = ("<h3>Library complexity, saturation and ranking</h3>"
                "<p>Each simulated cell holds a library of M distinct molecules (log-normal over cells; the first "
                "column gives the median), each read a Poisson number of times, so a cell's unique fragments grow as "
                "M(1 &minus; e<sup>&minus;R/M</sup>) with R reads (the <i>expected unique fragments</i>). The "
                "platform saturates (95%) where its cells' mean unique fragments reach 95% of their mean M: computed "
                "from the true M of every annotated barcode (doublets and collisions included, as the platform "
                "delivers them) and, as measured, from each cell's reads and unique fragments. The platform with "
                "the more complex libraries should rank first.</p>"
                + html_table(shown, text_columns={"platform"}, colours=self.colours)
                + "<ul>" + "".join(f"<li>{s}.</li>" for s in sentences) + "</ul>")
        levels_path = self.tables.get("qc_levels")
        if levels_path is not None:
            body += self._figure(self._truth_saturation_figure(pd.read_csv(levels_path, dtype={"cells": str}),
                                                               true_complexity),
                                 "truth_saturation",
                                 "<b>Unique fragments per cell against depth</b>: measured at each depth level "
                                 "(points, mean over all cells), the simulator's law over the cells' true "
                                 "complexities (solid) and over their complexities as measured (dashed); dotted: the "
                                 "true 95% saturation depth.")
        return body, said

    def _truth_difference(self) -> str:
        """', a paired difference of ... that holds' for the platforms against the truth, or ''."""
        try:
            table = self._platform_comparison("truth")
        except AtlasbenchError:
            return ""
        self._table("truth_comparisons", table)
        return "".join(f" ({r['b']} &minus; {r['a']}: {r['mean_difference']:+.3f}, 95% CI {r['ci_low']:+.3f} to "
                       f"{r['ci_high']:+.3f} over {int(r['n'])} paired {r['unit']}s: {r['verdict']})"
                       for _, r in table.iterrows())

    def _accuracy_against_truth(self) -> dict[str, float]:
        """Per platform, the mean test Pearson against the simulated truth over every model of the grid."""
        table = self.evaluation
        if table is None or "truth" not in set(table["against"]):
            return {}
        rows = table[(table["against"] == "truth") & (table["metric"] == METRIC) & (table["cell_type"] == "all")]
        return {str(p): float(v) for p, v in rows.groupby("platform")["value"].mean().items()}

    def _true_complexity(self, folder: Path, platforms: Sequence[str]) -> dict[str, pd.Series]:
        """Per platform, the simulated complexity of each annotated barcode the QC measured
        (``truth/<platform>_barcodes.tsv``)."""
        out = {}
        for name in platforms:
            path = folder / f"{name}_barcodes.tsv"
            measured = self.complexity.get(name)
            if not path.is_file() or measured is None:
                continue
            truth = pd.read_csv(path, sep="\t", usecols=["barcode", "complexity"]).set_index("barcode")["complexity"]
            out[name] = truth.reindex(measured.index).dropna()
        return out

    def _truth_saturation_figure(self, levels: pd.DataFrame, true_complexity: Mapping[str, pd.Series]) -> Any:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.6, 3.8), layout="constrained")
        ax = fig.subplots()
        depths = {name: saturation_depth(m.to_numpy()) for name, m in true_complexity.items()}
        top = max([float(levels["mean_reads_per_cell"].max()) if len(levels) else 0.0]
                  + [d * 1.1 for d in depths.values() if math.isfinite(d)])
        r = np.linspace(0, top, 200)
        for name, m in true_complexity.items():
            colour = self.colours.get(name, "0.3")
            ax.plot(r, saturation_curve(m.to_numpy(), r), "-", color=colour, lw=1.4,
                    label=f"{name} simulated (median M = {m.median():,.0f})")
            if name in self.complexity:
                ax.plot(r, saturation_curve(self.complexity[name].to_numpy(), r), "--", color=colour, lw=1,
                        label=f"{name} measured M")
            ax.axvline(depths[name], color=colour, ls=":", lw=1)
            mine = levels[levels["platform"].astype(str) == name]
            if len(mine):
                mine = mine[mine["cells"] == "all"] if (mine["cells"] == "all").any() else mine
                ax.plot(mine["mean_reads_per_cell"], mine["mean_fragments_per_cell"], "o", color=colour, ms=5,
                        mec="white", label=f"{name} measured levels")
        ax.set_xlabel("reads per cell (mean)")
        ax.set_ylabel("unique fragments per cell")
        ax.set_xlim(0, top)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7.5, frameon=False, loc="lower right")
        _despine(ax)
        return fig

    def _truth_tn5(self, folder: Path) -> tuple[str, list[str]]:
        simulated_path = folder / "tn5_log_odds.tsv"
        recovered_path = Path(self.inputs.tn5) / "tn5_pfm.tsv" if self.inputs.tn5 is not None else None
        if not simulated_path.is_file():
            return note_html("No simulated Tn5 log-odds (<code>tn5_log_odds.tsv</code>) in the truth folder."), []
        if recovered_path is None or not recovered_path.is_file():
            return note_html("No recovered Tn5 bias to compare with the simulated one."), []
        simulated = pd.read_csv(simulated_path, sep="\t").melt(id_vars=["platform", "position"], var_name="base",
                                                              value_name="simulated")
        recovered = pd.read_csv(recovered_path, sep="\t")[["platform", "position", "base", "log_odds"]]
        both = simulated.merge(recovered.rename(columns={"log_odds": "recovered"}),
                               on=["platform", "position", "base"])
        if both.empty:
            return note_html("The simulated and recovered Tn5 biases share no platform and position."), []
        rows = []
        for platform, group in both.groupby("platform", sort=False):
            x, y = group["simulated"].to_numpy(float), group["recovered"].to_numpy(float)
            pearson = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else math.nan
            rows.append({"platform": platform, "pearson": pearson, "n_values": len(group)})
        table = pd.DataFrame(rows)
        self._table("truth_tn5", table)

        from matplotlib.figure import Figure

        fig = Figure(figsize=(4.6, 4.2), layout="constrained")
        ax = fig.subplots()
        for (platform, group), (_, row) in zip(both.groupby("platform", sort=False), table.iterrows()):
            ax.scatter(group["simulated"], group["recovered"], s=14, alpha=0.75,
                       color=self.colours.get(str(platform), "0.3"), label=f"{platform} (r = {row['pearson']:.2f})",
                       edgecolors="none")
        low = float(min(both["simulated"].min(), both["recovered"].min()))
        high = float(max(both["simulated"].max(), both["recovered"].max()))
        ax.plot([low, high], [low, high], color="0.6", lw=0.8, ls="--")
        ax.set_xlabel("simulated Tn5 log-odds (bits)")
        ax.set_ylabel("recovered log2 odds vs genome (bits)")
        ax.legend(fontsize=8, frameon=False, loc="upper left")
        _despine(ax)
        said = ["Tn5 bias recovered at Pearson " + ", ".join(
            f"{r['pearson']:.2f} ({html.escape(str(r['platform']))})" for _, r in table.iterrows())]
        body = ("<h3>Tn5 insertion bias</h3><p>The log-odds the simulator used at each position and base against "
                "those read off its fragments (every position around the cut and base).</p>"
                + html_table(table.rename(columns={"pearson": "Pearson", "n_values": "values compared"}),
                             text_columns={"platform"}, colours=self.colours)
                + self._figure(fig, "truth_tn5", "<b>Simulated against recovered Tn5 bias</b>: one point per "
                                                 "position and base; dashed: identity."))
        return body, said

    def _truth_motifs(self, record: Mapping[str, Any]) -> tuple[str, list[str]]:
        cell_types = record.get("cell_types") or []
        if not cell_types:
            return note_html("simulation.json lists no cell type."), []
        motifs = self.motif_table
        if motifs is None:
            return note_html("No motifs to compare with the planted activators."), []
        if motifs.empty:
            return note_html("TF-MoDISco found no pattern: nothing to compare with the planted activators."), []
        rows = []
        for spec in cell_types:
            name, activator = str(spec.get("name")), str(spec.get("activator"))
            here = motifs[motifs["cell_type"].astype(str) == name]
            for model in (pd.unique(motifs["model"].astype(str)) if len(motifs) else []):
                mine = here[here["model"].astype(str) == model]
                if mine.empty:
                    rows.append({"cell_type": name, "planted_activator": activator, "model": model,
                                 "analysed": False, "found": False, "pattern": "", "q_value": math.nan,
                                 "matched_motifs": ""})
                    continue
                significant = mine[(mine["q_value"].astype(float) <= Q_THRESHOLD)
                                   & mine["pattern"].astype(str).str.startswith("pos_")]
                planted = significant[significant["match"].astype(str).str.lower() == activator.lower()]
                best = planted.sort_values("q_value").iloc[0] if len(planted) else None
                rows.append({"cell_type": name, "planted_activator": activator, "model": model, "analysed": True,
                             "found": best is not None, "pattern": "" if best is None else str(best["pattern"]),
                             "q_value": math.nan if best is None else float(best["q_value"]),
                             "matched_motifs": ",".join(dict.fromkeys(significant["match"].astype(str)))})
        table = pd.DataFrame(rows, columns=["cell_type", "planted_activator", "model", "analysed", "found", "pattern",
                                            "q_value", "matched_motifs"])
        self._table("truth_motifs", table)
        analysed = table[table["analysed"].astype(bool)]
        said = []
        for model, group in analysed.groupby("model", sort=False):
            found = group[group["found"]]["cell_type"].tolist()
            said.append(f"the planted activator found in {len(found)} of {len(group)} cell types explained by "
                        f"{bold_text(str(model))}"
                        + (f" ({', '.join(html.escape(c) for c in found)})" if found else ""))
        shown = analysed.drop(columns="analysed").rename(columns={
            "cell_type": "cell type", "planted_activator": "planted activator", "q_value": "q",
            "matched_motifs": f"all JASPAR matches (q ≤ {Q_THRESHOLD})"})
        skipped = sorted(set(table.loc[~table["analysed"], "cell_type"]) - set(analysed["cell_type"]))
        body = ("<h3>Planted activator motifs</h3><p>Per cell type, the JASPAR motif the simulator planted to open "
                f"its enhancers, and whether a positive TF-MoDISco pattern of the model matched it (q &le; "
                f"{Q_THRESHOLD}).</p>"
                + (html_table(shown, text_columns={"cell type", "planted activator", "model", "found", "pattern",
                                                   f"all JASPAR matches (q ≤ {Q_THRESHOLD})"},
                              highlight=shown["found"].to_numpy(bool)) if len(shown) else "")
                + (note_html("Cell types not explained by any model: " + html.escape(", ".join(skipped)) + ".")
                   if skipped else ""))
        return body, said


# ---------------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------------


def _heading(section_id: str) -> str:
    return html.escape(dict(SECTIONS)[section_id])


def _ranking_sentence(ranking: pd.DataFrame) -> str:
    """'At full data, X ranks first: ... ahead of Y ...'."""

    def value(row: pd.Series) -> str:
        sd = row["accuracy_sd"]
        spread = f" &plusmn; {sd:.3f}" if math.isfinite(float(sd)) else ""
        return f"{row['accuracy_mean']:.3f}{spread}"

    first = ranking.iloc[0]
    n = int(first["n_models"])
    over = f"mean &plusmn; SD over {n} models" if n > 1 else "one model, so no SD"
    text = f"At full data, {bold_text(first['platform'])} ranks first: {METRIC_LABEL} {value(first)} ({over})"
    if len(ranking) > 1:
        others = [f"{bold_text(r['platform'])} {value(r)}" for _, r in ranking.iloc[1:].iterrows()]
        text += ", ahead of " + join_words(others)
        second = ranking.iloc[1]
        gap = float(first["accuracy_mean"] - second["accuracy_mean"])
        spread = np.nanmax([float(first["accuracy_sd"]), float(second["accuracy_sd"]), 0.0])
        if spread > 0 and gap < spread:
            text += f"; the lead ({gap:.3f}) is within one SD over folds"
    return text + "."


def _ordered_levels(keys: pd.Series, values: pd.Series) -> list[str]:
    """Level keys ordered by their achieved values (``all`` after the numbers)."""
    frame = pd.DataFrame({"key": keys.astype(str), "value": values.astype(float)})
    order = frame.groupby("key", sort=False)["value"].mean().sort_values(kind="stable")
    return list(order.index)


def _level_text(key: str) -> str:
    return "all" if key == "all" else (f"{int(key):,}" if key.isdigit() else key)


def _axis_label(key: str, achieved: str) -> str:
    if not achieved:
        return _level_text(key)
    if key.isdigit() and f"{int(key):,}" == achieved:
        return achieved
    return f"{_level_text(key)}: {achieved}"


def _thin_ticks(ticks: np.ndarray) -> list[float]:
    """Drop ticks closer than a factor 1.35 to the previous one kept (labels would overlap)."""
    kept: list[float] = []
    for t in sorted(float(v) for v in ticks if v > 0):
        if not kept or t >= 1.35 * kept[-1]:
            kept.append(t)
    return kept


def _log10_ticks(ax: Any, low: float, high: float) -> None:
    """Round ticks (1, 2, 5 x 10^k) on a y axis holding log10 values between ``low`` and ``high``."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    candidates = [m * 10.0**e for e in range(int(math.floor(low)), int(math.ceil(high)) + 1) for m in (1, 2, 5)]
    kept = [math.log10(v) for v in candidates if low - 0.05 <= math.log10(v) <= high + 0.05]
    if len(kept) >= 2:
        ax.yaxis.set_major_locator(FixedLocator(kept))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{10 ** v:,.0f}"))


def _despine(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _violins(ax: Any, data: Sequence[np.ndarray], positions: Sequence[int], colours: Sequence[str]) -> None:
    """Violins with a median bar; a group with fewer than two distinct values is drawn as points."""
    for values, where, colour in zip(data, positions, colours):
        if len(values) >= 2 and np.ptp(values) > 0:
            parts = ax.violinplot([values], positions=[where], widths=0.75, showextrema=False)
            for body in parts["bodies"]:
                body.set_facecolor(colour)
                body.set_edgecolor(colour)
                body.set_alpha(0.55)
            q1, median, q3 = np.percentile(values, [25, 50, 75])
            ax.vlines(where, q1, q3, color="0.15", lw=3)
            ax.hlines(median, where - 0.18, where + 0.18, color="white", lw=1.6, zorder=3)
        else:
            ax.plot(np.full(len(values), where), values, "o", color=colour, ms=4)
