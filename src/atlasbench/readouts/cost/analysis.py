"""The whole cost analysis of an evaluation table, written as tables, a summary and figures."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from atlasbench.errors import AtlasbenchError
from atlasbench.io.atomic import atomic_path, write_text_atomic
from atlasbench.readouts.cost.designs import (
    DESIGN_COLUMNS,
    aggregate_designs,
    cheapest_designs,
    cost_currency,
    default_target,
    design_costs,
    unit_costs,
)
from atlasbench.readouts.cost.figures import plot_frontier, plot_saturation
from atlasbench.readouts.cost.saturation import SATURATION_COLUMNS, SaturationFit, fit_saturation
from atlasbench.readouts.cost.wording import (
    METRIC_LABELS,
    cheapest_sentences,
    compare_costs,
    format_target,
    saturation_sentences,
)

log = logging.getLogger(__name__)

__all__ = ["cost_report"]


def cost_report(
    evaluation: pd.DataFrame,
    costs: Any,
    target: float | None = None,
    metric: str = "pearson_mean",
    against: str = "full",
    out: str | os.PathLike[str] = "cost",
    reference_platform: str | None = None,
    model: str | None = None,
    figures: bool = True,
    usable_fraction: Mapping[str, float] | None = None,
) -> dict[str, Path]:
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
    usable_fraction
        Platform -> usable fraction (usable per sequenced read pair): those platforms'
        sequencing is charged on ``reads_per_cell / usable_fraction`` sequenced reads
        per cell (:func:`design_costs`); the others on their usable read pairs.

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
    currency = cost_currency(costs)
    prices = unit_costs(costs)
    designs = design_costs(aggregate_designs(evaluation, metric, against, model), prices, usable_fraction)
    designs = designs[list(DESIGN_COLUMNS)]
    label = METRIC_LABELS.get(metric, metric)

    fits: dict[str, SaturationFit] = {}
    for platform, group in designs.groupby("platform", sort=False):
        try:
            fits[str(platform)] = fit_saturation(group["reads_per_cell"], group["n_cells"], group["accuracy_mean"])
        except AtlasbenchError as exc:
            log.warning("%s: no saturation fit: %s", platform, exc)
    saturation = pd.DataFrame(
        [{"platform": p, **f.as_row()} for p, f in fits.items()], columns=list(SATURATION_COLUMNS)
    )

    if target is None:
        target = default_target(designs, fits)
        log.info("target: %s %.3f (95%% of the lowest attainable plateau)", label, target)

    table = designs.rename(columns={"accuracy_mean": "accuracy"})
    cheapest = cheapest_designs(table, target, fits, costs=prices, usable_fraction=usable_fraction)
    platforms = list(dict.fromkeys(designs["platform"].astype(str)))
    if reference_platform is None:
        reference_platform = getattr(getattr(costs, "evaluation", None), "reference_platform", None)
        if reference_platform is None:
            priced = [p for p in platforms if p in prices]
            reference_platform = (priced or platforms)[0]
    if reference_platform not in platforms:
        raise AtlasbenchError(
            f"reference platform {reference_platform!r} has no designs in the evaluation table ({', '.join(platforms)})"
        )
    sentences = compare_costs(cheapest, reference_platform, label=label, currency=currency)

    paths = {name: out / f"{name}.tsv" for name in ("designs", "saturation", "cheapest")}
    cheapest_out = cheapest.assign(metric=metric, against=against)
    for name, frame in (("designs", designs), ("saturation", saturation), ("cheapest", cheapest_out)):
        with atomic_path(paths[name]) as tmp:
            frame.to_csv(tmp, sep="\t", index=False, float_format="%.10g")
    lines = [
        f"target: {label} {format_target(target)} (metric {metric}, against {against}); "
        f"reference platform: {reference_platform}; costs in {currency}",
        "",
    ]
    lines += [*saturation_sentences(fits, label), "", *cheapest_sentences(cheapest, label, currency)]
    lines += ["", *sentences]
    paths["summary"] = out / "summary.txt"
    write_text_atomic(paths["summary"], "\n".join(lines).strip() + "\n")

    if figures:
        paths.update(plot_saturation(designs, fits, label, out / "saturation"))
        paths.update(plot_frontier(designs, cheapest, target, label, currency, out / "cost_frontier"))
    log.info("cost report: %s", out)
    return paths
