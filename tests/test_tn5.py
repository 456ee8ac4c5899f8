"""Tests for atlasbench.readouts.tn5: insertion-site PFMs, their comparison, tables, logos and CLI."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from atlasbench.cli import main
from atlasbench.errors import AtlasbenchError
from atlasbench.readouts.tn5 import compare_bias, insertion_pfm, jensen_shannon, same_bias, write_bias
from atlasbench.simulate import platforms
from atlasbench.simulate.atlas import simulate_atlas
from atlasbench.simulate.sequencing import tn5_weights

# index:          0123456789...
CHR1 = "ACGTTGCANNACGGATCCAT"  # 20 bp, N at 8 and 9
CHR2 = "GGGAAACCCT"  # 10 bp
CHR3 = "GGGGGGGGGG"  # no fragments: not part of the background


def _write_fasta(path, chroms: dict[str, str]):
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in chroms.items()))
    return path


def _write_fragments(path, rows, gz: bool = True):
    text = "".join("\t".join(str(x) for x in row) + "\n" for row in rows)
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def _count(windows: list[str]) -> np.ndarray:
    counts = np.zeros((len(windows[0]), 4))
    for w in windows:
        for i, base in enumerate(w):
            counts[i, "ACGT".index(base)] += 1
    return counts


# Fragments on the hand-made genome, with the windows (flank 2) worked out by hand:
#   chr1 2 6   + cut at 2: chr1[0:5] = ACGTT;  - cut at 5: chr1[3:8] = TTGCA, reverse complement TGCAA
#   chr1 3 18  + cut at 3: chr1[1:6] = CGTTG;  - cut at 17: chr1[15:20] = TCCAT, reverse complement ATGGA
#   chr1 9 12  + window chr1[7:12] holds N; - window chr1[9:14] holds N: both skipped
#   chr1 18 20 + window chr1[16:21] runs off the end (20 bp); - window too: both skipped
#   chr2 1 5   + window chr2[-1:4] runs off the start: skipped; - cut at 4: chr2[2:7] = GAAAC, rc GTTTC
#   chr2 5 8   (barcode bcC, not a cell) + chr2[3:8] = AAACC; - cut at 7: chr2[5:10] = ACCCT, rc AGGGT
HAND_FRAGMENTS = [
    ("chr1", 2, 6, "bcA", 1), ("chr1", 3, 18, "bcA", 2), ("chr1", 9, 12, "bcB", 1), ("chr1", 18, 20, "bcB", 1),
    ("chr2", 1, 5, "bcA", 1), ("chr2", 5, 8, "bcC", 3),
]
CELL_WINDOWS = ["ACGTT", "TGCAA", "CGTTG", "ATGGA", "GTTTC"]
ALL_WINDOWS = [*CELL_WINDOWS, "AAACC", "AGGGT"]
# chr1 + chr2 (chr3 has no insertion), N excluded: A 8, C 8, G 7, T 5; both strands: A=T=13, C=G=15
HAND_BACKGROUND = np.array([13, 15, 15, 13]) / 56


@pytest.mark.parametrize("genome_prefix", ["chr", ""])
def test_hand_counts_strands_edges_and_n(tmp_path, genome_prefix):
    # fragments say chr1, the genome may say 1 (Ensembl style): both must give the same counts
    genome = _write_fasta(tmp_path / "g.fa",
                          {f"{genome_prefix}{n}": s for n, s in (("1", CHR1), ("2", CHR2), ("3", CHR3))})
    frags = _write_fragments(tmp_path / "f.tsv.gz", HAND_FRAGMENTS)
    bias = insertion_pfm(frags, genome, flank=2, cells={"bcA", "bcB"}, max_fragments=None)
    np.testing.assert_array_equal(bias.counts, _count(CELL_WINDOWS))
    assert bias.n_insertions == 5 and bias.n_fragments == 5
    np.testing.assert_allclose(bias.background, HAND_BACKGROUND)
    np.testing.assert_allclose(bias.frequencies, _count(CELL_WINDOWS) / 5)
    smoothed = (_count(CELL_WINDOWS) + HAND_BACKGROUND) / 6
    np.testing.assert_allclose(bias.log_odds, np.log2(smoothed / HAND_BACKGROUND))
    np.testing.assert_array_equal(bias.positions, [-2, -1, 0, 1, 2])

    everyone = insertion_pfm(frags, genome, flank=2, max_fragments=None)
    np.testing.assert_array_equal(everyone.counts, _count(ALL_WINDOWS))


def test_files_pool_and_subsample_is_seeded(tmp_path):
    genome = _write_fasta(tmp_path / "g.fa", {"chr1": CHR1, "chr2": CHR2})
    a = _write_fragments(tmp_path / "a.tsv", HAND_FRAGMENTS[:2], gz=False)
    b = _write_fragments(tmp_path / "b.tsv.gz", HAND_FRAGMENTS[4:5])
    pooled = insertion_pfm([a, b], genome, flank=2, max_fragments=None)
    np.testing.assert_array_equal(pooled.counts, _count(CELL_WINDOWS))
    one = insertion_pfm([a, b], genome, flank=2, max_fragments=1, seed=5)
    assert one.n_fragments == 1
    again = insertion_pfm([a, b], genome, flank=2, max_fragments=1, seed=5)
    np.testing.assert_array_equal(one.counts, again.counts)
    picked = {tuple(insertion_pfm([a, b], genome, flank=2, max_fragments=1, seed=s).counts.ravel()) for s in range(12)}
    assert len(picked) == 3  # each of the three fragments gets drawn by some seed


def test_strand_convention_matches_the_simulator(tmp_path):
    # the simulator accepts a fragment with probability w+(start) * w-(end - 1), each
    # exp(PWM score - 95th percentile) below the cap: the score of our counted windows
    # must differ between fragments exactly as the log of those weights does
    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGT"), 300))
    log_odds = rng.normal(0.0, 1.0, (21, 4))
    w_plus, w_minus = tn5_weights(seq, log_odds)
    genome = _write_fasta(tmp_path / "g.fa", {"chr1": seq})
    starts = [i for i in range(20, 140) if w_plus[i] < 1][:2]
    lasts = [i for i in range(160, 280) if w_minus[i] < 1][:2]
    frags = [(starts[0], lasts[0] + 1), (starts[0], lasts[1] + 1), (starts[1], lasts[0] + 1)]
    scores = []
    for k, (s, e) in enumerate(frags):
        path = _write_fragments(tmp_path / f"f{k}.tsv.gz", [("chr1", s, e, "bc", 1)])
        counts = insertion_pfm(path, genome, max_fragments=None).counts
        assert counts.sum() == 2 * 21
        scores.append(float((counts * log_odds).sum()))
    logw = [np.log(w_plus[s]) + np.log(w_minus[e - 1]) for s, e in frags]
    assert scores[0] - scores[1] == pytest.approx(logw[0] - logw[1])  # the minus-strand end alone
    assert scores[0] - scores[2] == pytest.approx(logw[0] - logw[2])  # the plus-strand end alone


def test_bad_fragments_files_raise_naming_them(tmp_path):
    genome = _write_fasta(tmp_path / "g.fa", {"chr1": CHR1})
    bad = _write_fragments(tmp_path / "bad.tsv.gz", [("chr1", 2, 6, "bcA", 1), ("chr1", 9, 3, "bcA", 1)])
    with pytest.raises(AtlasbenchError, match=r"bad\.tsv\.gz:2: start must be < end"):
        insertion_pfm(bad, genome)
    beyond = _write_fragments(tmp_path / "beyond.tsv.gz", [("chr1", 2, 60, "bcA", 1)])
    with pytest.raises(AtlasbenchError, match=r"beyond\.tsv\.gz.*beyond the end of chr1"):
        insertion_pfm(beyond, genome)
    elsewhere = _write_fragments(tmp_path / "elsewhere.tsv.gz", [("chrX", 2, 6, "bcA", 1)])
    with pytest.raises(AtlasbenchError, match=r"elsewhere\.tsv\.gz.*no Tn5 insertion"):
        insertion_pfm(elsewhere, genome)
    with pytest.raises(AtlasbenchError, match=r"missing\.tsv\.gz"):
        insertion_pfm(tmp_path / "missing.tsv.gz", genome)


def test_jensen_shannon_known_values():
    assert jensen_shannon([1, 0, 0, 0], [0, 1, 0, 0]) == pytest.approx(1.0)
    assert jensen_shannon([0.25] * 4, [0.25] * 4) == pytest.approx(0.0)
    p, q = np.array([0.5, 0.5, 0, 0]), np.array([0.5, 0, 0.5, 0])
    assert jensen_shannon(p, q) == pytest.approx(0.5)


# -- on the simulator's truth ---------------------------------------------------------------

@pytest.fixture(scope="module")
def atlas(tmp_path_factory):
    root = tmp_path_factory.mktemp("tn5_atlas")
    simulate_atlas(root, "small", seed=0)
    return root


@pytest.fixture(scope="module")
def biases(atlas):
    return {p: insertion_pfm(atlas / p / "fragments.tsv.gz", atlas / "genome" / "genome.fa.gz")
            for p in ("10x", "hydrop")}


def _simulate_changed(root, log_odds):
    """The small atlas again (same genome and seed), its hydrop platform sequenced with another Tn5 profile."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(platforms, "TN5_LOG_ODDS", log_odds)
        simulate_atlas(root, "small", seed=0, platforms=("hydrop",))
    return root


