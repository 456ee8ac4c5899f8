"""Tests for atlasbench.data.ingest on the real ArchR PBSmall fragments (chr11 then chr5).

The store is read back with pyarrow/pandas and compared with a pandas read of the
fragments file, filtered in the test.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from atlasbench.data.ingest import default_sample_name, ingest, open_store, read_cell_table
from atlasbench.errors import AtlasbenchError

ARCHR = Path(__file__).parent / "data" / "archr_pbsmall_hg19.fragments.tsv.gz"
COLUMNS = ["chrom", "start", "end", "barcode", "count"]
FINAL_NAMES = ("fragments.parquet", "cells.parquet", "store.json", "dropped_contigs.tsv")


@pytest.fixture(scope="module")
def frags() -> pd.DataFrame:
    return pd.read_csv(ARCHR, sep="\t", header=None, names=COLUMNS, dtype={"chrom": str, "barcode": str})


def cell_table(barcodes, sample: str) -> pd.DataFrame:
    barcodes = list(barcodes)
    return pd.DataFrame({"barcode": barcodes, "cell_type": [b.split(".")[0] for b in barcodes], "sample": sample})


@pytest.fixture(scope="module")
def annotated(frags) -> list[str]:
    """Barcodes kept in the cell table: every barcode but one in four, in a shuffled order."""
    barcodes = sorted(frags["barcode"].unique())
    kept = [b for i, b in enumerate(barcodes) if i % 4 != 1]
    return list(np.random.default_rng(5).permutation(kept))


def store_frame(store) -> pd.DataFrame:
    """The store's fragments decoded back to names, in stored order."""
    t = pq.read_table(store.fragments).to_pandas()
    chroms = np.array(store.chromosomes, dtype=object)
    return pd.DataFrame(
        {
            "chrom": chroms[t["chrom"].to_numpy()],
            "start": t["start"].to_numpy(np.int64),
            "end": t["end"].to_numpy(np.int64),
            "barcode": store.cells["barcode"].to_numpy()[t["cell"].to_numpy()],
            "sample": store.cells["sample"].to_numpy()[t["cell"].to_numpy()],
            "count": t["count"].to_numpy(np.int64),
        }
    )


def assert_fragments_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert len(got) == len(want)
    for col in ("chrom", "barcode"):
        assert got[col].tolist() == want[col].tolist(), col
    for col in ("start", "end", "count"):
        np.testing.assert_array_equal(got[col].to_numpy(np.int64), want[col].to_numpy(np.int64), err_msg=col)


@pytest.mark.parametrize("reference", [["chr5", "chr11"], ["5", "11"]])
def test_ingest_keeps_exactly_the_annotated_fragments(tmp_path, frags, annotated, reference):
    cells = cell_table(annotated, default_sample_name(ARCHR))
    store = ingest([ARCHR], cells, tmp_path / "store", reference)
    assert store.chromosomes == reference
    got = store_frame(store)
    want = frags[frags["barcode"].isin(annotated)].reset_index(drop=True)
    dropped = set(frags["barcode"]) - set(annotated)
    assert len(dropped) > 30 and len(want) < len(frags)
    assert not set(got["barcode"]) & dropped
    # chromosome names come back in the reference's spelling
    want = want.assign(chrom=want["chrom"].map(dict(zip(["chr5", "chr11"], reference))))
    assert_fragments_equal(got, want)

    # per-cell QC in the cell table order
    assert store.cells["barcode"].tolist() == list(annotated)
    exp = want.groupby("barcode").size().reindex(annotated)
    np.testing.assert_array_equal(store.cells["n_fragments"].to_numpy(), exp.to_numpy())
    assert store.cell_types == sorted({b.split(".")[0] for b in annotated})

    # reopening gives the same store
    again = open_store(tmp_path / "store")
    assert again.chromosomes == reference
    pd.testing.assert_frame_equal(again.cells, store.cells)


