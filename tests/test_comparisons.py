"""Tests for atlasbench.readouts.comparisons: paired statistics, Holm, scenario comparisons, sentences."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from atlasbench.errors import AtlasbenchError
from atlasbench.readouts.comparisons import (
    COMPARISON_COLUMNS,
    compare_scenarios,
    describe,
    holm,
    paired_comparison,
)
from atlasbench.readouts.evaluate import TIDY_COLUMNS, tidy

A = np.array([0.61, 0.58, 0.63, 0.60, 0.59])
SHIFT = np.array([0.02, 0.03, 0.01, 0.04, 0.02])
B = A + SHIFT
NOISE = np.array([0.01, -0.02, 0.015, -0.005, 0.004])

MATCHED = "reads-all_cells-1500"
MATCHED_50 = "reads-all_cells-2250"
LOW_DEPTH = "reads-12000_cells-1500"


# --- paired_comparison ------------------------------------------------------------------


def test_paired_comparison_agrees_with_scipy_and_hand_computation() -> None:
    result = paired_comparison(A, B)

    t_test = stats.ttest_rel(B, A)
    assert result.t_statistic == pytest.approx(t_test.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(t_test.pvalue, rel=1e-12)
    assert result.wilcoxon_p == pytest.approx(stats.wilcoxon(B, A).pvalue, rel=1e-12)
    # Every fold improves: the exact Wilcoxon p of 5 folds is at its floor, 2 / 2**5.
    assert result.wilcoxon_p == pytest.approx(0.0625)

    # By hand: mean 0.602, squared deviations sum to 0.00148 -> SD sqrt(0.00148 / 4).
    assert result.n == 5
    assert result.mean_a == pytest.approx(0.602)
    assert result.sd_a == pytest.approx(math.sqrt(0.00148 / 4))
    assert result.mean_b == pytest.approx(0.626)
    assert result.mean_difference == pytest.approx(0.024)
    # Differences 0.02, 0.03, 0.01, 0.04, 0.02: squared deviations sum to 0.00052.
    assert result.sd_difference == pytest.approx(math.sqrt(0.00052 / 4))
    assert result.t_statistic == pytest.approx(0.024 / (math.sqrt(0.00052 / 4) / math.sqrt(5)))
    assert result.t_statistic > 0  # b - a, b is higher


def test_paired_comparison_with_mixed_signs_agrees_with_scipy() -> None:
    b = A + NOISE
    result = paired_comparison(A, b)
    assert result.t_statistic == pytest.approx(stats.ttest_rel(b, A).statistic, rel=1e-12)
    assert result.p_value == pytest.approx(stats.ttest_rel(b, A).pvalue, rel=1e-12)
    assert result.wilcoxon_p == pytest.approx(stats.wilcoxon(b, A).pvalue, rel=1e-12)
    assert result.p_value > 0.5


def test_paired_comparison_identical_values_give_p_one() -> None:
    result = paired_comparison(A, A.copy())
    assert (result.t_statistic, result.p_value, result.wilcoxon_p) == (0.0, 1.0, 1.0)
    assert (result.mean_difference, result.sd_difference) == (0.0, 0.0)
    assert (result.ci_low, result.ci_high) == (0.0, 0.0)


def test_bootstrap_interval_is_deterministic_for_a_seed() -> None:
    b = A + NOISE
    first = paired_comparison(A, b, seed=7)
    assert paired_comparison(A, b, seed=7) == first
    assert first.ci_low <= first.mean_difference <= first.ci_high
    # With 5 folds few resample means exist, so seeds can agree; with 30 they differ.
    rng = np.random.default_rng(0)
    a, d = rng.normal(0.6, 0.02, size=30), rng.normal(0.01, 0.01, size=30)
    one, other = paired_comparison(a, a + d, seed=7), paired_comparison(a, a + d, seed=8)
    assert (one.ci_low, one.ci_high) != (other.ci_low, other.ci_high)
    assert paired_comparison(a, a + d, seed=7) == one


def test_bootstrap_interval_contains_the_true_shift_of_a_large_sample() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0.5, 0.1, size=2000)
    b = a + 0.03 + rng.normal(0.0, 0.05, size=2000)
    result = paired_comparison(a, b, n_bootstrap=5000, seed=3)
    assert result.ci_low < 0.03 < result.ci_high
    # Close to the normal interval: mean difference +- 1.96 standard errors.
    half_width = 1.96 * 0.05 / math.sqrt(2000)
    assert result.ci_high - result.ci_low == pytest.approx(2 * half_width, rel=0.1)


def test_bootstrap_interval_excludes_zero_for_a_clear_shift_and_includes_it_for_noise() -> None:
    shifted = paired_comparison(A, B)
    assert shifted.ci_low > 0
    assert 0.01 <= shifted.ci_low <= shifted.ci_high <= 0.04  # within the differences' range

    rng = np.random.default_rng(2)
    a = rng.normal(0.6, 0.02, size=10)
    noise = paired_comparison(a, a + rng.normal(0.0, 0.01, size=10))
    assert noise.ci_low < 0 < noise.ci_high
    lower = paired_comparison(B, A)
    assert lower.ci_high < 0


def test_confidence_level_widens_the_interval() -> None:
    b = A + NOISE
    narrow = paired_comparison(A, b, confidence=0.5)
    wide = paired_comparison(A, b, confidence=0.99)
    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "message"),
    [
        (A, B[:4], {}, "a has 5 values and b has 4"),
        ([0.5], [0.6], {}, "at least 2 folds"),
        (A, [0.6, np.nan, 0.6, 0.6, 0.6], {}, r"b has NaN or infinite values \(at position\(s\) \[1\]\)"),
        ([0.5, np.inf], [0.6, 0.7], {}, "a has NaN or infinite"),
        (np.ones((2, 3)), np.ones((2, 3)), {}, "1-D"),
        (A, B, {"confidence": 1.5}, "confidence must be between 0 and 1"),
        (A, B, {"n_bootstrap": 0}, "n_bootstrap must be a positive integer"),
    ],
)
def test_paired_comparison_rejects_bad_input(a: object, b: object, kwargs: dict, message: str) -> None:
    with pytest.raises(AtlasbenchError, match=message):
        paired_comparison(a, b, **kwargs)


# --- holm ---------------------------------------------------------------------------------


def test_holm_matches_hand_computation() -> None:
    # Sorted 0.01, 0.03, 0.04 times 3, 2, 1 -> 0.03, 0.06, 0.04; made non-decreasing.
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    # Capped at 1: 0.5 * 2 = 1.0, then 0.6 * 1 is raised to 1.0.
    assert holm([0.5, 0.6, 0.01]) == pytest.approx([1.0, 1.0, 0.03])
    assert holm([0.2]) == pytest.approx([0.2])
    assert holm([]).size == 0


def test_holm_rejects_values_outside_zero_one() -> None:
    with pytest.raises(AtlasbenchError, match=r"in \[0, 1\]"):
        holm([0.1, 1.2])
    with pytest.raises(AtlasbenchError, match=r"in \[0, 1\]"):
        holm([0.1, np.nan])


# --- compare_scenarios ----------------------------------------------------------------------


def _model_rows(pearson_mean: float, seed_offset: float = 0.0) -> pd.DataFrame:
    """What evaluate_against gives for one model: per-cell-type rows and the summary rows."""
    rows = []
    for against, shift in (("own", 0.05), ("full", 0.0), ("platform:10x", -0.1)):
        value = pearson_mean + shift + seed_offset
        rows += [
            (against, "astro", "pearson", value + 0.01),
            (against, "astro", "spearman", value),
            (against, "neuron", "pearson", value - 0.01),
            (against, "neuron", "spearman", value),
            (against, "all", "pearson_mean", value),
            (against, "all", "spearman_mean", value - 0.02),
            (against, "all", "n_regions", 500.0),
        ]
    return pd.DataFrame(rows, columns=["against", "cell_type", "metric", "value"])


def _evaluation(
    points: dict[tuple[str, str], np.ndarray], seeds: tuple[int, ...] = (0,), models: tuple[str, ...] = ("chrombpnet",)
) -> pd.DataFrame:
    """A study's evaluation table, built the way the train stage builds it (evaluate.tidy)."""
    tables = []
    for (platform, level), values in points.items():
        for i_model, model in enumerate(models):
            for seed in seeds:
                for fold, value in enumerate(values):
                    tables.append(
                        tidy(
                            _model_rows(float(value), seed_offset=0.002 * seed + i_model * (0.1 + 0.005 * fold)),
                            platform=platform,
                            level=level,
                            reads_per_cell=25000.0,
                            n_cells=1500.0,
                            fold_scheme="chromosomes-5",
                            fold=fold,
                            seed=seed,
                            model=model,
                        )
                    )
    return pd.concat(tables, ignore_index=True)


