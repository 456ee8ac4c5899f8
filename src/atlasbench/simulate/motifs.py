"""Binding sites drawn from JASPAR motifs, and sequences scored against them.

The simulator takes its motifs from the JASPAR CORE collection
(:func:`atlasbench.io.jaspar.jaspar_motif`), draws binding-site instances from their
probability matrices and scores sequences by log-odds against a background.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from atlasbench.errors import AtlasbenchError
from atlasbench.io.jaspar import BASES, Motif

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


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