def test_store_batches_by_chromosome(tmp_path, frags, annotated):
    store = ingest([ARCHR], cell_table(annotated, "s"), tmp_path / "store", ["chr5", "chr11"], samples=["s"])
    kept = frags[frags["barcode"].isin(annotated)]
    for cid, name in enumerate(["chr5", "chr11"]):
        batches = list(store.batches(name))
        assert batches
        assert all((b["chrom"] == cid).all() for b in batches)
        start = np.concatenate([b["start"] for b in batches])
        assert start.dtype == np.int64
        np.testing.assert_array_equal(start, kept.loc[kept["chrom"] == name, "start"].to_numpy())
    everything = list(store.batches())
    assert sum(len(b["start"]) for b in everything) == len(kept)


def test_keep_chromosomes_drops_the_others(tmp_path, frags, annotated):
    store = ingest(
        [ARCHR], cell_table(annotated, "s"), tmp_path / "store", ["chr5", "chr11"], samples=["s"],
        keep_chromosomes=["chr11"],
    )
    got = store_frame(store)
    want = frags[frags["barcode"].isin(annotated) & (frags["chrom"] == "chr11")].reset_index(drop=True)
    assert set(got["chrom"]) == {"chr11"}
    assert_fragments_equal(got, want)
    assert list(store.batches("chr5")) == []
    exp = want.groupby("barcode").size().reindex(annotated, fill_value=0)
    np.testing.assert_array_equal(store.cells["n_fragments"].to_numpy(), exp.to_numpy())


def test_cell_table_matching_nothing_errors_and_leaves_nothing(tmp_path):
    cells = cell_table(["AAAC-1", "AAAG-1"], "s")
    out = tmp_path / "store"
    with pytest.raises(AtlasbenchError) as err:
        ingest([ARCHR], cells, out, ["chr5", "chr11"], samples=["s"])
    msg = str(err.value)
    assert "none of the 2 barcodes" in msg and str(ARCHR) in msg and "AAAC-1" in msg
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("failure", ["no barcode matches", "unknown chromosome"])
def test_failed_reingest_leaves_the_earlier_store_intact(tmp_path, frags, annotated, failure):
    out = tmp_path / "store"
    first = ingest([ARCHR], cell_table(annotated, "s"), out, ["chr5", "chr11"], samples=["s"])
    before = {name: (out / name).read_bytes() for name in FINAL_NAMES}
    if failure == "no barcode matches":
        args = (cell_table(["AAAC-1"], "s"), ["chr5", "chr11"])
    else:
        args = (cell_table(annotated, "s"), ["chr11"])
    with pytest.raises(AtlasbenchError):
        ingest([ARCHR], args[0], out, args[1], samples=["s"], unknown_contigs="error")
    assert {name: (out / name).read_bytes() for name in FINAL_NAMES} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(FINAL_NAMES)  # no temporary left
    again = open_store(out)
    assert_fragments_equal(store_frame(again), store_frame(first))


def test_two_samples_with_colliding_barcodes_are_kept_apart(tmp_path, frags):
    # sample b: the chr5 fragments of the fixture only, every other one, same barcodes
    b_frags = frags[frags["chrom"] == "chr5"].iloc[::2]
    b_path = tmp_path / "runB.tsv.gz"
    with gzip.open(b_path, "wt", compresslevel=1) as fh:
        b_frags.to_csv(fh, sep="\t", header=False, index=False)
    barcodes = sorted(frags["barcode"].unique())
    a_cells = cell_table(barcodes[:100], "a")
    b_cells = cell_table(barcodes[50:], "b")  # 50 barcodes in both samples
    b_cells["cell_type"] = "other_" + b_cells["cell_type"]
    cells = pd.concat([a_cells, b_cells], ignore_index=True)
    store = ingest([ARCHR, b_path], cells, tmp_path / "store", ["chr5", "chr11"], samples=["a", "b"])

    got = store_frame(store)
    want = pd.concat(
        [
            frags[frags["barcode"].isin(barcodes[:100])].assign(sample="a"),
            b_frags[b_frags["barcode"].isin(barcodes[50:])].assign(sample="b"),
        ],
        ignore_index=True,
    )
    assert_fragments_equal(got, want)
    assert got["sample"].tolist() == want["sample"].tolist()
    # one row per (sample, barcode): the shared barcodes are two cells
    assert len(store.cells) == 200
    shared = barcodes[60]
    rows = store.cells[store.cells["barcode"] == shared].set_index("sample")
    assert rows.loc["a", "n_fragments"] == (frags["barcode"] == shared).sum()
    assert rows.loc["b", "n_fragments"] == (b_frags["barcode"] == shared).sum()
    assert rows.loc["b", "cell_type"].startswith("other_")


