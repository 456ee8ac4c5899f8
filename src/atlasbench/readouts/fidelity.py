"""How closely each grid point's data follow a simulated truth: what the benchmark should find.

In a simulated study the true accessibility of every region is known, so the quality of
each dataset the grid builds can be measured directly, with no model: the Pearson
correlation of its targets (the pseudobulk a model is trained on) with the truth, per cell
type across the study's regions, averaged over cell types (``pearson_mean``, the metric
the models are scored by). The platform whose data follow the truth more closely at a
grid point should train the better model there. This is the expectation the report's
truth section holds the benchmark's ranking to: it accounts for everything that makes
one platform's data better than another's at a grid point (library complexity, usable
reads, cell numbers, ambient fragments), where an order by library complexity alone
would be wrong for platforms whose cell numbers differ.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from atlasbench.errors import AtlasbenchError
from atlasbench.models.metrics import ALL_CELL_TYPES, correlations
from atlasbench.readouts.cost.saturation import SaturationFit, fit_saturation

log = logging.getLogger(__name__)

#: Columns of :func:`target_fidelity`'s table.
FIDELITY_COLUMNS = ["platform", "level", "value"]

METRIC = "pearson_mean"


def target_fidelity(targets: Mapping[str, Mapping[str, Path | Sequence[Path]]], truth: Path) -> pd.DataFrame:
    """Pearson of every grid point's targets with the simulated truth, averaged over cell types.

    Parameters
    ----------
    targets
        Platform -> level key -> targets ``.h5ad`` (cell types x regions), as the study's
        targets stage writes them, or several (the level's draws, one per test fold),
        whose values are averaged.
    truth
        The truth over the same regions, as targets (:func:`atlasbench.study.jobs.truth_targets`).

    Returns
    -------
    pandas.DataFrame
        :data:`FIDELITY_COLUMNS`: one row per (platform, level), ``value`` the mean over the
        truth's cell types of the per-cell-type Pearson across regions (and over the
        level's files).

    Raises
    ------
    AtlasbenchError
        When a targets file covers other regions than the truth, or shares no cell type with it.
    """
    from atlasbench.data.targets import read_targets

    true = read_targets(truth)
    rows = []
    for platform, levels in targets.items():
        for level, paths in levels.items():
            values = [_fidelity(read_targets(path), true, path, truth) for path in _as_list(paths)]
            rows.append({"platform": platform, "level": level, "value": float(np.mean(values))})
    return pd.DataFrame(rows, columns=FIDELITY_COLUMNS)


def _as_list(paths: Path | Sequence[Path]) -> list[Path]:
    return [paths] if isinstance(paths, (str, Path)) else list(paths)


def _fidelity(data, true, path: Path, truth: Path) -> float:
    """``pearson_mean`` of one targets file with the truth."""
    if list(data.var_names) != list(true.var_names):
        raise AtlasbenchError(f"{path}: its regions are not those of the truth {truth}")
    cell_types = [c for c in true.obs_names if c in set(data.obs_names)]
    if not cell_types:
        raise AtlasbenchError(f"{path} shares no cell type with the truth {truth}")
    observed = np.asarray(data[cell_types].X, dtype=np.float64).T
    expected = np.asarray(true[cell_types].X, dtype=np.float64).T
    table = correlations(observed, expected, cell_types)
    value = table.loc[(table["cell_type"] == ALL_CELL_TYPES) & (table["metric"] == METRIC), "value"]
    return float(value.iloc[0])


def shared_grid(fidelity: pd.DataFrame, platforms: Sequence[str]) -> pd.DataFrame:
    """The fidelity of the given platforms (those the table has, in the given order) at the
    grid points all of them have: levels x platforms."""
    wide = fidelity.pivot_table(index="level", columns="platform", values="value")
    return wide[[p for p in platforms if p in wide.columns]].dropna()


def expected_difference(fidelity: pd.DataFrame, a: str, b: str) -> float:
    """Mean over the grid points both platforms have of ``b``'s fidelity minus ``a``'s.

    The sign is the direction the benchmark's platform comparison (``b - a`` over the
    grid) should find; NaN when the platforms share no grid point.
    """
    shared = shared_grid(fidelity, [a, b])
    if list(shared.columns) != [a, b] or shared.empty:
        return float("nan")
    return float((shared[b] - shared[a]).mean())


def fidelity_saturation(fidelity: pd.DataFrame, designs: pd.DataFrame) -> dict[str, SaturationFit]:
    """Per platform, where its data stop following the truth more closely as reads and cells grow.

    The saturation surface of the models' accuracy (:func:`atlasbench.readouts.cost.fit_saturation`)
    fitted instead to the data's fidelity at each grid point, with no model: the depth at which
    the targets reach 95% of their plateau of Pearson with the truth is how deep the data keep
    improving. Models whose accuracy saturates well before their data's fidelity are limited by
    something else than depth (their size, their training regions).

    Parameters
    ----------
    fidelity
        :func:`target_fidelity`'s table.
    designs
        One row per design, with ``platform``, ``level`` (the grid point's key),
        ``reads_per_cell`` (achieved, usable) and ``n_cells``
        (:func:`atlasbench.readouts.cost.aggregate_designs`).

    Returns
    -------
    dict of str to SaturationFit
        Per platform whose grid points can be fitted (others are left out; the log says why).
    """
    points = fidelity.merge(designs[["platform", "level", "reads_per_cell", "n_cells"]], on=["platform", "level"])
    fits = {}
    for platform, group in points.groupby("platform", sort=False):
        try:
            fits[str(platform)] = fit_saturation(group["reads_per_cell"], group["n_cells"], group["value"])
        except AtlasbenchError as exc:
            log.info("fidelity_saturation: %s: no fit: %s", platform, exc)
    return fits
