"""Platform profiles: how a scATAC technology turns cells into fragments.

A profile says how many distinct molecules a cell's library holds (its *complexity*,
log-normal across cells), how deeply it is sequenced, which share of the molecules come
from accessible regions (FRiP) or from the ambient soup of lysed cells, how often two
cells share a barcode (doublets, barcode collisions), the fragment-length ladder and the
Tn5 insertion bias. Sequencing draws each molecule's reads from a Poisson with mean
``reads / complexity``: a molecule read at least once is a fragment, the reads behind it
are its ``count``, so unique fragments follow ``M (1 - exp(-R / M))`` and saturate.

The two presets mirror the published comparison (PROTOCOL.md): the HyDrop-v2-like
platform has about half the library complexity of the 10x-like one (11k vs 23k unique
fragments per cell at full depth in mouse cortex), similar FRiP, more ambient fragments
and barcode collisions, and a library cost ten times lower. Fewer of its sequenced reads
end in cells' fragments (usable fraction 0.65 vs 0.8: an illustrative figure, not a
published one; a bead-based droplet platform loses more reads to background barcodes).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

# Tn5 insertion bias as log-odds over the 21 bp around an insertion (position -10..+10,
# the cut between -1 and 0; rows A, C, G, T). A weak, palindromic G/C preference at the
# sites flanking the 9 bp duplication, the shape of the published Tn5 bias logos.
TN5_LOG_ODDS = np.zeros((21, 4))
for _pos, _row in {
    -4: (-0.1, 0.05, 0.2, -0.15),
    -3: (-0.05, 0.15, 0.05, -0.15),
    -2: (0.1, -0.1, -0.1, 0.1),
    -1: (-0.2, 0.05, 0.25, -0.1),
    0: (0.15, -0.15, -0.1, 0.1),
    1: (0.1, -0.1, -0.1, 0.1),
    2: (-0.1, 0.2, 0.05, -0.15),
    3: (-0.15, 0.2, 0.05, -0.1),
    4: (0.15, -0.05, -0.15, 0.05),
    5: (-0.15, 0.05, 0.25, -0.15),
    8: (0.05, -0.1, 0.1, -0.05),
}.items():
    TN5_LOG_ODDS[_pos + 10] = _row


@dataclass(frozen=True)
class PlatformProfile:
    """How one platform samples cells into fragments (see module docstring).

    Attributes
    ----------
    name
        Platform name in the study.
    complexity
        Median distinct molecules per cell library.
    complexity_sigma
        Log-normal spread of the complexity across cells.
    reads_per_cell
        Mean read pairs per cell in the fragments (usable read pairs).
    frip
        Share of a cell's molecules from accessible regions (the rest from anywhere).
    ambient
        Share of a barcode's molecules from the ambient soup (all cell types mixed).
    doublet_rate, collision_rate
        Share of barcodes holding two cells (of other types) by co-encapsulation, or by
        two beads sharing a barcode.
    nucleosome_free
        Share of nucleosome-free fragments (the rest mono-, di-, tri-nucleosomal).
    tn5_strength
        Multiplier of :data:`TN5_LOG_ODDS` (1: the default bias; 0: none).
    empty_droplets
        Barcodes of empty droplets (ambient only) per cell; not in the cell table.
    cost_per_cell, cost_per_million_reads
        Library cost per cell and sequencing cost per million reads (USD).
    barcode_length
        Length of the random barcode (``-1`` is appended, as 10x does).
    usable_fraction
        Share of the sequenced read pairs that end in the cells' fragments; the rest
        (empty droplets' barcodes, reads without a valid barcode, unmapped, low-quality
        or mitochondrial reads) is paid for and lost. Sets the sequenced read pairs of
        the Cell Ranger-shaped ``summary.csv`` the simulator writes.
    """

    name: str
    complexity: float
    complexity_sigma: float
    reads_per_cell: float
    frip: float
    ambient: float
    doublet_rate: float
    collision_rate: float
    nucleosome_free: float
    tn5_strength: float
    empty_droplets: float
    cost_per_cell: float
    cost_per_million_reads: float
    barcode_length: int
    usable_fraction: float

    @property
    def tn5_log_odds(self) -> np.ndarray:
        """This platform's Tn5 log-odds matrix, shape (21, 4)."""
        return TN5_LOG_ODDS * self.tn5_strength


