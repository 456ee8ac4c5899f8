"""Cost model (being split into modules; this step only moves the file)."""

from atlasbench.readouts.cost.designs import *  # noqa: F403
from atlasbench.readouts.cost.designs import (  # noqa: F401
    __all__,
    _cheapest_sentences,
    _currency,
    _log_ticks,
    _plot_frontier,
    _short,
)
