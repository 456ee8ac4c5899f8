"""Per-cell quality control of scATAC-seq fragments.

For every barcode: unique fragments, reads (sum of counts), duplication rate
(``1 - fragments / reads``), the fraction of Tn5 insertions inside a region set (FRiP,
counted on insertions as ArchR does), the TSS enrichment and the share of
nucleosome-free (< 147 bp) and mono-nucleosomal (147-294 bp) fragments; for the whole
file, the fragment-length histogram, whose nucleosomal ladder is the classic sign of a
good ATAC library.

TSS enrichment follows ArchR's definition: insertions within +-50 bp of a TSS per bp,
divided by insertions per bp in the two 100 bp flanks 1,900 to 2,000 bp away (flank
counts floored at one insertion, so a cell with no flank insertions stays finite). A
site covered by several windows (TSSs close together) counts once per window, as ArchR
counts per TSS.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numba
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from atlasbench.io.atomic import atomic_path
from atlasbench.io.fragments import FragmentBatch, FragmentReader
from atlasbench.io.genome import match_chromosomes
from atlasbench.io.intervals import Segments

log = logging.getLogger(__name__)

TSS_HALF_WINDOW = 50
TSS_FLANK = (1900, 2000)
NUCLEOSOME_FREE = 147
MONO_NUCLEOSOME = 294
MAX_HISTOGRAM_LENGTH = 1000


def tss_windows(tss: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Centre (+-50 bp) and flank (1,900-2,000 bp each side) windows around TSSs.

    Parameters
    ----------
    tss
        Columns chrom, pos (0-based).

    Returns
    -------
    tuple of pandas.DataFrame
        (centre windows, flank windows), each with columns chrom, start, end; the
        centre is 101 bp, the flanks 2 x 100 bp per TSS. Windows are clipped at 0.
    """
    pos = tss["pos"].to_numpy(np.int64)
    chrom = tss["chrom"].to_numpy()
    centre = pd.DataFrame({"chrom": chrom, "start": pos - TSS_HALF_WINDOW, "end": pos + TSS_HALF_WINDOW + 1})
    lo, hi = TSS_FLANK
    flanks = pd.DataFrame(
        {
            "chrom": np.concatenate([chrom, chrom]),
            "start": np.concatenate([pos - hi, pos + lo + 1]),
            "end": np.concatenate([pos - lo, pos + hi + 1]),
        }
    )
    for table in (centre, flanks):
        table["start"] = table["start"].clip(lower=0)
    return centre, flanks[flanks["end"] > flanks["start"]]


