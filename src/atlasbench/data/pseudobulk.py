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
import gzip
import logging
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyBigWig
from tqdm.auto import tqdm

from atlasbench.data.ingest import Store, read_batch
from atlasbench.data.level_counts import count_batch
from atlasbench.data.levels import level_key, reads_unit_words
from atlasbench.data.sampling import (
    cell_levels,
    cell_order,
    depth_probabilities,
    draw_levels,
    first_cell_level,
    first_level,
)
from atlasbench.errors import AtlasbenchError
from atlasbench.io.atomic import atomic_path
from atlasbench.io.intervals import Segments
from atlasbench.io.names import file_stem
from atlasbench.io.read_ahead import read_ahead

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
        One row per (depth, cells) level: reads_per_cell (target, in reads_unit:
        "usable read pairs" or "sequenced read pairs"), p (read-keeping probability),
        cells (target), n_cells, mean_reads_per_cell (achieved usable read pairs, over
        the level's cells), mean_sequenced_reads_per_cell (that / the usable fraction,
        with one), mean_fragments_per_cell, n_cells_<type>, and
        dropped_cell_types ("; "-separated: types below ``min_cells_per_type`` there,
        left out of the level's targets; empty if none).
    cell_saturation
        Per cell (rows) and depth level (columns ``reads_<i>``, ``fragments_<i>``): kept
        reads and unique fragments, for saturation curves.
    insertions_in_regions
        int64 per cell of the store (store order): insertions of the full data inside
        the regions themselves (not their target windows), the numerator of FRiP.
    dropped
        Per cell level (``cell_level`` of ``levels``): the cell types below
        ``min_cells_per_type`` there, as a list of names (the levels table's
        ``dropped_cell_types`` is the same for reading, joined with "; ").
    """

    counts: np.ndarray
    library_size: np.ndarray
    cell_types: list[str]
    levels: pd.DataFrame
    cell_saturation: pd.DataFrame
    insertions_in_regions: np.ndarray
    dropped: list[list[str]]


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
    usable_fraction: float | None = None,
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
    usable_fraction
        When given, ``reads_levels`` count *sequenced* read pairs per cell and this is
        the platform's usable read pairs per sequenced read pair: a level of R keeps
        R x usable_fraction usable read pairs per cell. Default: levels count usable
        read pairs (the fragments' count column).

    Returns
    -------
    Pseudobulk
        Counts, library sizes and per-level summaries.
    """
    if len(regions) == 0:
        raise AtlasbenchError("pseudobulk needs at least one region")
    cell_table = store.cells
    has_data = cell_table["n_fragments"].to_numpy() > 0
    setup = _level_setup(store, reads_levels, cells, seed, usable_fraction)
    cell_types, cell_type_id, probs, sizes, cell_level = (
        setup.cell_types,
        setup.cell_type_id,
        setup.probs,
        setup.sizes,
        setup.cell_level,
    )
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
    # flat, segment-major (neighbouring fragments share a segment's row), reshaped below
    acc: np.ndarray = np.zeros(n_s * n_d * n_c * n_t, dtype=np.int64)
    library = np.zeros(n_d * n_c * n_t, dtype=np.int64)
    n_all = len(cell_table)
    frag_per_cell = np.zeros(n_d * n_all, dtype=np.int64)
    reads_per_cell = np.zeros(n_all * (n_d + 1), dtype=np.int64)
    in_regions = np.zeros(n_all, dtype=np.int64)

    total = int(cell_table["n_fragments"].sum())
    levels = (probs, cell_level.astype(np.int64), cell_type_id.astype(np.int64), n_c)
    counters = (acc, library, frag_per_cell, reads_per_cell, in_regions)
    with tqdm(
        total=total, desc=f"pseudobulk {store.directory.name}", unit=" fragments", unit_scale=True, leave=False
    ) as bar:
        for batch, draw in read_ahead(_with_draws(store, seed)):
            count_batch(batch, draw, levels, segments, in_window, in_region, counters)
            bar.update(len(batch["cell"]))

    # nested levels: level (D, C) holds everything first seen at d <= D and c <= C
    # sums over each window's segments first, then the nesting's sums on that smaller array
    counts = segments.interval_sums(acc.reshape(n_s, n_d, n_c, n_t), np.arange(len(regions)))
    del acc
    np.cumsum(counts, axis=1, out=counts)
    np.cumsum(counts, axis=2, out=counts)
    counts = np.ascontiguousarray(counts.transpose(1, 2, 3, 0))
    library = np.cumsum(np.cumsum(library.reshape(n_d, n_c, n_t), axis=0), axis=1)
    frags = np.cumsum(frag_per_cell.reshape(n_d, n_all), axis=0)
    reads_kept = np.cumsum(reads_per_cell.reshape(n_all, n_d + 1)[:, :n_d], axis=1).T

    levels = _level_table(reads_levels, probs, cells, sizes, cell_level, cell_type_id, cell_types, frags, reads_kept)
    levels.insert(3, "reads_unit", reads_unit_words("usable" if usable_fraction is None else "sequenced"))
    if usable_fraction is not None:
        levels.insert(
            levels.columns.get_loc("mean_reads_per_cell") + 1,
            "mean_sequenced_reads_per_cell",
            levels["mean_reads_per_cell"] / usable_fraction,
        )
    levels["dropped_cell_types"] = ["; ".join(dropped[j]) for j in levels["cell_level"]]
    saturation = pd.DataFrame({"barcode": cell_table["barcode"], "cell_type": cell_table["cell_type"]})
    for i in range(n_d):
        saturation[f"reads_{i}"] = reads_kept[i]
        saturation[f"fragments_{i}"] = frags[i]
    return Pseudobulk(
        counts, library, cell_types, levels, saturation[has_data].reset_index(drop=True), in_regions, dropped
    )


def _with_draws(store: Store, seed: int) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """The store's batches, each with its draws (:func:`_batch_draws`)."""
    for batch_index, batch in enumerate(store.batches()):
        yield batch, _batch_draws(batch, batch_index, seed)


def _batch_draws(batch: dict[str, np.ndarray], batch_index: int, seed: int) -> np.ndarray:
    """One uniform draw per read of a batch, the reads of fragment 0 first, seeded by the
    seed and the batch's index: the draws pseudobulk and the bigWigs of its levels share."""
    return np.random.default_rng([seed, batch_index]).random(int(batch["count"].sum()))


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


def write_fragment_bed(store: Store, cell_type: str, path: str | Path) -> Path:
    """Write one cell type's fragments (chrom, start, end) as a gzip BED, for MACS3.

    MACS3 reads gzip directly, so no plain-text copy of the data is ever on disk: at
    compression level 1 the file is about a fifth of the text. The store is streamed
    row group by row group, so memory holds one batch, whatever the data's size; the
    file appears only when complete (written to a temporary name, then renamed).

    Parameters
    ----------
    store
        An ingested platform (full data).
    cell_type
        One of ``store.cell_types``.
    path
        The ``.bed.gz`` file to write.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    wanted = store.cell_types.index(cell_type)
    type_of_cell = _type_of_cell(store)
    chrom_names = np.asarray(store.chromosomes, dtype=object)
    with atomic_path(path) as tmp, gzip.open(tmp, "wt", compresslevel=1) as handle:
        for batch in store.batches():
            sel = type_of_cell[batch["cell"]] == wanted
            if sel.any():
                frame = pd.DataFrame(
                    {"c": chrom_names[batch["chrom"][sel]], "s": batch["start"][sel], "e": batch["end"][sel]}
                )
                frame.to_csv(handle, sep="\t", header=False, index=False)
    return path


def _type_of_cell(store: Store) -> np.ndarray:
    return store.cells["cell_type"].map({t: i for i, t in enumerate(store.cell_types)}).to_numpy(np.int64)


BIGWIG_KINDS = ("cutsites", "coverage")
"""The bigWig kinds :func:`export_bigwigs` writes: Tn5 cut sites and fragment coverage."""


def export_bigwigs(
    store: Store,
    out_dir: str | Path,
    chrom_sizes: dict[str, int],
    reads_levels: Sequence[int | str] = ("all",),
    cells: Sequence[int | str] = ("all",),
    seed: int = 0,
    levels: Collection[str] | None = None,
    usable_fraction: float | None = None,
) -> dict[str, dict[str, dict[str, Path]]]:
    """Write CPM-normalised bigWigs per cell type, of two kinds, at grid levels.

    The two kinds (SnapATAC2's ``counting_strategy`` "insertion" and "fragment"):

    * ``cutsites``: Tn5 insertions. Each fragment has two, its start and its last base
      (``end - 1``); the value at a base is the number of insertions there per million
      insertions of that cell type at that level (the input CREsted reads its targets
      from). Only bases with insertions are written.
    * ``coverage``: fragment coverage. Each fragment covers ``[start, end)``; the value
      at a base is the number of fragments covering it per million fragments of that
      cell type at that level. Runs of equal value are written as one interval; bases
      outside every fragment are not written (0).

    Normalising per cell type makes tracks of cell types with different depths
    comparable. A level keeps the same fragments and cells as the targets of
    :func:`pseudobulk` with the same ``reads_levels``, ``cells`` and ``seed`` (the same
    per-row-group draws). A cell type without fragments at a level gets no file there.

    Files: ``<out_dir>/<level>/<kind>/<stem>.bw``, with ``<level>`` the level key
    (``reads-all_cells-all`` for the full data), ``<kind>`` one of :data:`BIGWIG_KINDS`
    and ``<stem>`` the cell type through :func:`atlasbench.io.names.file_stem`.

    The store is read one batch (row group) at a time: one pass for the library sizes,
    then one per level that writes, as it goes, every position no later fragment can
    reach. Memory is a batch and the fragments crossing its end, not a chromosome.

    Parameters
    ----------
    store
        An ingested platform.
    out_dir
        Output folder.
    chrom_sizes
        Chromosome lengths (genome names).
    reads_levels, cells, seed, usable_fraction
        The grid's depth and cell levels, seed and reads unit, as given to :func:`pseudobulk`.
    levels
        Level keys to write (e.g. the levels the study trains); default: every
        (depth, cell) level.

    Returns
    -------
    dict
        Level key -> kind -> cell type -> bigWig path.
    """
    out_dir = Path(out_dir)
    setup = _level_setup(store, reads_levels, cells, seed, usable_fraction)
    n_d, n_c, n_t = len(setup.probs), len(setup.sizes), len(setup.cell_types)
    # pass 1: fragments kept per (depth level, cell level, cell type), and which row
    # groups hold which chromosome (the draws are seeded by the row group's index)
    kept = np.zeros(n_d * n_c * n_t, dtype=np.int64)
    # per chromosome, its row groups in runs sorted by start (one per part of a combined store)
    runs_of: dict[int, list[list[tuple[int, int]]]] = {}
    last_start: dict[int, int] = {}
    for batch_index, batch in enumerate(store.batches()):
        d, c, cell = _batch_levels(batch, batch_index, setup, seed)
        ok = (d < n_d) & (c < n_c) & (setup.cell_type_id[cell] >= 0)
        group = (d * n_c + c) * n_t + setup.cell_type_id[cell]
        kept += np.bincount(group[ok], minlength=n_d * n_c * n_t)
        if len(cell):
            chrom, first = int(batch["chrom"][0]), int(batch["start"][0])
            runs = runs_of.setdefault(chrom, [])
            if not runs or first < last_start[chrom]:
                runs.append([])
            runs[-1].append((batch_index, first))
            last_start[chrom] = int(batch["start"][-1])
    kept = np.cumsum(np.cumsum(kept.reshape(n_d, n_c, n_t), axis=0), axis=1)

    header = [(c, int(chrom_sizes[c])) for c in store.chromosomes if c in chrom_sizes]
    out: dict[str, dict[str, dict[str, Path]]] = {}
    for i, reads in enumerate(reads_levels):
        for j, n_cells in enumerate(cells):
            key = level_key(reads, n_cells)
            if levels is not None and key not in levels:
                continue
            present = [k for k in range(n_t) if kept[i, j, k] > 0]
            paths = {
                kind: {
                    setup.cell_types[k]: out_dir / key / kind / f"{file_stem(setup.cell_types[k])}.bw" for k in present
                }
                for kind in BIGWIG_KINDS
            }
            _write_level_bigwigs(store, header, runs_of, setup, seed, i, j, present, kept[i, j], paths)
            out[key] = paths
    return out


@dataclass(frozen=True)
class _Levels:
    cell_types: list[str]
    cell_type_id: np.ndarray
    probs: np.ndarray
    sizes: np.ndarray
    cell_level: np.ndarray


def _level_setup(
    store: Store,
    reads_levels: Sequence[int | str],
    cells: Sequence[int | str],
    seed: int,
    usable_fraction: float | None = None,
) -> _Levels:
    """Cell types, depth probabilities and each cell's first cell level: the levels that
    :func:`pseudobulk` counts and :func:`export_bigwigs` writes, from one rule. With a
    usable fraction the levels count sequenced read pairs: the mean they are set against
    is the mean sequenced read pairs per cell, usable / fraction."""
    cell_table = store.cells
    has_data = cell_table["n_fragments"].to_numpy() > 0
    cell_types = sorted(cell_table.loc[has_data, "cell_type"].unique())
    type_index = {t: i for i, t in enumerate(cell_types)}
    cell_type_id = cell_table["cell_type"].map(type_index).fillna(-1).to_numpy(np.int64)
    n_cells_total = int(has_data.sum())
    mean_reads = cell_table.loc[has_data, "n_reads"].sum() / n_cells_total
    if usable_fraction is not None:
        if not usable_fraction > 0:
            raise AtlasbenchError(f"usable fraction must be positive, got {usable_fraction}")
        mean_reads /= usable_fraction
    probs = depth_probabilities(reads_levels, mean_reads)
    sizes = cell_levels(cells, n_cells_total)
    rank = np.full(len(cell_table), n_cells_total, dtype=np.int64)
    rank[has_data] = cell_order(cell_table.loc[has_data, "cell_type"].to_numpy(), seed)
    return _Levels(cell_types, cell_type_id, probs, sizes, first_cell_level(rank, sizes))


def _batch_levels(batch, batch_index: int, setup: _Levels, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each fragment's first depth level and first cell level (the draws of :func:`pseudobulk`)."""
    cell = batch["cell"].astype(np.int64)
    lowest = draw_levels(_batch_draws(batch, batch_index, seed), setup.probs)
    d = first_level(batch["count"], lowest).astype(np.int64)
    return d, setup.cell_level[cell].astype(np.int64), cell


def _write_level_bigwigs(store, header, runs_of, setup, seed, i, j, present, kept, paths) -> None:
    """Both kinds of bigWig of one level, streaming the store batch by batch.

    A chromosome's batches form runs sorted by start (one, or one per part of a combined
    store), merged here by taking next the batch that starts first. Positions before the
    start of the next batch to come are settled and written; the rest is carried
    (:class:`_Track`), so memory is a batch and what crosses its end.
    """
    fragments = pq.ParquetFile(store.fragments)
    with contextlib.ExitStack() as stack:
        writers: dict[str, dict[int, Any]] = {}
        for kind in BIGWIG_KINDS:
            writers[kind] = {}
            for k in present:
                bw = pyBigWig.open(str(stack.enter_context(atomic_path(paths[kind][setup.cell_types[k]]))), "w")
                stack.callback(bw.close)
                bw.addHeader(header)
                writers[kind][k] = bw
        for chrom, size in header:
            tracks = {k: _Track(size) for k in present}
            runs = [list(run) for run in runs_of.get(store.chromosomes.index(chrom), [])]
            while any(runs):
                index = min((run for run in runs if run), key=lambda run: run[0][1]).pop(0)[0]
                batch = read_batch(fragments, index)
                d, c, cell = _batch_levels(batch, index, setup, seed)
                keep = (d <= i) & (c <= j)
                start, end, of_type = batch["start"][keep], batch["end"][keep], setup.cell_type_id[cell[keep]]
                cut = min((run[0][1] for run in runs if run), default=np.inf)  # where the batches to come start
                for k in present:
                    sel = of_type == k
                    tracks[k].add(start[sel], end[sel])
                    _write_settled(chrom, tracks[k], cut, writers["cutsites"][k], writers["coverage"][k], kept[k])


def _write_settled(chrom: str, track: _Track, cut: float, cutsites: Any, coverage: Any, kept: int) -> None:
    """Write what a track has settled before ``cut`` to its two bigWigs (CPM of ``kept`` fragments)."""
    sites, n = track.settled_sites(cut)
    if len(sites):
        cutsites.addEntries(chrom, sites.tolist(), values=(n * (1e6 / (2 * int(kept)))).tolist(), span=1)
    starts, ends, depth = track.settled_runs(cut)
    if len(starts):
        coverage.addEntries(
            [chrom] * len(starts), starts.tolist(), ends=ends.tolist(), values=(depth * (1e6 / int(kept))).tolist()
        )


class _Track:
    """One cell type's fragments of one chromosome not yet written to its bigWigs.

    Positions before a cut that no fragment to come can reach are settled: their
    insertions and coverage are final. What waits: the insertions at or after the cut, and
    the fragments reaching past the last coverage event before it, clipped there (a
    position where the coverage changes already, so the runs are cut where one pass over
    the chromosome would cut them and the files are the same).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.sites = np.zeros(0, dtype=np.int64)
        self.start = np.zeros(0, dtype=np.int64)
        self.end = np.zeros(0, dtype=np.int64)

    def add(self, start: np.ndarray, end: np.ndarray) -> None:
        """Take more fragments of the chromosome (any order)."""
        self.sites = np.concatenate([self.sites, start, end - 1])
        self.start = np.concatenate([self.start, np.minimum(start, self.size)])
        self.end = np.concatenate([self.end, np.minimum(end, self.size)])

    def settled_sites(self, cut: float) -> tuple[np.ndarray, np.ndarray]:
        """Insertion positions before ``cut`` and their counts, sorted; the rest is kept."""
        done = self.sites < cut
        sites, n = np.unique(self.sites[done], return_counts=True)
        self.sites = self.sites[~done]
        return sites, n

    def settled_runs(self, cut: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coverage runs (starts, ends, depth > 0) ending at or before ``cut``.

        A +1 at each start and a -1 at each end, summed per position, then cumulated: the
        depth holds from one event position to the next.
        """
        ok = self.end > self.start
        start, end = self.start[ok], self.end[ok]
        pos, inverse = np.unique(np.concatenate([start, end]), return_inverse=True)
        delta = np.bincount(inverse, weights=np.repeat([1.0, -1.0], len(start)), minlength=len(pos))
        depth = np.rint(np.cumsum(delta)[:-1]).astype(np.int64)
        n_settled = int(np.searchsorted(pos, cut, side="right"))  # events at or before the cut
        if n_settled == 0:
            self.start, self.end = start, end
            return pos[:0], pos[:0], depth[:0]
        last = pos[n_settled - 1]
        covered = (np.arange(len(depth)) < n_settled - 1) & (depth > 0)
        later = end > last
        self.start, self.end = np.maximum(start[later], last), end[later]
        return pos[:-1][covered], pos[1:][covered], depth[covered]
