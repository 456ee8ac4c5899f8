"""How closely each grid point's targets follow a simulated truth (readouts.fidelity)."""

from __future__ import annotations

from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest

from atlasbench.data.targets import write_targets
from atlasbench.errors import AtlasbenchError
from atlasbench.readouts.fidelity import expected_difference, fidelity_saturation, target_fidelity

CELL_TYPES = ["twi", "grh", "repo"]
N_REGIONS = 200


def _targets(path: Path, values: np.ndarray, cell_types: list[str] = CELL_TYPES, n: int = N_REGIONS) -> Path:
    var = pd.DataFrame({"chrom": "chr1", "start": np.arange(n) * 1000, "end": np.arange(n) * 1000 + 500},
                       index=[f"r{i}" for i in range(n)])
    return write_targets(anndata.AnnData(X=values.T.astype(np.float32), obs=pd.DataFrame(index=cell_types), var=var),
                         path)


def test_fidelity_is_the_mean_pearson_over_cell_types(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    truth = rng.gamma(2.0, 1.0, (N_REGIONS, len(CELL_TYPES)))
    noisy = {"thin": truth + rng.normal(0, 2.0, truth.shape), "deep": truth + rng.normal(0, 0.3, truth.shape)}
    targets = {"10x": {level: _targets(tmp_path / f"{level}.h5ad", values) for level, values in noisy.items()},
               # a platform with one more cell type than the truth: it is left out
               "hydrop": {"deep": _targets(tmp_path / "extra.h5ad", np.c_[noisy["deep"], truth[:, 0]],
                                           [*CELL_TYPES, "glia"])}}
    table = target_fidelity(targets, _targets(tmp_path / "truth.h5ad", truth)).set_index(["platform", "level"])
    for level, values in noisy.items():
        by_hand = np.mean([np.corrcoef(values[:, j], truth[:, j])[0, 1] for j in range(len(CELL_TYPES))])
        assert table.loc[("10x", level), "value"] == pytest.approx(by_hand, rel=1e-5)
    assert table.loc[("10x", "deep"), "value"] > 0.9 > table.loc[("10x", "thin"), "value"]
    assert table.loc[("hydrop", "deep"), "value"] == pytest.approx(table.loc[("10x", "deep"), "value"], rel=1e-6)
    # over the grid points both have: hydrop's deep equals 10x's deep
    assert expected_difference(table.reset_index(), "10x", "hydrop") == pytest.approx(0.0, abs=1e-6)
    fidelity = pd.DataFrame({"platform": ["a", "a", "b", "b"], "level": ["x", "y", "x", "z"],
                             "value": [0.5, 0.9, 0.7, 0.1]})
    assert expected_difference(fidelity, "a", "b") == pytest.approx(0.2)  # x only
    assert np.isnan(expected_difference(fidelity, "a", "c"))


def test_targets_of_other_regions_are_refused(tmp_path: Path) -> None:
    truth = _targets(tmp_path / "truth.h5ad", np.ones((N_REGIONS, 3)))
    other = _targets(tmp_path / "other.h5ad", np.ones((N_REGIONS - 1, 3)), n=N_REGIONS - 1)
    with pytest.raises(AtlasbenchError, match="its regions are not those of the truth"):
        target_fidelity({"10x": {"all": other}}, truth)


def test_a_level_with_several_draws_is_their_mean_fidelity(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    truth = rng.gamma(2.0, 1.0, (N_REGIONS, len(CELL_TYPES)))
    draws = [_targets(tmp_path / f"draw{k}.h5ad", truth + rng.normal(0, sd, truth.shape))
             for k, sd in enumerate((0.5, 2.0))]
    true_file = _targets(tmp_path / "truth.h5ad", truth)
    each = [target_fidelity({"10x": {"x": d}}, true_file)["value"].iloc[0] for d in draws]
    assert each[0] > each[1] + 0.1
    both = target_fidelity({"10x": {"x": draws}}, true_file)
    assert both["value"].iloc[0] == pytest.approx(np.mean(each), rel=1e-9)


def test_fidelity_saturation_recovers_the_depth_the_data_stop_improving_at() -> None:
    # a: the data's Pearson with the truth saturates at 95% of its plateau at 19 x 40 = 760 usable reads
    # per cell; b has one grid point only, nothing to fit, and is left out
    rows, designs = [], []
    for reads in (100.0, 300.0, 1000.0, 3000.0):
        for cells in (500.0, 1500.0):
            level = f"reads-{reads:.0f}_cells-{cells:.0f}"
            rows.append({"platform": "a", "level": level, "value": 0.97 * reads / (reads + 40) * cells / (cells + 50)})
            designs.append({"platform": "a", "level": level, "reads_per_cell": reads, "n_cells": cells})
    rows.append({"platform": "b", "level": "reads-100_cells-500", "value": 0.5})
    designs.append({"platform": "b", "level": "reads-100_cells-500", "reads_per_cell": 100.0, "n_cells": 500.0})
    fits = fidelity_saturation(pd.DataFrame(rows), pd.DataFrame(designs))
    assert list(fits) == ["a"]
    assert fits["a"].saturation_depth == pytest.approx(760, rel=1e-3)
    assert fits["a"].depth_position == "within" and fits["a"].plateau == pytest.approx(0.97, rel=1e-3)
