"""Plotting pieces shared by the report's figures: platform colours, level labels, log ticks, violins.

Small matplotlib helpers of the section modules (:mod:`atlasbench.report.qc_accuracy`,
:mod:`atlasbench.report.truth`, ...), so every figure of the page looks alike: one colour
per platform across all figures (:func:`platform_colours`), no top and right spines,
plain round ticks on log axes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "LINESTYLES",
    "MARKERS",
    "PALETTE",
    "axis_label",
    "despine",
    "level_text",
    "log10_ticks",
    "ordered_levels",
    "platform_colours",
    "thin_ticks",
    "violins",
]

PALETTE: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
"""Platform colours (Okabe-Ito, distinguishable with colour-vision deficiencies), in platform order."""

LINESTYLES: tuple[str, ...] = ("-", "--", ":", "-.")
"""Line styles of the levels of one axis (the largest level, full data, solid)."""

MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P")
"""Markers of the levels of one axis, in the order of :data:`LINESTYLES`."""


def platform_colours(platforms: Iterable[str]) -> dict[str, str]:
    """One colour per platform, :data:`PALETTE` in the given order (repeating after eight)."""
    names = list(dict.fromkeys(str(p) for p in platforms))
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def ordered_levels(keys: pd.Series, values: pd.Series) -> list[str]:
    """Level keys ordered by their achieved values (``all`` after the numbers)."""
    frame = pd.DataFrame({"key": keys.astype(str), "value": values.astype(float)})
    order = frame.groupby("key", sort=False)["value"].mean().sort_values(kind="stable")
    return list(order.index)


def level_text(key: str) -> str:
    """A level key as a label: ``"all"``, or the number with thousands separators (``"12,000"``)."""
    return "all" if key == "all" else (f"{int(key):,}" if key.isdigit() else key)


def axis_label(key: str, achieved: str) -> str:
    """A grid axis label: the level and, after a colon, what was achieved (once when they agree)."""
    if not achieved:
        return level_text(key)
    if key.isdigit() and f"{int(key):,}" == achieved:
        return achieved
    return f"{level_text(key)}: {achieved}"


def thin_ticks(ticks: np.ndarray) -> list[float]:
    """Drop ticks closer than a factor 1.35 to the previous one kept (labels would overlap)."""
    kept: list[float] = []
    for t in sorted(float(v) for v in ticks if v > 0):
        if not kept or t >= 1.35 * kept[-1]:
            kept.append(t)
    return kept


def log10_ticks(ax: Any, low: float, high: float) -> None:
    """Round ticks (1, 2, 5 x 10^k) on a y axis holding log10 values between ``low`` and ``high``."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    candidates = [m * 10.0**e for e in range(math.floor(low), math.ceil(high) + 1) for m in (1, 2, 5)]
    kept = [math.log10(v) for v in candidates if low - 0.05 <= math.log10(v) <= high + 0.05]
    if len(kept) >= 2:
        ax.yaxis.set_major_locator(FixedLocator(kept))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{10**v:,.0f}"))


def despine(ax: Any) -> None:
    """Hide the top and right spines of ``ax``."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def violins(ax: Any, data: Sequence[np.ndarray], positions: Sequence[int], colours: Sequence[str]) -> None:
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


def annotate_cells(
    ax: Any,
    values: np.ndarray,
    sds: np.ndarray,
    limits: tuple[float, float],
    missing: tuple[str, int],
    fontsize: int,
    bold: np.ndarray | None = None,
) -> None:
    """Write each heatmap cell's value (and ± SD where known) on it, legible on its colour.

    Parameters
    ----------
    ax
        The axes holding the heatmap (row i, column j at ``(j, i)``).
    values, sds
        ``(rows, columns)`` means and standard deviations; NaN values are cells without a
        result, NaN SDs are left out.
    limits
        The colour scale's (low, high): text on the upper 40% of the scale is black,
        otherwise white.
    missing
        Text and font size written on a cell without a result.
    fontsize
        Font size of the values.
    bold
        Boolean ``(rows, columns)``: cells whose value is set in bold (e.g. the diagonal).
    """
    low, high = limits
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isnan(values[i, j]):
                ax.text(j, i, missing[0], ha="center", va="center", fontsize=missing[1], color="0.5")
                continue
            light = (values[i, j] - low) / (high - low) > 0.6
            sd = f"\n± {sds[i, j]:.3f}" if np.isfinite(sds[i, j]) else ""
            ax.text(
                j,
                i,
                f"{values[i, j]:.3f}{sd}",
                ha="center",
                va="center",
                fontsize=fontsize,
                color="black" if light else "white",
                fontweight="bold" if bold is not None and bold[i, j] else None,
            )
