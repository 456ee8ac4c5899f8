"""Tests for atlasbench.data.qc (per-cell QC) and atlasbench.io.annotation.read_tss.

Expected values are computed in the test with pandas or plain Python loops, never copied
from the code's output.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atlasbench.data.qc import fragments_qc
from atlasbench.io.annotation import read_tss

DATA = Path(__file__).parent / "data"
ARCHR = DATA / "archr_pbsmall_hg19.fragments.tsv.gz"
DM6_GFF = DATA / "dm6_1pct.gff3.gz"
COLUMNS = ["chrom", "start", "end", "barcode", "count"]


@pytest.fixture(scope="module")
def frags() -> pd.DataFrame:
    return pd.read_csv(ARCHR, sep="\t", header=None, names=COLUMNS, dtype={"chrom": str, "barcode": str})


@pytest.fixture(scope="module")
def cells(frags) -> pd.DataFrame:
    """A cell table with 2/3 of the barcodes (in shuffled order) and one absent barcode."""
    barcodes = sorted(frags["barcode"].unique())
    rng = np.random.default_rng(7)
    kept = [b for i, b in enumerate(barcodes) if i % 3 != 0]
    kept = [*rng.permutation(kept), "X.not_in_file"]
    return pd.DataFrame({"barcode": kept, "cell_type": [b.split(".")[0] for b in kept]})


@pytest.fixture(scope="module")
def varied_counts(frags, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """The fixture with counts 1..4 (all its counts are 1), so duplication is not trivially 0."""
    rng = np.random.default_rng(3)
    table = frags.copy()
    table["count"] = rng.integers(1, 5, len(table))
    path = tmp_path_factory.mktemp("qc") / "varied.tsv.gz"
    with gzip.open(path, "wt", compresslevel=1) as fh:
        table.to_csv(fh, sep="\t", header=False, index=False)
    return path, table


def expected_basic(table: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    length = table["end"] - table["start"]
    g = table.assign(
        nf=(length < 147).astype(int), mono=((length >= 147) & (length <= 294)).astype(int)
    ).groupby("barcode")
    exp = pd.DataFrame(
        {"n_fragments": g.size(), "n_reads": g["count"].sum(), "nf": g["nf"].sum(), "mono": g["mono"].sum()}
    )
    exp = exp.reindex(cells["barcode"]).fillna(0)
    exp["duplication_rate"] = 1 - exp["n_fragments"] / exp["n_reads"]
    exp["fraction_nucleosome_free"] = exp["nf"] / exp["n_fragments"]
    exp["fraction_mono_nucleosome"] = exp["mono"] / exp["n_fragments"]
    return exp


def check_basic(got: pd.DataFrame, table: pd.DataFrame, cells: pd.DataFrame) -> None:
    exp = expected_basic(table, cells)
    assert got["barcode"].tolist() == cells["barcode"].tolist()
    assert got["cell_type"].tolist() == cells["cell_type"].tolist()
    np.testing.assert_array_equal(got["n_fragments"].to_numpy(), exp["n_fragments"].to_numpy())
    np.testing.assert_array_equal(got["n_reads"].to_numpy(), exp["n_reads"].to_numpy())
    for col in ("duplication_rate", "fraction_nucleosome_free", "fraction_mono_nucleosome"):
        np.testing.assert_allclose(got[col].to_numpy(), exp[col].to_numpy(), rtol=1e-12, equal_nan=True, err_msg=col)


def test_basic_qc_on_archr_matches_pandas(frags, cells):
    table, _hist = fragments_qc(ARCHR, cells=cells)
    check_basic(table, frags, cells)
    # every count in this file is 1: no duplicates at all
    present = table["barcode"] != "X.not_in_file"
    assert (table.loc[present, "duplication_rate"] == 0).all()
    absent = table.loc[~present].iloc[0]
    assert absent["n_fragments"] == 0 and absent["n_reads"] == 0


def test_duplication_rate_with_counts(varied_counts, cells):
    path, table = varied_counts
    got, _ = fragments_qc(path, cells=cells)
    check_basic(got, table, cells)
    present = got["barcode"] != "X.not_in_file"
    assert (got.loc[present, "duplication_rate"] > 0.3).all()


def test_without_cell_table_every_barcode_in_file_order(frags):
    table, hist = fragments_qc(ARCHR)
    order = list(dict.fromkeys(frags["barcode"]))
    assert table["barcode"].tolist() == order
    exp = frags.groupby("barcode").size().reindex(order)
    np.testing.assert_array_equal(table["n_fragments"].to_numpy(), exp.to_numpy())
    assert int(hist["n_fragments"].sum()) == len(frags)


def test_length_histogram(frags, cells):
    _, hist = fragments_qc(ARCHR, cells=cells)
    kept = frags[frags["barcode"].isin(cells["barcode"])]
    length = np.minimum(kept["end"] - kept["start"], 1000)
    assert hist["length"].tolist() == list(range(1001))
    assert int(hist["n_fragments"].sum()) == len(kept)
    exp = length.value_counts().reindex(range(1001), fill_value=0)
    np.testing.assert_array_equal(hist["n_fragments"].to_numpy(), exp.to_numpy())


def test_frip_with_overlapping_regions(tmp_path, frags, cells):
    bed = tmp_path / "regions.bed"
    bed.write_text(
        "chr11\t60000000\t62000000\n"
        "chr11\t61500000\t65000000\n"  # overlaps the one before
        "chr11\t61600000\t61700000\n"  # inside both
        "chr5\t140000000\t141000000\n"
        "chr5\t140999000\t150000000\n"  # overlaps by 1 kb
        "chr1\t0\t200000000\n"  # a chromosome not in the file: no insertion there
    )
    regions = pd.read_csv(bed, sep="\t", header=None, names=["chrom", "start", "end"])
    table, _ = fragments_qc(ARCHR, cells=cells, regions=regions)

    # independent count: an insertion (start, end - 1) inside any region counts once
    ins = pd.concat(
        [
            frags[["chrom", "barcode"]].assign(pos=frags["start"]),
            frags[["chrom", "barcode"]].assign(pos=frags["end"] - 1),
        ]
    )
    inside = np.zeros(len(ins), dtype=bool)
    for r in regions.itertuples():
        inside |= ((ins["chrom"].to_numpy() == r.chrom) & (ins["pos"].to_numpy() >= r.start)
                   & (ins["pos"].to_numpy() < r.end))
    n_in = ins[inside].groupby("barcode").size().reindex(cells["barcode"], fill_value=0)
    n_frag = frags.groupby("barcode").size().reindex(cells["barcode"], fill_value=0)
    assert n_in.sum() > 1000 and (n_in < 2 * n_frag).any()  # the regions cover part of the data
    np.testing.assert_array_equal(table["n_insertions_in_regions"].to_numpy(), n_in.to_numpy())
    with np.errstate(invalid="ignore", divide="ignore"):
        frip = n_in.to_numpy() / (2.0 * n_frag.to_numpy())
    np.testing.assert_allclose(table["frip"].to_numpy(), frip, rtol=1e-12, equal_nan=True)


# -- TSS enrichment on a tiny hand-made example ----------------------------------------------

GFF = """##gff-version 3
chr1\ttest\tgene\t10001\t10500\t.\t+\t.\tID=g1
chr1\ttest\tmRNA\t10001\t10500\t.\t+\t.\tID=t1;Parent=g1
chr1\ttest\tmRNA\t10001\t10400\t.\t+\t.\tID=t1b;Parent=g1
chr1\ttest\texon\t10001\t10200\t.\t+\t.\tParent=t1
chr1\ttest\tgene\t9500\t10031\t.\t-\t.\tID=g2
chr1\ttest\tmRNA\t9500\t10031\t.\t-\t.\tID=t2;Parent=g2
chr2\ttest\tmRNA\t5001\t7000\t.\t+\t.\tID=t3
chr2\ttest\tncRNA\t8000\t9001\t.\t-\t.\tID=t4
"""


def hand_made_fragments() -> list[tuple[str, int, int, str, int]]:
    rng = np.random.default_rng(11)
    rows = []
    # A and B: fragments all around the chr1 TSSs (centre and flanks) and on chr2
    for bc, n in (("A", 400), ("B", 150)):
        for _ in range(n):
            s = int(rng.integers(7000, 13000))
            rows.append(("chr1", s, s + int(rng.integers(20, 400)), bc, int(rng.integers(1, 3))))
        for _ in range(n // 2):
            s = int(rng.integers(2500, 11000))
            rows.append(("chr2", s, s + int(rng.integers(20, 400)), bc, 1))
    # C: only near the chr1 TSSs, so no flank insertion at all (flank floored at 1)
    for s in (9990, 10000, 10020, 10040):
        rows.append(("chr1", s, s + 30, "C", 1))
    return sorted(rows, key=lambda r: (r[0], r[1]))


def test_tss_enrichment_by_hand(tmp_path):
    gff = tmp_path / "genes.gff3"
    gff.write_text(GFF)
    rows = hand_made_fragments()
    frag_path = tmp_path / "frags.tsv"
    frag_path.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))

    # TSSs by hand: + strand start - 1, - strand end - 1 (0-based), each distinct site once
    tss_sites = sorted(
        {
            (f[0], int(f[3]) - 1 if f[6] == "+" else int(f[4]) - 1)
            for f in (line.split("\t") for line in GFF.splitlines() if line and not line.startswith("#"))
            if f[2] in ("mRNA", "ncRNA")
        }
    )
    assert tss_sites == [("chr1", 10000), ("chr1", 10030), ("chr2", 5000), ("chr2", 9000)]
    tss = read_tss(gff)
    assert list(zip(tss["chrom"], tss["pos"])) == tss_sites

    # ArchR-style counts, one window at a time
    centre = {"A": 0, "B": 0, "C": 0}
    flank = {"A": 0, "B": 0, "C": 0}
    for chrom, start, end, bc, _ in rows:
        for pos in (start, end - 1):
            for tchrom, t in tss_sites:
                if tchrom != chrom:
                    continue
                d = abs(pos - t)
                if d <= 50:
                    centre[bc] += 1
                if 1901 <= d <= 2000:
                    flank[bc] += 1
    assert centre["A"] > 0 and flank["A"] > 0 and flank["C"] == 0
    # C's 8 insertions 9990 10019 10000 10029 10020 10049 10040 10069: all but 10069 lie
    # within 50 bp of TSS 10000, all 8 within 50 bp of TSS 10030; they count per window
    assert centre["C"] == 7 + 8

    cells = pd.DataFrame({"barcode": ["C", "A", "B"], "cell_type": ["x", "y", "y"]})
    table, _ = fragments_qc(frag_path, cells=cells, tss=tss)
    for _, row in table.iterrows():
        bc = row["barcode"]
        assert row["n_insertions_tss"] == centre[bc], bc
        assert row["n_insertions_tss_flank"] == flank[bc], bc
        expected = (centre[bc] / 101) / (max(flank[bc], 1) / 200)
        assert row["tss_enrichment"] == pytest.approx(expected, rel=1e-12), bc
    # C has no flank insertion: the flank is floored at one insertion
    assert table.set_index("barcode").loc["C", "tss_enrichment"] == pytest.approx((centre["C"] / 101) * 200)


@pytest.mark.parametrize("gff_chrom", ["chr1", "1"])
def test_tss_window_edges(tmp_path, gff_chrom):
    """Insertions exactly at the window edges: +-50 in, +-51 out; flanks 1901..2000 away.

    The annotation may spell the chromosome without the ``chr`` of the fragments.
    """
    t = 10_000
    gff = tmp_path / "g.gff3"
    gff.write_text(f"{gff_chrom}\tt\tmRNA\t{t + 1}\t{t + 900}\t.\t+\t.\tID=t\n")
    # one-base-long fragments put a single insertion position (start == end - 1) ...
    # count twice, once per end: so every position below gets two insertions
    positions = [t - 2001, t - 2000, t - 1901, t - 1900, t - 51, t - 50, t,
                 t + 50, t + 51, t + 1900, t + 1901, t + 2000, t + 2001]
    path = tmp_path / "f.tsv"
    path.write_text("".join(f"chr1\t{p}\t{p + 1}\tA\t1\n" for p in positions))
    centre = 2 * sum(abs(p - t) <= 50 for p in positions)
    flank = 2 * sum(1901 <= abs(p - t) <= 2000 for p in positions)
    assert (centre, flank) == (6, 8)
    table, _ = fragments_qc(path, tss=read_tss(gff))
    row = table.iloc[0]
    assert (row["n_insertions_tss"], row["n_insertions_tss_flank"]) == (centre, flank)
    assert row["tss_enrichment"] == pytest.approx((centre / 101) / (flank / 200))


def test_read_tss_on_dm6():
    tss = read_tss(DM6_GFF)
    # one known transcript of each strand, straight from the file
    # 2L FlyBase mRNA 9839 21376 - ID=FBtr0078166 (l(2)gl-RB): TSS at its end
    # 2L FlyBase mRNA 66482 71390 + ID=FBtr0306539 (dbr-RF): TSS at its start
    rows = set(zip(tss["chrom"], tss["pos"], tss["strand"]))
    assert ("2L", 21376 - 1, "-") in rows
    assert ("2L", 66482 - 1, "+") in rows
    assert ("2L", 9839 - 1, "-") not in rows and ("2L", 71390 - 1, "+") not in rows

    # the whole set against a plain reading of the transcript lines
    gff = pd.read_csv(DM6_GFF, sep="\t", header=None, comment="#", dtype={0: str})
    mrna = gff[gff[2].isin(["mRNA", "ncRNA", "transcript"])]
    assert len(mrna) > 100
    pos = np.where(mrna[6] == "+", mrna[3] - 1, mrna[4] - 1)
    expected = set(zip(mrna[0], pos.tolist(), mrna[6]))
    assert rows == expected
    assert len(tss) == len(expected)  # one row per distinct site
    assert tss.equals(tss.sort_values(["chrom", "pos"], kind="stable").reset_index(drop=True))
