"""AnnData targets: what an S2F model learns to predict, and their normalisation.

A *target* is the accessibility of one region in one cell type. For every (platform, level)
of a study the pseudobulk insertion counts become one AnnData in the layout CREsted uses:
``obs`` are the cell types (the model's outputs), ``var`` are the regions, named
``chrom:start-end`` with columns ``chrom``, ``start``, ``end`` (and ``fold`` once the
split is known), and ``X`` is a float32 ``(n_cell_types, n_regions)`` matrix.

Two CREsted steps follow the published protocol (PROTOCOL.md): peak-height normalisation
across cell types (:func:`normalize_peak_heights`, ``crested.pp.normalize_peaks``) and
the Gini-based choice of cell-type-specific regions used for fine-tuning
(:func:`specific_regions`, ``crested.pp.filter_regions_on_specificity``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import anndata
import numpy as np
import pandas as pd
from scipy import sparse

from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.atomic import atomic_path

logger = logging.getLogger(__name__)

NORMALIZATIONS = ("counts", "cpm", "log1p_cpm", "mean_cpm")
"""Valid values of ``build_targets(normalization=...)``."""

_REGION_COLUMNS = ("chrom", "start", "end")
# CREsted adds this to every value before computing a Gini coefficient, so an all-zero
# region scores 0 instead of 0/0.
_GINI_OFFSET = 1e-7


def build_targets(
    counts: np.ndarray,
    cell_types: Sequence[str],
    regions: pd.DataFrame,
    library_sizes: np.ndarray,
    *,
    window: int,
    normalization: str = "log1p_cpm",
    uns: dict | None = None,
) -> anndata.AnnData:
    """Turn pseudobulk Tn5 insertion counts into a CREsted-style target AnnData.

    Each cell type's pseudobulk has its own sequencing depth, so raw counts are not
    comparable across cell types. Dividing by the cell type's genome-wide number of
    insertions (its library size) and multiplying by a million gives counts per million
    (CPM). The published mouse protocol trains on the mean of a CPM-normalised insertion
    coverage bigWig over the central window of each region (CREsted ``target="mean"``):
    every insertion adds one to the coverage at its base, so that mean is exactly
    ``cpm / window``, which ``"mean_cpm"`` computes without writing the bigWig.

    ========== =====================================
    name       ``X``
    ========== =====================================
    counts     raw counts
    cpm        ``counts / library_size * 1e6``
    log1p_cpm  ``log(1 + cpm)``
    mean_cpm   ``cpm / window``
    ========== =====================================

    Parameters
    ----------
    counts
        ``(n_cell_types, n_regions)`` insertion counts in a window of ``window`` bp
        centred on each region; finite and non-negative.
    cell_types
        ``n_cell_types`` unique names, in the row order of ``counts``.
    regions
        ``n_regions`` rows with columns ``chrom``, ``start``, ``end`` (0-based,
        half-open) and optionally ``fold``, in the column order of ``counts``.
    library_sizes
        ``(n_cell_types,)`` total insertions per cell type genome-wide, positive.
    window
        Width in bp of the window the counts were taken over, positive.
    normalization
        One of :data:`NORMALIZATIONS`.
    uns
        Metadata to carry along (platform, level, seed, ...); must not use the keys
        ``normalization`` or ``window``, which are always recorded.

    Returns
    -------
    anndata.AnnData
        ``X`` float32 targets; ``layers["counts"]`` float32 raw counts;
        ``obs["n_insertions"]`` the library sizes; ``var`` indexed by
        ``chrom:start-end``; ``uns`` the metadata plus ``normalization`` and ``window``.

    Raises
    ------
    AtlasbenchError
        On an unknown normalisation, mismatched shapes or invalid values.
    """
    if normalization not in NORMALIZATIONS:
        raise AtlasbenchError(
            f"unknown target normalization {normalization!r}; valid names: {', '.join(NORMALIZATIONS)}"
        )
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window <= 0:
        raise AtlasbenchError(f"window must be a positive integer number of bp, got {window!r}")
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2:
        raise AtlasbenchError(f"counts must be a 2-D (cell types x regions) matrix, got shape {counts.shape}")
    n_cell_types, n_regions = counts.shape
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise AtlasbenchError("counts must be finite and non-negative")
    cell_types = [str(name) for name in cell_types]
    if len(cell_types) != n_cell_types:
        raise AtlasbenchError(f"{len(cell_types)} cell type names for {n_cell_types} rows of counts")
    if len(set(cell_types)) != n_cell_types:
        raise AtlasbenchError("cell type names must be unique")
    library_sizes = np.asarray(library_sizes)
    if library_sizes.shape != (n_cell_types,):
        raise AtlasbenchError(
            f"library_sizes must have shape ({n_cell_types},), one per cell type, got {library_sizes.shape}"
        )
    if not np.issubdtype(library_sizes.dtype, np.number) or not np.all(library_sizes > 0):
        raise AtlasbenchError("library_sizes must be positive numbers")
    var = _region_table(regions, n_regions)
    metadata = dict(uns or {})
    clash = {"normalization", "window"} & metadata.keys()
    if clash:
        raise AtlasbenchError(f"uns must not set {sorted(clash)}: build_targets records them itself")

    cpm = counts / library_sizes[:, None].astype(np.float64) * 1e6
    values = {
        "counts": counts,
        "cpm": cpm,
        "log1p_cpm": np.log1p(cpm),
        "mean_cpm": cpm / window,
    }[normalization]

    obs = pd.DataFrame({"n_insertions": library_sizes}, index=pd.Index(cell_types))
    adata = anndata.AnnData(
        X=values.astype(np.float32),
        obs=obs,
        var=var,
        layers={"counts": counts.astype(np.float32)},
        uns={**metadata, "normalization": normalization, "window": int(window)},
    )
    logger.info(
        "built %s targets: %d cell types x %d regions, window %d bp", normalization, n_cell_types, n_regions, window
    )
    return adata


def _region_table(regions: pd.DataFrame, n_regions: int) -> pd.DataFrame:
    """Validate the region table and index it by ``chrom:start-end``."""
    missing = [c for c in _REGION_COLUMNS if c not in regions.columns]
    if missing:
        raise AtlasbenchError(f"regions lacks column(s) {missing}; expected chrom, start, end (and optionally fold)")
    if len(regions) != n_regions:
        raise AtlasbenchError(f"{len(regions)} regions for {n_regions} columns of counts")
    columns = [*_REGION_COLUMNS, *(["fold"] if "fold" in regions.columns else [])]
    var = regions[columns].reset_index(drop=True)
    var["chrom"] = var["chrom"].astype(str)
    try:
        var["start"] = var["start"].astype(np.int64)
        var["end"] = var["end"].astype(np.int64)
    except (TypeError, ValueError) as err:
        raise AtlasbenchError(f"region start and end must be integers: {err}") from err
    if np.any(var["end"].to_numpy() <= var["start"].to_numpy()):
        raise AtlasbenchError("every region must have end > start")
    var.index = pd.Index(var["chrom"] + ":" + var["start"].astype(str) + "-" + var["end"].astype(str))
    duplicated = var.index[var.index.duplicated()]
    if len(duplicated):
        raise AtlasbenchError(f"duplicate regions, e.g. {duplicated[0]}")
    return var


def gini(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Gini coefficient of non-negative values along one axis, as CREsted computes it.

    The Gini coefficient measures how unequally a total is shared: 0 when every entry is
    the same, ``(n - 1) / n`` when one of ``n`` entries holds everything. Across the cell
    types of a region it scores cell-type specificity. With the values sorted ascending,
    ``G = sum_i (2 i - n - 1) x_i / (n sum_i x_i)`` (``i`` from 1).

    Like CREsted's ``crested.pp._utils._calc_gini``, negative values are clipped to 0
    and ``1e-7`` is added to every value, so an all-zero vector scores 0 rather than 0/0
    (and other scores move by about ``1e-7`` relative to their sum). CREsted loops over
    rows and stores the scores in the input's dtype (float32 for targets); this
    computes them vectorised in float64, so scores agree to float32 rounding.

    Parameters
    ----------
    x
        Array of any shape.
    axis
        Axis along which to compute the coefficient; it must not be empty.

    Returns
    -------
    numpy.ndarray
        float64 array of ``x``'s shape without ``axis``.
    """
    x = np.sort(np.clip(np.asarray(x, dtype=np.float64), 0.0, None) + _GINI_OFFSET, axis=axis)
    n = x.shape[axis]
    if n == 0:
        raise AtlasbenchError("cannot compute a Gini coefficient over an empty axis")
    shape = [1] * x.ndim
    shape[axis] = n
    weights = (2 * np.arange(1, n + 1) - n - 1).reshape(shape)
    return (weights * x).sum(axis=axis) / (n * x.sum(axis=axis))


