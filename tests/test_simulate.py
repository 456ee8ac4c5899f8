"""The simulated atlas (atlasbench simulate) checked against the truth it writes.

One ``small`` atlas (400 cells per platform, 300 regions, ~2,000 reads per cell) is
simulated once for the module; focused checks (library complexity, Tn5 bias switched
off) call :func:`plan_barcodes` / :func:`sequence_platform` directly on its planted
genome with custom profiles. Everything is seeded, so every number here is fixed.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import tracemalloc
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from click.testing import CliRunner

from atlasbench.cli import main
from atlasbench.data.ingest import ingest, read_cell_table
from atlasbench.data.pseudobulk import pseudobulk
from atlasbench.errors import AtlasbenchError
from atlasbench.io.annotation import read_tss
from atlasbench.io.genome import open_genome
from atlasbench.simulate import sequencing
from atlasbench.simulate.atlas import DEFAULT_PROPORTIONS, PRESETS, read_fasta, simulate_atlas
from atlasbench.simulate.sequencing import plan_barcodes, sequence_platform
from atlasbench.study.loader import load_study
from atlasbench.study.validate import check_study

SEED = 11
PLATFORMS = ("10x", "hydrop")
CELL_TYPES = ["twi", "tin", "lz", "GATAe", "SoxN", "grh", "repo", "fkh"]
PLANTED = ("enhancer", "shared", "promoter")
FRAGMENT_COLUMNS = ["chrom", "start", "end", "barcode", "count"]
PROPORTIONS = DEFAULT_PROPORTIONS / DEFAULT_PROPORTIONS.sum()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _read_fragments(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", header=None, names=FRAGMENT_COLUMNS, comment="#",
                       dtype={"chrom": str, "barcode": str})


def _read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False)


@pytest.fixture(scope="module")
def atlas(tmp_path_factory):
    """The small atlas, and the bytes of every file as written (before any test reads it)."""
    out = tmp_path_factory.mktemp("atlas") / "small"
    study = simulate_atlas(out, "small", seed=SEED)
    return out, study, _snapshot(out)


@pytest.fixture(scope="module")
def regions(atlas) -> pd.DataFrame:
    return _read_tsv(atlas[0] / "truth" / "regions.tsv")


@pytest.fixture(scope="module")
def barcodes(atlas) -> dict[str, pd.DataFrame]:
    return {p: _read_tsv(atlas[0] / "truth" / f"{p}_barcodes.tsv") for p in PLATFORMS}


@pytest.fixture(scope="module")
def fragments(atlas) -> dict[str, pd.DataFrame]:
    return {p: _read_fragments(atlas[0] / p / "fragments.tsv.gz") for p in PLATFORMS}


@pytest.fixture(scope="module")
def genome(atlas) -> dict[str, str]:
    """The planted genome as written (genome/genome.fa.gz), read through atlasbench."""
    with open_genome(atlas[0] / "genome" / "genome.fa.gz") as g:
        return {c: g.fetch(c, 0, g.sizes[c]) for c in g.names}


@pytest.fixture(scope="module")
def stores(atlas, regions, genome, tmp_path_factory):
    """Each platform ingested with its cells.tsv (FRiP over the open truth regions)."""
    out = atlas[0]
    open_regions = regions.loc[regions["kind"] != "closed", ["chrom", "start", "end"]]
    result = {}
    for p in PLATFORMS:
        cells = read_cell_table(out / p / "cells.tsv", ["fragments"])
        result[p] = ingest([out / p / "fragments.tsv.gz"], cells, tmp_path_factory.mktemp(f"store-{p}"),
                           list(genome), regions=open_regions)
    return result


@pytest.fixture(scope="module")
def bulks(stores, regions):
    """Pseudobulk over the planted regions at 1,000 reads per cell and at full depth, all cells."""
    planted = regions[regions["kind"].isin(PLANTED)][["chrom", "start", "end"]]
    return {p: pseudobulk(store, planted, [1000, "all"], ["all"], seed=0) for p, store in stores.items()}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "seed3"
    result = CliRunner().invoke(main, ["simulate", "--out", str(out), "--preset", "small", "--seed", "3"],
                                prog_name="atlasbench")
    return out, result


# --- 1. pseudobulk vs truth ---------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_pseudobulk_correlates_with_truth(platform, bulks, regions):
    # Full data, all cells: per type 24 (tin) to 88 (twi) cells x ~1,200 fragments, so a
    # planted enhancer open in a type gets tens to hundreds of insertions there and the
    # Poisson noise is small next to the 14-65x range of the truth; Pearson comes out
    # ~0.98-0.99 on both platforms. 0.9 is the bar and leaves room for what the
    # simulator legitimately adds on top of the truth (ambient soup, doublets whose
    # second cell is of another type, Tn5 sequence bias, insertions spilling out of the
    # 500 bp window), while a broken link between truth and fragments (wrong region,
    # wrong type column, swapped labels) drops it far below.
    bulk = bulks[platform]
    planted = regions[regions["kind"].isin(PLANTED)].reset_index(drop=True)
    counts = bulk.counts[-1, -1]  # full depth, all cells: (cell types, regions)
    assert sorted(bulk.cell_types) == sorted(CELL_TYPES)
    enhancers = planted["kind"].isin(["enhancer", "shared"]).to_numpy()
    for i, cell_type in enumerate(bulk.cell_types):
        r = np.corrcoef(counts[i], planted[cell_type])[0, 1]
        assert r > 0.9, (platform, cell_type, r)
        # not carried by the promoters (open everywhere) alone: enhancers by themselves too
        r_enh = np.corrcoef(counts[i, enhancers], planted.loc[enhancers, cell_type])[0, 1]
        assert r_enh > 0.9, (platform, cell_type, r_enh)
    # a type's counts follow its own truth column better than any other type's
    truth = planted[bulk.cell_types].to_numpy().T
    cross = np.corrcoef(np.vstack([counts, truth]))[: len(truth), len(truth):]
    assert (cross.argmax(axis=1) == np.arange(len(truth))).all()


# --- 2. HyDrop-like vs 10x-like at equal reads ----------------------------------------------


def test_hydrop_has_fewer_unique_fragments_at_equal_reads(bulks, barcodes):
    # thinned by atlasbench.data.sampling (inside pseudobulk) to 1,000 reads per cell on both
    levels = {p: bulks[p].levels.set_index("reads_per_cell").loc["1000"] for p in PLATFORMS}
    for p in PLATFORMS:
        assert levels[p]["mean_reads_per_cell"] == pytest.approx(1000, rel=0.02)
    tenx, hydrop = (levels[p]["mean_fragments_per_cell"] for p in PLATFORMS)
    # half the library complexity (800 vs 1,600): M(1 - exp(-R/M)) gives ~0.8x at 1,000 reads
    assert hydrop < 0.9 * tenx, (hydrop, tenx)
    # and at full depth, where the preset gives both the same mean reads per cell
    cells = {p: barcodes[p][barcodes[p]["kind"] != "empty"] for p in PLATFORMS}
    assert cells["hydrop"]["n_reads"].mean() == pytest.approx(cells["10x"]["n_reads"].mean(), rel=0.05)
    assert cells["hydrop"]["n_fragments"].mean() < 0.8 * cells["10x"]["n_fragments"].mean()


# --- 3. unique fragments vs reads follow the library complexity -----------------------------


def test_unique_fragments_follow_library_complexity(atlas, regions, tmp_path):
    genome = read_fasta(atlas[0] / "genome" / "genome.fa.gz")
    truth = regions[CELL_TYPES].to_numpy()
    base = dataclasses.replace(PRESETS["small"].platforms[0], name="lib", complexity=1_000.0)
    observed = []
    for i, reads in enumerate([250, 1_000, 4_000, 16_000]):
        profile = dataclasses.replace(base, reads_per_cell=float(reads))
        rng = np.random.default_rng([SEED, i])
        plan = plan_barcodes(profile, 300, CELL_TYPES, PROPORTIONS, rng)
        path = tmp_path / f"lib{i}.tsv.gz"
        table = sequence_platform(path, genome, regions, truth, plan, profile, rng)
        m, r = table["complexity"].to_numpy(), table["reads"].to_numpy()
        expected = np.mean(m * (1 - np.exp(-r / m)))  # lognormal spread: expectation over barcodes
        mean_fragments = table["n_fragments"].mean()
        assert mean_fragments == pytest.approx(expected, rel=0.03), (reads, mean_fragments, expected)
        assert table["n_reads"].mean() == pytest.approx(r.mean(), rel=0.03)
        frags = _read_fragments(path)
        assert int(frags["count"].sum()) == int(table["n_reads"].sum())
        assert len(frags) == int(table["n_fragments"].sum())
        observed.append((reads, mean_fragments, m.mean()))
    # saturation: fragments per read fall with depth, and at 16x the complexity the
    # unique fragments are the library itself
    per_read = [f / r for r, f, _ in observed]
    assert all(a > b for a, b in pairwise(per_read))
    assert observed[-1][1] == pytest.approx(observed[-1][2], rel=0.03)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_barcode_table_matches_fragments(platform, barcodes, fragments):
    table = barcodes[platform].set_index("barcode")
    frags = fragments[platform]
    assert int(frags["count"].sum()) == int(table["n_reads"].sum())
    per = frags.groupby("barcode").agg(n_fragments=("count", "size"), n_reads=("count", "sum"))
    joined = table[table["n_fragments"] > 0][["n_fragments", "n_reads"]].join(per, rsuffix="_file")
    assert (joined["n_fragments"] == joined["n_fragments_file"]).all()
    assert (joined["n_reads"] == joined["n_reads_file"]).all()
    assert set(per.index) <= set(table.index)
    assert (frags["count"] >= 1).all()


# --- 4. the Tn5 PWM is recoverable from the insertions -------------------------------------

_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i


def _insertion_log_odds(frags: pd.DataFrame, genome: dict[str, str]) -> np.ndarray:
    """Natural-log odds of each base at -10..+10 around every insertion vs the genome's composition.

    + strand: the fragment's start, read forward; - strand: its last base (end - 1),
    reverse-complemented (offset k is the complement of the base k to the left).
    """
    encoded = {c: _CODE[np.frombuffer(s.encode(), dtype=np.uint8)] for c, s in genome.items()}
    background = np.bincount(np.concatenate(list(encoded.values())), minlength=5)[:4].astype(float)
    background /= background.sum()
    offset = np.arange(-10, 11)
    counts = np.zeros((21, 5))
    for chrom, sub in frags.groupby("chrom"):
        seq = encoded[chrom]
        plus = sub["start"].to_numpy()
        minus = sub["end"].to_numpy() - 1
        plus = plus[(plus >= 10) & (plus < len(seq) - 10)]
        minus = minus[(minus >= 10) & (minus < len(seq) - 10)]
        bases_minus = seq[minus[:, None] - offset]
        for bases in (seq[plus[:, None] + offset], np.where(bases_minus < 4, 3 - bases_minus, 4)):
            for j in range(21):
                counts[j] += np.bincount(bases[:, j], minlength=5)
    freq = counts[:, :4] / counts[:, :4].sum(axis=1, keepdims=True)
    return np.log(freq / background)


def _tn5_truth(atlas, platform: str) -> np.ndarray:
    table = _read_tsv(atlas[0] / "truth" / "tn5_log_odds.tsv")
    table = table[table["platform"] == platform].sort_values("position")
    assert table["position"].tolist() == list(range(-10, 11))
    return table[list("ACGT")].to_numpy()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_tn5_pwm_recovered_from_insertions(platform, atlas, fragments, genome):
    truth = _tn5_truth(atlas, platform)
    informative = np.abs(truth).sum(axis=1) > 0
    observed = _insertion_log_odds(fragments[platform], genome)
    r = np.corrcoef(observed[informative].ravel(), truth[informative].ravel())[0, 1]
    # measured ~0.95: not 1 because weights are capped at the 95th percentile (the best
    # sites are equally preferred, which flattens the strongest entries) and insertions
    # sit in planted regions whose composition is not the genome's
    assert r > 0.9, r


def test_no_tn5_signal_without_tn5_bias(atlas, regions, genome, tmp_path):
    # the same platform with tn5_strength=0: the recovered "PWM" is only the composition
    # of where insertions fall (|log-odds| ~0.03, not ~0.3) and unrelated to the truth
    profile = dataclasses.replace(PRESETS["small"].platforms[0], tn5_strength=0.0)
    assert not profile.tn5_log_odds.any()
    rng = np.random.default_rng(SEED)
    plan = plan_barcodes(profile, 400, CELL_TYPES, PROPORTIONS, rng)
    path = tmp_path / "flat.tsv.gz"
    sequence_platform(path, genome, regions, regions[CELL_TYPES].to_numpy(), plan, profile, rng)
    truth = _tn5_truth(atlas, "10x")
    informative = np.abs(truth).sum(axis=1) > 0
    observed = _insertion_log_odds(_read_fragments(path), genome)
    r = np.corrcoef(observed[informative].ravel(), truth[informative].ravel())[0, 1]
    assert abs(r) < 0.3, r
    assert np.abs(observed).max() < 0.1


# --- 5. determinism -------------------------------------------------------------------------


def _content(name: str, data: bytes) -> bytes:
    """A file's content: BGZF files decompressed (ISA-L may, rarely, encode a member of
    the same text differently: seen once in 2,000 members of a CI run)."""
    return gzip.decompress(data) if name.endswith(".gz") else data


def test_same_seed_gives_identical_files(atlas, cli_run, tmp_path):
    out, _, first = atlas
    again = tmp_path / "again"
    simulate_atlas(again, "small", seed=SEED)
    second = _snapshot(again)
    assert sorted(first) == sorted(second)
    assert len(first) >= 18
    indexes = (".tbi", ".gzi")  # offsets into the compressed bytes: checked by reading through them
    differing = [
        name
        for name in first
        if not name.endswith(indexes) and _content(name, first[name]) != _content(name, second[name])
    ]
    assert differing == []
    for platform in PLATFORMS:
        with (
            pysam.TabixFile(str(out / platform / "fragments.tsv.gz")) as a,
            pysam.TabixFile(str(again / platform / "fragments.tsv.gz")) as b,
        ):
            assert a.contigs == b.contigs
            for chrom in a.contigs:
                assert list(a.fetch(chrom)) == list(b.fetch(chrom))
    with (
        pysam.FastaFile(str(out / "genome" / "genome.fa.gz")) as a,
        pysam.FastaFile(str(again / "genome" / "genome.fa.gz")) as b,
    ):
        assert a.references == b.references
        for chrom in a.references:
            assert a.fetch(chrom, 1000, 2000) == b.fetch(chrom, 1000, 2000)
    # another seed: same files, different contents
    other = _snapshot(cli_run[0])
    assert sorted(other) == sorted(first)
    for name in ("10x/fragments.tsv.gz", "hydrop/fragments.tsv.gz", "genome/genome.fa.gz", "truth/regions.tsv"):
        assert other[name] != first[name], name


# --- 6. the written study -------------------------------------------------------------------


def test_study_validates(atlas):
    study = load_study(atlas[1])
    assert [p.name for p in study.platforms] == list(PLATFORMS)
    assert check_study(study, max_fragments=0) == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cells_exclude_empty_droplets_which_fragments_keep(platform, atlas, barcodes, fragments):
    cells = _read_tsv(atlas[0] / platform / "cells.tsv")
    table = barcodes[platform]
    assert list(cells.columns) == ["barcode", "cell_type"]
    assert len(cells) == 400 and cells["barcode"].is_unique
    assert set(cells["barcode"]) == set(table.loc[table["kind"] != "empty", "barcode"])
    assert set(cells["cell_type"]) == set(CELL_TYPES)
    in_file = set(fragments[platform]["barcode"])
    unannotated = in_file - set(cells["barcode"])
    assert unannotated, "empty droplets should leave fragments"
    assert unannotated <= set(table.loc[table["kind"] == "empty", "barcode"])
    # empty droplets are ambient only: far fewer fragments than cells
    empties = table[table["kind"] == "empty"]
    assert empties["n_fragments"].median() < 0.1 * table.loc[table["kind"] == "cell", "n_fragments"].median()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cell_ranger_files_give_the_platform_usable_fraction(platform, atlas, barcodes):
    """summary.csv and singlecell.csv as Cell Ranger ATAC writes them (issue 16 item 3),
    read by atlasbench's own readers: the cells' read pairs over the sequenced ones are
    the platform's usable fraction, and the called cells are the annotated ones."""
    from atlasbench.io.cellranger import read_cell_calls, read_sequenced_read_pairs
    from atlasbench.simulate.platforms import HYDROP, TENX

    fraction = {"10x": TENX, "hydrop": HYDROP}[platform].usable_fraction
    table = barcodes[platform]
    in_cells = int(table.loc[table["kind"] != "empty", "n_reads"].sum())
    sequenced = read_sequenced_read_pairs(atlas[0] / platform / "summary.csv")
    assert in_cells / sequenced == pytest.approx(fraction, abs=1e-6)
    calls = read_cell_calls(atlas[0] / platform / "singlecell.csv")
    cells = _read_tsv(atlas[0] / platform / "cells.tsv")
    assert sorted(calls) == sorted(cells["barcode"])
    per_barcode = pd.read_csv(atlas[0] / platform / "singlecell.csv")
    assert per_barcode["barcode"].iloc[0] == "NO_BARCODE"
    assert per_barcode["total"].sum() == sequenced  # every sequenced read pair is somewhere


