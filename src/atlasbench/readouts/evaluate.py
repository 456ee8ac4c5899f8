"""Evaluation: how well a model's predictions match the targets of one platform.

A sequence-to-function model predicts, for every region it is shown, one value per cell
type. Predictions are stored like targets (see :mod:`atlasbench.data.targets`): an AnnData
whose ``obs`` are the cell types the model predicts and whose ``var`` are the regions
predicted (typically the held-out test fold), named ``chrom:start-end``.

Two questions are asked of the ``(n_regions, n_cell_types)`` matrices of predicted and
observed values, both answered with Pearson (linear) and Spearman (rank) correlations:

- *Per cell type*, across regions: does the model rank the regions of one cell type by
  accessibility? This is the published "test Pearson" (PROTOCOL.md), averaged over cell
  types in ``pearson_mean``.
- *Per region*, across cell types: does the model know in which cell types a region is
  open? Averaged over regions in ``pearson_across_cell_types``, it scores specificity,
  which a model can miss while ranking regions well (a region open everywhere and a
  region open in one cell type can have the same mean).

The same model is evaluated against several target sets (its own platform's test fold,
a common reference platform, another platform), told apart by the ``against`` column.
Results are tidy rows (``cell_type``, ``metric``, ``value``) that :func:`tidy` labels
with the study's grid coordinates (:data:`TIDY_COLUMNS`) for the report.
"""

from __future__ import annotations

import logging
from typing import cast

import anndata
import numpy as np
import pandas as pd
from scipy import sparse

from atlasbench.errors import AtlasbenchError
from atlasbench.models.metrics import MIN_REGIONS, correlations

logger = logging.getLogger(__name__)

TIDY_COLUMNS: tuple[str, ...] = (
    "platform",
    "level",
    "reads_per_cell",
    "n_cells",
    "fold_scheme",
    "fold",
    "seed",
    "model",
    "against",
    "cell_type",
    "metric",
    "value",
)
"""Column order of a study's evaluation table, as :func:`tidy` returns it: the grid point
(``level`` key, achieved mean reads per cell and number of cells), fold scheme, test fold,
seed, architecture, what the predictions are compared with, and the metric."""

# How many names an alignment error shows from each side.
_SHOW_NAMES = 5


def evaluate_against(predictions: anndata.AnnData, targets: anndata.AnnData, against: str) -> pd.DataFrame:
    """Score predictions against one set of targets, matched by region and cell type name.

    Predictions and targets need not list the same regions or cell types in the same
    order: a model trained on one platform is scored against the test regions of
    another, or against a reference whose cell types are a subset. The regions scored
    are those of ``predictions.var_names`` also in ``targets.var_names``, in the
    predictions' order; the cell types are those in both ``obs_names``, in the
    predictions' order. Cell types on one side only are logged and skipped. Then
    :func:`correlations` scores the matched ``(n_regions, n_cell_types)`` matrices.

    Sparse ``X`` (``scipy.sparse``) is subset before it is densified, so a large target
    matrix is never made dense whole.

    Parameters
    ----------
    predictions
        ``(n_cell_types, n_regions)`` predictions in the targets' layout: ``obs_names``
        cell types, ``var_names`` regions ``chrom:start-end``, both unique.
    targets
        ``(n_cell_types, n_regions)`` targets (:func:`atlasbench.data.targets.build_targets`).
    against
        Label of the target set, e.g. ``"own"``, ``"reference"``, ``"platform:hydrop"``.

    Returns
    -------
    pandas.DataFrame
        Columns ``against``, ``cell_type``, ``metric``, ``value``: the rows of
        :func:`correlations` with ``against`` added.

    Raises
    ------
    AtlasbenchError
        On duplicate names, when no cell type or fewer than 3 regions are shared
        (the message shows some names from each side), or on the errors of
        :func:`correlations`.
    """
    if not isinstance(against, str) or not against:
        raise AtlasbenchError(f"against must be a non-empty label, got {against!r}")
    for side, adata in (("predictions", predictions), ("targets", targets)):
        for axis, names in (("cell type", adata.obs_names), ("region", adata.var_names)):
            duplicated = names[names.duplicated()]
            if len(duplicated):
                raise AtlasbenchError(f"{side} ({against}) has duplicate {axis} names, e.g. {duplicated[0]!r}")

    target_cell_types = pd.Index(targets.obs_names)
    shared_cell_types = [name for name in predictions.obs_names if name in target_cell_types]
    if not shared_cell_types:
        raise AtlasbenchError(
            f"predictions and targets ({against}) share no cell type: predictions have "
            f"{_some(predictions.obs_names)}, targets have {_some(targets.obs_names)}"
        )
    only_predicted = [name for name in predictions.obs_names if name not in target_cell_types]
    predicted_cell_types = set(predictions.obs_names)
    only_observed = [name for name in targets.obs_names if name not in predicted_cell_types]
    if only_predicted:
        logger.info("%s: skipping cell type(s) not in the targets: %s", against, ", ".join(only_predicted))
    if only_observed:
        logger.info("%s: skipping cell type(s) not predicted: %s", against, ", ".join(only_observed))

    target_regions = pd.Index(targets.var_names)
    in_targets = target_regions.get_indexer(predictions.var_names) >= 0
    shared_regions = predictions.var_names[in_targets]
    if len(shared_regions) < MIN_REGIONS:
        raise AtlasbenchError(
            f"predictions and targets ({against}) share {len(shared_regions)} region(s), need at least "
            f"{MIN_REGIONS}: predictions have {_some(predictions.var_names)}, targets have "
            f"{_some(targets.var_names)} (do the chromosome names match, e.g. 'chr1' vs '1'?)"
        )
    n_missing = int((~in_targets).sum())
    if n_missing:
        logger.info(
            "%s: %d of %d predicted regions are not in the targets; skipped", against, n_missing, in_targets.size
        )

    predicted = _slice(
        predictions,
        pd.Index(predictions.obs_names).get_indexer(shared_cell_types),
        np.flatnonzero(in_targets),
    )
    observed = _slice(
        targets,
        target_cell_types.get_indexer(shared_cell_types),
        target_regions.get_indexer(shared_regions),
    )
    logger.info(
        "evaluating against %s: %d regions x %d cell types", against, len(shared_regions), len(shared_cell_types)
    )
    table = correlations(predicted.T, observed.T, shared_cell_types)
    table.insert(0, "against", against)
    return table


