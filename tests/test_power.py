"""Tests for atlasbench.readouts.power: the MDD, the pairs to resolve a difference, the tiers of a ranking."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from atlasbench.errors import AtlasbenchError
from atlasbench.readouts.power import (
    POWER_COLUMNS,
    add_power,
    difference_words,
    minimum_detectable_difference,
    pairs_to_resolve,
    platform_tiers,
    power_words,
    resolve,
)

# Student's t quantiles on 5 degrees of freedom, from a printed table: t(0.975) and t(0.80).
T975_5, T80_5 = 2.570582, 0.919544


def _row(**changes: object) -> dict[str, object]:
    """A platform comparison as compare_platforms gives it: 6 grid points of one test fold."""
    row: dict[str, object] = {
        "a": "10x",
        "b": "hydrop",
        "n": 6,
        "n_folds": 6,
        "n_seeds": 1,
        "n_test_folds": 1,
        "unit": "grid point",
        "mean_difference": -0.03,
        "sd_difference": 0.05,
        "ci_low": -0.068,
        "ci_high": 0.004,
        "confidence": 0.95,
        "p_holm": 0.2,
        "verdict": "within noise",
    }
    row.update(changes)
    return row


def _iterate(difference: float, sd: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """The pairs needed, by stepping n from 2 until the MDD formula reaches the difference."""
    n = 2
    while (stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(power, n - 1)) * sd / math.sqrt(n) > abs(difference):
        n += 1
    return n


def test_minimum_detectable_difference_by_hand() -> None:
    # SD 0.05 over 6 pairs: (t[0.975, 5] + t[0.8, 5]) * 0.05 / sqrt(6) = 3.490126 * 0.05 / 2.449490
    assert minimum_detectable_difference(0.05, 6) == pytest.approx((T975_5 + T80_5) * 0.05 / math.sqrt(6), rel=1e-6)
    assert minimum_detectable_difference(0.05, 6) == pytest.approx(0.071242, abs=1e-6)
    # more pairs, smaller MDD; a stricter alpha, larger
    assert minimum_detectable_difference(0.05, 24) < minimum_detectable_difference(0.05, 6)
    assert minimum_detectable_difference(0.05, 6, alpha=0.05 / 3) == pytest.approx(
        (stats.t.ppf(1 - 0.05 / 6, 5) + T80_5) * 0.05 / math.sqrt(6), rel=1e-6
    )


def test_minimum_detectable_difference_cannot_always_be_estimated() -> None:
    assert math.isnan(minimum_detectable_difference(0.05, 1))
    assert math.isnan(minimum_detectable_difference(math.nan, 6))
    assert minimum_detectable_difference(0.0, 6) == 0.0
    with pytest.raises(AtlasbenchError, match="alpha must be between 0 and 1"):
        minimum_detectable_difference(0.05, 6, alpha=1.5)
    with pytest.raises(AtlasbenchError, match="power must be between 0 and 1"):
        minimum_detectable_difference(0.05, 6, power=0)


def test_pairs_to_resolve_by_hand_iteration() -> None:
    # 0.03 with SD 0.05: 23 pairs give an MDD of 0.0306, 24 give 0.0299
    assert _iterate(0.03, 0.05) == 24
    assert pairs_to_resolve(0.03, 0.05) == 24
    assert pairs_to_resolve(-0.03, 0.05) == 24  # the sign does not matter
    for difference, sd, alpha in ((0.048, 0.1, 0.05), (0.02, 0.05, 0.05), (0.5, 0.05, 0.05), (0.03, 0.05, 0.05 / 3)):
        assert pairs_to_resolve(difference, sd, alpha=alpha) == _iterate(difference, sd, alpha), (difference, sd)
    assert pairs_to_resolve(0.0, 0.05) is None  # no number of pairs resolves no difference
    assert pairs_to_resolve(0.03, math.nan) is None
    assert pairs_to_resolve(0.03, 0.0) == 2


def test_the_mdd_is_calibrated_by_simulation() -> None:
    """Paired differences drawn with a true mean equal to the MDD: the t-test finds them with the
    power the noncentral t gives (0.79 at 6 pairs, the formula's approximation of 0.8); with no true
    difference it is wrong 5% of the time."""
    n, sd, draws = 6, 0.05, 20_000
    mdd = minimum_detectable_difference(sd, n)
    rng = np.random.default_rng(0)
    critical = stats.t.ppf(0.975, n - 1)
    for mean, expected in (
        (mdd, 1 - stats.nct.cdf(critical, n - 1, mdd / (sd / math.sqrt(n)))),
        (0.0, 0.05),
    ):
        differences = rng.normal(mean, sd, (draws, n))
        t = differences.mean(axis=1) / (differences.std(axis=1, ddof=1) / math.sqrt(n))
        found = float(np.mean(np.abs(t) > critical))
        assert found == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / draws))
    assert 0.78 < 1 - stats.nct.cdf(critical, n - 1, mdd / (sd / math.sqrt(n))) < 0.8


def test_resolve_counts_test_folds_at_this_grid() -> None:
    r = resolve(_row())
    assert not r.holds and r.alpha == 0.05
    assert r.minimum_detectable == pytest.approx((T975_5 + T80_5) * 0.05 / math.sqrt(6), rel=1e-6)
    # 24 pairs at 6 grid points per test fold: 4 test folds
    assert (r.pairs_needed, r.pairs_per_fold, r.folds_needed, r.seeds_needed) == (24, 6.0, 4, None)
    assert power_words(r) == (
        "the smallest difference it could detect (paired t-test, 80% power at alpha 0.05) is 0.071; "
        "resolving a difference of 0.030 would take about 24 pairs (this study has 6), i.e. about 4 test "
        "folds at this grid (it has 1)"
    )
    assert difference_words(r) == (
        "paired difference (hydrop minus 10x) -0.030 (95% CI -0.068 to +0.004, p = 0.2, n = 6 pairs)"
    )
    assert difference_words(r, first="10x") == (
        "paired difference (10x minus hydrop) +0.030 (95% CI -0.004 to +0.068, p = 0.2, n = 6 pairs)"
    )


def test_resolve_offers_seeds_when_each_seed_is_a_pair() -> None:
    # 6 grid points x 1 fold x 2 seeds paired separately: 12 pairs, 6 per fold and seed
    r = resolve(_row(n=12, n_seeds=2))
    assert r.seeds_paired and r.pairs_per_fold == 6.0
    needed = _iterate(0.03, 0.05)
    assert (r.pairs_needed, r.folds_needed, r.seeds_needed) == (needed, math.ceil(needed / 12), math.ceil(needed / 6))
    assert "i.e. about 2 test folds at this grid at 2 seeds (it has 1), or about 4 seeds on its 1 test fold" in (
        power_words(r)
    )


def test_scenario_comparisons_count_one_pair_per_fold() -> None:
    row = _row(a="limited", b="limited+50%", n=5, n_folds=5, unit="fold")
    del row["n_test_folds"]
    r = resolve(row)
    assert (r.n_test_folds, r.pairs_per_fold) == (5, 1.0)
    assert r.folds_needed == _iterate(0.03, 0.05) and "test folds (it has 5)" in power_words(r)
    assert "at this grid" not in power_words(r)


def test_the_mdd_of_a_holm_family_is_at_alpha_over_m() -> None:
    """Three comparisons made together: the MDD is at 0.05 / 3, Holm's strictest threshold."""
    table = pd.DataFrame([_row(), _row(b="s3"), _row(a="hydrop", b="s3")])
    out = add_power(table)
    assert tuple(out.columns[-len(POWER_COLUMNS) :]) == POWER_COLUMNS
    assert out["mdd_alpha"].tolist() == pytest.approx([0.05 / 3] * 3)
    expected = (stats.t.ppf(1 - 0.05 / 6, 5) + T80_5) * 0.05 / math.sqrt(6)
    assert out["minimum_detectable_difference"].tolist() == pytest.approx([expected] * 3)
    assert out["pairs_needed"].tolist() == [_iterate(0.03, 0.05, 0.05 / 3)] * 3
    assert "at alpha 0.017 (0.05 over 3)" in power_words(resolve(table.iloc[0], n_comparisons=3))
    with pytest.raises(AtlasbenchError, match="n_comparisons must be a positive integer"):
        resolve(table.iloc[0], n_comparisons=0)


def test_a_difference_as_large_as_the_mdd_holds() -> None:
    """The verdict and the MDD agree: differences of at least the MDD (alpha / m) pass Holm at alpha."""
    from atlasbench.readouts.comparisons import holm, paired_comparison

    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1, 6)
    noise = (noise - noise.mean()) / noise.std(ddof=1) * 0.05  # SD exactly 0.05
    m = 3
    mdd = minimum_detectable_difference(0.05, 6, alpha=0.05 / m)
    result = paired_comparison(np.zeros(6), noise + mdd)
    assert result.sd_difference == pytest.approx(0.05)
    assert holm([result.p_value, 1.0, 1.0])[0] < 0.05


