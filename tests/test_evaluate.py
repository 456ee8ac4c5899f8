"""Tests for atlasbench.readouts.evaluate: correlations, name-aligned evaluation, tidy tables."""

from __future__ import annotations

import logging

import anndata
import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats

from atlasbench.errors import AtlasbenchError
from atlasbench.models.metrics import correlations
from atlasbench.readouts.evaluate import TIDY_COLUMNS, evaluate_against, tidy

CELL_TYPES = ["astro", "micro", "neuron"]


def _value(table: pd.DataFrame, cell_type: str, metric: str) -> float:
    match = table[(table["cell_type"] == cell_type) & (table["metric"] == metric)]
    assert len(match) == 1, (cell_type, metric)
    return float(match["value"].iloc[0])


def _specific(n_regions: int, n_cell_types: int, rng: np.random.Generator) -> np.ndarray:
    """Regions each open mainly in one cell type, plus noise: a specificity pattern."""
    observed = rng.uniform(0.0, 0.2, size=(n_regions, n_cell_types))
    observed[np.arange(n_regions), np.arange(n_regions) % n_cell_types] += rng.uniform(1.0, 3.0, n_regions)
    return observed


def _adata(x: np.ndarray, cell_types: list[str], regions: list[str]) -> anndata.AnnData:
    """Targets-layout AnnData: ``x`` is (n_regions, n_cell_types), stored transposed."""
    return anndata.AnnData(
        X=np.asarray(x, dtype=np.float32).T,
        obs=pd.DataFrame(index=pd.Index(cell_types)),
        var=pd.DataFrame(index=pd.Index(regions)),
    )


def _region_names(n: int, prefix: str = "chr1") -> list[str]:
    return [f"{prefix}:{1000 * i}-{1000 * i + 500}" for i in range(n)]


def test_per_cell_type_matches_scipy() -> None:
    predicted = np.array([[1.0, 0.5, 3.0], [2.0, 0.1, 2.0], [0.5, 0.9, 2.5], [4.0, 0.3, 1.0], [3.0, 0.2, 0.0]])
    observed = np.array([[1.5, 0.2, 2.0], [2.5, 0.4, 3.0], [0.1, 0.8, 2.0], [3.0, 0.1, 0.5], [2.0, 0.6, 0.2]])
    table = correlations(predicted, observed, CELL_TYPES)
    for j, name in enumerate(CELL_TYPES):
        assert _value(table, name, "pearson") == pytest.approx(stats.pearsonr(predicted[:, j], observed[:, j])[0])
        assert _value(table, name, "spearman") == pytest.approx(stats.spearmanr(predicted[:, j], observed[:, j])[0])
    # Hand-computed: column 0, x = [1, 2, .5, 4, 3], y = [1.5, 2.5, .1, 3, 2]; x ranks
    # [2, 3, 1, 5, 4], y ranks [2, 4, 1, 5, 3]: d^2 = 0+1+0+0+1 = 2, rho = 1 - 6*2/(5*24).
    assert _value(table, "astro", "spearman") == pytest.approx(0.9)
    assert _value(table, "all", "pearson_mean") == pytest.approx(
        np.mean([_value(table, n, "pearson") for n in CELL_TYPES])
    )
    assert _value(table, "all", "spearman_mean") == pytest.approx(
        np.mean([_value(table, n, "spearman") for n in CELL_TYPES])
    )
    assert _value(table, "all", "n_regions") == 5
    assert list(table.columns) == ["cell_type", "metric", "value"]


def test_across_cell_types_is_mean_of_per_region_correlations() -> None:
    rng = np.random.default_rng(0)
    predicted = rng.normal(size=(6, 4))
    observed = rng.normal(size=(6, 4))
    table = correlations(predicted, observed, ["a", "b", "c", "d"])
    pearsons = [stats.pearsonr(p, o)[0] for p, o in zip(predicted, observed)]
    spearmans = [stats.spearmanr(p, o)[0] for p, o in zip(predicted, observed)]
    assert _value(table, "all", "pearson_across_cell_types") == pytest.approx(np.mean(pearsons))
    assert _value(table, "all", "spearman_across_cell_types") == pytest.approx(np.mean(spearmans))
    assert _value(table, "all", "n_regions_constant_across_cell_types") == 0


def test_perfect_and_affine_predictions_score_one() -> None:
    observed = _specific(20, 3, np.random.default_rng(1))
    for predicted in (observed, observed * 2 + 1):
        table = correlations(predicted, observed, CELL_TYPES)
        for name in CELL_TYPES:
            assert _value(table, name, "pearson") == pytest.approx(1.0)
            assert _value(table, name, "spearman") == pytest.approx(1.0)
        assert _value(table, "all", "pearson_across_cell_types") == pytest.approx(1.0)
        assert _value(table, "all", "pearson_mean") == pytest.approx(1.0)