def _dense_x(adata: anndata.AnnData) -> np.ndarray:
    """``adata.X`` as a dense array (CREsted accepts CSR targets too)."""
    if sparse.issparse(adata.X):
        # scipy-stubs narrow issparse() to a bare ABC without the matrix methods
        return cast("sparse.csr_matrix | sparse.csc_matrix", adata.X).toarray()
    return np.asarray(adata.X)


def _gini_threshold(region_gini: np.ndarray, gini_std_threshold: float, sign: int) -> float:
    """CREsted's cut-off: mean of the region Gini scores plus ``sign * gini_std_threshold`` SDs."""
    return float(region_gini.mean() + sign * gini_std_threshold * region_gini.std())


def normalize_peak_heights(
    adata: anndata.AnnData,
    top_k_percent: float = 0.03,
    *,
    gini_std_threshold: float = 1.0,
    peak_threshold: float = 0.0,
) -> anndata.AnnData:
    """Rescale each cell type so its strongest ubiquitous peaks have the same height.

    Pseudobulks differ in depth, signal-to-noise and the fraction of insertions in peaks,
    so even after CPM the same constitutive enhancer can look twice as high in one cell
    type as in another. A model would learn that as biology. Following
    ``crested.pp.normalize_peaks``, each cell type is scaled by a factor taken from its
    strongest peaks that are *not* cell-type specific, whose height should be comparable:

    1. Score every region by its Gini coefficient across cell types (:func:`gini`); call
       a region *low-Gini* (ubiquitous) when its score is below
       ``mean - gini_std_threshold * std`` of all regions' scores (strictly, population SD).
    2. For each cell type, take its top ``floor(n * top_k_percent)`` regions by value,
       ``n`` being the number of regions whose value exceeds ``peak_threshold``.
    3. The cell type's reference height is the mean of its values over those top
       regions that are low-Gini.
    4. Its factor is ``max(reference heights) / reference height``; ``X`` is multiplied
       by it, so every cell type is raised to the height of the highest one.

    CREsted writes the factors to ``adata.obsm["weights"]``, changes ``X`` in place and
    returns the ``var`` rows of the union of reference regions. Here they go to
    ``obs["peak_height_factor"]`` and ``var["peak_height_reference"]`` (a boolean
    mask) of a new AnnData. Deliberate differences:

    - CREsted ranks the values *left after* dropping those ``<= peak_threshold`` but
      uses those ranks as positions in the full region list, so with any such value
      (a zero, at the default threshold) the Gini filter looks at the wrong regions.
      Here the ranks stay region positions; with every value above the threshold both
      give the same regions, ties broken the same way (descending ``np.argsort``).
    - A cell type with no low-Gini region among its top ones gets a reference height 0
      and an infinite factor in CREsted; here it raises :class:`AtlasbenchError`.
    - Means and factors are computed in float64 and ``X`` cast back to its dtype.

    Parameters
    ----------
    adata
        Targets, ``(n_cell_types, n_regions)``, finite values.
    top_k_percent
        Fraction (not percent) of each cell type's regions defining its reference
        peaks; 0.03 in the published mouse protocol (CREsted's default is 0.01).
    gini_std_threshold
        Standard deviations below the mean Gini score under which a region counts as
        ubiquitous; CREsted's default 1.0.
    peak_threshold
        Values at or below it do not count towards ``n``; CREsted's default 0.

    Returns
    -------
    anndata.AnnData
        A new AnnData (``adata`` is not modified) with the rescaled ``X``,
        ``obs["peak_height_factor"]``, ``var["peak_height_reference"]`` and the
        parameters in ``uns["peak_height_normalization"]``.

    Raises
    ------
    AtlasbenchError
        On a ``top_k_percent`` outside (0, 1], non-finite targets, or a cell type
        without a reference peak.
    """
    if not 0 < top_k_percent <= 1:
        raise AtlasbenchError(f"top_k_percent is a fraction in (0, 1], got {top_k_percent}")
    x = _dense_x(adata)
    if not np.all(np.isfinite(x)):
        raise AtlasbenchError("targets contain NaN or infinite values; cannot normalise peak heights")
    n_regions = x.shape[1]

    region_gini = gini(x, axis=0)
    low_gini = region_gini < _gini_threshold(region_gini, gini_std_threshold, sign=-1)

    top_k = np.floor((x > peak_threshold).sum(axis=1) * top_k_percent).astype(np.int64)
    order = np.argsort(x, axis=1)[:, ::-1]
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(n_regions), order.shape), axis=1)
    reference = (rank < top_k[:, None]) & low_gini[None, :]

    n_reference = reference.sum(axis=1)
    lacking = adata.obs_names[n_reference == 0]
    if len(lacking):
        raise AtlasbenchError(
            f"no ubiquitous (low-Gini) region among the top {top_k_percent:.1%} regions of cell type(s) "
            f"{', '.join(lacking)}; raise top_k_percent or gini_std_threshold"
        )
    heights = np.where(reference, x, 0.0).sum(axis=1, dtype=np.float64) / n_reference
    factors = heights.max() / heights
    if not np.all(np.isfinite(factors) & (factors > 0)):
        raise AtlasbenchError("reference peak heights must be positive; are the targets non-negative?")

    out = adata.copy()
    out.X = (x * factors[:, None]).astype(x.dtype)
    out.obs["peak_height_factor"] = factors
    out.var["peak_height_reference"] = reference.any(axis=0)
    out.uns["peak_height_normalization"] = {
        "top_k_percent": float(top_k_percent),
        "gini_std_threshold": float(gini_std_threshold),
        "peak_threshold": float(peak_threshold),
    }
    logger.info(
        "peak-height factors from %d reference regions: %s",
        int(reference.any(axis=0).sum()),
        ", ".join(f"{name}={f:.3g}" for name, f in zip(adata.obs_names, factors)),
    )
    return out