def test_unknown_chromosome_errors_with_file_and_line(tmp_path, frags, annotated):
    out = tmp_path / "store"
    with pytest.raises(AtlasbenchError) as err:
        ingest([ARCHR], cell_table(annotated, "s"), out, ["chr11", "chr1"], samples=["s"], unknown_contigs="error")
    first_chr5 = int(np.flatnonzero(frags["chrom"].to_numpy() == "chr5")[0]) + 1
    msg = str(err.value)
    assert f"{ARCHR}:{first_chr5}:" in msg and "'chr5'" in msg
    # atomic: nothing under the final names, and no temporary left behind either
    for name in FINAL_NAMES:
        assert not (out / name).exists()
    assert not out.exists() or list(out.iterdir()) == []


def with_unplaced_contig(tmp_path, frags, n_unplaced: int = 37) -> tuple[Path, pd.DataFrame]:
    """The fixture's fragments and, after them, ``n_unplaced`` on the unplaced contig
    GL456210.1 (as Cell Ranger's mm10 has), of annotated and other barcodes alike."""
    extra = frags.iloc[:n_unplaced].copy()
    extra["chrom"] = "GL456210.1"
    extra["start"] = np.arange(n_unplaced) * 10 + 100
    extra["end"] = extra["start"] + 50
    table = pd.concat([frags, extra], ignore_index=True)
    path = tmp_path / "unplaced.tsv.gz"
    with gzip.open(path, "wt", compresslevel=1) as fh:
        table.to_csv(fh, sep="\t", header=False, index=False)
    return path, table


def test_contigs_absent_from_the_genome_are_dropped_and_counted(tmp_path, frags, annotated, caplog):
    path, table = with_unplaced_contig(tmp_path, frags)
    # the genome spells 5 and 11 without chr (Ensembl); the file with it (UCSC)
    with caplog.at_level("INFO", logger="atlasbench.data.ingest"):
        store = ingest([path], cell_table(annotated, "s"), tmp_path / "store", ["5", "11"], samples=["s"])
    got = store_frame(store)
    want = frags[frags["barcode"].isin(annotated)].reset_index(drop=True)
    want["chrom"] = want["chrom"].str.removeprefix("chr")
    assert_fragments_equal(got, want)
    contigs = store.dropped_contigs
    assert contigs["contig"].tolist() == ["GL456210.1"]
    assert contigs["fragments"].tolist() == [37]
    assert contigs["share"].iloc[0] == pytest.approx(37 / len(table))
    assert contigs["reason"].tolist() == ["not in genome"]
    assert sum("dropped 37 of" in r.getMessage() and "GL456210.1" in r.getMessage() for r in caplog.records) == 1


def test_dropped_contigs_table_gives_both_reasons(tmp_path, frags, annotated):
    path, table = with_unplaced_contig(tmp_path, frags, n_unplaced=5)
    store = ingest(
        [path], cell_table(annotated, "s"), tmp_path / "store", ["chr5", "chr11"], samples=["s"],
        keep_chromosomes=["chr11"],
    )
    contigs = store.dropped_contigs.set_index("contig")
    n_chr5 = int((frags["chrom"] == "chr5").sum())
    assert contigs["fragments"].to_dict() == {"chr5": n_chr5, "GL456210.1": 5}
    assert contigs["reason"].to_dict() == {"chr5": "not in genome.chromosomes", "GL456210.1": "not in genome"}
    np.testing.assert_allclose(contigs["share"].to_numpy(), np.array([n_chr5, 5]) / len(table))
    assert set(store_frame(store)["chrom"]) == {"chr11"}


