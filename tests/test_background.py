"""The Markov background (atlasbench.simulate.background) against the genome it is fitted on.

The source is the bundled dm6 slice; its k-mer counts are taken here by hand (a Python
counter over every word), independently of the module. One 2 Mbp order-5 background is
drawn once for the module; a tiny simulated atlas on a 1 Mbp background checks the
simulator's use of it.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from itertools import product

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from atlasbench.cli import main
from atlasbench.errors import AtlasbenchError
from atlasbench.simulate.atlas import PRESETS, bundled_genome, read_fasta, simulate_atlas
from atlasbench.simulate.background import (
    chromosome_lengths,
    fit_markov,
    kmer_counts,
    low_complexity_share,
    markov_genome,
)
from atlasbench.simulate.motifs import reverse_complement
from atlasbench.study.loader import load_study
from atlasbench.study.validate import check_study

ORDER = 5
LENGTH = 2_000_000
WORDS = ["".join(w) for w in product("ACGT", repeat=ORDER + 1)]


def _by_hand(genome: dict[str, str], k: int, both_strands: bool = True) -> np.ndarray:
    """Frequency of every k-mer of A, C, G, T (in WORDS order for k = 6), counted word by word."""
    counts: Counter[str] = Counter()
    for seq in genome.values():
        counts.update(seq[i : i + k] for i in range(len(seq) - k + 1))
    words = ["".join(w) for w in product("ACGT", repeat=k)]
    table = np.array([counts[w] for w in words], dtype=np.float64)
    if both_strands:
        table += np.array([counts[reverse_complement(w)] for w in words], dtype=np.float64)
    return table / table.sum()


@pytest.fixture(scope="module")
def source() -> dict[str, str]:
    return read_fasta(bundled_genome())


@pytest.fixture(scope="module")
def generated(source) -> dict[str, str]:
    return markov_genome(source, LENGTH, order=ORDER, rng=np.random.default_rng(7))


# --- k-mer statistics --------------------------------------------------------------------


def test_background_reproduces_the_source_6mer_frequencies(source, generated):
    expected = _by_hand(source, ORDER + 1)
    observed = _by_hand(generated, ORDER + 1)
    assert np.corrcoef(expected, observed)[0, 1] > 0.99
    # words expected at least ~800 times on the two strands of 2 Mbp: within 25% (noise ~4%)
    frequent = expected * 2 * LENGTH >= 800
    assert frequent.sum() > 1_000
    relative = np.abs(observed[frequent] / expected[frequent] - 1)
    assert relative.max() < 0.25 and np.median(relative) < 0.05
    # GC content and dinucleotides (CpG depletion) too
    for k, tolerance in ((1, 0.002), (2, 0.003)):
        assert np.abs(_by_hand(generated, k) - _by_hand(source, k)).max() < tolerance


def test_module_counts_match_the_hand_counts(source):
    counts = kmer_counts(source, ORDER + 1).astype(np.float64)
    np.testing.assert_allclose(counts / counts.sum(), _by_hand(source, ORDER + 1), rtol=1e-12)
    # one strand, case folded, words across the N skipped
    pairs = ["".join(w) for w in product("ACGT", repeat=2)]
    one_strand = dict(zip(pairs, kmer_counts({"a": "ACGTNacgtA"}, 2, both_strands=False).tolist()))
    assert {w: n for w, n in one_strand.items() if n} == {"AC": 2, "CG": 2, "GT": 2, "TA": 1}


def test_background_reads_the_same_on_both_strands(generated):
    """Fitted on both strands, the chain's forward strand alone has reverse-complement symmetry."""
    forward = _by_hand(generated, ORDER + 1, both_strands=False)
    index = {w: i for i, w in enumerate(WORDS)}
    reverse = forward[[index[reverse_complement(w)] for w in WORDS]]
    assert np.corrcoef(forward, reverse)[0, 1] > 0.99


def test_transitions_are_probabilities(source):
    model = fit_markov(source, order=3)
    assert model.transitions.shape == (64, 4) and model.start.shape == (64,)
    np.testing.assert_allclose(model.transitions.sum(axis=1), 1.0)
    assert (model.transitions > 0).all() and np.isclose(model.start.sum(), 1.0)
    with pytest.raises(AtlasbenchError, match="order"):
        fit_markov(source, order=13)
    with pytest.raises(AtlasbenchError, match="no run"):
        fit_markov({"a": "NNNNNNNNNN"}, order=5)


# --- the genome ----------------------------------------------------------------------------


