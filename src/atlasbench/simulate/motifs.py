"""Binding sites drawn from JASPAR motifs, and sequences scored against them.

The simulator takes its motifs from the JASPAR CORE collection
(:func:`atlasbench.io.jaspar.jaspar_motif`), draws binding-site instances from their
probability matrices and scores sequences by log-odds against a background.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from atlasbench.errors import AtlasbenchError
from atlasbench.io.jaspar import BASES, Motif

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
_MAX_DRAWS = 1000
_PSEUDOCOUNT = 0.01


def sample_instance(motif: Motif, rng: np.random.Generator, min_score: float = 0.0) -> str:
    """Draw one binding-site sequence from a motif.

    Each position's base is drawn independently from that position's row of the
    probability matrix, so instances vary the way real bound sites do: mostly the
    consensus at informative positions, anything at uninformative ones. With
    ``min_score``, draws scoring lower (:func:`relative_scores`, on the motif's strand)
    are rejected and drawn again. The instance reads on the motif's own strand; the
    caller decides on which genomic strand it goes (see :func:`reverse_complement`).

    Parameters
    ----------
    motif
        The motif to sample from.
    rng
        Source of randomness; one uniform number is drawn per position and draw.
    min_score
        Least relative score of the instance, in [0, 1).

    Returns
    -------
    str
        Uppercase sequence of ``motif.length`` bases.

    Raises
    ------
    AtlasbenchError
        When ``min_score`` is outside [0, 1), or 1,000 draws all score below it.
    """
    if not 0 <= min_score < 1:
        raise AtlasbenchError(f"min_score must be in [0, 1), got {min_score}")
    cumulative = np.cumsum(motif.probs, axis=1)
    matrix, _, lowest, highest = strand_matrices(motif)
    positions = np.arange(motif.length)
    for _ in range(_MAX_DRAWS):
        u = rng.random(motif.length)
        idx = np.minimum((cumulative < u[:, None]).sum(axis=1), 3)
        if (matrix[positions, idx].sum() - lowest) / (highest - lowest) >= min_score:
            return "".join(BASES[i] for i in idx)
    raise AtlasbenchError(
        f"no instance of motif {motif.name} in {_MAX_DRAWS} draws reached relative score {min_score}; use a lower one"
    )


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


def score_matrix(motif: Motif) -> np.ndarray:
    """Log-odds of a motif against a uniform background, with a column for N.

    The probabilities get a pseudocount of 0.01 before the log (JASPAR matrices have
    zeros), so every base scores a finite number; an N scores its position's worst base.

    Parameters
    ----------
    motif
        The motif.

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(length, 5)``: columns A, C, G, T, N in the order of
        :func:`atlasbench.io.genome.base_codes`.
    """
    probs = (motif.probs + _PSEUDOCOUNT) / (1 + 4 * _PSEUDOCOUNT)
    lo = np.log2(probs / 0.25)
    return np.column_stack([lo, lo.min(axis=1)])


@functools.lru_cache(maxsize=256)
def strand_matrices(motif: Motif) -> tuple[np.ndarray, np.ndarray, float, float]:
    """:func:`score_matrix` of both strands, and the lowest and highest scores.

    Parameters
    ----------
    motif
        The motif.

    Returns
    -------
    forward, reverse : numpy.ndarray
        Read-only ``(length, 5)`` score matrices of the motif and of its reverse
        complement (columns A, C, G, T, N).
    lowest, highest : float
        The lowest and highest score a sequence can reach.
    """
    matrix = score_matrix(motif)
    # complement of code b is 3 - b for A, C, G, T: reversed columns; N stays last
    reverse = np.column_stack([matrix[::-1, 3::-1], matrix[::-1, 4]])
    matrix.flags.writeable = False
    reverse.flags.writeable = False
    return matrix, reverse, float(matrix[:, :4].min(axis=1).sum()), float(matrix[:, :4].max(axis=1).sum())


def relative_scores(codes: np.ndarray, motif: Motif) -> np.ndarray:
    """Relative score of every window of a sequence, on its better strand.

    The relative score of a motif-long window is ``(s - min) / (max - min)``, with ``s``
    its :func:`score_matrix` score and ``min``, ``max`` the lowest and highest scores any
    sequence can reach: 1 for the consensus, 0 for the worst sequence (the convention of
    MOODS and TFBSTools, whose usual "match" threshold is 0.8). Computed for the window
    and for its reverse complement, the better of the two kept.

    Parameters
    ----------
    codes
        uint8 base codes of one sequence (:func:`atlasbench.io.genome.base_codes`).
    motif
        The motif.

    Returns
    -------
    numpy.ndarray
        float64 array of ``len(codes) - motif.length + 1`` scores in [0, 1] (empty when
        the sequence is shorter than the motif); entry ``i`` scores ``codes[i:i + length]``.
    """
    matrix, reverse, lowest, highest = strand_matrices(motif)
    n = len(codes) - motif.length + 1
    if n <= 0:
        return np.zeros(0)
    forward = np.zeros(n)
    backward = np.zeros(n)
    for j in range(motif.length):
        window = codes[j : j + n]
        forward += matrix[j][window]
        backward += reverse[j][window]
    return (np.maximum(forward, backward) - lowest) / (highest - lowest)


def strand_scores(window: np.ndarray, motif: Motif) -> tuple[float, np.ndarray]:
    """Relative score of one motif-long window and the score matrix of its better strand.

    Parameters
    ----------
    window
        uint8 base codes, ``motif.length`` of them.
    motif
        The motif.

    Returns
    -------
    score : float
        The window's :func:`relative_scores` score.
    matrix : numpy.ndarray
        Read-only ``(length, 5)`` score matrix of the strand that gives it, positions in
        the window's order (the reverse complement's matrix for a match on the minus strand).
    """
    matrix, reverse, lowest, highest = strand_matrices(motif)
    positions = np.arange(motif.length)
    forward, backward = matrix[positions, window].sum(), reverse[positions, window].sum()
    best = matrix if forward >= backward else reverse
    return (max(forward, backward) - lowest) / (highest - lowest), best
