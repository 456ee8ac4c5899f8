"""The compiled fragments-line parser against plain Python, on generated lines."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import atlasbench.io.fragment_lines as fragment_lines
from atlasbench.io.barcodes import BarcodeIndex
from atlasbench.io.fragment_lines import parse_lines

BARCODE = st.text("ACGT-1_.", min_size=1, max_size=30)

line = st.tuples(
    st.sampled_from(["chr1", "chr2", "2L", "chrUn_KI270302v1"]),
    st.integers(0, 10**12),
    st.integers(1, 5000),
    BARCODE,
    st.integers(1, 10**6),
)


def text_of(lines, newline: str = "\n") -> bytes:
    return "".join(f"{c}\t{s}\t{s + w}\t{b}\t{n}{newline}" for c, s, w, b, n in lines).encode()


@settings(max_examples=80, deadline=None)
@given(
    lines=st.lists(line, min_size=1, max_size=60),
    known=st.lists(BARCODE, unique=True, max_size=20),
    newline=st.sampled_from(["\n", "\r\n"]),
    pieces=st.integers(1, 4),
)
def test_columns_ids_and_runs_are_those_python_reads(lines, known, newline, pieces) -> None:
    lines = sorted(lines)  # runs of equal chromosome, as in a sorted file
    known = known + [b for _, _, _, b, _ in lines[::3]]  # some of the file's barcodes are known
    ids = {b: 10 * i for i, b in enumerate(dict.fromkeys(known))}
    block = text_of(lines, newline)
    original = fragment_lines.PARSE_THREADS
    fragment_lines.PARSE_THREADS = pieces
    try:
        with ThreadPoolExecutor(pieces) as pool:
            parsed = parse_lines(block, BarcodeIndex(ids), pool)
    finally:
        fragment_lines.PARSE_THREADS = original
    assert parsed.bad_line == -1
    np.testing.assert_array_equal(parsed.start, [s for _, s, _, _, _ in lines])
    np.testing.assert_array_equal(parsed.end, [s + w for _, s, w, _, _ in lines])
    np.testing.assert_array_equal(parsed.count, [n for *_, n in lines])
    np.testing.assert_array_equal(parsed.cell, [ids.get(b, -1) for _, _, _, b, _ in lines])
    found = [block[a : a + n].decode() for a, n in zip(parsed.barcode_at, parsed.barcode_length)]
    assert found == [b for _, _, _, b, _ in lines]
    chroms = [c for c, *_ in lines]
    first = [i for i in range(len(chroms)) if i == 0 or chroms[i] != chroms[i - 1]]
    assert parsed.run_rows.tolist() == first
    assert parsed.run_names == [chroms[i] for i in first]


BAD = [
    "chr1\t-5\t10\tAAAC-1\t1",  # negative start
    "chr1\t+5\t10\tAAAC-1\t1",  # a sign
    "chr1\t 5\t10\tAAAC-1\t1",  # a blank
    "chr1\t5\t5\tAAAC-1\t1",  # end not after start
    "chr1\t5\t10\tAAAC-1\t0",  # no reads
    "chr1\t5\t10\t\t1",  # no barcode
    "\t5\t10\tAAAC-1\t1",  # no chromosome
    "chr1\t5\t10\tAAAC-1",  # four fields
    "chr1\t5\t10\tAAAC-1\t1\textra",  # six fields
    "chr1\t5\t1e3\tAAAC-1\t1",  # not decimal digits
    "chr1\t5\t1234567890123456789\tAAAC-1\t1",  # 19 digits
    "#chr1\t5\t10\tAAAC-1\t1",  # a commented-out fragment
    "",  # a blank line
]


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("where", [0, 7, 19])
def test_the_first_line_that_is_not_a_fragment_is_named(bad: str, where: int) -> None:
    lines = [f"chr1\t{100 + i}\t{300 + i}\tAAAC-1\t2" for i in range(20)]
    lines[where] = bad
    block = ("\n".join(lines) + "\n").encode()
    with ThreadPoolExecutor(2) as pool:
        assert parse_lines(block, BarcodeIndex({"AAAC-1": 0}), pool).bad_line == where
    assert parse_lines(block, BarcodeIndex({})).bad_line == where
