"""Tests for atlasbench.data.regions: BED I/O, real MACS3 peak calling, consensus regions."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlasbench.data.regions import (
    NARROWPEAK_COLUMNS,
    call_peaks,
    consensus_regions,
    known_effective_genome_size,
    peaks_per_cell_type,
    read_bed,
    read_narrowpeak,
    region_names,
    write_bed,
)
from atlasbench.errors import AtlasbenchError

FRAGMENTS = Path(__file__).parent / "data" / "archr_pbsmall_hg19.fragments.tsv.gz"
HG19_SIZES = {"chr5": 180915260, "chr11": 135006516}


# ---------------------------------------------------------------- real MACS3 on ArchR PBSmall


@pytest.fixture(scope="module")
def fragment_beds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One fragments BED per cell type (barcode prefix B, M, T) of the ArchR fixture."""
    folder = tmp_path_factory.mktemp("fragments")
    fragments = pd.read_csv(FRAGMENTS, sep="\t", header=None, names=["chrom", "start", "end", "barcode", "count"])
    assert len(fragments) == 29399
    cell_type = fragments["barcode"].str.split(".").str[0]
    beds = {}
    for name, group in fragments.groupby(cell_type):
        beds[name] = folder / f"{name}.bed"
        write_bed(group[["chrom", "start", "end"]], beds[name])
    assert sorted(beds) == ["B", "M", "T"]
    return beds