@pytest.mark.parametrize("platform", PLATFORMS)
def test_fragments_sorted_and_tabix_indexed(platform, atlas, fragments, genome):
    path = atlas[0] / platform / "fragments.tsv.gz"
    frags = fragments[platform]
    # chromosomes in one block each, in genome order; positions sorted within
    blocks = frags["chrom"][frags["chrom"] != frags["chrom"].shift()].tolist()
    assert blocks == [c for c in genome if c in set(blocks)]
    for chrom, sub in frags.groupby("chrom", sort=False):
        key = sub["start"].to_numpy() * 10_000 + sub["end"].to_numpy()
        assert (np.diff(key) >= 0).all(), chrom
        assert (sub["end"] <= len(genome[chrom])).all() and (sub["start"] >= 0).all()
    assert not frags.duplicated(["chrom", "start", "end", "barcode"]).any()
    assert ((frags["end"] - frags["start"]) >= 20).all()
    assert Path(f"{path}.tbi").exists()
    chrom = blocks[0]
    lo, hi = 20_000, 60_000
    with pysam.TabixFile(str(path)) as tbx:
        assert set(tbx.contigs) == set(blocks)
        got = [line.split("\t") for line in tbx.fetch(chrom, lo, hi)]
    sub = frags[(frags["chrom"] == chrom) & (frags["end"] > lo) & (frags["start"] < hi)]
    assert len(got) == len(sub) > 0
    assert [int(x[1]) for x in got] == sub["start"].tolist()


