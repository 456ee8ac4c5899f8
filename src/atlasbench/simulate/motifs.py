"""Real transcription-factor motifs from JASPAR, as probability matrices to sample from.

A motif is a position probability matrix: one row per position, one column per base
(A, C, G, T), each row the probability of seeing each base at that position in a bound
site. The simulator takes its motifs from the JASPAR CORE collection shipped inside
``pyjaspar`` (its latest release, read offline from the bundled SQLite file), turns the
counts into probabilities with a small pseudocount, draws binding-site instances from
them and scores sequences by log-odds against a background.
"""

from __future__ import annotations

import difflib
import functools
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from atlasbench.errors import AtlasbenchError

BASES = "ACGT"

#: Pseudocount added to every base of every position, as a fraction of the position's
#: total count: p = (count + PSEUDOCOUNT * total) / (total * (1 + 4 * PSEUDOCOUNT)).
#: It keeps every base possible (no infinite log-odds) while leaving the motif's shape.
PSEUDOCOUNT = 0.01

_MATRIX_ID = re.compile(r"^MA\d{4}\.\d+$")
_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
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
    counts = np.array([chosen.counts[base] for base in BASES], dtype=np.float64).T
    totals = counts.sum(axis=1, keepdims=True)
    probs = (counts + PSEUDOCOUNT * totals) / (totals * (1.0 + 4.0 * PSEUDOCOUNT))
    probs /= probs.sum(axis=1, keepdims=True)
    probs.setflags(write=False)
    return Motif(name=chosen.name, matrix_id=chosen.matrix_id, probs=probs)


def sample_instance(motif: Motif, rng: np.random.Generator) -> str:
    """Draw one binding-site sequence from a motif.

    Each position's base is drawn independently from that position's row of the
    probability matrix, so instances vary the way real bound sites do: mostly the
    consensus at informative positions, anything at uninformative ones. The instance
    reads on the motif's own strand; the caller decides on which genomic strand it goes
    (see :func:`reverse_complement`).

    Parameters
    ----------
    motif
        The motif to sample from.
    rng
        Source of randomness; one uniform number is drawn per position.

    Returns
    -------
    str
        Uppercase sequence of ``motif.length`` bases.
    """
    cumulative = np.cumsum(motif.probs, axis=1)
    u = rng.random(motif.length)
    idx = np.minimum((cumulative < u[:, None]).sum(axis=1), 3)
    return "".join(BASES[i] for i in idx)


def reverse_complement(seq: str) -> str:
    """Reverse complement of a DNA sequence (A/C/G/T/N, case kept)."""
    return seq.translate(_COMPLEMENT)[::-1]


def log_odds(motif: Motif, background: Sequence[float] = (0.25, 0.25, 0.25, 0.25)) -> np.ndarray:
    """Position weight matrix: log2 of motif probability over background probability.

    The score of a sequence of the motif's length is the sum, over positions, of the
    entry for the base it has there; bound-like sequences score high, random ones
    around or below zero.

    Parameters
    ----------
    motif
        The motif.
    background
        Probabilities of A, C, G and T in the background; four positive numbers summing
        to 1.

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(length, 4)``.
    """
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (4,) or np.any(bg <= 0) or not np.isclose(bg.sum(), 1.0):
        raise AtlasbenchError(
            f"background must be four positive probabilities (A, C, G, T) summing to 1, got {background!r}"
        )
    return np.log2(motif.probs / bg)
