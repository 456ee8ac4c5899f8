"""Tests for atlasbench.data.targets: normalisations, CREsted peak-height and specificity steps, h5ad I/O."""

from __future__ import annotations

import re

import anndata
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from atlasbench.data.targets import (
    NORMALIZATIONS,
    build_targets,
    gini,
    normalize_peak_heights,
    read_targets,
    specific_regions,
    write_targets,
)
from atlasbench.errors import AtlasbenchError

COUNTS = np.array([[0, 10, 20, 30], [5, 5, 5, 5], [100, 0, 50, 250]], dtype=np.int64)
LIBRARY = np.array([1_000_000, 500_000, 2_000_000])
WINDOW = 1000


def _regions(n: int, fold: bool = False) -> pd.DataFrame:
    starts = np.arange(n) * 2000 + 1000
    table = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + 500})
    if fold:
        table["fold"] = np.arange(n) % 2
    return table


def _targets(x: np.ndarray) -> anndata.AnnData:
    """Targets whose X is exactly ``x`` (normalization "counts", library sizes irrelevant)."""
    n_ct, n_regions = x.shape
    return build_targets(
        x, [f"ct{i}" for i in range(n_ct)], _regions(n_regions), np.ones(n_ct), window=WINDOW, normalization="counts"
    )


def test_normalizations_match_hand_computed_values() -> None:
    # cpm = counts / library * 1e6, written out by hand per row
    cpm = np.array(
        [
            [0.0, 10.0, 20.0, 30.0],  # library 1e6: cpm = counts
            [10.0, 10.0, 10.0, 10.0],  # library 5e5: cpm = 2 * counts
            [50.0, 0.0, 25.0, 125.0],  # library 2e6: cpm = counts / 2
        ]
    )
    expected = {
        "counts": COUNTS.astype(float),
        "cpm": cpm,
        "log1p_cpm": np.log(1.0 + cpm),
        "mean_cpm": cpm / 1000.0,
    }
    for name, values in expected.items():
        adata = build_targets(
            COUNTS, ["a", "b", "c"], _regions(4, fold=True), LIBRARY, window=WINDOW, normalization=name,
            uns={"platform": "hydrop", "level": "36k", "seed": 7},
        )
        assert adata.X.dtype == np.float32
        np.testing.assert_allclose(adata.X, values, rtol=1e-6)
        np.testing.assert_array_equal(adata.layers["counts"], COUNTS.astype(np.float32))
        assert adata.layers["counts"].dtype == np.float32
        np.testing.assert_array_equal(adata.obs["n_insertions"], LIBRARY)
        assert list(adata.obs_names) == ["a", "b", "c"]
        assert list(adata.var_names) == ["chr1:1000-1500", "chr1:3000-3500", "chr1:5000-5500", "chr1:7000-7500"]
        assert list(adata.var.columns) == ["chrom", "start", "end", "fold"]
        assert adata.uns == {"platform": "hydrop", "level": "36k", "seed": 7, "normalization": name, "window": 1000}


def test_unknown_normalization_lists_valid_names() -> None:
    with pytest.raises(AtlasbenchError) as err:
        build_targets(COUNTS, ["a", "b", "c"], _regions(4), LIBRARY, window=WINDOW, normalization="tpm")
    for name in NORMALIZATIONS:
        assert name in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"counts": COUNTS[0]}, "2-D"),
        ({"cell_types": ["a", "b"]}, "cell type names"),
        ({"cell_types": ["a", "a", "b"]}, "unique"),
        ({"regions": _regions(3)}, "3 regions for 4 columns"),
        ({"regions": _regions(4).drop(columns="end")}, "end"),
        ({"library_sizes": LIBRARY[:2]}, "library_sizes must have shape (3,)"),
        ({"library_sizes": np.array([1, 0, 1])}, "positive"),
        ({"counts": -COUNTS}, "non-negative"),
        ({"window": 0}, "window"),
        ({"uns": {"window": 5}}, "uns must not set"),
    ],
)
def test_build_targets_rejects_bad_input(kwargs: dict, message: str) -> None:
    args = {"counts": COUNTS, "cell_types": ["a", "b", "c"], "regions": _regions(4), "library_sizes": LIBRARY}
    args.update(kwargs)
    with pytest.raises(AtlasbenchError, match=re.escape(message)):
        build_targets(**{"window": WINDOW, **args})


def test_gini_uniform_is_zero_and_one_hot_is_maximal() -> None:
    assert gini(np.full(5, 3.0)) == pytest.approx(0.0, abs=1e-12)
    for n in (2, 3, 16):
        one_hot = np.zeros(n)
        one_hot[n // 2] = 4.0
        assert gini(one_hot) == pytest.approx((n - 1) / n, rel=1e-6)
    # axis: per column of a (cell types x regions) matrix; an all-zero region scores 0
    matrix = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 7.0]])
    np.testing.assert_allclose(gini(matrix, axis=0), [0.0, 0.0, 0.5], atol=1e-6)


def _peak_matrix() -> np.ndarray:
    """3 cell types x 102 regions; cell type 1 is scaled by 2.

    Regions 0, 1: ubiquitous (heights 100, 80) -> Gini 1/6 after the scaling.
    Regions 2, 3, 4: specific to ct0, ct2, ct1 (height 300) -> Gini 2/3.
    Regions 5..101: weak, shaped (c, c/2, 2c) after the scaling -> Gini 2/7.
    Gini mean 0.2946, SD 0.0668: only regions 0 and 1 lie below mean - 1 SD (0.2277).
    """
    base = np.zeros((3, 102))
    base[:, 0] = 100.0
    base[:, 1] = 80.0
    base[0, 2] = base[2, 3] = base[1, 4] = 300.0
    c = 1.0 + np.arange(97) % 5
    base[0, 5:] = c
    base[1, 5:] = c / 4
    base[2, 5:] = 2 * c
    base[1] *= 2.0
    return base


