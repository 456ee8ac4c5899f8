"""The report's sections on the read-outs: cost, Tn5 insertion bias, motifs and validated enhancers.

Each ``*_section`` function takes the :class:`~atlasbench.report.context.ReportContext`
and returns a :class:`~atlasbench.report.context.Section`. The cost section computes with
the public functions of :mod:`atlasbench.readouts.cost`; the others show the tables and
figures their read-out wrote (:mod:`atlasbench.readouts.tn5`,
:mod:`atlasbench.readouts.motifs`, :mod:`atlasbench.readouts.enhancers`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from atlasbench.errors import AtlasbenchError
from atlasbench.io.names import file_stem
from atlasbench.readouts import comparisons, cost
from atlasbench.report.comparisons import platform_comparison
from atlasbench.report.context import METRIC, Q_THRESHOLD, ReportContext, Section, read_labelled_table
from atlasbench.report.html import bold_text, html_table, note_html

__all__ = ["cost_section", "enhancers_section", "motifs_section", "tn5_section"]

LABELS = ("platform", "cell_type", "target_cell_type", "enhancer", "pattern", "motif", "match")
"""Columns of the read-out tables holding names, read as written (a cell type "NA" stays "NA")."""


def cost_section(ctx: ReportContext) -> Section:
    """Cost and accuracy: each platform's cheapest design reaching a common target, compared with
    the reference platform's in words, and the cost-accuracy frontier (:mod:`atlasbench.readouts.cost`).

    Summary: the comparison sentences of :func:`atlasbench.readouts.cost.compare_costs`, each
    saying so when the two platforms' accuracies are indistinguishable at the study's power.
    """
    summary: list[str] = []
    acc = ctx.accuracy()
    if acc is None:
        return Section(note_html(ctx.evaluation_note), [])
    prices = cost.unit_costs(ctx.settings.costs)
    designs = acc.designs
    evaluated = list(designs["platform"].astype(str).unique())
    priced = [p for p in evaluated if p in prices]
    if not priced:
        return Section(note_html("No evaluated platform has cost figures in the study."), [])
    reference = ctx.settings.reference_platform
    if reference is None or reference not in evaluated:
        reference = priced[0]
    target = cost.default_target(designs, acc.fits)
    if not target > 0:
        return Section(
            note_html(
                f"The lowest accuracy every platform attains is not positive (target "
                f"{target:.3f}): the models have not learned enough for a cost comparison."
            ),
            [],
        )
    table = designs.rename(columns={"accuracy_mean": "accuracy"})
    cheapest = cost.cheapest_designs(table, target, acc.fits, costs=prices, usable_fraction=ctx.usable_fraction)
    label, currency = "Pearson", ctx.settings.currency
    sentences = _within_noise(ctx, cost.compare_costs(cheapest, reference, label=label, currency=currency), reference)
    summary.extend(html.escape(s) for s in sentences)
    ctx.table("cheapest", cheapest.assign(metric=METRIC, against="full"))
    frontier = cost.plot_frontier(
        designs, cheapest, target, label, currency, ctx.out / "figures" / "cost_frontier", colours=ctx.colours
    )
    lines = cost.cheapest_sentences(cheapest, label, currency)
    # "X does not reach ..." is said by both; once is enough
    lines += [s for s in sentences if " does not reach " not in s or " reaches " in s]
    shown = cheapest[
        [
            "platform",
            "reached",
            "source",
            "reads_per_cell",
            "n_cells",
            "accuracy",
            "library_cost",
            "sequencing_cost",
            "cost",
            *(["sequenced_reads_per_cell"] if ctx.usable_fraction else []),
        ]
    ].rename(
        columns={
            "reads_per_cell": "usable reads per cell",
            "sequenced_reads_per_cell": "sequenced reads per cell",
            "n_cells": "cells",
            "accuracy": "Pearson",
            "library_cost": f"library ({currency})",
            "sequencing_cost": f"sequencing ({currency})",
            "cost": f"total ({currency})",
        }
    )
    figures = ", ".join(f"{p}: {c[0]:g} per cell + {c[1]:g} per million reads" for p, c in prices.items())
    body = (
        f"<p>Cost of a data set = library (cells &times; cost per cell) + sequencing (cells &times; reads "
        f"per cell / 10<sup>6</sup> &times; cost per million reads), in {html.escape(currency)} "
        f"({html.escape(figures)}). {_charged_reads(ctx.usable_fraction)} "
        f"Target: {label} {target:.3f} (95% of the lowest accuracy every platform "
        f"attains), compared with the reference platform {bold_text(reference)}.</p>"
        + "<ul>"
        + "".join(f"<li>{html.escape(s)}</li>" for s in lines)
        + "</ul>"
        + html_table(shown, text_columns={"platform", "source", "reached"}, colours=ctx.colours)
        + ctx.embed(
            frontier["cost_frontier_png"],
            "<b>Cost-accuracy frontier.</b> Every measured design (mean &plusmn; SD over folds), "
            "the Pareto frontier of each platform (steps), the target (dotted) and the cheapest "
            "design reaching it (stars; &lsquo;fitted&rsquo;: a point of the fitted saturation "
            "surface within the measured range).",
        )
    )
    return Section(body, summary)


def _within_noise(ctx: ReportContext, sentences: list[str], reference: str) -> list[str]:
    """The cost comparisons, each saying so when the two platforms' accuracies are not told apart.

    A platform's cheapest design reaching the target depends on where its accuracy crosses
    it; when its paired difference with the reference over the grid is within noise
    (:func:`~atlasbench.report.comparisons.platform_comparison`), so are the differences in
    cells and reads per cell the sentence gives.
    """
    try:
        table = platform_comparison(ctx, "full")
    except AtlasbenchError:  # no paired comparison: the accuracy section says so
        return sentences
    noise = {
        str(r["b"] if str(r["a"]) == reference else r["a"])
        for _, r in table.iterrows()
        if reference in (str(r["a"]), str(r["b"])) and r["verdict"] != comparisons.HOLDS
    }
    out = []
    for sentence in sentences:
        name = next((p for p in noise if sentence.startswith(f"{p} reaches ") and " cells than " in sentence), None)
        if name is not None and sentence.endswith("."):
            sentence = (
                sentence[:-1] + f"; but the accuracies of {name} and {reference} are indistinguishable at this "
                "study's power, so the difference in cells and reads per cell each needs is within noise."
            )
        out.append(sentence)
    return out


def _charged_reads(fractions: Mapping[str, float]) -> str:
    """What sequencing is charged on: sequenced reads where the usable fraction is known."""
    if not fractions:
        return (
            "Reads per cell are usable read pairs (in the cells' fragments), and sequencing is charged on "
            "them: no platform gives its sequenced reads."
        )
    known = ", ".join(f"{html.escape(p)} {f:.3f}" for p, f in fractions.items())
    return (
        "Sequencing is charged per sequenced read: reads per cell / usable fraction (read pairs in the "
        f"cells' fragments per sequenced read pair: {known}); platforms without one are charged their "
        "usable read pairs."
    )


def tn5_section(ctx: ReportContext) -> Section:
    """Tn5 insertion bias: how alike the platforms' biases are, and their logos
    (:mod:`atlasbench.readouts.tn5`). Summary: same or different, per pair of platforms."""
    summary: list[str] = []
    folder = ctx.inputs.tn5
    if folder is None:
        return Section(note_html("No Tn5 bias was given (<code>atlasbench tn5</code> writes it)."), [])
    folder = Path(folder)
    similarity_path, logos = folder / "tn5_similarity.tsv", folder / "tn5_logos.png"
    if not similarity_path.is_file() and not logos.is_file():
        return Section(note_html(f"No Tn5 bias tables in <code>{html.escape(str(folder))}</code>."), [])
    parts = []
    if similarity_path.is_file():
        similarity = pd.read_csv(similarity_path, sep="\t")
        ctx.table("tn5_similarity", similarity)
        if len(similarity):
            said = []
            for _, r in similarity.iterrows():
                same = str(r["same"]).lower() in ("true", "1")
                said.append(
                    f"{bold_text(r['platform_a'])} and {bold_text(r['platform_b'])}: "
                    f"{'the same' if same else 'different'} (Pearson of log-odds {r['pearson']:.3f}, "
                    f"JSD {r['jsd']:.2g} bits)"
                )
            summary.append("Tn5 insertion bias: " + "; ".join(said) + ".")
        else:
            parts.append(note_html("One platform only: no pair of biases to compare."))
        parts.append(
            html_table(
                similarity.rename(
                    columns={
                        "platform_a": "platform A",
                        "platform_b": "platform B",
                        "pearson": "Pearson of log-odds",
                        "jsd": "mean JSD (bits)",
                        "max_jsd": "max JSD (bits)",
                        "same": "same bias",
                    }
                ),
                text_columns={"platform A", "platform B", "same bias"},
                colours=ctx.colours,
            )
        )
    intro = (
        "<p>Base preferences around Tn5 insertion sites against the genome composition. "
        "Two platforms have the same bias when the shapes agree (Pearson of the log-odds &ge; 0.9) and "
        "the strengths too (mean Jensen-Shannon divergence of the base frequencies &le; 10<sup>-4</sup> "
        "bits).</p>"
    )
    if logos.is_file():
        parts.append(
            ctx.embed(
                logos,
                "<b>Tn5 insertion bias per platform</b> (log<sub>2</sub> odds against "
                "the genome; letters above the line enriched at insertion sites).",
            )
        )
    return Section(intro + "".join(parts), summary)


def motifs_section(ctx: ReportContext) -> Section:
    """Motifs learned by the models: every TF-MoDISco pattern with its best JASPAR match, the motifs
    two models share, and the logos (:mod:`atlasbench.readouts.motifs`).

    Sets ``ctx.motif_matches`` (every match kept, ``matches.tsv``), which the truth section
    compares with the planted activators.
    """
    summary: list[str] = []
    folder = ctx.inputs.motifs
    if folder is None:
        return Section(note_html("No motifs were given (<code>atlasbench motifs</code> writes them)."), [])
    folder = Path(folder)
    path = folder / "motifs.tsv"
    if not path.is_file():
        return Section(note_html(f"No <code>motifs.tsv</code> in <code>{html.escape(str(folder))}</code>."), [])
    motifs = read_labelled_table(path, text=LABELS)
    if "model" not in motifs.columns:
        motifs.insert(0, "model", "model")
    if (folder / "matches.tsv").is_file():
        matches = read_labelled_table(folder / "matches.tsv", text=LABELS)
        ctx.motif_matches = matches if "model" in matches.columns else matches.assign(model="model")
    ctx.table("motifs", motifs)
    parts = []
    if motifs.empty:
        parts.append(note_html("TF-MoDISco found no pattern."))
    else:
        shown = motifs.sort_values(["model", "cell_type", "pattern"], kind="stable")
        hit = (shown["q_value"].astype(float) <= Q_THRESHOLD).to_numpy()
        columns = {
            "model": "model",
            "cell_type": "cell type",
            "pattern": "pattern",
            "n_seqlets": "seqlets",
            "consensus": "consensus",
            "match": "best JASPAR match",
            "matrix_id": "JASPAR id",
            "q_value": "q",
        }
        shown = shown[[c for c in columns if c in shown.columns]].rename(columns=columns)
        n_hit = int(hit.sum())
        parts.append(
            f"<p>Best JASPAR CORE match of every TF-MoDISco pattern (TOMTOM, Benjamini-Hochberg q); "
            f"matches with q &le; {Q_THRESHOLD} are highlighted ({n_hit} of {len(hit)} patterns). "
            "<code>pos_</code> patterns raise the prediction, <code>neg_</code> lower it.</p>"
        )
        parts.append(
            '<div class="scroll">'
            + html_table(
                shown,
                text_columns={"model", "cell type", "pattern", "consensus", "best JASPAR match", "JASPAR id"},
                highlight=hit,
                colours=ctx.colours,
            )
            + "</div>"
        )
    overlap_path = folder / "overlap.tsv"
    models = list(pd.unique(motifs["model"].astype(str))) if len(motifs) else []
    if overlap_path.is_file():
        overlap = pd.read_csv(overlap_path, sep="\t", keep_default_na=False, na_values={"jaccard": [""]})
        names = models if len(models) == 2 else ["first", "second"]
        overlap = overlap.rename(columns={"first": names[0], "second": names[1]})
        ctx.table("motif_overlap", overlap)
        jaccard = pd.to_numeric(overlap["jaccard"], errors="coerce").astype(float)
        overlap["jaccard"] = jaccard
        shared = sum(len([m for m in str(s).split(",") if m]) for s in overlap["shared"])
        either = sum(len({m for col in names for m in str(r[col]).split(",") if m}) for _, r in overlap.iterrows())
        summary.append(
            f"Motifs: the models of {bold_text(names[0])} and {bold_text(names[1])} share {shared} of the "
            f"{either} JASPAR motifs either matches (q &le; {Q_THRESHOLD}, positive patterns, per cell type); "
            f"mean Jaccard {jaccard.mean():.2f} over {int(jaccard.notna().sum())} cell type(s) with a match."
        )
        parts.append(
            f"<p>Matched JASPAR motifs (q &le; {Q_THRESHOLD}, positive patterns) per cell type for the "
            "two models, those they share and their Jaccard index.</p>"
        )
        parts.append(
            html_table(
                overlap.rename(columns={"cell_type": "cell type", "jaccard": "Jaccard"}),
                text_columns={"cell type", *names, "shared"},
            )
        )
    elif len(motifs):
        matched = motifs[
            (motifs["q_value"].astype(float) <= Q_THRESHOLD) & motifs["pattern"].astype(str).str.startswith("pos_")
        ]
        listed = ", ".join(html.escape(m) for m in pd.unique(matched["match"].astype(str)))
        summary.append(
            f"Motifs: {len(matched)} of {len(motifs)} TF-MoDISco patterns raising the prediction "
            f"match a JASPAR motif at q &le; {Q_THRESHOLD}" + (f" ({listed})." if listed else ".")
        )
    logos = sorted((folder / "logos").glob("*.png")) if (folder / "logos").is_dir() else []
    # a logo's file is named by file_stem(f"{model}_{cell_type}"): the caption shows the original names
    named = (
        {
            file_stem(f"{m}_{c}"): f"{m}, {c}"
            for m, c in zip(motifs["model"].astype(str), motifs["cell_type"].astype(str), strict=True)
        }
        if "cell_type" in motifs.columns
        else {}
    )
    for logo in logos:
        title = named.get(logo.stem, logo.stem)
        parts.append(
            ctx.embed(
                logo,
                f"<b>{html.escape(title)}</b>: each pattern's contribution weight "
                "matrix (left) beside the logo of its best JASPAR match (right).",
                alt=f"motif logos {title}",
            )
        )
    return Section("".join(parts), summary)


def enhancers_section(ctx: ReportContext) -> Section:
    """Validated enhancers: per cell type, the auROC and auPRC of each platform's model, the ROC
    curves, and the read-out of every scenario (:mod:`atlasbench.readouts.enhancers`)."""
    summary: list[str] = []
    folders = ctx.inputs.enhancers
    if not folders:
        return Section(
            note_html("No validated-enhancer scores were given (<code>atlasbench enhancers</code> writes them)."), []
        )
    tables, rocs, notes, headline = [], [], [], []
    for platform, folder in folders.items():
        folder = Path(folder)
        path = folder / "per_cell_type.tsv"
        if not path.is_file():
            notes.append(f"{platform}: no <code>per_cell_type.tsv</code> in <code>{html.escape(str(folder))}</code>.")
            continue
        per_type = read_labelled_table(path, text=LABELS).assign(platform=platform)
        tables.append(per_type)
        top1 = math.nan
        per_enhancer = folder / "per_enhancer.tsv"
        if per_enhancer.is_file():
            ranks = read_labelled_table(
                per_enhancer,
                text=LABELS,
            )
            if "correct" in ranks.columns and len(ranks):
                top1 = float(ranks["correct"].astype(str).str.lower().isin(("true", "1")).mean())
        macro = per_type[per_type["cell_type"] == "macro"]
        if len(macro):
            text = f"{bold_text(platform)} macro auROC {macro['auroc'].iloc[0]:.2f}, auPRC {macro['auprc'].iloc[0]:.2f}"
            if math.isfinite(top1):
                text += f", target cell type on top for {top1:.0%} of the enhancers"
            headline.append(text)
        if (folder / "roc.png").is_file():
            rocs.append(
                ctx.embed(
                    folder / "roc.png",
                    f"<b>{html.escape(platform)}</b>: ROC curve per cell type on specificity-normalised predictions.",
                )
            )
    if not tables:
        return Section(note_html(" ".join(notes)), [])
    table = pd.concat(tables, ignore_index=True)
    table = table[["platform", *[c for c in table.columns if c != "platform"]]]
    ctx.table("enhancers", table)
    if headline:
        summary.append("Validated enhancers: " + "; ".join(headline) + ".")
    wide = table.pivot_table(index="cell_type", columns="platform", values=["auroc", "auprc"], sort=False)
    order = [p for p in ctx.platforms if p in set(table["platform"])]
    columns = [(m, p) for p in order for m in ("auroc", "auprc")]
    wide = wide.reindex(columns=columns)
    wide.columns = [f"{p} {'auROC' if m == 'auroc' else 'auPRC'}" for m, p in columns]
    cell_types = [c for c in pd.unique(table["cell_type"]) if c != "macro"] + ["macro"]
    wide = wide.reindex([c for c in cell_types if c in wide.index]).reset_index()
    wide = wide.rename(columns={"cell_type": "cell type"})
    bold = (wide["cell type"] == "macro").to_numpy()
    body = (
        "<p>Enhancers tested in vivo, scored by each platform's model (fold ensemble) on "
        "specificity-normalised predictions: per cell type, the areas under the ROC and precision-recall "
        "curves separating its enhancers from every other sequence; <i>macro</i>: their mean.</p>"
        + html_table(wide, text_columns={"cell type"}, highlight=bold)
        + (f'<div class="grid2">{"".join(rocs)}</div>' if rocs else "")
        + _enhancers_by_scenario(ctx)
        + "".join(note_html(n) for n in notes)
    )
    return Section(body, summary)


def _enhancers_by_scenario(ctx: ReportContext) -> str:
    """The published read-out of every scenario: its fold ensemble, and its fold models' mean and SD."""
    path = ctx.inputs.enhancer_summary
    if path is None or not Path(path).is_file():
        return ""
    scores = read_labelled_table(
        path,
        text=(*LABELS, "fold", "seed"),
    )
    ctx.table("enhancers_by_scenario", scores)
    rows = []
    for (platform, scenario), group in scores.groupby(["platform", "scenario"], sort=False):
        ensemble = group[group["fold"] == "ensemble"].iloc[0]
        folds = group[group["fold"] != "ensemble"]
        rows.append(
            {
                "scenario": scenario,
                "platform": platform,
                "ensemble accuracy": ensemble["accuracy"],
                "ensemble macro auROC": ensemble["macro_auroc"],
                "ensemble macro auPRC": ensemble["macro_auprc"],
                "fold models' accuracy": f"{folds['accuracy'].mean():.3f} ± {folds['accuracy'].std(ddof=1):.3f}"
                if len(folds) > 1
                else f"{folds['accuracy'].mean():.3f}",
                "models": len(folds),
            }
        )
    return (
        "<h3>Per scenario</h3><p>As published: each scenario's fold models averaged into one ensemble; "
        "<i>accuracy</i> is the share of enhancers whose target cell type scores highest after "
        "specificity normalisation. The fold models alone show how much that varies with the model.</p>"
        + html_table(
            pd.DataFrame(rows), text_columns={"scenario", "platform", "fold models' accuracy"}, colours=ctx.colours
        )
    )