def test_enhancer_table(atlas, regions):
    table = _read_tsv(atlas[0] / "enhancers.tsv")
    assert list(table.columns) == ["name", "chrom", "start", "end", "target_cell_type", "label"]
    pos, neg = table[table["label"] == 1], table[table["label"] == 0]
    assert len(pos) > 0 and len(neg) > 0 and len(pos) + len(neg) == len(table)
    by_name = regions.set_index("name")
    # positives: specific enhancers of their target type, every type represented
    assert set(pos["target_cell_type"]) == set(CELL_TYPES)
    assert (by_name.loc[pos["name"], "kind"] == "enhancer").all()
    assert (by_name.loc[pos["name"], "target"].to_numpy() == pos["target_cell_type"].to_numpy()).all()
    open_in_target = np.array([by_name.at[n, t] for n, t in zip(pos["name"], pos["target_cell_type"])])
    assert (open_in_target > 0.05).all()
    # negatives: closed regions, no target
    assert (neg["target_cell_type"] == "").all()
    assert (by_name.loc[neg["name"], "kind"] == "closed").all()
    assert (by_name.loc[table["name"], ["chrom", "start", "end"]].to_numpy()
            == table[["chrom", "start", "end"]].to_numpy()).all()


def test_promoter_tss_at_summits(atlas, regions):
    tss = read_tss(atlas[0] / "genome" / "promoters.gff3")
    promoters = regions[regions["kind"] == "promoter"]
    assert len(tss) == len(promoters) > 0
    expected = set(zip(promoters["chrom"], promoters["summit"], promoters["strand"]))
    assert set(zip(tss["chrom"], tss["pos"], tss["strand"])) == expected
    assert set(promoters["strand"]) == {"+", "-"}


