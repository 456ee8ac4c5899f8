"""Tests for atlasbench.simulate.motifs and .grammar on a real slice of the dm6 genome."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atlasbench.errors import AtlasbenchError
from atlasbench.io.genome import base_codes
from atlasbench.io.jaspar import jaspar_motif
from atlasbench.simulate.grammar import (
    DEFAULT_CELL_TYPES,
    CellType,
    GrammarParams,
    design_atlas,
    motif_similarity,
)
from atlasbench.simulate.motifs import (
    log_odds,
    relative_scores,
    reverse_complement,
    sample_instance,
    score_matrix,
)

DATA = Path(__file__).parent / "data"
N_REGIONS = 300
WIDTH = 500
SPACING = 1000
CORE = 300
DEFAULT_MOTIFS = [ct.activator for ct in DEFAULT_CELL_TYPES] + ["vfl", "sna", "Trl"]


def _read_fasta(path: Path) -> dict[str, str]:
    chunks: dict[str, list[str]] = {}
    name = None
    with gzip.open(path, "rt") as fh:
        for line in fh:
            line = line.strip()
            if line.startswith(">"):
                name = line[1:].split()[0]
                chunks[name] = []
            elif line:
                chunks[name].append(line.upper())
    return {k: "".join(v) for k, v in chunks.items()}


@pytest.fixture(scope="module")
def genome() -> dict[str, str]:
    return _read_fasta(DATA / "dm6_1pct.fa.gz")


@pytest.fixture(scope="module")
def design(genome):
    return design_atlas(genome, N_REGIONS, rng=np.random.default_rng(7), width=WIDTH, spacing=SPACING)


def _score(lo: np.ndarray, seq: str) -> float:
    return float(sum(lo[i, "ACGT".index(b)] for i, b in enumerate(seq)))


# --------------------------------------------------------------------------- motifs


@pytest.mark.parametrize("name", DEFAULT_MOTIFS)
def test_default_motifs_load_offline_as_probabilities(name: str) -> None:
    motif = jaspar_motif(name)
    assert motif.name == name
    assert motif.matrix_id.startswith("MA")
    assert motif.probs.ndim == 2 and motif.probs.shape[1] == 4 and motif.length >= 5
    assert motif.probs.dtype == np.float64
    np.testing.assert_allclose(motif.probs.sum(axis=1), 1.0)
    assert np.all(motif.probs > 0)  # the pseudocount keeps every base possible
    assert jaspar_motif(name) is motif  # cached


def test_unknown_motif_names_close_ones() -> None:
    with pytest.raises(AtlasbenchError, match="twi"):
        jaspar_motif("Twi")
    with pytest.raises(AtlasbenchError, match="no JASPAR CORE motif"):
        jaspar_motif("no_such_factor_xyz")


@pytest.mark.parametrize("name", DEFAULT_MOTIFS)
def test_sampled_instances_score_above_random_sequence(name: str) -> None:
    motif = jaspar_motif(name)
    lo = log_odds(motif)
    rng = np.random.default_rng(0)
    planted = [_score(lo, sample_instance(motif, rng)) for _ in range(300)]
    random = [_score(lo, "".join(rng.choice(list("ACGT"), motif.length))) for _ in range(300)]
    assert all(len(sample_instance(motif, rng)) == motif.length for _ in range(5))
    assert np.mean(planted) > np.mean(random) + 5.0
    assert np.mean(planted) > 0.5 * lo.max(axis=1).sum()


def test_reverse_complement_and_log_odds_background() -> None:
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement(reverse_complement("GATTACA")) == "GATTACA"
    motif = jaspar_motif("twi")
    np.testing.assert_allclose(log_odds(motif), np.log2(motif.probs / 0.25))
    with pytest.raises(AtlasbenchError, match="background"):
        log_odds(motif, (0.5, 0.5, 0.0, 0.0))


# --------------------------------------------------------------------------- layout


def test_windows_are_spaced_in_bounds_and_mostly_real_sequence(design, genome) -> None:
    regions = design.regions
    assert list(regions.columns) == ["name", "chrom", "start", "end", "summit", "kind", "target", "strand"]
    assert len(regions) == N_REGIONS and regions["name"].is_unique
    assert (regions["end"] - regions["start"] == WIDTH).all()
    assert (regions["summit"] == regions["start"] + WIDTH // 2).all()
    names = regions["chrom"] + ":" + regions["start"].astype(str) + "-" + regions["end"].astype(str)
    assert (regions["name"] == names).all()
    for chrom, group in regions.groupby("chrom"):
        starts = group["start"].to_numpy()
        assert (np.diff(starts) >= WIDTH + SPACING).all()  # sorted, non-overlapping, spaced
        assert starts.min() >= 0 and group["end"].max() <= len(genome[chrom])
    for row in regions.itertuples():
        assert genome[row.chrom][row.start : row.end].count("N") <= 0.1 * WIDTH
    # spread over chromosomes in proportion to length
    total = sum(len(s) for s in genome.values())
    counts = regions["chrom"].value_counts()
    for chrom in ("2L", "2R", "3L", "3R", "X"):
        assert abs(counts[chrom] - N_REGIONS * len(genome[chrom]) / total) <= 2


def test_kinds_follow_fractions_and_targets_are_balanced(design) -> None:
    regions = design.regions
    assert regions["kind"].value_counts().to_dict() == {"enhancer": 165, "closed": 60, "promoter": 45, "shared": 30}
    per_type = regions.loc[regions["kind"] == "enhancer", "target"].value_counts()
    assert set(per_type.index) == set(design.cell_types) and per_type.max() - per_type.min() <= 1
    shared = regions.loc[regions["kind"] == "shared", "target"].str.split(",")
    assert shared.map(len).between(2, 3).all()
    assert (regions.loc[regions["kind"].isin(["promoter", "closed"]), "target"] == "").all()
    assert regions.loc[regions["kind"] == "promoter", "strand"].isin(["+", "-"]).all()
    assert (regions.loc[regions["kind"] != "promoter", "strand"] == ".").all()


def test_sites_are_planted_where_the_table_says_and_nowhere_else(design, genome) -> None:
    planted, sites, regions = design.genome, design.sites, design.regions.set_index("name")
    assert list(planted) == list(genome)
    assert all(len(planted[c]) == len(genome[c]) for c in genome)
    mask = {c: np.zeros(len(genome[c]), dtype=bool) for c in genome}
    for site in sites.itertuples():
        region = regions.loc[site.region]
        assert site.chrom == region.chrom and site.end - site.start == len(site.sequence)
        assert region.summit - CORE // 2 <= site.start and site.end <= region.summit + CORE // 2
        expected = site.sequence if site.strand == "+" else reverse_complement(site.sequence)
        assert planted[site.chrom][site.start : site.end] == expected
        assert not mask[site.chrom][site.start : site.end].any()  # sites do not overlap
        mask[site.chrom][site.start : site.end] = True
    outside = changed = 0
    for chrom in genome:
        before = np.frombuffer(genome[chrom].encode(), dtype=np.uint8)
        after = np.frombuffer(planted[chrom].encode(), dtype=np.uint8)
        outside += int((~mask[chrom]).sum())
        changed += int((before != after)[~mask[chrom]].sum())
    # outside the sites only chance matches were broken: a few bases in a hundred
    assert 0 < changed < 0.04 * outside


def _grammar_motifs() -> list:
    params = GrammarParams()
    helpers = [params.pioneer_motif, params.repressor_motif, params.promoter_motif]
    names = [ct.activator for ct in DEFAULT_CELL_TYPES] + helpers
    return [jaspar_motif(name) for name in names]


def _chance_matches(genome: dict[str, str], sites: pd.DataFrame, threshold: float) -> int:
    """Windows scoring ``threshold`` or more that overlap no planted site of their motif."""
    count = 0
    for motif in _grammar_motifs():
        for chrom, seq in genome.items():
            own = np.zeros(len(seq) + 1, dtype=np.int64)
            for row in sites[(sites["motif"] == motif.name) & (sites["chrom"] == chrom)].itertuples():
                own[row.start + 1 : row.end + 1] = 1
            covered = np.cumsum(own)
            hits = np.flatnonzero(relative_scores(base_codes(seq), motif) >= threshold)
            count += int((covered[hits + motif.length] == covered[hits]).sum())
    return count


def test_planted_sites_are_the_only_strong_matches(design, genome) -> None:
    params = design.params
    for row in design.sites.itertuples():
        score = relative_scores(base_codes(row.sequence), jaspar_motif(row.motif))
        assert score.max() >= params.site_score
    no_sites = design.sites.iloc[:0]
    assert _chance_matches(genome, no_sites, params.chance_score) > 1000  # the background had many
    # left: matches lying wholly inside planted sites of other motifs, which cannot be broken
    assert _chance_matches(design.genome, design.sites, params.chance_score) < 0.02 * len(design.sites)


def test_no_two_default_activators_look_alike() -> None:
    motifs = [jaspar_motif(ct.activator).probs for ct in DEFAULT_CELL_TYPES]
    worst = max(motif_similarity(a, b) for i, a in enumerate(motifs) for b in motifs[i + 1 :])
    assert worst < 0.75


def test_relative_scores_by_hand() -> None:
    motif = jaspar_motif("twi")
    consensus = motif.consensus
    scores = relative_scores(base_codes("AAA" + consensus + "AAA"), motif)
    assert len(scores) == 7
    assert scores[3] == pytest.approx(1.0)
    assert relative_scores(base_codes(reverse_complement(consensus)), motif)[0] == pytest.approx(1.0)
    matrix = score_matrix(motif)[:, :4]
    worst = "".join("ACGT"[i] for i in matrix.argmin(axis=1))  # 0 on its strand; the other strand scores
    lowest, highest = matrix.min(axis=1).sum(), matrix.max(axis=1).sum()
    other = sum(matrix[j, "ACGT".index(base)] for j, base in enumerate(reverse_complement(worst)))
    assert relative_scores(base_codes(worst), motif)[0] == pytest.approx((other - lowest) / (highest - lowest))
    rng = np.random.default_rng(3)
    strong = [sample_instance(motif, rng, min_score=0.9) for _ in range(50)]
    assert min(relative_scores(base_codes(s), motif)[0] for s in strong) >= 0.9
    with pytest.raises(AtlasbenchError, match="min_score"):
        sample_instance(motif, rng, min_score=1.0)


def test_each_kind_gets_its_recipe_of_sites(design) -> None:
    sites = design.sites
    for row in design.regions.itertuples():
        here = sites[sites["region"] == row.name]
        roles = here["role"].value_counts().to_dict()
        if row.kind == "closed":
            assert here.empty
        elif row.kind == "promoter":
            assert 2 <= roles.get("promoter", 0) <= 3 and set(roles) <= {"promoter", "pioneer"}
            assert (here.loc[here["role"] == "promoter", "motif"] == "Trl").all()
        else:
            act = here[here["role"] == "activator"]
            assert roles.get("pioneer", 0) <= 1 and roles.get("repressor", 0) <= 1 and "promoter" not in roles
            if row.kind == "enhancer":
                assert 1 <= len(act) <= 4
                assert (act["cell_type"] == row.target).all() and (act["motif"] == row.target).all()
            else:
                assert sorted(act["cell_type"]) == sorted(row.target.split(","))


# --------------------------------------------------------------------------- truth


def _expected(sites: pd.DataFrame, cell_type: CellType, p: GrammarParams) -> float:
    """The documented formula, written out independently of the package."""
    roles = set(sites["role"])
    zld = "pioneer" in roles and cell_type.pioneer
    n_trl = int((sites["role"] == "promoter").sum())
    if n_trl:
        return p.base + p.promoter_gain * (1 - math.exp(-p.site_rate * n_trl)) * (1 + p.promoter_pioneer * zld)
    act = sites[(sites["role"] == "activator") & (sites["motif"] == cell_type.activator)].sort_values("start")
    if act.empty:
        return p.base
    spans = list(zip(act["start"], act["end"]))
    pair = any(
        p.coop_gap[0] <= spans[j][0] - spans[i][1] <= p.coop_gap[1]
        for i in range(len(spans))
        for j in range(i + 1, len(spans))
    )
    value = p.gain * (1 - math.exp(-p.site_rate * len(spans))) * (1 + p.coop * pair) * (1 + p.pioneer * zld)
    if "repressor" in roles and cell_type.repressor:
        value *= p.repression
    return p.base + value


def test_documented_constants() -> None:
    p = GrammarParams()
    assert (p.base, p.gain, p.site_rate, p.coop, p.pioneer, p.repression) == (0.02, 0.5, 0.7, 0.3, 0.5, 0.3)
    assert (p.promoter_gain, p.promoter_pioneer, p.coop_gap, p.core_width) == (1.2, 0.2, (10, 30), 300)
    snail = {ct.name for ct in DEFAULT_CELL_TYPES if ct.repressor}
    zelda = {ct.name for ct in DEFAULT_CELL_TYPES if ct.pioneer}
    assert snail == {"twi", "tin"} and zelda == {"twi", "tin", "lz", "SoxN", "grh"}


def test_truth_follows_the_documented_formula(design) -> None:
    truth, sites, p = design.truth, design.sites, GrammarParams()
    assert list(truth.columns) == design.cell_types == [ct.name for ct in DEFAULT_CELL_TYPES]
    assert list(truth.index) == list(design.regions["name"]) and truth.dtypes.eq(np.float64).all()
    by_region = dict(tuple(sites.groupby("region")))
    for name in truth.index:
        here = by_region.get(name, sites.iloc[:0])
        for ct in DEFAULT_CELL_TYPES:
            assert truth.at[name, ct.name] == pytest.approx(_expected(here, ct, p), rel=1e-12)


def test_hand_picked_regions(design) -> None:
    truth, sites, regions = design.truth, design.sites, design.regions
    enhancers = regions[regions["kind"] == "enhancer"]

    def n_role(name: str, role: str) -> int:
        return int(((sites["region"] == name) & (sites["role"] == role)).sum())

    # a twi enhancer with a Snail site: repressed in twi (which expresses sna)
    repressed = [r for r in enhancers.itertuples() if r.target == "twi" and n_role(r.name, "repressor")]
    assert repressed
    r = repressed[0]
    n, zld = n_role(r.name, "activator"), n_role(r.name, "pioneer")
    acts = sites[(sites["region"] == r.name) & (sites["role"] == "activator")].sort_values("start")
    pair = any(10 <= b - a <= 30 for a in acts["end"] for b in acts["start"])
    expected = 0.02 + 0.5 * (1 - math.exp(-0.7 * n)) * (1.3 if pair else 1) * (1.5 if zld else 1) * 0.3
    assert truth.at[r.name, "twi"] == pytest.approx(expected)
    assert truth.loc[r.name].drop("twi").eq(0.02).all()

    # a GATAe enhancer with a Zelda site: no boost, Zelda is not active in GATAe
    gatae = [r for r in enhancers.itertuples() if r.target == "GATAe" and n_role(r.name, "pioneer")]
    assert gatae
    r = gatae[0]
    acts = sites[(sites["region"] == r.name) & (sites["role"] == "activator")].sort_values("start")
    pair = any(10 <= b - a <= 30 for a in acts["end"] for b in acts["start"])
    expected = 0.02 + 0.5 * (1 - math.exp(-0.7 * len(acts))) * (1.3 if pair else 1)
    assert truth.at[r.name, "GATAe"] == pytest.approx(expected)

    # a cooperative pair exists somewhere and boosts by 30%
    paired = []
    for r in enhancers.itertuples():
        acts = sites[(sites["region"] == r.name) & (sites["role"] == "activator")].sort_values("start")
        gaps = acts["start"].to_numpy()[1:] - acts["end"].to_numpy()[:-1]
        if ((gaps >= 10) & (gaps <= 30)).any() and not n_role(r.name, "pioneer") and not n_role(r.name, "repressor"):
            paired.append((r, len(acts)))
    assert paired
    r, n = paired[0]
    assert truth.at[r.name, r.target] == pytest.approx(0.02 + 0.5 * (1 - math.exp(-0.7 * n)) * 1.3)

    # a promoter with a Zelda site: high everywhere, 20% higher where Zelda is active
    promoters = [r for r in regions[regions["kind"] == "promoter"].itertuples() if n_role(r.name, "pioneer")]
    assert promoters
    r = promoters[0]
    level = 0.02 + 1.2 * (1 - math.exp(-0.7 * n_role(r.name, "promoter")))
    expected = [0.02 + (level - 0.02) * (1.2 if ct.pioneer else 1.0) for ct in DEFAULT_CELL_TYPES]
    np.testing.assert_allclose(truth.loc[r.name].to_numpy(), expected)


def test_specific_enhancers_peak_in_their_type_with_realistic_range(design) -> None:
    truth, regions, sites = design.truth, design.regions, design.sites
    repressed = set(sites.loc[sites["role"] == "repressor", "region"])
    for r in regions[regions["kind"] == "enhancer"].itertuples():
        row = truth.loc[r.name]
        assert row.idxmax() == r.target and (row.drop(r.target) == 0.02).all()
        ratio = row[r.target] / 0.02
        if r.target in ("twi", "tin") and r.name in repressed:
            assert 4 <= ratio < 15  # Snail cuts it to 30%
        else:
            assert 10 <= ratio <= 50
    for r in regions[regions["kind"] == "shared"].itertuples():
        targets = r.target.split(",")
        assert (truth.loc[r.name, targets] > 0.02).all()
        assert (truth.loc[r.name].drop(targets) == 0.02).all()


def test_promoters_high_everywhere_and_closed_at_base(design) -> None:
    truth, regions = design.truth, design.regions
    promoters = truth.loc[regions.loc[regions["kind"] == "promoter", "name"]]
    assert (promoters >= 0.9).all().all()
    assert (promoters.max(axis=1) / promoters.min(axis=1) <= 1.2 + 1e-9).all()
    enhancer_levels = [truth.at[r.name, r.target] for r in regions[regions["kind"] == "enhancer"].itertuples()]
    assert promoters.min().min() > np.median(enhancer_levels)
    closed = truth.loc[regions.loc[regions["kind"] == "closed", "name"]]
    assert (closed == 0.02).all().all()


# --------------------------------------------------------------------------- determinism and errors


def test_same_seed_same_design_other_seed_different(genome, design) -> None:
    again = design_atlas(genome, N_REGIONS, rng=np.random.default_rng(7), width=WIDTH, spacing=SPACING)
    pd.testing.assert_frame_equal(again.regions, design.regions)
    pd.testing.assert_frame_equal(again.sites, design.sites)
    pd.testing.assert_frame_equal(again.truth, design.truth)
    assert again.genome == design.genome
    other = design_atlas(genome, N_REGIONS, rng=np.random.default_rng(8), width=WIDTH, spacing=SPACING)
    assert not other.regions["name"].equals(design.regions["name"])
    assert other.genome != design.genome


def test_input_genome_is_left_alone(genome) -> None:
    copy = dict(genome)
    design_atlas(genome, 20, rng=np.random.default_rng(1))
    assert genome == copy


def test_too_many_regions_says_how_many_fit(genome) -> None:
    with pytest.raises(AtlasbenchError, match=r"at most [\d,]+ windows .* 5,000 regions were asked for"):
        design_atlas(genome, 5000, rng=np.random.default_rng(0))
    # the stated maximum is attainable
    small = {"a": "ACGT" * 750, "b": "N" * 3000 + "ACGT" * 300}  # 3 windows fit in a, 1 in b
    with pytest.raises(AtlasbenchError, match="at most 4 windows"):
        design_atlas(small, 5, rng=np.random.default_rng(0), width=500, spacing=500, fractions={"closed": 1.0})
    four = design_atlas(small, 4, rng=np.random.default_rng(0), width=500, spacing=500, fractions={"closed": 1.0})
    assert four.regions["chrom"].tolist() == ["a", "a", "a", "b"]


def test_bad_arguments_are_user_errors(genome) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(AtlasbenchError, match="sum to 1"):
        design_atlas(genome, 10, rng=rng, fractions={"enhancer": 0.5, "closed": 0.1})
    with pytest.raises(AtlasbenchError, match="unknown region kinds"):
        design_atlas(genome, 10, rng=rng, fractions={"silencer": 1.0})
    with pytest.raises(AtlasbenchError, match="no JASPAR CORE motif"):
        design_atlas(genome, 10, [CellType("x", "not_a_tf_xyz"), CellType("y", "twi")], rng=rng)
    with pytest.raises(AtlasbenchError, match="shared enhancers need at least two"):
        design_atlas(genome, 10, [CellType("twi", "twi")], rng=rng)
