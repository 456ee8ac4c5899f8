"""Cell Ranger ATAC / ARC run summaries: the sequencing depth of a library.

Cell Ranger ATAC writes ``outs/summary.csv``, one row of metrics per library, whose
``Sequenced read pairs`` column (``num_reads`` or ``Number of reads`` in older
versions) counts every read pair sequenced; Cell Ranger ARC's ``summary.csv`` has
``ATAC Sequenced read pairs`` (and ``GEX ...`` columns for the expression library).
:func:`read_sequenced_read_pairs` reads that number, which the study compares with the
read pairs in annotated cells' fragments (the *usable fraction*).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from atlasbench.errors import AtlasbenchError

__all__ = ["SEQUENCED_READ_PAIRS_COLUMNS", "read_sequenced_read_pairs"]

SEQUENCED_READ_PAIRS_COLUMNS: tuple[str, ...] = (
    "ATAC Sequenced read pairs",
    "Sequenced read pairs",
    "num_reads",
    "Number of reads",
)
"""Columns of a ``summary.csv`` holding the sequenced read pairs, the first found is used:
Cell Ranger ARC's, Cell Ranger ATAC's (2.x), and older Cell Ranger ATAC's."""


def _number(value: object) -> float:
    """A count as written in a summary: ``419000000``, ``"419,000,000"`` or ``4.19e8``."""
    if isinstance(value, str):
        value = value.strip().replace(",", "")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def read_sequenced_read_pairs(path: str | os.PathLike[str]) -> int:
    """Sequenced read pairs of a library from a Cell Ranger ATAC or ARC ``summary.csv``.

    Parameters
    ----------
    path
        The ``summary.csv``: a header line and one row per library; with several rows
        (libraries) their read pairs are added.

    Returns
    -------
    int
        Read pairs sequenced, e.g. 419,000,000.

    Raises
    ------
    AtlasbenchError
        When the file cannot be read, has none of :data:`SEQUENCED_READ_PAIRS_COLUMNS`
        (the message names the file, the columns expected and the columns found) or its
        value is not a positive number.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise AtlasbenchError(f"{path}: cannot read it as a Cell Ranger summary.csv ({exc})") from None
    table.columns = [str(c).strip() for c in table.columns]
    column = next((c for c in SEQUENCED_READ_PAIRS_COLUMNS if c in table.columns), None)
    if column is None:
        expected = ", ".join(repr(c) for c in SEQUENCED_READ_PAIRS_COLUMNS)
        found = ", ".join(repr(c) for c in list(table.columns)[:20]) or "none"
        raise AtlasbenchError(
            f"{path}: no sequenced read pairs column; expected one of {expected} "
            f"(Cell Ranger ATAC or ARC summary.csv); found {found}"
        )
    if len(table) == 0:
        raise AtlasbenchError(f"{path}: column {column!r} has no value (no rows after the header)")
    values = [_number(v) for v in table[column]]
    bad = [v for v, x in zip(table[column], values) if not (math.isfinite(x) and x > 0)]
    if bad:
        raise AtlasbenchError(f"{path}: column {column!r} must hold a positive number, got {bad[0]!r}")
    return round(sum(values))