def _within_binomial(k: int, n: int, p: float, z: float = 4.0) -> bool:
    return abs(k - n * p) <= z * np.sqrt(n * p * (1 - p)) + 1e-9


@pytest.mark.parametrize("platform", PLATFORMS)
def test_doublets_collisions_and_empties_at_configured_rates(platform, atlas, barcodes):
    record = json.loads((atlas[0] / "truth" / "simulation.json").read_text())
    profile = {p["name"]: p for p in record["platforms"]}[platform]
    table = barcodes[platform]
    cells = table[table["kind"] != "empty"]
    n = len(cells)
    assert (table["kind"] == "empty").sum() == round(profile["empty_droplets"] * n)
    for kind, rate in (("doublet", profile["doublet_rate"]), ("collision", profile["collision_rate"])):
        k = int((cells["kind"] == kind).sum())
        assert _within_binomial(k, n, rate), (kind, k, n, rate)
        pairs = cells[cells["kind"] == kind]
        assert (pairs["second_type"] != "").all() and (pairs["second_type"] != pairs["cell_type"]).all()
    assert (cells.loc[cells["kind"] == "cell", "second_type"] == "").all()
    # tight check of the same rates on many more barcodes (plan only, no sequencing)
    chosen = dataclasses.replace(PRESETS["small"].platforms[PLATFORMS.index(platform)])
    plan = plan_barcodes(chosen, 50_000, CELL_TYPES, PROPORTIONS, np.random.default_rng(SEED)).table
    for kind, rate in (("doublet", chosen.doublet_rate), ("collision", chosen.collision_rate)):
        assert _within_binomial(int((plan["kind"] == kind).sum()), 50_000, rate), kind
    # a doublet holds two libraries: about twice the molecules of a singlet
    singlets = plan.loc[plan["kind"] == "cell", "complexity"].median()
    paired = plan.loc[plan["kind"].isin(["doublet", "collision"]), "complexity"].median()
    assert 1.6 < paired / singlets < 2.4


