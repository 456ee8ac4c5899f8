"""Pseudobulk counts checked by hand on the real ArchR fragments."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyBigWig
import pytest

from atlasbench.data.ingest import ingest
from atlasbench.data.pseudobulk import export_bigwigs, pseudobulk, target_windows, write_fragment_bed
from atlasbench.data.sampling import cell_order
from atlasbench.errors import AtlasbenchError
from atlasbench.io.names import file_stem

DATA = Path(__file__).parent / "data"
FRAGMENTS = DATA / "archr_pbsmall_hg19.fragments.tsv.gz"
SIZES = {"chr5": 180915260, "chr11": 135006516}


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    df = pd.read_csv(FRAGMENTS, sep="\t", header=None, names=["chrom", "start", "end", "barcode", "count"])
    df["cell_type"] = df["barcode"].str.split(".").str[0]
    return df


@pytest.fixture(scope="module")
def store(tmp_path_factory, raw):
    barcodes = sorted(raw["barcode"].unique())
    cells = pd.DataFrame({"barcode": barcodes, "cell_type": [b.split(".")[0] for b in barcodes], "sample": "s"})
    return ingest([FRAGMENTS], cells, tmp_path_factory.mktemp("store"), list(SIZES), samples=["s"])


@pytest.fixture(scope="module")
def regions(raw) -> pd.DataFrame:
    # windows around the densest spots, plus two overlapping ones
    dense = raw[raw["chrom"] == "chr11"]["start"].to_numpy()
    centres = np.quantile(dense, [0.1, 0.3, 0.5, 0.7, 0.9]).astype(int)
    rows = [("chr11", c - 5000, c + 5000) for c in centres]
    rows += [("chr5", 1_000_000, 30_000_000), ("chr5", 20_000_000, 60_000_000)]
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def hand_count(raw: pd.DataFrame, regions: pd.DataFrame, cell_types: list[str]) -> np.ndarray:
    """Insertions (start and end - 1) per cell type inside each region, by brute force."""
    out = np.zeros((len(cell_types), len(regions)), dtype=np.int64)
    for j, r in enumerate(regions.itertuples()):
        on = raw[raw["chrom"] == r.chrom]
        for i, t in enumerate(cell_types):
            of = on[on["cell_type"] == t]
            out[i, j] = ((of["start"] >= r.start) & (of["start"] < r.end)).sum() + (
                (of["end"] - 1 >= r.start) & (of["end"] - 1 < r.end)
            ).sum()
    return out


def test_full_level_counts_match_hand_count(store, regions, raw):
    pb = pseudobulk(store, regions, ["all"], ["all"], seed=1)
    assert pb.cell_types == ["B", "M", "T"]
    np.testing.assert_array_equal(pb.counts[0, 0], hand_count(raw, regions, pb.cell_types))
    per_type = raw.groupby("cell_type").size()
    np.testing.assert_array_equal(pb.library_size[0, 0], 2 * per_type.loc[pb.cell_types].to_numpy())


def test_target_window_counts_wider_window(store, regions, raw):
    pb = pseudobulk(store, regions, ["all"], ["all"], seed=1, window=20_000)
    windows = target_windows(regions, 20_000)
    assert (windows["end"] - windows["start"] == 20_000).all()
    np.testing.assert_array_equal(pb.counts[0, 0], hand_count(raw, windows, pb.cell_types))
    # the FRiP numerator counts insertions in the regions themselves (not the windows),
    # once even where two regions overlap
    ins = pd.concat([raw[["chrom", "start", "barcode"]].rename(columns={"start": "pos"}),
                     raw[["chrom", "barcode"]].assign(pos=raw["end"] - 1)])
    inside = np.zeros(len(ins), dtype=bool)
    for r in regions.itertuples():
        inside |= ((ins["chrom"] == r.chrom) & (ins["pos"] >= r.start) & (ins["pos"] < r.end)).to_numpy()
    expected = ins[inside].groupby("barcode").size().reindex(store.cells["barcode"], fill_value=0)
    np.testing.assert_array_equal(pb.insertions_in_regions, expected.to_numpy())


def test_cell_levels_select_the_stratified_prefix(store, regions, raw):
    pb = pseudobulk(store, regions, ["all"], [30, 90, "all"], seed=5)
    rank = cell_order(store.cells["cell_type"].to_numpy(), 5)
    for j, n in enumerate([30, 90, 150]):
        chosen = set(store.cells["barcode"][rank < n])
        sub = raw[raw["barcode"].isin(chosen)]
        np.testing.assert_array_equal(pb.counts[0, j], hand_count(sub, regions, pb.cell_types))
        row = pb.levels[pb.levels["cell_level"] == j].iloc[0]
        assert row["n_cells"] == n
        assert [row[f"n_cells_{t}"] for t in "BMT"] == [n // 3] * 3


def test_depth_levels_are_nested_and_thinned(store, regions):
    pb = pseudobulk(store, regions, [50, 100, "all"], [60, "all"], seed=2)
    assert (np.diff(pb.counts, axis=0) >= 0).all()
    assert (np.diff(pb.counts, axis=1) >= 0).all()
    assert (np.diff(pb.library_size, axis=0) >= 0).all()
    mean_reads = store.cells["n_reads"].mean()
    total = store.cells["n_fragments"].sum()
    for d, target in enumerate([50, 100]):
        p = target / mean_reads
        kept = pb.library_size[d, -1].sum() / 2  # every ArchR fragment has one read
        assert abs(kept - p * total) < 5 * np.sqrt(total * p * (1 - p))
        row = pb.levels[(pb.levels["depth_level"] == d) & (pb.levels["cell_level"] == 1)].iloc[0]
        assert abs(row["mean_reads_per_cell"] - target) < 0.1 * target
    # same seed, same numbers; another seed, other numbers
    again = pseudobulk(store, regions, [50, 100, "all"], [60, "all"], seed=2)
    np.testing.assert_array_equal(pb.counts, again.counts)
    other = pseudobulk(store, regions, [50, 100, "all"], [60, "all"], seed=3)
    assert not np.array_equal(pb.counts[0], other.counts[0])
    np.testing.assert_array_equal(pb.counts[-1, -1], other.counts[-1, -1])


def test_no_cell_type_left_at_a_level_is_a_clear_error(store, regions):
    with pytest.raises(AtlasbenchError, match=r"at cells level 9 \(9 cells\) every cell type has fewer than "
                       r"grid\.min_cells_per_type=10 cells: 'B' \(3 cells\)"):
        pseudobulk(store, regions, ["all"], [9, "all"], seed=1, min_cells_per_type=10)


def test_small_cell_types_are_dropped_per_level_with_a_warning(tmp_path, raw, regions, caplog):
    # 8 of the 50 B cells become "NK": 60 of 150 cells keep about 3 NK cells, all keep 8
    barcodes = sorted(raw["barcode"].unique())
    types = [b.split(".")[0] for b in barcodes]
    nk = [i for i, b in enumerate(barcodes) if b.startswith("B.")][:8]
    for i in nk:
        types[i] = "NK"
    cells = pd.DataFrame({"barcode": barcodes, "cell_type": types, "sample": "s"})
    store = ingest([FRAGMENTS], cells, tmp_path / "store", list(SIZES), samples=["s"])
    with caplog.at_level("WARNING", logger="atlasbench.data.pseudobulk"):
        pb = pseudobulk(store, regions, ["all"], [60, "all"], seed=1, min_cells_per_type=5)
    levels = pb.levels.set_index("cells")
    n_nk = int(levels.loc["60", "n_cells_NK"])
    assert n_nk < 5 and int(levels.loc["all", "n_cells_NK"]) == 8
    assert levels.loc["60", "dropped_cell_types"] == "NK"
    assert levels.loc["all", "dropped_cell_types"] == ""
    warned = [r.getMessage() for r in caplog.records if "'NK'" in r.getMessage()]
    assert warned == [
        f"cell type 'NK' has {n_nk} cells at cells level 60 (60 cells), fewer than grid.min_cells_per_type=5: "
        "left out of that level's targets"
    ]
    # the counts themselves still hold every cell type; the targets stage leaves NK out
    assert pb.cell_types == ["B", "M", "NK", "T"]


def test_depth_above_the_data_is_a_clear_error(store, regions):
    with pytest.raises(AtlasbenchError, match="above the data's mean"):
        pseudobulk(store, regions, [10_000], ["all"], seed=1)


def test_fragment_bed_of_each_cell_type(store, raw, tmp_path):
    for t in store.cell_types:
        path = write_fragment_bed(store, t, tmp_path / f"{t}.bed.gz")
        assert path.read_bytes()[:2] == b"\x1f\x8b"  # gzip, as MACS3 reads it
        bed = pd.read_csv(path, sep="\t", header=None, names=["chrom", "start", "end"])
        expected = raw[raw["cell_type"] == t].sort_values(["chrom", "start", "end"])[["chrom", "start", "end"]]
        got = bed.sort_values(["chrom", "start", "end"])
        np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())


def test_bigwig_is_cpm_insertion_coverage(store, raw, tmp_path):
    written = export_bigwigs(store, tmp_path, SIZES)
    assert list(written) == ["reads-all_cells-all"]
    paths = written["reads-all_cells-all"]["cutsites"]
    assert set(paths) == {"B", "M", "T"}
    for t, path in paths.items():
        assert path == tmp_path / "reads-all_cells-all" / "cutsites" / f"{t}.bw"
        of = raw[raw["cell_type"] == t]
        sites = pd.concat([of[["chrom", "start"]].rename(columns={"start": "pos"}),
                           of[["chrom", "end"]].assign(pos=of["end"] - 1)[["chrom", "pos"]]])
        counts = sites.value_counts()
        scale = 1e6 / (2 * len(of))
        bw = pyBigWig.open(str(path))
        try:
            assert bw.chroms() == SIZES
            for (chrom, pos), n in list(counts.items())[:50]:
                assert bw.values(chrom, int(pos), int(pos) + 1)[0] == pytest.approx(n * scale, rel=1e-6)
            total = sum(sum(v for _, _, v in (bw.intervals(c) or [])) for c in SIZES)
            assert total == pytest.approx(1e6, rel=1e-6)
        finally:
            bw.close()


def _tiny_store(tmp_path):
    """Two cell types on one 1 kb chromosome; fragments by hand, one duplicate read."""
    rows = [
        ("chrT", 10, 30, "a1", 1),  # "x/y z": [10, 30) and [20, 40) overlap on [20, 30)
        ("chrT", 20, 40, "a2", 2),
        ("chrT", 25, 26, "a1", 1),  # a 1 bp fragment: both insertions at base 25
        ("chrT", 100, 200, "b1", 1),  # "B"
    ]
    frag = tmp_path / "tiny.tsv"
    frag.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    cells = pd.DataFrame({"barcode": ["a1", "a2", "b1"], "cell_type": ["x/y z", "x/y z", "B"], "sample": "s"})
    return ingest([frag], cells, tmp_path / "store", ["chrT"], samples=["s"])


def test_bigwig_two_kinds_by_hand(tmp_path):
    store = _tiny_store(tmp_path)
    written = export_bigwigs(store, tmp_path / "bw", {"chrT": 1000})["reads-all_cells-all"]
    assert set(written) == {"cutsites", "coverage"}
    odd = written["coverage"]["x/y z"]
    assert odd.parent == tmp_path / "bw" / "reads-all_cells-all" / "coverage"
    assert "/" not in odd.name and " " not in odd.name and odd.exists()
    assert odd.name == f"{file_stem('x/y z')}.bw" and written["cutsites"]["x/y z"].name == odd.name
    # "x/y z": 3 fragments, 6 insertions
    cov = pyBigWig.open(str(odd))
    try:
        scale = 1e6 / 3
        expected = {9: 0, 10: 1, 19: 1, 20: 2, 24: 2, 25: 3, 26: 2, 29: 2, 30: 1, 39: 1, 40: 0, 500: 0}
        for base, n in expected.items():
            got = cov.values("chrT", base, base + 1, numpy=False)[0]
            assert (0.0 if got != got else got) == pytest.approx(n * scale), base  # NaN: not written = 0
    finally:
        cov.close()
    cut = pyBigWig.open(str(written["cutsites"]["x/y z"]))
    try:
        scale = 1e6 / 6
        for base, n in {10: 1, 29: 1, 20: 1, 39: 1, 25: 2}.items():
            assert cut.values("chrT", base, base + 1)[0] == pytest.approx(n * scale)
        assert sum(v for _, _, v in cut.intervals("chrT")) == pytest.approx(1e6)
    finally:
        cut.close()
    b = pyBigWig.open(str(written["coverage"]["B"]))
    try:
        assert b.intervals("chrT") == ((100, 200, pytest.approx(1e6)),)
    finally:
        b.close()


def test_bigwig_levels_match_pseudobulk_targets(store, regions, tmp_path):
    """At a downsampled level the cut-site bigWigs hold the same insertions as the targets."""
    reads, cells = [100, "all"], [40, "all"]
    level = "reads-100_cells-40"
    written = export_bigwigs(store, tmp_path, SIZES, reads, cells, seed=3, levels={level})
    assert list(written) == [level]
    pb = pseudobulk(store, regions, reads, cells, seed=3)
    assert set(written[level]["cutsites"]) == set(pb.cell_types)
    for k, t in enumerate(pb.cell_types):
        library = int(pb.library_size[0, 0, k])
        bw = pyBigWig.open(str(written[level]["cutsites"][t]))
        try:
            for r, region in enumerate(regions.itertuples()):
                ints = bw.intervals(region.chrom, region.start, region.end) or []
                assert round(sum(v for _, _, v in ints) * library / 1e6) == pb.counts[0, 0, k, r]
        finally:
            bw.close()
        cov = pyBigWig.open(str(written[level]["coverage"][t]))
        try:
            # every kept fragment adds its length to the integral: 1e6 x mean length
            total = sum((e - s) * v for c in SIZES for s, e, v in (cov.intervals(c) or []))
            assert total > 1e6
        finally:
            cov.close()


# -- memory: flat in the number of fragments ----------------------------------------------


def _synthetic_store(folder, n_fragments: int, step: int = 1):
    """A store of ``n_fragments`` random fragments of 400 cells in 4 types on one 5 Mb
    chromosome (plain-text input, written by Arrow): every row group but the last is a
    full block of the reader. Starts and lengths are multiples of ``step``."""
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(n_fragments)
    start = np.sort(rng.integers(0, 5_000_000 // step, n_fragments)) * step
    barcodes = np.array([f"C{i:04d}-1" for i in range(400)])
    table = pa.table({
        "chrom": np.full(n_fragments, "chrA"), "start": start,
        "end": start + rng.integers(max(1, 50 // step), max(2, 600 // step), n_fragments) * step,
        "barcode": barcodes[rng.integers(0, 400, n_fragments)], "count": rng.integers(1, 4, n_fragments),
    })
    path = folder / "fragments.tsv"
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none"))
    cells = pd.DataFrame({"barcode": barcodes, "cell_type": [f"t{i % 4}" for i in range(400)], "sample": "s"})
    return ingest([path], cells, folder / "store", ["chrA"], samples=["s"])


def _peak_bytes(run) -> int:
    """Peak of the memory Python and numpy allocate (tracemalloc) plus Arrow's pool, during ``run()``."""
    import tracemalloc

    import pyarrow as pa

    pool = pa.default_memory_pool()
    before = pool.max_memory() or 0
    tracemalloc.start()
    try:
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak + max((pool.max_memory() or 0) - before, 0)