def test_unknown_contig_in_error_mode_names_contig_file_and_count(tmp_path, frags, annotated):
    path, _ = with_unplaced_contig(tmp_path, frags)
    out = tmp_path / "store"
    with pytest.raises(AtlasbenchError) as err:
        ingest([path], cell_table(annotated, "s"), out, ["5", "11"], samples=["s"], unknown_contigs="error")
    msg = str(err.value)
    assert "\n" not in msg
    assert f"{path}:{len(frags) + 1}:" in msg and "'GL456210.1' (37 fragments)" in msg and "not in the genome" in msg
    assert not out.exists() or list(out.iterdir()) == []


def test_bad_fragment_line_fails_ingest_atomically(tmp_path, frags, annotated):
    with gzip.open(ARCHR, "rt") as fh:
        lines = fh.read().splitlines()
    lines[20_000] = lines[20_000].replace("\t", " ")
    bad = tmp_path / "bad.tsv.gz"
    with gzip.open(bad, "wt", compresslevel=1) as fh:
        fh.write("\n".join(lines) + "\n")
    out = tmp_path / "store"
    with pytest.raises(AtlasbenchError) as err:
        ingest([bad], cell_table(annotated, "s"), out, ["chr5", "chr11"], samples=["s"])
    assert f"{bad}:20001:" in str(err.value)
    assert not out.exists() or list(out.iterdir()) == []


# -- read_cell_table -------------------------------------------------------------------------


def test_read_cell_table_good(tmp_path):
    path = tmp_path / "cells.tsv"
    path.write_text("barcode\tcell_type\textra\nB.1\tB\tx\nT.2\tT\ty\n")
    table = read_cell_table(path, ["s1"])
    assert table.to_dict("list") == {"barcode": ["B.1", "T.2"], "cell_type": ["B", "T"], "sample": ["s1", "s1"]}
    csv = tmp_path / "cells.csv"
    csv.write_text("sample,barcode,cell_type\ns2,B.1,B\ns1,B.1,T\n")
    table = read_cell_table(csv, ["s1", "s2"])
    assert table.to_dict("list") == {"barcode": ["B.1", "B.1"], "cell_type": ["B", "T"], "sample": ["s2", "s1"]}


@pytest.mark.parametrize(
    ("content", "samples", "line", "words"),
    [
        ("barcode\tcelltype\nB.1\tB\n", ["s"], 1, "cell_type"),
        ("cell_type\nB\n", ["s"], 1, "barcode"),
        ("barcode\tcell_type\nB.1\tB\nT.2\tT\nB.1\tT\n", ["s"], 4, "'B.1' is listed twice"),
        ("barcode\tcell_type\tsample\nB.1\tB\ts1\nT.2\tT\ts3\n", ["s1", "s2"], 3, "'s3'"),
        ("barcode\tcell_type\nB.1\tB\n", ["s1", "s2"], 1, "sample"),
        ("barcode\tcell_type\nB.1\tB\nT.2\t\n", ["s"], 3, "empty"),
    ],
    ids=["no cell_type", "no barcode", "duplicate", "unknown sample", "no sample column", "empty cell type"],
)
def test_read_cell_table_errors_name_the_line(tmp_path, content, samples, line, words):
    path = tmp_path / "cells.tsv"
    path.write_text(content)
    with pytest.raises(AtlasbenchError) as err:
        read_cell_table(path, samples)
    msg = str(err.value)
    assert f"{path}:{line}:" in msg, msg
    assert words in msg


def test_read_cell_table_missing_file(tmp_path):
    with pytest.raises(AtlasbenchError, match="not found"):
        read_cell_table(tmp_path / "none.tsv", ["s"])
