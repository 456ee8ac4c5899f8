"""Names of a platform's datasets on the study grid: the level key of a (reads per cell, cells) level.

Every dataset a study builds from a platform is one *level*: a target mean reads per cell
and a number of cells, each a number or ``"all"``. Its key, ``reads-R_cells-C``, names its
files and folders and the ``level`` column of the evaluation table; the platform's full
data (all reads of all cells) is :data:`FULL_LEVEL`. The study resolves which levels exist
(:mod:`atlasbench.study.scenarios`); whoever reads results back (the report) parses the
keys with :data:`LEVEL_PATTERN`.
"""

from __future__ import annotations

import re

__all__ = ["ALL", "FULL_LEVEL", "LEVEL_PATTERN", "level_key"]

ALL = "all"
"""The level value meaning every read, or every cell, of a platform."""

LEVEL_PATTERN = re.compile(r"^reads-(?P<reads>[^_]+)_cells-(?P<cells>.+)$")
"""A level key, with groups ``reads`` and ``cells`` (each a number or ``"all"``)."""


def level_key(reads_per_cell: int | str, cells: int | str) -> str:
    """File-name key of a (reads per cell, cells) level, e.g. ``reads-12000_cells-all``.

    Parameters
    ----------
    reads_per_cell
        Target mean reads per cell, or ``"all"``.
    cells
        Number of cells, or ``"all"``.

    Returns
    -------
    str
    """
    return f"reads-{reads_per_cell}_cells-{cells}"


FULL_LEVEL = level_key(ALL, ALL)
"""The level of a platform's full data (all reads of all cells): ``reads-all_cells-all``."""
