"""Library complexity of each cell and the sequencing depth at which a platform saturates.

A cell's library holds ``M`` distinct fragments; sequencing ``R`` reads draws from them
at random, so the unique fragments seen grow as ``U(R) = M (1 - exp(-R / M))`` (the
Lander-Waterman law that Picard's ``EstimateLibraryComplexity`` solves too). From one
cell's reads and unique fragments (the QC table's ``n_reads`` and ``n_fragments``) that
law gives its complexity ``M``; over a platform's cells, the mean of the cells' curves is
the platform's saturation curve, and the depth at which it reaches 95% of the mean
complexity is its saturation depth: reads per cell beyond it add few new fragments.
Complexity varies between cells (log-normally, in real data and in the simulator), so
this depth lies above ``median(M) ln 20``, the depth of a typical cell.
"""

from __future__ import annotations

import numpy as np

#: Share of the library at which a platform is called saturated.
SATURATION_FRACTION = 0.95


def library_complexity(unique: np.ndarray, reads: np.ndarray) -> np.ndarray:
    """Complexity of each library from its unique fragments and reads.

    Solves ``U = M (1 - exp(-R / M))`` for ``M`` by bisection (vectorised, to relative
    precision 1e-12). A library with no duplicate (``U >= R``) or no fragment has no
    finite estimate: NaN.

    Parameters
    ----------
    unique
        Unique fragments of each library (``n_fragments``).
    reads
        Reads of each library (``n_reads``: unique fragments times their duplicates).

    Returns
    -------
    numpy.ndarray
        Complexity ``M`` of each library (float; NaN where undefined).
    """
    u = np.asarray(unique, dtype=float)
    r = np.asarray(reads, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = u / r  # h(g) = g (1 - exp(-1/g)) = x, with M = g R; h rises from 0 to 1
    ok = (u > 0) & (r > 0) & (x < 1)
    x = np.where(ok, x, 0.5)
    # h(g) <= g, and h(g) >= 1 - 1/(2g): the root lies in [x, 1 / (2 (1 - x))]
    low, high = np.log(x), np.log(np.maximum(x, 0.5 / (1 - x)))
    for _ in range(80):
        middle = (low + high) / 2
        g = np.exp(middle)
        below = g * -np.expm1(-1 / g) < x
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return np.where(ok, np.exp((low + high) / 2) * r, np.nan)


def saturation_curve(complexity: np.ndarray, reads_per_cell: np.ndarray | float) -> np.ndarray:
    """Mean unique fragments per cell at each depth, over cells of the given complexities.

    Parameters
    ----------
    complexity
        Complexity of each cell (NaNs are left out).
    reads_per_cell
        Depths (reads per cell).

    Returns
    -------
    numpy.ndarray
        ``mean_i M_i (1 - exp(-R / M_i))`` for each depth ``R``, shaped like ``reads_per_cell``.
    """
    m = _finite(complexity)
    r = np.asarray(reads_per_cell, dtype=float)
    return (m * -np.expm1(-r[..., None] / m)).mean(axis=-1)


def saturation_depth(complexity: np.ndarray, fraction: float = SATURATION_FRACTION) -> float:
    """Reads per cell at which the cells' mean unique fragments reach ``fraction`` of their mean complexity.

    Parameters
    ----------
    complexity
        Complexity of each cell (NaNs are left out).
    fraction
        Share of the mean complexity, between 0 and 1.

    Returns
    -------
    float
        The depth (by bisection, to relative precision 1e-9); NaN when no cell has a
        finite complexity.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    m = _finite(complexity)
    if m.size == 0:
        return float("nan")
    goal, per_cell = fraction * m.mean(), -np.log1p(-fraction) * m  # each cell's own depth brackets the mean's
    low, high = float(per_cell.min()), float(per_cell.max())
    while high - low > 1e-9 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if saturation_curve(m, middle) < goal else (low, middle)
    return (low + high) / 2


def _finite(complexity: np.ndarray) -> np.ndarray:
    m = np.asarray(complexity, dtype=float).ravel()
    return m[np.isfinite(m) & (m > 0)]
