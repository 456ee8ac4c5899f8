"""Library complexity and saturation depth: the Lander-Waterman law on known cases."""

import math

import numpy as np
import pytest

from atlasbench.data.complexity import library_complexity, saturation_curve, saturation_depth


def test_complexity_inverts_the_law_exactly():
    m = np.array([50.0, 1_000.0, 23_000.0, 1e6])
    r = np.array([10.0, 3_000.0, 40_000.0, 5e5])
    u = m * (1 - np.exp(-r / m))
    assert np.allclose(library_complexity(u, r), m, rtol=1e-9)


def test_complexity_of_a_hand_worked_library():
    # 3 reads, 2 unique: M (1 - e^{-3/M}) = 2 at M = 3.4316 (3/M = 0.8742, e^-0.8742 = 0.4172,
    # 3.4316 x 0.5828 = 2.000)
    m = library_complexity(np.array([2.0]), np.array([3.0]))[0]
    assert m * (1 - math.exp(-3 / m)) == pytest.approx(2.0, rel=1e-12)
    assert m == pytest.approx(3.4316, abs=1e-4)


def test_libraries_without_duplicates_have_no_estimate():
    out = library_complexity(np.array([10, 0, 5, 7]), np.array([10, 0, 4, 9]))
    assert np.isnan(out[:3]).all() and np.isfinite(out[3])


def test_complexity_recovered_from_sampled_reads():
    rng = np.random.default_rng(1)
    truth = rng.lognormal(np.log(2_000), 0.5, size=300).round()
    reads = rng.poisson(3_000, size=300)
    unique = np.array([np.unique(rng.integers(0, m, size=r)).size for m, r in zip(truth.astype(int), reads)])
    estimate = library_complexity(unique, reads)
    assert np.median(estimate / truth) == pytest.approx(1.0, abs=0.02)
    assert saturation_depth(estimate) == pytest.approx(saturation_depth(truth), rel=0.05)


def test_saturation_depth_of_one_library_is_m_ln20():
    assert saturation_depth(np.array([1_000.0, 1_000.0])) == pytest.approx(1_000 * math.log(20), rel=1e-8)


def test_saturation_depth_of_mixed_libraries_reaches_the_fraction():
    m = np.array([500.0, 2_000.0, 8_000.0, np.nan])
    depth = saturation_depth(m, 0.9)
    assert saturation_curve(m, depth) == pytest.approx(0.9 * np.nanmean(m), rel=1e-8)
    # spread between cells pushes the platform's depth beyond the median cell's
    assert depth > 2_000 * math.log(10)
    assert saturation_curve(m, np.array([0.0, 1e9])).tolist() == pytest.approx([0.0, np.nanmean(m)])
