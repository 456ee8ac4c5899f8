"""Figures of the cost analysis: accuracy against depth with the fitted saturation
curves, and the cost-accuracy frontier; with the plain log-axis ticks they share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from atlasbench.io.figures import save_figure
from atlasbench.readouts.cost.designs import pareto_front
from atlasbench.readouts.cost.saturation import SaturationFit
from atlasbench.readouts.cost.wording import format_target

__all__ = ["cell_levels", "log_ticks", "plot_frontier", "plot_saturation", "short_count"]


def cell_levels(n_cells: np.ndarray) -> np.ndarray:
    """Group achieved cell numbers into levels: values within 5% of a level's smallest join it.

    Designs of one cells level achieve slightly different cell numbers (cells are kept by
    barcode), so the saturation figure draws one line per level, not per number.

    Parameters
    ----------
    n_cells
        Cells of each design.

    Returns
    -------
    numpy.ndarray
        For each design, its level: the smallest cell number of the level.
    """
    order = np.sort(np.unique(n_cells))
    starts: list[float] = []
    for value in order:
        if not starts or value > 1.05 * starts[-1]:
            starts.append(float(value))
    starts_arr = np.asarray(starts)
    return starts_arr[np.searchsorted(starts_arr, n_cells, side="right") - 1]


def _save(fig: Any, stem: Path) -> dict[str, Path]:
    """Write ``fig`` as ``<stem>.png`` and ``.pdf``; keys ``<name>_png`` and ``<name>_pdf``."""
    png, pdf = save_figure(fig, stem.with_name(f"{stem.name}.png"), dpi=120)
    return {f"{stem.name}_png": png, f"{stem.name}_pdf": pdf}


def plot_saturation(
    designs: pd.DataFrame, fits: Mapping[str, SaturationFit], label: str, stem: Path
) -> dict[str, Path]:
    """Accuracy against reads per cell: one panel per platform, one line per cell level.

    Measured means with their SD as error bars, the fitted saturation curve of each cell
    level (or the measured points joined, for a platform without a fit along depth) and
    the saturation depth marked (at the shallowest level, "below", when accuracy had
    saturated there).

    Parameters
    ----------
    designs
        One row per design: ``platform``, ``reads_per_cell``, ``n_cells``,
        ``accuracy_mean``, ``accuracy_sd``.
    fits
        Saturation fit per platform.
    label
        Name of the accuracy metric (the y axis).
    stem
        Path of the figure without its suffix; ``.png`` and ``.pdf`` are written.

    Returns
    -------
    dict of str to pathlib.Path
        ``<name>_png`` and ``<name>_pdf``, ``<name>`` the last part of ``stem``.
    """
    from matplotlib.figure import Figure

    platforms = list(dict.fromkeys(designs["platform"].astype(str)))
    fig = Figure(figsize=(4.2 * len(platforms), 3.6), layout="constrained")
    axes = fig.subplots(1, len(platforms), sharey=True, squeeze=False)[0]
    for ax, platform in zip(axes, platforms):
        group = designs[designs["platform"].astype(str) == platform]
        levels = cell_levels(group["n_cells"].to_numpy(float))
        fit = fits.get(platform)
        colours = [f"C{i % 10}" for i in range(len(np.unique(levels)))]
        for colour, level in zip(colours, np.unique(levels)):
            rows = group[levels == level].sort_values("reads_per_cell")
            ax.errorbar(
                rows["reads_per_cell"],
                rows["accuracy_mean"],
                yerr=rows["accuracy_sd"].fillna(0),
                fmt="o",
                color=colour,
                capsize=3,
                label=f"{rows['n_cells'].mean():,.0f} cells",
            )
            if fit is not None and "reads" in fit.axes:
                r = np.geomspace(group["reads_per_cell"].min(), group["reads_per_cell"].max(), 100)
                ax.plot(r, fit.predict(r, rows["n_cells"].mean()), "-", color=colour, lw=1.2)
            elif len(rows) > 1:
                ax.plot(rows["reads_per_cell"], rows["accuracy_mean"], "-", color=colour, lw=1.0, alpha=0.6)
        ax.set_xscale("log")
        log_ticks(ax.xaxis, np.unique(group["reads_per_cell"].round(-2)), short_count)
        if fit is not None and fit.depth_position:  # below the levels: marked at the shallowest, the bound measured
            below = fit.depth_position == "below"
            depth = fit.reads_range[0] if below else fit.saturation_depth
            ax.axvline(depth, color="0.4", ls="--", lw=1)
            ax.text(
                depth,
                0.97,
                f"95% of plateau: {'below ' if below else ''}{depth:,.0f} ",
                rotation=90,
                ha="right",
                va="top",
                transform=ax.get_xaxis_transform(),
                fontsize=8,
                color="0.3",
            )
        ax.set_title(platform)
        ax.set_xlabel("usable read pairs per cell")
        ax.legend(fontsize=7, loc="best")
    axes[0].set_ylabel(label)
    return _save(fig, stem)


def short_count(value: float) -> str:
    """A count as a short tick label: 12000 -> '12k', 1500 -> '1.5k', 800 -> '800'."""
    return f"{value / 1000:g}k" if value >= 1000 else f"{value:g}"


def log_ticks(axis: Any, ticks: Iterable[float], text: Callable[[float], str]) -> None:
    """Plain tick labels at chosen values on a log axis, and no minor ticks.

    Matplotlib's own log ticks are powers of ten with mathtext minor labels, slow to draw
    and busy; the measured levels (or round values) read better.

    Parameters
    ----------
    axis
        A matplotlib axis (``ax.xaxis`` or ``ax.yaxis``).
    ticks
        Values to mark.
    text
        Label of a value, e.g. :func:`short_count`.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    axis.set_major_locator(FixedLocator(list(ticks)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: text(v)))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def plot_frontier(
    designs: pd.DataFrame,
    cheapest: pd.DataFrame,
    target: float,
    label: str,
    currency: str,
    stem: Path,
    colours: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """The cost-accuracy frontier: accuracy against cost (log axis), one colour per platform.

    Every priced design with its SD over folds, each platform's Pareto frontier as steps
    (:func:`~atlasbench.readouts.cost.designs.pareto_front`), the target as a dotted line
    and each platform's cheapest design reaching it as a star.

    Parameters
    ----------
    designs
        One row per design: ``platform``, ``cost``, ``accuracy_mean``, ``accuracy_sd``
        (unpriced designs, with a NaN cost, are left out).
    cheapest
        The table of :func:`~atlasbench.readouts.cost.designs.cheapest_designs`.
    target
        The target accuracy.
    label
        Name of the accuracy metric (the y axis).
    currency
        Currency of the costs (the x axis).
    stem
        Path of the figure without its suffix; ``.png`` and ``.pdf`` are written.
    colours
        Platform -> colour; default matplotlib's cycle (C0, C1, ...) in table order.

    Returns
    -------
    dict of str to pathlib.Path
        ``<name>_png`` and ``<name>_pdf``, ``<name>`` the last part of ``stem``.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.2), layout="constrained")
    ax = fig.subplots()
    priced = designs[np.isfinite(designs["cost"].astype(float))]
    for i, platform in enumerate(dict.fromkeys(priced["platform"].astype(str))):
        colour = (colours or {}).get(platform, f"C{i % 10}")
        group = priced[priced["platform"].astype(str) == platform]
        cost, acc = group["cost"].to_numpy(float), group["accuracy_mean"].to_numpy(float)
        ax.errorbar(
            cost,
            acc,
            yerr=group["accuracy_sd"].fillna(0),
            fmt="o",
            color=colour,
            alpha=0.6,
            capsize=2,
            ms=4,
            label=platform,
        )
        front = pareto_front(cost, acc)
        ax.step(cost[front], acc[front], where="post", color=colour, lw=1.5)
        best = cheapest[(cheapest["platform"].astype(str) == platform) & cheapest["reached"].astype(bool)]
        for _, row in best.iterrows():
            ax.plot(
                row["cost"],
                row["accuracy"],
                marker="*",
                ms=14,
                ls="none",
                color=colour,
                mec="black",
                label=f"{platform} cheapest ({row['source']})",
            )
    ax.axhline(target, color="0.4", ls=":", lw=1, label=f"target {format_target(target)}")
    ax.set_xscale("log")
    low, high = priced["cost"].min(), priced["cost"].max()
    ticks = [
        m * 10.0**e for e in range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1) for m in (1, 2, 5)
    ]
    log_ticks(ax.xaxis, [t for t in ticks if low / 1.5 <= t <= high * 1.5], lambda v: f"{v:,.0f}")
    ax.set_xlabel(f"cost of the data set ({currency}, library + sequencing)")
    ax.set_ylabel(label)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, stem)
