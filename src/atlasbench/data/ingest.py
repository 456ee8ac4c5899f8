"""Ingest: one validated pass over a platform's fragments files into a compact store.

The raw fragments files are parsed once. Fragments of barcodes that are not in the cell
table (empty droplets, unannotated cells) and of excluded chromosomes are dropped; the
rest are written to ``fragments.parquet`` as integer columns (chromosome id, start, end,
cell id, count), together with ``cells.parquet`` (one row per annotated cell with its
per-cell QC). Every later stage (peak calling, nested downsampling, pseudobulk, bigWig,
Tn5 bias) streams this store, which reads an order of magnitude faster than gzip text.
Row groups never span two chromosomes, so one chromosome can be read alone.

Fragments on contigs the study does not use (absent from the genome, such as the
unplaced ``GL456210.1`` of Cell Ranger's mm10, or outside ``keep_chromosomes``) are
dropped too, counted per contig and listed in ``dropped_contigs.tsv`` (contig,
fragments, share of all fragments, reason); ``unknown_contigs="error"`` makes a contig
absent from the genome an error instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from atlasbench.data.qc import CellQC
from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.atomic import atomic_path, write_text_atomic
from atlasbench.io.fragments import FragmentBatch, FragmentReader
from atlasbench.io.genome import match_chromosomes

log = logging.getLogger(__name__)

STORE_SCHEMA = pa.schema(
    [
        ("chrom", pa.int32()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("cell", pa.int32()),
        ("count", pa.int32()),
    ]
)
# no dictionary pages (slow to build, useless on positions), delta-coded positions, lz4:
# about 7 bytes per fragment, written at several million fragments per second
STORE_WRITE_OPTIONS = {
    "compression": "lz4",
    "use_dictionary": False,
    "column_encoding": {"start": "DELTA_BINARY_PACKED", "end": "DELTA_BINARY_PACKED"},
}
MAX_POSITION = np.iinfo(np.int32).max
NOT_IN_GENOME = "not in genome"
NOT_KEPT = "not in genome.chromosomes"
DROPPED_CONTIGS = "dropped_contigs.tsv"
DROPPED_COLUMNS = ["contig", "fragments", "share", "reason"]


def default_sample_name(path: str | Path) -> str:
    """Sample name of a fragments file when none is given: its file name without the extension.

    One extension goes, the first of ``.tsv.gz``, ``.tsv.bgz``, ``.tsv``, ``.gz`` and
    ``.bgz`` that the name ends with, and nothing else: ``s1.fragments.tsv.gz`` is sample
    ``s1.fragments``. A study names the samples of a platform so when it does not list
    them (``platforms[].samples``), and a cell table's ``sample`` column must use these
    names.
    """
    name = Path(path).name
    for suffix in (".tsv.gz", ".tsv.bgz", ".tsv", ".gz", ".bgz"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def read_cell_table(path: str | Path, samples: Sequence[str]) -> pd.DataFrame:
    """Read and check a cell annotation table.

    Parameters
    ----------
    path
        Tab- or comma-separated table with a header naming ``barcode`` and ``cell_type``,
        and ``sample`` when the platform has several fragments files.
    samples
        Sample names of the platform's fragments files.

    Returns
    -------
    pandas.DataFrame
        Columns barcode, cell_type, sample (str), one row per cell, in file order.
    """
    path = Path(path)
    if not path.exists():
        raise input_error(path, "cell table not found")
    with path.open() as fh:
        header = fh.readline()
    sep = "\t" if "\t" in header else ","
    table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    missing = [c for c in ("barcode", "cell_type") if c not in table.columns]
    if missing:
        raise input_error(
            path,
            f"missing column(s) {missing}; expected a header with barcode and cell_type, found {list(table.columns)}",
            1,
        )
    if "sample" not in table.columns:
        if len(samples) > 1:
            raise input_error(
                path,
                f"the platform has {len(samples)} fragments files, so the cell table needs "
                f"a `sample` column naming one of {list(samples)}",
                1,
            )
        table["sample"] = samples[0]
    empty = (table["barcode"] == "") | (table["cell_type"] == "")
    if empty.any():
        raise input_error(path, "empty barcode or cell_type", int(np.flatnonzero(empty)[0]) + 2)
    unknown = ~table["sample"].isin(samples)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise input_error(
            path,
            f"sample {table['sample'].iloc[row]!r} is not one of the fragments files' samples {list(samples)}",
            row + 2,
        )
    dup = table.duplicated(["sample", "barcode"])
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise input_error(path, f"barcode {table['barcode'].iloc[row]!r} is listed twice", row + 2)
    return table[["barcode", "cell_type", "sample"]].reset_index(drop=True)


def keep_called_cells(
    cells: pd.DataFrame, calls: Mapping[str, Collection[str]], sources: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The annotated cells that the cell caller (Cell Ranger) called cells, sample by sample.

    An annotation made outside Cell Ranger may hold barcodes it did not call (left out,
    counted in a warning); called cells without a cell type are not used (logged).

    Parameters
    ----------
    cells
        Cell table from :func:`read_cell_table` (barcode, cell_type, sample).
    calls
        Sample -> the barcodes called cells there
        (:func:`atlasbench.io.cellranger.read_cell_calls`); samples without an entry are
        kept as they are.
    sources
        Sample -> the file its calls came from, for messages.

    Returns
    -------
    pandas.DataFrame
        The rows of ``cells`` whose barcode was called in its sample, in order.

    Raises
    ------
    AtlasbenchError
        When a sample has annotated cells and none of them was called: the barcodes are
        probably spelled differently (a ``-1`` suffix, a sample prefix); the message shows
        one barcode of each file.
    """
    sources = sources or {}
    keep = np.ones(len(cells), dtype=bool)
    for sample, called in calls.items():
        mine = (cells["sample"] == sample).to_numpy()
        if not mine.any():
            continue
        called_set = set(called)
        hit = cells["barcode"].isin(called_set).to_numpy() & mine
        where = sources.get(sample, f"sample {sample!r}")
        if not hit.any():
            example = next(iter(called), "none")
            raise AtlasbenchError(
                f"{where}: none of the {int(mine.sum()):,} annotated barcodes of sample {sample!r} is a called "
                f"cell (annotated e.g. {cells['barcode'][mine].iloc[0]!r}, called e.g. {example!r}); "
                "are the barcodes spelled alike (a -1 suffix, a sample prefix)?"
            )
        missed = int(mine.sum() - hit.sum())
        if missed:
            log.warning(
                "%s: %s of %s annotated barcodes of sample %r are not called cells; left out",
                where,
                f"{missed:,}",
                f"{int(mine.sum()):,}",
                sample,
            )
        unannotated = len(called_set) - int(hit.sum())
        if unannotated:
            log.info("%s: %s called cells of sample %r have no cell type; not used", where, f"{unannotated:,}", sample)
        keep &= ~mine | hit
    return cells[keep].reset_index(drop=True)


