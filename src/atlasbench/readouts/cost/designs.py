"""Cost model: what each design costs, where accuracy saturates, and the cheapest design.

A *design* is one point of a study's grid: a platform, a number of cells and a mean
number of reads per cell. Its cost has two parts that scale differently (PROTOCOL.md,
"Cost"):

- the *library*: ``n_cells * per_cell``, which sets platforms apart (HyDrop $0.049 per
  cell against 10x's $0.471 in the 2023 figures);
- *sequencing*: ``n_cells * reads_per_cell / 1e6 * per_million_reads``, the same price
  for every platform, which grows with depth.

Which part dominates decides whether "more cells on the cheaper platform" pays off, so
every table here shows both.

Accuracy (by default the test Pearson against the platform's full data, averaged over
folds and seeds) rises with depth and with cells and levels off. :func:`fit_saturation`
fits a saturating surface to it and gives the *saturation depth*, the reads per cell at
which 95% of the plateau along depth is reached (published: about 12k reads per cell in
fly embryo, 36k in mouse cortex). :func:`cheapest_designs` then finds, per platform, the
cheapest design that reaches a target accuracy, among the measured designs and along the
fitted surface within the measured range; :func:`compare_costs` says it in words, the way
the study does ("with 60% more cells, 2.4x lower cost"). :func:`cost_report` runs it all
on an evaluation table and writes tidy tables and figures.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

from atlasbench.io.atomic import atomic_path, write_text_atomic
from atlasbench.errors import AtlasbenchError
from atlasbench.io.figures import save_figure

log = logging.getLogger(__name__)

__all__ = [
    "DESIGN_COLUMNS",
    "SATURATION_COLUMNS",
    "CHEAPEST_COLUMNS",
    "SaturationFit",
    "aggregate_designs",
    "cheapest_designs",
    "compare_costs",
    "cost_report",
    "default_target",
    "design_cost",
    "design_costs",
    "fit_saturation",
    "read_evaluation",
    "unit_costs",
]

SATURATION_FRACTION = 0.95
"""Fraction of the plateau that defines the saturation depth (and saturation cells)."""

AXIS_MIN_RATIO = 1.25
"""An axis (reads or cells) is fitted only when its largest value is at least this many
times its smallest: achieved reads per cell differ a little between cell levels of one
depth level, which is not a second depth level."""

GRID_POINTS = 241
"""Points per axis of the log-spaced grid along which the fitted surface is searched."""

DESIGN_COLUMNS: tuple[str, ...] = (
    "platform", "level", "reads_per_cell", "n_cells", "accuracy_mean", "accuracy_sd", "n_models",
    "library_cost", "sequencing_cost", "cost",
)
"""Columns of ``designs.tsv``: one row per (platform, level)."""

SATURATION_COLUMNS: tuple[str, ...] = (
    "platform", "plateau", "K_reads", "K_cells", "saturation_depth", "saturation_cells", "r2",
    "axes", "n_points",
)
"""Columns of ``saturation.tsv``: one row per platform with a fit."""

CHEAPEST_COLUMNS: tuple[str, ...] = (
    "platform", "target", "reached", "source", "reads_per_cell", "n_cells", "accuracy",
    "library_cost", "sequencing_cost", "cost",
)
"""Columns of :func:`cheapest_designs` and ``cheapest.tsv``: one row per platform."""

_METRIC_LABELS = {"pearson_mean": "Pearson", "spearman_mean": "Spearman",
                  "pearson_across_cell_types": "Pearson across cell types",
                  "spearman_across_cell_types": "Spearman across cell types"}

CostFigures = tuple[float, float]


# ---------------------------------------------------------------------------------------
# Costs
# ---------------------------------------------------------------------------------------


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
        Mean reads (read pairs) sequenced per cell.
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


def _currency(costs: Any) -> str:
    """The currency of a study's (or platforms') cost figures; USD when none is stated."""
    platforms = getattr(costs, "platforms", costs)
    values = platforms.values() if isinstance(platforms, Mapping) else [getattr(p, "cost", None) for p in platforms]
    for value in values:
        currency = value.get("currency") if isinstance(value, Mapping) else getattr(value, "currency", None)
        if currency:
            return str(currency)
    return "USD"


def design_costs(designs: pd.DataFrame, costs: Any) -> pd.DataFrame:
    """Add the library, sequencing and total cost of every design.

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

    Returns
    -------
    pandas.DataFrame
        A copy of ``designs`` with ``library_cost``, ``sequencing_cost`` and ``cost``.

    Raises
    ------
    AtlasbenchError
        When a column is missing or a cost figure is invalid.
    """
    _require(designs, ("platform", "n_cells", "reads_per_cell"), "designs")
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
    out["library_cost"] = design_cost(n_cells, 0.0, per_cell, 0.0)
    out["sequencing_cost"] = design_cost(n_cells, reads, 0.0, per_million)
    out["cost"] = out["library_cost"] + out["sequencing_cost"]
    return out


# ---------------------------------------------------------------------------------------
# Saturation
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaturationFit:
    """A fitted saturation surface of accuracy over reads per cell and cells.

    The model is a product of two Michaelis-Menten (hyperbolic) saturation curves::

        accuracy = plateau * r / (r + K_reads) * c / (c + K_cells)

    with ``r`` the reads per cell and ``c`` the number of cells. ``K_reads`` is the depth
    at which half the plateau along depth is reached; 95% of it is reached at
    ``19 * K_reads`` (in general ``K * f / (1 - f)`` for a fraction ``f``), the
    *saturation depth*, whatever the number of cells (the factors are independent).
    Likewise for cells. When the data vary along one axis only (one cell level, or one
    depth level), only that axis is fitted: the other factor is absorbed in
    ``plateau`` (the plateau *at that cell number* or depth), its ``K`` is NaN and
    :meth:`predict` ignores it.

    Attributes
    ----------
    plateau
        Accuracy approached with unlimited reads and cells (within the fitted axes).
    K_reads, K_cells
        Half-saturation constants; NaN for an axis not fitted.
    r2
        Coefficient of determination of the fit on the points it was fitted to.
    n_points
        Number of points fitted.
    axes
        The fitted axes: ``("reads", "cells")``, ``("reads",)`` or ``("cells",)``.
    reads_range, cells_range
        Smallest and largest measured reads per cell and cells (the fit's domain).
    """

    plateau: float
    K_reads: float
    K_cells: float
    r2: float
    n_points: int
    axes: tuple[str, ...]
    reads_range: tuple[float, float] = field(default=(math.nan, math.nan))
    cells_range: tuple[float, float] = field(default=(math.nan, math.nan))

    def saturation_at(self, fraction: float = SATURATION_FRACTION) -> tuple[float, float]:
        """Reads per cell and cells at which ``fraction`` of the plateau is reached along each axis."""
        if not 0 < fraction < 1:
            raise AtlasbenchError(f"fraction of the plateau must be between 0 and 1, got {fraction}")
        factor = fraction / (1 - fraction)
        return self.K_reads * factor, self.K_cells * factor

    @property
    def saturation_depth(self) -> float:
        """Reads per cell reaching 95% of the plateau along depth (``19 * K_reads``); NaN if not fitted."""
        return self.saturation_at()[0]

    @property
    def saturation_cells(self) -> float:
        """Cells reaching 95% of the plateau along cells (``19 * K_cells``); NaN if not fitted."""
        return self.saturation_at()[1]

    def predict(self, reads_per_cell: Any, n_cells: Any = None) -> np.ndarray:
        """Fitted accuracy at the given reads per cell and cells (numpy broadcasting).

        An axis that was not fitted is ignored (``n_cells`` may then be None).
        """
        value = np.asarray(self.plateau, dtype=float)
        if "reads" in self.axes:
            r = np.asarray(reads_per_cell, dtype=float)
            value = value * r / (r + self.K_reads)
        if "cells" in self.axes:
            if n_cells is None:
                raise AtlasbenchError("this saturation fit has a cells axis: predict needs n_cells")
            c = np.asarray(n_cells, dtype=float)
            value = value * c / (c + self.K_cells)
        return value

    def as_row(self) -> dict[str, Any]:
        """The fit as one row of ``saturation.tsv`` (without the platform)."""
        return {"plateau": self.plateau, "K_reads": self.K_reads, "K_cells": self.K_cells,
                "saturation_depth": self.saturation_depth, "saturation_cells": self.saturation_cells,
                "r2": self.r2, "axes": "+".join(self.axes), "n_points": self.n_points}


def _varies(values: np.ndarray) -> bool:
    return bool(values.max() >= AXIS_MIN_RATIO * values.min())


def fit_saturation(reads_per_cell: Sequence[float] | np.ndarray, n_cells: Sequence[float] | np.ndarray,
                   accuracy: Sequence[float] | np.ndarray) -> SaturationFit:
    """Fit the saturation surface of :class:`SaturationFit` to measured accuracies.

    Each point is one design (typically the mean accuracy over folds and seeds). The
    model, ``plateau * r / (r + K_reads) * c / (c + K_cells)``, is the standard
    hyperbolic (Michaelis-Menten) saturation along each axis: accuracy rises in
    proportion at low depth and levels off, and is a logistic curve of log depth with
    slope one, the shape of published saturation curves. It is fitted by bounded least
    squares (:func:`scipy.optimize.curve_fit`, trust-region reflective) from a few
    starting points, keeping the best; both axes are rescaled to their largest value
    during the fit. An axis whose largest value is under 1.25 times its smallest (one
    level, see :data:`AXIS_MIN_RATIO`) is not fitted, and the log says so.

    Bounds: plateau between 0 and 10 times the largest accuracy, each ``K`` between
    1/1000 and 100 times the largest measured value. A ``K`` beyond the measured range
    means the data have not saturated and the saturation depth is an extrapolation; a
    warning says so.

    Parameters
    ----------
    reads_per_cell
        Mean reads per cell of each point (positive).
    n_cells
        Cells of each point (positive).
    accuracy
        Accuracy of each point; the largest must be positive.

    Returns
    -------
    SaturationFit

    Raises
    ------
    AtlasbenchError
        On mismatched lengths, non-finite or non-positive reads or cells, no positive
        accuracy, no axis that varies, or fewer points than parameters (3 for both axes,
        2 for one).
    """
    r = np.asarray(reads_per_cell, dtype=float).ravel()
    c = np.asarray(n_cells, dtype=float).ravel()
    y = np.asarray(accuracy, dtype=float).ravel()
    if not (len(r) == len(c) == len(y)):
        raise AtlasbenchError(
            f"fit_saturation: reads_per_cell, n_cells and accuracy must have the same length, "
            f"got {len(r)}, {len(c)} and {len(y)}"
        )
    keep = np.isfinite(y)
    if not keep.all():
        log.info("fit_saturation: %d point(s) with NaN accuracy left out", int((~keep).sum()))
        r, c, y = r[keep], c[keep], y[keep]
    if len(y) == 0:
        raise AtlasbenchError("fit_saturation: no points with a finite accuracy to fit")
    for name, values in (("reads_per_cell", r), ("n_cells", c)):
        if not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise AtlasbenchError(f"fit_saturation: {name} must be finite and positive, got {values.tolist()}")
    if y.max() <= 0:
        raise AtlasbenchError(
            f"fit_saturation: a saturation curve needs a positive accuracy, but the largest is {y.max():.3g}"
        )
    axes = tuple(name for name, values in (("reads", r), ("cells", c)) if _varies(values))
    if not axes:
        raise AtlasbenchError(
            f"fit_saturation: the {len(y)} point(s) all have the same reads per cell and cells (within a factor "
            f"{AXIS_MIN_RATIO}); a saturation curve needs several depth or cell levels"
        )
    n_params = 1 + len(axes)
    if len(y) < n_params:
        raise AtlasbenchError(
            f"fit_saturation: {len(y)} point(s) for {n_params} parameters (plateau and K of "
            f"{' and '.join(axes)}); measure at least {n_params} designs"
        )
    if len(axes) == 1:
        other = "cells" if axes == ("reads",) else "depth"
        log.info("fit_saturation: one %s level only; fitting the %s axis alone", other, axes[0])

    scales = {"reads": r.max(), "cells": c.max()}
    columns = {"reads": r / scales["reads"], "cells": c / scales["cells"]}
    x = np.vstack([columns[a] for a in axes])

    def model(x: np.ndarray, plateau: float, *ks: float) -> np.ndarray:
        value = np.full(x.shape[1], plateau)
        for row, k in zip(x, ks):
            value = value * row / (row + k)
        return value

    lower = [0.0] + [1e-3] * len(axes)
    upper = [10 * y.max()] + [100.0] * len(axes)
    best: tuple[float, np.ndarray] | None = None
    for k0 in (0.05, 0.3, 1.0):
        p0 = [min(1.2 * y.max(), upper[0])] + [k0] * len(axes)
        try:
            params, _ = curve_fit(model, x, y, p0=p0, bounds=(lower, upper), method="trf", maxfev=20000)
        except (RuntimeError, ValueError) as exc:
            log.debug("fit_saturation: start K=%s failed: %s", k0, exc)
            continue
        sse = float(np.sum((model(x, *params) - y) ** 2))
        if best is None or sse < best[0]:
            best = (sse, params)
    if best is None:
        raise AtlasbenchError("fit_saturation: the least-squares fit did not converge from any starting point")
    sse, params = best
    sst = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - sse / sst if sst > 0 else math.nan
    ks = {a: float(k * scales[a]) for a, k in zip(axes, params[1:])}
    fit = SaturationFit(
        plateau=float(params[0]), K_reads=ks.get("reads", math.nan), K_cells=ks.get("cells", math.nan),
        r2=r2, n_points=len(y), axes=axes,
        reads_range=(float(r.min()), float(r.max())), cells_range=(float(c.min()), float(c.max())),
    )
    for axis, value, top in (("reads", fit.saturation_depth, r.max()), ("cells", fit.saturation_cells, c.max())):
        if axis in axes and value > top:
            log.warning(
                "fit_saturation: 95%% of the plateau along %s is reached at %s, beyond the largest measured "
                "(%s): the data have not saturated and that figure is an extrapolation",
                axis, f"{value:,.0f}", f"{top:,.0f}",
            )
    return fit


# ---------------------------------------------------------------------------------------
# Cheapest designs
# ---------------------------------------------------------------------------------------


def _unit_costs_from_table(rows: pd.DataFrame, platform: str) -> CostFigures:
    """Per-cell and per-million-reads figures recovered exactly from priced designs."""
    if not {"library_cost", "sequencing_cost"} <= set(rows.columns):
        raise AtlasbenchError(
            f"cheapest_designs: pricing the fitted surface of {platform!r} needs costs=..., or the "
            "columns library_cost and sequencing_cost (as design_costs adds them)"
        )
    per_cell = (rows["library_cost"] / rows["n_cells"]).median()
    per_million = (rows["sequencing_cost"] / (rows["n_cells"] * rows["reads_per_cell"] / 1e6)).median()
    return float(per_cell), float(per_million)


def cheapest_designs(table: pd.DataFrame, target: float, fits: Mapping[str, SaturationFit] | None = None,
                     costs: Any = None) -> pd.DataFrame:
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
    _require(table, ("platform", "reads_per_cell", "n_cells", "accuracy", "cost"), "cheapest_designs table")
    try:
        target = float(target)
    except (TypeError, ValueError):
        raise AtlasbenchError(f"cheapest_designs: target must be a number, got {target!r}") from None
    if not math.isfinite(target):
        raise AtlasbenchError(f"cheapest_designs: target must be finite, got {target}")
    figures = unit_costs(costs) if costs is not None else {}
    fits = dict(fits or {})
    rows = []
    for platform, group in table.groupby("platform", sort=False):
        platform = str(platform)
        priced = group[np.isfinite(group["cost"].astype(float))]
        ok = priced[priced["accuracy"] >= target]
        candidates = []
        for _, row in ok.iterrows():
            candidates.append({
                "source": "measured", "reads_per_cell": float(row["reads_per_cell"]),
                "n_cells": float(row["n_cells"]), "accuracy": float(row["accuracy"]),
                "library_cost": float(row.get("library_cost", math.nan)),
                "sequencing_cost": float(row.get("sequencing_cost", math.nan)), "cost": float(row["cost"]),
            })
        fit = fits.get(platform)
        if fit is not None and len(priced):
            per_cell, per_million = figures[platform] if platform in figures else _unit_costs_from_table(priced, platform)
            candidates.extend(_grid_candidates(fit, group, target, per_cell, per_million))
        if candidates:
            best = min(candidates, key=lambda d: (d["cost"], -d["accuracy"]))
            rows.append({"platform": platform, "target": target, "reached": True, **best})
        elif priced.empty:
            rows.append({"platform": platform, "target": target, "reached": False, "source": "unpriced",
                         **{k: math.nan for k in CHEAPEST_COLUMNS[4:]}})
        else:
            log.info("%s does not reach %.3g in the measured range", platform, target)
            rows.append({"platform": platform, "target": target, "reached": False, "source": None,
                         **{k: math.nan for k in CHEAPEST_COLUMNS[4:]}})
    return pd.DataFrame(rows, columns=list(CHEAPEST_COLUMNS))


def _grid_candidates(fit: SaturationFit, group: pd.DataFrame, target: float, per_cell: float,
                     per_million: float) -> list[dict[str, Any]]:
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
    return [{
        "source": "fitted", "reads_per_cell": float(rr[i]), "n_cells": float(cc[i]), "accuracy": float(accuracy[i]),
        "library_cost": float(cc[i] * per_cell), "sequencing_cost": float(cc[i] * rr[i] / 1e6 * per_million),
        "cost": float(cost[i]),
    }]


# ---------------------------------------------------------------------------------------
# In words
# ---------------------------------------------------------------------------------------


def _money(amount: float, currency: str) -> str:
    return f"${amount:,.0f}" if currency == "USD" else f"{amount:,.0f} {currency}"


def _number(value: float) -> str:
    return f"{value:,.0f}"


def _target_text(target: float) -> str:
    return f"{target:.2f}" if round(target, 2) == target else f"{target:.3f}"


def _ratio_text(ours: float, theirs: float, noun: str) -> str:
    """'2.4x lower cost' / '1.3x higher cost' / 'about the same cost'."""
    if ours <= 0 or theirs <= 0:
        return f"{noun} {_number(ours)} vs {_number(theirs)}"
    ratio = theirs / ours
    if f"{max(ratio, 1 / ratio):.1f}" == "1.0":
        return f"about the same {noun}"
    return f"{ratio:.1f}x lower {noun}" if ratio > 1 else f"{1 / ratio:.1f}x higher {noun}"


def compare_costs(cheapest: pd.DataFrame, reference_platform: str, label: str = "Pearson",
                  currency: str = "USD") -> list[str]:
    """Say how each platform's cheapest design compares with the reference platform's.

    One sentence per other platform, in the study's words: how many more (or fewer)
    cells it needs to reach the target than the reference, at which depths, and how many
    times cheaper (or dearer) it is, with both costs; when library and sequencing costs
    are given, also the ratio of library costs alone, since which part dominates decides
    the claim (PROTOCOL.md: 6.0x on library cost alone, 2.4x with sequencing). For
    example: "hydrop reaches Pearson 0.60 with 60% more cells than 10x (16,000 vs
    10,000 cells; 36,000 vs 36,000 reads per cell) at 2.4x lower cost ($2,440 vs
    $5,745; library alone 6.0x lower)". Percentages are rounded to whole numbers and
    ratios to one decimal.

    Parameters
    ----------
    cheapest
        The table of :func:`cheapest_designs`.
    reference_platform
        The platform the others are compared with.
    label
        Name of the accuracy metric in the sentences.
    currency
        Currency of the costs; USD amounts are written with a "$".

    Returns
    -------
    list of str
        One sentence per platform other than the reference, in table order.

    Raises
    ------
    AtlasbenchError
        When the reference platform is not in the table.
    """
    _require(cheapest, ("platform", "target", "reached", "n_cells", "reads_per_cell", "cost"), "cheapest designs")
    by_name = {str(row["platform"]): row for _, row in cheapest.iterrows()}
    if reference_platform not in by_name:
        raise AtlasbenchError(
            f"compare_costs: reference platform {reference_platform!r} is not among the platforms "
            f"({', '.join(by_name) or 'none'})"
        )
    ref = by_name[reference_platform]
    out = []
    for name, row in by_name.items():
        if name == reference_platform:
            continue
        target = _target_text(float(row["target"]))
        if row["source"] == "unpriced" or ref["source"] == "unpriced":
            unpriced = name if row["source"] == "unpriced" else reference_platform
            out.append(f"{name} is not compared with {reference_platform}: {unpriced} has no cost figures.")
            continue
        if not bool(row["reached"]):
            out.append(f"{name} does not reach {label} {target} within its measured designs.")
            continue
        if not bool(ref["reached"]):
            out.append(
                f"{name} reaches {label} {target} with {_number(row['n_cells'])} cells at "
                f"{_number(row['reads_per_cell'])} reads per cell for {_money(row['cost'], currency)}; "
                f"{reference_platform} does not reach it within its measured designs."
            )
            continue
        percent = round((row["n_cells"] / ref["n_cells"] - 1) * 100)
        if percent > 0:
            cells = f"with {percent}% more cells than {reference_platform}"
        elif percent < 0:
            cells = f"with {-percent}% fewer cells than {reference_platform}"
        else:
            cells = f"with as many cells as {reference_platform}"
        detail = (f"{_number(row['n_cells'])} vs {_number(ref['n_cells'])} cells; "
                  f"{_number(row['reads_per_cell'])} vs {_number(ref['reads_per_cell'])} reads per cell")
        money = f"{_money(row['cost'], currency)} vs {_money(ref['cost'], currency)}"
        lib = (row.get("library_cost", math.nan), ref.get("library_cost", math.nan))
        if all(isinstance(v, (int, float)) and math.isfinite(v) for v in lib):
            money += f"; library alone {_ratio_text(float(lib[0]), float(lib[1]), 'cost').removesuffix(' cost')}"
        out.append(f"{name} reaches {label} {target} {cells} ({detail}) at "
                   f"{_ratio_text(float(row['cost']), float(ref['cost']), 'cost')} ({money}).")
    return out


def _saturation_sentences(fits: Mapping[str, SaturationFit], label: str) -> list[str]:
    out = []
    for name, fit in fits.items():
        parts = []
        if "reads" in fit.axes:
            parts.append(f"95% of it is reached at about {_number(fit.saturation_depth)} reads per cell")
        if "cells" in fit.axes:
            parts.append(f"at about {_number(fit.saturation_cells)} cells")
        out.append(f"{name}: {label} plateau {fit.plateau:.3f} (R2 {fit.r2:.2f}); " + " and ".join(parts) + ".")
    return out


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------


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


def aggregate_designs(evaluation: pd.DataFrame, metric: str = "pearson_mean", against: str = "full",
                      model: str | None = None) -> pd.DataFrame:
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
    _require(evaluation, ("platform", "level", "reads_per_cell", "n_cells", "against", "metric", "value"),
             "evaluation table")
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
    out = grouped.agg(reads_per_cell=("reads_per_cell", "mean"), n_cells=("n_cells", "mean"),
                      accuracy_mean=("value", "mean"), accuracy_sd=("value", "std"),
                      n_models=("value", "size")).reset_index()
    order = {p: i for i, p in enumerate(rows["platform"].unique())}
    out = out.assign(_order=out["platform"].map(order))
    out = out.sort_values(["_order", "reads_per_cell", "n_cells"], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def cost_report(evaluation: pd.DataFrame, costs: Any, target: float | None = None, metric: str = "pearson_mean",
                against: str = "full", out: str | os.PathLike[str] = "cost", reference_platform: str | None = None,
                model: str | None = None, figures: bool = True) -> dict[str, Path]:
    """The cost analysis of a study: design costs, saturation fits, cheapest designs, in words.

    Aggregates accuracy per design (:func:`aggregate_designs`), prices every design
    (:func:`design_costs`), fits a saturation surface per platform
    (:func:`fit_saturation`; a platform with too few designs is left unfitted, with a
    warning), finds each platform's cheapest design reaching ``target``
    (:func:`cheapest_designs`) and compares them with the reference platform
    (:func:`compare_costs`).

    Default target: 95% of the lowest *attainable plateau* across platforms, a
    platform's attainable plateau being its fitted accuracy at its largest measured
    reads per cell and cells (its best measured accuracy when unfitted). The plateau of
    the model itself lies at unlimited reads and cells, so 95% of it may lie beyond
    every measured design; 95% of the attainable plateau is reached by every platform
    that saturates within its grid, and the platforms are compared where all can get.

    Files written under ``out`` (tables are tab-separated, one row per observation):

    - ``designs.tsv``: :data:`DESIGN_COLUMNS`;
    - ``saturation.tsv``: :data:`SATURATION_COLUMNS`;
    - ``cheapest.tsv``: :data:`CHEAPEST_COLUMNS` plus ``metric`` and ``against``;
    - ``summary.txt``: the target, the saturation and comparison sentences;
    - ``saturation.png``/``.pdf``: accuracy against reads per cell, one panel per
      platform and one line per cell level, measured means with SD error bars, fitted
      curves, saturation depth marked;
    - ``cost_frontier.png``/``.pdf``: accuracy against cost (log axis) per platform,
      Pareto frontier drawn, target and cheapest designs marked.

    Parameters
    ----------
    evaluation
        The study's tidy evaluation table.
    costs
        Cost figures: the study, its platforms or a mapping (see :func:`unit_costs`).
    target
        Accuracy to reach; see above for the default.
    metric, against, model
        Which evaluation rows measure accuracy (see :func:`aggregate_designs`).
    out
        Output folder (created when needed).
    reference_platform
        Platform the others are compared with; default: the study's
        ``evaluation.reference_platform`` when set, else the first platform priced.
    figures
        Draw the figures (False: tables and summary only).

    Returns
    -------
    dict of str to pathlib.Path
        Keys ``designs``, ``saturation``, ``cheapest``, ``summary``,
        ``saturation_png``, ``saturation_pdf``, ``cost_frontier_png``,
        ``cost_frontier_pdf`` (the last four only with ``figures``).

    Raises
    ------
    AtlasbenchError
        On a bad evaluation table or cost figures, or an unknown reference platform.
    """
    out = Path(out)
    currency = _currency(costs)
    prices = unit_costs(costs)
    designs = design_costs(aggregate_designs(evaluation, metric, against, model), prices)
    designs = designs[list(DESIGN_COLUMNS)]
    label = _METRIC_LABELS.get(metric, metric)

    fits: dict[str, SaturationFit] = {}
    for platform, group in designs.groupby("platform", sort=False):
        try:
            fits[str(platform)] = fit_saturation(group["reads_per_cell"], group["n_cells"], group["accuracy_mean"])
        except AtlasbenchError as exc:
            log.warning("%s: no saturation fit: %s", platform, exc)
    saturation = pd.DataFrame([{"platform": p, **f.as_row()} for p, f in fits.items()],
                              columns=list(SATURATION_COLUMNS))

    if target is None:
        target = default_target(designs, fits)
        log.info("target: %s %.3f (95%% of the lowest attainable plateau)", label, target)

    table = designs.rename(columns={"accuracy_mean": "accuracy"})
    cheapest = cheapest_designs(table, target, fits, costs=prices)
    platforms = list(dict.fromkeys(designs["platform"].astype(str)))
    if reference_platform is None:
        reference_platform = getattr(getattr(costs, "evaluation", None), "reference_platform", None)
        if reference_platform is None:
            priced = [p for p in platforms if p in prices]
            reference_platform = (priced or platforms)[0]
    if reference_platform not in platforms:
        raise AtlasbenchError(
            f"reference platform {reference_platform!r} has no designs in the evaluation table "
            f"({', '.join(platforms)})"
        )
    sentences = compare_costs(cheapest, reference_platform, label=label, currency=currency)

    paths = {name: out / f"{name}.tsv" for name in ("designs", "saturation", "cheapest")}
    cheapest_out = cheapest.assign(metric=metric, against=against)
    for name, frame in (("designs", designs), ("saturation", saturation), ("cheapest", cheapest_out)):
        with atomic_path(paths[name]) as tmp:
            frame.to_csv(tmp, sep="\t", index=False, float_format="%.10g")
    lines = [f"target: {label} {_target_text(target)} (metric {metric}, against {against}); "
             f"reference platform: {reference_platform}; costs in {currency}", ""]
    lines += _saturation_sentences(fits, label) + [""] + _cheapest_sentences(cheapest, label, currency)
    lines += [""] + sentences
    paths["summary"] = out / "summary.txt"
    write_text_atomic(paths["summary"], "\n".join(lines).strip() + "\n")

    if figures:
        paths.update(_plot_saturation(designs, fits, label, out / "saturation"))
        paths.update(_plot_frontier(designs, cheapest, target, label, currency, out / "cost_frontier"))
    log.info("cost report: %s", out)
    return paths


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


def _cheapest_sentences(cheapest: pd.DataFrame, label: str, currency: str) -> list[str]:
    out = []
    for _, row in cheapest.iterrows():
        target = _target_text(float(row["target"]))
        if row["source"] == "unpriced":
            out.append(f"{row['platform']}: no cost figures (give them explicitly to price a combined platform).")
            continue
        if not row["reached"]:
            out.append(f"{row['platform']}: does not reach {label} {target} within its measured designs.")
            continue
        out.append(
            f"{row['platform']}: cheapest design reaching {label} {target} ({row['source']}): "
            f"{_number(row['n_cells'])} cells at {_number(row['reads_per_cell'])} reads per cell, "
            f"{label} {row['accuracy']:.3f}, {_money(row['cost'], currency)} "
            f"(library {_money(row['library_cost'], currency)}, sequencing {_money(row['sequencing_cost'], currency)})."
        )
    return out


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------


def _cell_levels(n_cells: np.ndarray) -> np.ndarray:
    """Group cell numbers into levels: values within 5% of a level's smallest join it."""
    order = np.sort(np.unique(n_cells))
    starts: list[float] = []
    for value in order:
        if not starts or value > 1.05 * starts[-1]:
            starts.append(float(value))
    starts_arr = np.asarray(starts)
    return starts_arr[np.searchsorted(starts_arr, n_cells, side="right") - 1]


