"""The report's sections on the data and the accuracy: QC, accuracy against depth and cells,
the reads x cells grid, and cross-platform transfer.

Each ``*_section`` function takes the :class:`~atlasbench.report.context.ReportContext`
and returns a :class:`~atlasbench.report.context.Section`. Accuracy is the test Pearson
against the platform's full data per design (:func:`atlasbench.report.context.load_accuracy`),
with the saturation surfaces of :func:`atlasbench.readouts.cost.fit_saturation`.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from atlasbench.data.complexity import library_complexity, saturation_depth
from atlasbench.data.levels import level_key
from atlasbench.errors import AtlasbenchError
from atlasbench.readouts import cost
from atlasbench.report.comparisons import (
    platform_comparison,
    ranking_caption,
    ranking_sentence,
    ranking_tiers,
    tier_ranks,
)
from atlasbench.report.context import METRIC, METRIC_LABEL, ReportContext, Section, read_labelled_table
from atlasbench.report.html import bold_text, html_table, join_words, note_html
from atlasbench.report.plots import (
    LINESTYLES,
    MARKERS,
    annotate_cells,
    axis_label,
    despine,
    level_text,
    log10_ticks,
    ordered_levels,
    thin_ticks,
    violins,
)

__all__ = ["accuracy_section", "grid_section", "qc_section", "transfer_section"]


def qc_section(ctx: ReportContext) -> Section:
    """Quality control per platform: cells, median unique fragments, FRiP, TSS enrichment and
    library complexity, their distributions, and the unique fragments reached at each depth level.

    Sets ``ctx.qc_medians`` and ``ctx.complexity`` (each cell's library complexity), which the
    truth section compares with the simulation.
    """
    if not ctx.inputs.qc:
        return Section(note_html("No QC tables were given (the targets stage writes them)."), [])
    notes, medians, cells, levels = [], [], {}, []
    dropped_contigs: list[pd.DataFrame] = []
    dropped_types: list[str] = []
    for platform, folder in ctx.inputs.qc.items():
        path = Path(folder) / "qc.tsv"
        if not path.is_file():
            notes.append(f"{platform}: no <code>qc.tsv</code> in <code>{html.escape(str(folder))}</code>.")
            continue
        qc = read_labelled_table(path)
        if "n_fragments" not in qc.columns:
            notes.append(f"{platform}: <code>qc.tsv</code> has no n_fragments column.")
            continue
        qc = qc[qc["n_fragments"] > 0]
        cells[platform] = qc
        row: dict[str, Any] = {
            "platform": platform,
            "cells": len(qc),
            "median_unique_fragments": qc["n_fragments"].median(),
        }
        for column, name in (
            ("n_reads", "median_reads"),
            ("duplication_rate", "median_duplication_rate"),
            ("frip", "median_frip"),
            ("tss_enrichment", "median_tss_enrichment"),
        ):
            if column in qc.columns:
                values = qc[column].replace([np.inf, -np.inf], np.nan)
                row[name] = values.median()
        if "n_reads" in qc.columns:
            m = pd.Series(
                library_complexity(qc["n_fragments"], qc["n_reads"]),
                index=qc["barcode"] if "barcode" in qc.columns else qc.index,
            )
            ctx.complexity[platform] = m
            row["median_complexity"] = m.median()
            row["saturation_depth"] = saturation_depth(m.to_numpy())
        sequencing = Path(folder) / "sequencing.json"  # with the platform's sequenced_reads
        if sequencing.is_file():
            record = json.loads(sequencing.read_text())
            row["sequenced_read_pairs"] = int(record["sequenced_read_pairs"])
            row["usable_fraction"] = float(record["usable_fraction"])
        medians.append(row)
        contigs_path = Path(folder) / "dropped_contigs.tsv"
        if contigs_path.is_file():
            contigs = read_labelled_table(contigs_path, text=("contig", "reason"))
            if len(contigs):
                dropped_contigs.append(contigs.assign(platform=platform)[["platform", *contigs.columns]])
        level_path = Path(folder) / "levels.tsv"
        if level_path.is_file():
            lv = read_labelled_table(level_path, text=("reads_per_cell", "reads_unit", "cells", "dropped_cell_types"))
            dropped_types.extend(_dropped_types_note(platform, lv))
            keep = [
                c
                for c in (
                    "reads_per_cell",
                    "reads_unit",
                    "cells",
                    "n_cells",
                    "mean_reads_per_cell",
                    "mean_sequenced_reads_per_cell",
                    "mean_fragments_per_cell",
                    "dropped_cell_types",
                )
                if c in lv.columns
            ]
            levels.append(lv[keep].assign(platform=platform)[["platform", *keep]])
    if not medians:
        return Section(note_html(" ".join(notes) or "No QC table could be read."), [])
    table = pd.DataFrame(medians)
    ctx.qc_medians = table
    ctx.table("qc", table)
    level_table = pd.concat(levels, ignore_index=True) if levels else None
    if level_table is not None:
        ctx.table("qc_levels", level_table)
    shown = table.rename(
        columns={
            "cells": "cells",
            "median_unique_fragments": "median unique fragments per cell",
            "median_reads": "median usable read pairs per cell",
            "median_duplication_rate": "median duplication rate",
            "median_frip": "median FRiP",
            "median_tss_enrichment": "median TSS enrichment",
            "median_complexity": "median library complexity (fragments)",
            "saturation_depth": "95% saturation depth (usable read pairs per cell)",
            "sequenced_read_pairs": "sequenced read pairs",
            "usable_fraction": "usable fraction (read pairs in cells' fragments per sequenced)",
        }
    )
    parts = [html_table(shown, text_columns={"platform"}, colours=ctx.colours)]
    parts.append(
        ctx.figure(
            _qc_figure(ctx, cells, level_table),
            "qc",
            "<b>Per-cell quality.</b> Distributions over the annotated cells with at least one "
            "fragment (median marked); FRiP: share of Tn5 insertions inside the study's regions; "
            "TSS enrichment: insertions at transcription start sites over their flanks. "
            "Last panel: mean unique fragments per cell at each depth level (all cells)."
            + (
                " Usable fraction: the read pairs in the annotated cells' fragments per read pair "
                "sequenced (the platform's <code>sequenced_reads</code>); reads per cell in this "
                "section count usable read pairs."
                if "usable_fraction" in table.columns
                else ""
            )
            + (
                " Library complexity: each cell's distinct fragments, from its reads and unique "
                "fragments by the Lander-Waterman law U = M(1 &minus; e<sup>&minus;R/M</sup>); "
                "saturation depth: reads per cell at which the cells' mean unique fragments reach "
                "95% of their mean complexity."
                if ctx.complexity
                else ""
            ),
        )
    )
    if dropped_contigs:
        contigs = pd.concat(dropped_contigs, ignore_index=True)
        ctx.table("dropped_contigs", contigs)
        parts.append(
            "<p><b>Fragments left out</b>, on contigs the study does not use (absent from the genome, "
            "or outside <code>genome.chromosomes</code>); share: of all fragments of the platform's "
            "files.</p>" + html_table(contigs, text_columns={"platform", "contig", "reason"}, colours=ctx.colours)
        )
    if dropped_types:
        parts.append(
            "<p><b>Cell types left out</b> of some levels' targets, with fewer cells there than "
            "<code>grid.min_cells_per_type</code>:</p><ul>" + "".join(f"<li>{t}</li>" for t in dropped_types) + "</ul>"
        )
    parts.extend(note_html(n) for n in notes)
    return Section("".join(parts), [])


def _dropped_types_note(platform: str, levels: pd.DataFrame) -> list[str]:
    """One HTML line per level of a platform whose targets leave cell types out."""
    if "dropped_cell_types" not in levels.columns:
        return []
    out = []
    for _, row in levels[levels["dropped_cell_types"].fillna("") != ""].iterrows():
        level = level_key(row["reads_per_cell"], row["cells"])
        names = ", ".join(html.escape(n) for n in str(row["dropped_cell_types"]).split("; "))
        out.append(f"{bold_text(platform)} at <code>{level}</code>: {names}")
    return out


def _qc_figure(ctx: ReportContext, cells: Mapping[str, pd.DataFrame], levels: pd.DataFrame | None) -> Any:
    """Violins of the per-cell QC per platform, and unique fragments against depth (last panel)."""
    from matplotlib.figure import Figure

    panels = [
        ("n_fragments", "unique fragments per cell\n(log scale)", True),
        ("frip", "FRiP\n(fraction of insertions in regions)", False),
        ("tss_enrichment", "TSS enrichment\n(TSS / flank insertion rate)", False),
    ]
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
        violins(ax, data, where, [ctx.colours[names[i]] for i in where])
        ax.set_xticks(range(len(names)), names)
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set_ylabel(label)
        if logged and data:
            log10_ticks(ax, min(float(d.min()) for d in data), max(float(d.max()) for d in data))
        despine(ax)
    if levels is not None:
        ax = axes[-1]
        for platform, group in levels.groupby("platform", sort=False):
            group = group[group["cells"] == "all"] if (group["cells"] == "all").any() else group
            group = group.sort_values("mean_reads_per_cell")
            ax.plot(
                group["mean_reads_per_cell"],
                group["mean_fragments_per_cell"],
                "o-",
                color=ctx.colours[str(platform)],
                label=str(platform),
                ms=4,
            )
        ax.set_xlabel("usable read pairs per cell (mean)")
        ax.set_ylabel("unique fragments per cell (mean)")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8, frameon=False)
        despine(ax)
    return fig


def accuracy_section(ctx: ReportContext) -> Section:
    """Accuracy at full data, ranked as far as the study resolves it, and against reads per cell and
    cells with the fitted saturation.

    The ranking goes through the rule of :func:`~atlasbench.report.comparisons.ranking_sentence`:
    platforms whose paired difference over the grid does not hold share a rank and are said
    to be indistinguishable at this study's power. Summary: the ranking sentence and where
    accuracy reaches 95% of its plateau.
    """
    summary: list[str] = []
    acc = ctx.accuracy()
    if acc is None:
        return Section(note_html(ctx.evaluation_note), [])
    designs, fits = acc.designs, acc.fits
    ctx.table("accuracy", designs.assign(metric=METRIC, against="full", model=acc.model))
    ranking = acc.full.sort_values("accuracy_mean", ascending=False, kind="stable").reset_index(drop=True)
    paired, reason = None, ""
    if len(ranking) > 1:
        try:
            paired = platform_comparison(ctx, "full")
        except AtlasbenchError as exc:  # one grid point of one fold: nothing to pair
            reason = str(exc)
    tiers = ranking_tiers(ranking, paired, ctx.platforms)
    ranking = ranking.assign(rank=tier_ranks(ranking, tiers))
    ctx.table(
        "ranking",
        ranking[
            ["rank", "platform", "level", "reads_per_cell", "n_cells", "accuracy_mean", "accuracy_sd", "n_models"]
        ].assign(metric=METRIC, against="full"),
    )
    saturation = pd.DataFrame(
        [
            {
                "platform": p,
                **f.as_row(),
                "reads_min": f.reads_range[0],
                "reads_max": f.reads_range[1],
                "cells_min": f.cells_range[0],
                "cells_max": f.cells_range[1],
            }
            for p, f in fits.items()
        ]
    )
    if len(saturation):
        ctx.table("saturation", saturation)
    summary.append(ranking_sentence(ranking, paired, order=ctx.platforms, reason=reason))
    sentence = saturation_sentence(fits, ctx.usable_fraction)
    if sentence:
        summary.append(sentence)

    fig = _accuracy_figure(ctx, designs, fits)
    rows = []
    for _, r in ranking.iterrows():
        fit = fits.get(str(r["platform"]))
        rows.append(
            {
                "rank": int(r["rank"]),
                "platform": r["platform"],
                "usable reads per cell": r["reads_per_cell"],
                "cells": r["n_cells"],
                "Pearson (mean)": r["accuracy_mean"],
                "SD": r["accuracy_sd"],
                "models": int(r["n_models"]),
                "fitted plateau": fit.plateau if fit is not None else math.nan,
                "95% saturation depth (usable reads per cell)": fit.saturation_depth if fit is not None else math.nan,
                "saturation depth against the levels": fit.depth_position if fit is not None else "",
                **(
                    {"95% saturation depth (sequenced reads per cell)": _sequenced(ctx, r["platform"], fit)}
                    if ctx.usable_fraction
                    else {}
                ),
                "fit R2": fit.r2 if fit is not None else math.nan,
            }
        )
    model = f" Model: <code>{html.escape(acc.model)}</code>." if acc.model else ""
    body = (
        f"<p>Accuracy of each platform's model on its held-out test folds against its full data, at "
        f"full data (all reads of all cells), sorted by the mean; platforms share a rank when their "
        f"paired difference over the grid does not hold. {ranking_caption(tiers, reason)}{model}</p>"
        + html_table(
            pd.DataFrame(rows),
            text_columns={"platform", "saturation depth against the levels"},
            colours=ctx.colours,
        )
        + ctx.figure(
            fig,
            "accuracy",
            "<b>Accuracy saturates with depth and with cells.</b> Points: mean over folds and "
            "seeds, bars: SD; lines: the saturation surface fitted per platform "
            "(plateau &middot; r/(r+K<sub>reads</sub>) &middot; c/(c+K<sub>cells</sub>)); dashed "
            "vertical lines: the depth reaching 95% of the plateau, where it lies within the "
            "levels measured (legend: every platform's). Left: against reads per cell, "
            "one line per cell level; right: against cells, one line per depth level.",
        )
    )
    return Section(body, summary)


def _sequenced(ctx: ReportContext, platform: object, fit: cost.SaturationFit | None) -> float:
    """A fit's saturation depth in sequenced reads per cell (usable / the platform's fraction), or NaN."""
    fraction = ctx.usable_fraction.get(str(platform))
    return math.nan if fit is None or fraction is None else fit.saturation_depth / fraction


def saturation_sentence(fits: Mapping[str, cost.SaturationFit], usable_fraction: Mapping[str, float]) -> str:
    """'Accuracy reaches 95% of its fitted plateau at about ...' for the platforms whose saturation
    depth the grid places (within its levels, or beyond them as an extrapolation), in usable reads
    per cell (and sequenced ones where the usable fraction is known); for those already saturated
    at the shallowest level, that the study cannot place it; '' when no platform is fitted along
    depth."""
    parts: list[str] = []
    beyond: list[str] = []
    below: list[str] = []
    for platform, fit in fits.items():
        position = fit.depth_position
        if position == "below":
            shallowest = f"{fit.reads_range[0]:,.0f}"
            below.append(f"{bold_text(platform)} ({shallowest}{'' if below else ' usable reads per cell'})")
            continue
        if not position:
            continue
        unit = " usable reads per cell" if not parts else ""
        fraction = usable_fraction.get(platform)
        sequenced = f" ({fit.saturation_depth / fraction:,.0f} sequenced)" if fraction else ""
        parts.append(f"{fit.saturation_depth:,.0f}{unit}{sequenced} on {bold_text(platform)}")
        if position == "beyond":
            beyond.append(bold_text(platform))
    sentences = []
    if parts:
        text = "Accuracy reaches 95% of its fitted plateau at about " + join_words(parts)
        if beyond:
            text += (
                f" (beyond the deepest level measured on {join_words(beyond)}: an extrapolation, "
                "sequence deeper to confirm it)"
            )
        sentences.append(text + ".")
    if below:
        sentences.append(
            "Accuracy is within 5% of its fitted plateau already at the shallowest depth measured on "
            + join_words(below)
            + ": the saturation depth lies below the grid, where this study cannot place it"
            + (" or compare it between platforms" if len(below) > 1 else "")
            + "; only levels shallower than that could."
        )
    return " ".join(sentences)


def _accuracy_figure(ctx: ReportContext, designs: pd.DataFrame, fits: Mapping[str, cost.SaturationFit]) -> Any:
    """Accuracy against reads per cell (one line per cell level) and against cells (one per depth level)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(10.5, 4.0), layout="constrained")
    ax_reads, ax_cells = fig.subplots(1, 2, sharey=True)
    cell_keys = ordered_levels(designs["cells_level"], designs["n_cells"])
    read_keys = ordered_levels(designs["reads_level"], designs["reads_per_cell"])
    for platform, group in designs.groupby("platform", sort=False):
        colour = ctx.colours.get(str(platform), "0.3")
        fit = fits.get(str(platform))
        for panel, x, keys, key_column, other in (
            (ax_reads, "reads_per_cell", cell_keys, "cells_level", "n_cells"),
            (ax_cells, "n_cells", read_keys, "reads_level", "reads_per_cell"),
        ):
            axis = "reads" if x == "reads_per_cell" else "cells"
            for key, rows in group.groupby(key_column, sort=False):
                style = keys.index(key) if key in keys else 0
                rows = rows.sort_values(x)
                # largest level first in the key order: solid lines for full data
                linestyle = LINESTYLES[(len(keys) - 1 - style) % len(LINESTYLES)]
                marker = MARKERS[(len(keys) - 1 - style) % len(MARKERS)]
                panel.errorbar(
                    rows[x],
                    rows["accuracy_mean"],
                    yerr=rows["accuracy_sd"].fillna(0),
                    fmt=marker,
                    color=colour,
                    ms=5,
                    capsize=2.5,
                    elinewidth=1,
                )
                if fit is not None and axis in fit.axes:
                    grid = np.geomspace(group[x].min(), group[x].max(), 100)
                    fixed = float(rows[other].mean())
                    values = fit.predict(grid, fixed) if axis == "reads" else fit.predict(fixed, grid)
                    panel.plot(grid, values, linestyle, color=colour, lw=1.4)
                elif len(rows) > 1:
                    panel.plot(rows[x], rows["accuracy_mean"], linestyle, color=colour, lw=1.0, alpha=0.7)
        if fit is not None and fit.depth_position == "within":
            ax_reads.axvline(fit.saturation_depth, color=colour, ls=(0, (4, 3)), lw=0.9, alpha=0.8)
    platform_handles, depths = [], False
    for platform in designs["platform"].astype(str).unique():
        fit = fits.get(platform)
        label = platform
        if fit is not None and fit.depth_position:
            depth = fit.reads_range[0] if fit.depth_position == "below" else fit.saturation_depth
            label += (
                f": 95% {'below' if fit.depth_position == 'below' else 'at'} "
                f"{cost.short_count(float(f'{depth:.2g}'))}"  # two significant digits
                + {"below": " (the shallowest)", "beyond": " (extrapolated)"}.get(fit.depth_position, "")
            )
            depths = True
        platform_handles.append(Line2D([], [], color=ctx.colours.get(platform, "0.3"), marker="o", lw=1.4, label=label))
    ax_reads.add_artist(
        ax_reads.legend(
            handles=platform_handles,
            fontsize=7.5,
            frameon=False,
            loc="upper left",
            title="platform: saturation depth" if depths else "platform",
            title_fontsize=7.5,
            alignment="left",
        )
    )
    for ax, x, keys, noun in (
        (ax_reads, "reads_per_cell", cell_keys, "cells"),
        (ax_cells, "n_cells", read_keys, f"{ctx.reads_unit} per cell"),
    ):
        ax.set_xscale("log")
        ticks = np.unique(designs[x].round(-1 if x == "n_cells" else -2).to_numpy(float))
        cost.log_ticks(ax.xaxis, thin_ticks(ticks), cost.short_count)
        handles = [
            Line2D(
                [],
                [],
                color="0.35",
                ls=LINESTYLES[(len(keys) - 1 - i) % len(LINESTYLES)],
                marker=MARKERS[(len(keys) - 1 - i) % len(MARKERS)],
                ms=4,
                label=f"{level_text(k)} {noun}",
            )
            for i, k in enumerate(keys)
        ]
        ax.legend(handles=handles, fontsize=7.5, frameon=False, loc="lower right")
        ax.grid(True, which="major", color="0.92", lw=0.6)
        despine(ax)
    ax_reads.set_xlabel("usable read pairs per cell (achieved mean, log scale)")
    ax_cells.set_xlabel("cells (log scale)")
    ax_reads.set_ylabel(f"{METRIC_LABEL}\n(mean ± SD over folds)")
    ax_reads.set_title("against depth", fontsize=10, loc="left")
    ax_cells.set_title("against cells", fontsize=10, loc="left")
    return fig