def _study() -> pd.DataFrame:
    return _evaluation(
        {
            ("hydrop", MATCHED): A,
            ("hydrop", MATCHED_50): B,
            ("hydrop", LOW_DEPTH): A + NOISE,
            ("10x", MATCHED): A[:4] + NOISE[:4] + 0.05,  # evaluated on 4 folds only: not paired by default
        }
    )


def test_evaluation_fixture_has_the_real_columns() -> None:
    assert tuple(_study().columns) == TIDY_COLUMNS


def test_compare_scenarios_pairs_folds_and_matches_paired_comparison() -> None:
    evaluation = _study()
    pairs = [("hydrop/" + MATCHED, "hydrop/" + MATCHED_50), ("hydrop/" + MATCHED, "hydrop/" + LOW_DEPTH)]
    table = compare_scenarios(evaluation.sample(frac=1.0, random_state=0), pairs)

    assert tuple(table.columns) == COMPARISON_COLUMNS
    assert table[["a", "b"]].values.tolist() == [list(pair) for pair in pairs]
    assert (table["metric"] == "pearson_mean").all() and (table["against"] == "full").all()
    assert table["n"].tolist() == [5, 5] and table["n_folds"].tolist() == [5, 5]
    assert table["n_seeds"].tolist() == [1, 1]

    expected = [paired_comparison(A, B), paired_comparison(A, A + NOISE)]
    for (_, row), result in zip(table.iterrows(), expected):
        assert row["mean_a"] == pytest.approx(result.mean_a)
        assert row["sd_b"] == pytest.approx(result.sd_b)
        assert row["mean_difference"] == pytest.approx(result.mean_difference)
        assert row["t_statistic"] == pytest.approx(result.t_statistic)
        assert row["p_value"] == pytest.approx(result.p_value)
        assert row["wilcoxon_p"] == pytest.approx(result.wilcoxon_p)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((result.ci_low, result.ci_high))
    assert table["p_holm"].to_numpy() == pytest.approx(holm([r.p_value for r in expected]))
    assert table["verdict"].tolist() == ["holds", "within noise"]


