"""Properties of nested read thinning and stratified cell ordering."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlasbench.data.sampling import (
    cell_levels,
    cell_order,
    depth_probabilities,
    first_cell_level,
    first_level,
    read_levels,
    thin_reads,
)
from atlasbench.errors import AtlasbenchError


def test_depth_probabilities_are_targets_over_mean():
    p = depth_probabilities([1000, 5000, "all"], mean_reads_per_cell=10000.0)
    np.testing.assert_allclose(p, [0.1, 0.5, 1.0])


@pytest.mark.parametrize("levels", [[20000], [5000, 1000], [0], ["many"]])
def test_depth_probabilities_reject_bad_levels(levels):
    with pytest.raises(AtlasbenchError):
        depth_probabilities(levels, mean_reads_per_cell=10000.0)


@settings(max_examples=30, deadline=None)
@given(
    counts=st.lists(st.integers(1, 30), min_size=1, max_size=300),
    probs=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=5, unique=True),
    seed=st.integers(0, 2**31),
)
def test_thinning_is_nested_and_bounded(counts, probs, seed):
    count = np.asarray(counts)
    p = np.sort(np.asarray(probs))
    kept = thin_reads(count, p, np.random.default_rng(seed))
    assert kept.shape == (len(p), len(count))
    assert (kept >= 0).all()
    assert (kept <= count).all()
    # nested: every read kept at a level is kept at every higher one
    assert (np.diff(kept, axis=0) >= 0).all()
    if p[-1] == 1.0:
        np.testing.assert_array_equal(kept[-1], count)
    # the same draws per read: a fragment is observed from the lowest level of its reads on
    level = first_level(count, read_levels(count, p, np.random.default_rng(seed)))
    for lv in range(len(p)):
        np.testing.assert_array_equal(kept[lv] > 0, level <= lv)


def test_expected_kept_reads_is_p_times_reads():
    rng = np.random.default_rng(0)
    count = rng.geometric(0.4, size=200_000)
    p = np.array([0.05, 0.2, 0.5, 0.9, 1.0])
    kept = thin_reads(count, p, np.random.default_rng(1))
    total = count.sum()
    for lv, prob in enumerate(p):
        # kept reads ~ Binomial(total, p): within 5 standard deviations
        sd = np.sqrt(total * prob * (1 - prob)) + 1e-9
        assert abs(kept[lv].sum() - prob * total) < 5 * sd
        # a fragment with c reads survives with probability 1 - (1 - p)^c
        expected = (1 - (1 - prob) ** count).sum()
        assert abs((kept[lv] > 0).sum() - expected) < 5 * np.sqrt(expected) + 1


def test_unique_fragments_saturate_with_depth():
    """Duplicates make unique fragments grow ever slower with depth (concave curve)."""
    rng = np.random.default_rng(3)
    count = rng.geometric(0.3, size=100_000)  # a library sequenced to saturation
    p = np.linspace(0.1, 1.0, 10)
    kept = thin_reads(count, p, np.random.default_rng(4))
    unique = (kept > 0).sum(axis=1)
    reads = kept.sum(axis=1)
    gain_per_read = np.diff(unique) / np.diff(reads)
    assert (np.diff(unique) > 0).all()
    assert (np.diff(gain_per_read) < 0.02).all()  # non-increasing up to noise
    assert gain_per_read[-1] < 0.6 * gain_per_read[0]
    # fraction of reads that are unique fragments falls as depth grows
    assert unique[0] / reads[0] > unique[-1] / reads[-1] + 0.2


def test_same_seed_same_thinning():
    count = np.random.default_rng(0).geometric(0.5, 5000)
    p = np.array([0.2, 0.6])
    a = thin_reads(count, p, np.random.default_rng(11))
    b = thin_reads(count, p, np.random.default_rng(11))
    c = thin_reads(count, p, np.random.default_rng(12))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_cell_order_is_stratified_nested_and_seeded():
    types = np.array(["a"] * 600 + ["b"] * 300 + ["c"] * 100)
    rng = np.random.default_rng(5)
    types = types[rng.permutation(len(types))]
    rank = cell_order(types, seed=9)
    assert sorted(rank) == list(range(len(types)))
    np.testing.assert_array_equal(rank, cell_order(types, seed=9))
    assert not np.array_equal(rank, cell_order(types, seed=10))
    for n in (10, 57, 100, 333, 999):
        chosen = types[rank < n]
        for label, frac in (("a", 0.6), ("b", 0.3), ("c", 0.1)):
            assert abs((chosen == label).sum() - frac * n) <= 1.0


def test_cell_levels_and_first_cell_level():
    sizes = cell_levels([10, 50, "all"], n_cells=100)
    np.testing.assert_array_equal(sizes, [10, 50, 100])
    rank = np.array([0, 9, 10, 49, 50, 99])
    np.testing.assert_array_equal(first_cell_level(rank, sizes), [0, 0, 1, 1, 2, 2])
    with pytest.raises(AtlasbenchError, match="above the 100"):
        cell_levels([200], n_cells=100)
    with pytest.raises(AtlasbenchError, match="increasing"):
        cell_levels([50, 10], n_cells=100)
