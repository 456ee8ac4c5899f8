"""TF-MoDISco patterns matched to JASPAR: hand-made cases and the simulator's planted motifs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from atlasbench.cli import main
from atlasbench.errors import AtlasbenchError
from atlasbench.io.jaspar import jaspar_collection, jaspar_motif
from atlasbench.readouts.motifs import (
    NoPatterns,
    Pattern,
    discover_motifs,
    discover_patterns,
    match_patterns,
    motif_overlap,
    planted_motifs,
    specific_regions,
    write_motifs,
)


def _pattern(name: str, probs: np.ndarray, n: int = 50) -> Pattern:
    return Pattern(name, n, np.asarray(probs, dtype=float), np.asarray(probs, dtype=float) * 0.1)


def test_specific_regions_compare_standardised_predictions() -> None:
    # output 1 predicts ten times higher everywhere; standardised (column mean 0, SD 1):
    # [[-1.12, -0.57], [0.13, -0.83], [-1.12, 1.76], [1.38, 0.47], [0.75, -0.83]]
    pred = np.array([[1.0, 12.0], [2.0, 10.0], [1.0, 30.0], [3.0, 20.0], [2.5, 10.0]])
    np.testing.assert_array_equal(specific_regions(pred, 0, 5), [3, 4, 1])
    np.testing.assert_array_equal(specific_regions(pred, 0, 2), [3, 4])
    np.testing.assert_array_equal(specific_regions(pred, 1, 5), [2, 0])


def test_a_jaspar_motif_is_matched_to_itself_on_either_strand() -> None:
    insects = jaspar_collection("insects")
    twi, grh = jaspar_motif("twi"), jaspar_motif("grh")
    patterns = [_pattern("pos_0", twi.probs), _pattern("pos_1", grh.probs[::-1, ::-1])]
    table = match_patterns(patterns, insects, top=3)
    best = table[table["rank"] == 1].set_index("pattern")
    assert best.loc["pos_0", "matrix_id"] == twi.matrix_id and best.loc["pos_0", "strand"] == "+"
    assert best.loc["pos_1", "matrix_id"] == grh.matrix_id and best.loc["pos_1", "strand"] == "-"
    assert (best["q_value"] < 1e-3).all()
    assert table.groupby("pattern")["rank"].apply(list).tolist() == [[1, 2, 3], [1, 2, 3]]
    # q-values are Benjamini-Hochberg adjusted p-values: never below the p-value
    assert (table["q_value"] >= table["p_value"]).all()
    # a uniform matrix matches nothing
    flat = match_patterns([_pattern("pos_0", np.full((8, 4), 0.25))], insects, top=1)
    assert flat["q_value"].iloc[0] > 0.05


def test_jaspar_collection_holds_the_latest_version_of_each_matrix() -> None:
    insects = jaspar_collection("insects")
    ids = [m.matrix_id for m in insects]
    assert len(ids) == len({i.split(".")[0] for i in ids}) > 100
    assert jaspar_motif("twi").matrix_id in ids
    np.testing.assert_allclose(next(m for m in insects if m.name == "twi").probs, jaspar_motif("twi").probs)
    with pytest.raises(AtlasbenchError, match=r"no motif of tax group 'martians'; groups: .*insects"):
        jaspar_collection("martians")


def test_motif_overlap_counts_shared_significant_positive_matches() -> None:
    rows = [  # model, cell type, pattern, rank, match, q
        ("a", "x", "pos_0", 1, "twi", 0.001), ("a", "x", "pos_1", 1, "grh", 0.01), ("a", "x", "neg_0", 1, "sna", 0.001),
        ("b", "x", "pos_0", 1, "twi", 0.002), ("b", "x", "pos_1", 1, "tin", 0.2), ("b", "x", "pos_0", 2, "grh", 0.01),
        ("a", "y", "pos_0", 1, "srp", 0.3),
    ]
    table = pd.DataFrame(rows, columns=["model", "cell_type", "pattern", "rank", "match", "q_value"])
    overlap = motif_overlap(table, "a", "b").set_index("cell_type")
    assert overlap.loc["x", "first"] == "grh,twi" and overlap.loc["x", "second"] == "twi"
    assert overlap.loc["x", "shared"] == "twi"
    assert overlap.loc["x", "jaccard"] == pytest.approx(0.5)
    assert np.isnan(overlap.loc["y", "jaccard"])


def test_planted_motifs_count_a_match_at_any_rank_and_report_the_other_activators() -> None:
    rows = [  # model, cell type, pattern, rank, match, q
        ("a", "x", "pos_0", 1, "al", 1e-6), ("a", "x", "pos_0", 2, "exex", 1e-5), ("a", "x", "pos_0", 5, "repo", 0.01),
        ("a", "x", "pos_1", 1, "repo", 0.2),  # the same motif, not significant: the rank-5 match is the one found
        ("a", "y", "pos_0", 1, "twi", 0.2), ("a", "y", "neg_0", 1, "twi", 1e-4),  # neither counts
        ("a", "y", "pos_1", 1, "repo", 0.001),  # x's activator in y's pattern: a wrong call
        ("b", "y", "pos_0", 1, "TWI", 0.001),  # names compared ignoring case
    ]
    table = pd.DataFrame(rows, columns=["model", "cell_type", "pattern", "rank", "match", "q_value"])
    out = planted_motifs(table, {"x": "repo", "y": "twi", "z": "twi"}).set_index(["model", "cell_type"])
    assert out.loc[("a", "x"), ["found", "pattern", "jaspar_rank", "first_match"]].tolist() == [True, "pos_0", 5, "al"]
    assert out.loc[("a", "x"), "q_value"] == 0.01 and out.loc[("a", "x"), "best_matches"] == "al"
    assert not out.loc[("a", "y"), "found"] and out.loc[("a", "y"), "other_activators"] == "repo"
    assert out.loc[("a", "y"), "n_other_matched"] == 1 and out.loc[("a", "x"), "n_other_matched"] == 0
    assert out.loc[("a", "y"), "n_other_activators"] == 1  # z's twi is y's own
    assert out.loc[("b", "y"), "found"] and out.loc[("b", "y"), "first_match"] == "TWI"
    assert not out.loc[("b", "x"), "analysed"] and not out.loc[("a", "z"), "analysed"]


def test_discover_patterns_checks_its_inputs() -> None:
    codes = np.zeros((3, 100), dtype=np.uint8)
    with pytest.raises(AtlasbenchError, match="do not fit"):
        discover_patterns(codes, np.zeros((3, 4, 90)))
    with pytest.raises(AtlasbenchError, match="shorter than a seqlet window"):
        discover_patterns(codes[:, :30], np.zeros((3, 4, 30)))


def test_write_motifs_writes_tables_overlap_and_logos(tmp_path: Path) -> None:
    insects = jaspar_collection("insects")
    found = {("a", "x"): [_pattern("pos_0", jaspar_motif("twi").probs)],
             ("b", "x"): [_pattern("pos_0", jaspar_motif("twi").probs[::-1, ::-1])]}
    tables = []
    for (model, cell_type), patterns in found.items():
        table = match_patterns(patterns, insects)
        table.insert(0, "cell_type", cell_type)
        table.insert(0, "model", model)
        tables.append(table)
    paths = write_motifs(pd.concat(tables, ignore_index=True), found, insects, tmp_path / "out")
    motifs = pd.read_csv(paths["motifs"], sep="\t")
    assert motifs["match"].tolist() == ["twi", "twi"] and "rank" not in motifs
    assert pd.read_csv(paths["overlap"], sep="\t")["jaccard"].tolist() == [1.0]
    assert len(pd.read_csv(paths["matches"], sep="\t")) == 6
    saved = np.load(paths["patterns"])
    np.testing.assert_allclose(saved["a/x/pos_0/ppm"], jaspar_motif("twi").probs)
    for key in ("logo:a:x", "logo:b:x"):
        assert paths[key].stat().st_size > 0 and paths[key].with_suffix(".pdf").is_file()


def test_planted_motifs_are_found_and_matched_to_their_jaspar_motif(planted, tmp_path: Path) -> None:
    """On the model trained on the simulator's truth, ``atlasbench motifs`` finds, for the
    mesoderm (twi) and epidermis (grh) cell types, a TF-MoDISco pattern whose best JASPAR
    match is the motif the simulator planted to open that cell type's enhancers, and
    does not report the other cell type's motif for it."""
    from atlasbench.models.architectures import model_params
    from atlasbench.models.trained import save_trained

    params = model_params("dilated_cnn", "tiny", {"n_dil_layers": 5})
    folder = save_trained(tmp_path / "model", planted.model,
                          {"architecture": "dilated_cnn", "preset": "tiny", "params": params,
                           "input_length": planted.length, "cell_types": planted.design.cell_types})
    fasta = tmp_path / "regions.fa"
    names = planted.design.regions["name"]
    fasta.write_text("".join(f">{n}\n{''.join('ACGTN'[c] for c in row)}\n" for n, row in zip(names, planted.codes)))
    result = CliRunner().invoke(main, ["motifs", str(folder), "--regions", str(fasta), "--cell-type", "twi",
                                       "--cell-type", "grh", "--top-regions", "300", "--steps", "8",
                                       "--max-seqlets", "1000", "--leiden-runs", "2", "--jaspar-group", "insects",
                                       "--out", str(tmp_path / "motifs")])
    assert result.exit_code == 0, result.output
    print(result.output)
    table = pd.read_csv(tmp_path / "motifs" / "motifs.tsv", sep="\t")
    positive = table[table["pattern"].str.startswith("pos_") & (table["q_value"] < 0.05)]
    for cell_type, other in (("twi", "grh"), ("grh", "twi")):
        matched = set(positive.loc[positive["cell_type"] == cell_type, "match"])
        assert jaspar_motif(cell_type).name in matched, (cell_type, matched)
        assert jaspar_motif(other).name not in matched
    assert (tmp_path / "motifs" / "logos" / "model_twi.png").stat().st_size > 0