def test_compare_scenarios_selects_metric_and_against() -> None:
    evaluation = _study()
    pair = [("hydrop/" + MATCHED, "hydrop/" + MATCHED_50)]
    own = compare_scenarios(evaluation, pair, against="own")
    assert own["mean_a"].iloc[0] == pytest.approx(A.mean() + 0.05)
    spearman = compare_scenarios(evaluation, pair, metric="spearman_mean")
    assert spearman["mean_b"].iloc[0] == pytest.approx(B.mean() - 0.02)
    astro = compare_scenarios(evaluation, pair, metric="pearson", cell_type="astro")
    assert astro["mean_a"].iloc[0] == pytest.approx(A.mean() + 0.01)


def test_default_pairs_are_grid_points_sharing_their_folds() -> None:
    table = compare_scenarios(_study())
    matched, matched_50, low = ("hydrop/" + level for level in (MATCHED, MATCHED_50, LOW_DEPTH))
    assert table[["a", "b"]].values.tolist() == [[matched, matched_50], [matched, low], [matched_50, low]]
    with pytest.raises(AtlasbenchError, match="3 pairs of grid points share their folds, more than max_pairs=2"):
        compare_scenarios(_study(), max_pairs=2)


def test_a_grid_point_may_be_named_by_one_column() -> None:
    evaluation = _evaluation({("hydrop", MATCHED): A, ("hydrop", MATCHED_50): B})
    table = compare_scenarios(evaluation, [(MATCHED, MATCHED_50)], by=["level"])
    assert table["p_value"].iloc[0] == pytest.approx(stats.ttest_rel(B, A).pvalue)


