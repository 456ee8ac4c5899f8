"""Names of a platform's datasets on the study grid: the level key of a (reads per cell, cells) level.

Every dataset a study builds from a platform is one *level*: a target mean reads per cell
and a number of cells, each a number or ``"all"``. Its key, ``reads-R_cells-C``, names its
files and folders and the ``level`` column of the evaluation table; the platform's full
data (all reads of all cells) is :data:`FULL_LEVEL`. The study resolves which levels exist
(:mod:`atlasbench.study.scenarios`); whoever reads results back (the report) parses the
keys with :data:`LEVEL_PATTERN`.

Reads per cell are counted in the study's *reads unit* (:data:`ReadsUnit`): usable read
pairs (those in the cells' fragments) or sequenced read pairs (as the sequencer counted
them, converted with the platform's usable fraction). Level keys carry the number as
the study states it; tables name the unit with :func:`reads_unit_words`.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["ALL", "FULL_LEVEL", "LEVEL_PATTERN", "ReadsUnit", "level_key", "reads_unit_words"]

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


ReadsUnit = Literal["usable", "sequenced"]
"""What a reads-per-cell level counts: ``"usable"`` read pairs (in the cells' fragments,
the fragments file's count column) or ``"sequenced"`` read pairs."""


def reads_unit_words(unit: str) -> str:
    """The unit as tables and the report write it: ``"usable read pairs"`` or
    ``"sequenced read pairs"``.

    Parameters
    ----------
    unit
        A :data:`ReadsUnit`.

    Returns
    -------
    str
    """
    words = {"usable": "usable read pairs", "sequenced": "sequenced read pairs"}
    if unit not in words:
        raise ValueError(f"reads unit must be 'usable' or 'sequenced', got {unit!r}")
    return words[unit]
