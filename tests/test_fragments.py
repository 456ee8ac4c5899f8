"""Tests for atlasbench.io.fragments on the real ArchR PBSmall fragments (hg19, chr11 + chr5).

Every expectation is computed independently in the test: the file read with pandas, line
numbers counted with plain Python over the text that was written.
"""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from atlasbench.errors import AtlasbenchError
from atlasbench.io.fragments import FragmentReader

ARCHR = Path(__file__).parent / "data" / "archr_pbsmall_hg19.fragments.tsv.gz"
COLUMNS = ["chrom", "start", "end", "barcode", "count"]


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    """The fixture as pandas reads it: the reference every read is compared with."""
    return pd.read_csv(ARCHR, sep="\t", header=None, names=COLUMNS, dtype={"chrom": str, "barcode": str})


@pytest.fixture(scope="module")
def text() -> str:
    with gzip.open(ARCHR, "rt") as fh:
        return fh.read()


def read_all(path: Path, **kwargs) -> tuple[pd.DataFrame, FragmentReader]:
    """Read a fragments file with FragmentReader, decoding ids back to names."""
    reader = FragmentReader(path, **kwargs)
    batches = list(reader)
    cols = {c: np.concatenate([getattr(b, c) for b in batches]) for c in ("chrom", "start", "end", "barcode", "count")}
    chroms = np.array(reader.chromosomes, dtype=object)
    frame = pd.DataFrame(
        {
            "chrom": chroms[cols["chrom"]],
            "start": cols["start"],
            "end": cols["end"],
            "barcode_id": cols["barcode"],
            "count": cols["count"],
        }
    )
    return frame, reader


def decoded(frame: pd.DataFrame, reader: FragmentReader) -> pd.DataFrame:
    out = frame.drop(columns="barcode_id")
    out.insert(3, "barcode", np.array(reader.barcodes, dtype=object)[frame["barcode_id"].to_numpy()])
    return out


def assert_same_as_pandas(frame: pd.DataFrame, reader: FragmentReader, expected: pd.DataFrame) -> None:
    got = decoded(frame, reader)
    assert len(got) == len(expected)
    for col in ("chrom", "barcode"):
        assert got[col].tolist() == expected[col].tolist(), col
    for col in ("start", "end", "count"):
        np.testing.assert_array_equal(got[col].to_numpy(np.int64), expected[col].to_numpy(np.int64), err_msg=col)


def write_text(path: Path, text: str, compress: str = "plain") -> Path:
    data = text.encode()
    if compress == "gzip":
        path.write_bytes(gzip.compress(data, compresslevel=1))
    else:
        path.write_bytes(data)
    return path


def line_of(lines: list[str], predicate) -> int:
    """1-based number of the first line satisfying ``predicate``."""
    return next(i for i, line in enumerate(lines, start=1) if predicate(line))


def assert_located(exc: AtlasbenchError, path: Path, line: int) -> None:
    msg = str(exc)
    assert str(path) in msg
    assert f"{path}:{line}:" in msg, msg


# -- reading good input ------------------------------------------------------------------


def test_reads_every_fragment_like_pandas(expected):
    frame, reader = read_all(ARCHR)
    assert_same_as_pandas(frame, reader, expected)
    assert reader.chromosomes == list(dict.fromkeys(expected["chrom"]))
    assert reader.barcodes == list(dict.fromkeys(expected["barcode"]))
    assert len(reader.barcodes) == expected["barcode"].nunique() == 150
    assert reader.n_lines == len(expected) == 29_399


def test_batches_carry_numpy_columns_and_line_numbers(expected):
    reader = FragmentReader(ARCHR, block_bytes=4096)
    seen = 0
    for batch in reader:
        assert batch.first_line == seen + 1
        assert batch.start.dtype == np.int64 and batch.end.dtype == np.int64 and batch.count.dtype == np.int64
        assert batch.chrom.dtype == np.int32 and batch.barcode.dtype == np.int32
        # the block's first fragment is the file's line first_line
        row = expected.iloc[batch.first_line - 1]
        assert (int(batch.start[0]), int(batch.end[0])) == (row["start"], row["end"])
        seen += len(batch)
    assert seen == len(expected)


