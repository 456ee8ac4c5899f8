"""Combined atlases: pooling ingested platforms into one store (atlasbench.data.combine)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from atlasbench.data.combine import combine_stores
from atlasbench.data.ingest import ingest, open_store
from atlasbench.data.pseudobulk import pseudobulk
from atlasbench.errors import AtlasbenchError

DATA = Path(__file__).parent / "data"
FRAGMENTS = DATA / "archr_pbsmall_hg19.fragments.tsv.gz"
CHROMOSOMES = ["chr5", "chr11"]


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(FRAGMENTS, sep="\t", header=None, names=["chrom", "start", "end", "barcode", "count"])


def cell_table(barcodes) -> pd.DataFrame:
    return pd.DataFrame({"barcode": list(barcodes), "cell_type": [b.split(".")[0] for b in barcodes], "sample": "s"})


@pytest.fixture(scope="module")
def parts(raw, tmp_path_factory):
    """The ArchR cells split in two platforms: p1 = B cells + odd monocytes, p2 = even
    monocytes + T cells (so the cell type M is pooled by name), plus all cells in one."""
    barcodes = sorted(raw["barcode"].unique())
    m = [b for b in barcodes if b.startswith("M.")]
    p1 = [b for b in barcodes if b.startswith("B.")] + [b for b in m if int(b[2:]) % 2]
    p2 = [b for b in m if not int(b[2:]) % 2] + [b for b in barcodes if b.startswith("T.")]
    root = tmp_path_factory.mktemp("combine")
    stores = {
        name: ingest([FRAGMENTS], cell_table(bcs), root / name, CHROMOSOMES, samples=["s"])
        for name, bcs in (("p1", p1), ("p2", p2), ("whole", barcodes))
    }
    return root, stores


@pytest.fixture(scope="module")
def combined(parts):
    root, stores = parts
    return combine_stores({"p1": stores["p1"], "p2": stores["p2"]}, root / "pooled", seed=3)


@pytest.fixture(scope="module")
def regions(raw) -> pd.DataFrame:
    rows = []
    for chrom in CHROMOSOMES:
        starts = np.sort(raw.loc[raw["chrom"] == chrom, "start"].to_numpy())
        for q in (0.05, 0.25, 0.5, 0.75, 0.95):
            c = int(np.quantile(starts, q))
            rows.append((chrom, c - 20_000, c + 20_000))
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def test_full_level_pseudobulk_of_the_pool_is_the_sum_of_its_parts(parts, combined, regions):
    _, stores = parts
    pb = {name: pseudobulk(s, regions, ["all"], ["all"], seed=1) for name, s in stores.items()}
    pooled = pseudobulk(combined, regions, ["all"], ["all"], seed=1)
    assert pb["p1"].cell_types == ["B", "M"] and pb["p2"].cell_types == ["M", "T"]
    assert pooled.cell_types == ["B", "M", "T"]
    expected = np.zeros_like(pooled.counts)
    expected_library = np.zeros_like(pooled.library_size)
    for name in ("p1", "p2"):
        for i, t in enumerate(pb[name].cell_types):
            expected[:, :, pooled.cell_types.index(t)] += pb[name].counts[:, :, i]
            expected_library[:, :, pooled.cell_types.index(t)] += pb[name].library_size[:, :, i]
    assert expected.sum() > 1000  # the regions hold real signal
    np.testing.assert_array_equal(pooled.counts, expected)
    np.testing.assert_array_equal(pooled.library_size, expected_library)
    # and, since every cell is in exactly one part, the same as all cells ingested at once
    assert pb["whole"].cell_types == pooled.cell_types
    np.testing.assert_array_equal(pooled.counts, pb["whole"].counts)


def test_pooled_cell_table_says_where_each_cell_came_from(parts, combined, raw):
    _, stores = parts
    cells = combined.cells
    assert "platform" in cells.columns
    assert list(cells["platform"]) == ["p1"] * len(stores["p1"].cells) + ["p2"] * len(stores["p2"].cells)
    for name in ("p1", "p2"):
        mine = cells[cells["platform"] == name]
        assert list(mine["barcode"]) == list(stores[name].cells["barcode"])
        assert list(mine["cell_type"]) == list(stores[name].cells["cell_type"])
        assert set(mine["sample"]) == {f"{name}:s"}
    # no thinning: every fragment of every cell, as counted from the raw file
    per_cell = raw.groupby("barcode").agg(n=("count", "size"), reads=("count", "sum"))
    assert list(cells["n_fragments"]) == list(per_cell.loc[cells["barcode"], "n"])
    assert list(cells["n_reads"]) == list(per_cell.loc[cells["barcode"], "reads"])
    # the store on disk opens the same and holds every fragment once
    reopened = open_store(combined.directory)
    pd.testing.assert_frame_equal(reopened.cells, cells)
    assert pq.ParquetFile(combined.fragments).metadata.num_rows == len(raw)


def test_common_depth_thins_each_part_to_that_mean(parts, tmp_path):
    _, stores = parts
    # the parts have about 178 (p1) and 214 (p2) reads per cell; thin both to 100
    pooled = combine_stores({"p1": stores["p1"], "p2": stores["p2"]}, tmp_path / "thin", common_depth=100, seed=5)
    cells = pooled.cells
    for name in ("p1", "p2"):
        mine = cells[cells["platform"] == name]
        before = stores[name].cells["n_reads"].to_numpy()
        # each part keeps ~7,500 of its 13-16k reads: sd of the mean per cell is < 1 read
        assert abs(before.mean() - 100) > 70  # far from the target before thinning
        assert abs(mine["n_reads"].mean() - 100) < 4, (name, mine["n_reads"].mean())
        assert (mine["n_reads"].to_numpy() <= before).all()
    # the per-cell counts agree with the fragments actually written
    table = pq.read_table(pooled.fragments).to_pandas()
    reads = np.bincount(table["cell"], weights=table["count"], minlength=len(cells))
    frags = np.bincount(table["cell"], minlength=len(cells))
    np.testing.assert_array_equal(reads.astype(np.int64), cells["n_reads"].to_numpy())
    np.testing.assert_array_equal(frags, cells["n_fragments"].to_numpy())
    assert (table["count"] > 0).all()
    # same seed, same thinning
    again = combine_stores({"p1": stores["p1"], "p2": stores["p2"]}, tmp_path / "again", common_depth=100, seed=5)
    np.testing.assert_array_equal(again.cells["n_reads"], cells["n_reads"])


def test_parts_ingested_against_other_chromosomes_are_refused(parts, tmp_path):
    _, stores = parts
    other = replace(stores["p2"], chromosomes=["chr11", "chr5"])
    with pytest.raises(AtlasbenchError, match="'p2' was ingested against other chromosomes than 'p1'"):
        combine_stores({"p1": stores["p1"], "p2": other}, tmp_path / "bad")
    assert not (tmp_path / "bad" / "store.json").exists()
