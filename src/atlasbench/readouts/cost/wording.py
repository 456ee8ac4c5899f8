"""The cost analysis in words: currency and number formatting, and the generated sentences.

:func:`compare_costs` says how each platform's cheapest design compares with the
reference platform's, the way the study does ("with 60% more cells, 2.4x lower cost");
:func:`cheapest_sentences` says each platform's cheapest design and
:func:`saturation_sentences` each platform's plateau and saturation depth. The report
and ``summary.txt`` use the same sentences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from atlasbench.errors import AtlasbenchError
from atlasbench.readouts.cost.designs import require_columns
from atlasbench.readouts.cost.saturation import SaturationFit

__all__ = [
    "METRIC_LABELS",
    "cheapest_sentences",
    "compare_costs",
    "format_count",
    "format_money",
    "format_ratio",
    "format_target",
    "saturation_sentences",
]


METRIC_LABELS = {
    "pearson_mean": "Pearson",
    "spearman_mean": "Spearman",
    "pearson_across_cell_types": "Pearson across cell types",
    "spearman_across_cell_types": "Spearman across cell types",
}
"""How the sentences name an evaluation metric (others are named as they are)."""


def format_money(amount: float, currency: str) -> str:
    """An amount in whole units: ``$5,285`` in USD, ``5,285 EUR`` in any other currency.

    Parameters
    ----------
    amount
        The amount.
    currency
        Its currency code (see :func:`~atlasbench.readouts.cost.designs.cost_currency`).

    Returns
    -------
    str
    """
    return f"${amount:,.0f}" if currency == "USD" else f"{amount:,.0f} {currency}"


def format_count(value: float) -> str:
    """A count of cells or reads, whole and with thousands separators: ``16,000``."""
    return f"{value:,.0f}"


def format_target(target: float) -> str:
    """A target accuracy with two decimals when that is exact (``0.60``), else three (``0.615``)."""
    return f"{target:.2f}" if round(target, 2) == target else f"{target:.3f}"


def format_ratio(ours: float, theirs: float, noun: str) -> str:
    """How ``ours`` compares with ``theirs`` as a ratio: '2.4x lower cost', '1.3x higher cost'.

    Ratios round to one decimal, and one that rounds to 1.0 either way is 'about the same
    cost'; when either amount is not positive there is no ratio and both are given.

    Parameters
    ----------
    ours, theirs
        The two amounts; ``ours`` is lower when ``theirs / ours > 1``.
    noun
        What is compared, e.g. ``"cost"``.

    Returns
    -------
    str
    """
    if ours <= 0 or theirs <= 0:
        return f"{noun} {format_count(ours)} vs {format_count(theirs)}"
    ratio = theirs / ours
    if f"{max(ratio, 1 / ratio):.1f}" == "1.0":
        return f"about the same {noun}"
    return f"{ratio:.1f}x lower {noun}" if ratio > 1 else f"{1 / ratio:.1f}x higher {noun}"


def compare_costs(
    cheapest: pd.DataFrame, reference_platform: str, label: str = "Pearson", currency: str = "USD"
) -> list[str]:
    """Say how each platform's cheapest design compares with the reference platform's.

    One sentence per other platform, in the study's words: how many more (or fewer)
    cells it needs to reach the target than the reference, at which depths, and how many
    times cheaper (or dearer) it is, with both costs; when library and sequencing costs
    are given, also the ratio of library costs alone, since which part dominates decides
    the claim (PROTOCOL.md: 6.0x on library cost alone, 2.4x with sequencing). For
    example: "hydrop reaches Pearson 0.60 with 60% more cells than 10x (16,000 vs
    10,000 cells; 36,000 vs 36,000 usable reads per cell) at 2.4x lower cost ($2,440 vs
    $5,745; library alone 6.0x lower)". Percentages are rounded to whole numbers and
    ratios to one decimal.

    Parameters
    ----------
    cheapest
        The table of :func:`cheapest_designs`.
    reference_platform
        The platform the others are compared with.
    label
        Name of the accuracy metric in the sentences.
    currency
        Currency of the costs; USD amounts are written with a "$".

    Returns
    -------
    list of str
        One sentence per platform other than the reference, in table order.

    Raises
    ------
    AtlasbenchError
        When the reference platform is not in the table.
    """
    require_columns(
        cheapest, ("platform", "target", "reached", "n_cells", "reads_per_cell", "cost"), "cheapest designs"
    )
    by_name = {str(row["platform"]): row for _, row in cheapest.iterrows()}
    if reference_platform not in by_name:
        raise AtlasbenchError(
            f"compare_costs: reference platform {reference_platform!r} is not among the platforms "
            f"({', '.join(by_name) or 'none'})"
        )
    ref = by_name[reference_platform]
    out = []
    for name, row in by_name.items():
        if name == reference_platform:
            continue
        target = format_target(float(row["target"]))
        if row["source"] == "unpriced" or ref["source"] == "unpriced":
            unpriced = name if row["source"] == "unpriced" else reference_platform
            out.append(f"{name} is not compared with {reference_platform}: {unpriced} has no cost figures.")
            continue
        if not bool(row["reached"]):
            out.append(f"{name} does not reach {label} {target} within its measured designs.")
            continue
        if not bool(ref["reached"]):
            out.append(
                f"{name} reaches {label} {target} with {format_count(row['n_cells'])} cells at "
                f"{format_count(row['reads_per_cell'])} usable reads per cell "
                f"for {format_money(row['cost'], currency)}; "
                f"{reference_platform} does not reach it within its measured designs."
            )
            continue
        percent = round((row["n_cells"] / ref["n_cells"] - 1) * 100)
        if percent > 0:
            cells = f"with {percent}% more cells than {reference_platform}"
        elif percent < 0:
            cells = f"with {-percent}% fewer cells than {reference_platform}"
        else:
            cells = f"with as many cells as {reference_platform}"
        detail = (
            f"{format_count(row['n_cells'])} vs {format_count(ref['n_cells'])} cells; "
            f"{format_count(row['reads_per_cell'])} vs {format_count(ref['reads_per_cell'])} usable reads per cell"
        )
        money = f"{format_money(row['cost'], currency)} vs {format_money(ref['cost'], currency)}"
        lib = (row.get("library_cost", math.nan), ref.get("library_cost", math.nan))
        if all(isinstance(v, (int, float)) and math.isfinite(v) for v in lib):
            money += f"; library alone {format_ratio(float(lib[0]), float(lib[1]), 'cost').removesuffix(' cost')}"
        out.append(
            f"{name} reaches {label} {target} {cells} ({detail}) at "
            f"{format_ratio(float(row['cost']), float(ref['cost']), 'cost')} ({money})."
        )
    return out


def saturation_sentences(fits: Mapping[str, SaturationFit], label: str) -> list[str]:
    """One sentence per fitted platform: its plateau, the fit's R2 and where 95% of it is reached.

    For example "hydrop: Pearson plateau 0.612 (R2 0.98); 95% of it is reached at about
    12,000 usable reads per cell and at about 9,500 cells." (an axis that was not fitted is not
    mentioned). A point below the fewest reads or cells measured is given as that bound, one
    beyond the most as an extrapolation (:attr:`SaturationFit.depth_position`).

    Parameters
    ----------
    fits
        Saturation fit per platform, in the order to say them.
    label
        Name of the accuracy metric in the sentences.

    Returns
    -------
    list of str
    """
    out = []
    for name, fit in fits.items():
        parts = []
        for position, value, bounds, unit in (
            (fit.depth_position, fit.saturation_depth, fit.reads_range, "usable reads per cell"),
            (fit.cells_position, fit.saturation_cells, fit.cells_range, "cells"),
        ):
            if position == "below":
                parts.append(f"below the fewest measured, {format_count(bounds[0])} {unit} (already saturated there)")
            elif position:
                extrapolated = f", beyond the most measured ({format_count(bounds[1])}: an extrapolation)"
                parts.append(f"at about {format_count(value)} {unit}" + (extrapolated if position == "beyond" else ""))
        out.append(
            f"{name}: {label} plateau {fit.plateau:.3f} (R2 {fit.r2:.2f}); 95% of it is reached "
            + " and ".join(parts)
            + "."
        )
    return out


def cheapest_sentences(cheapest: pd.DataFrame, label: str, currency: str) -> list[str]:
    """One sentence per platform: its cheapest design reaching the target, or why there is none.

    For example "hydrop: cheapest design reaching Pearson 0.60 (fitted): 16,000 cells at
    36,000 usable reads per cell, Pearson 0.601, $2,440 (library $784, sequencing $1,656)."; a
    platform that does not reach the target within its measured designs, or has no cost
    figures, is said so.

    Parameters
    ----------
    cheapest
        The table of :func:`~atlasbench.readouts.cost.designs.cheapest_designs`.
    label
        Name of the accuracy metric in the sentences.
    currency
        Currency of the costs (see :func:`format_money`).

    Returns
    -------
    list of str
        One sentence per row of ``cheapest``, in its order.
    """
    out = []
    for _, row in cheapest.iterrows():
        target = format_target(float(row["target"]))
        if row["source"] == "unpriced":
            out.append(f"{row['platform']}: no cost figures (give them explicitly to price a combined platform).")
            continue
        if not row["reached"]:
            out.append(f"{row['platform']}: does not reach {label} {target} within its measured designs.")
            continue
        out.append(
            f"{row['platform']}: cheapest design reaching {label} {target} ({row['source']}): "
            f"{format_count(row['n_cells'])} cells at {format_count(row['reads_per_cell'])} usable reads per cell, "
            f"{label} {row['accuracy']:.3f}, {format_money(row['cost'], currency)} "
            f"(library {format_money(row['library_cost'], currency)}, "
            f"sequencing {format_money(row['sequencing_cost'], currency)})."
        )
    return out