@pytest.mark.parametrize("platform", PLATFORMS)
def test_frip_of_cells_near_profile(platform, atlas, stores):
    record = json.loads((atlas[0] / "truth" / "simulation.json").read_text())
    frip = {p["name"]: p["frip"] for p in record["platforms"]}[platform]
    measured = stores[platform].cells["frip"]
    # The profile's frip is the share of *molecules* drawn around region summits; the
    # measured FRiP counts *insertions* inside the 500 bp regions. Long (di-/tri-
    # nucleosomal) fragments and summit offsets (sd 75 bp) put some region insertions
    # outside, uniform background molecules put ~9% of theirs inside (open regions
    # cover ~9% of the genome), and Tn5 bias reweights both a little: a few percent
    # either way (measured ~0.51-0.52 for 0.51-0.52). Hence +-0.08 on the mean.
    assert measured.mean() == pytest.approx(frip, abs=0.08)
    assert measured.median() == pytest.approx(frip, abs=0.1)
    assert measured.std() < 0.1


# --- 7. command line ------------------------------------------------------------------------


def test_cli_simulate_writes_study(cli_run):
    out, result = cli_run
    assert result.exit_code == 0, result.output
    study = out / "study.yaml"
    assert study.exists()
    assert str(study) in result.output
    record = json.loads((out / "truth" / "simulation.json").read_text())
    assert record["preset"] == "small" and record["seed"] == 3
    assert load_study(study).seed == 3


