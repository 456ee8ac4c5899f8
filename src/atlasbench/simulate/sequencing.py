"""Simulated sequencing: cells of known types -> a sorted, bgzipped fragments file.

Every barcode is a sum of *components*: its cell (type ``t``), sometimes a second cell
of another type (a doublet or a barcode collision), and ambient molecules from the soup
of all cell types. A component of type ``k`` holds a library of molecules spread over
the genome as ``frip`` parts accessible regions (region ``r`` in proportion to its true
accessibility ``truth[r, k]``) and ``1 - frip`` parts uniform background. Molecules are
centred on a region's summit (normal, sd 75 bp) or uniform, take a nucleosomal length,
and survive Tn5's sequence preference with probability ``w+(start) * w-(end - 1)`` (the
PWM score of the 21 bp around each cut, on its strand). Sequencing gives each molecule a
Poisson number of reads; a molecule read at least once is a fragment with that count.

The genome is walked window by window, each window small enough to hold ~1.5 million
molecules on average; a window around a strong region that holds more is drawn in
batches of at most ~1.5 million molecules. Fragments are merged (same start, end and
barcode: one fragment, counts added), sorted and written as they become final; those of
the windows not yet final wait in memory up to a bound (2 million, 16 bytes each), then
in sorted runs on disk (:mod:`atlasbench.simulate.pending`). So memory does not depend
on the size of the atlas nor on its densest locus: what is held at once is one batch of
molecules, the fragments up to the bound, and a few batches of 262,144 lines of text
being compressed (about 600 MB in all, interpreter included: ``benchmarks/simulate.py``).

How it is drawn (the same model, fewer draws): molecules never read are never drawn. A
component's molecules that are read at least once are a Poisson thinning of its library
by ``1 - exp(-lambda)`` (``lambda`` = its barcode's reads per molecule), so the engine
draws that many molecules per window and gives each a zero-truncated Poisson count. Tn5
acceptance is drawn before the barcode and count are looked up; a fragment travels as one
int64 key (start, length, barcode) that sorts in genome order, and the count rides in its
low bits when they fit, so merging is one ``np.sort``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from atlasbench.io.bgzf import BgzfWriter, write_fragments
from atlasbench.simulate.pending import HELD_FRAGMENTS, PendingFragments
from atlasbench.simulate.platforms import (
    PlatformProfile,
    _length_cdf,
    inverse_cdf,
    random_barcodes,
)

log = logging.getLogger(__name__)

SUMMIT_SD = 75.0
REACH = 1_500  # how far before its window a fragment may start
MOLECULES_PER_WINDOW = 1_500_000
_LENGTH_BITS = 10  # fragment lengths are at most 1000
_LINES_PER_BATCH = 1 << 18  # fragments formatted and compressed per batch (about 11 MB of text)
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
    _CODE[ord(chr(_b).lower())] = _i


@dataclass(frozen=True)
class Barcodes:
    """The barcodes of one simulated platform and what is behind each.

    Attributes
    ----------
    table
        One row per barcode: barcode, cell_type (annotated: the first cell's type; ""
        for empty droplets), second_type (doublet or collision partner, or ""), kind
        (cell, doublet, collision, empty), complexity (molecules in the library),
        reads (sequenced reads).
    component_barcode, component_type, component_molecules
        One entry per component: its barcode row, profile index (cell types, then the
        ambient soup) and expected library molecules.
    type_shares
        Share of each cell type among the cells: the make-up of the ambient soup.
    """

    table: pd.DataFrame
    component_barcode: np.ndarray
    component_type: np.ndarray
    component_molecules: np.ndarray
    type_shares: np.ndarray


def plan_barcodes(
    profile: PlatformProfile, n_cells: int, cell_types: Sequence[str], proportions: np.ndarray, rng: np.random.Generator
) -> Barcodes:
    """Draw the cells, their libraries and depths, doublets, collisions and empty droplets.

    Parameters
    ----------
    profile
        The platform.
    n_cells
        Annotated cells (barcodes in the cell table).
    cell_types
        Cell type names.
    proportions
        Expected share of each cell type (sums to 1).
    rng
        Random generator.

    Returns
    -------
    Barcodes
        The plan.
    """
    n_types = len(cell_types)
    counts = np.floor(proportions * n_cells).astype(int)
    counts[np.argsort(-(proportions * n_cells - counts))[: n_cells - counts.sum()]] += 1
    first = rng.permutation(np.repeat(np.arange(n_types), counts))
    n_empty = round(profile.empty_droplets * n_cells)
    complexity = rng.lognormal(np.log(profile.complexity), profile.complexity_sigma, n_cells)
    u = rng.random(n_cells)
    kind = np.where(
        u < profile.doublet_rate,
        "doublet",
        np.where(u < profile.doublet_rate + profile.collision_rate, "collision", "cell"),
    )
    paired = kind != "cell"
    second = np.full(n_cells, -1)
    # the partner is a cell of another type
    partner = rng.integers(0, max(n_types - 1, 1), size=int(paired.sum()))
    second[paired] = (first[paired] + 1 + partner) % n_types
    second_complexity = np.where(
        paired, rng.lognormal(np.log(profile.complexity), profile.complexity_sigma, n_cells), 0.0
    )
    total = complexity + second_complexity
    reads = profile.reads_per_cell * total / total.mean() * rng.lognormal(0.0, 0.2, n_cells)
    empty_complexity = rng.lognormal(np.log(profile.complexity * 0.02), 0.8, n_empty)
    empty_reads = reads.mean() * empty_complexity / total.mean()

    barcode = random_barcodes(rng, n_cells + n_empty, profile.barcode_length)
    names = np.asarray([*cell_types, ""], dtype=object)
    table = pd.DataFrame(
        {
            "barcode": barcode,
            "cell_type": np.concatenate([names[first], np.full(n_empty, "", dtype=object)]),
            "second_type": np.concatenate([names[second], np.full(n_empty, "", dtype=object)]),
            "kind": np.concatenate([kind, np.full(n_empty, "empty")]),
            "complexity": np.concatenate([total, empty_complexity]),
            "reads": np.concatenate([reads, empty_reads]),
        }
    )
    cells = np.arange(n_cells)
    soup = n_types
    comp_barcode = np.concatenate([cells, cells[paired], cells, n_cells + np.arange(n_empty)])
    comp_type = np.concatenate([first, second[paired], np.full(n_cells, soup), np.full(n_empty, soup)])
    own = 1.0 - profile.ambient
    comp_molecules = np.concatenate(
        [
            complexity * own,
            second_complexity[paired] * own,
            total * profile.ambient,
            empty_complexity,
        ]
    )
    return Barcodes(table, comp_barcode, comp_type, comp_molecules, counts / counts.sum())


def tn5_weights(sequence: str, log_odds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relative Tn5 insertion preference at every position, on each strand.

    Parameters
    ----------
    sequence
        Chromosome sequence.
    log_odds
        (21, 4) log-odds around an insertion (positions -10..+10; A, C, G, T).

    Returns
    -------
    tuple of numpy.ndarray
        float64 weights in (0, 1] for a cut at each position read on the + strand (a
        fragment's start) and on the - strand (a fragment's last base, whose 21 bp are
        reverse-complemented): ``exp(score)`` relative to the 95th percentile of the
        chromosome's scores, capped at 1 (the top 5% of sites are equally preferred).
        N bases score 0.
    """
    codes = _CODE[np.frombuffer(sequence.encode(), dtype=np.uint8)]
    n = len(codes)
    padded_lo = np.concatenate([np.full(10, 4, np.uint8), codes, np.full(10, 4, np.uint8)])
    table = np.vstack([log_odds.T, np.zeros((1, len(log_odds)))])  # row 4: N
    comp = np.array([3, 2, 1, 0, 4], dtype=np.uint8)
    plus = np.zeros(n)
    minus = np.zeros(n)
    for j in range(21):
        plus += table[padded_lo[j : j + n], j]
        # on the - strand the base at offset +k from the cut is the complement of the
        # base k to the left on the + strand
        minus += table[comp[padded_lo[20 - j : 20 - j + n]], j]
    return (
        np.minimum(np.exp(plus - np.quantile(plus, 0.95)), 1.0),
        np.minimum(np.exp(minus - np.quantile(minus, 0.95)), 1.0),
    )