@pytest.fixture(scope="module")
def stores_of_two_sizes(tmp_path_factory) -> dict:
    """Synthetic stores of 2 M and 8 M fragments, same cells (for the memory tests)."""
    out = {}
    for n in (2_000_000, 8_000_000):
        folder = tmp_path_factory.mktemp(f"frags{n}")
        out[n] = _synthetic_store(folder, n)
    return out


def test_pseudobulk_memory_does_not_grow_with_the_fragments(stores_of_two_sizes):
    """Issue 18: at 2 M and 8 M fragments (same cells, regions and grid) the pass holds
    row groups of fragments (bounded by the reader's block, about 550,000 fragments) and
    an accumulator of levels x cell types x segments, so its peak is the same."""
    regions = pd.DataFrame({"chrom": "chrA", "start": np.arange(4_000) * 1_200 + 100})
    regions["end"] = regions["start"] + 500
    peaks = {}
    for n, store in stores_of_two_sizes.items():
        peaks[n] = _peak_bytes(lambda s=store: pseudobulk(s, regions, [50, 200, "all"], [100, "all"], seed=3))
    accumulator = 3 * 2 * 4 * (2 * len(regions) + 1) * 8  # depth x cell levels x types x segments, int64
    assert peaks[2_000_000] > accumulator
    assert peaks[8_000_000] < 1.1 * peaks[2_000_000], peaks


