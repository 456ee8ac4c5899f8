"""The report's simulation-truth section: on a simulated atlas, each result beside the truth it should recover.

The simulator records what it planted under the study's ``truth/`` folder
(``simulation.json``, ``tn5_log_odds.tsv``, ``<platform>_barcodes.tsv``); this section
compares it with what the other sections measured: the platforms' library complexity and
where their unique fragments saturate (against the QC), where their data's fidelity to the
truth saturates (against the models' accuracy), which platform ranks first (the one
whose data follow the truth most closely, :mod:`atlasbench.readouts.fidelity`, against the
models' accuracy against the true accessibility, ranked only as far as the paired comparison
against the truth resolves it), the Tn5 log-odds (against the recovered bias)
and the planted activator motifs (against the motifs the models learned).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from atlasbench.data.complexity import saturation_curve, saturation_depth
from atlasbench.errors import AtlasbenchError
from atlasbench.readouts import comparisons, power
from atlasbench.readouts.fidelity import fidelity_saturation, shared_grid
from atlasbench.readouts.motifs import planted_motifs
from atlasbench.report.comparisons import platform_comparison, ranking_tiers, tier_ranks
from atlasbench.report.context import METRIC, Q_THRESHOLD, ReportContext, Section
from atlasbench.report.html import bold_text, html_table, join_words, note_html
from atlasbench.report.plots import despine

__all__ = ["truth_section"]


def truth_section(ctx: ReportContext) -> Section:
    """On a simulated atlas, each result beside the truth it should recover: the platforms' library
    complexity, saturation and ranking, the Tn5 log-odds, and the planted activator motifs.

    Runs after the QC and motifs sections, whose measurements (``ctx.complexity``,
    ``ctx.qc_medians``, ``ctx.motif_matches``, the ``qc_levels`` table) it compares with the
    simulation. Summary: one sentence, "Against the simulation truth: ...".
    """
    folder = ctx.inputs.truth
    if folder is None:
        return Section(note_html("Not a simulated study: there is no truth to compare with."), [])
    folder = Path(folder)
    record_path = folder / "simulation.json"
    if not record_path.is_file():
        return Section(note_html(f"No <code>simulation.json</code> in <code>{html.escape(str(folder))}</code>."), [])
    record = json.loads(record_path.read_text())
    parts, found = [], []
    platforms_html, said = _truth_platforms(ctx, record, folder)
    parts.append(platforms_html)
    found += said
    tn5_html, said = _truth_tn5(ctx, folder)
    parts.append(tn5_html)
    found += said
    motif_html, said = _truth_motifs(ctx, record)
    parts.append(motif_html)
    found += said
    summary = ["Against the simulation truth: " + "; ".join(found) + "."] if found else []
    return Section(
        "<p>The study is a simulation (preset "
        f"<code>{html.escape(str(record.get('preset', '?')))}</code>, seed "
        f"{html.escape(str(record.get('seed', '?')))}): here each result stands beside the truth the "
        "simulator planted.</p>" + "".join(parts),
        summary,
    )


def _truth_platforms(ctx: ReportContext, record: Mapping[str, Any], folder: Path) -> tuple[str, list[str]]:
    """Library complexity, saturation depth and ranking of each simulated platform, simulated against
    measured; the HTML and the phrases for the summary."""
    simulated = set(record.get("simulated_platforms") or [p["name"] for p in record.get("platforms", [])])
    profiles = [p for p in record.get("platforms", []) if p.get("name") in simulated]
    if not profiles:
        return note_html("simulation.json lists no simulated platform."), []
    try:
        acc = ctx.accuracy()
    except AtlasbenchError:
        acc = None
    accuracy = _accuracy_against_truth(ctx)
    against_truth = _truth_comparison(ctx) if len(accuracy) > 1 else None
    tiers = _truth_tiers(accuracy, against_truth)
    ranking = {p: int(r) for p, r in zip(accuracy, tier_ranks(pd.DataFrame({"platform": list(accuracy)}), tiers))}
    true_complexity = _true_complexity(ctx, folder, [str(p["name"]) for p in profiles])
    medians = (
        {}
        if ctx.qc_medians is None
        else dict(zip(ctx.qc_medians["platform"], ctx.qc_medians["median_unique_fragments"]))
    )
    path = ctx.inputs.truth_fidelity
    fidelity_table = pd.read_csv(path, sep="\t") if path is not None and Path(path).is_file() else None
    fidelity, grid = _grid_fidelity(ctx, fidelity_table, [str(p["name"]) for p in profiles])
    data_fits = (
        fidelity_saturation(fidelity_table, acc.designs) if fidelity_table is not None and acc is not None else {}
    )
    best_at = _data_best_at(grid)
    consistent = sum(n > 0 for n in best_at.values()) == 1  # one platform's data the closer everywhere
    by_fidelity = sorted(fidelity, key=lambda p: -fidelity[p]) if consistent else []
    rows = []
    for profile in profiles:
        name = str(profile["name"])
        m, r = float(profile["complexity"]), float(profile["reads_per_cell"])
        fit = acc.fits.get(name) if acc is not None else None
        data_fit = data_fits.get(name)
        measured = ctx.complexity.get(name)
        true = true_complexity.get(name)
        rows.append(
            {
                "platform": name,
                "complexity": m,
                "complexity_sigma": profile.get("complexity_sigma", math.nan),
                "simulated_reads_per_cell": r,
                "expected_unique_fragments": m * (1 - math.exp(-r / m)),
                "measured_median_unique_fragments": medians.get(name, math.nan),
                "true_median_complexity": true.median() if true is not None else math.nan,
                "measured_median_complexity": measured.median() if measured is not None else math.nan,
                "fragments_saturation_depth": saturation_depth(true.to_numpy()) if true is not None else math.nan,
                "measured_fragments_saturation_depth": (
                    saturation_depth(measured.to_numpy()) if measured is not None else math.nan
                ),
                "fitted_accuracy_saturation_depth": fit.saturation_depth if fit is not None else math.nan,
                "accuracy_saturation_position": fit.depth_position if fit is not None else "",
                "fitted_data_saturation_depth": data_fit.saturation_depth if data_fit is not None else math.nan,
                "data_saturation_position": data_fit.depth_position if data_fit is not None else "",
                "shallowest_reads_per_cell": fit.reads_range[0] if fit is not None else math.nan,
                "data_fidelity": fidelity.get(name, math.nan),
                "data_best_at": best_at.get(name, math.nan),
                "accuracy_vs_truth": accuracy.get(name, math.nan),
                "expected_rank": by_fidelity.index(name) + 1 if name in by_fidelity else math.nan,
                "benchmark_rank": ranking.get(name, math.nan),
            }
        )
    table = pd.DataFrame(rows)
    ctx.table("truth_platforms", table)
    said = []
    ranked = table.dropna(subset=["benchmark_rank", "expected_rank"])
    if len(ranked) >= 2:
        expected = ranked.sort_values("expected_rank")
        first, second = expected.iloc[0], expected.iloc[1]
        intro = (
            f"the data of {bold_text(str(first['platform']))} follow the true accessibility the most closely "
            f"at every grid point (its targets' Pearson with the truth {first['data_fidelity']:.3f} over the "
            f"grid, against {second['data_fidelity']:.3f} for {bold_text(str(second['platform']))}) and the "
            "benchmark, by its models' accuracy against the truth over the whole grid, "
        )
        if tiers is not None and len(tiers[0]) == 1:
            agree = first["platform"] == tiers[0][0]
            said.append(
                intro
                + f"ranks {bold_text(tiers[0][0])} first: {'as expected' if agree else 'NOT as expected'}"
                + _truth_difference(against_truth)
            )
        else:
            top = tiers[0] if tiers is not None else list(accuracy)
            said.append(
                intro
                + f"cannot tell {join_words([bold_text(p) for p in top])} apart: "
                + (
                    "they are indistinguishable at this study's power" + _truth_difference(against_truth, top)
                    if against_truth is not None
                    else "there is no paired comparison (fewer than 2 paired grid points and folds), so "
                    "the simulated order cannot be judged"
                )
            )
    elif not consistent and len(fidelity) >= 2:
        said.append(
            "the platforms' data are each the closer to the true accessibility at some grid points ("
            + join_words([f"{bold_text(p)} at {n} of {sum(best_at.values())}" for p, n in best_at.items() if n])
            + "): the simulation sets no ranking over the whole grid, so the benchmark's "
            "comparison over it is not judged against the truth; the table per grid point puts the data "
            "and the models side by side" + _truth_difference(against_truth)
        )
    for _, r in table.iterrows():
        if math.isfinite(r["measured_fragments_saturation_depth"]) and math.isfinite(r["fragments_saturation_depth"]):
            said.append(
                f"{bold_text(r['platform'])} libraries saturate (95%) at "
                f"{r['measured_fragments_saturation_depth']:,.0f} reads per cell as measured, "
                f"{r['fragments_saturation_depth']:,.0f} as simulated"
            )
    sentences = [
        f"{bold_text(r['platform'])}: unique fragments reach 95% of the libraries at "
        f"{r['fragments_saturation_depth']:,.0f} reads per cell as simulated, "
        f"{r['measured_fragments_saturation_depth']:,.0f} as measured from each cell's reads and unique fragments "
        f"({(r['measured_fragments_saturation_depth'] / r['fragments_saturation_depth'] - 1) * 100:+.1f}%)"
        + _saturation_clause(r)
        for _, r in table.iterrows()
    ]
    below = table["accuracy_saturation_position"] == "below"
    limited = table[below & table["data_saturation_position"].isin(["within", "beyond"])]
    if len(limited):
        said.append(
            "the models' accuracy is within 5% of its plateau already at the shallowest depth measured on "
            + join_words(
                [
                    f"{bold_text(r['platform'])} ({r['shallowest_reads_per_cell']:,.0f}"
                    + (" usable reads per cell)" if i == 0 else ")")
                    for i, (_, r) in enumerate(limited.iterrows())
                ]
            )
            + ", while their data's Pearson with the truth goes on rising (95% of its plateau at about "
            + join_words([f"{r['fitted_data_saturation_depth']:,.0f}" for _, r in limited.iterrows()])
            + "): at this study's size the models, not the depth, limit accuracy, and the depth at which "
            "the libraries saturate cannot show in it"
        )
    shown = table.rename(
        columns={
            "complexity": "complexity M (molecules)",
            "complexity_sigma": "SD of log M",
            "simulated_reads_per_cell": "reads per cell R",
            "expected_unique_fragments": "expected unique fragments",
            "measured_median_unique_fragments": "measured unique fragments (median)",
            "true_median_complexity": "M of the cells (median, true)",
            "measured_median_complexity": "M of the cells (median, measured)",
            "fragments_saturation_depth": "fragments: 95% at (reads, true)",
            "measured_fragments_saturation_depth": "fragments: 95% at (reads, measured)",
            "fitted_accuracy_saturation_depth": "accuracy: 95% at (reads, fitted)",
            "accuracy_saturation_position": "accuracy: 95% against the levels",
            "fitted_data_saturation_depth": "data vs truth: 95% at (reads, fitted)",
            "data_saturation_position": "data vs truth: 95% against the levels",
            "shallowest_reads_per_cell": "shallowest level (reads)",
            "data_fidelity": "targets' Pearson vs truth (grid mean)",
            "data_best_at": "data the closest at (grid points)",
            "accuracy_vs_truth": "models' Pearson vs truth (grid mean)",
            "expected_rank": "rank by data",
            "benchmark_rank": "rank found",
        }
    )
    body = (
        "<h3>Library complexity, saturation and ranking</h3>"
        "<p>Each simulated cell holds a library of M distinct molecules (log-normal over cells; the first "
        "column gives the median), each read a Poisson number of times, so a cell's unique fragments grow as "
        "M(1 &minus; e<sup>&minus;R/M</sup>) with R reads (the <i>expected unique fragments</i>). The "
        "platform saturates (95%) where its cells' mean unique fragments reach 95% of their mean M: computed "
        "from the true M of every annotated barcode (doublets and collisions included, as the platform "
        "delivers them) and, as measured, from each cell's reads and unique fragments. The platform whose "
        "data follow the truth more closely should rank first: at every grid point its targets (the "
        "pseudobulk its models learn from) are compared with the true accessibility (Pearson per cell "
        "type, averaged), which weighs everything that makes data better (complexity, usable reads, "
        "cell numbers, ambient fragments). When one platform's data are the closer at every grid point the "
        "platforms share, <i>rank by data</i> orders them by its mean over those grid points; when each "
        "platform's are the closer somewhere, the simulation sets no ranking over the grid, and none is "
        "expected. In <i>rank found</i>, platforms whose paired difference against the "
        "truth over the grid does not hold share a rank. The accuracy section's saturation surface, fitted "
        "to the data's Pearson with the truth over the grid instead of the models' accuracy, says how deep "
        "more reads still make the data better: models whose accuracy saturates sooner are limited by "
        "something other than depth (their size, their training regions).</p>"
        + html_table(
            shown,
            text_columns={"platform", "accuracy: 95% against the levels", "data vs truth: 95% against the levels"},
            colours=ctx.colours,
        )
        + "<ul>"
        + "".join(f"<li>{s}.</li>" for s in sentences)
        + "</ul>"
    )
    body += _grid_html(ctx, grid)
    levels_path = ctx.tables.get("qc_levels")
    if levels_path is not None:
        body += ctx.figure(
            _truth_saturation_figure(ctx, pd.read_csv(levels_path, dtype={"cells": str}), true_complexity),
            "truth_saturation",
            "<b>Unique fragments per cell against depth</b>: measured at each depth level "
            "(points, mean over all cells), the simulator's law over the cells' true "
            "complexities (solid) and over their complexities as measured (dashed); dotted: the "
            "true 95% saturation depth.",
        )
    return body, said


def _grid_fidelity(
    ctx: ReportContext, table: pd.DataFrame | None, platforms: Sequence[str]
) -> tuple[dict[str, float], pd.DataFrame | None]:
    """Per platform, its targets' Pearson with the truth averaged over the grid points every
    platform has (``table``, :mod:`atlasbench.readouts.fidelity`), and the table of those grid
    points (written as ``truth_grid``): the targets' and the models' Pearson with the truth
    (models: mean over folds and seeds) per platform. Empty and None without the fidelity table."""
    if table is None:
        return {}, None
    wide = shared_grid(table, platforms)
    if wide.empty:
        return {}, None
    grid = wide.add_prefix("targets_vs_truth:")
    rows = _truth_rows(ctx)
    if rows is not None:
        models = rows.pivot_table(index="level", columns="platform", values="value", aggfunc="mean")
        grid = grid.join(models.reindex(columns=wide.columns).add_prefix("models_vs_truth:"))
    ctx.table("truth_grid", grid.reset_index())
    return {str(p): float(wide[p].mean()) for p in wide.columns}, grid


def _saturation_clause(row: pd.Series) -> str:
    """'; the data's Pearson with the truth reaches 95% of its plateau at about ...; the models'
    accuracy ...' for one platform's row of the truth table ('' for what was not fitted)."""
    clause = ""
    if math.isfinite(row["fitted_data_saturation_depth"]):
        clause += (
            f"; the data's Pearson with the truth reaches 95% of its plateau at about "
            f"{row['fitted_data_saturation_depth']:,.0f}"
            + (" (beyond the deepest level: an extrapolation)" if row["data_saturation_position"] == "beyond" else "")
        )
    if row["accuracy_saturation_position"] == "below":
        clause += (
            f"; the models' accuracy, below the shallowest level measured ({row['shallowest_reads_per_cell']:,.0f})"
        )
    elif math.isfinite(row["fitted_accuracy_saturation_depth"]):
        clause += f"; the models' accuracy at {row['fitted_accuracy_saturation_depth']:,.0f}" + (
            " (beyond the deepest level: an extrapolation)" if row["accuracy_saturation_position"] == "beyond" else ""
        )
    return clause


def _data_best_at(grid: pd.DataFrame | None) -> dict[str, int]:
    """Per platform, at how many grid points of the truth grid table its targets follow the truth
    the most closely (ties to the first); empty without the table."""
    if grid is None:
        return {}
    data = grid[[c for c in grid.columns if c.startswith("targets_vs_truth:")]].dropna()
    best = data.idxmax(axis=1).value_counts()
    return {c.split(":", 1)[1]: int(best.get(c, 0)) for c in data.columns}


def _grid_html(ctx: ReportContext, grid: pd.DataFrame | None) -> str:
    """The per-grid-point table of data and models against the truth, and, for two platforms,
    at how many grid points the models' difference has the sign of the data's."""
    if grid is None:
        return ""
    text = (
        "<h3>Data and models against the truth, per grid point</h3><p>The targets' Pearson with the "
        "true accessibility at each grid point (the data) beside the models' (mean over folds): "
        "where one platform's data are the better, its models should be too.</p>"
    )
    data = [c for c in grid.columns if c.startswith("targets_vs_truth:")]
    models = [c for c in grid.columns if c.startswith("models_vs_truth:")]
    if len(data) == 2 and len(models) == 2:
        a, b = (c.split(":", 1)[1] for c in data)
        both = grid.dropna()
        agree = np.sign(both[data[1]] - both[data[0]]) == np.sign(both[models[1]] - both[models[0]])
        text += (
            f"<p>{bold_text(b)} minus {bold_text(a)}: the models' difference has the sign of the data's "
            f"at {int(agree.sum())} of {len(both)} grid points. Single grid points are not tested (one "
            "model per test fold and seed each); the paired comparison over the grid is.</p>"
        )
    shown = grid.reset_index().rename(
        columns=lambda c: c.replace("targets_vs_truth:", "data: ").replace("models_vs_truth:", "models: ")
    )
    return text + html_table(shown, text_columns={"level"}, colours=ctx.colours)


def _truth_comparison(ctx: ReportContext) -> pd.DataFrame | None:
    """The platforms paired over the grid against the truth (written as ``truth_comparisons``), or None."""
    try:
        table = platform_comparison(ctx, "truth")
    except AtlasbenchError:
        return None
    ctx.table("truth_comparisons", table)
    return table


def _truth_tiers(accuracy: Mapping[str, float], table: pd.DataFrame | None) -> list[list[str]] | None:
    """The platforms in the tiers the comparison against the truth resolves (by the grid means)."""
    if not accuracy:
        return None
    ranking = pd.DataFrame({"platform": list(accuracy), "accuracy_mean": list(accuracy.values())})
    return ranking_tiers(ranking, table)


def _truth_difference(table: pd.DataFrame | None, within: Sequence[str] | None = None) -> str:
    """' (b &minus; a: +0.012, 95% CI ... over n paired grid points: verdict)' for each compared pair
    (of ``within`` only, if given), with what the study could detect when within noise; or ''."""
    if table is None:
        return ""
    out = []
    for _, r in table.iterrows():
        if within is not None and not {str(r["a"]), str(r["b"])} <= set(within):
            continue
        text = (
            f" ({html.escape(str(r['b']))} &minus; {html.escape(str(r['a']))}: {r['mean_difference']:+.3f}, "
            f"95% CI {r['ci_low']:+.3f} to {r['ci_high']:+.3f} over {int(r['n'])} paired {r['unit']}s: "
            f"{r['verdict']}"
        )
        if r["verdict"] != comparisons.HOLDS:
            text += "; " + html.escape(power.power_words(power.resolve(r, n_comparisons=len(table))))
        out.append(text + ")")
    return "".join(out)


def _truth_rows(ctx: ReportContext) -> pd.DataFrame | None:
    """The evaluation's summary rows of the models against the simulated truth, or None."""
    table = ctx.evaluation
    if table is None or "truth" not in set(table["against"]):
        return None
    return table[(table["against"] == "truth") & (table["metric"] == METRIC) & (table["cell_type"] == "all")]


