"""Tests for atlasbench.io.intervals.Segments against brute-force counting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlasbench.io.intervals import Segments

CHROMS = ["chrA", "chrB", "chrC"]  # chrC is listed but holds no interval


def brute_depth(intervals: pd.DataFrame, chroms: list[str], chrom_id: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Number of intervals covering each position, one interval at a time."""
    out = np.zeros(len(pos), dtype=np.int64)
    for r in intervals.itertuples():
        if r.chrom not in chroms:
            continue
        cid = chroms.index(r.chrom)
        out += (chrom_id == cid) & (pos >= r.start) & (pos < r.end)
    return out


def brute_interval_counts(intervals: pd.DataFrame, chroms: list[str], chrom_id: np.ndarray,
                          pos: np.ndarray) -> np.ndarray:
    """Positions inside each interval (0 for intervals on unlisted chromosomes)."""
    out = []
    for r in intervals.itertuples():
        if r.chrom not in chroms:
            out.append(0)
            continue
        cid = chroms.index(r.chrom)
        out.append(int(((chrom_id == cid) & (pos >= r.start) & (pos < r.end)).sum()))
    return np.array(out, dtype=np.int64)


def check(intervals: pd.DataFrame, chroms: list[str], chrom_id: np.ndarray, pos: np.ndarray) -> None:
    seg = Segments(intervals, chroms)
    idx = seg.lookup(chrom_id, pos)
    depth = np.where(idx >= 0, seg.depth[np.maximum(idx, 0)] if seg.n_segments else 0, 0)
    want_depth = brute_depth(intervals, chroms, chrom_id, pos)
    np.testing.assert_array_equal(depth, want_depth)
    # a position is outside every interval exactly when lookup says -1
    np.testing.assert_array_equal(idx < 0, want_depth == 0)
    counts = np.bincount(idx[idx >= 0], minlength=seg.n_segments)
    np.testing.assert_array_equal(seg.interval_sums(counts), brute_interval_counts(intervals, chroms, chrom_id, pos))


def random_case(seed: int, n_intervals: int = 60, n_pos: int = 4000):
    rng = np.random.default_rng(seed)
    chrom = rng.choice(["chrA", "chrB", "chrZ"], n_intervals, p=[0.5, 0.35, 0.15])  # chrZ: not listed
    start = rng.integers(0, 5000, n_intervals)
    end = start + rng.integers(1, 800, n_intervals)
    intervals = pd.DataFrame({"chrom": chrom, "start": start, "end": end})
    # positions sorted by chromosome then position, as fragments come
    chrom_id = np.sort(rng.integers(0, 3, n_pos)).astype(np.int32)
    pos = rng.integers(0, 6000, n_pos)
    order = np.lexsort((pos, chrom_id))
    return intervals, chrom_id[order], pos[order]


@pytest.mark.parametrize("seed", range(8))
def test_random_overlapping_intervals_against_brute_force(seed):
    intervals, chrom_id, pos = random_case(seed)
    check(intervals, CHROMS, chrom_id, pos)


def test_unsorted_positions_and_interleaved_chromosomes():
    intervals, chrom_id, pos = random_case(99)
    rng = np.random.default_rng(1)
    perm = rng.permutation(len(pos))
    check(intervals, CHROMS, chrom_id[perm], pos[perm])


def test_hand_made_example():
    intervals = pd.DataFrame(
        {
            "chrom": ["chrA", "chrA", "chrA", "chrB", "chrQ", "chrA"],
            "start": [100, 150, 150, 10, 0, 400],
            "end": [200, 300, 160, 20, 1000, 500],
        }
    )
    seg = Segments(intervals, CHROMS)
    pos = np.array([99, 100, 149, 150, 159, 160, 199, 200, 299, 300, 399, 400, 499, 500, 10, 19, 20, 5])
    chrom_id = np.array([0] * 14 + [1, 1, 1, 2], dtype=np.int32)
    idx = seg.lookup(chrom_id, pos)
    depth = np.where(idx >= 0, seg.depth[np.maximum(idx, 0)], 0)
    #                 99 100 149 150 159 160 199 200 299 300 399 400 499 500 | 10 19 20 | chrC 5
    assert depth.tolist() == [0, 1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0]
    counts = np.bincount(idx[idx >= 0], minlength=seg.n_segments)
    # per interval: [100,200): 100 149 150 159 160 199 -> 6; [150,300): 150 159 160 199 200 299 -> 6;
    # [150,160): 150 159 -> 2; chrB [10,20): 10 19 -> 2; chrQ unlisted -> 0; [400,500): 400 499 -> 2
    assert seg.interval_sums(counts).tolist() == [6, 6, 2, 2, 0, 2]


def test_interval_sums_over_trailing_axes():
    intervals, chrom_id, pos = random_case(3)
    seg = Segments(intervals, CHROMS)
    idx = seg.lookup(chrom_id, pos)
    groups = np.arange(len(pos)) % 3  # e.g. three cell types
    counts = np.zeros((seg.n_segments, 3), dtype=np.int64)
    np.add.at(counts, (idx[idx >= 0], groups[idx >= 0]), 1)
    sums = seg.interval_sums(counts)
    assert sums.shape == (len(intervals), 3)
    for g in range(3):
        m = groups == g
        np.testing.assert_array_equal(sums[:, g], brute_interval_counts(intervals, CHROMS, chrom_id[m], pos[m]))


def test_unlisted_chromosomes_and_ids_out_of_range():
    intervals = pd.DataFrame({"chrom": ["chrX", "chrY"], "start": [0, 0], "end": [100, 100]})
    seg = Segments(intervals, ["chrA"])
    assert seg.n_segments == 0
    idx = seg.lookup(np.array([0, 0, 1, 5], dtype=np.int32), np.array([0, 50, 50, 50]))
    assert idx.tolist() == [-1, -1, -1, -1]
    assert seg.interval_sums(np.zeros(0, dtype=np.int64)).tolist() == [0, 0]
    assert seg.lookup(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)).tolist() == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["chrA", "chrB", "chrZ"]), st.integers(0, 200), st.integers(1, 60)),
        min_size=1,
        max_size=25,
    ),
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 300)), min_size=1, max_size=200),
)
def test_property_against_brute_force(raw_intervals, raw_positions):
    intervals = pd.DataFrame(
        {
            "chrom": [c for c, _, _ in raw_intervals],
            "start": [s for _, s, _ in raw_intervals],
            "end": [s + w for _, s, w in raw_intervals],
        }
    )
    chrom_id = np.array([c for c, _ in raw_positions], dtype=np.int32)
    pos = np.array([p for _, p in raw_positions], dtype=np.int64)
    check(intervals, CHROMS, chrom_id, pos)


def test_interval_sums_in_chunks_equal_one_pass(monkeypatch):
    """A large region set is summed a chunk of intervals at a time (bounded temporaries)."""
    import atlasbench.io.intervals as intervals_module

    intervals, chrom_id, pos = random_case(5)
    seg = Segments(intervals, CHROMS)
    idx = seg.lookup(chrom_id, pos)
    counts = np.bincount(idx[idx >= 0], minlength=seg.n_segments)
    whole = seg.interval_sums(counts.copy())
    monkeypatch.setattr(intervals_module, "_ROWS_AT_ONCE", 2)
    np.testing.assert_array_equal(seg.interval_sums(counts.copy()), whole)
    np.testing.assert_array_equal(whole, brute_interval_counts(intervals, CHROMS, chrom_id, pos))
