"""The HTML report: every section from small real inputs, skipped sections, and a real browser."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atlasbench.data.complexity import saturation_depth
from atlasbench.errors import AtlasbenchError
from atlasbench.report.page import SECTIONS, ReportInputs, write_report
from atlasbench.study.jobs import report_settings
from atlasbench.study.loader import load_study

# platform -> (plateau, K_reads, K_cells, achieved reads at "all", cells at "all", library complexity)
TRUTH = {"10x": (0.66, 300.0, 60.0, 4000.0, 1500, 3000.0), "hydrop": (0.56, 600.0, 120.0, 3500.0, 1200, 1500.0)}
CELL_TYPES = ("twi", "grh")
N_FOLDS = 2

STUDY = """\
name: report-test
description: Two platforms on a simulated fly embryo atlas, for the report tests.
output: results
genome:
  fasta: genome.fa
platforms:
  - name: 10x
    fragments: tenx.tsv.gz
    cells: tenx_cells.tsv
    cost: {per_cell: 0.471, per_million_reads: 2.875}
  - name: hydrop
    fragments: hydrop.tsv.gz
    cells: hydrop_cells.tsv
    cost: {per_cell: 0.049, per_million_reads: 2.875}
grid:
  reads_per_cell: [500, 1000, all]
  cells: [200, all]
evaluation:
  reference_platform: 10x
"""


def _surface(platform: str, reads: float, cells: float) -> float:
    plateau, k_reads, k_cells = TRUTH[platform][:3]
    return plateau * reads / (reads + k_reads) * cells / (cells + k_cells)


def _evaluation(path: Path) -> Path:
    """2 platforms x (reads 500/1000/all x cells 200/all) x 2 folds on a known saturating surface."""
    rng = np.random.default_rng(0)
    rows = []
    for platform, (_, _, _, all_reads, all_cells, _) in TRUTH.items():
        other = next(p for p in TRUTH if p != platform)
        for reads_key, reads in (("500", 500.0), ("1000", 1000.0), ("all", all_reads)):
            for cells_key, cells in (("200", 200), ("all", all_cells)):
                level = f"reads-{reads_key}_cells-{cells_key}"
                for fold in range(N_FOLDS):
                    value = _surface(platform, reads, cells) + rng.normal(0, 0.004)
                    base = dict(platform=platform, level=level, reads_per_cell=reads * (1 + 0.01 * fold),
                                n_cells=cells, fold_scheme="chromosome_block", fold=fold, seed=7,
                                model="dilated_cnn")
                    rows.append({**base, "against": "full", "cell_type": "all", "metric": "pearson_mean",
                                 "value": value})
                    rows.append({**base, "against": "own", "cell_type": "all", "metric": "pearson_mean",
                                 "value": value + 0.02})
                    rows.append({**base, "against": "truth", "cell_type": "all", "metric": "pearson_mean",
                                 "value": value - 0.05})
                    for cell_type in CELL_TYPES:
                        rows.append({**base, "against": "full", "cell_type": cell_type, "metric": "pearson",
                                     "value": value + rng.normal(0, 0.02)})
                    if level == "reads-all_cells-all":
                        rows.append({**base, "against": f"platform:{other}", "cell_type": "all",
                                     "metric": "pearson_mean", "value": value - 0.07})
    frame = pd.DataFrame(rows)
    frame.to_parquet(path, index=False)
    return path


def _barcodes(platform: str) -> list[str]:
    return [f"{platform}-{i}" for i in range(TRUTH[platform][4])]


def _cell_complexity(platform: str) -> np.ndarray:
    """The simulated library complexity of each cell: log-normal around the platform's."""
    _, _, _, _, n, complexity = TRUTH[platform]
    return complexity * np.random.default_rng(7 + len(platform)).lognormal(0, 0.45, n)


def _qc(folder: Path, platform: str) -> Path:
    """qc.tsv and levels.tsv as the targets stage writes them (the columns the report reads)."""
    rng = np.random.default_rng(len(platform))
    _, _, _, all_reads, n, complexity = TRUTH[platform]
    reads = rng.poisson(all_reads, n)
    fragments = np.round(_cell_complexity(platform) * -np.expm1(-reads / _cell_complexity(platform))).astype(int)
    qc = pd.DataFrame({"barcode": _barcodes(platform), "cell_type": rng.choice(CELL_TYPES, n),
                       "sample": "s1", "n_fragments": fragments, "n_reads": reads,
                       "duplication_rate": 1 - fragments / reads, "tss_enrichment": rng.normal(14, 3, n),
                       "frip": rng.beta(50, 50, n)})
    folder.mkdir(parents=True)
    qc.to_csv(folder / "qc.tsv", sep="\t", index=False)
    levels = []
    for i, (key, target) in enumerate((("500", 500.0), ("1000", 1000.0), ("all", all_reads))):
        for j, (cells_key, cells) in enumerate((("200", 200), ("all", n))):
            levels.append({"depth_level": i, "cell_level": j, "reads_per_cell": key, "p": target / all_reads,
                           "cells": cells_key, "n_cells": cells, "mean_reads_per_cell": target,
                           "mean_fragments_per_cell": complexity * (1 - np.exp(-target / complexity))})
    pd.DataFrame(levels).to_csv(folder / "levels.tsv", sep="\t", index=False)
    return folder


def _tn5_log_odds() -> np.ndarray:
    """A Tn5-like preference at +-5 bp of the cut (the real flank is 10; 5 keeps the logos quick to draw)."""
    log_odds = np.zeros((11, 4))
    log_odds[3:8] = [[0.3, -0.2, 0.4, -0.5], [-0.4, 0.6, 0.2, -0.4], [0.0, 0.5, 0.5, -1.0],
                      [-0.4, 0.2, 0.6, -0.4], [-0.5, 0.4, -0.2, 0.3]]
    return log_odds


def _tn5(folder: Path, truth: Path) -> Path:
    from atlasbench.readouts.tn5 import bias_from_counts, write_bias

    background = np.array([0.29, 0.21, 0.21, 0.29])
    rng = np.random.default_rng(1)
    biases = {}
    for platform in TRUTH:
        probs = background * 2.0 ** _tn5_log_odds()
        probs /= probs.sum(axis=1, keepdims=True)
        counts = np.stack([rng.multinomial(400_000, p) for p in probs]).astype(float)
        biases[platform] = bias_from_counts(counts, background, n_fragments=200_000)
    write_bias(biases, folder)
    table = pd.concat([pd.DataFrame(_tn5_log_odds(), columns=list("ACGT")).assign(platform=p, position=range(-5, 6))
                       for p in TRUTH])[["platform", "position", "A", "C", "G", "T"]]
    table.to_csv(truth / "tn5_log_odds.tsv", sep="\t", index=False)
    return folder