def test_bigwig_memory_does_not_grow_with_the_fragments(tmp_path):
    """Issue 18: the export holds a batch (a row group) and the fragments crossing its end,
    not a chromosome's: four times the fragments on the one chromosome, the same peak.
    (Fragments on a 100 bp grid: few distinct positions, so that writing the bigWigs is quick.)"""
    peaks = {}
    for n in (2_000_000, 8_000_000):
        (tmp_path / str(n)).mkdir()
        store = _synthetic_store(tmp_path / str(n), n, step=100)
        out = tmp_path / str(n) / "bigwig"
        peaks[n] = _peak_bytes(lambda s=store, o=out: export_bigwigs(s, o, {"chrA": 5_000_000}))
    assert peaks[8_000_000] < 1.1 * peaks[2_000_000], peaks


def _rechunked(store, folder: Path, rows: int):
    """The store with row groups of at most ``rows`` fragments (never spanning chromosomes)."""
    import pyarrow.parquet as pq

    from atlasbench.data.ingest import STORE_SCHEMA, open_store

    folder.mkdir()
    table = pq.read_table(store.fragments)
    chrom = table.column("chrom").to_numpy()
    with pq.ParquetWriter(folder / "fragments.parquet", STORE_SCHEMA) as writer:
        for c in np.unique(chrom):
            writer.write_table(table.filter(pa.array(chrom == c)), row_group_size=rows)
    for name in ("cells.parquet", "store.json"):
        (folder / name).write_bytes((store.directory / name).read_bytes())
    return open_store(folder)