def sequence_platform(
    path: str | Path,
    genome: dict[str, str],
    regions: pd.DataFrame,
    truth: np.ndarray,
    barcodes: Barcodes,
    profile: PlatformProfile,
    rng: np.random.Generator,
    *,
    held_fragments: int = HELD_FRAGMENTS,
) -> pd.DataFrame:
    """Write one platform's fragments file (BGZF, sorted) and return per-barcode counts.

    Parameters
    ----------
    path
        Output ``.tsv.gz`` (written as is; the caller writes to a temporary name).
    genome
        Chromosome -> sequence, in file order.
    regions
        chrom and summit of each accessible region.
    truth
        Accessibility, shape (n_regions, n_cell_types).
    barcodes
        From :func:`plan_barcodes`.
    profile
        The platform.
    rng
        Random generator.
    held_fragments
        Fragments held in memory before they are sorted into a run on disk, beside
        ``path`` (:class:`~atlasbench.simulate.pending.PendingFragments`); the file
        written is the same whatever the bound.

    Returns
    -------
    pandas.DataFrame
        ``barcodes.table`` with n_fragments and n_reads written per barcode.
    """
    profile_access = np.column_stack([truth, truth @ barcodes.type_shares])  # cell types, then the soup
    profile_access = profile_access / profile_access.sum(axis=0, keepdims=True)

    chrom_sizes = {c: len(s) for c, s in genome.items()}
    genome_length = sum(chrom_sizes.values())
    lam = barcodes.table["reads"].to_numpy() / barcodes.table["complexity"].to_numpy()
    n_barcodes = len(barcodes.table)
    n_fragments = np.zeros(n_barcodes, dtype=np.int64)
    n_reads = np.zeros(n_barcodes, dtype=np.int64)
    barcode_names = pa.array(barcodes.table["barcode"].to_numpy().astype(str))
    # only molecules read at least once are drawn (a Poisson thinning, see module docstring)
    read_share = -np.expm1(-lam)
    component_rate = barcodes.component_molecules * read_share[barcodes.component_barcode]
    molecules_of_type = np.bincount(barcodes.component_type, weights=component_rate, minlength=profile_access.shape[1])
    log_odds = profile.tn5_log_odds
    engine = _Engine(
        component_rate=component_rate,
        component_type=barcodes.component_type.astype(np.intp),
        component_barcode=barcodes.component_barcode.astype(np.int64),
        lam=lam,
        length_cdf=_length_cdf(float(profile.nucleosome_free)),
        barcode_bits=max(1, int(n_barcodes - 1).bit_length()),
    )

    with (
        BgzfWriter(path) as writer,
        PendingFragments(Path(path).parent, held_fragments) as pending,
        tqdm(total=genome_length, desc=f"simulate {profile.name}", unit=" bp", unit_scale=True, leave=False) as bar,
    ):
        for chrom, sequence in genome.items():
            size = chrom_sizes[chrom]
            w_plus, w_minus = tn5_weights(sequence, log_odds)
            oversample = 1.0 / (w_plus.mean() * w_minus.mean())
            on = regions["chrom"].to_numpy() == chrom
            summits = regions["summit"].to_numpy()[on]
            order = np.argsort(summits, kind="stable")
            summits = summits[order].astype(np.int64)
            access = profile_access[np.flatnonzero(on)[order]]
            chrom_share = profile.frip * access.sum(axis=0) + (1 - profile.frip) * size / genome_length
            expected = float(molecules_of_type @ chrom_share) * oversample
            n_windows = max(1, int(np.ceil(expected / MOLECULES_PER_WINDOW)))
            edges = np.linspace(0, size, n_windows + 1).astype(np.int64)
            for w, (lo, hi) in enumerate(pairwise(edges)):
                a, b = np.searchsorted(summits, [lo, hi])
                window = engine.window(
                    rng,
                    int(lo),
                    int(hi),
                    size,
                    summits[a:b],
                    access[a:b],
                    profile,
                    genome_length,
                    oversample,
                    w_plus,
                    w_minus,
                )
                for key, count in window:
                    pending.add(key, count)
                last = w == n_windows - 1
                final_before = size + REACH if last else int(edges[w + 1]) - REACH
                engine.write(
                    writer, chrom, pending.take(engine.key_of(final_before)), barcode_names, n_fragments, n_reads
                )
                bar.update(int(hi - lo))
        if pending.spilled:
            log.info("%s: %d sorted runs of fragments spilled to disk around dense loci", profile.name, pending.spilled)
    out = barcodes.table.copy()
    out["n_fragments"] = n_fragments
    out["n_reads"] = n_reads
    return out


