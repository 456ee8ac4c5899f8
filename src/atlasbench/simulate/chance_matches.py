"""Chance matches to the grammar's motifs removed from a designed genome.

The truth of a design depends on its planted sites alone (:mod:`.grammar`). A background
sequence, real or Markov, also holds chance matches to the same motifs, as strong as a
planted site: at a relative score of 0.85 (:func:`~.motifs.relative_scores`) there are
about 25 per kb over the fly grammar's eleven motifs. A model can only learn what the
sequence shows, so a strong chance match that the truth ignores, or a weak planted site
that it counts, is an error no amount of data removes. Measured on the demo's design, a
model trained on the noise-free truth reached a test Pearson of 0.75 with these matches
left in place (and two pairs of look-alike activators, since replaced).

So after planting, :func:`remove_chance_matches` scans each chromosome for windows whose
relative score reaches ``threshold`` for any grammar motif and that do not overlap a
planted site of that motif. A first pass breaks all of them at once, each by one
substitution: at the position of the window where the match gains most over the motif's
least likely base, that base is put in (a position inside a planted site is never
changed). Substitutions can make new matches, so the scan repeats, now one match at a
time and only with substitutions that lower the number of matches over the position,
which guarantees an end. Matches that lie inside planted sites of other motifs cannot be
broken and are counted; the design draws sites that hold none. Planted sites, drawn at a
higher score (:attr:`.grammar.GrammarParams.site_score`), are then the only matches in
the genome: the truth is a function of the sequence, with a margin between what counts
and what does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from atlasbench.errors import AtlasbenchError
from atlasbench.io.genome import base_codes
from atlasbench.io.jaspar import BASES, Motif
from atlasbench.simulate.motifs import relative_scores, strand_matrices, strand_scores

_LETTERS = BASES.encode("ascii")


def _protected(length: int, spans: Iterable[tuple[int, int]]) -> np.ndarray:
    mask = np.zeros(length, dtype=bool)
    for start, end in spans:
        mask[start:end] = True
    return mask


def _matches_near(codes: np.ndarray, position: int, motifs: Sequence[Motif], threshold: float) -> int:
    """Windows of any motif covering ``position`` that score at least ``threshold``."""
    count = 0
    for motif in motifs:
        lo = max(0, position - motif.length + 1)
        count += int(np.count_nonzero(relative_scores(codes[lo : position + motif.length], motif) >= threshold))
    return count


def _substitute(
    codes: np.ndarray, start: int, matrix: np.ndarray, free: np.ndarray, motifs: Sequence[Motif], threshold: float
) -> bool:
    """One substitution lowering the window at ``start`` scored by ``matrix``; False if none lowers it.

    The costliest substitution for the match (the position where it gains most over the
    least likely base, that base put in) among those that lower the number of matches
    of all motifs over the position. Every substitution lowers that number, so breaking
    matches one after another ends.
    """
    window = codes[start : start + len(matrix)]
    positions = np.arange(len(matrix))
    gain = matrix[positions, window] - matrix[:, :4].min(axis=1)
    order = [int(j) for j in np.argsort(-gain, kind="stable") if free[j] and gain[j] > 0]
    if not order:
        return False
    for j in order:
        position = start + j
        old = int(codes[position])
        before = _matches_near(codes, position, motifs, threshold)
        for base in np.argsort(matrix[j, :4], kind="stable"):
            if matrix[j, base] >= matrix[j, old]:
                break
            codes[position] = base
            if _matches_near(codes, position, motifs, threshold) < before:
                return True
        codes[position] = old
    return False


def _break_match(
    codes: np.ndarray, start: int, motif: Motif, motifs: Sequence[Motif], protected: np.ndarray, threshold: float
) -> str:
    """Lower the match ``codes[start:start + motif.length]`` below ``threshold``.

    Substitutions (:func:`_substitute`) until it is below. Returns "broken", "gone" (an
    earlier substitution already broke it) or "stuck" (the bases it could change, those
    outside planted sites, cannot bring it below).
    """
    window = codes[start : start + motif.length]
    free = ~protected[start : start + motif.length] & (window < 4)
    score, matrix = strand_scores(window, motif)
    if score < threshold:
        return "gone"
    while score >= threshold:
        if not _substitute(codes, start, matrix, free, motifs, threshold):
            return "stuck"
        score, matrix = strand_scores(window, motif)
    return "broken"


def _chance_hits(codes: np.ndarray, motif: Motif, own: np.ndarray, threshold: float) -> np.ndarray:
    """Starts of the windows matching ``motif`` that overlap none of its planted sites (``own``)."""
    hits = np.flatnonzero(relative_scores(codes, motif) >= threshold)
    covered = np.concatenate([[0], np.cumsum(own)])
    return hits[covered[hits + motif.length] == covered[hits]]


def _greedy_pass(codes: np.ndarray, hits: np.ndarray, motif: Motif, protected: np.ndarray) -> None:
    """Break all ``hits`` of one motif at once, each at its costliest free position."""
    matrix, reverse, _, _ = strand_matrices(motif)
    offsets = np.arange(motif.length)
    windows = codes[hits[:, None] + offsets]
    on_reverse = reverse[offsets, windows].sum(axis=1) > matrix[offsets, windows].sum(axis=1)
    chosen = np.where(on_reverse[:, None, None], reverse[None], matrix[None])
    gain = np.take_along_axis(chosen, windows[:, :, None], axis=2)[:, :, 0] - chosen[:, :, :4].min(axis=2)
    gain[protected[hits[:, None] + offsets] | (windows == 4)] = -np.inf
    best = np.argmax(gain, axis=1)
    ok = np.isfinite(gain[np.arange(len(hits)), best])
    rows = np.flatnonzero(ok)
    codes[hits[rows] + best[rows]] = np.argmin(chosen[rows, best[rows], :4], axis=1)


def remove_chance_matches(
    genome: Mapping[str, str],
    motifs: Sequence[Motif],
    planted: Mapping[str, Sequence[tuple[str, int, int]]],
    threshold: float,
) -> tuple[dict[str, str], int, int]:
    """Break every match of the motifs that is not a planted site (see the module docs).

    A first pass breaks all matches at once, each by its costliest substitution; the few
    that this makes or leaves are then broken one at a time by substitutions that make
    no new match.

    Parameters
    ----------
    genome
        Chromosome -> uppercase sequence, the sites already planted.
    motifs
        The grammar's motifs.
    planted
        Chromosome -> planted sites ``(motif name, start, end)``.
    threshold
        Relative score in (0, 1] from which a window counts as a match.

    Returns
    -------
    genome : dict
        Chromosome -> sequence, with the chance matches broken.
    substitutions : int
        Bases changed.
    left : int
        Chance matches that could not be broken: those whose bases outside planted sites
        cannot bring them below the threshold (a match of one motif inside a site of
        another, mostly).

    Raises
    ------
    AtlasbenchError
        On a threshold outside (0, 1].
    """
    if not 0 < threshold <= 1:
        raise AtlasbenchError(f"the chance-match threshold must be in (0, 1], got {threshold}")
    out: dict[str, str] = {}
    substitutions = 0
    left = 0
    for chrom, seq in genome.items():
        codes = base_codes(seq)
        original = codes.copy()
        sites = planted.get(chrom, ())
        protected = _protected(len(codes), ((s, e) for _, s, e in sites))
        own = {m.name: _protected(len(codes), ((s, e) for name, s, e in sites if name == m.name)) for m in motifs}
        for motif in motifs:
            hits = _chance_hits(codes, motif, own[motif.name], threshold)
            if len(hits):
                _greedy_pass(codes, hits, motif, protected)
        while True:
            broken = stuck = 0
            for motif in motifs:
                for start in _chance_hits(codes, motif, own[motif.name], threshold):
                    outcome = _break_match(codes, int(start), motif, motifs, protected, threshold)
                    broken += outcome == "broken"
                    stuck += outcome == "stuck"
            if broken == 0:
                break
        left += stuck
        changed = np.flatnonzero(codes != original)
        substitutions += len(changed)
        buffer = bytearray(seq.encode("latin-1"))
        for position in changed:
            buffer[position] = _LETTERS[codes[position]]
        out[chrom] = buffer.decode("latin-1")
    return out, substitutions, left
