"""Combined atlases: a platform made of the pooled cells of others.

A lab may ask whether pooling its HyDrop v2 and 10x data beats either alone. The
combined platform's store holds every cell of its parts (cell types pooled by name),
optionally after thinning each part to a common mean depth first, so that a deeper part
does not dominate the pool. It then goes through the grid like any platform.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from atlasbench.data.ingest import STORE_SCHEMA, STORE_WRITE_OPTIONS, Store
from atlasbench.data.sampling import depth_probabilities, thin_reads
from atlasbench.errors import AtlasbenchError
from atlasbench.io.atomic import atomic_path, write_text_atomic

log = logging.getLogger(__name__)


def combine_stores(
    parts: dict[str, Store], out_dir: str | Path, common_depth: int | None = None, seed: int = 0
) -> Store:
    """Pool the cells of several ingested platforms into one store.

    Parameters
    ----------
    parts
        Platform name -> its store; all ingested against the same genome.
    out_dir
        Folder of the combined store (written atomically, ``store.json`` last).
    common_depth
        If given, each part is first thinned (reads kept with probability
        ``common_depth / its mean reads per cell``, as in
        :func:`atlasbench.data.sampling.thin_reads`) to this mean number of reads per cell.
    seed
        Seed of that thinning.

    Returns
    -------
    Store
        Cells of all parts (columns ``platform`` and ``sample`` say where each came
        from), their fragments, and per-cell n_fragments and n_reads after thinning.
    """
    out_dir = Path(out_dir)
    names = list(parts)
    chromosomes = parts[names[0]].chromosomes
    for name in names[1:]:
        if parts[name].chromosomes != chromosomes:
            raise AtlasbenchError(
                f"combined platform: {name!r} was ingested against other chromosomes than {names[0]!r}"
            )
    tables, offset = [], 0
    offsets = {}
    for name in names:
        cells = parts[name].cells[["barcode", "cell_type", "sample", "n_fragments", "n_reads"]].copy()
        cells.insert(0, "platform", name)
        cells["sample"] = name + ":" + cells["sample"].astype(str)
        offsets[name] = offset
        offset += len(cells)
        tables.append(cells)
    cells = pd.concat(tables, ignore_index=True)
    n_frag = np.zeros(len(cells), dtype=np.int64)
    n_reads = np.zeros(len(cells), dtype=np.int64)
    with (
        atomic_path(out_dir / "fragments.parquet") as tmp,
        pq.ParquetWriter(tmp, STORE_SCHEMA, **STORE_WRITE_OPTIONS) as writer,
    ):
        for part_index, name in enumerate(names):
            store = parts[name]
            probs = None
            if common_depth is not None:
                has = store.cells["n_fragments"] > 0
                probs = depth_probabilities([common_depth], float(store.cells.loc[has, "n_reads"].mean()))
            for batch_index, batch in enumerate(store.batches()):
                count = batch["count"].astype(np.int64)
                if probs is not None:
                    count = thin_reads(count, probs, np.random.default_rng([seed, part_index, batch_index]))[0]
                keep = count > 0
                cell = batch["cell"][keep] + offsets[name]
                n_frag += np.bincount(cell, minlength=len(cells))
                n_reads += np.bincount(cell, weights=count[keep], minlength=len(cells)).astype(np.int64)
                writer.write_table(
                    pa.table(
                        {
                            "chrom": batch["chrom"][keep],
                            "start": batch["start"][keep].astype(np.int32),
                            "end": batch["end"][keep].astype(np.int32),
                            "cell": cell.astype(np.int32),
                            "count": count[keep].astype(np.int32),
                        },
                        schema=STORE_SCHEMA,
                    )
                )
    cells["n_fragments"] = n_frag
    cells["n_reads"] = n_reads
    with atomic_path(out_dir / "cells.parquet") as tmp:
        cells.to_parquet(tmp, index=False)
    write_text_atomic(
        out_dir / "store.json",
        json.dumps({"chromosomes": chromosomes, "parts": names, "common_depth": common_depth, "seed": seed}, indent=1),
    )
    log.info("combined %s: %d cells, %d fragments", "+".join(names), len(cells), int(n_frag.sum()))
    return Store(out_dir, list(chromosomes), cells)