def test_default_pairs_can_be_none() -> None:
    evaluation = _evaluation({("hydrop", MATCHED): A, ("10x", MATCHED): A[:3]})
    table = compare_scenarios(evaluation)
    assert table.empty and tuple(table.columns) == COMPARISON_COLUMNS


def test_seeds_are_averaged_within_a_fold_or_paired_separately() -> None:
    evaluation = _evaluation({("hydrop", MATCHED): A, ("hydrop", MATCHED_50): B}, seeds=(0, 1))
    pair = [("hydrop/" + MATCHED, "hydrop/" + MATCHED_50)]
    averaged = compare_scenarios(evaluation, pair).iloc[0]
    assert (averaged["n"], averaged["n_folds"], averaged["n_seeds"]) == (5, 5, 2)
    # Seed 1 adds 0.002 to both sides: the fold means are A + 0.001 and B + 0.001.
    assert averaged["mean_a"] == pytest.approx(A.mean() + 0.001)
    assert averaged["p_value"] == pytest.approx(stats.ttest_rel(B, A).pvalue)

    separate = compare_scenarios(evaluation, pair, average_seeds=False).iloc[0]
    assert (separate["n"], separate["n_folds"], separate["n_seeds"]) == (10, 5, 2)
    a = np.concatenate([A, A + 0.002])
    b = np.concatenate([B, B + 0.002])
    assert separate["p_value"] == pytest.approx(stats.ttest_rel(b, a).pvalue)


def test_folds_with_nan_are_left_out() -> None:
    evaluation = _evaluation({("hydrop", MATCHED): A, ("hydrop", MATCHED_50): B})
    nan_row = (
        (evaluation["level"] == MATCHED_50)
        & (evaluation["fold"] == 2)
        & (evaluation["metric"] == "pearson_mean")
        & (evaluation["against"] == "full")
    )
    evaluation.loc[nan_row, "value"] = np.nan
    row = compare_scenarios(evaluation).iloc[0]
    keep = [0, 1, 3, 4]
    assert row["n"] == 4
    assert row["p_value"] == pytest.approx(stats.ttest_rel(B[keep], A[keep]).pvalue)


def test_names_label_grid_points() -> None:
    names = {"hydrop/" + MATCHED: "hydrop matched", "hydrop/" + MATCHED_50: "hydrop matched+50%"}
    table = compare_scenarios(_study(), [("hydrop matched", "hydrop matched+50%")], names=names)
    assert table[["a", "b"]].values.tolist() == [["hydrop matched", "hydrop matched+50%"]]
    assert compare_scenarios(_study(), names=names)["b"].tolist()[-1] == "hydrop/" + LOW_DEPTH