@pytest.fixture(scope="module")
def called(fragment_beds: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("peaks")
    return out, peaks_per_cell_type(fragment_beds, out, genome_size=sum(HG19_SIZES.values()))


def test_macs3_narrowpeaks_are_parsed_with_summits_inside(called: tuple[Path, dict]) -> None:
    out, peaks = called
    assert list(peaks) == ["B", "M", "T"]
    for cell_type, table in peaks.items():
        assert (out / f"{cell_type}_peaks.narrowPeak").is_file()
        assert list(table.columns) == list(NARROWPEAK_COLUMNS)
        assert len(table) > 50
        assert set(table["chrom"]) <= set(HG19_SIZES)
        assert table["start"].dtype == np.int64 and table["summit"].dtype == np.int64
        assert ((table["summit"] >= 0) & (table["start"] + table["summit"] < table["end"])).all()
        assert (table["qvalue"] >= -np.log10(0.05) - 1e-6).all()
    # only the narrowPeak files are left, no MACS3 temporary folder
    assert sorted(p.name for p in out.iterdir()) == [f"{c}_peaks.narrowPeak" for c in "BMT"]


def test_consensus_of_real_peaks_is_fixed_width_sorted_disjoint_and_on_summits(called: tuple[Path, dict]) -> None:
    _, peaks = called
    consensus = consensus_regions(peaks, HG19_SIZES, width=500)
    assert list(consensus.columns) == ["chrom", "start", "end", "name", "score"]
    assert len(consensus) > 100
    assert ((consensus["end"] - consensus["start"]) == 500).all()
    assert (consensus["start"] >= 0).all()
    assert (consensus["end"] <= consensus["chrom"].map(HG19_SIZES)).all()
    # sorted by chromosome (chrom_sizes order) then start, and no two regions overlap
    rank = consensus["chrom"].map({c: i for i, c in enumerate(HG19_SIZES)}).to_numpy()
    assert (np.diff(rank) >= 0).all()
    same_chrom = np.diff(rank) == 0
    assert (np.diff(consensus["start"].to_numpy())[same_chrom] >= 500).all()
    assert (consensus["name"] == consensus["chrom"] + ":" + consensus["start"].astype(str) + "-"
            + consensus["end"].astype(str)).all()  # fmt: skip
    # every consensus region holds a called summit
    summits = pd.concat(peaks.values())
    for chrom, regions in consensus.groupby("chrom"):
        positions = np.sort((summits["start"] + summits["summit"])[summits["chrom"] == chrom].to_numpy())
        first = np.searchsorted(positions, regions["start"].to_numpy(), side="left")
        assert (first < len(positions)).all()
        assert (positions[first] < regions["end"].to_numpy()).all()


def test_call_peaks_reports_macs3_failure_with_its_log(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bed"
    empty.write_text("")
    with pytest.raises(AtlasbenchError, match="MACS3 callpeak failed") as caught:
        call_peaks(empty, tmp_path / "out", "X", genome_size=1e8)
    message = str(caught.value)
    assert str(empty) in message
    assert "Traceback" in message or "Error" in message
    assert not (tmp_path / "out" / "X_peaks.narrowPeak").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_call_peaks_rejects_missing_file_and_bad_name(tmp_path: Path) -> None:
    with pytest.raises(AtlasbenchError, match="not found"):
        call_peaks(tmp_path / "nope.bed", tmp_path, "X", genome_size="hs")
    bed = tmp_path / "f.bed"
    bed.write_text("chr1\t10\t100\n")
    with pytest.raises(AtlasbenchError, match="name"):
        call_peaks(bed, tmp_path, "a/b", genome_size="hs")


# ---------------------------------------------------------------- consensus on hand-made peaks


def _peaks(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    """narrowPeak-like table with one 1-bp peak per summit: (chrom, summit position, score)."""
    chrom, position, score = zip(*rows, strict=True) if rows else ((), (), ())
    return pd.DataFrame(
        {
            "chrom": list(chrom),
            "start": np.asarray(position, dtype=np.int64),
            "end": np.asarray(position, dtype=np.int64) + 1,
            "summit": np.zeros(len(rows), dtype=np.int64),
            "score": np.asarray(score, dtype=np.float64),
        }
    )


SIZES = {"chr2": 20_000, "chr1": 10_000}


def test_overlaps_are_resolved_by_score_normalised_within_cell_type() -> None:
    # A's raw score (100) beats B's (10), but A spreads its total over two peaks: CPM 5e5
    # each, while B's single peak has CPM 1e6, so B wins the overlap at chr1:1000-1200.
    peaks = {
        "A": _peaks([("chr1", 1000, 100), ("chr1", 5000, 100)]),
        "B": _peaks([("chr1", 1200, 10)]),
    }
    consensus = consensus_regions(peaks, SIZES, width=500)
    assert consensus[["chrom", "start", "end"]].values.tolist() == [["chr1", 950, 1450], ["chr1", 4750, 5250]]
    np.testing.assert_allclose(consensus["score"], [1e6, 5e5])
    assert consensus["name"].tolist() == ["chr1:950-1450", "chr1:4750-5250"]


def test_removed_region_does_not_remove_others() -> None:
    # a chain 1000 - 1400 - 1800: the best (1000) removes 1400 only; 1800 does not touch 1000
    peaks = {"A": _peaks([("chr1", 1000, 30), ("chr1", 1400, 20), ("chr1", 1800, 10)])}
    consensus = consensus_regions(peaks, SIZES, width=500)
    assert consensus["start"].tolist() == [750, 1550]
    # the middle one best: it removes both neighbours
    peaks = {"A": _peaks([("chr1", 1000, 10), ("chr1", 1400, 30), ("chr1", 1800, 20)])}
    assert consensus_regions(peaks, SIZES, width=500)["start"].tolist() == [1150]


def test_regions_crossing_chromosome_ends_and_unknown_chromosomes_are_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    peaks = {
        "A": _peaks(
            [
                ("chr1", 100, 50),  # would start at -150
                ("chr1", 250, 1),  # starts exactly at 0: kept
                ("chr1", 9_900, 50),  # would end at 10_150 > 10_000
                ("chr1", 9_750, 1),  # ends exactly at 10_000: kept
                ("chrUn", 5_000, 99),  # no size: dropped
            ]
        )
    }
    with caplog.at_level("INFO", logger="atlasbench.data.regions"):
        consensus = consensus_regions(peaks, SIZES, width=500)
    assert consensus[["start", "end"]].values.tolist() == [[0, 500], [9_500, 10_000]]
    assert "dropped 2 windows crossing a chromosome end" in caplog.text
    assert "chrUn" in caplog.text


def test_blacklisted_regions_are_removed_before_overlap_resolution() -> None:
    peaks = {"A": _peaks([("chr1", 3000, 90), ("chr1", 3300, 10), ("chr1", 7000, 5), ("chr2", 7000, 5)])}
    blacklist = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [6000, 2900], "end": [6750, 2950]})
    consensus = consensus_regions(peaks, SIZES, width=500, blacklist=blacklist)
    # 3000 hits the blacklist, so 3300 (which it would have removed) survives: [3050, 3550)
    # does not touch [2900, 2950); [6750, 7250) only abuts the blacklist end (half-open)
    assert consensus[["chrom", "start"]].values.tolist() == [["chr2", 6750], ["chr1", 3050], ["chr1", 6750]]


def test_output_follows_chrom_sizes_order_and_odd_width() -> None:
    peaks = {"A": _peaks([("chr1", 500, 1), ("chr2", 900, 1), ("chr2", 300, 1)])}
    consensus = consensus_regions(peaks, SIZES, width=201)
    assert consensus[["chrom", "start", "end"]].values.tolist() == [
        ["chr2", 200, 401],
        ["chr2", 800, 1001],
        ["chr1", 400, 601],
    ]
    with pytest.raises(AtlasbenchError, match="width"):
        consensus_regions(peaks, SIZES, width=0)
    with pytest.raises(AtlasbenchError, match="summit"):
        consensus_regions({"A": peaks["A"].drop(columns="summit")}, SIZES)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["chr1", "chr2"]), st.integers(0, 9_999), st.integers(1, 50)),
        max_size=60,
    ),
    st.integers(1, 700),
)
def test_consensus_matches_brute_force_greedy(rows: list[tuple[str, int, int]], width: int) -> None:
    consensus = consensus_regions({"A": _peaks(rows)}, SIZES, width=width)
    # reference: visit windows by score (ties: leftmost), keep those overlapping no kept one
    offset = {"chr2": 0, "chr1": SIZES["chr2"]}
    windows = sorted(
        (-score, offset[chrom] + pos - width // 2, chrom)
        for chrom, pos, score in rows
        if pos - width // 2 >= 0 and pos - width // 2 + width <= SIZES[chrom]
    )
    kept: list[tuple[int, str]] = []
    for _, start, chrom in windows:
        if all(abs(start - other) >= width for other, _ in kept):
            kept.append((start, chrom))
    expected = sorted(kept)
    assert [(offset[c] + s, c) for c, s in zip(consensus["chrom"], consensus["start"])] == expected


# ---------------------------------------------------------------- BED and narrowPeak I/O


def test_read_bed_skips_headers_and_reads_name_score(tmp_path: Path) -> None:
    text = "track name=x\nbrowser position chr1:1-100\n# comment\nchr1\t0\t100\tr1\t5\n\nchr2\t10\t20\tr2\t.\n"
    plain = tmp_path / "a.bed"
    plain.write_text(text)
    packed = tmp_path / "a.bed.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        table = read_bed(path, {"chr1": 100, "chr2": 50})
        assert table[["chrom", "start", "end", "name"]].values.tolist() == [
            ["chr1", 0, 100, "r1"], ["chr2", 10, 20, "r2"]]
        assert table["start"].dtype == np.int64
        assert table["score"].iloc[0] == 5 and np.isnan(table["score"].iloc[1])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("chr1\t1O\t100", "start must be a non-negative integer, found '1O'"),
        ("chr1\t-5\t100", "start must be a non-negative integer"),
        ("chr1\t10\t9.5", "end must be a non-negative integer"),
        ("chr1\t100\t100", r"start \(100\) must be smaller than end \(100\)"),
        ("chrZ\t0\t10", "chromosome 'chrZ' is not in the chromosome sizes"),
        ("chr1\t0\t1001", r"end \(1001\) is beyond the end of chr1 \(length 1000\)"),
        ("chr1\t0", "expected at least 3 tab-separated columns"),
    ],
)
def test_read_bed_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.bed"
    path.write_text(f"track name=x\nchr1\t0\t10\n{line}\n")
    with pytest.raises(AtlasbenchError, match=message) as caught:
        read_bed(path, {"chr1": 1000})
    assert str(caught.value).startswith(f"{path}:3: ")


