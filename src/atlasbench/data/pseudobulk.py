"""Pseudobulk: Tn5 insertion counts per cell type over regions, for every grid level at once.

Each fragment contributes two Tn5 insertions (its start and its last base). For every
(read-depth level, cell level, cell type, region) we need the number of insertions of
the fragments kept at that level inside the region's target window. One pass over the
ingested store gives all of them:

* each read gets one draw (:func:`atlasbench.data.sampling.read_levels`), which tells the
  lowest depth level ``d`` at which its fragment is observed; its cell tells the lowest
  cell level ``c`` that includes it;
* its insertions are counted once, at ``(d, c)``, per elementary segment of the target
  windows (:class:`atlasbench.io.intervals.Segments`);
* because levels are nested, the counts of level ``(D, C)`` are the sum over
  ``d <= D, c <= C``: two cumulative sums at the end.

Memory is ``depth levels x cell levels x cell types x segments``, independent of the
number of fragments. The same pass records each cell's kept reads and unique fragments
at every depth level (saturation curves) and each level's library sizes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
from tqdm.auto import tqdm

from atlasbench.data.ingest import Store
from atlasbench.data.sampling import (
    cell_levels,
    cell_order,
    depth_probabilities,
    first_cell_level,
    first_level,
    read_levels,
)
from atlasbench.errors import AtlasbenchError
from atlasbench.io.atomic import atomic_path
from atlasbench.io.intervals import Segments
from atlasbench.io.names import file_stem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pseudobulk:
    """Insertion counts of every (depth level, cell level) of one platform.

    Attributes
    ----------
    counts
        int64 array (n_depth, n_cell_levels, n_cell_types, n_regions): insertions in each
        region's target window.
    library_size
        int64 array (n_depth, n_cell_levels, n_cell_types): all insertions genome-wide.
    cell_types
        Names along the cell-type axis.
    levels
        One row per (depth, cells) level: reads_per_cell (target), p (read-keeping
        probability), cells (target), n_cells, mean_reads_per_cell and
        mean_fragments_per_cell (achieved, over the level's cells), n_cells_<type>, and
        dropped_cell_types ("; "-separated: types below ``min_cells_per_type`` there,
        left out of the level's targets; empty if none).
    cell_saturation
        Per cell (rows) and depth level (columns ``reads_<i>``, ``fragments_<i>``): kept
        reads and unique fragments, for saturation curves.
    insertions_in_regions
        int64 per cell of the store (store order): insertions of the full data inside
        the regions themselves (not their target windows), the numerator of FRiP.
    """

    counts: np.ndarray
    library_size: np.ndarray
    cell_types: list[str]
    levels: pd.DataFrame
    cell_saturation: pd.DataFrame
    insertions_in_regions: np.ndarray


def target_windows(regions: pd.DataFrame, window: int | None) -> pd.DataFrame:
    """Windows of ``window`` bp centred on each region (the region itself if None)."""
    if window is None:
        return regions[["chrom", "start", "end"]].copy()
    mid = (regions["start"].to_numpy(np.int64) + regions["end"].to_numpy(np.int64)) // 2
    start = np.maximum(mid - window // 2, 0)
    return pd.DataFrame({"chrom": regions["chrom"].to_numpy(), "start": start, "end": mid - window // 2 + window})


def pseudobulk(
    store: Store,
    regions: pd.DataFrame,
    reads_levels: Sequence[int | str],
    cells: Sequence[int | str],
    seed: int,
    window: int | None = None,
    min_cells_per_type: int = 1,
) -> Pseudobulk:
    """Count insertions per cell type over regions at every nested level, in one pass.

    Parameters
    ----------
    store
        An ingested platform.
    regions
        Region set (chrom, start, end) in the genome's chromosome names.
    reads_levels
        Depth levels: target mean reads per cell, increasing, ``"all"`` last.
    cells
        Cell levels: number of cells, increasing, ``"all"`` last.
    seed
        Seed of both the read thinning and the cell order.
    window
        Count insertions in a window of this width centred on each region (e.g. 1,000 bp
        around 500 bp peaks, as the published study did); default: the region itself.
    min_cells_per_type
        A cell type with fewer cells than this at a cell level is left out of that level's
        targets (listed in the level table's ``dropped_cell_types``, with a warning); an
        error if that leaves no cell type at a level.

    Returns
    -------
    Pseudobulk
        Counts, library sizes and per-level summaries.
    """
    if len(regions) == 0:
        raise AtlasbenchError("pseudobulk needs at least one region")
    cell_table = store.cells
    has_data = cell_table["n_fragments"].to_numpy() > 0
    cell_types = sorted(cell_table.loc[has_data, "cell_type"].unique())
    type_index = {t: i for i, t in enumerate(cell_types)}
    cell_type_id = cell_table["cell_type"].map(type_index).fillna(-1).to_numpy(np.int64)

    n_cells_total = int(has_data.sum())
    mean_reads = cell_table.loc[has_data, "n_reads"].sum() / n_cells_total
    probs = depth_probabilities(reads_levels, mean_reads)
    sizes = cell_levels(cells, n_cells_total)
    rank = np.full(len(cell_table), n_cells_total, dtype=np.int64)
    rank[has_data] = cell_order(cell_table.loc[has_data, "cell_type"].to_numpy(), seed)
    cell_level = first_cell_level(rank, sizes)
    dropped = _dropped_cell_types(cell_level, cell_type_id, cell_types, cells, sizes, min_cells_per_type)

    n_d, n_c, n_t = len(probs), len(sizes), len(cell_types)
    # one segmentation for the target windows (group 0) and the regions themselves
    # (group 1, for FRiP), so each insertion is located once
    windows = target_windows(regions, window)
    segments = Segments(
        pd.concat([windows, regions[["chrom", "start", "end"]]], ignore_index=True),
        store.chromosomes,
        groups=np.repeat([0, 1], len(regions)),
    )
    in_window = segments.group_depth[0] > 0
    in_region = segments.group_depth[1] > 0
    n_s = segments.n_segments
    acc: np.ndarray = np.zeros(n_d * n_c * n_t * n_s, dtype=np.int64)  # flat, reshaped to 4-D below
    library = np.zeros(n_d * n_c * n_t, dtype=np.int64)
    n_all = len(cell_table)
    frag_per_cell = np.zeros(n_d * n_all, dtype=np.int64)
    reads_per_cell = np.zeros(n_all * (n_d + 1), dtype=np.int64)
    in_regions = np.zeros(n_all, dtype=np.int64)

    total = int(cell_table["n_fragments"].sum())
    with tqdm(
        total=total, desc=f"pseudobulk {store.directory.name}", unit=" fragments", unit_scale=True, leave=False
    ) as bar:
        for batch_index, batch in enumerate(store.batches()):
            rng = np.random.default_rng([seed, batch_index])
            cell = batch["cell"].astype(np.int64)
            count = batch["count"]
            lowest = read_levels(count, probs, rng)
            reads_per_cell += np.bincount(np.repeat(cell, count) * (n_d + 1) + lowest, minlength=n_all * (n_d + 1))
            d = first_level(count, lowest).astype(np.int64)
            c = cell_level[cell].astype(np.int64)
            seen = d < n_d
            frag_per_cell += np.bincount(d[seen] * n_all + cell[seen], minlength=n_d * n_all)
            valid = seen & (c < n_c)
            group = (d * n_c + c) * n_t + cell_type_id[cell]
            library += 2 * np.bincount(group[valid], minlength=n_d * n_c * n_t)
            seg = segments.lookup(
                np.concatenate([batch["chrom"], batch["chrom"]]), np.concatenate([batch["start"], batch["end"] - 1])
            )
            inside = seg >= 0
            cell2 = np.concatenate([cell, cell])
            hit_region = inside.copy()
            hit_region[inside] = in_region[seg[inside]]
            in_regions += np.bincount(cell2[hit_region], minlength=n_all)
            hit = np.concatenate([valid, valid]) & inside
            hit[hit] = in_window[seg[hit]]
            np.add.at(acc, np.concatenate([group, group])[hit] * n_s + seg[hit], 1)
            bar.update(len(cell))

    # nested levels: level (D, C) holds everything first seen at d <= D and c <= C
    acc = acc.reshape(n_d, n_c, n_t, n_s)
    np.cumsum(acc, axis=0, out=acc)
    np.cumsum(acc, axis=1, out=acc)
    n_r = len(regions)
    counts = np.stack([np.stack([segments.interval_sums(acc[i, j])[:, :n_r] for j in range(n_c)]) for i in range(n_d)])
    del acc
    library = np.cumsum(np.cumsum(library.reshape(n_d, n_c, n_t), axis=0), axis=1)
    frags = np.cumsum(frag_per_cell.reshape(n_d, n_all), axis=0)
    reads_kept = np.cumsum(reads_per_cell.reshape(n_all, n_d + 1)[:, :n_d], axis=1).T

    levels = _level_table(reads_levels, probs, cells, sizes, cell_level, cell_type_id, cell_types, frags, reads_kept)
    levels["dropped_cell_types"] = ["; ".join(dropped[j]) for j in levels["cell_level"]]
    saturation = pd.DataFrame({"barcode": cell_table["barcode"], "cell_type": cell_table["cell_type"]})
    for i in range(n_d):
        saturation[f"reads_{i}"] = reads_kept[i]
        saturation[f"fragments_{i}"] = frags[i]
    return Pseudobulk(counts, library, cell_types, levels, saturation[has_data].reset_index(drop=True), in_regions)


def _dropped_cell_types(cell_level, cell_type_id, cell_types, cells, sizes, min_cells) -> list[list[str]]:
    """Per cell level, the cell types with fewer than ``min_cells`` cells there (left out
    of that level's targets, with a warning); raises if no cell type is left at a level."""
    dropped = []
    for j, (target, n) in enumerate(zip(cells, sizes)):
        member = (cell_level <= j) & (cell_type_id >= 0)
        per_type = np.bincount(cell_type_id[member], minlength=len(cell_types))
        small = [(cell_types[i], int(k)) for i, k in enumerate(per_type) if k < min_cells]
        listed = ", ".join(f"{t!r} ({k} cells)" for t, k in small)
        if len(small) == len(cell_types):
            raise AtlasbenchError(
                f"at cells level {target} ({int(n)} cells) every cell type has fewer than "
                f"grid.min_cells_per_type={min_cells} cells: {listed}; no targets are left at this level. "
                "Raise that cells level or lower min_cells_per_type"
            )
        for t, k in small:
            log.warning(
                "cell type %r has %d cells at cells level %s (%d cells), fewer than grid.min_cells_per_type=%d: "
                "left out of that level's targets",
                t,
                k,
                target,
                int(n),
                min_cells,
            )
        dropped.append([t for t, _ in small])
    return dropped


def _level_table(
    reads_levels, probs, cells_levels, sizes, cell_level, cell_type_id, cell_types, frags, reads
) -> pd.DataFrame:
    rows = []
    for i, (target, p) in enumerate(zip(reads_levels, probs)):
        for j, (n_target, n) in enumerate(zip(cells_levels, sizes)):
            member = cell_level <= j
            row = {
                "depth_level": i,
                "cell_level": j,
                "reads_per_cell": str(target),
                "p": float(p),
                "cells": str(n_target),
                "n_cells": int(n),
                "mean_reads_per_cell": float(reads[i][member].mean()),
                "mean_fragments_per_cell": float(frags[i][member].mean()),
            }
            per_type = np.bincount(cell_type_id[member & (cell_type_id >= 0)], minlength=len(cell_types))
            row.update({f"n_cells_{t}": int(k) for t, k in zip(cell_types, per_type)})
            rows.append(row)
    return pd.DataFrame(rows)


def write_fragment_beds(store: Store, out_dir: str | Path) -> dict[str, Path]:
    """Write one BED of fragments (chrom, start, end) per cell type, for peak calling.

    Parameters
    ----------
    store
        An ingested platform (full data).
    out_dir
        Folder for ``<cell type>.bed``.

    Returns
    -------
    dict of str to pathlib.Path
        BED path per cell type.
    """
    out_dir = Path(out_dir)
    cell_types = store.cell_types
    type_of_cell = _type_of_cell(store)
    chrom_names = np.asarray(store.chromosomes, dtype=object)
    paths = {t: out_dir / f"{file_stem(t)}.bed" for t in cell_types}
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(stack.enter_context(atomic_path(paths[t])).open("w")) for t in cell_types]
        for batch in store.batches():
            of_type = type_of_cell[batch["cell"]]
            for i, handle in enumerate(handles):
                sel = of_type == i
                if sel.any():
                    frame = pd.DataFrame(
                        {"c": chrom_names[batch["chrom"][sel]], "s": batch["start"][sel], "e": batch["end"][sel]}
                    )
                    frame.to_csv(handle, sep="\t", header=False, index=False)
    return paths


def _type_of_cell(store: Store) -> np.ndarray:
    return store.cells["cell_type"].map({t: i for i, t in enumerate(store.cell_types)}).to_numpy(np.int64)


def export_bigwigs(store: Store, out_dir: str | Path, chrom_sizes: dict[str, int]) -> dict[str, Path]:
    """Write one CPM-normalised Tn5 insertion coverage bigWig per cell type (full data).

    The value at a base is the number of insertions there per million insertions of
    that cell type, so tracks of cell types with different depths are comparable (the
    input CREsted reads its targets from). Only bases with insertions are written.
    The store is read one chromosome at a time, so memory is bounded by the fragments
    of one chromosome.

    Parameters
    ----------
    store
        An ingested platform.
    out_dir
        Folder for ``<cell type>.bw``.
    chrom_sizes
        Chromosome lengths (genome names).

    Returns
    -------
    dict of str to pathlib.Path
        bigWig path per cell type.
    """
    out_dir = Path(out_dir)
    cell_types = store.cell_types
    type_of_cell = _type_of_cell(store)
    totals = 2 * store.cells.groupby("cell_type")["n_fragments"].sum()
    scale = np.array([1e6 / max(int(totals[t]), 1) for t in cell_types])
    header = [(c, int(chrom_sizes[c])) for c in store.chromosomes if c in chrom_sizes]
    paths = {t: out_dir / f"{file_stem(t)}.bw" for t in cell_types}
    with contextlib.ExitStack() as stack:
        writers = []
        for t in cell_types:
            bw = pyBigWig.open(str(stack.enter_context(atomic_path(paths[t]))), "w")
            stack.callback(bw.close)
            bw.addHeader(header)
            writers.append(bw)
        for chrom, _ in header:
            batches = list(store.batches(chrom))
            if not batches:
                continue
            pos = np.concatenate([np.concatenate([b["start"], b["end"] - 1]) for b in batches])
            of_type = np.concatenate([np.tile(type_of_cell[b["cell"]], 2) for b in batches])
            for i, bw in enumerate(writers):
                sites, n = np.unique(pos[of_type == i], return_counts=True)
                if len(sites):
                    bw.addEntries(chrom, sites.tolist(), values=(n * scale[i]).tolist(), span=1)
    return paths