def test_unknown_preset_rejected(tmp_path):
    out = tmp_path / "nope"
    result = CliRunner().invoke(main, ["simulate", "--out", str(out), "--preset", "huge"], prog_name="atlasbench")
    assert result.exit_code != 0
    assert "huge" in result.output
    assert not (out / "study.yaml").exists()
    with pytest.raises(AtlasbenchError, match="unknown preset"):
        simulate_atlas(out, "huge")


# --- 6. memory: a batch of molecules and a bound on held fragments, not the densest locus ----


def test_memory_does_not_follow_the_densest_locus(atlas, regions, tmp_path, monkeypatch):
    # every region's accessibility at one summit: its window holds most of the fragments,
    # 8x more at 8x the cells. The simulator's blocks are shrunk 150-fold (batches of
    # 10,000 molecules, text of 10,000 lines, 10,000 fragments held) so that the locus
    # dwarfs them at a test's size; numpy's arrays are traced by tracemalloc.
    monkeypatch.setattr(sequencing, "MOLECULES_PER_WINDOW", 10_000)
    monkeypatch.setattr(sequencing, "_LINES_PER_BATCH", 10_000)
    genome = read_fasta(atlas[0] / "genome" / "genome.fa.gz")
    truth = np.zeros((len(regions), len(CELL_TYPES)))
    truth[int(np.flatnonzero(regions["kind"] == "enhancer")[0])] = 1.0
    profile = dataclasses.replace(PRESETS["small"].platforms[0], frip=0.9)
    peaks, texts = {}, {}
    for n_cells in (100, 800):
        for held in (10_000, 10**9):
            rng = np.random.default_rng([SEED, n_cells])
            plan = plan_barcodes(profile, n_cells, CELL_TYPES, PROPORTIONS, rng)
            path = tmp_path / f"{n_cells}-{held}.tsv.gz"
            tracemalloc.start()
            table = sequence_platform(path, genome, regions, truth, plan, profile, rng, held_fragments=held)
            peaks[n_cells, held] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            texts[n_cells, held] = gzip.decompress(path.read_bytes())
        assert texts[n_cells, 10_000] == texts[n_cells, 10**9]  # the same file whatever the bound
    n_fragments = int(table["n_fragments"].sum())
    assert n_fragments > 800_000
    held_all = peaks[800, 10**9] - peaks[100, 10**9]
    bounded = peaks[800, 10_000] - peaks[100, 10_000]
    assert held_all > 16 * 0.8 * n_fragments, peaks  # the test can tell: the held locus grows with it
    assert bounded < held_all / 20, peaks
