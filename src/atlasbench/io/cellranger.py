"""Cell Ranger ATAC / ARC outputs: the sequencing depth of a library and its cell calls.

Cell Ranger ATAC writes ``outs/summary.csv``, one row of metrics per library, whose
``Sequenced read pairs`` column (``num_reads`` or ``Number of reads`` in older
versions) counts every read pair sequenced; Cell Ranger ARC's ``summary.csv`` has
``ATAC Sequenced read pairs`` (and ``GEX ...`` columns for the expression library).
:func:`read_sequenced_read_pairs` reads that number, which the study compares with the
read pairs in annotated cells' fragments (the *usable fraction*).

Its per-barcode table, ``outs/singlecell.csv`` (Cell Ranger ATAC; column
``is__cell_barcode``) or ``outs/per_barcode_metrics.csv`` (ARC; column ``is_cell``),
says which barcodes it called cells; :func:`read_cell_calls` returns them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from atlasbench.errors import AtlasbenchError

__all__ = ["CELL_CALL_COLUMNS", "SEQUENCED_READ_PAIRS_COLUMNS", "read_cell_calls", "read_sequenced_read_pairs"]

SEQUENCED_READ_PAIRS_COLUMNS: tuple[str, ...] = (
    "ATAC Sequenced read pairs",
    "Sequenced read pairs",
    "num_reads",
    "Number of reads",
)
"""Columns of a ``summary.csv`` holding the sequenced read pairs, the first found is used:
Cell Ranger ARC's, Cell Ranger ATAC's (2.x), and older Cell Ranger ATAC's."""


def _read_table(path: Path, what: str) -> pd.DataFrame:
    """A Cell Ranger CSV as text, its header names stripped; a clear error if unreadable."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise AtlasbenchError(f"{path}: cannot read it as {what} ({exc})") from None
    table.columns = [str(c).strip() for c in table.columns]
    return table


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
    table = _read_table(path, "a Cell Ranger summary.csv")
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


CELL_CALL_COLUMNS: tuple[str, ...] = ("is__cell_barcode", "is_cell")
"""Columns of a per-barcode table flagging called cells (1) and other barcodes (0):
Cell Ranger ATAC's ``singlecell.csv``, Cell Ranger ARC's ``per_barcode_metrics.csv``."""


def read_cell_calls(path: str | os.PathLike[str]) -> list[str]:
    """Barcodes Cell Ranger called cells, from its per-barcode table.

    Parameters
    ----------
    path
        Cell Ranger ATAC's ``singlecell.csv`` (``barcode``, ..., ``is__cell_barcode``;
        its ``NO_BARCODE`` row is never a cell) or ARC's ``per_barcode_metrics.csv``
        (``barcode``, ..., ``is_cell``).

    Returns
    -------
    list of str
        The called barcodes, in file order, as written (e.g. ``AAACGAAAGAAACGCC-1``).

    Raises
    ------
    AtlasbenchError
        When the file cannot be read, lacks ``barcode`` or a cell-call column (the
        message names the file, the columns expected and found), or a flag is not 0/1.
    """
    path = Path(path)
    table = _read_table(path, "a Cell Ranger per-barcode table")
    column = next((c for c in CELL_CALL_COLUMNS if c in table.columns), None)
    if "barcode" not in table.columns or column is None:
        found = ", ".join(repr(c) for c in list(table.columns)[:20]) or "none"
        raise AtlasbenchError(
            f"{path}: not a Cell Ranger per-barcode table; expected a 'barcode' column and one of "
            f"{', '.join(repr(c) for c in CELL_CALL_COLUMNS)} (ATAC singlecell.csv or ARC "
            f"per_barcode_metrics.csv); found {found}"
        )
    flags = table[column].str.strip()
    bad = ~flags.isin(["0", "1"])
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise AtlasbenchError(f"{path}, line {row + 2}: column {column!r} must be 0 or 1, got {flags.iloc[row]!r}")
    return table.loc[flags == "1", "barcode"].tolist()
