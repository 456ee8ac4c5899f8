"""Folds: which regions a model trains, validates and is tested on.

A fold scheme splits the consensus regions into k folds; model i is tested on fold i.
Regions close on the genome share sequence context and signal, so a random split leaks
information between train and test; holding out whole chromosomes (ChromBPNet, most human
work) or contiguous chromosome blocks avoids that. The published mouse study cut each
chromosome's regions, in genomic order, into k blocks of equal count (its
``_train_val_split.py``; scheme ``"chromosome_block"``); ``"chromosome_block_length"``
cuts each chromosome into k blocks of equal length instead, an atlasbench variant (CREsted
1.11 has no k-fold function). The fly atlas of the paper used random folds.
The scheme is fixed per study and recorded with every result (:meth:`FoldScheme.describe`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from atlasbench.errors import AtlasbenchError

log = logging.getLogger(__name__)

FoldKind = Literal["chromosome", "chromosome_block", "chromosome_block_length", "random"]
_KINDS = ("chromosome", "chromosome_block", "chromosome_block_length", "random")

RULES_VERSION = 2
"""Version of the rules that assign regions to folds; cached fold tables made under
another version are rebuilt (2: ``chromosome_block`` cuts blocks of equal count, as the
published code does, no longer of equal length)."""


@dataclass(frozen=True)
class FoldScheme:
    """How regions are split into k folds.

    Parameters
    ----------
    kind
        ``"chromosome"``: whole chromosomes are held out; ``"chromosome_block"``: every
        chromosome's regions, in genomic order, are cut into k contiguous blocks of equal
        count (as the published study's ``_train_val_split.py``) and fold i holds block i of
        every chromosome; ``"chromosome_block_length"``: the same with blocks of equal
        length of the chromosome; ``"random"``: regions are assigned at random.
    k
        Number of folds (at least 2).
    seed
        Seed of the random assignment (``"random"`` only).
    groups
        For ``"chromosome"``: explicit chromosomes of each fold (``groups[i]`` is fold i);
        ``None`` balances chromosomes over folds by size.
    """

    kind: FoldKind
    k: int
    seed: int = 0
    groups: tuple[tuple[str, ...], ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise AtlasbenchError(f"fold scheme: kind must be one of {', '.join(_KINDS)}, got {self.kind!r}")
        if not isinstance(self.k, int) or self.k < 2:
            raise AtlasbenchError(f"fold scheme: k must be an integer of at least 2, got {self.k!r}")
        if self.groups is not None:
            if self.kind != "chromosome":
                raise AtlasbenchError(f"fold scheme: groups apply to kind 'chromosome' only, not {self.kind!r}")
            if len(self.groups) != self.k:
                raise AtlasbenchError(
                    f"fold scheme: k={self.k} but {len(self.groups)} chromosome groups given (one group per fold)"
                )
            if any(len(group) == 0 for group in self.groups):
                raise AtlasbenchError("fold scheme: every chromosome group must name at least one chromosome")

    def describe(self) -> str:
        """A short label of the scheme for result tables, e.g. ``"chromosome_block k=10"``."""
        text = f"{self.kind} k={self.k}"
        if self.kind == "random":
            text += f" seed={self.seed}"
        if self.groups is not None:
            text += " groups=" + "|".join("+".join(group) for group in self.groups)
        return text


def _chromosome_sizes_of(chrom: pd.Series, chrom_sizes: Mapping[str, int]) -> np.ndarray:
    """Size of each region's chromosome; error on a chromosome without a size."""
    size = chrom.map(dict(chrom_sizes))
    unknown = size.isna()
    if unknown.any():
        names = sorted(chrom[unknown].astype(str).unique())
        raise AtlasbenchError(f"fold assignment: chromosome(s) {', '.join(names[:5])} of the regions have no size")
    return size.to_numpy(dtype=np.int64)


def _chromosome_groups(chromosomes: list[str], k: int, chrom_sizes: Mapping[str, int]) -> dict[str, int]:
    """Assign chromosomes to k folds balanced by total length: greedy, largest first.

    Each chromosome, from the longest down (ties in ``chrom_sizes`` order), goes to the
    fold with the smallest total so far (ties: lowest fold id). Deterministic.
    """
    if k > len(chromosomes):
        raise AtlasbenchError(
            f"fold scheme: k={k} chromosome folds need at least {k} chromosomes, "
            f"the regions lie on {len(chromosomes)} ({', '.join(chromosomes)})"
        )
    rank = {name: i for i, name in enumerate(chrom_sizes)}
    by_size = sorted(chromosomes, key=lambda name: (-chrom_sizes[name], rank[name]))
    totals = np.zeros(k, dtype=np.int64)
    fold_of = {}
    for name in by_size:
        fold = int(np.argmin(totals))
        fold_of[name] = fold
        totals[fold] += chrom_sizes[name]
    log.info("chromosome folds: total length per fold %s", totals.tolist())
    return fold_of


def _explicit_groups(chromosomes: list[str], groups: tuple[tuple[str, ...], ...]) -> dict[str, int]:
    """Map chromosome -> fold from explicit groups; every region chromosome in exactly one."""
    fold_of: dict[str, int] = {}
    for fold, group in enumerate(groups):
        for name in group:
            if name in fold_of:
                raise AtlasbenchError(
                    f"fold scheme: chromosome {name!r} is in group {fold_of[name]} and group {fold}; "
                    "each chromosome must be in exactly one group"
                )
            fold_of[name] = fold
    ungrouped = [name for name in chromosomes if name not in fold_of]
    if ungrouped:
        raise AtlasbenchError(
            f"fold scheme: chromosome(s) {', '.join(ungrouped)} of the regions are in no group; "
            "each chromosome must be in exactly one group"
        )
    empty = sorted(set(range(len(groups))) - {fold_of[name] for name in chromosomes})
    if empty:
        log.warning("chromosome folds %s hold no region", empty)
    return fold_of


def assign_folds(regions: pd.DataFrame, scheme: FoldScheme, chrom_sizes: Mapping[str, int]) -> np.ndarray:
    """Give every region a fold id in ``0 .. k-1`` according to a fold scheme.

    - ``"chromosome"``: a region's fold is its chromosome's fold: ``scheme.groups`` when
      given, else a size-balanced assignment of the regions' chromosomes (greedy,
      largest first; deterministic).
    - ``"chromosome_block"``: as the published study's code (``_train_val_split.py``): the
      n regions of each chromosome, in genomic order (by start, then end, then table
      order), are cut into k contiguous blocks of equal count, and fold i is block i of
      every chromosome. When k does not divide n the first ``n % k`` blocks hold one region
      more, as :func:`numpy.array_split` cuts (10 regions, k = 3: 4, 3, 3); a chromosome
      with fewer than k regions gives one region to each of its first blocks.
    - ``"chromosome_block_length"``: an atlasbench variant, not the published scheme:
      chromosome c of length L is cut into k blocks ``[i L / k, (i + 1) L / k)``; a region
      belongs to the block holding its midpoint ``(start + end) // 2``, so fold i is block
      i of every chromosome (unevenly spaced regions give blocks of unequal count).
    - ``"random"``: a seeded random permutation of the regions cut into k parts whose
      sizes differ by at most one.

    Parameters
    ----------
    regions
        Region table (``chrom``, ``start``, ``end``).
    scheme
        The fold scheme.
    chrom_sizes
        Chromosome lengths (not used by ``"random"``).

    Returns
    -------
    numpy.ndarray
        int64 fold id per region, shape ``(len(regions),)``.

    Raises
    ------
    AtlasbenchError
        On a region chromosome without a size, a midpoint beyond its chromosome, more
        chromosome folds than chromosomes, chromosomes missing from or repeated in
        ``groups``, or more random folds than regions.
    """
    n = len(regions)
    if scheme.kind == "random":
        if scheme.k > n:
            raise AtlasbenchError(f"fold scheme: k={scheme.k} random folds need at least {scheme.k} regions, got {n}")
        permutation = np.random.default_rng(scheme.seed).permutation(n)
        fold_ids = np.empty(n, dtype=np.int64)
        fold_ids[permutation] = np.arange(n, dtype=np.int64) * scheme.k // n
        return fold_ids
    chrom = regions["chrom"].astype(str)
    size = _chromosome_sizes_of(chrom, chrom_sizes)
    if scheme.kind == "chromosome":
        present = set(chrom.unique())
        chromosomes = [name for name in chrom_sizes if name in present]
        if scheme.groups is not None:
            fold_of = _explicit_groups(chromosomes, scheme.groups)
        else:
            fold_of = _chromosome_groups(chromosomes, scheme.k, chrom_sizes)
        return chrom.map(fold_of).to_numpy(dtype=np.int64)
    midpoint = (regions["start"].to_numpy(dtype=np.int64) + regions["end"].to_numpy(dtype=np.int64)) // 2
    beyond = np.flatnonzero(midpoint >= size)
    if beyond.size:
        i = beyond[0]
        raise AtlasbenchError(
            f"fold assignment: region {chrom.iloc[i]}:{regions['start'].iloc[i]}-{regions['end'].iloc[i]} "
            f"has its midpoint beyond the end of {chrom.iloc[i]} (length {size[i]})"
        )
    if scheme.kind == "chromosome_block_length":
        return midpoint * scheme.k // size
    return _equal_count_blocks(chrom, regions, scheme.k)


def _equal_count_blocks(chrom: pd.Series, regions: pd.DataFrame, k: int) -> np.ndarray:
    """Block of each region when each chromosome's regions, in genomic order, are cut into k equal-count blocks.

    Genomic order is by start, then end, then position in the table. A chromosome of n
    regions is cut as :func:`numpy.array_split` cuts n items: with ``q, r = divmod(n, k)``
    the first r blocks hold q + 1 regions, the others q.
    """
    start = regions["start"].to_numpy(dtype=np.int64)
    end = regions["end"].to_numpy(dtype=np.int64)
    codes, _ = pd.factorize(chrom)
    order = np.lexsort((np.arange(len(regions)), end, start, codes))
    fold_ids = np.empty(len(regions), dtype=np.int64)
    sorted_codes = codes[order]
    bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
    for rows in np.split(order, bounds):
        n = rows.size
        q, r = divmod(n, k)
        rank = np.arange(n, dtype=np.int64)
        big = r * (q + 1)  # regions in the first r blocks, q + 1 each
        block = np.where(rank < big, rank // (q + 1), r + (rank - big) // max(q, 1))
        fold_ids[rows] = block
    return fold_ids


def default_validation(test_fold: int, k: int) -> int:
    """The validation fold paired with a test fold when a study asks for a separate one: the next fold."""
    return (test_fold + 1) % k


def split_masks(
    fold_ids: np.ndarray, test_fold: int, validation_fold: int | None = None, *, check: bool = True
) -> dict[str, np.ndarray]:
    """Boolean train / validation / test masks for one model of a k-fold scheme.

    The test fold is held out; the validation fold (for early stopping and learning-rate
    schedules) is held out of training too. ``validation_fold=None`` uses the test fold
    for validation as well, as the published protocol did (PROTOCOL.md: "the validation
    fold also served as test fold"); this keeps all other folds for training but means
    the test score is not fully independent of model selection. Passing the same fold
    for both is allowed and means the same. :func:`default_validation` gives a separate
    validation fold.

    Parameters
    ----------
    fold_ids
        Fold id per region (:func:`assign_folds`).
    test_fold
        Fold held out for testing.
    validation_fold
        Fold used for validation; ``None`` for the test fold.
    check
        Raise when the test or validation fold holds no region. A caller that words an
        empty fold in its own terms passes ``False`` and gets the (then empty) masks.

    Returns
    -------
    dict of str to numpy.ndarray
        ``"train"``, ``"validation"`` and ``"test"`` boolean masks over the regions. Train
        is disjoint from the other two; together the three cover every region.

    Raises
    ------
    AtlasbenchError
        If ``check`` and the test or validation fold holds no region.
    """
    fold_ids = np.asarray(fold_ids)
    validation_fold = test_fold if validation_fold is None else validation_fold
    if check:
        present = np.unique(fold_ids)
        for role, fold in (("test", test_fold), ("validation", validation_fold)):
            if fold not in present:
                raise AtlasbenchError(f"{role} fold {fold} holds no region (folds present: {present.tolist()})")
    test = fold_ids == test_fold
    validation = fold_ids == validation_fold
    return {"train": ~(test | validation), "validation": validation, "test": test}


def split_labels(masks: Mapping[str, np.ndarray]) -> np.ndarray:
    """Each region's part in one model as text, the way a model folder records it.

    A region is ``"test"`` in the test fold, else ``"val"`` in the validation fold, else
    ``"train"``. When one fold both tests and validates the model (``validation_fold``
    equal to ``test_fold``), its regions are ``"test"``: ``"val"`` marks only regions
    held out for validation apart from the test fold.

    Parameters
    ----------
    masks
        The masks of :func:`split_masks`.

    Returns
    -------
    numpy.ndarray
        ``"train"``, ``"val"`` or ``"test"`` per region.
    """
    return np.where(masks["test"], "test", np.where(masks["validation"], "val", "train"))