def tidy(rows: pd.DataFrame, **labels: object) -> pd.DataFrame:
    """Label evaluation rows with their place in the study grid.

    Every evaluation of a study goes into one long table, one value per row, so that
    the report can group and plot it any way (by platform, depth, cell count, ...).
    :func:`evaluate_against` gives the ``against``, ``cell_type``, ``metric`` and
    ``value`` columns; the others of :data:`TIDY_COLUMNS` (``platform``,
    ``reads_per_cell``, ``n_cells``, ``fold_scheme``, ``fold``, ``seed``, ``model``)
    are constant for one evaluation and come as keyword labels, e.g.
    ``tidy(rows, platform="hydrop", reads_per_cell=36000, ...)``. A column of
    :data:`TIDY_COLUMNS` may come from ``rows`` or from a label, never both.

    Parameters
    ----------
    rows
        Evaluation rows whose columns are all in :data:`TIDY_COLUMNS`.
    **labels
        One scalar (``None`` allowed, e.g. for "all reads") for each column of
        :data:`TIDY_COLUMNS` that ``rows`` lacks.

    Returns
    -------
    pandas.DataFrame
        A new frame with the columns of :data:`TIDY_COLUMNS`, in that order.

    Raises
    ------
    AtlasbenchError
        On missing labels, labels that are not columns of :data:`TIDY_COLUMNS` or
        that ``rows`` already has, non-scalar labels, or unknown columns in ``rows``.
    """
    unknown_columns = [c for c in rows.columns if c not in TIDY_COLUMNS]
    if unknown_columns:
        raise AtlasbenchError(
            f"rows have column(s) {unknown_columns} outside the evaluation table's {list(TIDY_COLUMNS)}"
        )
    extra = [name for name in labels if name not in TIDY_COLUMNS]
    if extra:
        raise AtlasbenchError(f"unknown label(s) {extra}; labels are columns of {list(TIDY_COLUMNS)}")
    clash = [name for name in labels if name in rows.columns]
    if clash:
        raise AtlasbenchError(f"label(s) {clash} are already columns of the rows")
    missing = [c for c in TIDY_COLUMNS if c not in rows.columns and c not in labels]
    if missing:
        raise AtlasbenchError(f"missing label(s) {missing} for the evaluation table")
    not_scalar = [name for name, value in labels.items() if not pd.api.types.is_scalar(value)]
    if not_scalar:
        raise AtlasbenchError(f"label(s) {not_scalar} must be single values, one per evaluation")

    table = rows.copy()
    for name, value in labels.items():
        table[name] = value
    return table[list(TIDY_COLUMNS)].reset_index(drop=True)


def _slice(adata: anndata.AnnData, obs: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Dense float64 ``X[obs][:, var]``, densifying only the slice of a sparse ``X``."""
    x = adata.X
    if sparse.issparse(x):
        # scipy-stubs narrow issparse() to a bare ABC without the matrix methods
        rows = cast("sparse.csr_matrix | sparse.csc_matrix", x)[obs, :]
        return sparse.csr_matrix(rows)[:, var].toarray().astype(np.float64)
    return np.asarray(np.asarray(x)[np.ix_(obs, var)], dtype=np.float64)


def _some(names: pd.Index) -> str:
    """A few of ``names`` for an error message, with how many there are."""
    shown = ", ".join(repr(str(name)) for name in names[:_SHOW_NAMES])
    more = f", ... ({len(names)} in all)" if len(names) > _SHOW_NAMES else ""
    return f"[{shown}{more}]" if len(names) else "none"
