"""Fragments held between the simulator's windows: in memory, then in sorted runs on disk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from atlasbench.simulate.pending import PendingFragments, sort_fragments


def _expected(keys: np.ndarray, counts: np.ndarray) -> pd.Series:
    """One fragment per key, counts added: the whole set sorted at once, with pandas."""
    return pd.Series(counts).groupby(keys).sum()


def _parts(
    rng: np.random.Generator, n_parts: int, size: int, span: int, low: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random keys in [low, span) (many repeated, within and across parts), counts >= 1."""
    return [
        (rng.integers(low, span, size).astype(np.int64), rng.integers(1, 5, size).astype(np.int64))
        for _ in range(n_parts)
    ]


def test_sort_fragments_merges_equal_keys():
    key, count = sort_fragments(np.array([7, 3, 7, 1, 3, 7]), np.array([1, 2, 3, 4, 5, 6]))
    assert key.tolist() == [1, 3, 7]
    assert count.tolist() == [4, 7, 10]


def test_sort_fragments_with_keys_too_wide_to_carry_counts():
    big = 1 << 61  # the count no longer fits beside the key: sorted by argsort instead
    key, count = sort_fragments(np.array([big + 5, 2, big + 5]), np.array([100, 1, 28]))
    assert key.tolist() == [2, big + 5]
    assert count.tolist() == [1, 128]


@pytest.mark.parametrize("held", [50, 700, 10**9])
def test_take_gives_one_sorts_result_whatever_the_bound(held, tmp_path):
    # as in the simulator, a window's fragments lie at or above the last window's bound
    rng = np.random.default_rng(3)
    bounds = [500, 500, 1_300, 2_000]  # 500 twice: a window whose fragments all stay held
    parts = [part for low, _ in zip([0, *bounds], bounds) for part in _parts(rng, 3, 300, 2_000, low)]
    keys = np.concatenate([k for k, _ in parts])
    counts = np.concatenate([c for _, c in parts])
    taken: list[tuple[np.ndarray, np.ndarray]] = []
    with PendingFragments(tmp_path, held) as pending:
        for i, bound in enumerate(bounds):
            for key, count in parts[3 * i : 3 * i + 3]:
                pending.add(key, count)
            before = len(taken)
            for chunk in pending.take(bound):  # a chunk holds at most `held` (one per run if more runs)
                assert len(chunk[0]) <= max(held, pending.spilled + 1)
                taken.append(chunk)
            got = np.concatenate([k for k, _ in taken[before:]]) if len(taken) > before else np.array([], int)
            assert (got < bound).all()
        spilled = pending.spilled
    key = np.concatenate([k for k, _ in taken])
    count = np.concatenate([c for _, c in taken])
    assert (np.diff(key) > 0).all()  # in order, and no key split between chunks or calls
    expected = _expected(keys, counts)
    np.testing.assert_array_equal(key, expected.index.to_numpy())
    np.testing.assert_array_equal(count, expected.to_numpy())
    assert (spilled > 0) == (held < 10**9)
    assert list(tmp_path.iterdir()) == []  # closing removed the spilled runs


def test_runs_on_disk_are_removed_once_written(tmp_path):
    rng = np.random.default_rng(5)
    pending = PendingFragments(tmp_path, 100)
    for key, count in _parts(rng, 6, 150, 10_000):
        pending.add(key, count)
    assert pending.spilled == 6
    (folder,) = tmp_path.iterdir()
    assert len(list(folder.iterdir())) == 12  # keys and counts of 6 runs
    for _ in pending.take(5_000):
        pass
    assert len(list(folder.iterdir())) == 12  # each run still holds keys above the bound
    for _ in pending.take(10_000):
        pass
    assert list(folder.iterdir()) == []
    pending.close()
    assert list(tmp_path.iterdir()) == []