def _intervals(paths: dict[str, dict[str, Path]]) -> dict:
    out = {}
    for kind, of_type in paths.items():
        for t, path in of_type.items():
            bw = pyBigWig.open(str(path))
            try:
                out[kind, t] = {c: bw.intervals(c) for c in bw.chroms()}
            finally:
                bw.close()
    return out


def test_bigwigs_stream_batch_by_batch_and_across_combined_parts(store, tmp_path):
    """Written batch by batch, the files are those of one pass: a store cut into row groups
    of 997 fragments (fragments crossing every cut), and a store combining it with itself
    (two runs per chromosome whose starts go back; the same CPM), write the same intervals."""
    from atlasbench.data.combine import combine_stores

    whole = _intervals(export_bigwigs(store, tmp_path / "whole", SIZES)["reads-all_cells-all"])
    small = _rechunked(store, tmp_path / "small", 997)
    assert pq_row_groups(small) > 20
    assert _intervals(export_bigwigs(small, tmp_path / "cut", SIZES)["reads-all_cells-all"]) == whole
    twice = combine_stores({"a": small, "b": small}, tmp_path / "twice")
    got = _intervals(export_bigwigs(twice, tmp_path / "twice-bw", SIZES)["reads-all_cells-all"])
    assert got.keys() == whole.keys()
    for key, by_chrom in whole.items():
        for chrom, intervals in by_chrom.items():
            assert [(s, e) for s, e, _ in got[key][chrom]] == [(s, e) for s, e, _ in intervals]
            np.testing.assert_allclose([v for *_, v in got[key][chrom]], [v for *_, v in intervals], rtol=1e-6)


def pq_row_groups(store) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(store.fragments).num_row_groups