def test_shuffling_cell_types_within_regions_lowers_specificity() -> None:
    rng = np.random.default_rng(2)
    observed = _specific(60, 4, rng)
    shuffled = rng.permuted(observed, axis=1)  # each region's values over other cell types
    names = ["a", "b", "c", "d"]
    good = correlations(observed + rng.normal(0, 0.05, observed.shape), observed, names)
    bad = correlations(shuffled, observed, names)
    assert _value(good, "all", "pearson_across_cell_types") > 0.9
    assert _value(bad, "all", "pearson_across_cell_types") < 0.5
    assert _value(bad, "all", "spearman_across_cell_types") < _value(good, "all", "spearman_across_cell_types")


def test_spearman_gives_ties_their_average_rank() -> None:
    predicted = np.array([[1.0], [1.0], [2.0], [3.0], [3.0], [0.0]])
    observed = np.array([[0.2], [0.1], [0.5], [0.9], [0.4], [0.0]])
    table = correlations(predicted, observed, ["t"])
    expected = stats.spearmanr(predicted[:, 0], observed[:, 0])[0]
    # ranks with ties averaged: predicted [2.5, 2.5, 4, 5.5, 5.5, 1]; observed [3, 2, 5, 6, 4, 1]
    assert expected == pytest.approx(stats.pearsonr([2.5, 2.5, 4, 5.5, 5.5, 1], [3, 2, 5, 6, 4, 1])[0])
    assert _value(table, "t", "spearman") == pytest.approx(expected)


def test_constant_column_is_nan_without_warnings(recwarn: pytest.WarningsRecorder) -> None:
    # 0.1 - mean([0.1] * 3) is not exactly 0 in floating point: constancy must be tested
    # on the values, or the column would get a meaningless finite r.
    predicted = np.array([[1.0, 0.1], [2.0, 0.1], [4.0, 0.1]])
    observed = np.array([[1.0, 0.3], [2.5, 0.2], [2.0, 0.5]])
    table = correlations(predicted, observed, ["varied", "flat"])
    assert np.isnan(_value(table, "flat", "pearson"))
    assert np.isnan(_value(table, "flat", "spearman"))
    assert _value(table, "varied", "pearson") == pytest.approx(stats.pearsonr(predicted[:, 0], observed[:, 0])[0])
    # the mean over cell types leaves the undefined one out
    assert _value(table, "all", "pearson_mean") == pytest.approx(_value(table, "varied", "pearson"))
    assert len(recwarn) == 0


def test_constant_regions_are_left_out_of_the_across_cell_type_mean() -> None:
    predicted = np.array([[1.0, 2.0, 3.0], [0.1, 0.1, 0.1], [3.0, 1.0, 2.0], [1.0, 3.0, 2.0]])
    observed = np.array([[1.0, 2.0, 4.0], [0.1, 0.9, 0.3], [2.0, 1.0, 3.0], [0.0, 0.0, 0.0]])
    table = correlations(predicted, observed, CELL_TYPES)
    kept = [0, 2]  # region 1 is constant in predicted, region 3 in observed
    expected = np.mean([stats.pearsonr(predicted[i], observed[i])[0] for i in kept])
    assert _value(table, "all", "pearson_across_cell_types") == pytest.approx(expected)
    assert _value(table, "all", "n_regions_constant_across_cell_types") == 2
    assert _value(table, "all", "n_regions") == 4


def test_correlations_rejects_bad_input() -> None:
    good = np.ones((5, 3)) + np.arange(15).reshape(5, 3) % 4
    with pytest.raises(AtlasbenchError, match=r"\(5, 3\).*\(5, 2\)"):
        correlations(good, good[:, :2], CELL_TYPES)
    with pytest.raises(AtlasbenchError, match="at least 3 regions"):
        correlations(good[:2], good[:2], CELL_TYPES)
    with pytest.raises(AtlasbenchError, match="2 cell type names for 3 columns"):
        correlations(good, good, CELL_TYPES[:2])
    with pytest.raises(AtlasbenchError, match="reserved"):
        correlations(good, good, ["a", "all", "b"])
    bad = good.copy()
    bad[0, 0] = np.nan
    with pytest.raises(AtlasbenchError, match="predicted contains NaN"):
        correlations(bad, good, CELL_TYPES)