TENX = PlatformProfile(
    name="10x",
    complexity=23_000,
    complexity_sigma=0.45,
    reads_per_cell=40_000,
    frip=0.52,
    ambient=0.03,
    doublet_rate=0.04,
    collision_rate=0.0,
    nucleosome_free=0.45,
    tn5_strength=1.0,
    empty_droplets=0.5,
    cost_per_cell=0.471,
    cost_per_million_reads=2.875,
    barcode_length=16,
    usable_fraction=0.8,
)
HYDROP = PlatformProfile(
    name="hydrop",
    complexity=11_500,
    complexity_sigma=0.5,
    reads_per_cell=40_000,
    frip=0.51,
    ambient=0.06,
    doublet_rate=0.04,
    collision_rate=0.03,
    nucleosome_free=0.5,
    tn5_strength=1.0,
    empty_droplets=0.5,
    cost_per_cell=0.049,
    cost_per_million_reads=2.875,
    barcode_length=20,
    usable_fraction=0.65,
)


def fragment_lengths(rng: np.random.Generator, n: int, nucleosome_free: float) -> np.ndarray:
    """Fragment lengths with a nucleosomal ladder.

    Nucleosome-free fragments are log-normal around 65 bp; the others fall on the mono-
    (~195 bp), di- (~375 bp) and tri-nucleosome (~560 bp) rungs in ratio 65:25:10. Each
    length is the rounded draw, clipped to [20, 1000]; it is sampled in one step, by
    inverting the exact distribution of that integer (one uniform per fragment).

    Parameters
    ----------
    rng
        Random generator.
    n
        Number of fragments.
    nucleosome_free
        Share of nucleosome-free fragments.

    Returns
    -------
    numpy.ndarray
        int64 lengths in [20, 1000].
    """
    return inverse_cdf(_length_cdf(float(nucleosome_free)), rng.random(n)) + _MIN_LENGTH


_MIN_LENGTH, _MAX_LENGTH = 20, 1000


@functools.lru_cache(maxsize=32)
def _length_cdf(nucleosome_free: float) -> np.ndarray:
    """P(length <= l) for l = 20..1000 (the last is 1): rounding puts a draw x on l when l - 0.5 <= x < l + 0.5."""
    share = np.array([nucleosome_free, *(np.array([0.65, 0.25, 0.10]) * (1 - nucleosome_free))])
    upper = np.arange(_MIN_LENGTH, _MAX_LENGTH + 1) + 0.5
    cdf = share[0] * ndtr((np.log(upper) - np.log(65.0)) / 0.35)
    for w, mean, sd in zip(share[1:], (195.0, 375.0, 560.0), (22.0, 30.0, 40.0)):
        cdf += w * ndtr((upper - mean) / sd)
    cdf[-1] = 1.0
    cdf.setflags(write=False)
    return cdf


def inverse_cdf(cdf: np.ndarray, q: np.ndarray, span: float = 1.0, bits: int = 16) -> np.ndarray:
    """``np.searchsorted(cdf, q, side="right")`` (int64), fast for many ``q`` in ``[0, span)``.

    A guide table over ``2**bits`` equal buckets of ``[0, span)`` gives each query its
    answer at the bucket's lower end; the few queries for which that is wrong (a step of
    ``cdf`` inside their bucket) are searched. Exact, whatever the rounding.
    """
    guide, lower, upper = _guide(cdf, float(span), bits)
    j = np.minimum((q * ((1 << bits) / span)).astype(np.int64), (1 << bits) - 1)
    j[j < 0] = 0
    r = guide[j]
    wrong = np.flatnonzero((q >= upper[r]) | (q < lower[r]))
    if len(wrong):
        r[wrong] = np.searchsorted(cdf, q[wrong], side="right")
    return r


def _guide(cdf: np.ndarray, span: float, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    guide = np.searchsorted(cdf, np.arange(1 << bits) * (span / (1 << bits)), side="right").astype(np.int64)
    lower = np.concatenate([[-np.inf], cdf])  # lower[r] = cdf[r - 1]
    upper = np.concatenate([cdf, [np.inf]])  # upper[r] = cdf[r]
    return guide, lower, upper


def random_barcodes(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """``n`` distinct random barcodes ``[ACGT]{length}-1`` (a numpy str array)."""
    codes = np.zeros((0, length), dtype=np.uint8)
    while len(codes) < n:
        more = rng.integers(0, 4, size=(n - len(codes) + 16, length), dtype=np.uint8)
        codes = np.unique(np.concatenate([codes, more]), axis=0)
    codes = codes[rng.permutation(len(codes))[:n]]
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)[codes]
    raw = np.concatenate([letters, np.broadcast_to(np.frombuffer(b"-1", dtype=np.uint8), (n, 2))], axis=1)
    return np.ascontiguousarray(raw).view(f"S{length + 2}").ravel().astype(str)