def _motifs(folder: Path) -> Path:
    """Both models find twi in twi cells; only 10x finds grh in grh cells (hydrop's grh pattern is twi's
    motif); 10x's repo pattern is al's motif, a homeodomain JASPAR ranks before repo; one flat pattern
    matches nothing."""
    from atlasbench.io.jaspar import jaspar_collection, jaspar_motif
    from atlasbench.readouts.motifs import Pattern, match_patterns, write_motifs

    def pattern(name: str, probs: np.ndarray) -> Pattern:
        return Pattern(name, 40, np.asarray(probs, float), np.asarray(probs, float) * 0.1)

    insects = jaspar_collection("insects")
    found = {("10x", "twi"): [pattern("pos_0", jaspar_motif("twi").probs)],
             ("10x", "grh"): [pattern("pos_0", jaspar_motif("grh").probs), pattern("pos_1", np.full((8, 4), 0.25))],
             ("10x", "repo"): [pattern("pos_0", jaspar_motif("al").probs)],
             ("hydrop", "twi"): [pattern("pos_0", jaspar_motif("twi").probs[::-1, ::-1])],
             ("hydrop", "grh"): [pattern("pos_0", jaspar_motif("twi").probs)]}
    tables = []
    for (model, cell_type), patterns in found.items():
        table = match_patterns(patterns, insects)
        table.insert(0, "cell_type", cell_type)
        table.insert(0, "model", model)
        tables.append(table)
    # logos of one (model, cell type) only: each logo figure takes a second or two to draw
    write_motifs(pd.concat(tables, ignore_index=True), {("hydrop", "twi"): found[("hydrop", "twi")]}, insects, folder)
    return folder


def _enhancers(folder: Path, platform: str) -> Path:
    from atlasbench.readouts.enhancers import write_enhancer_report

    rng = np.random.default_rng(3)
    names = [f"e{i}" for i in range(12)]
    targets = [["twi"]] * 4 + [["grh"]] * 4 + [[]] * 4
    enhancers = pd.DataFrame({"name": names, "sequence": "ACGT", "targets": targets, "label": [1] * 8 + [0] * 4})
    signal = 1.5 if platform == "10x" else 0.8
    scores = pd.DataFrame(rng.uniform(0.5, 1.0, (12, 2)), index=names, columns=list(CELL_TYPES))
    for i, t in enumerate(targets):
        for cell_type in t:
            scores.loc[names[i], cell_type] += signal
    write_enhancer_report(scores, enhancers, folder)
    return folder


def _truth(folder: Path) -> Path:
    folder.mkdir(parents=True)
    record = {"preset": "test", "seed": 0, "n_cells": 1500,
              "platforms": [{"name": p, "complexity": v[5], "complexity_sigma": 0.45, "reads_per_cell": v[3]}
                            for p, v in TRUTH.items()],
              "simulated_platforms": list(TRUTH),
              "cell_types": [{"name": "twi", "activator": "twi"}, {"name": "grh", "activator": "grh"},
                             {"name": "repo", "activator": "repo"}, {"name": "srp", "activator": "srp"}]}
    (folder / "simulation.json").write_text(json.dumps(record))
    for platform in TRUTH:
        pd.DataFrame({"barcode": _barcodes(platform), "kind": "cell", "complexity": _cell_complexity(platform)}).to_csv(
            folder / f"{platform}_barcodes.tsv", sep="\t", index=False)
    return folder


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    """The report's settings, built from the study file as the report job builds them."""
    folder = tmp_path_factory.mktemp("study")
    path = folder / "study.yaml"
    path.write_text(textwrap.dedent(STUDY))
    return report_settings(load_study(path, check_files=False))


@pytest.fixture(scope="module")
def full_report(settings, tmp_path_factory):
    """Every input, built by the real writers; the report written once (timed)."""
    root = tmp_path_factory.mktemp("inputs")
    truth = _truth(root / "truth")
    inputs = ReportInputs(
        evaluation=_evaluation(root / "evaluation.parquet"),
        qc={p: _qc(root / "targets" / p, p) for p in TRUTH},
        tn5=_tn5(root / "tn5", truth),
        motifs=_motifs(root / "motifs"),
        enhancers={p: _enhancers(root / "enhancers" / p, p) for p in TRUTH},
        truth=truth,
        truth_fidelity=_fidelity(root / "fidelity.tsv"),
        enhancer_summary=_enhancer_summary(root / "enhancers" / "summary.tsv"),
        scenario_labels=SCENARIOS, scenario_pairs=[(LIMITED, FULL), (("10x", FULL[1]), FULL)],
    )
    return write_report(settings, inputs, root / "report")


def _fidelity(path: Path, swap: bool = False) -> Path:
    """Each grid point's targets against the truth: the planted surface lifted by 0.2 (the
    platforms' names swapped with ``swap``, making hydrop's data the better)."""
    rows = []
    for platform, (_, _, _, all_reads, all_cells, _) in TRUTH.items():
        for reads_key, reads in (("500", 500.0), ("1000", 1000.0), ("all", all_reads)):
            for cells_key, cells in (("200", 200), ("all", all_cells)):
                name = next(p for p in TRUTH if p != platform) if swap else platform
                rows.append({"platform": name, "level": f"reads-{reads_key}_cells-{cells_key}",
                             "value": _surface(platform, reads, cells) + 0.2})
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


LIMITED, FULL = ("hydrop", "reads-all_cells-200"), ("hydrop", "reads-all_cells-all")
SCENARIOS = {LIMITED: "hydrop-limited", FULL: "hydrop-all", ("10x", FULL[1]): "10x-all"}


def _enhancer_summary(path: Path) -> Path:
    """The enhancers job's summary: two fold models and their ensemble per scenario."""
    rows = [{"platform": p, "level": level, "scenario": SCENARIOS[(p, level)], "fold": fold, "seed": seed,
             "accuracy": acc, "macro_auroc": 0.9, "macro_auprc": 0.7, "n_enhancers": 8}
            for p, level in SCENARIOS
            for fold, seed, acc in (("0", "7", 0.5), ("1", "7", 0.75), ("ensemble", "", 0.875))]
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


# figures: QC, accuracy, grid, transfer, frontier, Tn5 logos, 1 motif logo, 2 ROC, truth saturation, truth Tn5
EXPECTED_IMAGES = 11


def _summary(text: str) -> str:
    return text.split('<section id="summary"', 1)[1].split("</section>", 1)[0]