def test_genome_has_the_asked_size_and_karyotype(generated):
    assert list(generated) == [f"chr{i}" for i in range(1, 11)]
    sizes = [len(seq) for seq in generated.values()]
    assert sum(sizes) == LENGTH and sizes == sorted(sizes, reverse=True)
    assert sizes[0] / sizes[-1] == pytest.approx(3.0, rel=0.01)
    assert chromosome_lengths(LENGTH) == dict(zip(generated, sizes))
    assert set("".join(generated.values())) == set("ACGT")


def test_same_seed_same_genome_other_seed_another(source):
    first = markov_genome(source, 300_000, n_chromosomes=3, rng=np.random.default_rng(1))
    again = markov_genome(source, 300_000, n_chromosomes=3, rng=np.random.default_rng(1))
    other = markov_genome(source, 300_000, n_chromosomes=3, rng=np.random.default_rng(2))
    assert first == again
    assert list(other) == list(first) and all(other[c] != first[c] for c in first)
    with pytest.raises(AtlasbenchError, match="chromosomes"):
        markov_genome(source, 5, n_chromosomes=10, rng=np.random.default_rng(1))


# --- repeats -------------------------------------------------------------------------------


def test_low_complexity_share_counts_tandem_repeat_windows():
    rng = np.random.default_rng(0)
    random = "".join(rng.choice(list("ACGT"), size=200))
    assert low_complexity_share({"a": "ACGTT" * 40 + random, "b": "N" * 100}) == 0.5
    assert np.isnan(low_complexity_share({"a": "ACGT"}))


def test_background_has_far_fewer_repeat_windows_than_the_source(source, generated):
    real = low_complexity_share(source)
    simulated = low_complexity_share(generated)
    assert real > 0.05  # the slice's 3R piece is half satellite
    assert simulated < real / 20


# --- the simulator on a Markov background ---------------------------------------------------


@pytest.fixture(scope="module")
def atlas(tmp_path_factory):
    """A tiny atlas on a 1 Mbp background, from a preset that asks for one."""
    tiny = dataclasses.replace(PRESETS["small"], n_cells=60, n_regions=1_000, genome_length=1_000_000)
    out = tmp_path_factory.mktemp("markov") / "tiny"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PRESETS, "tiny", tiny)
        study = simulate_atlas(out, "tiny", seed=5, platforms=("10x",))
    return out, study


def test_simulated_atlas_plants_motifs_into_a_markov_genome(atlas):
    out, study = atlas
    genome = read_fasta(out / "genome" / "genome.fa.gz")
    assert sum(len(s) for s in genome.values()) == 1_000_000
    assert list(genome) == [f"chr{i}" for i in range(1, 11)]
    sites = pd.read_csv(out / "truth" / "sites.tsv", sep="\t", keep_default_na=False)
    regions = pd.read_csv(out / "truth" / "regions.tsv", sep="\t", keep_default_na=False)
    assert len(regions) == 1_000 and len(sites) > 1_000
    for site in sites.head(50).itertuples():
        found = genome[site.chrom][site.start : site.end]
        assert found == (site.sequence if site.strand == "+" else reverse_complement(site.sequence))
    # spread over every chromosome in proportion to its length
    per_chrom = regions.groupby("chrom").size()
    sizes = pd.Series({c: len(s) for c, s in genome.items()})
    share = per_chrom.reindex(sizes.index) / len(regions)
    np.testing.assert_allclose(share, sizes / sizes.sum(), atol=0.002)
    # packed 100 bp apart to fit (1 Mbp / 2,000 - 500 < 100), and the study's window with them
    assert load_study(study).target_window == 600
    record = json.loads((out / "truth" / "simulation.json").read_text())
    assert record["background"] == {
        "kind": "markov",
        "order": 5,
        "source": "bundled dm6 slice",
        "length": 1_000_000,
        "chromosomes": dict(sizes),
    }
    assert check_study(load_study(study), max_fragments=0) == []


def test_cli_genome_length_overrides_the_preset(tmp_path):
    out = tmp_path / "cli"
    options = "--preset small --cells 20 --seed 2 --genome-length 300000 --regions 200"
    args = ["simulate", "--out", str(out), *options.split(" ")]
    result = CliRunner().invoke(main, args, prog_name="atlasbench")
    assert result.exit_code == 0, result.output
    record = json.loads((out / "truth" / "simulation.json").read_text())
    assert record["background"]["length"] == 300_000 and record["background"]["order"] == 5
    regions = pd.read_csv(out / "truth" / "regions.tsv", sep="\t")
    assert len(regions) == 200 and regions["chrom"].nunique() == 10
