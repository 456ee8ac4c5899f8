"""Where accuracy saturates: a Michaelis-Menten surface over reads per cell and cells.

Accuracy rises with depth and with cells and levels off. :func:`fit_saturation` fits
``plateau * r / (r + K_reads) * c / (c + K_cells)`` to the measured designs and
:class:`SaturationFit` gives the *saturation depth*, the reads per cell at which 95% of
the plateau along depth is reached (published: about 12k reads per cell in fly embryo,
36k in mouse cortex), and likewise the saturation cells.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import curve_fit

from atlasbench.errors import AtlasbenchError

log = logging.getLogger(__name__)

__all__ = ["AXIS_MIN_RATIO", "SATURATION_COLUMNS", "SATURATION_FRACTION", "SaturationFit", "fit_saturation"]


SATURATION_FRACTION = 0.95
"""Fraction of the plateau that defines the saturation depth (and saturation cells)."""


AXIS_MIN_RATIO = 1.25
"""An axis (reads or cells) is fitted only when its largest value is at least this many
times its smallest: achieved reads per cell differ a little between cell levels of one
depth level, which is not a second depth level."""


SATURATION_COLUMNS: tuple[str, ...] = (
    "platform",
    "plateau",
    "K_reads",
    "K_cells",
    "saturation_depth",
    "saturation_cells",
    "depth_position",
    "cells_position",
    "r2",
    "axes",
    "n_points",
)
"""Columns of ``saturation.tsv``: one row per platform with a fit."""


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
    def depth_position(self) -> str:
        """Where the saturation depth lies against the measured reads per cell.

        ``"below"`` the shallowest level (accuracy was already at 95% of its plateau there:
        the figure extrapolates the curve's shape below the data, and only that bound is
        measured), ``"within"`` the measured range (also when no range is known),
        ``"beyond"`` the deepest level (not saturated yet: an extrapolation), or ``""`` when
        depth was not fitted.
        """
        return _position(self.saturation_depth, self.reads_range, "reads" in self.axes)

    @property
    def cells_position(self) -> str:
        """Where the saturation cells lie against the measured cells, as :attr:`depth_position`."""
        return _position(self.saturation_cells, self.cells_range, "cells" in self.axes)

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
        return {
            "plateau": self.plateau,
            "K_reads": self.K_reads,
            "K_cells": self.K_cells,
            "saturation_depth": self.saturation_depth,
            "saturation_cells": self.saturation_cells,
            "depth_position": self.depth_position,
            "cells_position": self.cells_position,
            "r2": self.r2,
            "axes": "+".join(self.axes),
            "n_points": self.n_points,
        }


def _varies(values: np.ndarray) -> bool:
    return bool(values.max() >= AXIS_MIN_RATIO * values.min())


def fit_saturation(reads_per_cell: ArrayLike, n_cells: ArrayLike, accuracy: ArrayLike) -> SaturationFit:
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
        plateau=float(params[0]),
        K_reads=ks.get("reads", math.nan),
        K_cells=ks.get("cells", math.nan),
        r2=r2,
        n_points=len(y),
        axes=axes,
        reads_range=(float(r.min()), float(r.max())),
        cells_range=(float(c.min()), float(c.max())),
    )
    for axis, position, value, (low, high) in (
        ("reads", fit.depth_position, fit.saturation_depth, fit.reads_range),
        ("cells", fit.cells_position, fit.saturation_cells, fit.cells_range),
    ):
        if position == "beyond":
            log.warning(
                "fit_saturation: 95%% of the plateau along %s is reached at %s, beyond the largest measured "
                "(%s): the data have not saturated and that figure is an extrapolation",
                axis,
                f"{value:,.0f}",
                f"{high:,.0f}",
            )
        elif position == "below":
            log.warning(
                "fit_saturation: 95%% of the plateau along %s is reached at %s, below the smallest measured "
                "(%s): accuracy had saturated there and that figure is an extrapolation",
                axis,
                f"{value:,.0f}",
                f"{low:,.0f}",
            )
    return fit


def _position(value: float, bounds: tuple[float, float], fitted: bool) -> str:
    """``"below"``, ``"within"`` or ``"beyond"`` the measured ``bounds``; ``""`` when not fitted."""
    if not fitted or not math.isfinite(value):
        return ""
    if value < bounds[0]:
        return "below"
    return "beyond" if value > bounds[1] else "within"
