"""Background sequence: a genome of any size with the statistics of a real one.

The simulator plants its motifs into a background sequence. By default that is the
bundled real dm6 slice (1.38 Mbp), which holds about 2,000 regions and brings the real
genome's tandem repeats with it. :func:`markov_genome` makes a background of any size
instead: a *k-th order Markov chain* fitted on a source genome (the bundled slice, or any
FASTA), whose every base is drawn given the ``k`` bases before it, with the probabilities
of the source.

**Fitting** (:func:`fit_markov`). Every (k+1)-mer of the source made of A, C, G and T is
counted on both strands (the counts of a word and of its reverse complement are added, so
the chain reads the same on either strand), lower and upper case alike; a word touching
an N is skipped. A pseudocount (1) is added to every (k+1)-mer, so that no transition has
probability 0. The probability of base ``b`` after context ``w`` is
``count(wb) / count(w*)``; a chain starts from a context drawn with the source's k-mer
frequencies. Such a chain reproduces the source's frequencies of every word of up to
``k + 1`` bases (GC content, CpG depletion, poly-A tracts, dinucleotide steps, the
frequencies of every 6-mer at the default order 5), and nothing longer: it cannot copy a
satellite or any tandem repeat longer than its context, so the repeats of the source
become about as rare as chance makes them. Measured by :func:`low_complexity_share` (100
bp windows with at most 50 distinct 6-mers of their 95): the bundled dm6 slice has 11.8%
such windows (its 3R piece is half satellite; 9.9% of the windows of regions laid on it
as the demo lays them), a 20 Mbp order-5 background fitted on it 0.017% (order 3: none;
order 6: 0.4%; order 8: 2.6%, as higher orders start to copy the satellites).

**Sampling** (:func:`sample_markov`). A chain is sequential, so a Python loop over bases
would take minutes for a large genome. Instead the sequence is drawn as many independent
chains of at least 2,048 bp (up to 16,384 chains) advanced together, one numpy step per
position for all of them: the inverse CDF of each chain's current context compared with
a uniform number. The chains are laid end to end; at each seam the context starts afresh
from the source's k-mer frequencies, so the k-mers are right everywhere and only the k
(k+1)-mers that straddle each seam (0.25% of them at order 5) are drawn as two
independent halves. On one CPU core this makes 70-100 Mbp a second at order 5 (measured: 2 Mbp in
0.04 s, 20 Mbp in 0.2 s, 50 Mbp in 0.7 s). The same generator state gives the same
sequence; a different length gives a different sequence, not a longer one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from atlasbench.errors import AtlasbenchError

#: Default order of the Markov background: each base depends on the 5 before it, so the
#: frequencies of all 6-mers are the source's.
DEFAULT_ORDER = 5

#: Chromosomes of a Markov background: enough for chromosome folds of up to 10 groups.
DEFAULT_CHROMOSOMES = 10

_MAX_ORDER = 12
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
    _CODE[ord(chr(_b).lower())] = _i
_LETTERS = np.frombuffer(b"ACGT", dtype=np.uint8)
_COUNT_PIECE = 1 << 23  # bases encoded at once when counting words
_MIN_CHAIN = 2_048  # least bases of one independent chain when sampling
_MAX_CHAINS = 1 << 14  # chains advanced together
_UNIFORM_BLOCK = 256  # positions of uniform numbers drawn at once


@dataclass(frozen=True, eq=False)
class MarkovBackground:
    """A k-th order Markov chain over A, C, G, T, fitted on a source genome.

    Contexts and words are numbered as base-4 numbers of their bases (A=0, C=1, G=2,
    T=3), the first base the most significant: ``"AAC"`` is 1, ``"CA"`` is 4.

    Attributes
    ----------
    order
        ``k``: how many preceding bases each base depends on.
    transitions
        Probability of each next base given the context, shape ``(4**order, 4)``; each
        row sums to 1.
    start
        Probability of each k-mer as the first context of a chain (the source's k-mer
        frequencies, both strands), shape ``(4**order,)``.
    source_bases
        (k+1)-mers counted in the source, both strands together.
    """

    order: int
    transitions: np.ndarray
    start: np.ndarray
    source_bases: int


def kmer_counts(genome: Mapping[str, str], k: int, both_strands: bool = True) -> np.ndarray:
    """Count every k-mer of a genome made of A, C, G and T only.

    Parameters
    ----------
    genome
        Chromosome -> sequence; case is ignored, words touching any other letter (N) are
        skipped.
    k
        Word length, 1 to 13.
    both_strands
        Add the reverse strand: each word's count plus its reverse complement's.

    Returns
    -------
    numpy.ndarray
        int64 counts, shape ``(4**k,)``, indexed as in :class:`MarkovBackground`.
    """
    if not 1 <= k <= _MAX_ORDER + 1:
        raise AtlasbenchError(f"k-mers of {k} bases are not counted; use 1 to {_MAX_ORDER + 1}")
    counts = np.zeros(4**k, dtype=np.int64)
    for seq in genome.values():
        for lo in range(0, max(1, len(seq) - k + 1), _COUNT_PIECE):
            piece = seq[lo : lo + _COUNT_PIECE + k - 1]
            if len(piece) < k:
                break
            codes = _CODE[np.frombuffer(piece.encode("latin-1"), dtype=np.uint8)]
            index, valid = _word_index(codes, k)
            counts += np.bincount(index[valid], minlength=4**k)
    if both_strands:
        counts = counts + counts[_reverse_complement_index(k)]
    return counts


def fit_markov(source: Mapping[str, str], order: int = DEFAULT_ORDER, pseudocount: float = 1.0) -> MarkovBackground:
    """Fit a k-th order Markov chain on a genome, both strands together.

    See the module docstring for the model.

    Parameters
    ----------
    source
        Chromosome -> sequence (any case; N and other letters are skipped).
    order
        ``k``, 0 (independent bases with the source's composition) to 12.
    pseudocount
        Added to the count of every (k+1)-mer.

    Returns
    -------
    MarkovBackground
        The fitted chain.

    Raises
    ------
    AtlasbenchError
        On an order out of range or a source without a single (k+1)-mer of A, C, G, T.
    """
    if not isinstance(order, (int, np.integer)) or not 0 <= order <= _MAX_ORDER:
        raise AtlasbenchError(f"the Markov background's order must be an integer from 0 to {_MAX_ORDER}, got {order!r}")
    counts = kmer_counts(source, order + 1)
    total = int(counts.sum())
    if total == 0:
        raise AtlasbenchError(
            f"the source genome has no run of {order + 1} bases of A, C, G, T to fit a Markov chain on"
        )
    table = counts.reshape(4**order, 4).astype(np.float64) + pseudocount
    context = table.sum(axis=1)
    return MarkovBackground(
        order=int(order), transitions=table / context[:, None], start=context / context.sum(), source_bases=total
    )


def sample_markov(model: MarkovBackground, length: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``length`` bases from a Markov chain, as codes 0-3 (A, C, G, T).

    Many independent chains of at least 2,048 bp are advanced together and laid end to
    end (see the module docstring: only the (k+1)-mers straddling a seam are off).

    Parameters
    ----------
    model
        The chain (:func:`fit_markov`).
    length
        Bases to draw.
    rng
        Source of randomness; the same state gives the same bases.

    Returns
    -------
    numpy.ndarray
        uint8 codes, shape ``(length,)``.
    """
    if length < 0:
        raise AtlasbenchError(f"cannot draw a sequence of {length} bases")
    k = model.order
    n_chains = max(1, min(_MAX_CHAINS, length // _MIN_CHAIN))
    steps = -(-length // n_chains)
    out = np.empty((steps, n_chains), dtype=np.uint8)
    context = rng.choice(4**k, size=n_chains, p=model.start).astype(np.intp)
    for j in range(min(k, steps)):
        out[j] = (context >> (2 * (k - 1 - j))) & 3
    cumulative = np.cumsum(model.transitions, axis=1).astype(np.float32)
    thresholds = [np.ascontiguousarray(cumulative[:, b]) for b in range(3)]
    mask = 4**k - 1
    base = np.empty(n_chains, dtype=np.uint8)
    step = np.empty(n_chains, dtype=bool)
    for t0 in range(min(k, steps), steps, _UNIFORM_BLOCK):
        uniform = rng.random((min(_UNIFORM_BLOCK, steps - t0), n_chains), dtype=np.float32)
        for i, u in enumerate(uniform):
            # the base is the number of cumulative probabilities below u (inverse CDF)
            np.greater_equal(u, thresholds[0].take(context), out=step)
            base[:] = step
            for threshold in thresholds[1:]:
                np.greater_equal(u, threshold.take(context), out=step)
                base += step
            out[t0 + i] = base
            context <<= 2
            context |= base
            context &= mask
    return out.T.reshape(-1)[:length]


def decode(codes: np.ndarray) -> str:
    """Codes 0-3 as a string of A, C, G, T."""
    return _LETTERS[codes].tobytes().decode("ascii")


def chromosome_lengths(length: int, n_chromosomes: int = DEFAULT_CHROMOSOMES) -> dict[str, int]:
    """Names and lengths of a simulated karyotype: ``chr1`` (largest) to ``chrN``.

    Lengths fall linearly from 1.5 to 0.5 times the mean, as chromosomes of a real genome
    differ in size (the largest gets the rounding), and sum to ``length``.
    """
    if n_chromosomes < 1 or length < n_chromosomes:
        raise AtlasbenchError(f"cannot split {length:,} bp into {n_chromosomes} chromosomes")
    weights = np.linspace(1.5, 0.5, n_chromosomes) if n_chromosomes > 1 else np.ones(1)
    sizes = np.floor(length * weights / weights.sum()).astype(np.int64)
    sizes[0] += length - int(sizes.sum())
    return {f"chr{i + 1}": int(size) for i, size in enumerate(sizes)}


def markov_genome(
    source: Mapping[str, str],
    length: int,
    n_chromosomes: int = DEFAULT_CHROMOSOMES,
    order: int = DEFAULT_ORDER,
    *,
    rng: np.random.Generator,
) -> dict[str, str]:
    """A genome of any size drawn from a Markov chain fitted on a source genome.

    The chain (:func:`fit_markov`) keeps the source's frequencies of every word of up to
    ``order + 1`` bases on both strands and none of its long repeats; the sequence is
    drawn at 70-100 Mbp a second (:func:`sample_markov`) and cut into chromosomes
    ``chr1`` to ``chrN`` of falling length (:func:`chromosome_lengths`). It has no N.

    Parameters
    ----------
    source
        Chromosome -> sequence whose statistics are kept (e.g. the bundled dm6 slice).
    length
        Total bases of the genome.
    n_chromosomes
        Chromosomes to cut it into.
    order
        Order of the Markov chain.
    rng
        Source of randomness: the same seed gives the same genome.

    Returns
    -------
    dict of str to str
        Chromosome -> uppercase sequence, largest chromosome first.
    """
    sizes = chromosome_lengths(length, n_chromosomes)
    codes = sample_markov(fit_markov(source, order), length, rng)
    edges = np.cumsum([0, *sizes.values()])
    return {name: decode(codes[lo:hi]) for name, lo, hi in zip(sizes, edges[:-1], edges[1:])}


def low_complexity_share(genome: Mapping[str, str], window: int = 100, k: int = 6, max_distinct: int = 50) -> float:
    """Share of a genome's windows that are tandem repeats or other low-complexity sequence.

    The genome is cut into non-overlapping windows of ``window`` bp; a window is low
    complexity when its overlapping k-mers (95 in a 100 bp window) hold at most
    ``max_distinct`` different words. Random sequence repeats almost no 6-mer within 100
    bp (about 94 distinct of 95); a tandem repeat of period ``p`` has at most ``p``
    distinct k-mers, and a simple-sequence or satellite window few. Windows with any
    letter other than A, C, G, T are left out. Measured with the defaults, the bundled
    dm6 slice has 11.8% low-complexity windows (its 3R piece 51%, 2L and 2R none), a 20
    Mbp order-5 Markov background fitted on it 0.017%, order 3 and uniform random
    sequence none.

    Parameters
    ----------
    genome
        Chromosome -> sequence.
    window
        Window width in bp.
    k
        Word length.
    max_distinct
        Most distinct k-mers of a low-complexity window.

    Returns
    -------
    float
        The share of windows (nan for a genome without a full window of A, C, G, T).
    """
    if not 1 <= k <= min(window, _MAX_ORDER + 1):
        raise AtlasbenchError(f"k-mers of {k} bases do not fit windows of {window} bp")
    low = total = 0
    for seq in genome.values():
        for lo in range(0, len(seq) - window + 1, _COUNT_PIECE // window * window):
            piece = seq[lo : lo + _COUNT_PIECE // window * window]
            n_windows = len(piece) // window
            codes = _CODE[np.frombuffer(piece[: n_windows * window].encode("latin-1"), dtype=np.uint8)]
            words = codes.reshape(n_windows, window)
            index = np.zeros((n_windows, window - k + 1), dtype=np.int64)
            for j in range(k):
                index = index * 4 + (words[:, j : j + window - k + 1] & 3)
            clean = (words < 4).all(axis=1)
            index = np.sort(index[clean], axis=1)
            distinct = 1 + (np.diff(index, axis=1) != 0).sum(axis=1)
            low += int((distinct <= max_distinct).sum())
            total += int(clean.sum())
    return low / total if total else math.nan


def _word_index(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Index of the k-mer starting at each position, and whether it is all A, C, G, T."""
    n = len(codes) - k + 1
    index = np.zeros(n, dtype=np.int64)
    for j in range(k):
        index = index * 4 + (codes[j : j + n] & 3)
    bad = np.concatenate(([0], np.cumsum(codes == 4, dtype=np.int64)))
    return index, bad[k:] - bad[:n] == 0


def _reverse_complement_index(k: int) -> np.ndarray:
    """For each k-mer index, the index of its reverse complement."""
    index = np.arange(4**k, dtype=np.int64)
    rc = np.zeros_like(index)
    for j in range(k):
        rc = rc * 4 + (3 - ((index >> (2 * j)) & 3))
    return rc
