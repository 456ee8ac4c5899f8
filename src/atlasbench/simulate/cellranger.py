"""The files Cell Ranger ATAC writes beside a fragments file, for a simulated platform.

A real study reads a library's sequenced read pairs from Cell Ranger's ``summary.csv``
and may take its cell calls from ``singlecell.csv``
(:mod:`atlasbench.io.cellranger`). The simulator writes both, so a simulated study runs
the way a real one does: the sequenced read pairs are the cells' read pairs over the
platform's usable fraction (:attr:`~atlasbench.simulate.platforms.PlatformProfile.usable_fraction`),
the reads lost without a barcode sit in the ``NO_BARCODE`` row, and every barcode
holding a cell (alone, as a doublet or a collision) is called a cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from atlasbench.io.atomic import atomic_path
from atlasbench.simulate.platforms import PlatformProfile

__all__ = ["write_cellranger_outputs"]


def write_cellranger_outputs(barcodes: pd.DataFrame, profile: PlatformProfile, folder: Path) -> dict[str, Path]:
    """Write ``summary.csv`` and ``singlecell.csv`` of one simulated library.

    Parameters
    ----------
    barcodes
        The simulator's per-barcode table: ``barcode``, ``kind`` ("empty" for empty
        droplets), ``n_reads`` and ``n_fragments``.
    profile
        The platform: its name and usable fraction.
    folder
        The platform's folder (beside its fragments file).

    Returns
    -------
    dict
        ``"summary"`` and ``"singlecell"`` -> path.
    """
    is_cell = (barcodes["kind"] != "empty").to_numpy()
    reads = barcodes["n_reads"].to_numpy(np.int64)
    fragments = barcodes["n_fragments"].to_numpy(np.int64)
    in_cells = int(reads[is_cell].sum())
    sequenced = max(round(in_cells / profile.usable_fraction), int(reads.sum()))
    cell_id = np.full(len(barcodes), "None", dtype=object)
    cell_id[is_cell] = [f"_cell_{i}" for i in range(int(is_cell.sum()))]
    zeros = np.zeros(len(barcodes), dtype=np.int64)
    per_barcode = pd.DataFrame(
        {
            "barcode": barcodes["barcode"].to_numpy(),
            "total": reads,
            "duplicate": reads - fragments,
            "chimeric": zeros,
            "unmapped": zeros,
            "lowmapq": zeros,
            "mitochondrial": zeros,
            "passed_filters": fragments,
            "cell_id": cell_id,
            "is__cell_barcode": is_cell.astype(np.int64),
        }
    )
    no_barcode = {c: 0 for c in per_barcode.columns} | {
        "barcode": "NO_BARCODE",
        "total": sequenced - int(reads.sum()),
        "cell_id": "None",
    }
    per_barcode = pd.concat([pd.DataFrame([no_barcode]), per_barcode], ignore_index=True)
    n_cells = int(is_cell.sum())
    summary = pd.DataFrame(
        [
            {
                "Sample ID": profile.name,
                "Genome": "simulated",
                "Pipeline version": "atlasbench simulate",
                "Estimated number of cells": n_cells,
                "Sequenced read pairs": sequenced,
                "Mean raw read pairs per cell": round(sequenced / max(n_cells, 1)),
                "Fraction of high-quality fragments in cells": round(
                    float(fragments[is_cell].sum()) / max(float(fragments.sum()), 1.0), 4
                ),
            }
        ]
    )
    paths = {"summary": Path(folder) / "summary.csv", "singlecell": Path(folder) / "singlecell.csv"}
    for key, frame in (("summary", summary), ("singlecell", per_barcode)):
        with atomic_path(paths[key]) as tmp:
            frame.to_csv(tmp, index=False)
    return paths
