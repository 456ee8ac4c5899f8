"""Tn5 insertion bias: the sequence preference of the transposase, per platform.

ATAC-seq reads where Tn5 cut the genome, and Tn5 does not cut every sequence equally: it
inserts as a dimer that duplicates 9 bp, and prefers a weak, nearly palindromic G/C-rich
motif spanning about 20 bp around each cut. This bias is imprinted on every fragment
end, so an S2F model trained on ATAC data learns it alongside real regulatory grammar.
If two platforms use the same enzyme chemistry their biases should match, and a model
trained on one platform's data should not pick up a platform-specific artefact.

The bias is read off the data: around every insertion site the genome sequence is taken
(``flank`` bp each side, read 5' to 3' on the strand Tn5 cut), the bases are counted per
position into a position frequency matrix (PFM), and compared with the base composition
of the genome (both strands) as log-odds. Both ends of a fragment are insertions. In the
10x fragments convention (0-based, half-open, Tn5 shift already applied) the plus-strand
cut sits at ``start`` and the minus-strand cut at ``end - 1``; the minus-strand window is
the reverse complement of the genome around ``end - 1``, so that position ``+k`` always
lies ``k`` bp downstream of the cut in the direction Tn5 entered the DNA. Position 0 is
the first base after the cut (the fragment's first base on its strand); the cut itself
lies between -1 and 0. This is exactly the convention of the simulator
(:func:`atlasbench.simulate.sequencing.tn5_weights`). What the PFM measures is the
marginal preference at each position, so it is blurred a little by what the genome adds:
the base composition of accessible regions (where most fragments fall) and the
correlation of neighbouring bases; on the simulator's small atlas it correlates with the
simulated log-odds at Pearson 0.94.

Two platforms are then compared by the Pearson correlation of their log-odds matrices
(shape) and the Jensen-Shannon divergence of their frequency rows (size of the
difference), and logos are drawn for the eye.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.atomic import atomic_path
from atlasbench.io.figures import save_figure
from atlasbench.io.fragments import FragmentReader
from atlasbench.io.genome import Genome, match_chromosomes, open_genome

log = logging.getLogger(__name__)

BASES = ("A", "C", "G", "T")
# byte -> base code (0-3 for ACGT in either case, 4 for N and anything else), as genome.base_codes
_CODE = np.full(256, 4, dtype=np.uint8)
_CODE[np.frombuffer(b"ACGTacgt", dtype=np.uint8)] = [0, 1, 2, 3, 0, 1, 2, 3]
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)
_CENTRES_PER_CHUNK = 1 << 19  # windows gathered at once (21 bp: ~90 MB of int64 indexes)

#: Default thresholds of :func:`same_bias` (see its docstring for the calibration).
SAME_MIN_PEARSON = 0.9
SAME_MAX_JSD = 1e-4


@dataclass(frozen=True)
class Tn5Bias:
    """The sequence around Tn5 insertion sites of one platform.

    Attributes
    ----------
    counts
        float64, shape (2 * flank + 1, 4): how often each base (A, C, G, T) lies at each
        position relative to the insertion (rows: positions ``-flank .. +flank``, read
        5' to 3' on the cut strand; 0 is the first base after the cut, which lies
        between -1 and 0).
    frequencies
        ``counts`` with each row divided by its sum (rows sum to 1).
    background
        float64, shape (4,): base composition of the genome (of the chromosomes holding
        the insertions, N excluded), counted on both strands since insertions are read
        on both (so A = T and C = G): the expectation of a position without bias.
    log_odds
        float64, shape (2 * flank + 1, 4): ``log2(frequency / background)`` in bits,
        with one pseudo-insertion distributed as the background added to each row so it
        stays finite for a base never seen.
    n_insertions
        Insertion sites counted (two per fragment, less the windows skipped).
    n_fragments
        Fragments whose ends were looked at.
    """

    counts: np.ndarray
    frequencies: np.ndarray
    background: np.ndarray
    log_odds: np.ndarray
    n_insertions: int
    n_fragments: int = 0

    @property
    def flank(self) -> int:
        """Bases on each side of the insertion site."""
        return (self.counts.shape[0] - 1) // 2

    @property
    def positions(self) -> np.ndarray:
        """Position of each row relative to the insertion site, ``-flank .. +flank``."""
        return np.arange(-self.flank, self.flank + 1)


def bias_from_counts(counts: np.ndarray, background: np.ndarray, n_fragments: int = 0) -> Tn5Bias:
    """Build a :class:`Tn5Bias` from a base-count matrix and a background composition.

    Parameters
    ----------
    counts
        Shape (2 * flank + 1, 4): base counts per position; every row sums to the number
        of insertions.
    background
        Shape (4,): base counts or frequencies of the genome (normalised here).
    n_fragments
        Fragments behind the counts, recorded.

    Returns
    -------
    Tn5Bias
    """
    counts = np.asarray(counts, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[1] != 4 or counts.shape[0] % 2 != 1:
        raise ValueError(f"counts must have shape (2 * flank + 1, 4), got {counts.shape}")
    if background.shape != (4,) or not (background > 0).all():
        raise ValueError(f"background must be 4 positive numbers, got {background}")
    background = background / background.sum()
    n = counts.sum(axis=1)
    if not np.allclose(n, n[0]) or n[0] <= 0:
        raise ValueError(f"every row of counts must hold the same positive number of insertions, got {n}")
    frequencies = counts / n[:, None]
    smoothed = (counts + background) / (n[:, None] + 1.0)
    log_odds = np.log2(smoothed / background)
    return Tn5Bias(counts, frequencies, background, log_odds, round(n[0]), int(n_fragments))


def insertion_pfm(
    fragments: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    genome: str | os.PathLike[str] | Genome,
    *,
    flank: int = 10,
    max_fragments: int | None = 2_000_000,
    cells: Iterable[str] | None = None,
    seed: int = 0,
) -> Tn5Bias:
    """Count the bases around Tn5 insertion sites: a position frequency matrix and log-odds.

    Every fragment carries two insertions: the cut on the plus strand at ``start`` and
    the one on the minus strand at ``end - 1`` (10x convention, Tn5 shift applied). For
    each, the ``2 * flank + 1`` bases centred on the cut are read on the cut strand (the
    reverse complement for the minus-strand end) and counted by position. Windows that
    run off a chromosome end or hold an N are skipped. Position 0 is the first base after
    the cut, the fragment's first base on its strand. Each unique fragment counts once,
    whatever its read count: PCR duplicates copy one insertion event, they do not add
    new ones. The background is the A/C/G/T composition of the chromosomes holding the
    counted insertions, read from the genome itself on both strands: insertions are read
    on both, so a genome (or a slice of one) richer in A than in T on its forward strand
    must not show up as a Tn5 preference.

    Fragments are streamed in validated blocks (:class:`~atlasbench.io.fragments.FragmentReader`)
    and each chromosome's sequence is loaded once per file, as base codes, for a
    vectorised gather of all windows of a block. To bound the work spent on a
    billion-fragment atlas, ``max_fragments`` keeps a *seeded uniform subsample* of that
    many fragments (over all files together): every fragment gets a random key and the
    ``max_fragments`` smallest are kept, so only those fragments' coordinates are held
    while the files stream through once. A sorted file's first fragments would all come
    from its first chromosome; the subsample spans the genome like the data do.

    Parameters
    ----------
    fragments
        One fragments file or several (the platform's samples), pooled.
    genome
        FASTA of the genome the fragments were aligned to (or an open :class:`Genome`).
        Chromosome names are matched across spellings (``chr2L`` and ``2L``); fragments
        on chromosomes absent from the genome are dropped with a warning.
    flank
        Bases on each side of the insertion site (the matrix has ``2 * flank + 1`` rows).
    max_fragments
        Fragments to use at most, a seeded uniform subsample; ``None`` uses them all.
    cells
        Barcodes to keep (for example the annotated cells); ``None`` keeps every barcode,
        background and empty droplets included.
    seed
        Seed of the subsample.

    Returns
    -------
    Tn5Bias
        Counts, frequencies, genomic background and log-odds, shape (2 * flank + 1, 4).

    Raises
    ------
    AtlasbenchError
        For an invalid fragments file (naming it and the line), a fragment beyond the
        end of its chromosome (the wrong genome), or when no insertion could be counted.
    """
    if flank < 0:
        raise ValueError(f"flank must be >= 0, got {flank}")
    if max_fragments is not None and max_fragments < 1:
        raise ValueError(f"max_fragments must be positive or None, got {max_fragments}")
    paths = [Path(fragments)] if isinstance(fragments, str | os.PathLike) else [Path(p) for p in fragments]
    if not paths:
        raise ValueError("no fragments file given")
    barcode_ids = None if cells is None else {str(b): i for i, b in enumerate(dict.fromkeys(cells))}
    own = not isinstance(genome, Genome)
    g = genome if isinstance(genome, Genome) else open_genome(genome)
    try:
        counter = _WindowCounter(g, flank)
        sample = _Subsample(max_fragments, seed) if max_fragments is not None else None
        n_fragments = 0
        for path in paths:
            resolver = _ChromResolver(g, path)
            reader = FragmentReader(path, barcodes=barcode_ids, resolve_chrom=resolver)
            for batch in reader:
                if barcode_ids is not None:
                    batch = batch.subset(batch.barcode >= 0)
                if not len(batch):
                    continue
                _check_within(g, path, batch.chrom, batch.end)
                if sample is None:
                    counter.add(batch.chrom, batch.start, batch.end)
                    n_fragments += len(batch)
                else:
                    sample.offer(batch.chrom, batch.start, batch.end)
            if resolver.dropped:
                log.warning(
                    "%s: fragments on %d chromosome(s) not in %s were skipped: %s",
                    path,
                    len(resolver.dropped),
                    g.path,
                    ", ".join(resolver.dropped[:10]),
                )
            counter.release()  # the next file starts again at its first chromosome
        if sample is not None:
            chrom, start, end = sample.result()
            n_fragments = len(chrom)
            counter.add(chrom, start, end)
        where = ", ".join(str(p) for p in paths)
        if counter.n_insertions == 0:
            raise AtlasbenchError(
                f"{where}: no Tn5 insertion could be counted against {g.path} "
                f"({n_fragments} fragment(s) kept{'' if cells is None else ' of the given cells'}; "
                f"windows of {flank} bp each side must lie within a chromosome and hold no N)"
            )
        log.info("%s: %d insertions from %d fragments", where, counter.n_insertions, n_fragments)
        return bias_from_counts(counter.counts.astype(np.float64), counter.background(), n_fragments)
    finally:
        if own:
            g.close()


class _ChromResolver:
    """Chromosome name in a fragments file -> index into ``genome.names`` (-1: not there)."""

    def __init__(self, genome: Genome, path: Path) -> None:
        self.genome = genome
        self.index = {name: i for i, name in enumerate(genome.names)}
        self.dropped: list[str] = []

    def __call__(self, name: str) -> int:
        mapping, _ = match_chromosomes([name], self.genome.names)
        if name not in mapping:
            self.dropped.append(name)
            return -1
        return self.index[mapping[name]]


def _check_within(genome: Genome, path: Path, chrom: np.ndarray, end: np.ndarray) -> None:
    sizes = np.array([genome.sizes[n] for n in genome.names], dtype=np.int64)
    beyond = np.flatnonzero(end > sizes[chrom])
    if len(beyond):
        i = beyond[0]
        name = genome.names[chrom[i]]
        raise input_error(
            path,
            f"a fragment ends at {int(end[i])}, beyond the end of {name} ({int(sizes[chrom[i]])} bp in "
            f"{genome.path}); are these fragments aligned to this genome?",
        )


class _Subsample:
    """A seeded uniform subsample of fixed size from a stream: the k smallest random keys."""

    def __init__(self, k: int, seed: int) -> None:
        self.k = k
        self.rng = np.random.default_rng(seed)
        self.key = np.empty(0)
        self.cols: list[np.ndarray] = [np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.int64)]

    def offer(self, chrom: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        key = self.rng.random(len(chrom))
        if len(self.key) >= self.k:
            # only keys below the current k-th smallest can enter
            take = key < self.key.max()
            if not take.any():
                return
            key, chrom, start, end = key[take], chrom[take], start[take], end[take]
        key = np.concatenate([self.key, key])
        cols = [np.concatenate([a, b]) for a, b in zip(self.cols, (chrom, start, end))]
        if len(key) > self.k:
            keep = np.argpartition(key, self.k - 1)[: self.k]
            key, cols = key[keep], [c[keep] for c in cols]
        self.key, self.cols = key, cols

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The kept fragments in genome order (chromosome index, start)."""
        chrom, start, end = self.cols
        order = np.lexsort((start, chrom))
        return chrom[order], start[order], end[order]


class _WindowCounter:
    """Base counts around insertion sites, one chromosome's sequence held at a time."""

    def __init__(self, genome: Genome, flank: int) -> None:
        self.genome = genome
        self.flank = flank
        self.offsets = np.arange(-flank, flank + 1, dtype=np.int64)
        self.counts = np.zeros((2 * flank + 1, 4), dtype=np.int64)
        self.n_insertions = 0
        self._loaded: tuple[int, np.ndarray] | None = None
        self._composition: dict[int, np.ndarray] = {}
        self._used: set[int] = set()

    def _codes(self, chrom: int) -> np.ndarray:
        if self._loaded is None or self._loaded[0] != chrom:
            name = self.genome.names[chrom]
            seq = self.genome.fetch(name, 0, self.genome.sizes[name])
            codes = _CODE[np.frombuffer(seq.encode("ascii", errors="replace"), dtype=np.uint8)]
            if chrom not in self._composition:
                self._composition[chrom] = np.bincount(codes, minlength=5)[:4]
            self._loaded = (chrom, codes)
        return self._loaded[1]

    def release(self) -> None:
        self._loaded = None

    def add(self, chrom: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        """Count the windows around both ends of fragments (any chromosomes, in runs)."""
        if not len(chrom):
            return
        runs = np.flatnonzero(np.concatenate([[True], chrom[1:] != chrom[:-1]]))
        for lo, hi in zip(runs, np.append(runs[1:], len(chrom))):
            c = int(chrom[lo])
            codes = self._codes(c)
            before = self.n_insertions
            self._count(codes, start[lo:hi], minus=False)
            self._count(codes, end[lo:hi] - 1, minus=True)
            if self.n_insertions > before:
                self._used.add(c)

    def _count(self, codes: np.ndarray, centres: np.ndarray, minus: bool) -> None:
        size = len(codes)
        f = self.flank
        centres = centres[(centres >= f) & (centres < size - f)]
        width = len(self.offsets)
        flat_pos = np.arange(width, dtype=np.int64) * 4
        for i in range(0, len(centres), _CENTRES_PER_CHUNK):
            c = centres[i : i + _CENTRES_PER_CHUNK]
            # the minus strand reads 5'->3': its position +k is the complement of the base k to the left
            window = _COMPLEMENT[codes[c[:, None] - self.offsets]] if minus else codes[c[:, None] + self.offsets]
            window = window[(window < 4).all(axis=1)]
            if len(window):
                self.counts += np.bincount((flat_pos + window).ravel(), minlength=width * 4).reshape(width, 4)
                self.n_insertions += len(window)

    def background(self) -> np.ndarray:
        """A/C/G/T counts of the chromosomes with insertions, on both strands."""
        total = sum((self._composition[c] for c in self._used), np.zeros(4, dtype=np.int64))
        total = total + total[::-1]  # the reverse strand: A<->T, C<->G
        if (total <= 0).any():
            raise AtlasbenchError(f"{self.genome.path}: the chromosomes with insertions lack one of A, C, G, T")
        return total.astype(np.float64)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence in bits between probability vectors along the last axis.

    ``JSD(p, q) = (KL(p || m) + KL(q || m)) / 2`` with ``m = (p + q) / 2``: symmetric,
    0 for identical distributions and at most 1 bit; ``0 log 0 = 0``.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    m = (p + q) / 2

    def kl(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(x > 0, x * np.log2(x / m), 0.0)
        return terms.sum(axis=-1)

    return np.maximum((kl(p) + kl(q)) / 2, 0.0)


def compare_bias(a: Tn5Bias, b: Tn5Bias) -> dict[str, float]:
    """How alike two Tn5 biases are: shape (Pearson of log-odds) and size (JSD).

    The Pearson correlation of the flattened log-odds matrices asks whether the two
    platforms prefer and avoid the same bases at the same positions, whatever the
    strength of the preference or the genome composition (log-odds are relative to each
    one's background). The Jensen-Shannon divergence, in bits, averaged over positions,
    asks how far apart the base frequencies are: it sees a change of strength too, and is
    0 only for identical matrices.

    Parameters
    ----------
    a, b
        Biases with the same flank.

    Returns
    -------
    dict
        ``pearson`` (NaN when a matrix is constant), ``jsd`` (mean over positions,
        bits) and ``max_jsd`` (the most different position).
    """
    if a.counts.shape != b.counts.shape:
        raise ValueError(f"biases differ in flank: {a.counts.shape} vs {b.counts.shape}")
    x, y = a.log_odds.ravel(), b.log_odds.ravel()
    pearson = float("nan") if x.std() == 0 or y.std() == 0 else float(np.corrcoef(x, y)[0, 1])
    per_position = jensen_shannon(a.frequencies, b.frequencies)
    return {"pearson": pearson, "jsd": float(per_position.mean()), "max_jsd": float(per_position.max())}


def same_bias(a: Tn5Bias, b: Tn5Bias, *, min_pearson: float = SAME_MIN_PEARSON, max_jsd: float = SAME_MAX_JSD) -> bool:
    """Whether two platforms have the same Tn5 insertion bias.

    Same means the same shape (Pearson of the log-odds at least ``min_pearson``) and the
    same strength: a mean Jensen-Shannon divergence of the frequency rows of at most
    ``max_jsd`` bits, which a weaker or stronger bias of the same shape exceeds.

    The defaults are calibrated on the simulator, ``simulate_atlas(..., "small",
    seed=0)`` (1.4 Mb of fly genome): its two platforms share the Tn5 profile and agree
    at Pearson 0.999 and JSD 1.7e-6 bits with all fragments (about 1 and 0.7 million
    insertions), and still at Pearson 0.994 and JSD 1.9e-5 from 20,000 fragments each.
    A platform simulated with the profile moved by 3 bp reaches Pearson 0.38 against
    them (1 bp: -0.11; no bias at all: 0.37, the genome composition of accessible
    regions alone), so ``min_pearson = 0.9``. The same shape at half or 1.5 times the
    strength keeps Pearson above 0.99 but has JSD 3.5-3.9e-4 bits, so ``max_jsd =
    1e-4``, between the two. Two samples of one distribution have an expected JSD of
    about ``3 / (8 ln 2) * (1 / n_a + 1 / n_b)`` bits (``n``: insertions), so below
    about 50,000 insertions per platform sampling noise approaches ``max_jsd``; and JSD
    compares raw base frequencies, so it suits platforms on the same genome (as in a
    study): for different genomes pass ``max_jsd=float("inf")`` and judge by shape.

    Parameters
    ----------
    a, b
        The two biases (same flank).
    min_pearson
        Least correlation of the log-odds.
    max_jsd
        Largest mean Jensen-Shannon divergence per position, in bits.

    Returns
    -------
    bool
    """
    sim = compare_bias(a, b)
    return bool(sim["pearson"] >= min_pearson and sim["jsd"] <= max_jsd)


def bias_table(biases: Mapping[str, Tn5Bias]) -> pd.DataFrame:
    """Tidy PFM: one row per platform, position and base (count, frequency, log_odds)."""
    parts = []
    for name, bias in biases.items():
        width = len(bias.positions)
        parts.append(
            pd.DataFrame(
                {
                    "platform": name,
                    "position": np.repeat(bias.positions, 4),
                    "base": np.tile(BASES, width),
                    "count": bias.counts.ravel(),
                    "frequency": bias.frequencies.ravel(),
                    "log_odds": bias.log_odds.ravel(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def similarity_table(biases: Mapping[str, Tn5Bias], **thresholds: float) -> pd.DataFrame:
    """Every pair of platforms: pearson, jsd, max_jsd and whether :func:`same_bias` holds."""
    rows = []
    for (na, a), (nb, b) in itertools.combinations(biases.items(), 2):
        sim = compare_bias(a, b)
        rows.append({"platform_a": na, "platform_b": nb, **sim, "same": same_bias(a, b, **thresholds)})
    return pd.DataFrame(rows, columns=["platform_a", "platform_b", "pearson", "jsd", "max_jsd", "same"])


def write_bias(biases: Mapping[str, Tn5Bias], out: str | os.PathLike[str], **thresholds: float) -> dict[str, Path]:
    """Write the Tn5 bias of each platform and their similarity: tables and logos.

    Files in ``out``: ``tn5_pfm.tsv`` (platform, position, base, count, frequency,
    log_odds; see :func:`bias_table`), ``tn5_similarity.tsv`` (platform_a, platform_b,
    pearson, jsd, max_jsd, same; every pair, see :func:`compare_bias`) and
    ``tn5_logos.png`` / ``.pdf``: one log-odds logo per platform on a shared scale, letters
    above the line enriched at Tn5 insertions relative to the genome, letters below
    depleted, position 0 (the insertion site) marked.

    Parameters
    ----------
    biases
        Platform name -> bias (all with the same flank).
    out
        Output folder (created).
    thresholds
        ``min_pearson`` / ``max_jsd`` passed to :func:`same_bias`.

    Returns
    -------
    dict of str to pathlib.Path
        ``pfm``, ``similarity``, ``logos`` (the PNG) and ``logos_pdf``.
    """
    if not biases:
        raise ValueError("no biases to write")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "pfm": out / "tn5_pfm.tsv",
        "similarity": out / "tn5_similarity.tsv",
        "logos": out / "tn5_logos.png",
        "logos_pdf": out / "tn5_logos.pdf",
    }
    for key, table in (("pfm", bias_table(biases)), ("similarity", similarity_table(biases, **thresholds))):
        with atomic_path(paths[key]) as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    save_figure(_logo_figure(biases), paths["logos"])
    return paths


def _logo_figure(biases: Mapping[str, Tn5Bias]):
    """One log-odds logo per platform, stacked, on a shared y scale."""
    import logomaker
    from matplotlib.figure import Figure

    n = len(biases)
    fig = Figure(figsize=(7.5, 1.9 * n + 0.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n, 1, sharex=True, sharey=True))
    # logos stack positive letters above the line and negative ones below it
    top = max(
        max(np.clip(b.log_odds, 0, None).sum(axis=1).max(), -np.clip(b.log_odds, None, 0).sum(axis=1).min())
        for b in biases.values()
    )
    top = max(1.15 * float(top), 0.05)
    for ax, (name, bias) in zip(axes, biases.items()):
        frame = pd.DataFrame(bias.log_odds, columns=list(BASES), index=bias.positions)
        logomaker.Logo(frame, ax=ax, color_scheme="classic", font_name="DejaVu Sans Mono", flip_below=False)
        ax.axhline(0, color="0.3", lw=0.6)
        ax.axvline(-0.5, color="0.4", lw=0.8, ls="--", zorder=0)
        ax.set_ylim(-top, top)
        ax.set_ylabel("log2 odds vs genome\n(bits)", fontsize=8)
        ax.set_title(
            f"{name}: {bias.n_insertions:,} insertions from {bias.n_fragments:,} fragments", fontsize=9, loc="left"
        )
        ax.tick_params(labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0].annotate(
        "cut", xy=(-0.5, top), xytext=(2, -2), textcoords="offset points", fontsize=7, color="0.3", va="top"
    )
    positions = next(iter(biases.values())).positions
    step = 1 if len(positions) <= 25 else 5
    axes[-1].set_xticks(positions[positions % step == 0])
    axes[-1].set_xlabel(
        "position relative to the Tn5 insertion (bp, 5'->3' on the cut strand; 0: first base after the cut)", fontsize=8
    )
    fig.suptitle(
        "Tn5 insertion sequence bias (letters above the line: enriched at insertions; below: depleted)", fontsize=9
    )
    return fig
