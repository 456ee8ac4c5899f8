"""The report's comparison pieces: which accuracy differences hold, and the ranking sentence.

Platforms are compared paired over the grid points they share, named scenarios paired over
folds (:mod:`atlasbench.readouts.comparisons`), each with the smallest difference it could
detect and what would resolve the one observed (:mod:`atlasbench.readouts.power`). The
ranking at full data goes through the same rule: a platform ranks above another only when
their paired difference holds; platforms the study cannot tell apart are said to be
indistinguishable at its power, never ranked.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from atlasbench.errors import AtlasbenchError
from atlasbench.readouts import comparisons, power
from atlasbench.report.context import METRIC, METRIC_LABEL, ReportContext, Section
from atlasbench.report.html import bold_text, join_words, note_html

__all__ = [
    "comparisons_section",
    "platform_comparison",
    "ranking_caption",
    "ranking_sentence",
    "ranking_tiers",
    "tier_ranks",
]


def platform_comparison(ctx: ReportContext, against: str) -> pd.DataFrame:
    """Every two platforms, paired over the grid points they share, with the power of each comparison.

    The reference platform (else the first) comes first, so with two platforms the
    difference is the other's minus the reference's; the comparisons are one Holm family.
    Computed once per report and target set (``ctx.platform_comparisons``), so every
    section that ranks platforms reads the same comparison.

    Parameters
    ----------
    ctx
        The report being written (its accuracy, platforms and reference platform).
    against
        Targets compared with: ``full`` (each platform's full data) or ``truth``.

    Returns
    -------
    pandas.DataFrame
        :func:`atlasbench.readouts.comparisons.compare_platforms`'s table (``every_pair``) with
        :func:`atlasbench.readouts.power.add_power`'s columns.

    Raises
    ------
    AtlasbenchError
        Without an evaluation table, or with nothing to pair.
    """
    known = ctx.platform_comparisons.get(against)
    if known is None:
        try:
            known = _compare_platforms(ctx, against)
        except AtlasbenchError as exc:
            known = exc
        ctx.platform_comparisons[against] = known
    if isinstance(known, AtlasbenchError):
        raise known
    return known


def _compare_platforms(ctx: ReportContext, against: str) -> pd.DataFrame:
    acc = ctx.accuracy()
    if acc is None:
        raise AtlasbenchError(f"no accuracy to compare: {ctx.evaluation_note}")
    reference = ctx.settings.reference_platform
    order = sorted(ctx.platforms, key=lambda p: p != reference)
    table = comparisons.compare_platforms(
        acc.evaluation, order, every_pair=True, metric=METRIC, against=against, model=acc.model
    )
    return power.add_power(table)


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
            "<h3>Platforms</h3><p>Every two platforms (the reference first), paired at every grid point "
            "(same reads per cell and cells level, test fold and seed), so the comparison has power "
            "even with one test fold.</p>" + _items(platforms)
        )
    labels = ctx.inputs.scenario_labels
    pairs = [(labels[a], labels[b]) for a, b in ctx.inputs.scenario_pairs]
    if pairs:
        names = {f"{p}/{level}": label for (p, level), label in labels.items()}
        named = power.add_power(
            comparisons.compare_scenarios(
                acc.evaluation, pairs, names=names, metric=METRIC, against="full", model=acc.model
            )
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
            "cells or reads per cell), paired by test fold.</p>" + _items(named)
        )
    if not tables:
        return Section(note_html("One platform and no named scenarios: nothing to compare."), [])
    ctx.table("comparisons", pd.concat(tables, ignore_index=True))
    return Section(
        "<p>Accuracy differences with their uncertainty: mean &plusmn; SD of each side, the mean paired "
        "difference with its 95% bootstrap interval, and the paired t-test, Holm-adjusted over the "
        "comparisons of each list. A difference <i>holds</i> when the adjusted p is below 0.05 and the "
        "interval excludes 0; otherwise it is <i>within noise</i>, and the study's power is given: the "
        "smallest difference the comparison could detect (paired t-test, 80% power, at 0.05 over the "
        "number of comparisons of the list) and how many pairs, and test folds, would resolve the "
        "difference observed. The paper reports means and SDs only; pairing removes the differences "
        "between folds, which are often larger than those between scenarios.</p>" + "".join(parts),
        summary,
    )


def _items(table: pd.DataFrame) -> str:
    """One list item per comparison: its sentence and, when within noise, what the study could detect."""
    items = []
    for _, row in table.iterrows():
        text = comparisons.describe(row)
        if row["verdict"] != comparisons.HOLDS:
            said = power.power_words(power.resolve(row, n_comparisons=len(table)))
            text += f" At this study's power, {said}."
        items.append(f"<li>{html.escape(text)}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _resolutions(comparisons: pd.DataFrame) -> dict[frozenset[str], power.Resolution]:
    """Each compared pair of platforms -> its resolution, the table's rows one Holm family."""
    return {
        frozenset((str(r["a"]), str(r["b"]))): power.resolve(r, n_comparisons=len(comparisons))
        for _, r in comparisons.iterrows()
    }


def ranking_tiers(
    ranking: pd.DataFrame, comparisons: pd.DataFrame | None, order: Sequence[str] | None = None
) -> list[list[str]] | None:
    """The platforms in tiers the study resolves (:func:`atlasbench.readouts.power.platform_tiers`),
    best first, or None when the ranking cannot be judged (no paired comparison).

    Parameters
    ----------
    ranking
        One row per platform at full data: ``platform``, ``accuracy_mean``.
    comparisons
        The platforms' paired comparison over the grid (:func:`platform_comparison`), or None.
    order
        The order to list a tier's platforms in (the study's); by default the ranking's.

    Returns
    -------
    list of list of str, or None
    """
    names = [str(p) for p in ranking["platform"]]
    if len(names) == 1:
        return [names]
    if comparisons is None or comparisons.empty:
        return None
    listed = [p for p in (order or []) if p in names] + [p for p in names if p not in (order or [])]
    means = dict(zip(names, ranking["accuracy_mean"].astype(float)))
    return power.platform_tiers({p: means[p] for p in listed}, comparisons)


def tier_ranks(ranking: pd.DataFrame, tiers: list[list[str]] | None) -> list[int]:
    """The rank of each row of ``ranking``: platforms of one tier share it (1, 1, 3); all 1 without tiers."""
    if tiers is None:
        return [1] * len(ranking)
    rank, at = {}, 1
    for tier in tiers:
        rank.update(dict.fromkeys(tier, at))
        at += len(tier)
    return [rank[str(p)] for p in ranking["platform"]]


def ranking_caption(tiers: list[list[str]] | None, reason: str = "") -> str:
    """Whether the order of the ranking table is resolved, as HTML."""
    if tiers is None:
        return (
            "The order cannot be judged: the platforms have no paired comparison"
            + (f" ({html.escape(reason)})" if reason else "")
            + "; it lists them by their means only."
        )
    if len(tiers) == 1 and len(tiers[0]) == 1:
        return ""
    if all(len(t) == 1 for t in tiers):
        return (
            "The order is resolved: each platform's paired difference over the grid with every platform below it holds."
        )
    return (
        "The order is not resolved: platforms that share a rank are not told apart at this study's power "
        "(their paired differences over the grid do not hold; see the summary and <i>Which differences "
        "hold</i>), and the table lists them by their means only."
    )


def ranking_sentence(
    ranking: pd.DataFrame,
    comparisons: pd.DataFrame | None = None,
    *,
    order: Sequence[str] | None = None,
    reason: str = "",
) -> str:
    """The platforms at full data, ranked only as far as their paired differences over the grid hold.

    A platform *ranks first* only when its paired difference with every other platform
    holds, in the direction of the means (:func:`ranking_tiers`). Platforms the study cannot
    tell apart are said to be *indistinguishable at this study's power*, with the paired
    difference, the smallest difference the comparison could detect and what would
    resolve the one observed (:mod:`atlasbench.readouts.power`); without any paired
    comparison (one grid point of one fold) the ranking *cannot be judged*, and the
    sentence says what would make it judgeable.

    Parameters
    ----------
    ranking
        One row per platform at full data, best first: ``platform``, ``accuracy_mean``,
        ``accuracy_sd``, ``n_models``.
    comparisons
        The platforms' paired comparison over the grid (:func:`platform_comparison`:
        every pair, one Holm family), or None when there is none.
    order
        The order to list platforms the study does not rank (the study's).
    reason
        Why there is no comparison, when ``comparisons`` is None.

    Returns
    -------
    str
        The sentence(s), as HTML.
    """
    rows = {str(r["platform"]): r for _, r in ranking.iterrows()}
    n_models = {int(r["n_models"]) for r in rows.values()}
    if n_models == {1}:
        over = "one model, so no SD" if len(rows) == 1 else "one model each, so no SD"
    elif len(n_models) == 1:
        over = f"mean &plusmn; SD over {n_models.pop()} models"
    else:
        over = "mean &plusmn; SD over each platform's models"

    def value(name: str) -> str:
        sd = float(rows[name]["accuracy_sd"])
        spread = f" &plusmn; {sd:.3f}" if math.isfinite(sd) else ""
        return f"{float(rows[name]['accuracy_mean']):.3f}{spread}"

    names = list(rows)
    if len(names) == 1:
        return f"At full data, {bold_text(names[0])}, the only platform: {METRIC_LABEL} {value(names[0])} ({over})."
    tiers = ranking_tiers(ranking, comparisons, order)
    if tiers is None or comparisons is None:
        listed = [p for p in (order or []) if p in rows] + [p for p in names if p not in (order or [])]
        values = [
            f"{bold_text(p)} ({METRIC_LABEL} {value(p)}, {over})" if i == 0 else f"{bold_text(p)} ({value(p)})"
            for i, p in enumerate(listed)
        ]
        return (
            f"At full data, the order of {join_words(values)} cannot be judged: the platforms have no paired "
            "comparison" + (f" ({html.escape(reason)})" if reason else "") + ", so no paired SD. Training at "
            "least 2 test folds would make it judgeable (each fold adds one pair per grid point the platforms "
            "share, and more grid points add pairs too); the seeds of one fold are averaged into one pair, so "
            "more seeds alone would not."
        )
    found = _resolutions(comparisons)
    said: set[str] = set()

    def named(platform: str, full: bool = False) -> str:
        if platform in said:
            return bold_text(platform)
        said.add(platform)
        if full:
            return f"{bold_text(platform)} ({METRIC_LABEL} {value(platform)}, {over})"
        return f"{bold_text(platform)} ({value(platform)})"

    def across(upper: list[str], lower: list[str]) -> str:
        return "; ".join(
            html.escape(power.difference_words(found[frozenset((x, y))], first=x)) for x in upper for y in lower
        )

    sentences = []
    top = tiers[0]
    if len(top) == 1:
        leader = top[0]
        said.add(leader)
        others = [p for tier in tiers[1:] for p in tier]
        sentences.append(
            f"At full data, {bold_text(leader)} ranks first: {METRIC_LABEL} {value(leader)} ({over}), ahead of "
            + join_words([f"{bold_text(p)} {value(p)}" for p in others])
            + f"; its lead holds over the grid: {across(top, tiers[1])}"
        )
        said.update(others)
    else:
        sentences.append("At full data, " + _tier_words(top, named, found, full=True))
    for i in range(1, len(tiers)):
        if i > 1 or len(top) > 1:
            upper, lower = tiers[i - 1], tiers[i]
            verb = "ranks" if len(upper) == 1 else "rank"
            sentences.append(
                f"{join_words([bold_text(p) for p in upper])} {verb} above "
                f"{join_words([named(p) for p in lower])}, which holds over the grid: {across(upper, lower)}"
            )
        if len(tiers[i]) > 1:
            sentences.append(_tier_words(tiers[i], named, found))
    return ". ".join(sentences) + "."


def _tier_words(
    tier: list[str],
    named: Callable[..., str],
    found: Mapping[frozenset[str], power.Resolution],
    full: bool = False,
) -> str:
    """'X (...) and Y (...) are indistinguishable at this study's power: <each pair's evidence and power>'.

    Two platforms whose difference over the grid holds share a tier only because their
    means at full data go the other way; that is said, rather than that they cannot be
    told apart.
    """
    names = [named(p, full=full and i == 0) for i, p in enumerate(tier)]
    pairs = [(x, y) for i, x in enumerate(tier) for y in tier[i + 1 :]]
    resolved = [found.get(frozenset(pair)) for pair in pairs]
    noise = all(r is None or not r.holds for r in resolved)
    if noise:
        verdict = " are indistinguishable at this study's power"
    elif len(tier) == 2:
        verdict = " are not ranked: their difference over the grid holds, but their means at full data go the other way"
    else:
        verdict = " cannot all be told apart at this study's power, so they are not ranked"
    head = join_words(names) + verdict
    parts = []
    for (x, y), r in zip(pairs, resolved):
        if r is None:
            words = "not compared"
        elif r.holds:
            ahead = r.b if r.mean_difference > 0 else r.a
            words = f"{power.difference_words(r, first=ahead)}: {ahead} is ahead over the grid, and that holds"
        else:
            words = f"{power.difference_words(r)}; {power.power_words(r)}"
        prefix = "" if len(pairs) == 1 else f"{x} and {y}: "
        parts.append(html.escape(prefix + words))
    return head + ": " + " | ".join(parts)