def test_report_has_every_section_figure_and_table(full_report) -> None:
    path = full_report
    assert path.name == "report.html" and path.is_file()
    text = path.read_text()
    for section_id, heading in SECTIONS:
        assert f'id="{section_id}"' in text and f">{heading}</h2>" in text
        assert f'href="#{section_id}"' in text  # table of contents
    assert text.count("data:image/png;base64,") == EXPECTED_IMAGES
    # nothing skipped; the one note says which planted cell type no model explained
    assert re.findall(r'<p class="note">(.*?)</p>', text) == ["Cell types not explained by any model: srp."]
    assert 'id="report-check"' in text and "max-width:1200px" in text
    # self-contained: no file, script or style is fetched
    assert not re.search(r'(src|href)="(?!data:|#)', text)
    tables = path.parent / "tables"
    for name in ("qc", "qc_levels", "accuracy", "ranking", "saturation", "cheapest", "transfer", "tn5_similarity",
                 "motifs", "motif_overlap", "enhancers", "truth_tn5", "truth_motifs", "truth_platforms", "truth_grid",
                 "comparisons", "truth_comparisons", "enhancers_by_scenario"):
        assert (tables / f"{name}.csv").stat().st_size > 0, name
    for name in ("qc", "accuracy", "accuracy_grid", "transfer", "cost_frontier", "truth_tn5", "truth_saturation"):
        figure = path.parent / "figures" / name
        assert figure.with_suffix(".png").is_file() and figure.with_suffix(".pdf").is_file()
    assert not list(path.parent.rglob("*.tmp*"))  # atomic writes leave nothing behind


def test_report_numbers_match_the_inputs(full_report) -> None:
    path = full_report
    tables = path.parent / "tables"
    summary = _summary(path.read_text())
    # 10x was built with the higher plateau: it ranks first, with mean +- SD over the folds
    assert re.search(r"At full data, <b>10x</b> ranks first: test Pearson vs full data 0\.\d{3} &plusmn; 0\.\d{3} "
                     r"\(mean &plusmn; SD over 2 models\), ahead of <b>hydrop</b>", summary)
    ranking = pd.read_csv(tables / "ranking.csv")
    assert ranking["platform"].tolist() == ["10x", "hydrop"]
    expected = _surface("10x", 4000.0, 1500)
    assert ranking.loc[0, "accuracy_mean"] == pytest.approx(expected, abs=0.01)
    # the fitted saturation recovers the planted K_reads (95% at 19 K)
    saturation = pd.read_csv(tables / "saturation.csv").set_index("platform")
    for platform, (_, k_reads, *_rest) in TRUTH.items():
        assert saturation.loc[platform, "saturation_depth"] == pytest.approx(19 * k_reads, rel=0.35)
    assert "reads per cell on <b>10x</b>" in summary
    assert "not the depth, limit accuracy" not in summary  # the models saturate within the levels
    # the cost comparison in the study's words, from cost.compare_costs
    assert re.search(r"hydrop reaches Pearson 0\.\d+ with .* than 10x .* lower cost", summary)
    # transfer: own (full) against the other platform's full data
    transfer = pd.read_csv(tables / "transfer.csv")
    own = transfer[(transfer["trained_on"] == "10x") & (transfer["evaluated_on"] == "10x")]["pearson_mean"].item()
    cross = transfer[(transfer["trained_on"] == "10x") & (transfer["evaluated_on"] == "hydrop")]["pearson_mean"].item()
    assert cross == pytest.approx(own - 0.07)
    # Tn5: one chemistry, the same bias; and recovered from the simulated log-odds
    assert "Tn5 insertion bias: <b>10x</b> and <b>hydrop</b>: the same" in summary
    assert (pd.read_csv(tables / "truth_tn5.csv")["pearson"] > 0.99).all()
    # motifs: twi shared, grh only in 10x
    overlap = pd.read_csv(tables / "motif_overlap.csv").set_index("cell_type")
    assert overlap.loc["twi", "shared"] == "twi" and overlap.loc["twi", "jaccard"] == 1.0
    assert "share 1 of the 4 JASPAR motifs" in summary
    truth_motifs = pd.read_csv(tables / "truth_motifs.csv", keep_default_na=False)
    truth_motifs = truth_motifs[truth_motifs["analysed"]].set_index(["model", "cell_type"])
    found = truth_motifs["found"]
    assert found[("10x", "twi")] and found[("10x", "grh")] and found[("hydrop", "twi")]
    assert "srp" not in set(truth_motifs.index.get_level_values("cell_type"))
    # repo's homeodomain pattern is found behind the relative JASPAR ranks first; twi's motif in grh cells
    # is not grh, and is another cell type's activator
    assert found[("10x", "repo")] and truth_motifs.loc[("10x", "repo"), "first_match"] == "al"
    assert truth_motifs.loc[("10x", "repo"), "jaspar_rank"] > 1 and truth_motifs.loc[("10x", "twi"), "jaspar_rank"] == 1
    assert not found[("hydrop", "grh")] and truth_motifs.loc[("hydrop", "grh"), "other_activators"] == "twi"
    assert truth_motifs["other_activators"].drop(("hydrop", "grh")).eq("").all()
    assert "found in 3 of 3 cell types explained by <b>10x</b> (twi, grh, repo; JASPAR ranks a relative first: " \
           "repo's behind al), another cell type's activator in 0 of 9" in summary
    assert "found in 1 of 2 cell types explained by <b>hydrop</b> (twi), another cell type's activator in 1 of 6" \
           in summary
    # simulated complexity: 10x more complex, ranked first; the saturation depth of the cells' true
    # complexities, and recovered from each cell's reads and unique fragments
    platforms = pd.read_csv(tables / "truth_platforms.csv").set_index("platform")
    for platform in TRUTH:
        true = saturation_depth(_cell_complexity(platform))
        assert platforms.loc[platform, "fragments_saturation_depth"] == pytest.approx(true, rel=1e-4)
        assert platforms.loc[platform, "measured_fragments_saturation_depth"] == pytest.approx(true, rel=0.01)
        assert true > 1.3 * np.median(_cell_complexity(platform)) * np.log(20)  # cells differ: above the median's
    assert platforms.loc["10x", "benchmark_rank"] == platforms.loc["10x", "expected_rank"] == 1
    assert "ranks <b>10x</b> first: as expected" in summary
    # the expectation: each platform's targets against the truth, averaged over the grid points
    expected = {p: np.mean([_surface(p, r, c) + 0.2 for r in (500.0, 1000.0, TRUTH[p][3]) for c in (200, TRUTH[p][4])])
                for p in TRUTH}
    assert platforms["data_fidelity"].to_dict() == pytest.approx(expected)
    assert ("the data of <b>10x</b> follow the true accessibility the most closely at every grid point (its targets' "
            f"Pearson with the truth {expected['10x']:.3f} over the grid, against {expected['hydrop']:.3f} for "
            "<b>hydrop</b>)") in summary
    assert platforms["data_best_at"].to_dict() == {"10x": 6, "hydrop": 0}
    grid = pd.read_csv(tables / "truth_grid.csv").set_index("level")
    assert len(grid) == 6 and (grid["targets_vs_truth:10x"] > grid["targets_vs_truth:hydrop"]).all()
    rows = pd.read_parquet(path.parent.parent / "evaluation.parquet")
    rows = rows[(rows["against"] == "truth") & (rows["metric"] == "pearson_mean") & (rows["cell_type"] == "all")]
    models = rows.pivot_table(index="level", columns="platform", values="value")  # mean over the folds
    assert grid["models_vs_truth:10x"].to_dict() == pytest.approx(models["10x"].to_dict())
    agree = int(((models["hydrop"] - models["10x"]) < 0).sum())  # the data favour 10x everywhere
    assert f"the models' difference has the sign of the data's at {agree} of 6 grid points" in path.read_text()
    # QC medians
    qc = pd.read_csv(tables / "qc.csv").set_index("platform")
    assert qc.loc["10x", "cells"] == 1500 and "median_tss_enrichment" in qc.columns
    assert qc.loc["10x", "median_complexity"] == pytest.approx(np.median(_cell_complexity("10x")), rel=0.01)
    # enhancers: 10x scores separate better
    enhancers = pd.read_csv(tables / "enhancers.csv")
    macro = enhancers[enhancers["cell_type"] == "macro"].set_index("platform")["auroc"]
    assert macro["10x"] >= macro["hydrop"]
    assert "Validated enhancers: <b>10x</b> macro auROC" in summary