def _save(fig: Any, stem: Path) -> dict[str, Path]:
    png, pdf = save_figure(fig, stem.with_name(f"{stem.name}.png"), dpi=120)
    return {f"{stem.name}_png": png, f"{stem.name}_pdf": pdf}


def _plot_saturation(designs: pd.DataFrame, fits: Mapping[str, SaturationFit], label: str,
                     stem: Path) -> dict[str, Path]:
    from matplotlib.figure import Figure

    platforms = list(dict.fromkeys(designs["platform"].astype(str)))
    fig = Figure(figsize=(4.2 * len(platforms), 3.6), layout="constrained")
    axes = fig.subplots(1, len(platforms), sharey=True, squeeze=False)[0]
    for ax, platform in zip(axes, platforms):
        group = designs[designs["platform"].astype(str) == platform]
        levels = _cell_levels(group["n_cells"].to_numpy(float))
        fit = fits.get(platform)
        colours = [f"C{i % 10}" for i in range(len(np.unique(levels)))]
        for colour, level in zip(colours, np.unique(levels)):
            rows = group[levels == level].sort_values("reads_per_cell")
            ax.errorbar(rows["reads_per_cell"], rows["accuracy_mean"], yerr=rows["accuracy_sd"].fillna(0),
                        fmt="o", color=colour, capsize=3, label=f"{rows['n_cells'].mean():,.0f} cells")
            if fit is not None and "reads" in fit.axes:
                r = np.geomspace(group["reads_per_cell"].min(), group["reads_per_cell"].max(), 100)
                ax.plot(r, fit.predict(r, rows["n_cells"].mean()), "-", color=colour, lw=1.2)
            elif len(rows) > 1:
                ax.plot(rows["reads_per_cell"], rows["accuracy_mean"], "-", color=colour, lw=1.0, alpha=0.6)
        ax.set_xscale("log")
        _log_ticks(ax.xaxis, np.unique(group["reads_per_cell"].round(-2)), _short)
        if fit is not None and "reads" in fit.axes and math.isfinite(fit.saturation_depth):
            ax.axvline(fit.saturation_depth, color="0.4", ls="--", lw=1)
            ax.text(fit.saturation_depth, 0.97, f"95% of plateau: {fit.saturation_depth:,.0f} ", rotation=90,
                    ha="right", va="top", transform=ax.get_xaxis_transform(), fontsize=8, color="0.3")
        ax.set_title(platform)
        ax.set_xlabel("reads per cell")
        ax.legend(fontsize=7, loc="best")
    axes[0].set_ylabel(label)
    return _save(fig, stem)