@pytest.mark.parametrize("kind", ["bgzip", "gzip", "plain"])
def test_other_compressions_read_identically(tmp_path, text, expected, kind):
    plain = write_text(tmp_path / "frags.tsv", text)
    if kind == "bgzip":
        path = tmp_path / "frags.tsv.bgz"
        pysam.tabix_compress(str(plain), str(path))
        assert path.read_bytes()[:2] == b"\x1f\x8b"
    elif kind == "gzip":
        path = write_text(tmp_path / "frags.tsv.gz", text, "gzip")
    else:
        path = plain
    frame, reader = read_all(path)
    assert_same_as_pandas(frame, reader, expected)


def test_small_blocks_give_the_same_result_as_one_block(expected):
    one, r1 = read_all(ARCHR)
    many_reader = FragmentReader(ARCHR, block_bytes=4096)
    batches = list(many_reader)
    assert len(batches) > 100  # really many blocks (the file is ~900 kB of text)
    many, r2 = read_all(ARCHR, block_bytes=4096)
    pd.testing.assert_frame_equal(one, many)
    assert r1.barcodes == r2.barcodes and r1.chromosomes == r2.chromosomes
    assert_same_as_pandas(many, r2, expected)


def test_no_trailing_newline(tmp_path, text, expected):
    path = write_text(tmp_path / "f.tsv", text.rstrip("\n"))
    frame, reader = read_all(path, block_bytes=4096)
    assert_same_as_pandas(frame, reader, expected)


@pytest.mark.parametrize("block_bytes", [1 << 24, 4096])
@pytest.mark.parametrize("n_header", [3, 150])
def test_header_lines_are_skipped(tmp_path, text, expected, block_bytes, n_header):
    # 150 header lines are ~7 kB: more than one 4096-byte block
    header = "".join(f"# header line {i} id=pbmc_small reference=hg19\n" for i in range(n_header))
    assert n_header < 100 or len(header) > 4096
    path = write_text(tmp_path / "f.tsv.gz", header + text, "gzip")
    frame, reader = read_all(path, block_bytes=block_bytes)
    assert_same_as_pandas(frame, reader, expected)
    assert reader.n_header_lines == n_header
    assert reader.n_lines == n_header + len(expected)


def test_header_exactly_filling_the_first_block(tmp_path, text, expected):
    # the first block holds nothing but header lines: reading must go on, not stop there
    header = "#" + "x" * 2046 + "\n" + "#" + "y" * 2046 + "\n"
    assert len(header) == 4096
    path = write_text(tmp_path / "f.tsv", header + text)
    frame, reader = read_all(path, block_bytes=4096)
    assert_same_as_pandas(frame, reader, expected)
    assert reader.n_header_lines == 2


def test_header_only_file_has_no_fragments(tmp_path):
    path = write_text(tmp_path / "f.tsv.gz", "# id=x\n# description=y\n", "gzip")
    reader = FragmentReader(path, block_bytes=4096)
    assert list(reader) == []
    assert reader.n_header_lines == 2 and reader.n_lines == 2


def test_header_then_bad_line_names_the_right_line(tmp_path, text):
    header = "# id=x\n# description=y\n# primary_contig=chr11\n"
    lines = text.splitlines()
    lines[4999] = lines[4999].replace("\t", " ", 1)  # line 5000 of the fragments
    content = header + "\n".join(lines) + "\n"
    path = write_text(tmp_path / "f.tsv.gz", content, "gzip")
    bad = line_of(content.splitlines(), lambda s: not s.startswith("#") and s.count("\t") != 4)
    assert bad == 5003
    for block_bytes in (1 << 24, 4096):
        with pytest.raises(AtlasbenchError) as err:
            list(FragmentReader(path, block_bytes=block_bytes))
        assert_located(err.value, path, bad)


def test_barcode_mapping_unknown_barcodes_get_minus_one(expected):
    wanted = sorted(expected["barcode"].unique())[::3]
    mapping = {b: 100 + i for i, b in enumerate(wanted)}
    frame, reader = read_all(ARCHR, barcodes=mapping)
    want = expected["barcode"].map(mapping).fillna(-1).astype(np.int64).to_numpy()
    np.testing.assert_array_equal(frame["barcode_id"].to_numpy(), want)
    assert (frame["barcode_id"] == -1).sum() == (~expected["barcode"].isin(wanted)).sum() > 0
    assert reader.barcodes == wanted  # no barcode discovered in mapping mode