@dataclass
class _Engine:
    """What every window of one platform shares (see :func:`sequence_platform`)."""

    component_rate: np.ndarray  # expected library molecules read at least once, per component
    component_type: np.ndarray
    component_barcode: np.ndarray
    lam: np.ndarray  # reads per molecule, per barcode
    length_cdf: np.ndarray
    barcode_bits: int

    def window(self, rng, lo, hi, size, summits, access, profile, genome_length, oversample, w_plus, w_minus):
        """Fragments of every component in one window: packed keys and read counts, by batch."""
        region_mass = profile.frip * access.sum(axis=0)  # per profile index
        background_mass = (1 - profile.frip) * (hi - lo) / genome_length
        mass = region_mass + background_mass
        n = rng.poisson(self.component_rate * (mass * oversample)[self.component_type])
        # a window around a strong region can hold many times the average: draw its
        # molecules in batches of whole components, so that only fragments accumulate
        cut = np.searchsorted(np.cumsum(n), np.arange(MOLECULES_PER_WINDOW, int(n.sum()), MOLECULES_PER_WINDOW))
        edges = [0, *np.unique(cut[(cut > 0) & (cut < len(n))]).tolist(), len(n)]
        for c0, c1 in pairwise(edges):
            yield self._batch(rng, c0, n[c0:c1], lo, hi, size, summits, access, region_mass / mass, w_plus, w_minus)

    def _batch(self, rng, first, n, lo, hi, size, summits, access, region_share, w_plus, w_minus):
        """Molecules of components ``first, first + 1, ...`` (``n`` each) -> fragments."""
        comp = np.repeat(np.arange(first, first + len(n), dtype=np.int64), n)
        kind = self.component_type[comp]
        m = len(comp)
        u = rng.random(m)
        p_region = region_share[kind]
        centre = rng.integers(lo, hi, m)  # background by default
        if len(summits):
            sel = np.flatnonzero(u < p_region)
            # one table for all profiles: profile k's cumulative shares, normalised, on [k, k + 1)
            cum = np.cumsum(access, axis=0)
            total = cum[-1]
            cum = cum / np.where(total > 0, total, 1.0) + np.arange(access.shape[1])
            k = kind[sel]
            # a uniform below p is, divided by p, a fresh uniform
            pick = inverse_cdf(cum.T.ravel(), k + u[sel] / p_region[sel], span=float(access.shape[1])) - k * len(
                summits
            )
            np.minimum(pick, len(summits) - 1, out=pick)
            offset = rng.normal(0.0, SUMMIT_SD, len(sel))
            centre[sel] = summits[pick] + np.rint(offset).astype(np.int64)
        length = inverse_cdf(self.length_cdf, rng.random(m)) + 20
        start = centre - (length >> 1)
        end = start + length
        inside = (start >= 0) & (end <= size)
        np.clip(start, 0, size - 1, out=start)
        np.clip(end, 1, size, out=end)
        accept = rng.random(m) < w_plus[start] * w_minus[end - 1]
        ok = np.flatnonzero(accept & inside)
        start, length, comp = start[ok], length[ok], comp[ok]
        barcode = self.component_barcode[comp]
        count = _positive_poisson(rng, self.lam[barcode])
        key = (start << (_LENGTH_BITS + self.barcode_bits)) | (length << self.barcode_bits) | barcode
        return key, count

    def key_of(self, start: int) -> int:
        """The smallest key of a fragment starting at ``start`` (0 if negative)."""
        return max(start, 0) << (_LENGTH_BITS + self.barcode_bits)

    def write(self, writer, chrom, fragments, barcode_names, n_fragments, n_reads):
        """Write sorted, unique fragments (chunks of keys and counts); count them per barcode."""
        shift = _LENGTH_BITS + self.barcode_bits
        for key, count in fragments:
            barcode = key & ((1 << self.barcode_bits) - 1)
            start = key >> shift
            end = start + ((key >> self.barcode_bits) & ((1 << _LENGTH_BITS) - 1))
            n_fragments += np.bincount(barcode, minlength=len(n_fragments))
            n_reads += np.bincount(barcode, weights=count, minlength=len(n_reads)).astype(np.int64)
            for i in range(0, len(start), _LINES_PER_BATCH):  # text of bounded size in flight
                part = slice(i, i + _LINES_PER_BATCH)
                write_fragments(writer, chrom, start[part], end[part], barcode[part], count[part], barcode_names)