@pytest.fixture(scope="module")
def shifted(tmp_path_factory):
    # the same preferences displaced by 3 bp along the insertion site
    return _simulate_changed(tmp_path_factory.mktemp("tn5_shifted"), np.roll(platforms.TN5_LOG_ODDS, 3, axis=0))


@pytest.fixture(scope="module")
def weaker(tmp_path_factory):
    # the same shape at half the strength
    return _simulate_changed(tmp_path_factory.mktemp("tn5_weaker"), platforms.TN5_LOG_ODDS * 0.5)


def _truth(root, platform):
    table = pd.read_csv(root / "truth" / "tn5_log_odds.tsv", sep="\t")
    table = table[table["platform"] == platform].sort_values("position")
    assert table["position"].tolist() == list(range(-10, 11))
    return table[list("ACGT")].to_numpy()


def _pearson(x, y):
    return float(np.corrcoef(np.ravel(x), np.ravel(y))[0, 1])


@pytest.mark.parametrize("platform", ["10x", "hydrop"])
def test_recovers_the_simulated_bias(atlas, biases, platform):
    r = _pearson(biases[platform].log_odds, _truth(atlas, platform))
    assert r > 0.9, f"{platform}: recovered vs simulated Tn5 log-odds, Pearson {r:.3f}"
    bias = biases[platform]
    np.testing.assert_allclose(bias.frequencies.sum(axis=1), 1.0)
    assert bias.n_insertions > 0.95 * 2 * bias.n_fragments  # few windows skipped
    # the background is the genome's, on both strands
    assert bias.background[0] == pytest.approx(bias.background[3])
    assert bias.background[1] == pytest.approx(bias.background[2])


