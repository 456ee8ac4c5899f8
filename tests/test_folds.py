"""Tests for atlasbench.data.folds: fold schemes and train/validation/test masks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from atlasbench.data.folds import FoldScheme, assign_folds, default_validation, split_masks
from atlasbench.errors import AtlasbenchError

SIZES = {"chr1": 3000, "chr2": 2000, "chr3": 1003}


def _tiled_regions(width: int = 20, step: int = 50) -> pd.DataFrame:
    """Regions every ``step`` bp along each chromosome of SIZES."""
    frames = [
        pd.DataFrame({"chrom": chrom, "start": np.arange(0, size - width, step)}) for chrom, size in SIZES.items()
    ]
    regions = pd.concat(frames, ignore_index=True)
    regions["end"] = regions["start"] + width
    return regions


def test_block_folds_partition_regions_and_every_chromosome_feeds_every_fold() -> None:
    regions = _tiled_regions()
    fold_ids = assign_folds(regions, FoldScheme("chromosome_block", k=4), SIZES)
    assert fold_ids.shape == (len(regions),)
    assert set(fold_ids.tolist()) == {0, 1, 2, 3}
    pairs = pd.crosstab(regions["chrom"], fold_ids)
    assert (pairs > 0).all().all()
    # blocks are contiguous: along a chromosome the fold id never decreases
    for _, group in pd.Series(fold_ids).groupby(regions["chrom"]):
        assert (np.diff(group.to_numpy()) >= 0).all()
    # the test masks of all folds partition the regions
    tests = np.stack([split_masks(fold_ids, i)["test"] for i in range(4)])
    assert (tests.sum(axis=0) == 1).all()


def test_length_block_of_a_region_is_the_block_of_its_midpoint() -> None:
    # chr3 has length 1003; with k = 4 its blocks end at 250.75, 501.5 and 752.25
    regions = pd.DataFrame(
        {
            "chrom": ["chr3"] * 6 + ["chr2"] * 2,
            "start": [0, 240, 200, 230, 990, 500, 498, 499],
            "end": [10, 262, 302, 270, 1003, 504, 500, 501],
        }
    )
    # midpoints 5, 251, 251, 250, 996, 502 on chr3; 499, 500 on chr2 (blocks of 500 bp)
    fold_ids = assign_folds(regions, FoldScheme("chromosome_block_length", k=4), SIZES)
    assert fold_ids.tolist() == [0, 1, 1, 0, 3, 2, 0, 1]


# chr1 (3000 bp): ten regions, eight crowded in the first 100 bp, two far out; listed out of order
_UNEVEN = pd.DataFrame(
    {"chrom": "chr1", "start": [2900, 30, 0, 60, 2000, 10, 50, 20, 70, 40]}
).assign(end=lambda df: df["start"] + 20)


def test_count_blocks_cut_each_chromosome_into_equal_counts_in_genomic_order() -> None:
    # genomic order of the starts: 0 10 20 30 | 40 50 60 | 70 2000 2900 (blocks of 4, 3, 3)
    fold_ids = assign_folds(_UNEVEN, FoldScheme("chromosome_block", k=3), SIZES)
    expected = {0: 0, 10: 0, 20: 0, 30: 0, 40: 1, 50: 1, 60: 1, 70: 2, 2000: 2, 2900: 2}
    assert fold_ids.tolist() == [expected[s] for s in _UNEVEN["start"]]
    assert np.bincount(fold_ids).tolist() == [4, 3, 3]


def test_length_blocks_differ_from_count_blocks_on_unevenly_spaced_regions() -> None:
    # blocks [0, 1000), [1000, 2000), [2000, 3000): midpoints 10..80 -> 0, 2010 and 2910 -> 2
    fold_ids = assign_folds(_UNEVEN, FoldScheme("chromosome_block_length", k=3), SIZES)
    expected = {2000: 2, 2900: 2}
    assert fold_ids.tolist() == [expected.get(s, 0) for s in _UNEVEN["start"]]
    assert np.bincount(fold_ids, minlength=3).tolist() == [8, 0, 2]
    count = assign_folds(_UNEVEN, FoldScheme("chromosome_block", k=3), SIZES)
    assert not np.array_equal(fold_ids, count)


def test_count_blocks_spread_the_remainder_like_numpy_array_split() -> None:
    for n in range(0, 14):
        for k in (2, 3, 4, 5):
            regions = pd.DataFrame({"chrom": "chr1", "start": np.arange(n) * 7}).assign(end=lambda df: df["start"] + 5)
            fold_ids = assign_folds(regions, FoldScheme("chromosome_block", k=k), SIZES)
            expected = np.concatenate(
                [np.full(len(part), i) for i, part in enumerate(np.array_split(np.arange(n), k))]
            )
            assert fold_ids.tolist() == expected.tolist(), (n, k)
    # two regions, three folds: one region each to blocks 0 and 1, block 2 empty
    two = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [500, 100], "end": [510, 110]})
    assert assign_folds(two, FoldScheme("chromosome_block", k=3), SIZES).tolist() == [1, 0]


def test_count_blocks_cut_every_chromosome_on_its_own() -> None:
    # chr2: five regions (2, 2, 1) interleaved with chr3's four (2, 1, 1); ties at a start go by end
    regions = pd.DataFrame(
        {
            "chrom": ["chr2", "chr3", "chr2", "chr3", "chr2", "chr3", "chr2", "chr3", "chr2"],
            "start": [400, 900, 100, 10, 300, 500, 100, 20, 200],
            "end": [410, 910, 150, 20, 310, 510, 120, 30, 210],
        }
    )
    # chr2 in genomic order: 100-120, 100-150 | 200, 300 | 400; chr3: 10, 20 | 500 | 900
    fold_ids = assign_folds(regions, FoldScheme("chromosome_block", k=3), SIZES)
    assert fold_ids.tolist() == [2, 2, 0, 0, 1, 1, 0, 0, 1]


def test_study_folds_accept_both_block_schemes() -> None:
    from atlasbench.study.schema import Folds

    assert Folds(scheme="chromosome_block", k=10).scheme == "chromosome_block"
    assert Folds(scheme="chromosome_block_length", k=10).scheme == "chromosome_block_length"
    assert FoldScheme("chromosome_block_length", k=3).describe() == "chromosome_block_length k=3"


def test_block_folds_reject_regions_beyond_the_chromosome() -> None:
    regions = pd.DataFrame({"chrom": ["chr3"], "start": [1200], "end": [1300]})
    with pytest.raises(AtlasbenchError, match="beyond the end of chr3"):
        assign_folds(regions, FoldScheme("chromosome_block", k=2), SIZES)
    unknown = pd.DataFrame({"chrom": ["chrQ"], "start": [0], "end": [10]})
    with pytest.raises(AtlasbenchError, match="chrQ"):
        assign_folds(unknown, FoldScheme("chromosome_block", k=2), SIZES)


def test_chromosome_folds_hold_out_each_chromosome_once_and_balance_sizes() -> None:
    sizes = {"chrA": 100, "chrB": 90, "chrC": 60, "chrD": 50, "chrE": 40, "chrF": 35}
    regions = pd.DataFrame(
        {"chrom": np.repeat(list(sizes), 3), "start": np.tile([0, 10, 20], len(sizes))}
    ).assign(end=lambda df: df["start"] + 5)
    scheme = FoldScheme("chromosome", k=3)
    fold_ids = assign_folds(regions, scheme, sizes)
    # greedy, largest first, into the lightest fold: A->0, B->1, C->2, D->2, E->1, F->0
    per_chrom = pd.Series(fold_ids).groupby(regions["chrom"])
    assert (per_chrom.nunique() == 1).all()
    fold_of = per_chrom.first().to_dict()
    assert fold_of == {"chrA": 0, "chrB": 1, "chrC": 2, "chrD": 2, "chrE": 1, "chrF": 0}
    totals = [sum(size for chrom, size in sizes.items() if fold_of[chrom] == f) for f in range(3)]
    assert totals == [135, 130, 110]
    assert max(totals) - min(totals) <= max(sizes.values())
    times_tested = {c: 0 for c in sizes}
    for test_fold in range(3):
        tested = set(regions.loc[split_masks(fold_ids, test_fold)["test"], "chrom"])
        for chrom in tested:
            times_tested[chrom] += 1
    assert set(times_tested.values()) == {1}
    assert (assign_folds(regions, scheme, sizes) == fold_ids).all()


def test_chromosome_folds_need_enough_chromosomes() -> None:
    regions = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 0], "end": [10, 10]})
    with pytest.raises(AtlasbenchError, match="k=3 chromosome folds need at least 3 chromosomes"):
        assign_folds(regions, FoldScheme("chromosome", k=3), SIZES)


def test_explicit_chromosome_groups() -> None:
    regions = _tiled_regions()
    scheme = FoldScheme("chromosome", k=2, groups=(("chr1",), ("chr3", "chr2")))
    fold_ids = assign_folds(regions, scheme, SIZES)
    assert (fold_ids == regions["chrom"].map({"chr1": 0, "chr2": 1, "chr3": 1}).to_numpy()).all()
    assert scheme.describe() == "chromosome k=2 groups=chr1|chr3+chr2"
    with pytest.raises(AtlasbenchError, match=r"chr3 of the regions are in no group"):
        assign_folds(regions, FoldScheme("chromosome", k=2, groups=(("chr1",), ("chr2",))), SIZES)
    with pytest.raises(AtlasbenchError, match="'chr2' is in group 0 and group 1"):
        assign_folds(regions, FoldScheme("chromosome", k=2, groups=(("chr1", "chr2"), ("chr2", "chr3"))), SIZES)
    with pytest.raises(AtlasbenchError, match="k=3 but 2 chromosome groups"):
        FoldScheme("chromosome", k=3, groups=(("chr1",), ("chr2",)))
    with pytest.raises(AtlasbenchError, match="groups apply to kind 'chromosome' only"):
        FoldScheme("random", k=2, groups=(("chr1",), ("chr2",)))


def test_random_folds_are_seeded_and_balanced() -> None:
    regions = _tiled_regions()
    n = len(regions)
    first = assign_folds(regions, FoldScheme("random", k=7, seed=3), SIZES)
    again = assign_folds(regions, FoldScheme("random", k=7, seed=3), SIZES)
    other = assign_folds(regions, FoldScheme("random", k=7, seed=4), SIZES)
    assert (first == again).all()
    assert (first != other).any()
    counts = np.bincount(first, minlength=7)
    assert counts.sum() == n and counts.max() - counts.min() <= 1
    with pytest.raises(AtlasbenchError, match="need at least 7 regions"):
        assign_folds(regions.head(6), FoldScheme("random", k=7), SIZES)


def test_split_masks_are_disjoint_and_cover() -> None:
    fold_ids = np.array([0, 1, 2, 3, 0, 1, 2, 3, 3])
    masks = split_masks(fold_ids, test_fold=3, validation_fold=default_validation(3, 4))
    assert default_validation(3, 4) == 0
    assert masks["test"].tolist() == (fold_ids == 3).tolist()
    assert masks["validation"].tolist() == (fold_ids == 0).tolist()
    assert not (masks["train"] & (masks["test"] | masks["validation"])).any()
    assert not (masks["test"] & masks["validation"]).any()
    assert (masks["train"] | masks["test"] | masks["validation"]).all()
    # validation None: the test fold validates too, as the paper did; same fold given explicitly is the same
    paper = split_masks(fold_ids, test_fold=1)
    same = split_masks(fold_ids, test_fold=1, validation_fold=1)
    for masks in (paper, same):
        assert (masks["validation"] == masks["test"]).all()
        assert (masks["train"] == (fold_ids != 1)).all()
    with pytest.raises(AtlasbenchError, match="test fold 4 holds no region"):
        split_masks(fold_ids, test_fold=4)
    with pytest.raises(AtlasbenchError, match="validation fold -1 holds no region"):
        split_masks(fold_ids, test_fold=0, validation_fold=-1)


def test_fold_scheme_is_a_frozen_record() -> None:
    assert FoldScheme("chromosome_block", k=10).describe() == "chromosome_block k=10"
    assert FoldScheme("random", k=11, seed=7).describe() == "random k=11 seed=7"
    assert FoldScheme("chromosome", k=5).describe() == "chromosome k=5"
    scheme = FoldScheme("chromosome_block", k=10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        scheme.k = 3  # type: ignore[misc]
    assert scheme == FoldScheme("chromosome_block", k=10) and hash(scheme) == hash(FoldScheme("chromosome_block", 10))
    with pytest.raises(AtlasbenchError, match="kind must be one of"):
        FoldScheme("leave_one_out", k=3)  # type: ignore[arg-type]
    with pytest.raises(AtlasbenchError, match="k must be an integer of at least 2"):
        FoldScheme("random", k=1)