def test_models_are_chosen_or_compared() -> None:
    evaluation = _evaluation({("hydrop", MATCHED): A, ("hydrop", MATCHED_50): B}, models=("chrombpnet", "crested"))
    with pytest.raises(AtlasbenchError, match="several models"):
        compare_scenarios(evaluation)
    crested = compare_scenarios(evaluation, model="crested")
    assert crested["mean_a"].iloc[0] == pytest.approx(A.mean() + 0.11)
    with pytest.raises(AtlasbenchError, match="no model 'enformer'"):
        compare_scenarios(evaluation, model="enformer")

    by_model = compare_scenarios(
        evaluation, [("hydrop/" + MATCHED + "/chrombpnet", "hydrop/" + MATCHED + "/crested")],
        by=["platform", "level", "model"],
    ).iloc[0]
    assert by_model["mean_difference"] == pytest.approx(0.11)
    assert by_model["verdict"] == "holds"


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (lambda t: t.drop(columns="fold"), {}, r"lacks column\(s\) \['fold'\]"),
        (lambda t: t, {"metric": "pearson"}, "no rows with metric 'pearson', against 'full' and cell type 'all'"),
        (lambda t: t, {"against": "reference"}, "no rows with metric"),
        (lambda t: pd.concat([t, t]), {}, "several 'pearson_mean' rows for one grid point"),
        (lambda t: t, {"pairs": [("hydrop/" + MATCHED, "hydrop/nowhere")]}, r"unknown grid point\(s\)"),
        (lambda t: t, {"pairs": [("hydrop/" + MATCHED, "hydrop/" + MATCHED)]}, "two different grid points"),
        (lambda t: t, {"pairs": [("hydrop/" + MATCHED, "10x/" + MATCHED)], "by": ["platform", "level"]}, None),
        (lambda t: t, {"by": ["platform", "fold"]}, "by cannot use"),
        (lambda t: t, {"by": []}, "at least one column"),
        (lambda t: t, {"alpha": 0.0}, "alpha must be between 0 and 1"),
        (lambda t: t, {"names": {"hydrop/" + MATCHED: "x", "hydrop/" + MATCHED_50: "x"}}, "have the same name 'x'"),
    ],
)
def test_compare_scenarios_rejects_bad_input(change: object, kwargs: dict, message: str | None) -> None:
    evaluation = change(_study())
    if message is None:  # a pair on different folds still compares the shared ones
        assert compare_scenarios(evaluation, **kwargs)["n"].iloc[0] == 4
        return
    with pytest.raises(AtlasbenchError, match=message):
        compare_scenarios(evaluation, **kwargs)


def test_a_pair_with_one_shared_fold_is_an_error() -> None:
    evaluation = _evaluation({("hydrop", MATCHED): A, ("10x", MATCHED): A[:1]})
    with pytest.raises(AtlasbenchError, match="1 fold"):
        compare_scenarios(evaluation, [("hydrop/" + MATCHED, "10x/" + MATCHED)])


# --- describe -------------------------------------------------------------------------------


def _row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "a": "HyDrop v2, matched cells",
        "b": "HyDrop v2, matched cells +50%",
        "metric": "pearson_mean",
        "against": "full",
        "cell_type": "all",
        "n": 10,
        "n_folds": 10,
        "n_seeds": 1,
        "mean_a": 0.5341,
        "sd_a": 0.0402,
        "mean_b": 0.5873,
        "sd_b": 0.0311,
        "mean_difference": 0.0532,
        "ci_low": 0.0409,
        "ci_high": 0.0655,
        "confidence": 0.95,
        "p_holm": 0.000412,
        "verdict": "holds",
    }
    row.update(changes)
    return row


def test_describe_a_difference_that_holds() -> None:
    assert describe(_row()) == (
        "HyDrop v2, matched cells +50% vs HyDrop v2, matched cells: test Pearson (against full data) "
        "0.587 ± 0.031 vs 0.534 ± 0.040 (mean ± SD over 10 folds); difference +0.053 "
        "(95% CI +0.041 to +0.066), paired t-test p = 0.00041 (Holm): the difference holds."
    )
    assert "paired t-test p < 0.0001 (Holm)" in describe(_row(p_holm=2e-6))


def test_describe_a_difference_within_noise() -> None:
    row = _row(
        mean_difference=-0.0046, ci_low=-0.0213, ci_high=0.0118, p_holm=0.3127, verdict="within noise",
        n_seeds=3, against="platform:10x", metric="spearman_mean",
    )
    assert describe(row) == (
        "HyDrop v2, matched cells +50% vs HyDrop v2, matched cells: test Spearman (against 10x full data) "
        "0.587 ± 0.031 vs 0.534 ± 0.040 (mean ± SD over 10 folds, seeds averaged); difference -0.005 "
        "(95% CI -0.021 to +0.012), paired t-test p = 0.31 (Holm): within noise."
    )
    assert "over 20 fold-seed pairs" in describe(_row(n=20, n_seeds=2))
    assert "test Pearson of astro (against own targets)" in describe(_row(metric="pearson", cell_type="astro",
                                                                          against="own"))