@dataclass(frozen=True)
class Store:
    """An ingested platform: the fragments store and its cells.

    Attributes
    ----------
    directory
        Folder holding ``fragments.parquet``, ``cells.parquet`` and ``store.json``.
    chromosomes
        Chromosome names indexed by the store's chromosome ids.
    cells
        One row per annotated cell (index = cell id): barcode, cell_type, sample and QC
        (n_fragments, n_reads, ...).
    """

    directory: Path
    chromosomes: list[str]
    cells: pd.DataFrame

    @property
    def fragments(self) -> Path:
        return self.directory / "fragments.parquet"

    @property
    def dropped_contigs(self) -> pd.DataFrame:
        """Fragments left out per contig the study does not use: contig (as spelled in the
        fragments files), fragments, share (of all fragments of the files) and reason
        (``"not in genome"`` or ``"not in genome.chromosomes"``); empty for a store
        without the table (written before it existed, or combined)."""
        path = self.directory / DROPPED_CONTIGS
        if not path.exists():
            return pd.DataFrame({c: pd.Series(dtype=object) for c in DROPPED_COLUMNS})
        return pd.read_csv(path, sep="\t", dtype={"contig": str, "reason": str}, keep_default_na=False)

    @property
    def cell_types(self) -> list[str]:
        """Cell types, sorted."""
        return sorted(self.cells["cell_type"].unique())

    def batches(self, chromosome: str | None = None) -> Iterator[dict[str, np.ndarray]]:
        """Iterate the store in row groups as dicts of numpy arrays.

        Parameters
        ----------
        chromosome
            Only this chromosome's fragments (row groups never span chromosomes).

        Yields
        ------
        dict of str to numpy.ndarray
            Columns chrom, start, end, cell, count (int32; start and end widened to int64).
        """
        pf = pq.ParquetFile(self.fragments)
        want = None if chromosome is None else self.chromosomes.index(chromosome)
        for rg in range(pf.num_row_groups):
            if want is not None:
                stats = pf.metadata.row_group(rg).column(0).statistics
                if stats is not None and stats.has_min_max and stats.min != want:
                    continue
            yield read_batch(pf, rg)