def _paired(report: Path, against: str, b: str, a: str) -> np.ndarray:
    """Per (grid point, fold) differences b - a of the evaluation the report was given."""
    rows = pd.read_parquet(report.parent.parent / "evaluation.parquet")
    rows = rows[(rows["against"] == against) & (rows["metric"] == "pearson_mean") & (rows["cell_type"] == "all")]
    wide = rows.pivot_table(index=["level", "fold"], columns="platform", values="value")
    return (wide[b] - wide[a]).to_numpy()


def test_differences_are_tested_paired_and_said_in_words(full_report) -> None:
    """Platforms paired over the grid, named scenarios over folds; the verdicts follow the planted surface."""
    from scipy import stats

    tables = full_report.parent / "tables"
    comparisons = pd.read_csv(tables / "comparisons.csv")
    platforms = comparisons[comparisons["kind"] == "platforms over the grid"].iloc[0]
    differences = _paired(full_report, "full", "hydrop", "10x")
    assert (platforms["a"], platforms["b"], platforms["n"]) == ("10x", "hydrop", 12)
    assert len(differences) == 12  # 6 grid points x 2 folds
    assert platforms["mean_difference"] == pytest.approx(differences.mean(), rel=1e-5)
    # tested within the 6 grid points (rows come level by level, 2 folds each): residual SD on 12 - 6 df
    residual = differences.reshape(6, 2) - differences.reshape(6, 2).mean(axis=1, keepdims=True)
    sd = np.sqrt((residual**2).sum() / 6)
    assert (platforms["blocks"], platforms["sd_test"]) == (6, pytest.approx(sd, rel=1e-4))
    t = differences.mean() / (sd / np.sqrt(12))
    assert platforms["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), 6), rel=1e-4)
    assert platforms["verdict"] == "holds" and platforms["ci_high"] < 0
    named = comparisons[comparisons["kind"] == "named scenarios"].set_index("a")
    # hydrop-limited (200 cells) trails hydrop-all (1200) on the planted surface by far more than the noise
    assert named.loc["hydrop-limited", "b"] == "hydrop-all" and named.loc["hydrop-limited", "n_folds"] == 2
    assert named.loc["hydrop-limited", "mean_difference"] > 0.05
    text = full_report.read_text()
    assert "hydrop vs 10x: test Pearson (against full data)" in _summary(text)
    assert "Named scenarios: " in _summary(text) and "one-step differences hold" in _summary(text)
    truth = pd.read_csv(tables / "truth_comparisons.csv").iloc[0]
    assert truth["mean_difference"] == pytest.approx(_paired(full_report, "truth", "hydrop", "10x").mean(), rel=1e-5)
    assert re.search(r"ranks <b>10x</b> first: as expected \(hydrop &minus; 10x: -0\.\d{3}, 95% CI", text)
    by_scenario = text.split("<h3>Per scenario</h3>", 1)[1]
    assert "0.875" in by_scenario and "0.625 ± 0.177" in by_scenario


def test_a_ranking_against_the_data_is_flagged(settings, full_report, tmp_path: Path) -> None:
    """The truth section holds the benchmark to the data: where hydrop's data follow the truth
    more closely but its models rank second, it says the ranking is NOT as expected."""
    root = full_report.parent.parent
    inputs = ReportInputs(evaluation=root / "evaluation.parquet", truth=root / "truth",
                          truth_fidelity=_fidelity(tmp_path / "fidelity.tsv", swap=True))
    summary = _summary(write_report(settings, inputs, tmp_path / "out").read_text())
    assert "the data of <b>hydrop</b> follow the true accessibility the most closely" in summary
    assert "ranks <b>10x</b> first: NOT as expected" in summary


def test_data_better_on_each_side_set_no_expected_ranking(settings, full_report, tmp_path: Path) -> None:
    """Where each platform's data are the closer to the truth at some grid points (hydrop's at all
    cells, 10x's at 200), the simulation orders the platforms nowhere over the whole grid: the
    truth section expects no ranking and judges none."""
    root = full_report.parent.parent
    fidelity = pd.read_csv(_fidelity(tmp_path / "fidelity.tsv"), sep="\t")
    all_cells = fidelity["level"].str.endswith("cells-all")
    fidelity.loc[all_cells, "platform"] = fidelity.loc[all_cells, "platform"].map({"10x": "hydrop", "hydrop": "10x"})
    fidelity.to_csv(tmp_path / "fidelity.tsv", sep="\t", index=False)
    inputs = ReportInputs(evaluation=root / "evaluation.parquet", truth=root / "truth",
                          truth_fidelity=tmp_path / "fidelity.tsv")
    out = write_report(settings, inputs, tmp_path / "out")
    summary = _summary(out.read_text())
    assert ("the platforms' data are each the closer to the true accessibility at some grid points (<b>10x</b> "
            "at 3 of 6 and <b>hydrop</b> at 3 of 6): the simulation sets no ranking over the whole grid") in summary
    assert "as expected" not in summary
    platforms = pd.read_csv(out.parent / "tables" / "truth_platforms.csv").set_index("platform")
    assert platforms["expected_rank"].isna().all() and platforms["data_best_at"].to_dict() == {"10x": 3, "hydrop": 3}


def test_missing_inputs_give_notes_not_errors(settings, tmp_path: Path) -> None:
    inputs = ReportInputs(evaluation=tmp_path / "missing.parquet", qc={"10x": tmp_path / "nothing"})
    path = write_report(settings, inputs, tmp_path / "out")
    text = path.read_text()
    for section_id, heading in SECTIONS:
        assert f">{heading}</h2>" in text
        if section_id != "summary":
            body = text.split(f'<section id="{section_id}">', 1)[1].split("</section>", 1)[0]
            assert 'class="note"' in body, section_id
    assert "No evaluation table at" in text and "Not a simulated study" in text
    assert "data:image/png" not in text
    assert "No result to summarise yet." in text


def test_a_partial_study_reports_what_it_has(settings, tmp_path: Path) -> None:
    """QC of one platform only: its section is drawn, every other one says what is missing."""
    inputs = ReportInputs(evaluation=None, qc={"10x": _qc(tmp_path / "qc10x", "10x"), "hydrop": tmp_path / "none"},
                          tn5=tmp_path / "no-tn5", motifs=tmp_path / "no-motifs", enhancers={"10x": tmp_path / "no"},
                          truth=_truth(tmp_path / "truth"))
    path = write_report(settings, inputs, tmp_path / "out")
    text = path.read_text()
    assert text.count("data:image/png;base64,") == 2  # QC, and unique fragments against the simulated law
    qc = pd.read_csv(tmp_path / "out" / "tables" / "qc.csv")
    assert qc["platform"].tolist() == ["10x"]
    for note in ("hydrop: no <code>qc.tsv</code>", "No evaluation table was given", "No Tn5 bias tables in",
                 "No <code>motifs.tsv</code> in", "10x: no <code>per_cell_type.tsv</code>",
                 "No simulated Tn5 log-odds", "No motifs to compare with the planted activators"):
        assert note in text, note
    # the truth still stands beside what was measured (QC), ranks left empty
    truth = pd.read_csv(tmp_path / "out" / "tables" / "truth_platforms.csv").set_index("platform")
    assert truth["benchmark_rank"].isna().all() and truth.loc["10x", "measured_median_unique_fragments"] > 0


def test_an_unusable_evaluation_table_fails_the_report(settings, tmp_path: Path) -> None:
    """Issue 16: rows against the models' own targets only make the accuracy sections fail;
    by default the report fails, naming every failed section with its error, and writes no page."""
    table = pd.read_parquet(_evaluation(tmp_path / "all.parquet"))
    table[table["against"] == "own"].to_parquet(tmp_path / "own.parquet")
    with pytest.raises(AtlasbenchError) as caught:
        write_report(settings, ReportInputs(evaluation=tmp_path / "own.parquet"), tmp_path / "out")
    message = str(caught.value)
    assert message.startswith("5 report section(s) could not be drawn, so no report was written")
    for section_id in ("accuracy", "comparisons", "grid", "transfer", "cost"):
        assert f"\n  {section_id}: AtlasbenchError: evaluation table has no rows with metric 'pearson_mean' and " \
               "against 'full'" in message, section_id
    assert "\n  qc:" not in message and "\n  motifs:" not in message  # missing inputs are notes, not failures
    assert not (tmp_path / "out" / "report.html").exists()


def test_an_allowed_partial_report_notes_the_failed_sections(settings, tmp_path: Path, caplog) -> None:
    """With ``strict=False`` the failed sections say why they are empty, and a warning names them."""
    table = pd.read_parquet(_evaluation(tmp_path / "all.parquet"))
    table[table["against"] == "own"].to_parquet(tmp_path / "own.parquet")
    with caplog.at_level(logging.WARNING, logger="atlasbench.report.page"):
        path = write_report(settings, ReportInputs(evaluation=tmp_path / "own.parquet"), tmp_path / "out",
                            strict=False)
    text = path.read_text()
    for section_id in ("accuracy", "grid", "transfer", "cost"):
        body = text.split(f'<section id="{section_id}">', 1)[1].split("</section>", 1)[0]
        assert "could not be drawn: evaluation table has no rows with metric &#x27;pearson_mean&#x27; and " \
               "against &#x27;full&#x27;" in body, section_id
    assert "data:image/png" not in text
    assert "report written without section(s) accuracy, comparisons, grid, transfer, cost" in caplog.text


def test_the_report_knows_no_study_and_only_public_read_outs() -> None:
    """Issue 17: the report imports nothing of atlasbench.study or atlasbench.cli, and of the
    read-outs only public names (no ``cost._helper``)."""
    import ast

    import atlasbench.report

    readouts: set[str] = set()  # names bound to read-out modules in each file
    for path in sorted(Path(atlasbench.report.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text())
        readouts.clear()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
                if (node.module or "").startswith("atlasbench.readouts"):
                    private = [a.name for a in node.names if a.name.startswith("_")]
                    assert not private, f"{path.name} imports private read-out names {private}"
                    readouts.update(a.asname or a.name for a in node.names)
            else:
                continue
            for module in modules:
                assert not module.startswith(("atlasbench.study", "atlasbench.cli")), f"{path.name}: {module}"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in readouts
                    and node.attr.startswith("_")):
                raise AssertionError(f"{path.name} uses {node.value.id}.{node.attr}, a private read-out helper")


# ---------------------------------------------------------------------------------------
# In a real browser
# ---------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    """The headless Chromium binary, or None; on CI (``CI=true``) a missing one fails the test."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed on CI (apt-get install chromium): the report's browser test needs it")
    pytest.skip("chromium not found (apt-get install chromium, or set CI=true to make this a failure)")
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser, looked up before the report is built (a skip then costs nothing)."""
    return find_chromium()


def test_report_renders_in_headless_chromium(chromium, full_report, tmp_path: Path) -> None:
    """One Chromium run: a 1366x900 screenshot (not blank) and the DOM after ``load``, whose
    check line counts the images the browser decoded."""
    from matplotlib.image import imread

    shot = tmp_path / "report.png"
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1366,900",
               "--virtual-time-budget=5000", f"--screenshot={shot}", "--dump-dom", full_report.resolve().as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert shot.is_file(), result.stderr[-2000:]
    pixels = imread(shot)
    assert pixels.shape[:2] == (900, 1366)
    assert pixels[..., :3].std() > 0.05  # text, swatches and the summary box: not a blank page
    match = re.search(r'<p id="report-check">images: (\d+) loaded, (\d+) broken</p>', result.stdout)
    assert match, result.stdout[-500:] + result.stderr[-2000:]
    assert int(match.group(1)) == EXPECTED_IMAGES and int(match.group(2)) == 0


def test_qc_table_shows_the_usable_fraction(settings, tmp_path: Path) -> None:
    """Issue 16 item 3: a platform with sequenced_reads gets its usable fraction in the QC table."""
    folder = _qc(tmp_path / "qc10x", "10x")
    (folder / "sequencing.json").write_text(
        json.dumps({"platform": "10x", "sequenced_read_pairs": 400, "usable_read_pairs": 300, "usable_fraction": 0.75})
    )
    inputs = ReportInputs(evaluation=_evaluation(tmp_path / "evaluation.parquet"),
                          qc={"10x": folder, "hydrop": _qc(tmp_path / "qchydrop", "hydrop")},
                          tn5=tmp_path / "no-tn5", motifs=tmp_path / "no-motifs", enhancers={}, truth=None)
    text = write_report(settings, inputs, tmp_path / "out").read_text()
    qc = pd.read_csv(tmp_path / "out" / "tables" / "qc.csv").set_index("platform")
    assert qc.loc["10x", "usable_fraction"] == 0.75 and qc.loc["10x", "sequenced_read_pairs"] == 400
    assert np.isnan(qc.loc["hydrop", "usable_fraction"])  # no sequenced_reads: left empty
    assert "usable fraction (read pairs in cells&#x27; fragments per sequenced)" in text
    assert '<td class="num">0.750</td>' in text
    # the cost section charges 10x's sequenced reads: usable reads per cell / 0.75
    assert "Sequencing is charged per sequenced read" in text and "10x 0.750" in text
    cheapest = pd.read_csv(tmp_path / "out" / "tables" / "cheapest.csv").set_index("platform")
    best = cheapest.loc["10x"]
    assert best["sequenced_reads_per_cell"] == pytest.approx(best["reads_per_cell"] / 0.75, rel=1e-4)  # tables round
    sequenced = best["n_cells"] * best["reads_per_cell"] / 0.75
    assert best["sequencing_cost"] == pytest.approx(sequenced / 1e6 * 2.875, rel=1e-4)
    assert np.isnan(cheapest.loc["hydrop", "sequenced_reads_per_cell"])


def test_levels_in_sequenced_reads_are_labelled(settings, tmp_path: Path) -> None:
    """Issue 16 item 3: the report names the levels' unit; depths measured in usable read pairs
    get their sequenced equivalent (usable / the platform's usable fraction)."""
    qc = {}
    for platform, fraction in (("10x", 0.8), ("hydrop", 0.5)):
        folder = _qc(tmp_path / f"qc{platform}", platform)
        levels = pd.read_csv(folder / "levels.tsv", sep="\t", dtype={"reads_per_cell": str})
        levels.insert(3, "reads_unit", "sequenced read pairs")
        levels.to_csv(folder / "levels.tsv", sep="\t", index=False)
        (folder / "sequencing.json").write_text(json.dumps(
            {"platform": platform, "sequenced_read_pairs": 1000, "usable_read_pairs": round(1000 * fraction),
             "usable_fraction": fraction}))
        qc[platform] = folder
    inputs = ReportInputs(evaluation=_evaluation(tmp_path / "evaluation.parquet"), qc=qc,
                          tn5=tmp_path / "no-tn5", motifs=tmp_path / "no-motifs", enhancers={}, truth=None)
    text = write_report(settings, inputs, tmp_path / "out").read_text()
    levels = pd.read_csv(tmp_path / "out" / "tables" / "qc_levels.csv")
    assert set(levels["reads_unit"]) == {"sequenced read pairs"}
    saturation = pd.read_csv(tmp_path / "out" / "tables" / "saturation.csv").set_index("platform")
    assert "95% saturation depth (sequenced reads per cell)" in text
    depth = saturation.loc["hydrop", "saturation_depth"]
    pattern = rf"{depth:,.0f}( usable reads per cell)? \({depth / 0.5:,.0f} sequenced\) on <b>hydrop</b>"
    assert re.search(pattern, text), pattern


# ---------------------------------------------------------------------------------------
# Issue 15 item 4: the report never ranks what it cannot tell apart
# ---------------------------------------------------------------------------------------

RANKING_WORDS = ("ranks first", "ahead", "best")


def _ranking(means: dict[str, float], n_models: int = 1) -> pd.DataFrame:
    """The accuracy section's ranking input: one row per platform at full data, best first."""
    rows = [{"platform": p, "accuracy_mean": m, "accuracy_sd": np.nan if n_models == 1 else 0.01,
             "n_models": n_models} for p, m in means.items()]
    return pd.DataFrame(rows).sort_values("accuracy_mean", ascending=False, kind="stable").reset_index(drop=True)


def _pair(a: str, b: str, difference: float, holds: bool, **changes: object) -> dict[str, object]:
    """A platform comparison as platform_comparison gives it: 6 grid points of one test fold, SD 0.05."""
    row: dict[str, object] = {"a": a, "b": b, "n": 6, "n_folds": 6, "n_seeds": 1, "n_test_folds": 1,
                              "unit": "grid point", "mean_difference": difference, "sd_difference": 0.05,
                              "ci_low": difference - 0.038, "ci_high": difference + 0.034, "confidence": 0.95,
                              "p_holm": 0.0004 if holds else 0.2, "verdict": "holds" if holds else "within noise"}
    row.update(changes)
    return row


def test_a_difference_within_noise_is_not_ranked() -> None:
    """Two platforms 0.03 apart with paired SD 0.05 over 6 grid points: indistinguishable, with the MDD
    and the pairs (and folds) that would resolve 0.03, computed by hand."""
    from scipy import stats

    from atlasbench.report.comparisons import ranking_caption, ranking_sentence, ranking_tiers, tier_ranks

    ranking = _ranking({"hydrop": 0.490, "10x": 0.460})
    table = pd.DataFrame([_pair("10x", "hydrop", 0.03, False)])
    sentence = ranking_sentence(ranking, table, order=["10x", "hydrop"])
    for word in RANKING_WORDS:
        assert word not in sentence, word
    # MDD = (t[0.975, 5] + t[0.8, 5]) * SD / sqrt(n) = (2.570582 + 0.919544) * 0.05 / sqrt(6) = 0.0712
    mdd = (stats.t.ppf(0.975, 5) + stats.t.ppf(0.8, 5)) * 0.05 / np.sqrt(6)
    assert mdd == pytest.approx(0.071242, abs=1e-6)
    # pairs to resolve 0.03: the first n whose MDD is at most 0.03
    n = 2
    while (stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.8, n - 1)) * 0.05 / np.sqrt(n) > 0.03:
        n += 1
    assert n == 24  # 4 test folds of 6 grid points
    assert sentence == (
        "At full data, <b>10x</b> (test Pearson vs full data 0.460, one model each, so no SD) and <b>hydrop</b> "
        "(0.490) are indistinguishable at this study's power: paired difference (hydrop minus 10x) +0.030 "
        "(95% CI -0.008 to +0.064, p = 0.2, n = 6 pairs); the smallest difference it could detect (paired "
        f"t-test, 80% power at alpha 0.05) is {mdd:.3f}; resolving a difference of 0.030 would take about {n} "
        "pairs (this study has 6), i.e. about 4 test folds at this grid (it has 1)."
    )
    tiers = ranking_tiers(ranking, table, ["10x", "hydrop"])
    assert tiers == [["10x", "hydrop"]] and tier_ranks(ranking, tiers) == [1, 1]
    assert ranking_caption(tiers).startswith("The order is not resolved")


def test_a_clear_difference_is_ranked_with_its_evidence() -> None:
    from atlasbench.report.comparisons import ranking_caption, ranking_sentence, ranking_tiers, tier_ranks

    ranking = _ranking({"10x": 0.620, "hydrop": 0.530}, n_models=2)
    table = pd.DataFrame([_pair("10x", "hydrop", -0.09, True)])
    sentence = ranking_sentence(ranking, table, order=["10x", "hydrop"])
    assert sentence == (
        "At full data, <b>10x</b> ranks first: test Pearson vs full data 0.620 &plusmn; 0.010 (mean &plusmn; SD "
        "over 2 models), ahead of <b>hydrop</b> 0.530 &plusmn; 0.010; its lead holds over the grid: paired "
        "difference (10x minus hydrop) +0.090 (95% CI +0.056 to +0.128, p = 0.0004, n = 6 pairs)."
    )
    assert "indistinguishable" not in sentence
    tiers = ranking_tiers(ranking, table)
    assert tiers == [["10x"], ["hydrop"]] and tier_ranks(ranking, tiers) == [1, 2]
    assert ranking_caption(tiers).startswith("The order is resolved")


def test_three_platforms_rank_only_the_resolved_pairs() -> None:
    from atlasbench.report.comparisons import ranking_sentence, ranking_tiers, tier_ranks

    ranking = _ranking({"10x": 0.62, "hydrop": 0.53, "s3": 0.52})
    order = ["10x", "hydrop", "s3"]
    # 10x resolved above both; hydrop and s3 not told apart: 10x ranks first, the two others share rank 2
    top = pd.DataFrame([_pair("10x", "hydrop", -0.09, True), _pair("10x", "s3", -0.10, True),
                        _pair("hydrop", "s3", -0.01, False)])
    sentence = ranking_sentence(ranking, top, order=order)
    assert sentence.startswith("At full data, <b>10x</b> ranks first: test Pearson vs full data 0.620 (one model "
                               "each, so no SD), ahead of <b>hydrop</b> 0.530 and <b>s3</b> 0.520; its lead holds "
                               "over the grid: paired difference (10x minus hydrop) +0.090")
    assert "(10x minus s3) +0.100" in sentence
    assert ". <b>hydrop</b> and <b>s3</b> are indistinguishable at this study's power: paired difference " \
           "(s3 minus hydrop) -0.010" in sentence
    assert "resolving a difference of 0.010 would take about" in sentence
    assert tier_ranks(ranking, ranking_tiers(ranking, top, order)) == [1, 2, 2]
    # only one pair resolved (10x above s3): nothing can be cut, so no platform ranks first
    one = pd.DataFrame([_pair("10x", "hydrop", -0.09, False), _pair("10x", "s3", -0.10, True),
                        _pair("hydrop", "s3", -0.01, False)])
    sentence = ranking_sentence(ranking, one, order=order)
    assert "ranks first" not in sentence and "rank above" not in sentence
    assert sentence.startswith("At full data, <b>10x</b> (test Pearson vs full data 0.620, one model each, so no "
                               "SD), <b>hydrop</b> (0.530) and <b>s3</b> (0.520) cannot all be told apart at this "
                               "study's power, so they are not ranked: 10x and hydrop: paired difference")
    assert "10x and s3: paired difference (10x minus s3) +0.100" in sentence and "that holds" in sentence
    assert tier_ranks(ranking, ranking_tiers(ranking, one, order)) == [1, 1, 1]
    # the top two not told apart, both resolved above the third
    bottom = pd.DataFrame([_pair("10x", "hydrop", -0.09, False), _pair("10x", "s3", -0.10, True),
                           _pair("hydrop", "s3", -0.01, True)])
    sentence = ranking_sentence(_ranking({"10x": 0.62, "hydrop": 0.61, "s3": 0.52}), bottom, order=order)
    assert "ranks first" not in sentence
    assert "are indistinguishable at this study's power" in sentence
    assert "<b>10x</b> and <b>hydrop</b> rank above <b>s3</b> (0.520), which holds over the grid" in sentence


def test_a_holding_difference_against_the_full_data_means_is_said_so() -> None:
    """The demo's case: 10x ahead over the grid (holds), hydrop a little higher at full
    data: not ranked, and the summary says why rather than that they cannot be told apart."""
    from atlasbench.report.comparisons import ranking_sentence, ranking_tiers, tier_ranks

    ranking = _ranking({"hydrop": 0.882, "10x": 0.880})
    pairs = pd.DataFrame([_pair("10x", "hydrop", -0.015, True)])
    sentence = ranking_sentence(ranking, pairs, order=["10x", "hydrop"])
    assert tier_ranks(ranking, ranking_tiers(ranking, pairs, ["10x", "hydrop"])) == [1, 1]
    assert "ranks first" not in sentence and "told apart" not in sentence
    assert "are not ranked: their difference over the grid holds, but their means at full data go the other way: " \
           "paired difference (10x minus hydrop) +0.015" in sentence
    assert "10x is ahead over the grid, and that holds" in sentence


def test_one_model_each_and_no_pairs_cannot_be_judged() -> None:
    from atlasbench.report.comparisons import ranking_caption, ranking_sentence, ranking_tiers, tier_ranks

    ranking = _ranking({"hydrop": 0.490, "10x": 0.483})
    reason = "hydrop vs 10x: 1 fold(s) with values for both, a comparison needs at least 2"
    sentence = ranking_sentence(ranking, None, order=["10x", "hydrop"], reason=reason)
    for word in RANKING_WORDS:
        assert word not in sentence, word
    assert sentence.startswith("At full data, the order of <b>10x</b> (test Pearson vs full data 0.483, one "
                               "model each, so no SD) and <b>hydrop</b> (0.490) cannot be judged")
    assert "Training at least 2 test folds would make it judgeable" in sentence
    assert ranking_tiers(ranking, None) is None and tier_ranks(ranking, None) == [1, 1]
    assert ranking_caption(None, reason).startswith("The order cannot be judged")


def test_the_report_does_not_rank_platforms_within_noise(settings, tmp_path: Path) -> None:
    """End to end: hydrop's models as accurate as 10x's (+0.012 and -0.008 by turns): the summary, the
    ranking table, its caption and the truth section rank neither."""
    table = pd.read_parquet(_evaluation(tmp_path / "all.parquet"))
    tenx = table[table["platform"] == "10x"].reset_index(drop=True)
    hydrop = tenx.assign(platform="hydrop", value=tenx["value"] + np.where(tenx["fold"] == 0, 0.012, -0.008))
    hydrop.loc[hydrop["against"] == "platform:hydrop", "against"] = "platform:10x"
    pd.concat([tenx, hydrop], ignore_index=True).to_parquet(tmp_path / "even.parquet")
    inputs = ReportInputs(evaluation=tmp_path / "even.parquet", tn5=tmp_path / "no-tn5", motifs=tmp_path / "no",
                          enhancers={}, truth=_truth(tmp_path / "truth"),
                          truth_fidelity=_fidelity(tmp_path / "fidelity.tsv"))
    text = write_report(settings, inputs, tmp_path / "out").read_text()
    summary = _summary(text)
    assert "ranks first" not in summary and "ahead of" not in summary
    assert "<b>10x</b> (test Pearson vs full data" in summary
    assert "are indistinguishable at this study's power: paired difference (hydrop minus 10x) +0.002" in summary
    assert "i.e. about" in summary and "test folds at this grid (it has 2)" in summary
    tables = tmp_path / "out" / "tables"
    comparisons = pd.read_csv(tables / "comparisons.csv").iloc[0]
    assert comparisons["verdict"] == "within noise" and comparisons["n"] == 12 and comparisons["n_test_folds"] == 2
    assert comparisons["minimum_detectable_difference"] > abs(comparisons["mean_difference"])
    assert comparisons["folds_needed"] == np.ceil(comparisons["pairs_needed"] / 6)
    assert pd.read_csv(tables / "ranking.csv")["rank"].tolist() == [1, 1]
    accuracy = text.split('<section id="accuracy">', 1)[1].split("</section>", 1)[0]
    assert "The order is not resolved" in accuracy
    assert "cannot tell <b>10x</b> and <b>hydrop</b> apart: they are indistinguishable" in summary
    # the cost comparison says that the cells and reads each platform needs are not told apart
    assert re.search(r"hydrop reaches Pearson 0\.\d+ with .* than 10x .*; but the accuracies of hydrop and 10x "
                     r"are indistinguishable at this study&#x27;s power, so the difference in cells and reads per "
                     r"cell each needs is within noise\.", summary)
    assert pd.read_csv(tables / "truth_platforms.csv")["benchmark_rank"].tolist() == [1, 1]


def test_a_saturation_depth_below_the_levels_is_not_placed() -> None:
    """The demo's case: accuracy already at 95% of its plateau at the shallowest depth on both
    platforms: the summary gives that bound, not the extrapolated depths, and does not compare them;
    a depth within the levels is placed, one beyond them called an extrapolation."""
    from atlasbench.readouts.cost import SaturationFit
    from atlasbench.report.qc_accuracy import saturation_sentence

    def fit(k_reads: float, reads: tuple[float, float]) -> SaturationFit:
        return SaturationFit(0.92, k_reads, 8.0, 0.85, 7, ("reads", "cells"), reads, (500.0, 8000.0))

    below = {"10x": fit(1.66, (78.2, 406.6)), "hydrop": fit(1.60, (64.6, 334.8))}
    sentence = saturation_sentence(below, {"10x": 0.8, "hydrop": 0.65})
    assert sentence == (
        "Accuracy is within 5% of its fitted plateau already at the shallowest depth measured on <b>10x</b> "
        "(78 usable reads per cell) and <b>hydrop</b> (65): the saturation depth lies below the grid, where "
        "this study cannot place it or compare it between platforms; only levels shallower than that could."
    )
    assert "32" not in sentence and "30" not in sentence  # the fitted 19 K, an extrapolation, is not said
    placed = {"10x": fit(10.0, (78.2, 406.6)), "hydrop": fit(30.0, (64.6, 334.8))}
    assert saturation_sentence(placed, {"10x": 0.5, "hydrop": 0.65}) == (
        "Accuracy reaches 95% of its fitted plateau at about 190 usable reads per cell (380 sequenced) on "
        "<b>10x</b> and 570 (877 sequenced) on <b>hydrop</b> (beyond the deepest level measured on <b>hydrop</b>: "
        "an extrapolation, sequence deeper to confirm it)."
    )


def test_models_saturating_before_their_data_are_said_to_limit_accuracy(settings, tmp_path: Path) -> None:
    """End to end, the demo's case: the models' accuracy already flat from the shallowest depth (95% of
    its plateau at 190 reads per cell, under the 500 measured) while the data's Pearson with the truth
    keeps rising: the summary places neither models' depth and says the models limit accuracy."""
    table = pd.read_parquet(_evaluation(tmp_path / "all.parquet"))
    r = table["reads_per_cell"]
    k_reads = table["platform"].map({p: truth[1] for p, truth in TRUTH.items()})
    table["value"] *= (r / (r + 10.0)) / (r / (r + k_reads))  # the planted depth factor, with K_reads 10
    table.to_parquet(tmp_path / "flat.parquet")
    inputs = ReportInputs(evaluation=tmp_path / "flat.parquet", tn5=tmp_path / "no-tn5", motifs=tmp_path / "no",
                          enhancers={}, truth=_truth(tmp_path / "truth"),
                          truth_fidelity=_fidelity(tmp_path / "fidelity.tsv"))
    summary = _summary(write_report(settings, inputs, tmp_path / "out").read_text())
    platforms = pd.read_csv(tmp_path / "out" / "tables" / "truth_platforms.csv").set_index("platform")
    assert (platforms["accuracy_saturation_position"] == "below").all()
    # the extrapolated depths (187 and 67 for the planted 190) are decided by noise: hence only the bound is said
    assert (platforms["fitted_accuracy_saturation_depth"] < platforms["shallowest_reads_per_cell"]).all()
    assert platforms["data_saturation_position"].isin(["within", "beyond"]).all()
    assert (platforms["fitted_data_saturation_depth"] > 2 * platforms["shallowest_reads_per_cell"]).all()
    assert re.search(r"Accuracy is within 5% of its fitted plateau already at the shallowest depth measured on "
                     r"<b>10x</b> \(50\d usable reads per cell\) and <b>hydrop</b> \(50\d\)", summary)
    assert re.search(r"the models' accuracy is within 5% of its plateau already at the shallowest depth measured on "
                     r"<b>10x</b> \(50\d usable reads per cell\) and <b>hydrop</b> \(50\d\), while their data's "
                     r"Pearson with the truth goes on rising \(95% of its plateau at about [\d,]+ and [\d,]+\): "
                     r"at this study's size the models, not the depth, limit accuracy", summary)