def test_describe_reads_compare_scenarios_rows() -> None:
    table = compare_scenarios(_study(), [("hydrop/" + MATCHED, "hydrop/" + MATCHED_50)])
    sentence = describe(table.iloc[0])
    assert sentence.startswith("hydrop/" + MATCHED_50 + " vs hydrop/" + MATCHED + ": test Pearson (against full data)")
    assert "difference +0.024" in sentence and sentence.endswith("the difference holds.")


def test_platforms_are_paired_over_the_grid_points_they_share() -> None:
    """hydrop trails 10x at every grid point by 0.03 (+ noise): one fold, yet 3 pairs, and the test sees it."""
    from atlasbench.readouts.comparisons import compare_platforms

    levels = (MATCHED, MATCHED_50, LOW_DEPTH)
    tenx = {("10x", level): np.array([0.60 + 0.05 * i]) for i, level in enumerate(levels)}
    hydrop = {("hydrop", level): tenx[("10x", level)] - 0.03 + NOISE[i] / 10 for i, level in enumerate(levels)}
    extra = {("hydrop", "reads-500_cells-all"): np.array([0.2])}  # 10x has no such grid point: left out
    table = compare_platforms(_evaluation({**tenx, **hydrop, **extra}), ["10x", "hydrop"])
    row = table.iloc[0]
    differences = np.array([hydrop[("hydrop", lv)][0] - tenx[("10x", lv)][0] for lv in levels])
    assert (row["a"], row["b"], row["n"], row["unit"]) == ("10x", "hydrop", 3, "grid point")
    assert row["mean_difference"] == pytest.approx(differences.mean())
    assert row["p_value"] == pytest.approx(stats.ttest_1samp(differences, 0).pvalue)
    assert describe(row).startswith("hydrop vs 10x:") and "over 3 grid points" in describe(row)


def test_every_two_platforms_can_be_compared_and_their_test_folds_counted() -> None:
    """Issue 15 item 4: a ranking of three platforms needs every pair, Holm-adjusted together; the pairs
    come from 3 grid points x 5 test folds, and ``n_test_folds`` counts the folds (``n_folds`` the
    grid point-folds)."""
    from atlasbench.readouts.comparisons import compare_platforms

    levels = (MATCHED, MATCHED_50, LOW_DEPTH)
    points = {}
    for shift, platform in ((0.0, "10x"), (-0.03, "hydrop"), (-0.031, "s3")):
        for i, level in enumerate(levels):
            noise = {"10x": 0.0, "hydrop": -NOISE / 10, "s3": NOISE / 5}[platform]
            points[(platform, level)] = A + 0.05 * i + shift + noise
    evaluation = _evaluation(points)
    table = compare_platforms(evaluation, ["10x", "hydrop", "s3"], every_pair=True)
    assert table[["a", "b"]].values.tolist() == [["10x", "hydrop"], ["10x", "s3"], ["hydrop", "s3"]]
    assert table["n"].tolist() == [15, 15, 15] and table["n_folds"].tolist() == [15, 15, 15]
    assert table["n_test_folds"].tolist() == [5, 5, 5] and (table["unit"] == "grid point-fold").all()
    assert table["p_holm"].to_numpy() == pytest.approx(holm(table["p_value"].to_numpy()))
    assert table["verdict"].tolist() == ["holds", "holds", "within noise"]
    # by default each platform against the first only
    assert compare_platforms(evaluation, ["10x", "hydrop", "s3"])[["a", "b"]].values.tolist() == [
        ["10x", "hydrop"], ["10x", "s3"]]


