"""Nested downsampling of reads (sequencing depth) and of cells.

**Depth.** A fragment's ``count`` is the number of read pairs sequenced from it. A
shallower sequencing run of the same library keeps each read independently with
probability ``p``; the fragment is still observed if at least one of its reads is kept.
Duplicated fragments therefore survive more often than singletons, which is what makes
unique fragments saturate as depth grows. Thinning is *nested*: the reads kept at a lower
level are a subset of those kept at every higher one, obtained by thinning the top level
and then thinning each level's kept reads again by ``p_lower / p_higher`` (a chain of
binomial draws). One pass over the fragments gives every level at once.

**Cells.** Cells are put in one random order that is *stratified* by cell type: within a
type the cells are shuffled, and the i-th of ``n_t`` cells of type ``t`` gets the key
``(i + 0.5) / n_t``; sorting all cells by key (ties broken at random) gives an order
whose every prefix holds each cell type in proportion, to within one cell. A level of
``n`` cells is the first ``n`` cells of that order, so levels are nested.

Both are seeded: same seed, same kept reads and cells.

**Draws.** A model is trained on one *draw* of its grid point: the grid point's cells and
reads taken from the platform's library with a seed of their own (:func:`draw_seed`), one
per grid point and test fold. Two test folds of one grid point are then trained on two
independent samples of the library, as a second library of the same platform would give,
so the scatter between them carries the library's sampling noise, not only training's;
grid points are drawn independently of each other too. Only the full data (every read of
every cell) is the same in every draw.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from atlasbench.errors import AtlasbenchError

ALL = "all"


def draw_seed(seed: int, level: str, fold: int) -> int:
    """Seed of the draw a grid point's model of one test fold is trained on.

    Parameters
    ----------
    seed
        The study's seed.
    level
        The grid point's level key (``reads-R_cells-C``).
    fold
        The test fold.

    Returns
    -------
    int
        A 63-bit seed, the same for the same arguments on every machine, unrelated for
        different ones (the first 8 bytes of a SHA-256 of them).
    """
    digest = hashlib.sha256(f"draw/{seed}/{level}/{fold}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def depth_probabilities(levels: Sequence[int | str], mean_reads_per_cell: float) -> np.ndarray:
    """Read-keeping probability of each depth level.

    Parameters
    ----------
    levels
        Target mean reads per cell, or ``"all"`` for the full data; must be increasing
        (``"all"`` last).
    mean_reads_per_cell
        Mean reads (sum of fragment counts) per cell of the full data.

    Returns
    -------
    numpy.ndarray
        float64 probabilities, one per level, increasing, in (0, 1].
    """
    probs = []
    for level in levels:
        if level == ALL:
            probs.append(1.0)
            continue
        if not isinstance(level, (int, np.integer)) or level <= 0:
            raise AtlasbenchError(f"reads_per_cell level must be a positive integer or 'all', got {level!r}")
        if level > mean_reads_per_cell:
            raise AtlasbenchError(
                f"reads_per_cell level {level} is above the data's mean of {mean_reads_per_cell:,.0f} reads per "
                "cell; a shallower run cannot have more reads (use 'all' for the full data)"
            )
        probs.append(level / mean_reads_per_cell)
    p = np.asarray(probs, dtype=np.float64)
    if np.any(np.diff(p) <= 0):
        raise AtlasbenchError(f"reads_per_cell levels must be strictly increasing, got {list(levels)}")
    return p


def read_levels(count: np.ndarray, probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lowest depth level keeping each read.

    Every read gets one uniform draw and is kept at each level whose ``p`` exceeds it,
    so a read kept at a level is kept at every higher one (the nesting).

    Parameters
    ----------
    count
        Read pairs per fragment, shape (n,), >= 1.
    probs
        Increasing keep probabilities, shape (L,), as from :func:`depth_probabilities`.
    rng
        Random generator (seeded by the caller).

    Returns
    -------
    numpy.ndarray
        int8 array of shape (count.sum(),), the reads of fragment 0 first, then those of
        fragment 1, ...: the index of the lowest level keeping the read, ``L`` if none.
        Work and memory are proportional to the reads.
    """
    return draw_levels(rng.random(int(count.sum())), probs)


