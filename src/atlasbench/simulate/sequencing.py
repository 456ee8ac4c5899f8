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
molecules; fragments are merged (same start, end and barcode: one fragment, counts
added), sorted and written as they become final, so memory does not depend on the size
of the atlas.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from atlasbench.bgzf import BgzfWriter, write_fragments
from atlasbench.simulate.platforms import PlatformProfile, fragment_lengths, random_barcodes

log = logging.getLogger(__name__)

SUMMIT_SD = 75.0
REACH = 1_500  # how far before its window a fragment may start
MOLECULES_PER_WINDOW = 1_500_000
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
    n_empty = int(round(profile.empty_droplets * n_cells))
    complexity = rng.lognormal(np.log(profile.complexity), profile.complexity_sigma, n_cells)
    u = rng.random(n_cells)
    kind = np.where(u < profile.doublet_rate, "doublet", np.where(u < profile.doublet_rate + profile.collision_rate, "collision", "cell"))
    paired = kind != "cell"
    second = np.full(n_cells, -1)
    # the partner is a cell of another type
    partner = rng.integers(0, max(n_types - 1, 1), size=int(paired.sum()))
    second[paired] = (first[paired] + 1 + partner) % n_types
    second_complexity = np.where(paired, rng.lognormal(np.log(profile.complexity), profile.complexity_sigma, n_cells), 0.0)
    total = complexity + second_complexity
    reads = profile.reads_per_cell * total / total.mean() * rng.lognormal(0.0, 0.2, n_cells)
    empty_complexity = rng.lognormal(np.log(profile.complexity * 0.02), 0.8, n_empty)
    empty_reads = reads.mean() * empty_complexity / total.mean()

    barcode = random_barcodes(rng, n_cells + n_empty, profile.barcode_length)
    names = np.asarray(list(cell_types) + [""], dtype=object)
    table = pd.DataFrame({
        "barcode": barcode,
        "cell_type": np.concatenate([names[first], np.full(n_empty, "", dtype=object)]),
        "second_type": np.concatenate([names[second], np.full(n_empty, "", dtype=object)]),
        "kind": np.concatenate([kind, np.full(n_empty, "empty")]),
        "complexity": np.concatenate([total, empty_complexity]),
        "reads": np.concatenate([reads, empty_reads]),
    })
    cells = np.arange(n_cells)
    soup = n_types
    comp_barcode = np.concatenate([cells, cells[paired], cells, n_cells + np.arange(n_empty)])
    comp_type = np.concatenate([first, second[paired], np.full(n_cells, soup), np.full(n_empty, soup)])
    own = 1.0 - profile.ambient
    comp_molecules = np.concatenate([
        complexity * own, second_complexity[paired] * own, total * profile.ambient, empty_complexity,
    ])
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
    return (np.minimum(np.exp(plus - np.quantile(plus, 0.95)), 1.0),
            np.minimum(np.exp(minus - np.quantile(minus, 0.95)), 1.0))


