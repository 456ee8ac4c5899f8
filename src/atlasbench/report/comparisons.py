"""The report's comparison pieces: which accuracy differences hold, and the ranking sentence.

Platforms are compared paired over the grid points they share, named scenarios paired over
folds (:mod:`atlasbench.readouts.comparisons`); the ranking sentence says which platform
ranks first at full data and whether its lead is within the spread over folds.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from atlasbench.errors import AtlasbenchError
from atlasbench.readouts import comparisons
from atlasbench.report.context import METRIC, METRIC_LABEL, ReportContext, Section
from atlasbench.report.html import bold_text, join_words, note_html

__all__ = ["comparisons_section", "platform_comparison", "ranking_sentence"]


def platform_comparison(ctx: ReportContext, against: str) -> pd.DataFrame:
    """The platforms against the reference (or first), paired over the grid points they share.

    Parameters
    ----------
    ctx
        The report being written (its accuracy, platforms and reference platform).
    against
        Targets compared with: ``full`` (each platform's full data) or ``truth``.

    Returns
    -------
    pandas.DataFrame
        :func:`atlasbench.readouts.comparisons.compare_platforms`'s table.

    Raises
    ------
    AtlasbenchError
        Without an evaluation table, or with nothing to pair.
    """
    acc = ctx.accuracy()
    if acc is None:
        raise AtlasbenchError(f"no accuracy to compare: {ctx.evaluation_note}")
    reference = ctx.settings.reference_platform
    order = sorted(ctx.platforms, key=lambda p: p != reference)
    return comparisons.compare_platforms(acc.evaluation, order, metric=METRIC, against=against, model=acc.model)


def comparisons_section(ctx: ReportContext) -> Section:
    """Which differences hold: the platforms paired over the grid, and the named scenarios that
    differ in one factor paired over folds, each with its uncertainty and verdict."""
    summary: list[str] = []
    acc = ctx.accuracy()
    if acc is None:
        return Section(note_html(ctx.evaluation_note), [])
    tables, parts = [], []
    platforms = None
    if acc.evaluation["platform"].nunique() > 1:
        try:
            platforms = platform_comparison(ctx, "full")
        except AtlasbenchError as exc:  # one grid point of one fold: nothing to pair
            parts.append(note_html(f"Platforms not compared: {html.escape(str(exc))}"))
    if platforms is not None:
        tables.append(platforms.assign(kind="platforms over the grid"))
        sentences = [comparisons.describe(r) for _, r in platforms.iterrows()]
        summary += sentences
        parts.append(
            "<h3>Platforms</h3><p>Each platform against the reference, paired at every grid point "
            "(same reads per cell and cells level, test fold and seed), so the comparison has power "
            "even with one test fold.</p><ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in sentences) + "</ul>"
        )
    labels = ctx.inputs.scenario_labels
    pairs = [(labels[a], labels[b]) for a, b in ctx.inputs.scenario_pairs]
    if pairs:
        names = {f"{p}/{level}": label for (p, level), label in labels.items()}
        named = comparisons.compare_scenarios(
            acc.evaluation, pairs, names=names, metric=METRIC, against="full", model=acc.model
        )
        tables.append(named.assign(kind="named scenarios"))
        held = named[named["verdict"] == comparisons.HOLDS]
        summary.append(
            f"Named scenarios: {len(held)} of {len(named)} one-step differences hold "
            "(paired t-test over folds, Holm-adjusted, and a bootstrap interval excluding 0)"
            + (
                ": "
                + "; ".join(
                    f"{bold_text(r['b'])} vs {bold_text(r['a'])} {r['mean_difference']:+.3f}"
                    for _, r in held.iterrows()
                )
                if len(held)
                else ""
            )
        )
        parts.append(
            "<h3>Named scenarios</h3><p>Every two named scenarios that differ in one factor (platform, "
            "cells or reads per cell), paired by test fold.</p><ul>"
            + "".join(f"<li>{html.escape(comparisons.describe(r))}</li>" for _, r in named.iterrows())
            + "</ul>"
        )
    if not tables:
        return Section(note_html("One platform and no named scenarios: nothing to compare."), [])
    ctx.table("comparisons", pd.concat(tables, ignore_index=True))
    return Section(
        "<p>Accuracy differences with their uncertainty: mean &plusmn; SD of each side, the mean paired "
        "difference with its 95% bootstrap interval, and the paired t-test, Holm-adjusted over the "
        "comparisons of each list. A difference <i>holds</i> when the adjusted p is below 0.05 and the "
        "interval excludes 0; otherwise it is <i>within noise</i>. The paper reports means and SDs "
        "only; pairing removes the differences between folds, which are often larger than those "
        "between scenarios.</p>" + "".join(parts),
        summary,
    )


def ranking_sentence(ranking: pd.DataFrame) -> str:
    """'At full data, X ranks first: ... ahead of Y ...', saying when the lead is within one SD.

    Parameters
    ----------
    ranking
        One row per platform at full data, best first: ``platform``, ``accuracy_mean``,
        ``accuracy_sd``, ``n_models``.

    Returns
    -------
    str
        The sentence, as HTML.
    """

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