def _accuracy_against_truth(ctx: ReportContext) -> dict[str, float]:
    """Per platform, the mean test Pearson against the simulated truth over every model of the grid."""
    rows = _truth_rows(ctx)
    if rows is None:
        return {}
    return {str(p): float(v) for p, v in rows.groupby("platform")["value"].mean().items()}


def _true_complexity(ctx: ReportContext, folder: Path, platforms: Sequence[str]) -> dict[str, pd.Series]:
    """Per platform, the simulated complexity of each annotated barcode the QC measured
    (``truth/<platform>_barcodes.tsv``)."""
    out = {}
    for name in platforms:
        path = folder / f"{name}_barcodes.tsv"
        measured = ctx.complexity.get(name)
        if not path.is_file() or measured is None:
            continue
        truth = pd.read_csv(path, sep="\t", usecols=["barcode", "complexity"]).set_index("barcode")["complexity"]
        out[name] = truth.reindex(measured.index).dropna()
    return out


def _truth_saturation_figure(ctx: ReportContext, levels: pd.DataFrame, true_complexity: Mapping[str, pd.Series]) -> Any:
    """Unique fragments per cell against depth: measured levels, and the simulator's law over the
    true and the measured complexities."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 3.8), layout="constrained")
    ax = fig.subplots()
    depths = {name: saturation_depth(m.to_numpy()) for name, m in true_complexity.items()}
    top = max(
        [float(levels["mean_reads_per_cell"].max()) if len(levels) else 0.0]
        + [d * 1.1 for d in depths.values() if math.isfinite(d)]
    )
    r = np.linspace(0, top, 200)
    for name, m in true_complexity.items():
        colour = ctx.colours.get(name, "0.3")
        ax.plot(
            r,
            saturation_curve(m.to_numpy(), r),
            "-",
            color=colour,
            lw=1.4,
            label=f"{name} simulated (median M = {m.median():,.0f})",
        )
        if name in ctx.complexity:
            ax.plot(
                r,
                saturation_curve(ctx.complexity[name].to_numpy(), r),
                "--",
                color=colour,
                lw=1,
                label=f"{name} measured M",
            )
        ax.axvline(depths[name], color=colour, ls=":", lw=1)
        mine = levels[levels["platform"].astype(str) == name]
        if len(mine):
            mine = mine[mine["cells"] == "all"] if (mine["cells"] == "all").any() else mine
            ax.plot(
                mine["mean_reads_per_cell"],
                mine["mean_fragments_per_cell"],
                "o",
                color=colour,
                ms=5,
                mec="white",
                label=f"{name} measured levels",
            )
    ax.set_xlabel("reads per cell (mean)")
    ax.set_ylabel("unique fragments per cell")
    ax.set_xlim(0, top)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7.5, frameon=False, loc="lower right")
    despine(ax)
    return fig


def _truth_tn5(ctx: ReportContext, folder: Path) -> tuple[str, list[str]]:
    """The simulated Tn5 log-odds against those recovered from the fragments; HTML and summary phrases."""
    simulated_path = folder / "tn5_log_odds.tsv"
    recovered_path = Path(ctx.inputs.tn5) / "tn5_pfm.tsv" if ctx.inputs.tn5 is not None else None
    if not simulated_path.is_file():
        return note_html("No simulated Tn5 log-odds (<code>tn5_log_odds.tsv</code>) in the truth folder."), []
    if recovered_path is None or not recovered_path.is_file():
        return note_html("No recovered Tn5 bias to compare with the simulated one."), []
    simulated = pd.read_csv(simulated_path, sep="\t").melt(
        id_vars=["platform", "position"], var_name="base", value_name="simulated"
    )
    recovered = pd.read_csv(recovered_path, sep="\t")[["platform", "position", "base", "log_odds"]]
    both = simulated.merge(recovered.rename(columns={"log_odds": "recovered"}), on=["platform", "position", "base"])
    if both.empty:
        return note_html("The simulated and recovered Tn5 biases share no platform and position."), []
    rows = []
    for platform, group in both.groupby("platform", sort=False):
        x, y = group["simulated"].to_numpy(float), group["recovered"].to_numpy(float)
        pearson = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else math.nan
        rows.append({"platform": platform, "pearson": pearson, "n_values": len(group)})
    table = pd.DataFrame(rows)
    ctx.table("truth_tn5", table)

    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6, 4.2), layout="constrained")
    ax = fig.subplots()
    for (platform, group), (_, row) in zip(both.groupby("platform", sort=False), table.iterrows()):
        ax.scatter(
            group["simulated"],
            group["recovered"],
            s=14,
            alpha=0.75,
            color=ctx.colours.get(str(platform), "0.3"),
            label=f"{platform} (r = {row['pearson']:.2f})",
            edgecolors="none",
        )
    low = float(min(both["simulated"].min(), both["recovered"].min()))
    high = float(max(both["simulated"].max(), both["recovered"].max()))
    ax.plot([low, high], [low, high], color="0.6", lw=0.8, ls="--")
    ax.set_xlabel("simulated Tn5 log-odds (bits)")
    ax.set_ylabel("recovered log2 odds vs genome (bits)")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    despine(ax)
    said = [
        "Tn5 bias recovered at Pearson "
        + ", ".join(f"{r['pearson']:.2f} ({html.escape(str(r['platform']))})" for _, r in table.iterrows())
    ]
    body = (
        "<h3>Tn5 insertion bias</h3><p>The log-odds the simulator used at each position and base against "
        "those read off its fragments (every position around the cut and base).</p>"
        + html_table(
            table.rename(columns={"pearson": "Pearson", "n_values": "values compared"}),
            text_columns={"platform"},
            colours=ctx.colours,
        )
        + ctx.figure(
            fig,
            "truth_tn5",
            "<b>Simulated against recovered Tn5 bias</b>: one point per position and base; dashed: identity.",
        )
    )
    return body, said


def _truth_motifs(ctx: ReportContext, record: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Per cell type, whether each model found the activator motif the simulator planted
    (:func:`atlasbench.readouts.motifs.planted_motifs`); HTML and summary phrases."""
    cell_types = record.get("cell_types") or []
    if not cell_types:
        return note_html("simulation.json lists no cell type."), []
    matches = ctx.motif_matches
    if matches is None:
        return note_html("No motifs to compare with the planted activators."), []
    if matches.empty:
        return note_html("TF-MoDISco found no pattern: nothing to compare with the planted activators."), []
    activators = {str(spec.get("name")): str(spec.get("activator")) for spec in cell_types}
    table = planted_motifs(matches, activators, Q_THRESHOLD)
    ctx.table("truth_motifs", table)
    analysed = table[table["analysed"]]
    said = []
    for model, group in analysed.groupby("model", sort=False):
        found = group[group["found"]]
        behind = [
            f"{html.escape(r['cell_type'])}'s behind {html.escape(r['first_match'])}"
            for _, r in found.iterrows()
            if r["jaspar_rank"] > 1
        ]
        detail = ", ".join(html.escape(c) for c in found["cell_type"])
        if behind:
            detail += f"; JASPAR ranks a relative first: {join_words(behind)}"
        said.append(
            f"the planted activator found in {len(found)} of {len(group)} cell types explained by "
            f"{bold_text(str(model))}"
            + (f" ({detail})" if len(found) else "")
            + f", another cell type's activator in {int(group['n_other_matched'].sum())} of "
            f"{int(group['n_other_activators'].sum())}"
        )
    shown = analysed.drop(columns=["analysed", "n_other_matched", "n_other_activators"]).rename(
        columns={
            "cell_type": "cell type",
            "planted_activator": "planted activator",
            "q_value": "q",
            "jaspar_rank": "its JASPAR rank",
            "first_match": "first JASPAR match",
            "other_activators": "other cell types' activators matched",
            "best_matches": f"best JASPAR match of each pattern (q ≤ {Q_THRESHOLD})",
        }
    )
    skipped = sorted(set(table.loc[~table["analysed"], "cell_type"]) - set(analysed["cell_type"]))
    body = (
        "<h3>Planted activator motifs</h3><p>Per cell type, the JASPAR motif the simulator planted to open "
        f"its enhancers, and whether a positive TF-MoDISco pattern of the model matched it (q &le; "
        f"{Q_THRESHOLD}), at which rank among the pattern's JASPAR matches, and which came first: a family "
        "with many near-identical matrices in JASPAR (homeodomains, GATA factors) is matched in an order "
        "the model does not set. The check on that rule: the planted activators of the other cell types "
        "that the same patterns match.</p>"
        + (
            html_table(
                shown,
                text_columns={
                    "cell type",
                    "planted activator",
                    "model",
                    "found",
                    "pattern",
                    "first JASPAR match",
                    "other cell types' activators matched",
                    f"best JASPAR match of each pattern (q ≤ {Q_THRESHOLD})",
                },
                highlight=shown["found"].to_numpy(bool),
            )
            if len(shown)
            else ""
        )
        + (
            note_html("Cell types not explained by any model: " + html.escape(", ".join(skipped)) + ".")
            if skipped
            else ""
        )
    )
    return body, said