def test_near_flat_scores_say_why_there_is_no_pattern() -> None:
    """Scores TF-MoDISco cannot set seqlet thresholds on raise NoPatterns, not its own error."""
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (20, 200)).astype(np.uint8)
    with pytest.raises(NoPatterns, match="constant"):
        discover_patterns(codes, np.zeros((20, 4, 200)), leiden_runs=1)
    with pytest.raises(NoPatterns, match="null distribution"):  # modisco: ValueError from its isotonic fit
        discover_patterns(codes, np.abs(rng.normal(0, 1e-3, (20, 4, 200))), leiden_runs=1)


def test_motifs_command_notes_cell_types_without_patterns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A model that ignores its input: one cell type has no specific region, the other only
    constant contributions; `atlasbench motifs` warns once per cell type, exits 0 and writes
    empty tables and the reasons in notes.tsv."""
    import logging

    import torch

    from atlasbench.models.architectures import build_model, model_params
    from atlasbench.models.trained import save_trained

    params = model_params("dilated_cnn", "tiny", {"filters": 8, "n_dil_layers": 2})
    model = build_model("dilated_cnn", 2, 200, params=params)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    folder = save_trained(tmp_path / "flat", model, {"architecture": "dilated_cnn", "preset": "tiny",
                                                     "params": params, "input_length": 200,
                                                     "cell_types": ["dev", "hk"]})
    rng = np.random.default_rng(0)
    fasta = tmp_path / "regions.fa"
    fasta.write_text("".join(f">r{i}\n{''.join(rng.choice(list('ACGT'), 200))}\n" for i in range(30)))
    with caplog.at_level(logging.WARNING, logger="atlasbench.readouts.motifs"):
        result = CliRunner().invoke(main, ["motifs", str(folder), "--regions", str(fasta), "--top-regions", "20",
                                           "--steps", "2", "--leiden-runs", "1", "--jaspar-group", "insects",
                                           "--out", str(tmp_path / "motifs")])
    assert result.exit_code == 0, result.output
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 2
    assert "motifs of dev skipped: contribution scores are constant" in caplog.text
    assert "motifs of hk skipped: no region is predicted most specific" in caplog.text
    motifs = pd.read_csv(tmp_path / "motifs" / "motifs.tsv", sep="\t")
    assert motifs.empty and {"model", "cell_type", "pattern", "match", "q_value"} <= set(motifs.columns)
    notes = pd.read_csv(tmp_path / "motifs" / "notes.tsv", sep="\t")
    assert notes.columns.tolist() == ["model", "cell_type", "n_regions", "note"]
    assert notes["cell_type"].tolist() == ["dev", "hk"] and notes["n_regions"].tolist() == [20, 0]


def test_an_ensemble_averages_its_models_scores(planted) -> None:
    """Several models' predictions and contribution scores are averaged: an ensemble of one
    model twice finds what the model alone finds, and one with a model that ignores its
    input (no gradient, the same prediction everywhere) chooses the same regions."""
    import torch

    class Constant(torch.nn.Module):
        def __init__(self, n_outputs: int) -> None:
            super().__init__()
            self.bias = torch.nn.Parameter(torch.ones(n_outputs))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.bias.expand(x.shape[0], -1) + 0 * x.sum(dim=(1, 2))[:, None]

    cell_types = planted.design.cell_types
    insects = jaspar_collection("insects")
    settings = {"n_regions": 150, "max_seqlets": 500, "leiden_runs": 1}
    codes = planted.codes[:1500]
    alone, _ = discover_motifs(planted.model, cell_types, codes, ["twi"], insects, **settings)
    twice, _ = discover_motifs([planted.model, planted.model], cell_types, codes, ["twi"], insects, **settings)
    pd.testing.assert_frame_equal(alone, twice)
    flat, _ = discover_motifs([planted.model, Constant(len(cell_types))], cell_types, codes, ["twi"], insects,
                              **settings)
    assert flat["n_regions"].iloc[0] == alone["n_regions"].iloc[0]
