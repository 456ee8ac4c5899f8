"""The compiled inner loop of pseudobulk: one batch of fragments into the level accumulators.

:func:`atlasbench.data.pseudobulk.pseudobulk` streams the store; for each batch this loop
goes over the fragments once, in order, and for each one:

* finds the lowest depth level keeping each of its reads (the read's uniform draw against
  the levels' keep probabilities, as :func:`atlasbench.data.sampling.read_levels` does),
  and so the lowest level at which the fragment is observed;
* adds its reads and the fragment to its cell's saturation counts, and its two
  insertions to its (depth level, cell level, cell type) library size;
* locates each insertion among the elementary segments of the target windows
  (:class:`atlasbench.io.intervals.Segments`): fragments come sorted by start, so a
  pointer walks the segment bounds instead of a binary search per insertion (a binary
  search starts each chromosome, and each part of a combined store);
* counts it in its segment's accumulator cell, and in its cell's insertions in regions.

The counts are exactly those of the vectorised formulation (kept for reference in the
tests); the loop releases the GIL, so the next batch is read while one is counted.
"""

from __future__ import annotations

import numba
import numpy as np

from atlasbench.io.intervals import Segments


def count_batch(
    batch: dict[str, np.ndarray],
    draw: np.ndarray,
    levels: tuple[np.ndarray, np.ndarray, np.ndarray, int],
    segments: Segments,
    in_window: np.ndarray,
    in_region: np.ndarray,
    counters: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Add one batch of the store to pseudobulk's counters.

    Parameters
    ----------
    batch
        Store columns chrom, start, end, cell, count (:meth:`atlasbench.data.ingest.Store.batches`).
    draw
        One uniform draw per read, the reads of fragment 0 first (``count.sum()`` values).
    levels
        (increasing keep probability of each depth level, first cell level of each cell,
        cell type id of each cell, number of cell levels).
    segments
        The segments of the target windows and regions.
    in_window, in_region
        Whether each segment is inside a target window, inside a region.
    counters
        Updated in place: accumulator (flat, segment x depth level x cell level x cell
        type), library sizes (flat, depth level x cell level x cell type), fragments
        per (depth level, cell), reads per (cell, lowest depth level or none), insertions
        in regions per cell.
    """
    probs, cell_level, cell_type, n_c = levels
    bounds, bound_at, answer, answer_at = segments.flat()
    _count(
        batch["chrom"], batch["start"], batch["end"], batch["cell"], batch["count"], draw,
        probs, cell_level, cell_type, n_c, bounds, bound_at, answer, answer_at, in_window, in_region, *counters,
    )  # fmt: skip


@numba.njit(nogil=True, cache=True)
def _count(
    chrom, start, end, cell, count, draw, probs, cell_level, cell_type, n_c,
    bounds, bound_at, answer, answer_at, in_window, in_region,
    acc, library, frag_per_cell, reads_per_cell, in_regions,
):  # fmt: skip  # pragma: no cover - compiled
    n_d = probs.size
    n_t = library.size // (n_d * n_c)
    n_all = cell_level.size
    n_groups = library.size
    read = 0
    current = -1
    previous = 0
    lo = 0
    m = 0
    k = 0
    for f in range(cell.size):
        x = cell[f]
        d = n_d
        for _ in range(count[f]):
            u = draw[read]
            read += 1
            lowest = 0
            for p in probs:
                lowest += u >= p
            reads_per_cell[x * (n_d + 1) + lowest] += 1
            d = min(d, lowest)
        if d < n_d:
            frag_per_cell[d * n_all + x] += 1
        c = cell_level[x]
        valid = d < n_d and c < n_c
        group = (d * n_c + c) * n_t + cell_type[x]
        if valid:
            library[group] += 2
        if chrom[f] != current or start[f] < previous:
            # a new chromosome (or a store of several parts starting over): binary search
            current = chrom[f]
            lo = bound_at[current]
            m = bound_at[current + 1] - lo
            k = np.searchsorted(bounds[lo : lo + m], start[f], side="right")
        previous = start[f]
        if m < 2:
            continue
        while k < m and bounds[lo + k] <= start[f]:  # starts are sorted within a chromosome
            k += 1
        j = k
        last = end[f] - 1
        while j < m and bounds[lo + j] <= last:
            j += 1
        for seg in (answer[answer_at[current] + k], answer[answer_at[current] + j]):
            if seg >= 0:
                if in_region[seg]:
                    in_regions[x] += 1
                if valid and in_window[seg]:
                    acc[seg * n_groups + group] += 1
