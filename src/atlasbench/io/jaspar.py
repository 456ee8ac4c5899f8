"""JASPAR motifs, read offline from the SQLite database shipped inside ``pyjaspar``.

A motif is a position probability matrix: one row per position, one column per base
(A, C, G, T), each row the probability of seeing each base at that position in a bound
site. Counts become probabilities with a small pseudocount. The simulator plants
motifs taken from here; the motif read-outs match learned patterns against them.
"""

from __future__ import annotations

import difflib
import functools
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from atlasbench.errors import AtlasbenchError

BASES = "ACGT"

#: Pseudocount added to every base of every position, as a fraction of the position's
#: total count: p = (count + PSEUDOCOUNT * total) / (total * (1 + 4 * PSEUDOCOUNT)).
#: It keeps every base possible (no infinite log-odds) while leaving the motif's shape.
PSEUDOCOUNT = 0.01

_MATRIX_ID = re.compile(r"^MA\d{4}\.\d+$")
_DROSOPHILA_TAX_ID = "7227"


@dataclass(frozen=True)
class Motif:
    """A JASPAR motif as a position probability matrix.

    Attributes
    ----------
    name
        The transcription factor's name as JASPAR spells it (``"twi"``, ``"Trl"``).
    matrix_id
        JASPAR matrix ID with version (``"MA0249.3"``); two motifs are equal when their
        name and matrix ID are.
    probs
        float64 array of shape ``(length, 4)``: per position, the probability of A, C, G
        and T; rows sum to 1. Read-only.
    """

    name: str
    matrix_id: str
    probs: np.ndarray = field(compare=False, repr=False)

    @property
    def length(self) -> int:
        """Number of positions."""
        return int(self.probs.shape[0])

    @property
    def consensus(self) -> str:
        """The most probable base at each position."""
        return "".join(BASES[i] for i in self.probs.argmax(axis=1))


@functools.lru_cache(maxsize=1)
def _database():  # pyjaspar.jaspardb; imported lazily (it opens a SQLite file)
    from pyjaspar import jaspardb

    return jaspardb()


@functools.lru_cache(maxsize=1)
def core_names() -> tuple[str, ...]:
    """Names of all transcription factors in the shipped JASPAR CORE collection, sorted."""
    rows = _database().conn.execute("SELECT DISTINCT NAME FROM MATRIX WHERE COLLECTION = 'CORE'").fetchall()
    return tuple(sorted(row[0] for row in rows))


def _close_names(name: str) -> list[str]:
    names = core_names()
    lowered = name.lower()
    same_but_case = [n for n in names if n.lower() == lowered]
    by_spelling = difflib.get_close_matches(name, names, n=6, cutoff=0.6)
    return list(dict.fromkeys(same_but_case + by_spelling))[:6]


@functools.lru_cache(maxsize=256)
def jaspar_motif(name: str) -> Motif:
    """Load a motif from JASPAR CORE by transcription-factor name (or matrix ID).

    The latest version of the matrix in the newest JASPAR release shipped with
    ``pyjaspar`` is used; no network access is needed. Counts become probabilities with
    a pseudocount of :data:`PSEUDOCOUNT` of each position's total. Where CORE holds
    several matrices under one name, the Drosophila one is preferred, then the lowest
    matrix ID. Results are cached, so repeated calls are free.

    Parameters
    ----------
    name
        The factor's name, case-sensitive as JASPAR spells it (``"twi"``, ``"GATAe"``,
        ``"Trl"``), or a matrix ID such as ``"MA0249.3"``.

    Returns
    -------
    Motif
        Name, matrix ID and the ``(length, 4)`` probability matrix.

    Raises
    ------
    AtlasbenchError
        If CORE has no motif of that name; the message lists close names.
    """
    db = _database()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyjaspar warns instead of returning nothing quietly
        if _MATRIX_ID.match(name):
            found = db.fetch_motif_by_id(name)
            candidates = [found] if found is not None else []
        elif name in core_names():
            # pyjaspar matches names ignoring case; JASPAR spells fly and human factors apart
            candidates = [m for m in db.fetch_motifs(collection="CORE", tf_name=name) if m.name == name]
        else:
            candidates = []
    if not candidates:
        close = [] if _MATRIX_ID.match(name) else _close_names(name)
        hint = f"; close names: {', '.join(close)}" if close else ""
        raise AtlasbenchError(f"no JASPAR CORE motif named {name!r}{hint}")
    candidates.sort(key=lambda m: (_DROSOPHILA_TAX_ID not in [str(t) for t in (m.species or [])], m.matrix_id))
    chosen = candidates[0]
    return _as_motif(chosen.name, chosen.matrix_id, chosen.counts)


def _as_motif(name: str, matrix_id: str, counts_by_base) -> Motif:
    """Per-base count columns as a :class:`Motif` (pseudocount :data:`PSEUDOCOUNT`)."""
    counts = np.array([counts_by_base[base] for base in BASES], dtype=np.float64).T
    totals = counts.sum(axis=1, keepdims=True)
    probs = (counts + PSEUDOCOUNT * totals) / (totals * (1.0 + 4.0 * PSEUDOCOUNT))
    probs /= probs.sum(axis=1, keepdims=True)
    probs.setflags(write=False)
    return Motif(name=name, matrix_id=matrix_id, probs=probs)


@functools.lru_cache(maxsize=16)
def jaspar_collection(tax_group: str | None = None) -> tuple[Motif, ...]:
    """All JASPAR CORE motifs (latest version of each matrix), optionally of one taxon.

    Read with three SQL queries from ``pyjaspar``'s database (fetching motif by motif
    through its API takes 20 s for the whole collection).

    Parameters
    ----------
    tax_group
        JASPAR taxonomic group (``"insects"``, ``"vertebrates"``, ``"plants"``,
        ``"nematodes"``, ``"fungi"``, ...); None for the whole CORE collection.

    Returns
    -------
    tuple of Motif
        Sorted by matrix ID.

    Raises
    ------
    AtlasbenchError
        If the group holds no motif (the message lists the groups there are).
    """
    conn = _database().conn
    latest = (
        "SELECT m.ID, m.BASE_ID || '.' || m.VERSION, m.NAME FROM MATRIX m WHERE m.COLLECTION = 'CORE' "
        "AND m.VERSION = (SELECT MAX(VERSION) FROM MATRIX WHERE BASE_ID = m.BASE_ID)"
    )
    if tax_group is None:
        rows = conn.execute(latest).fetchall()
    else:
        rows = conn.execute(
            latest + " AND m.ID IN (SELECT ID FROM MATRIX_ANNOTATION WHERE TAG = 'tax_group' AND VAL = ?)", (tax_group,)
        ).fetchall()
    if not rows:
        groups = [
            r[0]
            for r in conn.execute("SELECT DISTINCT VAL FROM MATRIX_ANNOTATION WHERE TAG = 'tax_group' ORDER BY VAL")
        ]
        raise AtlasbenchError(f"JASPAR CORE has no motif of tax group {tax_group!r}; groups: {', '.join(groups)}")
    counts: dict[int, dict[str, list[tuple[int, float]]]] = {}
    for matrix, base, column, value in conn.execute("SELECT ID, row, col, val FROM MATRIX_DATA"):
        counts.setdefault(matrix, {}).setdefault(base, []).append((column, value))
    motifs = []
    for matrix, matrix_id, name in rows:
        by_base = {base: [v for _, v in sorted(values)] for base, values in counts[matrix].items()}
        motifs.append(_as_motif(name, matrix_id, by_base))
    return tuple(sorted(motifs, key=lambda m: m.matrix_id))