def test_read_bed_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AtlasbenchError, match="file not found"):
        read_bed(tmp_path / "missing.bed")


def test_write_bed_round_trip_plain_and_gzip(tmp_path: Path) -> None:
    regions = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [5, 0], "end": [10, 7], "score": [1.5, 2.0]})
    for name in ("out.bed", "out.bed.gz"):
        write_bed(regions, tmp_path / name)
        back = read_bed(tmp_path / name)
        assert back["name"].tolist() == ["chr1:5-10", "chr2:0-7"]
        pd.testing.assert_frame_equal(back.drop(columns="name"), regions)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bed", "out.bed.gz"]
    write_bed(regions[["chrom", "start", "end"]], tmp_path / "three.bed")
    assert (tmp_path / "three.bed").read_text() == "chr1\t5\t10\nchr2\t0\t7\n"


def test_region_names() -> None:
    regions = pd.DataFrame({"chrom": ["chr1", "chrX"], "start": [0, 12], "end": [500, 512]})
    assert region_names(regions).tolist() == ["chr1:0-500", "chrX:12-512"]


def test_read_narrowpeak_rejects_summit_outside_peak(tmp_path: Path) -> None:
    path = tmp_path / "x.narrowPeak"
    path.write_text("chr1\t100\t200\tp1\t50\t.\t3.0\t6.0\t5.0\t10\nchr1\t300\t400\tp2\t50\t.\t3.0\t6.0\t5.0\t100\n")
    with pytest.raises(AtlasbenchError, match="summit offset 100 lies outside") as caught:
        read_narrowpeak(path)
    assert str(caught.value).startswith(f"{path}:2: ")
    empty = tmp_path / "empty.narrowPeak"
    empty.write_text("")
    assert list(read_narrowpeak(empty).columns) == list(NARROWPEAK_COLUMNS)