def _positive_poisson(rng: np.random.Generator, lam: np.ndarray) -> np.ndarray:
    """Poisson(lam) draws conditioned on being at least 1 (int64).

    By inversion of the zero-truncated distribution (one uniform each, a few vectorised
    steps for the small means of sequencing); means above 3 by redrawing zeros.
    """
    count = np.ones(len(lam), dtype=np.int64)
    high = lam > 3.0
    if high.any():
        idx = np.flatnonzero(high)
        draw = rng.poisson(lam[idx])
        while True:
            zero = np.flatnonzero(draw == 0)
            if not len(zero):
                break
            draw[zero] = rng.poisson(lam[idx[zero]])
        count[idx] = draw
        idx = np.flatnonzero(~high)
    else:
        idx = np.arange(len(lam))
    lam_a = lam[idx]
    # v uniform on [0, P(X >= 1)); X = the smallest k with P(1 <= X <= k) > v
    v = rng.random(len(idx)) * -np.expm1(-lam_a)
    pmf = lam_a * np.exp(-lam_a)
    cum = pmf.copy()
    k = 1
    while len(idx):
        more = np.flatnonzero((v >= cum) & (pmf > 0))
        if not len(more):
            break
        k += 1
        idx, lam_a, v, pmf, cum = idx[more], lam_a[more], v[more], pmf[more], cum[more]
        count[idx] = k
        pmf = pmf * lam_a / k
        cum = cum + pmf
    return count