def sequence_platform(
    path: str | Path,
    genome: dict[str, str],
    regions: pd.DataFrame,
    truth: np.ndarray,
    barcodes: Barcodes,
    profile: PlatformProfile,
    rng: np.random.Generator,
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
    molecules_of_type = np.bincount(barcodes.component_type, weights=barcodes.component_molecules,
                                    minlength=profile_access.shape[1])
    log_odds = profile.tn5_log_odds

    with BgzfWriter(path) as writer, tqdm(total=genome_length, desc=f"simulate {profile.name}", unit=" bp",
                                          unit_scale=True, leave=False) as bar:
        for chrom, sequence in genome.items():
            size = chrom_sizes[chrom]
            w_plus, w_minus = tn5_weights(sequence, log_odds)
            oversample = 1.0 / (w_plus.mean() * w_minus.mean())
            on = regions["chrom"].to_numpy() == chrom
            summits = regions["summit"].to_numpy()[on]
            order = np.argsort(summits, kind="stable")
            summits = summits[order]
            access = profile_access[np.flatnonzero(on)[order]]
            chrom_share = profile.frip * access.sum(axis=0) + (1 - profile.frip) * size / genome_length
            expected = float(molecules_of_type @ chrom_share) * oversample
            n_windows = max(1, int(np.ceil(expected / MOLECULES_PER_WINDOW)))
            edges = np.linspace(0, size, n_windows + 1).astype(np.int64)
            pending: list[tuple[np.ndarray, ...]] = []
            for w, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
                a, b = np.searchsorted(summits, [lo, hi])
                pending.append(_window(rng, lo, hi, size, summits[a:b], access[a:b], barcodes, profile,
                                       genome_length, oversample, w_plus, w_minus, lam))
                last = w == n_windows - 1
                final_before = size + REACH if last else int(edges[w + 1]) - REACH
                pending = _flush(writer, chrom, pending, final_before, barcode_names, n_fragments, n_reads)
                bar.update(int(hi - lo))
    out = barcodes.table.copy()
    out["n_fragments"] = n_fragments
    out["n_reads"] = n_reads
    return out


def _window(rng, lo, hi, size, summits, access, barcodes, profile, genome_length, oversample, w_plus, w_minus, lam):
    """Molecules of every component in one window, thinned by Tn5 and sequenced."""
    region_mass = profile.frip * access.sum(axis=0)  # per profile index
    background_mass = (1 - profile.frip) * (hi - lo) / genome_length
    mass = region_mass + background_mass
    n = rng.poisson(barcodes.component_molecules * mass[barcodes.component_type] * oversample)
    comp = np.repeat(np.arange(len(n)), n)
    kind = barcodes.component_type[comp]
    centre = rng.integers(lo, hi, len(comp))  # background by default
    from_region = rng.random(len(comp)) < (region_mass / mass)[kind]
    if len(summits):
        for k in np.unique(kind[from_region]):
            sel = np.flatnonzero(from_region & (kind == k))
            cum = np.cumsum(access[:, k])
            pick = np.minimum(np.searchsorted(cum, rng.random(len(sel)) * cum[-1], side="right"), len(cum) - 1)
            centre[sel] = summits[pick] + np.rint(rng.normal(0.0, SUMMIT_SD, len(sel))).astype(np.int64)
    length = fragment_lengths(rng, len(comp), profile.nucleosome_free)
    start = centre - length // 2
    end = start + length
    ok = (start >= 0) & (end <= size)
    comp, start, end = comp[ok], start[ok], end[ok]
    ok = rng.random(len(comp)) < w_plus[start] * w_minus[end - 1]
    comp, start, end = comp[ok], start[ok], end[ok]
    barcode = barcodes.component_barcode[comp]
    count = rng.poisson(lam[barcode])
    ok = count > 0
    return start[ok], end[ok], barcode[ok], count[ok]


def _flush(writer, chrom, pending, final_before, barcode_names, n_fragments, n_reads):
    """Merge, sort and write every fragment starting before ``final_before``; keep the rest."""
    start, end, barcode, count = (np.concatenate(col) for col in zip(*pending))
    done = start < final_before
    keep = [(start[~done], end[~done], barcode[~done], count[~done])]
    start, end, barcode, count = start[done], end[done], barcode[done], count[done]
    if len(start):
        order = np.lexsort((barcode, end, start))
        start, end, barcode, count = start[order], end[order], barcode[order], count[order]
        first = np.concatenate([[True], (np.diff(start) != 0) | (np.diff(end) != 0) | (np.diff(barcode) != 0)])
        idx = np.flatnonzero(first)
        count = np.add.reduceat(count, idx)
        start, end, barcode = start[idx], end[idx], barcode[idx]
        n_fragments += np.bincount(barcode, minlength=len(n_fragments))
        n_reads += np.bincount(barcode, weights=count, minlength=len(n_reads)).astype(np.int64)
        write_fragments(writer, chrom, start, end, barcode, count, barcode_names)
    return keep