def test_peak_height_factors_match_hand_computation() -> None:
    x = _peak_matrix()
    adata = _targets(x)
    out = normalize_peak_heights(adata, top_k_percent=0.03)

    # Each cell type has 100 positive regions (2 of the specific ones are 0), so
    # k = floor(100 * 0.03) = 3. Top 3 per cell type: ct0 {2: 300, 0: 100, 1: 80},
    # ct1 {4: 600, 0: 200, 1: 160}, ct2 {3: 300, 0: 100, 1: 80}. The Gini filter drops the
    # specific regions 2, 3, 4, so the reference heights are (100 + 80) / 2 = 90,
    # (200 + 160) / 2 = 180 and 90, and the factors 180 / height = 2, 1, 2.
    np.testing.assert_allclose(out.obs["peak_height_factor"], [2.0, 1.0, 2.0])
    np.testing.assert_array_equal(out.var["peak_height_reference"], np.arange(102) < 2)
    np.testing.assert_allclose(out.X[:, :2].mean(axis=1), [180.0, 180.0, 180.0])
    np.testing.assert_allclose(out.X, x * np.array([[2.0], [1.0], [2.0]]), rtol=1e-6)
    assert out.X.dtype == np.float32
    assert out.uns["peak_height_normalization"]["top_k_percent"] == 0.03
    # a new AnnData: the input keeps its values and gains nothing
    assert out is not adata
    np.testing.assert_allclose(adata.X, x)
    assert "peak_height_factor" not in adata.obs
    np.testing.assert_array_equal(out.layers["counts"], adata.layers["counts"])


def test_peak_height_normalisation_without_reference_peak_errors() -> None:
    x = _peak_matrix()
    x[1, 5:] = 0.0  # ct1 keeps 3 positive regions: k = floor(3 * 0.03) = 0; CREsted would divide by 0
    with pytest.raises(AtlasbenchError, match="ct1"):
        normalize_peak_heights(_targets(x), top_k_percent=0.03)
    with pytest.raises(AtlasbenchError, match="top_k_percent"):
        normalize_peak_heights(_targets(x), top_k_percent=3)


def _crested_reference_factors(x: np.ndarray, top_k_percent: float, gini_std_threshold: float) -> np.ndarray:
    """crested.pp.normalize_peaks's algorithm, one cell type at a time, for strictly positive x."""
    regions = x.T
    region_gini = np.array([gini(row) for row in regions])
    threshold = region_gini.mean() - gini_std_threshold * region_gini.std()
    heights = []
    for column in regions.T:
        k = int(len(column) * top_k_percent)
        top = np.argsort(column)[::-1][:k]
        keep = top[region_gini[top] < threshold]
        heights.append(column[keep].mean())
    heights = np.array(heights)
    return heights.max() / heights


def test_peak_height_factors_match_crested_algorithm_on_random_data() -> None:
    # region strength shared by all cell types x a per-cell-type scale x noise, all positive
    # (where CREsted's ranks are region positions, so both must pick the same regions)
    rng = np.random.default_rng(7)
    strength = rng.gamma(0.5, 2.0, size=3000)
    x = strength * rng.uniform(0.5, 3.0, size=(6, 1)) * rng.lognormal(0.0, 0.5, size=(6, 3000)) + 1e-3
    out = normalize_peak_heights(_targets(x), top_k_percent=0.03)
    expected = _crested_reference_factors(x.astype(np.float32).astype(np.float64), 0.03, 1.0)
    np.testing.assert_allclose(out.obs["peak_height_factor"], expected, rtol=1e-5)


def test_specific_regions_on_constructed_case() -> None:
    # 8 uniform regions (Gini 0) and 2 one-hot ones (Gini 2/3): mean 2/15, SD 4/15,
    # threshold mean + 1 SD = 0.4 -> only the one-hot regions are specific.
    x = np.ones((3, 10))
    x[:, 3] = [0.0, 5.0, 0.0]
    x[:, 7] = [2.0, 0.0, 0.0]
    mask = specific_regions(_targets(x), gini_std_threshold=1.0)
    assert mask.dtype == bool
    np.testing.assert_array_equal(np.flatnonzero(mask), [3, 7])
    assert not specific_regions(_targets(x), gini_std_threshold=3.0).any()  # threshold 0.93
    csr = _targets(x)
    csr.X = sparse.csr_matrix(csr.X)  # CREsted accepts sparse targets too
    np.testing.assert_array_equal(specific_regions(csr), mask)


def test_h5ad_round_trip(tmp_path) -> None:
    adata = build_targets(
        COUNTS, ["a", "b", "c"], _regions(4, fold=True), LIBRARY, window=WINDOW, uns={"platform": "10x", "seed": 7}
    )
    path = write_targets(adata, tmp_path / "sub" / "targets.h5ad")
    assert sorted(p.name for p in path.parent.iterdir()) == ["targets.h5ad"]  # no temp file left
    back = read_targets(path)
    np.testing.assert_array_equal(back.X, adata.X)
    np.testing.assert_array_equal(back.layers["counts"], adata.layers["counts"])
    pd.testing.assert_frame_equal(back.obs, adata.obs)
    pd.testing.assert_frame_equal(back.var, adata.var)
    assert back.uns == adata.uns


def test_read_targets_missing_or_damaged_file(tmp_path) -> None:
    with pytest.raises(AtlasbenchError, match="not found"):
        read_targets(tmp_path / "absent.h5ad")
    path = write_targets(_targets(_peak_matrix()), tmp_path / "targets.h5ad")
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    with pytest.raises(AtlasbenchError, match="damaged"):
        read_targets(path)