def read_batch(fragments: pq.ParquetFile, index: int) -> dict[str, np.ndarray]:
    """One row group of a store's ``fragments.parquet`` as :meth:`Store.batches` yields it.

    Parameters
    ----------
    fragments
        The store's fragments file, open.
    index
        The row group.

    Returns
    -------
    dict of str to numpy.ndarray
        Columns chrom, start, end, cell, count (int32; start and end widened to int64).
    """
    table = fragments.read_row_group(index)
    cols = {name: table.column(name).to_numpy() for name in STORE_SCHEMA.names}
    cols["start"] = cols["start"].astype(np.int64)
    cols["end"] = cols["end"].astype(np.int64)
    return cols


def open_store(directory: str | Path) -> Store:
    """Open an ingested platform written by :func:`ingest`."""
    directory = Path(directory)
    meta_path = directory / "store.json"
    if not meta_path.exists() or not (directory / "fragments.parquet").exists():
        raise AtlasbenchError(f"{directory}: not an ingested fragments store (store.json or fragments.parquet missing)")
    meta = json.loads(meta_path.read_text())
    cells = pd.read_parquet(directory / "cells.parquet")
    return Store(directory, meta["chromosomes"], cells)


def ingest(
    fragments: Sequence[str | Path],
    cells: pd.DataFrame,
    out_dir: str | Path,
    chromosomes: Sequence[str],
    samples: Sequence[str] | None = None,
    keep_chromosomes: Collection[str] | None = None,
    regions: pd.DataFrame | None = None,
    tss: pd.DataFrame | None = None,
    unknown_contigs: str = "drop",
) -> Store:
    """Validate a platform's fragments and write its store (see module docstring).

    Parameters
    ----------
    fragments
        The platform's fragments files.
    cells
        Cell table from :func:`read_cell_table` (barcode, cell_type, sample).
    out_dir
        Folder of the store; written atomically (files appear only when complete).
    chromosomes
        The genome's chromosome names (``chr2L`` and ``2L``, ``MT`` and ``chrM`` are
        taken as the same chromosome).
    samples
        Sample name of each fragments file (default: from the file names).
    keep_chromosomes
        Chromosomes (genome spelling) to keep; fragments elsewhere are dropped.
    regions, tss
        Optional region set and TSS table for the FRiP and TSS enrichment columns of the
        per-cell QC.
    unknown_contigs
        ``"drop"``: fragments on contigs the genome lacks are dropped, counted and listed
        in ``dropped_contigs.tsv`` like those outside ``keep_chromosomes``; ``"error"``:
        such a contig is an error naming it, the file and its fragment count, and nothing
        is written.

    Returns
    -------
    Store
        The ingested platform.
    """
    out_dir = Path(out_dir)
    samples = list(samples) if samples is not None else [default_sample_name(p) for p in fragments]
    reference = list(chromosomes)
    if unknown_contigs not in ("drop", "error"):
        raise ValueError(f"unknown_contigs must be 'drop' or 'error', got {unknown_contigs!r}")
    keep_ids = None if keep_chromosomes is None else {reference.index(c) for c in keep_chromosomes if c in reference}
    # why each dropped contig (file spelling) is dropped; its fragments, all files together
    reasons: dict[str, str] = {}
    dropped: dict[str, int] = {}
    n_total = 0

    def resolve(name: str) -> int:
        mapping, unknown = match_chromosomes([name], reference)
        if unknown:
            reasons[name] = NOT_IN_GENOME
            return -1
        cid = reference.index(mapping[name])
        if keep_ids is None or cid in keep_ids:
            return cid
        reasons[name] = NOT_KEPT
        return -1

    qc = CellQC(reference, regions=regions, tss=tss, n_cells=len(cells))
    n_dropped = 0
    # the store is written by a second thread (Arrow releases the GIL) while the next
    # block is parsed; one block in flight at most
    with (
        atomic_path(out_dir / "fragments.parquet") as tmp,
        pq.ParquetWriter(tmp, STORE_SCHEMA, **STORE_WRITE_OPTIONS) as writer,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        writing: Future | None = None
        for i, path in enumerate(fragments):
            of_sample = np.flatnonzero(cells["sample"].to_numpy() == samples[i])
            ids = dict(zip(cells["barcode"].to_numpy()[of_sample], of_sample.tolist()))
            reader = FragmentReader(path, barcodes=ids, resolve_chrom=resolve)
            with tqdm(desc=f"ingest {Path(path).name}", unit=" fragments", unit_scale=True, leave=False) as bar:
                for batch in reader:
                    bar.update(len(batch))
                    keep = batch.barcode >= 0
                    n_dropped += int(len(keep) - keep.sum())
                    batch = batch.subset(keep)
                    if not len(batch):
                        continue
                    if batch.end.max() > MAX_POSITION:
                        raise input_error(path, f"positions above {MAX_POSITION} are not supported", batch.first_line)
                    qc.add(batch.barcode, batch)
                    tables = _chromosome_tables(batch)
                    if writing is not None:
                        writing.result()
                    writing = pool.submit(lambda ts: [writer.write_table(t) for t in ts], tables)
            n_total += reader.n_lines - reader.n_header_lines
            unknown = {c: n for c, n in reader.dropped.items() if reasons[c] == NOT_IN_GENOME}
            if unknown_contigs == "error" and unknown:
                first = next(iter(unknown))
                shown = ", ".join(reference[:8]) + (" ..." if len(reference) > 8 else "")
                listed = ", ".join(f"{c!r} ({n:,} fragments)" for c, n in unknown.items())
                raise input_error(
                    path,
                    f"contig(s) not in the genome (which has {shown}): {listed}; rename them, use the genome "
                    "they were mapped to, or set genome.unknown_contigs: drop to leave their fragments out",
                    reader.dropped_first_line[first],
                )
            for c, n in reader.dropped.items():
                dropped[c] = dropped.get(c, 0) + n
        if writing is not None:
            writing.result()
        # checked before fragments.parquet is renamed into place, so a failed re-ingest
        # leaves a store already in out_dir as it was
        table = qc.table(cells["barcode"].tolist())
        cell_table = pd.concat([cells.reset_index(drop=True), table.drop(columns="barcode")], axis=1)
        absent = cell_table["n_fragments"] == 0
        if absent.all():
            raise AtlasbenchError(
                f"none of the {len(cells)} barcodes of the cell table occur in {[str(p) for p in fragments]} "
                f"(cell table has e.g. {cells['barcode'].iloc[0]!r}); "
                "check barcode suffixes such as '-1' and sample names"
            )
    if absent.any():
        log.warning(
            "%d of %d annotated barcodes have no fragments (e.g. %s); they are left out of the cell levels",
            int(absent.sum()),
            len(cells),
            ", ".join(cell_table.loc[absent, "barcode"].head(3)),
        )
    log.info(
        "ingested %d fragments of %d cells; dropped %d fragments of barcodes not in the cell table",
        int(cell_table["n_fragments"].sum()),
        int((~absent).sum()),
        n_dropped,
    )
    contigs = pd.DataFrame(
        {
            "contig": list(dropped),
            "fragments": list(dropped.values()),
            "share": [n / max(n_total, 1) for n in dropped.values()],
            "reason": [reasons[c] for c in dropped],
        },
        columns=DROPPED_COLUMNS,
    )
    if len(contigs):
        n_out = int(contigs["fragments"].sum())
        shown = contigs.sort_values("fragments", ascending=False, kind="stable").head(10)
        log.info(
            "dropped %d of %d fragments (%.3g%%) on %d contig(s) the study does not use: %s%s",
            n_out,
            n_total,
            100 * n_out / max(n_total, 1),
            len(contigs),
            ", ".join(f"{r.contig} {r.fragments} ({r.reason})" for r in shown.itertuples()),
            " ..." if len(contigs) > len(shown) else "",
        )
    with atomic_path(out_dir / "cells.parquet") as tmp:
        cell_table.to_parquet(tmp, index=False)
    write_text_atomic(out_dir / DROPPED_CONTIGS, contigs.to_csv(sep="\t", index=False))
    write_text_atomic(
        out_dir / "store.json",
        json.dumps(
            {
                "chromosomes": reference,
                "samples": samples,
                "fragments": [str(p) for p in fragments],
                "dropped_unannotated_fragments": n_dropped,
                "dropped_contig_fragments": int(sum(dropped.values())),
            },
            indent=1,
        ),
    )
    return Store(out_dir, reference, cell_table)


def _chromosome_tables(batch: FragmentBatch) -> list[pa.Table]:
    """A batch as store tables, one per chromosome run (row groups never span two)."""
    cuts = np.concatenate([[0], np.flatnonzero(batch.chrom[1:] != batch.chrom[:-1]) + 1, [len(batch)]])
    return [
        pa.table(
            {
                "chrom": batch.chrom[a:b].astype(np.int32),
                "start": batch.start[a:b].astype(np.int32),
                "end": batch.end[a:b].astype(np.int32),
                "cell": batch.barcode[a:b].astype(np.int32),
                "count": batch.count[a:b].astype(np.int32),
            },
            schema=STORE_SCHEMA,
        )
        for a, b in pairwise(cuts)
    ]