def _comparison(a: str, b: str, difference: float, holds: bool) -> dict[str, object]:
    return _row(a=a, b=b, mean_difference=difference, verdict="holds" if holds else "within noise")


def test_tiers_rank_only_what_holds() -> None:
    means = {"10x": 0.60, "hydrop": 0.55, "s3": 0.54}
    # every pair holds: three tiers
    all_hold = pd.DataFrame(
        [
            _comparison("10x", "hydrop", -0.05, True),
            _comparison("10x", "s3", -0.06, True),
            _comparison("hydrop", "s3", -0.01, True),
        ]
    )
    assert platform_tiers(means, all_hold) == [["10x"], ["hydrop"], ["s3"]]
    # one resolved pair only (10x above s3): nothing can be cut, one tier in the given order
    one = pd.DataFrame(
        [
            _comparison("10x", "hydrop", -0.05, False),
            _comparison("10x", "s3", -0.06, True),
            _comparison("hydrop", "s3", -0.01, False),
        ]
    )
    assert platform_tiers(means, one) == [["10x", "hydrop", "s3"]]
    # 10x resolved above both, the two others not told apart
    top = pd.DataFrame(
        [
            _comparison("10x", "hydrop", -0.05, True),
            _comparison("10x", "s3", -0.06, True),
            _comparison("hydrop", "s3", -0.01, False),
        ]
    )
    assert platform_tiers(means, top) == [["10x"], ["hydrop", "s3"]]
    assert platform_tiers({"s3": 0.54, "hydrop": 0.55, "10x": 0.60}, top) == [["10x"], ["s3", "hydrop"]]
    # a difference that holds the other way round from the means resolves nothing
    backwards = pd.DataFrame([_comparison("10x", "hydrop", +0.05, True)])
    assert platform_tiers({"10x": 0.60, "hydrop": 0.55}, backwards) == [["10x", "hydrop"]]
    # a pair never compared is not resolved
    assert platform_tiers(means, all_hold.iloc[:2]) == [["10x"], ["hydrop", "s3"]]


def test_power_of_a_test_within_blocks_by_hand() -> None:
    """A test within B blocks has n - B degrees of freedom; more pairs keep the blocks."""
    sd, n, blocks = 0.02, 12, 6
    expected = (stats.t.ppf(0.975, 6) + stats.t.ppf(0.8, 6)) * sd / math.sqrt(12)
    assert minimum_detectable_difference(sd, n, blocks=blocks) == pytest.approx(expected)
    assert math.isnan(minimum_detectable_difference(sd, 6, blocks=6))  # no degree of freedom left
    needed = pairs_to_resolve(0.01, sd, blocks=blocks)
    assert minimum_detectable_difference(sd, needed, blocks=blocks) <= 0.01
    assert minimum_detectable_difference(sd, needed - 1, blocks=blocks) > 0.01