def test_alignment_by_name_matches_aligned_arrays() -> None:
    rng = np.random.default_rng(3)
    observed = _specific(12, 3, rng)
    predicted = observed + rng.normal(0, 0.3, observed.shape)
    regions = _region_names(12)
    expected = correlations(predicted, observed, CELL_TYPES)

    region_order = rng.permutation(12)
    cell_order = [2, 0, 1]
    targets = _adata(
        observed[region_order][:, cell_order], [CELL_TYPES[j] for j in cell_order], [regions[i] for i in region_order]
    )
    predictions = _adata(predicted, CELL_TYPES, regions)
    table = evaluate_against(predictions, targets, "own")
    assert list(table.columns) == ["against", "cell_type", "metric", "value"]
    assert (table["against"] == "own").all()
    pd.testing.assert_frame_equal(table.drop(columns="against"), expected, check_exact=False, rtol=1e-5, atol=1e-6)

    # targets may hold more regions (other folds) and sparse X
    extra = _specific(5, 3, rng)
    wide = _adata(np.vstack([observed, extra]), CELL_TYPES, regions + _region_names(5, prefix="chr2"))
    wide.X = sparse.csr_matrix(wide.X)
    pd.testing.assert_frame_equal(
        evaluate_against(predictions, wide, "own").drop(columns="against"),
        expected,
        check_exact=False,
        rtol=1e-5,
        atol=1e-6,
    )


def test_cell_type_on_one_side_only_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(4)
    observed = _specific(10, 3, rng)
    predicted = observed + rng.normal(0, 0.3, observed.shape)
    regions = _region_names(10)
    predictions = _adata(predicted, CELL_TYPES, regions)
    targets = _adata(
        np.column_stack([observed[:, [0, 2]], rng.uniform(size=10)]), ["astro", "neuron", "oligo"], regions
    )
    with caplog.at_level(logging.INFO, logger="atlasbench.readouts.evaluate"):
        table = evaluate_against(predictions, targets, "reference")
    assert set(table["cell_type"]) == {"astro", "neuron", "all"}
    assert "micro" in caplog.text and "oligo" in caplog.text
    expected = correlations(predicted[:, [0, 2]], observed[:, [0, 2]], ["astro", "neuron"])
    assert _value(table, "all", "pearson_across_cell_types") == pytest.approx(
        _value(expected, "all", "pearson_across_cell_types"), rel=1e-5
    )


def test_no_shared_regions_names_both_sides() -> None:
    observed = _specific(6, 3, np.random.default_rng(5))
    predictions = _adata(observed, CELL_TYPES, _region_names(6, prefix="chr1"))
    targets = _adata(observed, CELL_TYPES, _region_names(6, prefix="1"))
    with pytest.raises(AtlasbenchError, match=r"share 0 region.*'chr1:0-500'.*'1:0-500'"):
        evaluate_against(predictions, targets, "platform:hydrop")


def test_no_shared_cell_type_names_both_sides() -> None:
    observed = _specific(6, 3, np.random.default_rng(6))
    regions = _region_names(6)
    predictions = _adata(observed, CELL_TYPES, regions)
    targets = _adata(observed, ["Astro", "Micro", "Neuron"], regions)
    with pytest.raises(AtlasbenchError, match=r"no cell type.*'astro'.*'Astro'"):
        evaluate_against(predictions, targets, "reference")


LABELS = {
    "platform": "hydrop",
    "level": "reads-36000_cells-all",
    "reads_per_cell": 36000,
    "n_cells": 5000,
    "fold_scheme": "chromosome",
    "fold": 2,
    "seed": 7,
    "model": "dilated_cnn",
}


def test_tidy_orders_columns_and_fills_labels() -> None:
    observed = _specific(6, 3, np.random.default_rng(7))
    regions = _region_names(6)
    rows = evaluate_against(_adata(observed, CELL_TYPES, regions), _adata(observed, CELL_TYPES, regions), "own")
    table = tidy(rows, **LABELS)
    assert tuple(table.columns) == TIDY_COLUMNS
    assert len(table) == len(rows)
    assert (table["platform"] == "hydrop").all() and (table["seed"] == 7).all()
    np.testing.assert_array_equal(table["value"].to_numpy(), rows["value"].to_numpy())
    # against may come as a label for bare correlations() rows
    bare = correlations(observed, observed, CELL_TYPES)
    assert tuple(tidy(bare, against="reference", **LABELS).columns) == TIDY_COLUMNS


def test_tidy_rejects_missing_and_extra_labels() -> None:
    rows = correlations(np.arange(9.0).reshape(3, 3) ** 2, np.arange(9.0).reshape(3, 3), CELL_TYPES)
    rows.insert(0, "against", "own")
    partial = {k: v for k, v in LABELS.items() if k not in ("seed", "fold")}
    with pytest.raises(AtlasbenchError, match=r"missing label.*'fold'.*'seed'"):
        tidy(rows, **partial)
    with pytest.raises(AtlasbenchError, match=r"unknown label.*'depth'"):
        tidy(rows, depth=1, **LABELS)
    with pytest.raises(AtlasbenchError, match=r"\['against'\] are already columns"):
        tidy(rows, against="reference", **LABELS)
