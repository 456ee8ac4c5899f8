"""Cost model: what each design costs, where accuracy saturates, and the cheapest design.

A *design* is one point of a study's grid: a platform, a number of cells and a mean
number of reads per cell. Its cost has two parts that scale differently (PROTOCOL.md,
"Cost"):

- the *library*: ``n_cells * per_cell``, which sets platforms apart (HyDrop $0.049 per
  cell against 10x's $0.471 in the 2023 figures);
- *sequencing*: ``n_cells * reads_per_cell / 1e6 * per_million_reads``, the same price
  for every platform, which grows with depth. It is paid per *sequenced* read: a platform
  with a usable fraction (read pairs in its cells' fragments per sequenced read pair, from
  its ``sequenced_reads``) is charged ``reads_per_cell / usable_fraction`` sequenced reads
  per cell; without one, its usable read pairs (the tables' ``charged_reads``).

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

Modules:

- :mod:`~atlasbench.readouts.cost.designs`: the cost of each design (library and
  sequencing parts), accuracy per design, the cheapest design reaching a target, the
  cost-accuracy frontier;
- :mod:`~atlasbench.readouts.cost.saturation`: the Michaelis-Menten saturation surface
  (:class:`SaturationFit`) and its saturation depth;
- :mod:`~atlasbench.readouts.cost.wording`: the generated sentences and the currency
  and number formatting;
- :mod:`~atlasbench.readouts.cost.figures`: the saturation and frontier figures;
- :mod:`~atlasbench.readouts.cost.analysis`: :func:`cost_report`, all of it on one
  evaluation table.
"""

from atlasbench.readouts.cost.analysis import cost_report
from atlasbench.readouts.cost.designs import (
    CHEAPEST_COLUMNS,
    DESIGN_COLUMNS,
    GRID_POINTS,
    CostFigures,
    aggregate_designs,
    cheapest_designs,
    cost_currency,
    default_target,
    design_cost,
    design_costs,
    pareto_front,
    read_evaluation,
    unit_costs,
    usable_fractions,
)
from atlasbench.readouts.cost.figures import log_ticks, plot_frontier, plot_saturation, short_count
from atlasbench.readouts.cost.saturation import (
    AXIS_MIN_RATIO,
    SATURATION_COLUMNS,
    SATURATION_FRACTION,
    SaturationFit,
    fit_saturation,
)
from atlasbench.readouts.cost.wording import (
    METRIC_LABELS,
    cheapest_sentences,
    compare_costs,
    format_money,
    format_target,
    saturation_sentences,
)

__all__ = [
    "AXIS_MIN_RATIO",
    "CHEAPEST_COLUMNS",
    "DESIGN_COLUMNS",
    "GRID_POINTS",
    "METRIC_LABELS",
    "SATURATION_COLUMNS",
    "SATURATION_FRACTION",
    "CostFigures",
    "SaturationFit",
    "aggregate_designs",
    "cheapest_designs",
    "cheapest_sentences",
    "compare_costs",
    "cost_currency",
    "cost_report",
    "default_target",
    "design_cost",
    "design_costs",
    "fit_saturation",
    "format_money",
    "format_target",
    "log_ticks",
    "pareto_front",
    "plot_frontier",
    "plot_saturation",
    "read_evaluation",
    "saturation_sentences",
    "short_count",
    "unit_costs",
    "usable_fractions",
]