def specific_regions(adata: anndata.AnnData, gini_std_threshold: float = 1.0) -> np.ndarray:
    """Mask of cell-type-specific regions, the published fine-tuning set.

    After training on all regions, the published protocol fine-tunes on regions whose
    accessibility is concentrated in few cell types, where enhancer logic differs most.
    Following ``crested.pp.filter_regions_on_specificity``, a region is specific when
    the Gini coefficient of its targets across cell types (:func:`gini`) is strictly
    above ``mean + gini_std_threshold * std`` of all regions' coefficients (population
    SD). CREsted subsets ``adata`` in place (or returns a copy); this returns the mask,
    so ``adata[:, mask]`` gives the same regions.

    Parameters
    ----------
    adata
        Targets, ``(n_cell_types, n_regions)``; ``X`` is scored.
    gini_std_threshold
        Standard deviations above the mean Gini score; 1.0 in the published protocol.

    Returns
    -------
    numpy.ndarray
        Boolean ``(n_regions,)``, True for specific regions.
    """
    region_gini = gini(_dense_x(adata), axis=0)
    mask = region_gini > _gini_threshold(region_gini, gini_std_threshold, sign=1)
    logger.info("specificity filter kept %d of %d regions", int(mask.sum()), mask.size)
    return mask


def write_targets(adata: anndata.AnnData, path: str | os.PathLike[str]) -> Path:
    """Write targets to ``path`` as gzip-compressed ``.h5ad``, atomically.

    Parameters
    ----------
    adata
        Targets to write.
    path
        Destination file; parent folders are created.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp, compression="gzip")
    logger.info("wrote targets %s (%d cell types x %d regions)", path, adata.n_obs, adata.n_vars)
    return path


def read_targets(path: str | os.PathLike[str]) -> anndata.AnnData:
    """Read targets written by :func:`write_targets` (or by CREsted).

    Parameters
    ----------
    path
        An ``.h5ad`` file.

    Returns
    -------
    anndata.AnnData
        The targets, loaded into memory.

    Raises
    ------
    AtlasbenchError
        When the file is missing, is not a readable ``.h5ad`` (truncated, damaged) or
        lacks the region columns ``chrom``, ``start``, ``end``.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "targets file not found")
    try:
        adata = anndata.read_h5ad(path)
    except (OSError, KeyError, ValueError) as err:
        raise input_error(path, f"cannot read targets, the .h5ad file is damaged or incomplete ({err})") from err
    missing = [c for c in _REGION_COLUMNS if c not in adata.var.columns]
    if missing:
        raise input_error(path, f"not a targets file: var lacks column(s) {missing}")
    return adata