def _in_levels_unit(ctx: ReportContext, platform: str, usable_reads: float) -> float:
    """Achieved usable reads per cell in the unit the grid levels count (sequenced: usable / fraction)."""
    if ctx.reads_unit == "sequenced read pairs" and platform in ctx.usable_fraction:
        return usable_reads / ctx.usable_fraction[platform]
    return usable_reads


def grid_section(ctx: ReportContext) -> Section:
    """One annotated heatmap of accuracy over the reads x cells grid per platform, on one colour scale."""
    acc = ctx.accuracy()
    if acc is None:
        return Section(note_html(ctx.evaluation_note), [])
    from matplotlib.figure import Figure

    designs = acc.designs
    platforms = list(designs["platform"].astype(str).unique())
    read_keys = ordered_levels(designs["reads_level"], designs["reads_per_cell"])
    cell_keys = ordered_levels(designs["cells_level"], designs["n_cells"])
    low, high = float(designs["accuracy_mean"].min()), float(designs["accuracy_mean"].max())
    if high - low < 1e-9:
        low, high = low - 0.05, high + 0.05
    width = max(3.2, 1.05 * len(cell_keys) + 1.6)
    ncols = min(len(platforms), 3)  # three panels a row at most: labels stay legible on a laptop
    nrows = math.ceil(len(platforms) / ncols)
    fig = Figure(figsize=(width * ncols + 1.0, (0.75 * len(read_keys) + 1.7) * nrows), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False)
    axes = grid.ravel()[: len(platforms)]
    for ax in grid.ravel()[len(platforms) :]:
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
            reads_seen[i] = f"{_in_levels_unit(ctx, platform, row['reads_per_cell']):,.0f}"
            cells_seen[j] = f"{row['n_cells']:,.0f}"
        image = ax.imshow(
            np.ma.masked_invalid(values), origin="lower", cmap="viridis", vmin=low, vmax=high, aspect="auto"
        )
        annotate_cells(ax, values, sds, (low, high), missing=("not\ntrained", 7), fontsize=8)
        ax.set_xticks(range(len(cell_keys)), [axis_label(k, s) for k, s in zip(cell_keys, cells_seen)], fontsize=8)
        ax.set_yticks(range(len(read_keys)), [axis_label(k, s) for k, s in zip(read_keys, reads_seen)], fontsize=8)
        ax.set_xlabel("cells (level: achieved)")
        ax.set_title(platform, color=ctx.colours.get(platform, "black"), fontweight="bold", fontsize=10)
    for row in grid:
        row[0].set_ylabel(f"{ctx.reads_unit} per cell\n(level: achieved mean)")
    if image is not None:
        bar = fig.colorbar(image, ax=list(axes), shrink=0.9)
        bar.set_label(f"{METRIC_LABEL}\n(mean over folds)")
    return Section(
        ctx.figure(
            fig,
            "accuracy_grid",
            "<b>Accuracy at every (reads per cell, cells) level</b>, mean &plusmn; SD over folds "
            "and seeds, on one colour scale for all platforms. Axis labels: the grid level and, "
            f"after the colon, what was achieved; depth levels count {ctx.reads_unit} per cell"
            + (
                " (achieved: the usable read pairs kept over the platform's usable fraction)."
                if ctx.reads_unit == "sequenced read pairs"
                else "."
            ),
        ),
        [],
    )


