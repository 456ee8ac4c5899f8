"""The enhancer grammar: which planted motifs make a region accessible in which cell type.

This is the simulator's ground truth. A *design* takes a real genome sequence, chooses
regions in it and plants instances of real JASPAR motifs into some of them; the
accessibility of every region in every cell type is then a fixed, documented function of
the planted sites and of nothing else. A sequence-to-function model trained on the
simulated atlas is right to the extent that it rediscovers these rules.

**Cell types and their factors.** Each cell type is named after its marker transcription
factor, its *activator*: sites of that motif open an enhancer in that type and in no
other. The default atlas has eight fly-embryo-like types: ``twi`` (mesoderm), ``tin``
(cardiac mesoderm), ``lz`` (crystal cells, a hemocyte lineage), ``GATAe`` (midgut
endoderm), ``SoxN`` (neuroectoderm), ``grh`` (epidermis), ``repo`` (glia) and ``fkh``
(salivary gland and gut). No two activators look alike (best-aligned column correlation,
:func:`motif_similarity`, at most 0.72): a model can only tell cell types apart by motifs
that differ, and the first version's ``srp`` and ``vnd`` were the GATA and NK-2 twins of
``GATAe`` and ``tin`` (0.94 and 0.91). Three more factors act across types. The pioneer
``vfl`` (Zelda) is active in the five early germ-layer types (twi, tin, lz, SoxN, grh) and
there boosts any enhancer that an activator already opens; it cannot open a region
alone. The repressor ``sna`` (Snail) is expressed in the mesoderm (twi, tin) and damps
enhancers there. The GAGA factor ``Trl`` marks promoters.

**The cortex set** (:data:`CORTEX_CELL_TYPES`, the ``paper`` preset) has the sixteen
types of the published mouse motor cortex atlas (PROTOCOL.md), named as there with
file-name-safe spelling: the excitatory ``L2-3_IT``, ``L4-5_IT``, ``L5_ET``, ``L6_IT``,
``L6_CT``, ``L6b``; the inhibitory ``Pvalb``, ``Sst``, ``Vip``, ``Lamp5``; and the
non-neuronal ``Astro``, ``Oligo``, ``OPC``, ``Micro``, ``Endo``, ``VLMC``. Each activator is
a vertebrate JASPAR CORE matrix of a marker-like factor (Cux2, Rorb, Fezf2, Tbr1, Foxp2,
Npas4, Mef2c, Lhx6, Sp8, Prox1, Nfia, Sox10, Olig2, Spi1 (PU.1), Gata2, Ebf1), one per
DNA-binding family, so that no two activators look alike: their best-aligned column
correlation (:func:`motif_similarity`) stays below 0.75, where two members of one family
(Sox10 and Sox6, Spi1 and Erg, Lhx6 and Arx) score 0.8 to 1. The helpers are mammalian
(:data:`CORTEX_GRAMMAR`): AP-1 (``Jun``) as the pioneer, active in the ten neuronal
types; ``REST`` as the repressor, expressed in the six non-neuronal types; ``Nrf1`` at
promoters. The rules and constants are the same as for the fly set.

**Regions.** ``n_regions`` windows of ``width`` bp (500) are laid on the genome at random,
at least ``spacing`` bp (1,000) apart edge to edge, never where more than 10% of the
window is N, each chromosome getting windows in proportion to its length. Each window is
one of four kinds (default shares in brackets):

- ``enhancer`` (55%): specific to one target type, the targets taken in turn so that every
  type gets about the same number; 1-4 sites of the target's activator (uniform); when
  there are two or more, with probability 0.4 two of them form a *cooperative pair*
  10-30 bp apart (edge to edge); with probability 0.5 one vfl site; with probability 0.25
  one sna site.
- ``shared`` (10%): active in 2-3 types, one activator site of each, plus vfl and sna
  sites with the same probabilities as above.
- ``promoter`` (15%): 2-3 Trl sites and, with probability 0.75, a vfl site; a random strand.
- ``closed`` (20%): no planted site; the real sequence as it is.

Sites are put at random, non-overlapping positions inside the central 300 bp of the window,
on either strand, each a fresh draw from the motif's probability matrix that scores at
least ``site_score`` (0.9 of the way from the worst to the consensus sequence,
:func:`~atlasbench.simulate.motifs.relative_scores`) and holds no match of another grammar
motif. Apart from an intended pair, no two sites of one activator are placed 10-30 bp
apart. Everything outside the sites keeps the background sequence, except its chance
matches to the grammar's motifs: every window scoring ``chance_score`` (0.85) or more that
is not a planted site is broken by a substitution or two
(:mod:`~atlasbench.simulate.chance_matches`; about 2% of the bases). The truth depends on
planted sites only, and planted sites are then the only matches in the genome, so the
truth is a function of the sequence that a model can learn.

**Accessibility** (arbitrary units: a relative rate of Tn5 insertions). For a region in cell
type ``t``, with ``n`` planted sites of ``t``'s activator::

    no activator site of t, no promoter site:  a = base
    enhancer (n >= 1):  a = base + gain * (1 - exp(-k * n)) * (1 + coop * pair)
                                * (1 + pioneer * zld) * (repression if sna else 1)
    promoter (m Trl sites):  a = base + promoter_gain * (1 - exp(-k * m)) * (1 + promoter_pioneer * zld)

where ``pair`` is 1 when two of ``t``'s activator sites are 10-30 bp apart, ``zld`` is 1 when
the region has a vfl site and vfl is active in ``t``, and ``sna`` is true when the region has
a sna site and ``t`` expresses sna. The constants live in :class:`GrammarParams`: base 0.02,
gain 0.5, k 0.7, coop 0.3, pioneer 0.5, repression 0.3, promoter_gain 1.2, promoter_pioneer
0.2. A specific enhancer in its own type therefore reads 0.27 (one site, 14x background) to
0.94 (four sites, a pair and Zelda, 47x), down to 0.10 where Snail represses it; a promoter
reads 0.92-1.31 in every type; everything else 0.02. The rules are the ones enhancer logic is
made of: diminishing returns in site count, cooperativity from spacing, a pioneer that
amplifies but does not open, and repression limited to the types that express the repressor.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from atlasbench.errors import AtlasbenchError
from atlasbench.io.genome import base_codes
from atlasbench.io.jaspar import Motif, jaspar_motif
from atlasbench.simulate.chance_matches import remove_chance_matches
from atlasbench.simulate.motifs import relative_scores, reverse_complement, sample_instance

log = logging.getLogger(__name__)

KINDS = ("enhancer", "shared", "promoter", "closed")
ROLES = ("activator", "pioneer", "repressor", "promoter")

#: Default share of each region kind.
DEFAULT_FRACTIONS: Mapping[str, float] = MappingProxyType(
    {"enhancer": 0.55, "shared": 0.10, "promoter": 0.15, "closed": 0.20}
)

REGION_COLUMNS = ["name", "chrom", "start", "end", "summit", "kind", "target", "strand"]
SITE_COLUMNS = ["region", "motif", "role", "cell_type", "chrom", "start", "end", "strand", "sequence"]

_PLACEMENT_TRIES = 50


@dataclass(frozen=True)
class CellType:
    """A simulated cell type.

    Attributes
    ----------
    name
        The type's name, by convention its marker transcription factor (``"twi"``).
    activator
        JASPAR CORE name of the motif whose sites open this type's enhancers.
    tissue
        What the type stands for (documentation only).
    pioneer
        Whether the shared pioneer (vfl, Zelda) is active in this type.
    repressor
        Whether the repressor (sna, Snail) is expressed in this type.
    """

    name: str
    activator: str
    tissue: str = ""
    pioneer: bool = True
    repressor: bool = False


DEFAULT_CELL_TYPES: tuple[CellType, ...] = (
    CellType("twi", "twi", "mesoderm", pioneer=True, repressor=True),
    CellType("tin", "tin", "cardiac mesoderm", pioneer=True, repressor=True),
    CellType("lz", "lz", "crystal cells (hemocytes)", pioneer=True),
    CellType("GATAe", "GATAe", "midgut endoderm", pioneer=False),
    CellType("SoxN", "SoxN", "neuroectoderm", pioneer=True),
    CellType("grh", "grh", "epidermis", pioneer=True),
    CellType("repo", "repo", "glia", pioneer=False),
    CellType("fkh", "fkh", "salivary gland / gut", pioneer=False),
)


#: Sixteen mouse motor cortex-like types (the ``paper`` preset); see the module docstring.
CORTEX_CELL_TYPES: tuple[CellType, ...] = (
    CellType("L2-3_IT", "CUX2", "layer 2/3 intratelencephalic neurons", pioneer=True),
    CellType("L4-5_IT", "RORB", "layer 4/5 intratelencephalic neurons", pioneer=True),
    CellType("L5_ET", "FEZF2", "layer 5 extratelencephalic neurons", pioneer=True),
    CellType("L6_IT", "TBR1", "layer 6 intratelencephalic neurons", pioneer=True),
    CellType("L6_CT", "FOXP2", "layer 6 corticothalamic neurons", pioneer=True),
    CellType("L6b", "Npas4", "layer 6b neurons", pioneer=True),
    CellType("Pvalb", "MEF2C", "parvalbumin interneurons", pioneer=True),
    CellType("Sst", "LHX6", "somatostatin interneurons", pioneer=True),
    CellType("Vip", "SP8", "VIP interneurons", pioneer=True),
    CellType("Lamp5", "PROX1", "LAMP5 interneurons", pioneer=True),
    CellType("Astro", "NFIA", "astrocytes", pioneer=False, repressor=True),
    CellType("Oligo", "SOX10", "oligodendrocytes", pioneer=False, repressor=True),
    CellType("OPC", "Olig2", "oligodendrocyte precursors", pioneer=False, repressor=True),
    CellType("Micro", "Spi1", "microglia", pioneer=False, repressor=True),
    CellType("Endo", "GATA2", "endothelial cells", pioneer=False, repressor=True),
    CellType("VLMC", "EBF1", "vascular leptomeningeal cells", pioneer=False, repressor=True),
)


@dataclass(frozen=True)
class GrammarParams:
    """Constants of the grammar: the accessibility formula and how sites are laid out.

    Attributes
    ----------
    base
        Accessibility of a closed region (and of an enhancer in a type whose activator
        it lacks).
    gain
        Scale of an enhancer's accessibility above ``base``.
    site_rate
        ``k`` of the saturating site-count term ``1 - exp(-k * n)`` (enhancers and
        promoters).
    coop
        Relative boost from a cooperative pair of activator sites.
    pioneer
        Relative boost of an enhancer from a vfl site, in types where vfl is active.
    repression
        Factor applied to an enhancer with a sna site, in types expressing sna.
    promoter_gain
        Scale of a promoter's accessibility above ``base``.
    promoter_pioneer
        Relative boost of a promoter from a vfl site, in types where vfl is active.
    coop_gap
        Edge-to-edge distance (bp, inclusive range) at which two sites of one activator
        form a cooperative pair.
    core_width
        Sites are planted in the central ``core_width`` bp of each window.
    activator_sites
        Range (inclusive) of the number of activator sites in a specific enhancer.
    shared_types
        Range (inclusive) of the number of target types of a shared enhancer.
    promoter_sites
        Range (inclusive) of the number of promoter-motif sites in a promoter.
    p_pair
        Probability that a specific enhancer with two or more activator sites has a
        cooperative pair.
    p_pioneer
        Probability that an enhancer (specific or shared) has a vfl site.
    p_repressor
        Probability that an enhancer (specific or shared) has a sna site.
    p_promoter_pioneer
        Probability that a promoter has a vfl site.
    max_n_fraction
        Windows with a larger fraction of N are never chosen.
    pioneer_motif, repressor_motif, promoter_motif
        JASPAR CORE names of the shared pioneer, the repressor and the promoter motif.
    site_score
        Least relative score of a planted site
        (:func:`~atlasbench.simulate.motifs.relative_scores`); weaker draws are drawn again.
    chance_score
        Relative score from which a window that is not a planted site counts as a chance
        match and is broken (:mod:`~atlasbench.simulate.chance_matches`); below
        ``site_score``, so that planted and chance sites are told apart by a margin.
    """

    base: float = 0.02
    gain: float = 0.5
    site_rate: float = 0.7
    coop: float = 0.3
    pioneer: float = 0.5
    repression: float = 0.3
    promoter_gain: float = 1.2
    promoter_pioneer: float = 0.2
    coop_gap: tuple[int, int] = (10, 30)
    core_width: int = 300
    activator_sites: tuple[int, int] = (1, 4)
    shared_types: tuple[int, int] = (2, 3)
    promoter_sites: tuple[int, int] = (2, 3)
    p_pair: float = 0.4
    p_pioneer: float = 0.5
    p_repressor: float = 0.25
    p_promoter_pioneer: float = 0.75
    max_n_fraction: float = 0.1
    pioneer_motif: str = "vfl"
    repressor_motif: str = "sna"
    promoter_motif: str = "Trl"
    site_score: float = 0.9
    chance_score: float = 0.85


#: The grammar of :data:`CORTEX_CELL_TYPES`: mammalian pioneer, repressor and promoter motifs.
CORTEX_GRAMMAR = GrammarParams(pioneer_motif="Jun", repressor_motif="REST", promoter_motif="Nrf1")


def motif_similarity(a: np.ndarray, b: np.ndarray, min_overlap: int = 6) -> float:
    """How alike two motifs look: the best column correlation over alignments.

    Both probability matrices are centred (0.25 subtracted) and compared as one
    Pearson-like correlation over the overlapping columns, at every offset with at least
    ``min_overlap`` columns in common and on both strands of ``b``; the best value is
    returned. 1 means one motif is (part of) the other; unrelated motifs score about
    0.4 to 0.7, members of one DNA-binding family 0.8 to 1.

    Parameters
    ----------
    a, b
        Position probability matrices, shape ``(length, 4)`` (A, C, G, T).
    min_overlap
        Fewest columns two alignments must share (capped at the shorter motif's length).

    Returns
    -------
    float
        The best correlation, in [-1, 1].
    """
    overlap = min(min_overlap, len(a), len(b))
    best = -1.0
    for other in (b, b[::-1, ::-1]):
        for offset in range(overlap - len(other), len(a) - overlap + 1):
            lo, hi = max(0, offset), min(len(a), offset + len(other))
            x = a[lo:hi] - 0.25
            y = other[lo - offset : hi - offset] - 0.25
            best = max(best, float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum())))
    return best


@dataclass(frozen=True, eq=False)
class Design:
    """A designed atlas: the planted genome, its regions, sites and true accessibility.

    Attributes
    ----------
    genome
        Chromosome -> uppercase sequence with the motifs planted; same chromosomes, order
        and lengths as the input genome.
    regions
        One row per region, sorted by chromosome (genome order) and start: ``name``
        (``chrom:start-end``), ``chrom``, ``start``, ``end`` (0-based half-open),
        ``summit`` (window centre), ``kind`` (enhancer, shared, promoter, closed),
        ``target`` (the enhancer's cell type; for shared ones the types joined by ",";
        "" otherwise), ``strand`` (``+``/``-`` for promoters, ``.`` otherwise).
    sites
        One row per planted motif instance: ``region`` (name), ``motif`` (JASPAR name),
        ``role`` (activator, pioneer, repressor, promoter), ``cell_type`` (whose
        activator, or ""), ``chrom``, ``start``, ``end`` (genomic, 0-based half-open),
        ``strand`` and ``sequence`` (the instance on the motif's strand:
        ``genome[chrom][start:end]`` is it for ``+`` and its reverse complement for
        ``-``).
    truth
        Accessibility, index = region names, one float column per cell type.
    cell_types
        Cell type names, in column order.
    params
        The grammar constants used.
    cell_type_specs
        The cell types with their activators and pioneer/repressor activity.
    """

    genome: dict[str, str]
    regions: pd.DataFrame
    sites: pd.DataFrame
    truth: pd.DataFrame
    cell_types: list[str]
    params: GrammarParams = GrammarParams()
    cell_type_specs: tuple[CellType, ...] = DEFAULT_CELL_TYPES


# --------------------------------------------------------------------------- truth


def _has_pair(spans: list[tuple[int, int]], gap: tuple[int, int]) -> bool:
    for i, (s1, e1) in enumerate(spans):
        for s2, e2 in spans[i + 1 :]:
            distance = s2 - e1 if s2 >= e1 else s1 - e2
            if gap[0] <= distance <= gap[1]:
                return True
    return False


def _region_accessibility(
    sites: list[tuple[str, str, int, int]],
    activators: list[str],
    specs: Sequence[CellType],
    params: GrammarParams,
) -> list[float]:
    """Accessibility of one region in each type from its sites ``(motif, role, start, end)``."""
    has_pioneer = any(role == "pioneer" for _, role, _, _ in sites)
    has_repressor = any(role == "repressor" for _, role, _, _ in sites)
    n_promoter = sum(role == "promoter" for _, role, _, _ in sites)
    values = []
    for spec, activator in zip(specs, activators):
        zld = has_pioneer and spec.pioneer
        if n_promoter:
            boost = 1.0 + params.promoter_pioneer * zld
            values.append(params.base + params.promoter_gain * (1.0 - math.exp(-params.site_rate * n_promoter)) * boost)
            continue
        spans = [(s, e) for motif, role, s, e in sites if role == "activator" and motif == activator]
        if not spans:
            values.append(params.base)
            continue
        a = params.gain * (1.0 - math.exp(-params.site_rate * len(spans)))
        a *= 1.0 + params.coop * _has_pair(spans, params.coop_gap)
        a *= 1.0 + params.pioneer * zld
        if has_repressor and spec.repressor:
            a *= params.repression
        values.append(params.base + a)
    return values


def accessibility(
    regions: pd.DataFrame,
    sites: pd.DataFrame,
    cell_types: Sequence[CellType] = DEFAULT_CELL_TYPES,
    params: GrammarParams = GrammarParams(),
) -> pd.DataFrame:
    """True accessibility of each region in each cell type, from the planted sites alone.

    Applies the formula of the module documentation: a region with promoter-motif
    sites is a promoter; otherwise a type whose activator has ``n >= 1`` sites in the
    region sees an enhancer, and every other type sees ``base``.

    Parameters
    ----------
    regions
        Region table with a ``name`` column (see :class:`Design`).
    sites
        Site table (see :class:`Design`): ``region``, ``motif``, ``role``, ``start``,
        ``end`` are used.
    cell_types
        The cell types, in column order.
    params
        Grammar constants.

    Returns
    -------
    pandas.DataFrame
        Index = region names (in the order of ``regions``), one float64 column per type.
    """
    activators = [jaspar_motif(ct.activator).name for ct in cell_types]
    by_region: dict[str, list[tuple[str, str, int, int]]] = {}
    for region, motif, role, start, end in zip(
        sites["region"], sites["motif"], sites["role"], sites["start"], sites["end"]
    ):
        by_region.setdefault(region, []).append((motif, role, int(start), int(end)))
    names = list(regions["name"])
    values = np.array(
        [_region_accessibility(by_region.get(name, []), activators, cell_types, params) for name in names],
        dtype=np.float64,
    ).reshape(len(names), len(cell_types))
    truth = pd.DataFrame(values, index=pd.Index(names, name="region"), columns=[ct.name for ct in cell_types])
    return truth


# --------------------------------------------------------------------------- windows


def _valid_runs(seq: str, width: int, max_n_fraction: float) -> tuple[list[int], list[int]]:
    """Runs ``[lo, hi]`` (inclusive) of window starts whose N fraction is allowed."""
    length = len(seq)
    if length < width:
        return [], []
    arr = np.frombuffer(seq.encode("latin-1"), dtype=np.uint8)
    is_n = (arr == ord("N")) | (arr == ord("n"))
    if not is_n.any():
        return [0], [length - width]
    cumulative = np.concatenate(([0], np.cumsum(is_n, dtype=np.int64)))
    n_in_window = cumulative[width:] - cumulative[:-width]
    valid = n_in_window <= max_n_fraction * width
    edges = np.diff(valid.astype(np.int8), prepend=0, append=0)
    lo = np.flatnonzero(edges == 1)
    hi = np.flatnonzero(edges == -1) - 1
    return lo.tolist(), hi.tolist()


def _packed_layout(lo: list[int], hi: list[int], pitch: int) -> list[int]:
    """Leftmost greedy packing of windows: the most that fit, each ``pitch`` after the last."""
    layout: list[int] = []
    pos = 0
    while True:
        j = bisect.bisect_left(hi, pos)
        if j == len(hi):
            return layout
        start = max(pos, lo[j])
        layout.append(start)
        pos = start + pitch


def _random_valid(lo: list[int], hi: list[int], a: int, b: int, rng: np.random.Generator) -> int:
    """A uniformly random allowed start in ``[a, b]`` (at least one must exist)."""
    j0 = bisect.bisect_left(hi, a)
    j1 = bisect.bisect_right(lo, b)
    segments = [(max(lo[j], a), min(hi[j], b)) for j in range(j0, j1)]
    sizes = [e - s + 1 for s, e in segments]
    u = int(rng.integers(sum(sizes)))
    for (s, _), size in zip(segments, sizes):
        if u < size:
            return s + u
        u -= size
    raise AssertionError("unreachable")


def _allocate(n: int, lengths: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Split ``n`` windows over chromosomes in proportion to length, within capacity."""
    alloc = np.zeros(len(lengths), dtype=np.int64)
    while alloc.sum() < n:
        remaining = n - int(alloc.sum())
        active = alloc < capacity
        share = np.zeros(len(lengths))
        share[active] = remaining * lengths[active] / lengths[active].sum()
        add = np.minimum(np.floor(share).astype(np.int64), capacity - alloc)
        if add.sum() == 0:
            order = sorted(np.flatnonzero(active), key=lambda i: (-(share[i] - math.floor(share[i])), i))
            for i in order[:remaining]:
                add[i] = 1
        alloc += add
    return alloc


def _choose_windows(
    genome: Mapping[str, str], n_regions: int, width: int, spacing: int, max_n_fraction: float, rng: np.random.Generator
) -> list[tuple[str, int]]:
    pitch = width + spacing
    chroms = list(genome)
    runs = [_valid_runs(genome[c], width, max_n_fraction) for c in chroms]
    layouts = [_packed_layout(lo, hi, pitch) for lo, hi in runs]
    capacity = np.array([len(layout) for layout in layouts], dtype=np.int64)
    if capacity.sum() < n_regions:
        raise AtlasbenchError(
            f"the genome holds at most {int(capacity.sum()):,} windows of {width} bp at least {spacing} bp apart "
            f"(with at most {max_n_fraction:.0%} N each); {n_regions:,} regions were asked for: "
            "ask for fewer regions, or narrower or closer windows"
        )
    lengths = np.array([len(genome[c]) for c in chroms], dtype=np.float64)
    alloc = _allocate(n_regions, lengths, capacity)
    windows: list[tuple[str, int]] = []
    for chrom, (lo, hi), layout, k in zip(chroms, runs, layouts, alloc):
        if k == 0:
            continue
        chosen = np.sort(rng.choice(len(layout), size=int(k), replace=False))
        starts = [layout[i] for i in chosen]
        last = len(genome[chrom]) - width
        # Jitter every window within the room its neighbours leave (two sweeps), so the
        # layout is random rather than packed to the left.
        for _ in range(2):
            for i in range(len(starts)):
                a = starts[i - 1] + pitch if i > 0 else 0
                b = starts[i + 1] - pitch if i + 1 < len(starts) else last
                starts[i] = _random_valid(lo, hi, a, b, rng)
        windows.extend((chrom, s) for s in starts)
    return windows


# --------------------------------------------------------------------------- sites


def _free_positions(
    core: tuple[int, int],
    length: int,
    occupied: list[tuple[int, int]],
    same_motif: list[tuple[int, int]],
    gap: tuple[int, int],
) -> np.ndarray:
    """Starts in the core where a site of ``length`` overlaps nothing and pairs with nothing."""
    starts = np.arange(core[0], core[1] - length + 1)
    ends = starts + length
    ok = np.ones(len(starts), dtype=bool)
    for s, e in occupied:
        ok &= (ends <= s) | (starts >= e)
    for s, e in same_motif:
        distance = np.where(starts >= e, starts - e, s - ends)
        ok &= (distance < gap[0]) | (distance > gap[1])
    return starts[ok]


def _lay_out(
    plan: list[tuple[str, str, str, int]],
    pair: bool,
    core: tuple[int, int],
    params: GrammarParams,
    rng: np.random.Generator,
) -> list[int] | None:
    """Start of each planned site ``(motif, role, cell_type, length)``, or None if stuck.

    With ``pair``, the first two planned sites (same activator) are placed as one block
    ``coop_gap`` apart; no other two sites of one activator end up at pairing distance.
    """
    starts: list[int] = []
    occupied: list[tuple[int, int]] = []
    by_motif: dict[str, list[tuple[int, int]]] = {}
    first = 0
    if pair:
        (motif, _, _, len_a), (_, _, _, len_b) = plan[0], plan[1]
        distance = int(rng.integers(params.coop_gap[0], params.coop_gap[1] + 1))
        block = len_a + distance + len_b
        if block > core[1] - core[0]:
            return None
        s = int(rng.integers(core[0], core[1] - block + 1))
        spans = [(s, s + len_a), (s + len_a + distance, s + block)]
        starts += [spans[0][0], spans[1][0]]
        occupied += spans
        by_motif[motif] = list(spans)
        first = 2
    for motif, role, _, length in plan[first:]:
        same = by_motif.get(motif, []) if role == "activator" else []
        free = _free_positions(core, length, occupied, same, params.coop_gap)
        if len(free) == 0:
            return None
        s = int(free[rng.integers(len(free))])
        starts.append(s)
        occupied.append((s, s + length))
        if role == "activator":
            by_motif.setdefault(motif, []).append((s, s + length))
    return starts


def _clean_instance(motif: Motif, motifs: Sequence[Motif], params: GrammarParams, rng: np.random.Generator) -> str:
    """A site of ``motif`` scoring at least ``site_score`` that holds no chance match of another motif."""
    for _ in range(_PLACEMENT_TRIES):
        instance = sample_instance(motif, rng, params.site_score)
        codes = base_codes(instance)
        if not any((relative_scores(codes, m) >= params.chance_score).any() for m in motifs if m.name != motif.name):
            return instance
    raise AtlasbenchError(
        f"every draw of motif {motif.name} holds a match of another grammar motif; use a higher chance_score"
    )


def _check_inputs(
    genome: Mapping[str, str],
    n_regions: int,
    cell_types: Sequence[CellType],
    width: int,
    spacing: int,
    fractions: Mapping[str, float],
    params: GrammarParams,
) -> dict[str, float]:
    if not genome:
        raise AtlasbenchError("the genome has no chromosomes")
    if not isinstance(n_regions, (int, np.integer)) or n_regions < 1:
        raise AtlasbenchError(f"n_regions must be a positive integer, got {n_regions!r}")
    if width < 1 or spacing < 0:
        raise AtlasbenchError(f"width must be positive and spacing not negative, got width={width}, spacing={spacing}")
    if not cell_types:
        raise AtlasbenchError("at least one cell type is needed")
    names = [ct.name for ct in cell_types]
    if len(set(names)) != len(names):
        raise AtlasbenchError(f"cell type names must be unique, got {names}")
    unknown = set(fractions) - set(KINDS)
    if unknown:
        raise AtlasbenchError(f"unknown region kinds in fractions: {sorted(unknown)}; known: {list(KINDS)}")
    shares = {kind: float(fractions.get(kind, 0.0)) for kind in KINDS}
    if any(v < 0 for v in shares.values()) or not math.isclose(sum(shares.values()), 1.0, abs_tol=1e-6):
        raise AtlasbenchError(f"region kind fractions must be non-negative and sum to 1, got {shares}")
    if shares["shared"] > 0 and len(cell_types) < 2:
        raise AtlasbenchError("shared enhancers need at least two cell types; set the 'shared' fraction to 0")
    if not 0 < params.chance_score <= params.site_score < 1:
        raise AtlasbenchError(
            "the grammar needs 0 < chance_score <= site_score < 1 (relative motif scores), got "
            f"chance_score={params.chance_score}, site_score={params.site_score}"
        )
    helpers = {jaspar_motif(m).name for m in (params.pioneer_motif, params.repressor_motif, params.promoter_motif)}
    clash = sorted({jaspar_motif(ct.activator).name for ct in cell_types} & helpers)
    if clash:
        raise AtlasbenchError(f"activator motifs {clash} are also the pioneer, repressor or promoter motif")
    return shares


def _kind_counts(n: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Largest-remainder split of ``n`` regions by share (ties go to the earlier kind)."""
    exact = {kind: n * shares[kind] for kind in KINDS}
    counts = {kind: math.floor(exact[kind]) for kind in KINDS}
    leftover = n - sum(counts.values())
    for kind in sorted(KINDS, key=lambda k: (-(exact[k] - counts[k]), KINDS.index(k)))[:leftover]:
        counts[kind] += 1
    return counts


def design_atlas(
    genome: Mapping[str, str],
    n_regions: int,
    cell_types: Sequence[CellType] = DEFAULT_CELL_TYPES,
    *,
    rng: np.random.Generator,
    width: int = 500,
    spacing: int = 1000,
    fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
    params: GrammarParams = GrammarParams(),
) -> Design:
    """Design an atlas: choose regions in a real genome, plant motifs, derive the truth.

    The steps and rules are those of the module documentation: windows at random, spaced
    and N-free, spread over chromosomes by length; a kind for each window by
    ``fractions``; motif instances planted in the central ``params.core_width`` bp
    following the kind's recipe; the accessibility of each region in each cell type
    computed from the planted sites by :func:`accessibility`. The input genome is not
    modified. Everything random comes from ``rng``, so the same seed gives the same
    design.

    Parameters
    ----------
    genome
        Chromosome -> uppercase sequence (a real genome or a slice of one).
    n_regions
        Number of regions (windows) to design.
    cell_types
        The cell types; default :data:`DEFAULT_CELL_TYPES`.
    rng
        Source of randomness.
    width
        Window width in bp.
    spacing
        Minimum distance between windows, edge to edge, in bp.
    fractions
        Share of each region kind (``enhancer``, ``shared``, ``promoter``, ``closed``);
        must sum to 1; default :data:`DEFAULT_FRACTIONS`.
    params
        Grammar constants.

    Returns
    -------
    Design
        The planted genome with the region, site and truth tables.

    Raises
    ------
    AtlasbenchError
        On bad arguments, unknown motif names, or when the genome cannot hold
        ``n_regions`` windows (the message says how many fit).
    """
    cell_types = tuple(cell_types)
    shares = _check_inputs(genome, n_regions, cell_types, width, spacing, fractions, params)
    windows = _choose_windows(genome, int(n_regions), width, spacing, params.max_n_fraction, rng)
    n = len(windows)

    counts = _kind_counts(n, shares)
    kinds = np.array([kind for kind in KINDS for _ in range(counts[kind])], dtype=object)[rng.permutation(n)]
    targets = [""] * n
    enhancers = np.flatnonzero(kinds == "enhancer")
    for turn, i in enumerate(rng.permutation(enhancers)):
        targets[i] = cell_types[turn % len(cell_types)].name
    lo_types, hi_types = params.shared_types
    hi_types = min(hi_types, len(cell_types))
    for i in np.flatnonzero(kinds == "shared"):
        k = int(rng.integers(min(lo_types, hi_types), hi_types + 1))
        chosen = sorted(rng.choice(len(cell_types), size=k, replace=False))
        targets[i] = ",".join(cell_types[j].name for j in chosen)

    motif_of = {ct.name: jaspar_motif(ct.activator) for ct in cell_types}
    pioneer = jaspar_motif(params.pioneer_motif)
    repressor = jaspar_motif(params.repressor_motif)
    promoter = jaspar_motif(params.promoter_motif)
    core_width = min(params.core_width, width)
    grammar_motifs = [*motif_of.values(), pioneer, repressor, promoter]

    region_rows = []
    site_rows = []
    edits: dict[str, list[tuple[int, str]]] = {}
    spans: dict[str, list[tuple[str, int, int]]] = {}
    for i, (chrom, start) in enumerate(windows):
        kind = str(kinds[i])
        end = start + width
        summit = start + width // 2
        name = f"{chrom}:{start}-{end}"
        strand = "."
        plan: list[tuple[Motif, str, str]] = []  # (motif, role, cell_type)
        pair = False
        if kind == "enhancer":
            n_act = int(rng.integers(params.activator_sites[0], params.activator_sites[1] + 1))
            plan += [(motif_of[targets[i]], "activator", targets[i])] * n_act
            pair = n_act >= 2 and rng.random() < params.p_pair
        elif kind == "shared":
            plan += [(motif_of[t], "activator", t) for t in targets[i].split(",")]
        elif kind == "promoter":
            strand = "+" if rng.random() < 0.5 else "-"
            n_prom = int(rng.integers(params.promoter_sites[0], params.promoter_sites[1] + 1))
            plan += [(promoter, "promoter", "")] * n_prom
            if rng.random() < params.p_promoter_pioneer:
                plan.append((pioneer, "pioneer", ""))
        if kind in ("enhancer", "shared"):
            if rng.random() < params.p_pioneer:
                plan.append((pioneer, "pioneer", ""))
            if rng.random() < params.p_repressor:
                plan.append((repressor, "repressor", ""))
        region_rows.append((name, chrom, start, end, summit, kind, targets[i], strand))
        if not plan:
            continue

        core_start = summit - core_width // 2
        core = (max(core_start, start), min(core_start + core_width, end))
        layout_plan = [(m.name, role, ct, m.length) for m, role, ct in plan]
        for _ in range(_PLACEMENT_TRIES):
            starts = _lay_out(layout_plan, pair, core, params, rng)
            if starts is not None:
                break
        else:
            raise AtlasbenchError(
                f"cannot fit {len(plan)} motif sites into the central {core_width} bp of region {name}; "
                "use a larger core_width or fewer sites"
            )
        for (motif, role, ct), s in sorted(zip(plan, starts), key=lambda item: item[1]):
            instance = _clean_instance(motif, grammar_motifs, params, rng)
            site_strand = "+" if rng.random() < 0.5 else "-"
            genomic = instance if site_strand == "+" else reverse_complement(instance)
            edits.setdefault(chrom, []).append((s, genomic))
            spans.setdefault(chrom, []).append((motif.name, s, s + motif.length))
            site_rows.append((name, motif.name, role, ct, chrom, s, s + motif.length, site_strand, instance))

    planted: dict[str, str] = {}
    for chrom, seq in genome.items():
        if chrom not in edits:
            planted[chrom] = seq
            continue
        buffer = bytearray(seq.encode("latin-1"))
        for s, text in edits[chrom]:
            buffer[s : s + len(text)] = text.encode("ascii")
        planted[chrom] = buffer.decode("latin-1")
    planted, substitutions, left = remove_chance_matches(planted, grammar_motifs, spans, params.chance_score)
    n_bases = max(1, sum(len(seq) for seq in planted.values()))
    log.info(
        "broke chance motif matches: %d substitutions (%.2f%% of bases); %d matches inside planted sites left",
        substitutions,
        100 * substitutions / n_bases,
        left,
    )

    regions = pd.DataFrame(region_rows, columns=REGION_COLUMNS)
    for column in ("start", "end", "summit"):
        regions[column] = regions[column].astype(np.int64)
    sites = pd.DataFrame(site_rows, columns=SITE_COLUMNS)
    for column in ("start", "end"):
        sites[column] = sites[column].astype(np.int64)
    truth = accessibility(regions, sites, cell_types, params)
    return Design(
        genome=planted,
        regions=regions,
        sites=sites,
        truth=truth,
        cell_types=[ct.name for ct in cell_types],
        params=params,
        cell_type_specs=cell_types,
    )