def test_overlapping_finds_intervals_inside_and_across_regions():
    from atlasbench.data.regions import overlapping

    regions = pd.DataFrame({"chrom": ["a", "a", "a", "b", "c"], "start": [100, 1000, 5000, 100, 0],
                            "end": [600, 1100, 6000, 200, 10]})
    black = pd.DataFrame({"chrom": ["a", "a", "b"], "start": [300, 1100, 150], "end": [310, 1200, 160]})
    # inside the first region; touching (not overlapping) the second; inside the fourth;
    # "c" is not a known chromosome
    got = overlapping(regions, black, {"a": 10_000, "b": 1_000})
    assert got.tolist() == [True, False, False, True, False]


@pytest.mark.parametrize(
    ("name", "size"),
    [
        *((n, 2_700_000_000) for n in ("hg19", "hg38", "GRCh37", "GRCh38")),
        *((n, 1_870_000_000) for n in ("mm9", "mm10", "mm39", "GRCm38", "GRCm39", "MM10")),
        *((n, 90_000_000) for n in ("ce10", "ce11")),
        *((n, 120_000_000) for n in ("dm3", "dm6")),
        ("danRer11", None),
        (None, None),
    ],
)
def test_known_assemblies_get_macs_effective_genome_sizes(name: str | None, size: int | None) -> None:
    # MACS's -g shortcuts: hs 2.7e9, mm 1.87e9, ce 9e7, dm 1.2e8
    assert known_effective_genome_size(name) == size