def test_resolve_chrom_maps_and_drops(expected):
    calls = []

    def resolve(name: str) -> int:
        calls.append(name)
        return {"chr5": 0, "chr11": -1}[name]

    reader = FragmentReader(ARCHR, resolve_chrom=resolve, block_bytes=4096)
    batches = list(reader)
    assert calls == ["chr11", "chr5"]  # once per chromosome, however many blocks
    start = np.concatenate([b.start for b in batches])
    assert all((b.chrom == 0).all() for b in batches)
    np.testing.assert_array_equal(start, expected.loc[expected["chrom"] == "chr5", "start"].to_numpy())


# -- bad input ---------------------------------------------------------------------------


def corrupt(text: str, line: int, new: str | None) -> str:
    """Replace 1-based line ``line`` of ``text`` (None: delete it)."""
    lines = text.splitlines()
    if new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new
    return "\n".join(lines) + "\n"


def fields(text: str, line: int) -> list[str]:
    return text.splitlines()[line - 1].split("\t")


BAD_LINE_CASES = {
    "four columns": (lambda f: "\t".join(f[:4]), "5 tab-separated columns"),
    "six columns": (lambda f: "\t".join([*f, "extra"]), "5 tab-separated columns"),
    "non-integer start": (lambda f: "\t".join([f[0], "12x", *f[2:]]), "'start' must be an integer"),
    "float end": (lambda f: "\t".join([f[0], f[1], f[2] + ".5", *f[3:]]), "'end' must be an integer"),
    "start equals end": (lambda f: "\t".join([f[0], f[1], f[1], *f[3:]]), "start must be < end"),
    "start after end": (lambda f: "\t".join([f[0], f[2], f[1], *f[3:]]), "start must be < end"),
    "negative start": (lambda f: "\t".join([f[0], "-5", *f[2:]]), "start must be >= 0"),
    "count zero": (lambda f: "\t".join([*f[:4], "0"]), "count"),
    "comment mid-file": (lambda f: "# a comment in the middle", "header line"),
    "commented-out fragment": (lambda f: "#" + "\t".join(f), "header line"),
    "blank line": (lambda f: "", "empty line"),
    # Python's int() takes a sign or blanks, a fragments file does not: the line is shown
    "signed start": (lambda f: "\t".join([f[0], "+" + f[1], *f[2:]]), "plain decimal numbers, found 'chr"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINE_CASES))
@pytest.mark.parametrize("line", [1, 7000, 29_399])
def test_bad_line_is_named_by_file_and_line(tmp_path, text, case, line):
    make, words = BAD_LINE_CASES[case]
    if case == "blank line" and line == 29_399:
        line = 29_398  # a blank last line is a trailing newline, not a line in the middle
    content = corrupt(text, line, make(fields(text, line)))
    path = write_text(tmp_path / "bad.tsv.gz", content, "gzip")
    if case == "commented-out fragment" and line == 1:
        # a '#' line at the top is a header, not an error; it just drops that fragment
        frame, reader = read_all(path)
        assert reader.n_header_lines == 1 and len(frame) == 29_398
        return
    if case == "comment mid-file" and line == 1:
        frame, reader = read_all(path)
        assert reader.n_header_lines == 1 and len(frame) == 29_398
        return
    for block_bytes in (1 << 24, 4096):
        with pytest.raises(AtlasbenchError) as err:
            list(FragmentReader(path, block_bytes=block_bytes))
        assert_located(err.value, path, line)
        assert words in str(err.value)


def test_unsorted_start_within_chromosome(tmp_path, text):
    lines = text.splitlines()
    # swap two consecutive chr11 lines with different starts
    i = next(i for i in range(3000, 4000) if int(lines[i].split("\t")[1]) < int(lines[i + 1].split("\t")[1]))
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    content = "\n".join(lines) + "\n"
    path = write_text(tmp_path / "unsorted.tsv.gz", content, "gzip")
    starts = [int(s.split("\t")[1]) for s in content.splitlines()]
    bad = next(k + 1 for k in range(1, len(starts)) if starts[k] < starts[k - 1])
    assert bad == i + 2
    for block_bytes in (1 << 24, 4096):
        with pytest.raises(AtlasbenchError) as err:
            list(FragmentReader(path, block_bytes=block_bytes))
        assert_located(err.value, path, bad)
        assert "not sorted" in str(err.value)


