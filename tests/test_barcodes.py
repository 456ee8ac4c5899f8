"""Vectorised barcode lookup against a plain dict."""

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from atlasbench.io.barcodes import BarcodeIndex

ALPHABET = "ACGT-1_.xyz"


def test_lookup_equals_dict_on_equal_length_barcodes():
    rng = np.random.default_rng(0)
    known = ["".join(rng.choice(list("ACGT"), 16)) + "-1" for _ in range(3000)]
    ids = {b: i * 7 for i, b in enumerate(known)}
    queries = [known[i] for i in rng.integers(0, len(known), 20000)] + ["AAAAAAAAAAAAAAAA-2", "TTTT"]
    got = BarcodeIndex(ids).lookup(pa.array(queries, type=pa.binary()))
    np.testing.assert_array_equal(got, [ids.get(q, -1) for q in queries])


def test_sliced_arrays_and_strings_work():
    index = BarcodeIndex({"AAA": 0, "CCCCCCCCCCCC": 1})
    arr = pa.array(["x", "CCCCCCCCCCCC", "AAA", "CCCCCCCCCCCCC"])
    np.testing.assert_array_equal(index.lookup(arr.slice(1)), [1, 0, -1])


@settings(max_examples=60, deadline=None)
@given(
    known=st.lists(st.text(ALPHABET, min_size=1, max_size=21), unique=True, max_size=30),
    queries=st.lists(st.text(ALPHABET, min_size=1, max_size=25), max_size=60),
)
def test_lookup_equals_dict_on_any_lengths(known, queries):
    ids = {b: i for i, b in enumerate(known)}
    probe = queries + known[::2]
    got = BarcodeIndex(ids).lookup(pa.array(probe, type=pa.binary()))
    np.testing.assert_array_equal(got, [ids.get(q, -1) for q in probe])


@settings(max_examples=40, deadline=None)
@given(blocks=st.lists(st.lists(st.text(ALPHABET, min_size=1, max_size=30), max_size=40), max_size=5))
def test_growing_index_numbers_barcodes_by_first_appearance(blocks):
    index = BarcodeIndex(grow=True)
    seen: dict[str, int] = {}
    for block in blocks:
        got = index.lookup(pa.array(block, type=pa.binary()))
        for b in block:
            seen.setdefault(b, len(seen))
        np.testing.assert_array_equal(got, [seen[b] for b in block])
    assert index.names == list(seen)