class CellQC:
    """Per-cell QC counters, filled block by block as fragments stream past.

    Parameters
    ----------
    chromosomes
        Chromosome names indexed by the chromosome ids the batches carry.
    regions
        Optional region set (chrom, start, end) for FRiP.
    tss
        Optional TSS table (chrom, pos) for TSS enrichment.
    n_cells
        Number of cells when known up front; the counters grow as needed otherwise.
    """

    def __init__(
        self,
        chromosomes: Sequence[str],
        regions: pd.DataFrame | None = None,
        tss: pd.DataFrame | None = None,
        n_cells: int = 0,
    ) -> None:
        self._regions = Segments(regions, chromosomes) if regions is not None else None
        self._tss: Segments | None = None
        if tss is not None:
            centre, flanks = tss_windows(tss)
            group = np.repeat([0, 1], [len(centre), len(flanks)])
            self._tss = Segments(pd.concat([centre, flanks], ignore_index=True), chromosomes, groups=group)
        self._fields = ["n_fragments", "n_reads", "n_nucleosome_free", "n_mono_nucleosome"]
        if self._regions is not None:
            self._fields.append("n_insertions_in_regions")
        if self._tss is not None:
            self._fields += ["n_insertions_tss", "n_insertions_tss_flank"]
        self._counts = {f: np.zeros(n_cells, dtype=np.int64) for f in self._fields}
        self.length_histogram = np.zeros(MAX_HISTOGRAM_LENGTH + 1, dtype=np.int64)
        # what the compiled loop looks positions up in; no segments where none were given
        nothing = Segments(pd.DataFrame({"chrom": [], "start": [], "end": []}), chromosomes).flat()
        self._regions_flat = nothing if self._regions is None else self._regions.flat()
        self._tss_flat = nothing if self._tss is None else self._tss.flat()
        self._tss_depth = np.zeros((2, 0), np.int64) if self._tss is None else self._tss.group_depth.astype(np.int64)

    def _grow(self, n: int) -> None:
        size = len(self._counts["n_fragments"])
        if n <= size:
            return
        new = max(n, 2 * size, 1024)
        for f, arr in self._counts.items():
            grown = np.zeros(new, dtype=np.int64)
            grown[:size] = arr
            self._counts[f] = grown

    def add(self, cell: np.ndarray, batch: FragmentBatch) -> None:
        """Count one block of fragments.

        Parameters
        ----------
        cell
            Cell id of each fragment of ``batch`` (>= 0; drop others first).
        batch
            The fragments.
        """
        if len(cell) == 0:
            return
        self._grow(int(cell.max()) + 1)
        c = self._counts
        no_counts = np.zeros(0, dtype=np.int64)
        _count(
            batch.chrom, batch.start, batch.end, cell, batch.count,
            c["n_fragments"], c["n_reads"], c["n_nucleosome_free"], c["n_mono_nucleosome"], self.length_histogram,
            *self._regions_flat, c.get("n_insertions_in_regions", no_counts),
            *self._tss_flat, self._tss_depth, c.get("n_insertions_tss", no_counts),
            c.get("n_insertions_tss_flank", no_counts),
        )  # fmt: skip

    def table(self, barcodes: Sequence[str]) -> pd.DataFrame:
        """The QC table, one row per barcode (in id order).

        Parameters
        ----------
        barcodes
            Barcode of each cell id.

        Returns
        -------
        pandas.DataFrame
            barcode, n_fragments, n_reads, duplication_rate, fraction_nucleosome_free,
            fraction_mono_nucleosome, and frip / tss_enrichment when regions / TSSs were
            given (plus the raw insertion counts behind them).
        """
        n = len(barcodes)
        self._grow(n)
        c = {f: arr[:n] for f, arr in self._counts.items()}
        frags = c["n_fragments"].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = pd.DataFrame(
                {
                    "barcode": list(barcodes),
                    "n_fragments": c["n_fragments"],
                    "n_reads": c["n_reads"],
                    "duplication_rate": 1.0 - frags / c["n_reads"],
                    "fraction_nucleosome_free": c["n_nucleosome_free"] / frags,
                    "fraction_mono_nucleosome": c["n_mono_nucleosome"] / frags,
                }
            )
            if "n_insertions_in_regions" in c:
                out["n_insertions_in_regions"] = c["n_insertions_in_regions"]
                out["frip"] = c["n_insertions_in_regions"] / (2.0 * frags)
            if "n_insertions_tss" in c:
                out["n_insertions_tss"] = c["n_insertions_tss"]
                out["n_insertions_tss_flank"] = c["n_insertions_tss_flank"]
                centre_width = 2 * TSS_HALF_WINDOW + 1
                flank_width = 2 * (TSS_FLANK[1] - TSS_FLANK[0])
                out["tss_enrichment"] = (c["n_insertions_tss"] / centre_width) / (
                    np.maximum(c["n_insertions_tss_flank"], 1) / flank_width
                )
        return out