def test_unsorted_across_block_boundary(tmp_path, text):
    # the first line of every later 4096-byte block must be checked against the last
    # start of the block before it
    lines = text.splitlines(keepends=True)
    offsets = np.cumsum([len(s) for s in lines])
    k = int(np.searchsorted(offsets, 4096 * 3, side="right"))  # line index 0-based whose text crosses 3*4096
    # make line k+1 (0-based) start lower than line k by copying an earlier start
    f = lines[k + 1].rstrip("\n").split("\t")
    f[1] = str(int(lines[k].split("\t")[1]) - 1)
    f[2] = str(int(f[1]) + 100)
    lines[k + 1] = "\t".join(f) + "\n"
    path = write_text(tmp_path / "f.tsv", "".join(lines))
    with pytest.raises(AtlasbenchError) as err:
        list(FragmentReader(path, block_bytes=4096))
    assert_located(err.value, path, k + 2)


def test_chromosome_reappearing_is_an_error(tmp_path, text):
    lines = text.splitlines()
    chr11 = [s for s in lines if s.startswith("chr11\t")]
    chr5 = [s for s in lines if s.startswith("chr5\t")]
    # chr11 block, chr5 block, then one more chr11 fragment (sorted after the last chr11)
    f = chr11[-1].split("\t")
    extra = "\t".join([f[0], str(int(f[1]) + 10), str(int(f[2]) + 10), *f[3:]])
    content_lines = chr11 + chr5 + [extra]
    path = write_text(tmp_path / "f.tsv.gz", "\n".join(content_lines) + "\n", "gzip")
    bad = len(content_lines)
    for block_bytes in (1 << 24, 4096):
        with pytest.raises(AtlasbenchError) as err:
            list(FragmentReader(path, block_bytes=block_bytes))
        assert_located(err.value, path, bad)
        assert "'chr11'" in str(err.value) and "again" in str(err.value)


def complete_lines_before_break(data: bytes) -> int:
    """Lines that decompress fully from a (possibly multi-member) gzip cut short."""
    out = []
    while data:
        d = zlib.decompressobj(31)
        out.append(d.decompress(data))
        if not d.eof:
            break
        data = d.unused_data
    return b"".join(out).count(b"\n")


@pytest.mark.parametrize("kind", ["fixture", "gzip"])
def test_truncated_gzip(tmp_path, text, kind):
    whole = ARCHR.read_bytes() if kind == "fixture" else gzip.compress(text.encode())
    path = tmp_path / "cut.tsv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    n_ok = complete_lines_before_break(path.read_bytes())
    assert 1000 < n_ok < 29_399
    for block_bytes in (1 << 24, 4096):
        with pytest.raises(AtlasbenchError) as err:
            list(FragmentReader(path, block_bytes=block_bytes))
        msg = str(err.value)
        assert str(path) in msg
        assert "truncated" in msg
        assert re.search(rf"after line {n_ok}\b", msg), msg


def test_unknown_chromosome_through_resolve_chrom(tmp_path, text):
    header = "# reference=hg19\n"
    path = write_text(tmp_path / "f.tsv.gz", header + text, "gzip")
    bad = line_of((header + text).splitlines(), lambda s: s.startswith("chr5\t"))
    assert bad == 1 + 15_938 + 1

    def resolve(name: str) -> int:
        if name == "chr11":
            return 0
        raise AtlasbenchError(f"chromosome {name!r} is not in the genome")

    for block_bytes in (1 << 24, 4096):
        with pytest.raises(AtlasbenchError) as err:
            list(FragmentReader(path, resolve_chrom=resolve, block_bytes=block_bytes))
        assert_located(err.value, path, bad)
        assert "chromosome 'chr5' is not in the genome" in str(err.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.tsv.gz"
    with pytest.raises(AtlasbenchError) as err:
        list(FragmentReader(path))
    assert str(path) in str(err.value) and "not found" in str(err.value)
