"""Metrics of predictions against observed targets: Pearson and Spearman correlations
per cell type (across regions) and per region (across cell types).

These are the numbers every trained model is scored by, whether it was trained in a study
(:mod:`atlasbench.readouts.evaluate` aligns predictions with a target set and labels the
rows with the grid point) or on a sequence table (:mod:`atlasbench.models.seqtable`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from atlasbench.errors import AtlasbenchError

logger = logging.getLogger(__name__)

ALL_CELL_TYPES = "all"
"""``cell_type`` of the rows that summarise all cell types (a cell type may not use it)."""

MIN_REGIONS = 3
"""Fewest regions a correlation across regions is computed on."""

_ROW_COLUMNS = ("cell_type", "metric", "value")


def correlations(predicted: np.ndarray, observed: np.ndarray, cell_types: Sequence[str]) -> pd.DataFrame:
    """Pearson and Spearman correlations of predictions with observed targets.

    Both matrices are ``(n_regions, n_cell_types)``. Two directions are scored:

    - **Per cell type** (one column, across regions): ``pearson`` and ``spearman``.
      Pearson's ``r`` is the mean product of the centred columns over the product of
      their norms, computed for all columns at once. Spearman's ``rho`` is Pearson's
      ``r`` of the ranks, ties given their average rank (as :func:`scipy.stats.spearmanr`
      does). A column that is constant in either matrix has no defined correlation
      and scores NaN.
    - **Per region** (one row, across cell types): the same two correlations, averaged
      over regions into ``pearson_across_cell_types`` and ``spearman_across_cell_types``,
      the specificity score: a model that predicts the right height but the wrong cell
      types scores well per cell type and poorly here. Regions whose row is constant in
      either matrix (e.g. zero everywhere, or with a single cell type) are left out of
      the mean; their number is reported as ``n_regions_constant_across_cell_types``.

    The summary rows have ``cell_type`` ``"all"``:

    ==================================== ===================================================
    metric                               value
    ==================================== ===================================================
    pearson_across_cell_types            mean over regions of the per-region Pearson ``r``
    spearman_across_cell_types           mean over regions of the per-region Spearman
                                         ``rho``
    pearson_mean                         mean over cell types of ``pearson`` (NaN left out)
    spearman_mean                        mean over cell types of ``spearman`` (NaN left out)
    n_regions                            number of regions scored
    n_regions_constant_across_cell_types regions left out of the ``*_across_cell_types``
                                         means
    ==================================== ===================================================

    A mean over nothing (every cell type or every region constant) is NaN.

    Parameters
    ----------
    predicted
        ``(n_regions, n_cell_types)`` model predictions, finite.
    observed
        ``(n_regions, n_cell_types)`` targets, finite, same shape as ``predicted``.
    cell_types
        ``n_cell_types`` unique names, in column order; ``"all"`` is reserved.

    Returns
    -------
    pandas.DataFrame
        Columns ``cell_type``, ``metric``, ``value`` (float): ``pearson`` and
        ``spearman`` for each cell type in order, then the ``"all"`` rows above.

    Raises
    ------
    AtlasbenchError
        On mismatched shapes, non-finite values, fewer than 3 regions, or cell type
        names that do not match the columns.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    if predicted.shape != observed.shape:
        raise AtlasbenchError(
            f"predicted has shape {predicted.shape} but observed has shape {observed.shape}; "
            "both must be (n_regions, n_cell_types)"
        )
    if predicted.ndim != 2:
        raise AtlasbenchError(
            f"predicted and observed must be 2-D (n_regions, n_cell_types), got shape {predicted.shape}"
        )
    n_regions, n_cell_types = predicted.shape
    if n_regions < MIN_REGIONS:
        raise AtlasbenchError(f"correlations need at least {MIN_REGIONS} regions, got {n_regions}")
    if n_cell_types == 0:
        raise AtlasbenchError("correlations need at least one cell type, got none")
    cell_types = [str(name) for name in cell_types]
    if len(cell_types) != n_cell_types:
        raise AtlasbenchError(f"{len(cell_types)} cell type names for {n_cell_types} columns")
    if len(set(cell_types)) != n_cell_types:
        raise AtlasbenchError("cell type names must be unique")
    if ALL_CELL_TYPES in cell_types:
        raise AtlasbenchError(f"{ALL_CELL_TYPES!r} is reserved for summary rows and cannot name a cell type")
    for name, values in (("predicted", predicted), ("observed", observed)):
        if not np.all(np.isfinite(values)):
            raise AtlasbenchError(f"{name} contains NaN or infinite values")

    pearson = _pearson(predicted, observed, axis=0)
    spearman = _pearson(rankdata(predicted, axis=0), rankdata(observed, axis=0), axis=0)

    pearson_regions = _pearson(predicted, observed, axis=1)
    spearman_regions = _pearson(rankdata(predicted, axis=1), rankdata(observed, axis=1), axis=1)
    # Constant rows are the same in values and ranks, so both have the same NaNs.
    n_constant = int(np.isnan(pearson_regions).sum())
    if n_constant:
        logger.info(
            "%d of %d regions are constant across cell types in the predictions or targets; "
            "left out of the across-cell-type means",
            n_constant,
            n_regions,
        )
    nan_cell_types = [name for name, r in zip(cell_types, pearson) if np.isnan(r)]
    if nan_cell_types:
        logger.info("cell type(s) constant over regions, correlation NaN: %s", ", ".join(nan_cell_types))

    rows: list[tuple[str, str, float]] = []
    for name, r, rho in zip(cell_types, pearson, spearman):
        rows.append((name, "pearson", float(r)))
        rows.append((name, "spearman", float(rho)))
    summary = {
        "pearson_across_cell_types": _nanmean(pearson_regions),
        "spearman_across_cell_types": _nanmean(spearman_regions),
        "pearson_mean": _nanmean(pearson),
        "spearman_mean": _nanmean(spearman),
        "n_regions": float(n_regions),
        "n_regions_constant_across_cell_types": float(n_constant),
    }
    rows.extend((ALL_CELL_TYPES, metric, value) for metric, value in summary.items())
    table = pd.DataFrame(rows, columns=list(_ROW_COLUMNS))
    table["value"] = table["value"].astype(np.float64)
    return table


def _pearson(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
    """Pearson ``r`` of ``x`` and ``y`` along ``axis``, NaN where either is constant."""
    xc = x - x.mean(axis=axis, keepdims=True)
    yc = y - y.mean(axis=axis, keepdims=True)
    # Test constancy on the values: the centred values of a constant vector need not be
    # exactly zero after rounding, which would give a meaningless r.
    constant = (np.ptp(x, axis=axis) == 0) | (np.ptp(y, axis=axis) == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (xc * yc).sum(axis=axis) / np.sqrt((xc * xc).sum(axis=axis) * (yc * yc).sum(axis=axis))
    r = np.clip(r, -1.0, 1.0)
    r[constant] = np.nan
    return r


def _nanmean(values: np.ndarray) -> float:
    """Mean of the non-NaN values; NaN (without a warning) when there are none."""
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else float("nan")
