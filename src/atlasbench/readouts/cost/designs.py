"""What each design costs, its accuracy, and the cheapest design reaching a target.

A *design* is one point of a study's grid: a platform, a number of cells and a mean
number of reads per cell. Its cost has two parts that scale differently (PROTOCOL.md,
"Cost"): the *library*, ``n_cells * per_cell``, which sets platforms apart, and
*sequencing*, ``n_cells * reads_per_cell / 1e6 * per_million_reads``, the same price for
every platform, which grows with depth. Sequencing is paid per *sequenced* read, while a
design's ``reads_per_cell`` counts the read pairs in its cells' fragments (usable read
pairs); for a platform whose *usable fraction* is known (usable per sequenced read pair,
from its ``sequenced_reads``) a design needs ``reads_per_cell / usable_fraction``
sequenced reads per cell, and that is what is charged; without it the usable read pairs
are charged, as the tables' ``charged_reads`` column says. :func:`design_costs` prices
every design with both parts; :func:`aggregate_designs` gives each design's accuracy from the evaluation
table (:func:`read_evaluation`); :func:`cheapest_designs` finds, per platform, the
cheapest design reaching a target (:func:`default_target`), among the measured designs
and along the fitted saturation surface; :func:`pareto_front` is each platform's
cost-accuracy frontier.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from atlasbench.errors import AtlasbenchError
from atlasbench.readouts.cost.saturation import SATURATION_FRACTION, SaturationFit

log = logging.getLogger(__name__)

__all__ = [
    "CHEAPEST_COLUMNS",
    "DESIGN_COLUMNS",
    "GRID_POINTS",
    "CostFigures",
    "aggregate_designs",
    "cheapest_designs",
    "cost_currency",
    "default_target",
    "design_cost",
    "design_costs",
    "pareto_front",
    "read_evaluation",
    "require_columns",
    "unit_costs",
    "usable_fractions",
]


GRID_POINTS = 241
"""Points per axis of the log-spaced grid along which the fitted surface is searched."""


DESIGN_COLUMNS: tuple[str, ...] = (
    "platform",
    "level",
    "reads_per_cell",
    "n_cells",
    "accuracy_mean",
    "accuracy_sd",
    "n_models",
    "library_cost",
    "sequencing_cost",
    "cost",
    "usable_fraction",
    "sequenced_reads_per_cell",
    "charged_reads",
)
"""Columns of ``designs.tsv``: one row per (platform, level). ``reads_per_cell`` counts
usable read pairs (in the cells' fragments); ``sequenced_reads_per_cell`` is
``reads_per_cell / usable_fraction`` (NaN without a usable fraction); ``charged_reads``
says which the sequencing cost is paid on: ``"sequenced read pairs"`` or ``"usable read
pairs"``."""

SEQUENCED = "sequenced read pairs"
"""``charged_reads`` of a platform with a usable fraction: sequencing paid per sequenced read."""
USABLE = "usable read pairs"
"""``charged_reads`` of a platform without one: the read pairs in the fragments are charged."""


CHEAPEST_COLUMNS: tuple[str, ...] = (
    "platform",
    "target",
    "reached",
    "source",
    "reads_per_cell",
    "n_cells",
    "accuracy",
    "library_cost",
    "sequencing_cost",
    "cost",
    "sequenced_reads_per_cell",
)
"""Columns of :func:`cheapest_designs` and ``cheapest.tsv``: one row per platform;
``reads_per_cell`` counts usable read pairs, ``sequenced_reads_per_cell`` the sequenced
read pairs they need (NaN without a usable fraction)."""


CostFigures = tuple[float, float]


def design_cost(
    n_cells: float | np.ndarray | pd.Series,
    reads_per_cell: float | np.ndarray | pd.Series,
    per_cell: float | np.ndarray | pd.Series,
    per_million_reads: float | np.ndarray | pd.Series,
) -> Any:
    """Total cost of a design: library preparation for every cell plus its sequencing.

    ``n_cells * per_cell + n_cells * reads_per_cell / 1e6 * per_million_reads``. For
    example 10,000 cells at 20,000 reads per cell, with $0.471 per cell and $2.875 per
    million reads, cost 4,710 + 575 = $5,285. Arguments broadcast like numpy arrays.

    Parameters
    ----------
    n_cells
        Cells in the data set.
    reads_per_cell
        Mean reads (read pairs) charged per cell: sequenced reads per cell
        (``reads_per_cell / usable_fraction`` of a design, see :func:`design_costs`).
    per_cell
        Library cost per cell.
    per_million_reads
        Sequencing cost per million reads.

    Returns
    -------
    float or numpy.ndarray or pandas.Series
        The cost, in the currency of the cost figures, shaped as the broadcast inputs.
    """
    return n_cells * per_cell + n_cells * reads_per_cell / 1e6 * per_million_reads


def unit_costs(costs: Any) -> dict[str, CostFigures]:
    """Cost figures per platform, ``{name: (per_cell, per_million_reads)}``, from any source.

    Accepts a :class:`~atlasbench.study.schema.Study` (its platforms with a ``cost``; combined
    platforms have none and are left out, see :func:`design_costs`), a list of
    :class:`~atlasbench.study.schema.Platform`, or a mapping from platform name to a
    :class:`~atlasbench.study.schema.Cost`, a ``{"per_cell": ..., "per_million_reads": ...}``
    mapping or a ``(per_cell, per_million_reads)`` pair.

    Parameters
    ----------
    costs
        The cost figures, as above.

    Returns
    -------
    dict
        Platform name to ``(per_cell, per_million_reads)``, in the given order.

    Raises
    ------
    AtlasbenchError
        For a figure that is missing, not a number, or negative.
    """
    platforms = getattr(costs, "platforms", costs)
    if not isinstance(platforms, Mapping):
        items: Iterable[tuple[str, Any]] = [(p.name, p.cost) for p in platforms if getattr(p, "cost", None) is not None]
    else:
        items = platforms.items()
    out: dict[str, CostFigures] = {}
    for name, value in items:
        pair: tuple[Any, ...]
        if isinstance(value, Mapping):
            pair = (value.get("per_cell"), value.get("per_million_reads"))
        elif hasattr(value, "per_cell"):
            pair = (value.per_cell, value.per_million_reads)
        else:
            try:
                pair = tuple(value)
            except TypeError:
                pair = (value,)
        if len(pair) != 2:
            raise AtlasbenchError(f"cost of platform {name!r}: expected (per_cell, per_million_reads), got {value!r}")
        figures = []
        for label, number in zip(("per_cell", "per_million_reads"), pair):
            try:
                number = float(number)
            except (TypeError, ValueError):
                raise AtlasbenchError(f"cost of platform {name!r}: {label} must be a number, got {number!r}") from None
            if not math.isfinite(number) or number < 0:
                raise AtlasbenchError(f"cost of platform {name!r}: {label} must be a finite number >= 0, got {number}")
            figures.append(number)
        out[str(name)] = (figures[0], figures[1])
    return out


def cost_currency(costs: Any) -> str:
    """The currency of the cost figures: the first one stated, else USD.

    A study states one currency for all its platforms (its schema checks they agree), so
    the first platform with a ``currency`` speaks for all; figures given as plain pairs
    state none and are taken as USD.

    Parameters
    ----------
    costs
        Cost figures in any form :func:`unit_costs` accepts: an object with
        ``platforms``, a list of platforms (each with a ``cost`` or None), or a mapping
        from platform name to a cost (an object or mapping with ``currency``, or a pair).

    Returns
    -------
    str
        The currency code, e.g. ``"USD"`` or ``"EUR"``.
    """
    platforms = getattr(costs, "platforms", costs)
    values = platforms.values() if isinstance(platforms, Mapping) else [getattr(p, "cost", None) for p in platforms]
    for value in values:
        currency = value.get("currency") if isinstance(value, Mapping) else getattr(value, "currency", None)
        if currency:
            return str(currency)
    return "USD"


def usable_fractions(fractions: Mapping[str, float] | None) -> dict[str, float]:
    """Checked usable fractions per platform (usable per sequenced read pair, in (0, 1]).

    Raises
    ------
    AtlasbenchError
        For a fraction that is not a number above 0; a fraction above 1 (more read pairs
        in the fragments than sequenced) is kept, with a warning.
    """
    out: dict[str, float] = {}
    for name, value in (fractions or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise AtlasbenchError(f"usable fraction of platform {name!r} must be a number, got {value!r}") from None
        if not (math.isfinite(number) and number > 0):
            raise AtlasbenchError(f"usable fraction of platform {name!r} must be above 0, got {number}")
        if number > 1:
            log.warning(
                "usable fraction of platform %r is %.3g, above 1: more usable than sequenced reads", name, number
            )
        out[str(name)] = number
    return out


def design_costs(designs: pd.DataFrame, costs: Any, usable_fraction: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Add the library, sequencing and total cost of every design.

    Sequencing is charged per sequenced read: a platform with a usable fraction ``f``
    (read pairs in the annotated cells' fragments per sequenced read pair) needs
    ``reads_per_cell / f`` sequenced read pairs per cell for ``reads_per_cell`` usable
    ones. For example 1,000 cells at 20,000 usable reads per cell with ``f = 0.8`` and
    $2.875 per million reads: 25,000 sequenced reads per cell, sequencing $71.875 (not
    $57.50). A platform without a usable fraction is charged its usable read pairs, as
    ``charged_reads`` says.

    A platform without cost figures (a combined platform, whose cost depends on the
    share of cells each part contributes) gets NaN costs and a warning; give its figures
    explicitly in a mapping to price it.

    Parameters
    ----------
    designs
        One row per design, with columns ``platform``, ``n_cells`` and
        ``reads_per_cell`` (other columns are kept).
    costs
        Cost figures per platform: a study, its platforms, or a mapping (see
        :func:`unit_costs`).
    usable_fraction
        Platform -> usable fraction (the data stages' ``StudyData.usable_fraction``);
        platforms left out are charged their usable read pairs.

    Returns
    -------
    pandas.DataFrame
        A copy of ``designs`` with ``library_cost``, ``sequencing_cost``, ``cost``,
        ``usable_fraction``, ``sequenced_reads_per_cell`` and ``charged_reads``.

    Raises
    ------
    AtlasbenchError
        When a column is missing or a cost figure is invalid.
    """
    require_columns(designs, ("platform", "n_cells", "reads_per_cell"), "designs")
    figures = unit_costs(costs)
    out = designs.copy()
    missing = sorted(set(out["platform"].astype(str)) - set(figures))
    if missing:
        log.warning("no cost figures for platform(s) %s: their costs are left empty", ", ".join(missing))
    platform = out["platform"].astype(str)
    per_cell = platform.map({k: v[0] for k, v in figures.items()}).astype(float)
    per_million = platform.map({k: v[1] for k, v in figures.items()}).astype(float)
    n_cells = out["n_cells"].astype(float)
    reads = out["reads_per_cell"].astype(float)
    fraction = platform.map(usable_fractions(usable_fraction)).astype(float)
    known = fraction.notna()
    sequenced = reads / fraction
    out["library_cost"] = design_cost(n_cells, 0.0, per_cell, 0.0)
    out["sequencing_cost"] = design_cost(n_cells, sequenced.where(known, reads), 0.0, per_million)
    out["cost"] = out["library_cost"] + out["sequencing_cost"]
    out["usable_fraction"] = fraction
    out["sequenced_reads_per_cell"] = sequenced
    out["charged_reads"] = np.where(known, SEQUENCED, USABLE)
    return out


def read_evaluation(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an evaluation table (Parquet, or TSV/CSV, optionally gzipped).

    Parameters
    ----------
    path
        The table, e.g. ``<output>/evaluation/<hash>.parquet`` written by
        ``atlasbench train STUDY.yaml``.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    AtlasbenchError
        When the file is missing or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise AtlasbenchError(f"{path}: evaluation table not found")
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".parquet"):
            return pd.read_parquet(path)
        return pd.read_csv(path, sep="," if name.endswith(".csv") else "\t")
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise AtlasbenchError(f"{path}: cannot read the evaluation table: {exc}") from None


def aggregate_designs(
    evaluation: pd.DataFrame, metric: str = "pearson_mean", against: str = "full", model: str | None = None
) -> pd.DataFrame:
    """Accuracy of every design: mean and SD of ``metric`` over its folds and seeds.

    Rows are those of the evaluation table with the given ``metric`` and ``against``
    and the summary cell type ``"all"`` (when a ``cell_type`` column exists); NaN values
    are left out. Reads per cell and cells are the means over the design's rows (the
    achieved values, the same for every fold).

    Parameters
    ----------
    evaluation
        The study's tidy evaluation table (:data:`atlasbench.readouts.evaluate.TIDY_COLUMNS`).
    metric
        Metric to use, e.g. ``pearson_mean`` (the published test Pearson).
    against
        Targets compared with: ``full`` (the platform's full data), ``own`` (the
        design's own degraded targets) or ``platform:<name>``.
    model
        Architecture to keep when the table holds several.

    Returns
    -------
    pandas.DataFrame
        Columns ``platform``, ``level``, ``reads_per_cell``, ``n_cells``,
        ``accuracy_mean``, ``accuracy_sd`` (NaN for one model), ``n_models``.

    Raises
    ------
    AtlasbenchError
        On missing columns, when no rows match, or for several models and no ``model``.
    """
    require_columns(
        evaluation, ("platform", "level", "reads_per_cell", "n_cells", "against", "metric", "value"), "evaluation table"
    )
    rows = evaluation[(evaluation["metric"] == metric) & (evaluation["against"] == against)]
    if "cell_type" in rows.columns:
        rows = rows[rows["cell_type"] == "all"]
    if rows.empty:
        raise AtlasbenchError(
            f"evaluation table has no rows with metric {metric!r} and against {against!r} "
            f"(metrics: {', '.join(map(str, sorted(evaluation['metric'].unique())))}; against: "
            f"{', '.join(map(str, sorted(evaluation['against'].unique())))})"
        )
    if "model" in rows.columns:
        models = sorted(map(str, rows["model"].unique()))
        if model is not None:
            if model not in models:
                raise AtlasbenchError(f"evaluation table has no model {model!r} (models: {', '.join(models)})")
            rows = rows[rows["model"] == model]
        elif len(models) > 1:
            raise AtlasbenchError(f"evaluation table holds several models ({', '.join(models)}); choose one")
    rows = rows[np.isfinite(rows["value"].astype(float))]
    if rows.empty:
        raise AtlasbenchError(f"every {metric} value against {against!r} is NaN")
    grouped = rows.groupby(["platform", "level"], sort=False)
    out = grouped.agg(
        reads_per_cell=("reads_per_cell", "mean"),
        n_cells=("n_cells", "mean"),
        accuracy_mean=("value", "mean"),
        accuracy_sd=("value", "std"),
        n_models=("value", "size"),
    ).reset_index()
    order = {p: i for i, p in enumerate(rows["platform"].unique())}
    out = out.assign(_order=out["platform"].map(order))
    out = out.sort_values(["_order", "reads_per_cell", "n_cells"], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def _unit_costs_from_table(rows: pd.DataFrame, platform: str) -> CostFigures:
    """Per-cell and per-million-(usable)-reads figures recovered exactly from priced designs."""
    if not {"library_cost", "sequencing_cost"} <= set(rows.columns):
        raise AtlasbenchError(
            f"cheapest_designs: pricing the fitted surface of {platform!r} needs costs=..., or the "
            "columns library_cost and sequencing_cost (as design_costs adds them)"
        )
    per_cell = (rows["library_cost"] / rows["n_cells"]).median()
    per_million = (rows["sequencing_cost"] / (rows["n_cells"] * rows["reads_per_cell"] / 1e6)).median()
    return float(per_cell), float(per_million)


def cheapest_designs(
    table: pd.DataFrame,
    target: float,
    fits: Mapping[str, SaturationFit] | None = None,
    costs: Any = None,
    usable_fraction: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Per platform, the cheapest design whose accuracy reaches ``target``.

    Candidates are the measured designs (their measured accuracy) and, for a platform
    with a fit in ``fits``, the points of a log-spaced grid over the measured reads per
    cell and cells (:data:`GRID_POINTS` per fitted axis; the other axis at its measured
    value), scored by the fitted surface. The grid never leaves the measured range: the
    fit interpolates between designs, it does not promise accuracies that no design
    showed. Ties in cost go to the higher accuracy.

    Parameters
    ----------
    table
        One row per design with columns ``platform``, ``reads_per_cell``, ``n_cells``,
        ``accuracy`` and ``cost`` (and optionally ``library_cost``,
        ``sequencing_cost``).
    target
        Accuracy to reach (inclusive).
    fits
        Saturation fit per platform (platforms without one use measured designs only).
    costs
        Cost figures per platform (see :func:`unit_costs`) to price grid points;
        when None they are recovered from the ``library_cost`` and
        ``sequencing_cost`` columns.
    usable_fraction
        Platform -> usable fraction: grid points (counted in usable reads per cell) are
        charged ``reads_per_cell / usable_fraction`` sequenced reads, as
        :func:`design_costs` charges the measured ones; give the same fractions to both.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CHEAPEST_COLUMNS`, one row per platform in table order;
        ``source`` is ``"measured"`` or ``"fitted"``; a platform that cannot reach the
        target has ``reached`` False and NaN elsewhere (``source`` ``"unpriced"`` when
        it has no cost figures at all).

    Raises
    ------
    AtlasbenchError
        On a missing column, a non-finite target, or grid points that cannot be priced.
    """
    require_columns(table, ("platform", "reads_per_cell", "n_cells", "accuracy", "cost"), "cheapest_designs table")
    try:
        target = float(target)
    except (TypeError, ValueError):
        raise AtlasbenchError(f"cheapest_designs: target must be a number, got {target!r}") from None
    if not math.isfinite(target):
        raise AtlasbenchError(f"cheapest_designs: target must be finite, got {target}")
    figures = unit_costs(costs) if costs is not None else {}
    fractions = usable_fractions(usable_fraction)
    fits = dict(fits or {})
    rows = []
    for platform, group in table.groupby("platform", sort=False):
        platform = str(platform)
        priced = group[np.isfinite(group["cost"].astype(float))]
        ok = priced[priced["accuracy"] >= target]
        candidates: list[dict[str, Any]] = []
        for _, row in ok.iterrows():
            candidates.append(
                {
                    "source": "measured",
                    "reads_per_cell": float(row["reads_per_cell"]),
                    "n_cells": float(row["n_cells"]),
                    "accuracy": float(row["accuracy"]),
                    "library_cost": float(row.get("library_cost", math.nan)),
                    "sequencing_cost": float(row.get("sequencing_cost", math.nan)),
                    "cost": float(row["cost"]),
                }
            )
        fit = fits.get(platform)
        if fit is not None and len(priced):
            if platform in figures:
                # per million usable reads: 1 / usable_fraction sequenced reads each
                per_cell, per_million = figures[platform]
                per_million /= fractions.get(platform, 1.0)
            else:  # the table's sequencing cost already charges the sequenced reads
                per_cell, per_million = _unit_costs_from_table(priced, platform)
            candidates.extend(_grid_candidates(fit, group, target, per_cell, per_million))
        if candidates:
            best = min(candidates, key=lambda d: (d["cost"], -d["accuracy"]))
            sequenced = best["reads_per_cell"] / fractions[platform] if platform in fractions else math.nan
            rows.append(
                {"platform": platform, "target": target, "reached": True, **best, "sequenced_reads_per_cell": sequenced}
            )
        elif priced.empty:
            rows.append(
                {
                    "platform": platform,
                    "target": target,
                    "reached": False,
                    "source": "unpriced",
                    **{k: math.nan for k in CHEAPEST_COLUMNS[4:]},
                }
            )
        else:
            log.info("%s does not reach %.3g in the measured range", platform, target)
            rows.append(
                {
                    "platform": platform,
                    "target": target,
                    "reached": False,
                    "source": None,
                    **{k: math.nan for k in CHEAPEST_COLUMNS[4:]},
                }
            )
    return pd.DataFrame(rows, columns=list(CHEAPEST_COLUMNS))


def _grid_candidates(
    fit: SaturationFit, group: pd.DataFrame, target: float, per_cell: float, per_million: float
) -> list[dict[str, Any]]:
    """The cheapest point of the fitted surface over the measured range reaching ``target``."""
    r_lo, r_hi = float(group["reads_per_cell"].min()), float(group["reads_per_cell"].max())
    c_lo, c_hi = float(group["n_cells"].min()), float(group["n_cells"].max())
    # An axis not fitted has one level: the grid keeps its measured (mean) value.
    # Whole reads and cells (rounded inward, so the grid stays within the measured range).
    if "reads" in fit.axes:
        reads = np.unique(np.clip(np.round(np.geomspace(r_lo, r_hi, GRID_POINTS)), r_lo, r_hi))
    else:
        reads = np.array([float(group["reads_per_cell"].mean())])
    if "cells" in fit.axes:
        cells = np.unique(np.clip(np.ceil(np.geomspace(c_lo, c_hi, GRID_POINTS)), c_lo, c_hi))
    else:
        cells = np.array([float(group["n_cells"].mean())])
    rr, cc = np.meshgrid(reads, cells, indexing="ij")
    accuracy = fit.predict(rr, cc)
    cost = design_cost(cc, rr, per_cell, per_million)
    reach = accuracy >= target
    if not reach.any():
        return []
    cost = np.where(reach, cost, np.inf)
    i = np.unravel_index(np.argmin(cost), cost.shape)
    return [
        {
            "source": "fitted",
            "reads_per_cell": float(rr[i]),
            "n_cells": float(cc[i]),
            "accuracy": float(accuracy[i]),
            "library_cost": float(cc[i] * per_cell),
            "sequencing_cost": float(cc[i] * rr[i] / 1e6 * per_million),
            "cost": float(cost[i]),
        }
    ]


def default_target(designs: pd.DataFrame, fits: Mapping[str, SaturationFit]) -> float:
    """The default target accuracy of :func:`cost_report`: 95% of the lowest attainable plateau.

    A platform's attainable plateau is its fitted accuracy at its largest measured reads
    per cell and cells (its best measured accuracy when it has no fit); the target is
    95% of the lowest across platforms, rounded to three decimals, so every platform
    that saturates within its grid can reach it.

    Parameters
    ----------
    designs
        One row per design: ``platform``, ``reads_per_cell``, ``n_cells``,
        ``accuracy_mean`` (as :func:`aggregate_designs` returns them).
    fits
        Saturation fit per platform (platforms without one use their measured best).

    Returns
    -------
    float
    """
    attainable = []
    for platform, group in designs.groupby("platform", sort=False):
        fit = fits.get(str(platform))
        if fit is not None:
            attainable.append(float(fit.predict(group["reads_per_cell"].max(), group["n_cells"].max())))
        else:
            attainable.append(float(group["accuracy_mean"].max()))
    return round(SATURATION_FRACTION * min(attainable), 3)


def pareto_front(costs: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """The cost-accuracy frontier: the designs no other design beats on both cost and accuracy.

    Designs are taken by increasing cost (ties: the more accurate first) and one is kept
    when it is more accurate than every cheaper one, so the frontier is a staircase that
    only rises with cost: what more money buys.

    Parameters
    ----------
    costs
        Cost of each design.
    accuracy
        Accuracy of each design, aligned with ``costs``.

    Returns
    -------
    numpy.ndarray
        Integer indices of the frontier's designs, by increasing cost.
    """
    order = np.lexsort((-accuracy, costs))
    keep, best = [], -np.inf
    for i in order:
        if accuracy[i] > best:
            keep.append(i)
            best = accuracy[i]
    return np.asarray(keep, dtype=int)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Check that ``frame`` is a DataFrame holding ``columns``, with a message naming what it is.

    Parameters
    ----------
    frame
        The table to check.
    columns
        Column names it must have.
    what
        How the message names the table, e.g. ``"designs"``.

    Raises
    ------
    AtlasbenchError
        When ``frame`` is not a DataFrame or lacks a column (all missing ones are named).
    """
    if not isinstance(frame, pd.DataFrame):
        raise AtlasbenchError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AtlasbenchError(f"{what} lacks column(s) {', '.join(missing)} (has {', '.join(map(str, frame.columns))})")