def fragments_qc(
    fragments: str | Path,
    cells: pd.DataFrame | None = None,
    regions: pd.DataFrame | None = None,
    tss: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-barcode QC of one fragments file, in one streaming pass.

    Parameters
    ----------
    fragments
        A 10x fragments file.
    cells
        Optional cell table (barcode, cell_type): only its barcodes are reported, with
        their cell type (a cell without fragments gets zeros).
    regions
        Optional region set (chrom, start, end) for FRiP.
    tss
        Optional TSS table (chrom, pos) for TSS enrichment (see :func:`atlasbench.io.annotation.read_tss`).

    Returns
    -------
    tuple of pandas.DataFrame
        The per-barcode table (see :meth:`CellQC.table`) and the fragment-length
        histogram (columns length, n_fragments; the last row counts every longer one).
    """
    names: list[str] = []
    for table in (regions, tss):
        if table is not None:
            names += [n for n in pd.unique(table["chrom"].astype(str)) if n not in names]
    known = list(names)

    def resolve(name: str) -> int:
        mapping, _ = match_chromosomes([name], known)
        if name in mapping:
            return names.index(mapping[name])
        names.append(name)
        return len(names) - 1

    barcode_ids = None if cells is None else {b: i for i, b in enumerate(cells["barcode"])}
    reader = FragmentReader(fragments, barcodes=barcode_ids, resolve_chrom=resolve)
    qc = CellQC(known, regions=regions, tss=tss, n_cells=0 if cells is None else len(cells))
    with tqdm(desc=f"QC {Path(fragments).name}", unit=" fragments", unit_scale=True, leave=False) as bar:
        for batch in reader:
            keep = batch.barcode >= 0
            qc.add(batch.barcode[keep], batch.subset(keep) if not keep.all() else batch)
            bar.update(len(batch))
    barcodes = reader.barcodes if cells is None else list(cells["barcode"])
    table = qc.table(barcodes)
    if cells is not None:
        table.insert(1, "cell_type", cells["cell_type"].to_numpy())
    log.info("QC of %s: %d barcodes, %d fragments", fragments, len(table), int(table["n_fragments"].sum()))
    hist = pd.DataFrame({"length": np.arange(MAX_HISTOGRAM_LENGTH + 1), "n_fragments": qc.length_histogram})
    return table, hist


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write a table atomically: Parquet for ``.parquet``, else tab-separated text."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")


@numba.njit(nogil=True, cache=True)
def _count(
    chrom, start, end, cell, count, n_fragments, n_reads, n_free, n_mono, histogram,
    r_bounds, r_bound_at, r_answer, r_answer_at, in_regions,
    t_bounds, t_bound_at, t_answer, t_answer_at, t_depth, tss, flank,
):  # fmt: skip  # pragma: no cover - compiled
    """:meth:`CellQC.add` in one loop over the fragments: their counts, lengths, and the
    segments (of the regions, of the TSS windows) their two insertions fall in, found by
    pointers that walk the sorted segment bounds as the sorted fragments go (a binary
    search at each new chromosome, or where the starts go back)."""
    n_chrom = r_bound_at.size - 1
    current = -1
    previous = 0
    r_lo, r_m, r_k, t_lo, t_m, t_k = 0, 0, 0, 0, 0, 0
    for f in range(cell.size):
        x = cell[f]
        length = end[f] - start[f]
        n_fragments[x] += 1
        n_reads[x] += count[f]
        if length < NUCLEOSOME_FREE:
            n_free[x] += 1
        elif length <= MONO_NUCLEOSOME:
            n_mono[x] += 1
        histogram[min(length, MAX_HISTOGRAM_LENGTH)] += 1
        if chrom[f] != current or start[f] < previous:
            current = chrom[f]
            known = 0 <= current < n_chrom
            r_lo = r_bound_at[current] if known else 0
            r_m = r_bound_at[current + 1] - r_lo if known else 0
            r_k = np.searchsorted(r_bounds[r_lo : r_lo + r_m], start[f], side="right")
            t_lo = t_bound_at[current] if known else 0
            t_m = t_bound_at[current + 1] - t_lo if known else 0
            t_k = np.searchsorted(t_bounds[t_lo : t_lo + t_m], start[f], side="right")
        previous = start[f]
        last = end[f] - 1
        if r_m >= 2:
            while r_k < r_m and r_bounds[r_lo + r_k] <= start[f]:
                r_k += 1
            j = r_k
            while j < r_m and r_bounds[r_lo + j] <= last:
                j += 1
            for seg in (r_answer[r_answer_at[current] + r_k], r_answer[r_answer_at[current] + j]):
                if seg >= 0:
                    in_regions[x] += 1
        if t_m >= 2:
            while t_k < t_m and t_bounds[t_lo + t_k] <= start[f]:
                t_k += 1
            j = t_k
            while j < t_m and t_bounds[t_lo + j] <= last:
                j += 1
            for seg in (t_answer[t_answer_at[current] + t_k], t_answer[t_answer_at[current] + j]):
                if seg >= 0:
                    tss[x] += t_depth[0, seg]
                    flank[x] += t_depth[1, seg]