def transfer_section(ctx: ReportContext) -> Section:
    """The models trained on each platform's full data, evaluated against every platform's full data."""
    acc = ctx.accuracy()
    if acc is None:
        return Section(note_html(ctx.evaluation_note), [])
    ev = acc.evaluation
    rows = ev[(ev["metric"] == METRIC) & (ev["level"].isin(set(acc.full["level"])))]
    if "cell_type" in rows.columns:
        rows = rows[rows["cell_type"] == "all"]
    if not rows["against"].astype(str).str.startswith("platform:").any():
        return Section(
            note_html(
                "The evaluation table holds no cross-platform rows (<code>against = "
                "platform:&lt;name&gt;</code>): models were evaluated against their own platform "
                "only."
            ),
            [],
        )
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
            records.append(
                {
                    "trained_on": platform,
                    "level": level,
                    "evaluated_on": target,
                    "against": against,
                    "pearson_mean": v.mean(),
                    "pearson_sd": v.std(),
                    "n_models": len(v),
                }
            )
    table = pd.DataFrame(records)
    ctx.table("transfer", table.assign(metric=METRIC))
    trained = [p for p in ctx.platforms if p in set(table["trained_on"])]
    targets = [p for p in ctx.platforms if p in set(table["evaluated_on"])]
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
    same = np.equal.outer(np.array(trained, dtype=object), np.array(targets, dtype=object))
    annotate_cells(ax, values, sds, (low, high), missing=("n/a", 8), fontsize=9, bold=same)
    ax.set_xticks(range(len(targets)), targets)
    ax.set_yticks(range(len(trained)), trained)
    for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
        label.set_color(ctx.colours.get(label.get_text(), "black"))
    ax.set_xlabel("evaluated against the full data of")
    ax.set_ylabel("trained on (full data)")
    bar = fig.colorbar(image, ax=ax, shrink=0.9)
    bar.set_label("test Pearson (mean over folds)")
    caption = (
        "<b>Cross-platform transfer.</b> Each row: the models trained on one platform's full data, "
        "evaluated on their test folds against each platform's full data (diagonal: its own). "
        "Mean &plusmn; SD over folds and seeds."
    )
    shown = table.rename(
        columns={
            "trained_on": "trained on",
            "evaluated_on": "evaluated against",
            "pearson_mean": "Pearson (mean)",
            "pearson_sd": "SD",
            "n_models": "models",
        }
    )
    return Section(
        ctx.figure(fig, "transfer", caption)
        + html_table(
            shown[["trained on", "evaluated against", "Pearson (mean)", "SD", "models"]],
            text_columns={"trained on", "evaluated against"},
            colours=ctx.colours,
        ),
        [],
    )