def draw_levels(draw: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Lowest depth level keeping each read, from its uniform draw (:func:`read_levels`).

    Parameters
    ----------
    draw
        One uniform draw per read.
    probs
        Increasing keep probabilities, shape (L,).

    Returns
    -------
    numpy.ndarray
        int8 array like ``draw``: the index of the lowest level keeping the read, ``L`` if none.
    """
    lowest = np.zeros(len(draw), dtype=np.int8)
    for p in probs:
        lowest += draw >= p
    return lowest


def first_level(count: np.ndarray, lowest: np.ndarray) -> np.ndarray:
    """Lowest depth level at which each fragment is observed: the lowest of its reads'.

    Parameters
    ----------
    count
        Read pairs per fragment, shape (n,).
    lowest
        Per-read levels from :func:`read_levels`.

    Returns
    -------
    numpy.ndarray
        int8 array of shape (n,); ``L`` for a fragment observed at no level.
    """
    if len(count) == 0:
        return np.zeros(0, dtype=np.int8)
    return np.minimum.reduceat(lowest, np.concatenate([[0], np.cumsum(count)[:-1]]))


def thin_reads(count: np.ndarray, probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Reads kept per fragment at each nested depth level.

    Parameters
    ----------
    count
        Read pairs per fragment, shape (n,), >= 1.
    probs
        Increasing keep probabilities, shape (L,), as from :func:`depth_probabilities`.
    rng
        Random generator (seeded by the caller); the same draws as :func:`read_levels`.

    Returns
    -------
    numpy.ndarray
        int64 array of shape (L, n): reads kept at each level, nested
        (``kept[l] <= kept[l + 1]``) and ``kept[l] ~ Binomial(count, probs[l])``.
        A fragment is observed at level ``l`` when ``kept[l] > 0``.
    """
    n_levels = len(probs)
    lowest = read_levels(count, probs, rng)
    fragment = np.repeat(np.arange(len(count)), count)
    per_level = np.bincount(fragment * (n_levels + 1) + lowest, minlength=len(count) * (n_levels + 1))
    return np.ascontiguousarray(np.cumsum(per_level.reshape(len(count), n_levels + 1)[:, :n_levels], axis=1).T)


def cell_order(cell_types: np.ndarray, seed: int) -> np.ndarray:
    """Rank of each cell in the stratified, nested cell order (see module docstring).

    Parameters
    ----------
    cell_types
        Cell type label (any comparable dtype) of each cell, shape (n,).
    seed
        Seed of the shuffle.

    Returns
    -------
    numpy.ndarray
        int64 rank of each cell, a permutation of 0..n-1: a level of ``m`` cells keeps
        the cells with rank < m.
    """
    rng = np.random.default_rng(seed)
    n = len(cell_types)
    key = np.empty(n, dtype=np.float64)
    for label in np.unique(cell_types):
        members = np.flatnonzero(cell_types == label)
        shuffled = rng.permutation(members)
        key[shuffled] = (np.arange(len(members)) + 0.5) / len(members)
    tiebreak = rng.random(n)
    order = np.lexsort((tiebreak, key))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank


def cell_levels(levels: Sequence[int | str], n_cells: int) -> np.ndarray:
    """Number of cells of each cell level.

    Parameters
    ----------
    levels
        Cell counts, or ``"all"``; increasing.
    n_cells
        Cells in the full data.

    Returns
    -------
    numpy.ndarray
        int64 cell counts, increasing.
    """
    sizes = []
    for level in levels:
        if level == ALL:
            sizes.append(n_cells)
            continue
        if not isinstance(level, (int, np.integer)) or level <= 0:
            raise AtlasbenchError(f"cells level must be a positive integer or 'all', got {level!r}")
        if level > n_cells:
            raise AtlasbenchError(f"cells level {level} is above the {n_cells} annotated cells of the data")
        sizes.append(int(level))
    out = np.asarray(sizes, dtype=np.int64)
    if np.any(np.diff(out) <= 0):
        raise AtlasbenchError(f"cells levels must be strictly increasing, got {list(levels)}")
    return out


def first_cell_level(rank: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Index of the smallest cell level that includes each cell (``len(sizes)``: none).

    Parameters
    ----------
    rank
        Cell ranks from :func:`cell_order`.
    sizes
        Increasing cell counts from :func:`cell_levels`.

    Returns
    -------
    numpy.ndarray
        int8 level index per cell.
    """
    return np.searchsorted(sizes, rank, side="right").astype(np.int8)