def _short(value: float) -> str:
    """12000 -> '12k', 1500 -> '1.5k', 800 -> '800'."""
    return f"{value / 1000:g}k" if value >= 1000 else f"{value:g}"


def _log_ticks(axis: Any, ticks: Iterable[float], text: Any) -> None:
    """Plain tick labels on a log axis (matplotlib's mathtext minor labels are slow and busy)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    axis.set_major_locator(FixedLocator(list(ticks)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: text(v)))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def _pareto(costs: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Indices of the designs no other design beats on both cost and accuracy, by cost."""
    order = np.lexsort((-accuracy, costs))
    keep, best = [], -np.inf
    for i in order:
        if accuracy[i] > best:
            keep.append(i)
            best = accuracy[i]
    return np.asarray(keep, dtype=int)


def _plot_frontier(designs: pd.DataFrame, cheapest: pd.DataFrame, target: float, label: str, currency: str,
                   stem: Path, colours: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Accuracy against cost per platform (``colours``: platform -> colour; default C0, C1, ...)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.2), layout="constrained")
    ax = fig.subplots()
    priced = designs[np.isfinite(designs["cost"].astype(float))]
    for i, platform in enumerate(dict.fromkeys(priced["platform"].astype(str))):
        colour = (colours or {}).get(platform, f"C{i % 10}")
        group = priced[priced["platform"].astype(str) == platform]
        cost, acc = group["cost"].to_numpy(float), group["accuracy_mean"].to_numpy(float)
        ax.errorbar(cost, acc, yerr=group["accuracy_sd"].fillna(0), fmt="o", color=colour, alpha=0.6,
                    capsize=2, ms=4, label=platform)
        front = _pareto(cost, acc)
        ax.step(cost[front], acc[front], where="post", color=colour, lw=1.5)
        best = cheapest[(cheapest["platform"].astype(str) == platform) & cheapest["reached"].astype(bool)]
        for _, row in best.iterrows():
            ax.plot(row["cost"], row["accuracy"], marker="*", ms=14, ls="none", color=colour, mec="black",
                    label=f"{platform} cheapest ({row['source']})")
    ax.axhline(target, color="0.4", ls=":", lw=1, label=f"target {_target_text(target)}")
    ax.set_xscale("log")
    low, high = priced["cost"].min(), priced["cost"].max()
    ticks = [m * 10.0**e for e in range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
             for m in (1, 2, 5)]
    _log_ticks(ax.xaxis, [t for t in ticks if low / 1.5 <= t <= high * 1.5], lambda v: f"{v:,.0f}")
    ax.set_xlabel(f"cost of the data set ({currency}, library + sequencing)")
    ax.set_ylabel(label)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, stem)


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise AtlasbenchError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AtlasbenchError(f"{what} lacks column(s) {', '.join(missing)} (has {', '.join(map(str, frame.columns))})")