def test_same_profile_judged_same(biases):
    sim = compare_bias(biases["10x"], biases["hydrop"])
    assert sim["pearson"] > 0.99 and sim["jsd"] < 1e-5, sim
    assert same_bias(biases["10x"], biases["hydrop"])
    assert compare_bias(biases["10x"], biases["10x"])["jsd"] == 0.0


def test_same_profile_judged_same_from_a_subsample(atlas, biases):
    path = atlas / "hydrop" / "fragments.tsv.gz"
    sub = insertion_pfm(path, atlas / "genome" / "genome.fa.gz", max_fragments=50_000, seed=1)
    assert sub.n_fragments == 50_000
    assert same_bias(biases["10x"], sub), compare_bias(biases["10x"], sub)


def test_shifted_bias_detected(shifted, biases):
    changed = insertion_pfm(shifted / "hydrop" / "fragments.tsv.gz", shifted / "genome" / "genome.fa.gz")
    # it is recovered as what was simulated ...
    assert _pearson(changed.log_odds, _truth(shifted, "hydrop")) > 0.9
    # ... and judged different from the unchanged platforms
    for platform in ("10x", "hydrop"):
        sim = compare_bias(biases[platform], changed)
        assert sim["pearson"] < 0.6, sim
        assert not same_bias(biases[platform], changed)


def test_weaker_bias_detected(weaker, biases):
    changed = insertion_pfm(weaker / "hydrop" / "fragments.tsv.gz", weaker / "genome" / "genome.fa.gz")
    sim = compare_bias(biases["10x"], changed)
    # same shape, so only the divergence tells the strength apart
    assert sim["pearson"] > 0.95 and sim["jsd"] > 1e-4, sim
    assert not same_bias(biases["10x"], changed)


def test_write_bias_tables(biases, tmp_path):
    paths = write_bias(biases, tmp_path / "out")
    pfm = pd.read_csv(paths["pfm"], sep="\t")
    assert list(pfm.columns) == ["platform", "position", "base", "count", "frequency", "log_odds"]
    assert len(pfm) == 2 * 21 * 4
    assert pfm["position"].min() == -10 and pfm["position"].max() == 10
    sums = pfm.groupby(["platform", "position"])["frequency"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-5)
    ten = pfm[pfm["platform"] == "10x"].sort_values(["position", "base"])
    np.testing.assert_allclose(ten["count"].to_numpy().reshape(21, 4), biases["10x"].counts)
    sim = pd.read_csv(paths["similarity"], sep="\t")
    assert sim[["platform_a", "platform_b", "same"]].values.tolist() == [["10x", "hydrop", True]]
    for key in ("logos", "logos_pdf"):
        assert paths[key].stat().st_size > 10_000


def test_cli_writes_tables_and_logos(atlas, tmp_path):
    out = tmp_path / "tn5"
    result = CliRunner().invoke(main, [
        "tn5", "--genome", str(atlas / "genome" / "genome.fa.gz"),
        "--fragments", f"10x={atlas / '10x' / 'fragments.tsv.gz'}",
        "--fragments", f"hydrop={atlas / 'hydrop' / 'fragments.tsv.gz'}",
        "--cells", f"hydrop={atlas / 'hydrop' / 'cells.tsv'}",
        "--max-fragments", "30000", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "hydrop" in result.output and "pearson" in result.output
    for name in ("tn5_pfm.tsv", "tn5_similarity.tsv", "tn5_logos.png", "tn5_logos.pdf"):
        assert (out / name).stat().st_size > 0
    sim = pd.read_csv(out / "tn5_similarity.tsv", sep="\t")
    assert bool(sim.loc[0, "same"])


def test_cli_bad_fragments_file(atlas, tmp_path):
    bad = _write_fragments(tmp_path / "broken.tsv.gz", [("2L", 5, 3, "AAAC-1", 1)])
    result = CliRunner().invoke(main, [
        "tn5", "--genome", str(atlas / "genome" / "genome.fa.gz"), "--fragments", f"x={bad}", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "broken.tsv.gz:1" in result.output