def test_a_test_within_blocks_by_hand() -> None:
    """Blocks (grid points) whose differences differ by design: the t-test takes its noise
    from the scatter within blocks, on n - B degrees of freedom."""
    d = np.array([0.10, 0.12, 0.00, 0.02, 0.05, 0.03])
    blocks = np.array(["g1", "g1", "g2", "g2", "g3", "g3"])
    a = np.full(6, 0.5)
    result = paired_comparison(a, a + d, blocks=blocks, n_bootstrap=2000)
    s = math.sqrt(6 * 0.01**2 / 3)  # every residual is +-0.01 about its block's mean
    t = d.mean() / (s / math.sqrt(6))
    assert (result.blocks, result.sd_test) == (3, pytest.approx(s))
    assert result.t_statistic == pytest.approx(t)
    assert result.p_value == pytest.approx(2 * stats.t.sf(t, 3))
    assert result.sd_difference == pytest.approx(d.std(ddof=1))
    plain = paired_comparison(a, a + d, n_bootstrap=2000)
    assert plain.blocks == 1 and plain.p_value == pytest.approx(stats.ttest_1samp(d, 0).pvalue)
    assert result.p_value < plain.p_value / 10
    # the bootstrap resamples within blocks: every resample keeps each block's share
    assert d.min() < result.ci_low < d.mean() < result.ci_high < d.max()


def test_blocks_of_one_pair_fall_back_to_the_plain_test() -> None:
    a, b = np.array([0.5, 0.6, 0.7]), np.array([0.52, 0.59, 0.75])
    blocked = paired_comparison(a, b, blocks=["x", "y", "z"])
    plain = paired_comparison(a, b)
    assert blocked.blocks == 1 and blocked.p_value == pytest.approx(plain.p_value)
    assert (blocked.ci_low, blocked.ci_high) == (plain.ci_low, plain.ci_high)


def test_the_test_within_blocks_is_calibrated_and_more_powerful_on_a_heterogeneous_grid() -> None:
    """6 grid points x 2 folds, noise SD 0.02 per pair. Under no difference the test within
    blocks rejects at its level; with differences large at thin grid points and nil where
    both saturate (0.08, 0.04, then 0 at four), it sees them far more often than the plain test."""
    rng = np.random.default_rng(11)
    blocks = np.repeat(np.arange(6), 2)
    effect = np.repeat([0.08, 0.04, 0.0, 0.0, 0.0, 0.0], 2)
    a = np.zeros(12)
    null = [paired_comparison(a, rng.normal(0, 0.02, 12), blocks=blocks, n_bootstrap=1).p_value for _ in range(2000)]
    assert 0.035 < np.mean(np.array(null) < 0.05) < 0.065
    blocked, plain = [], []
    for _ in range(500):
        b = effect + rng.normal(0, 0.02, 12)
        blocked.append(paired_comparison(a, b, blocks=blocks, n_bootstrap=1).p_value < 0.05)
        plain.append(paired_comparison(a, b, n_bootstrap=1).p_value < 0.05)
    assert np.mean(blocked) > 0.7 and np.mean(plain) < 0.45


def test_platforms_over_two_test_folds_are_compared_within_grid_points() -> None:
    """The demo's layout: hydrop trails by 0.10 at a thin grid point and by 0 to 0.01 where both saturate,
    with small fold-to-fold scatter; within grid points the difference holds."""
    from atlasbench.readouts.comparisons import compare_platforms

    levels = (MATCHED, MATCHED_50, LOW_DEPTH)
    gaps = (-0.10, 0.0, -0.01)
    scatter = np.array([[0.004, -0.003], [0.002, -0.004], [-0.003, 0.005]])
    tenx = {("10x", level): np.array([0.60, 0.65]) + 0.05 * i for i, level in enumerate(levels)}
    hydrop = {("hydrop", lv): tenx[("10x", lv)] + gaps[i] + scatter[i] for i, lv in enumerate(levels)}
    row = compare_platforms(_evaluation({**tenx, **hydrop}), ["10x", "hydrop"]).iloc[0]
    d = np.concatenate([gaps[i] + scatter[i] for i in range(3)])
    residual = scatter - scatter.mean(axis=1, keepdims=True)
    assert (row["n"], row["blocks"]) == (6, 3)
    assert row["sd_test"] == pytest.approx(math.sqrt((residual**2).sum() / 3))
    assert row["mean_difference"] == pytest.approx(d.mean())
    assert row["verdict"] == "holds" and stats.ttest_1samp(d, 0).pvalue > 0.05  # the plain test would not see it
    assert "within the 3 grid points" in describe(row)
