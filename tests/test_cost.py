"""Tests of the cost model (atlasbench.readouts.cost) and the ``atlasbench cost`` command."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from atlasbench.cli import main
from atlasbench.errors import AtlasbenchError
from atlasbench.readouts.cost import (
    CHEAPEST_COLUMNS,
    DESIGN_COLUMNS,
    SATURATION_COLUMNS,
    SaturationFit,
    aggregate_designs,
    cheapest_designs,
    compare_costs,
    cost_report,
    design_cost,
    design_costs,
    fit_saturation,
    saturation_sentences,
)

COSTS = {"10x": (0.471, 2.875), "hydrop": (0.049, 2.875)}  # De Rop et al. 2023 (PROTOCOL.md)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def surface(plateau: float, k_reads: float, k_cells: float, reads, cells):
    return plateau * reads / (reads + k_reads) * cells / (cells + k_cells)


def grid(reads=(2000, 4000, 8000, 16000, 36000, 72000, 150000), cells=(1000, 2500, 5000, 10000, 20000)):
    r, c = np.meshgrid(np.asarray(reads, float), np.asarray(cells, float))
    return r.ravel(), c.ravel()


# -- costs -----------------------------------------------------------------------------


def test_design_cost_by_hand():
    # 10,000 cells x 20,000 reads = 200 M reads: 4,710 library + 200 x 2.875 = 575 sequencing
    assert design_cost(10_000, 20_000, 0.471, 2.875) == pytest.approx(5285.0)
    got = design_cost(np.array([10_000, 16_000]), np.array([20_000, 36_000]), 0.049, 2.875)
    # 490 + 575; 784 + 576 M reads x 2.875 = 1,656
    np.testing.assert_allclose(got, [1065.0, 2440.0])


def test_design_costs_splits_library_and_sequencing():
    designs = pd.DataFrame({"platform": ["10x", "hydrop", "combined"], "n_cells": [10_000, 16_000, 5_000],
                            "reads_per_cell": [36_000, 36_000, 10_000], "extra": [1, 2, 3]})
    out = design_costs(designs, COSTS)
    np.testing.assert_allclose(out["library_cost"][:2], [4710.0, 784.0])
    np.testing.assert_allclose(out["sequencing_cost"][:2], [1035.0, 1656.0])
    np.testing.assert_allclose(out["cost"][:2], [5745.0, 2440.0])
    assert out["extra"].tolist() == [1, 2, 3]
    assert math.isnan(out["cost"][2])  # a platform without figures is not priced
    # library alone 6.0x (PROTOCOL.md: 0.471 / (1.6 x 0.049)); with sequencing about 2.4x
    assert out["library_cost"][0] / out["library_cost"][1] == pytest.approx(6.0, abs=0.01)
    assert out["cost"][0] / out["cost"][1] == pytest.approx(2.35, abs=0.01)


def test_design_costs_bad_figures():
    designs = pd.DataFrame({"platform": ["a"], "n_cells": [10], "reads_per_cell": [10]})
    with pytest.raises(AtlasbenchError, match="per_cell must be a finite number >= 0"):
        design_costs(designs, {"a": (-1.0, 2.0)})
    with pytest.raises(AtlasbenchError, match=r"lacks column.*reads_per_cell"):
        design_costs(designs.drop(columns="reads_per_cell"), {"a": (1.0, 2.0)})


# -- saturation ------------------------------------------------------------------------


def test_fit_recovers_known_surface_exactly():
    r, c = grid()
    fit = fit_saturation(r, c, surface(0.62, 1900, 2000, r, c))
    assert fit.axes == ("reads", "cells")
    assert fit.plateau == pytest.approx(0.62, rel=1e-4)
    assert fit.K_reads == pytest.approx(1900, rel=1e-3)
    assert fit.saturation_depth == pytest.approx(19 * 1900, rel=1e-3)  # 36,100 (mouse-like)
    assert fit.saturation_cells == pytest.approx(19 * 2000, rel=1e-3)
    assert fit.r2 == pytest.approx(1.0)
    # 95% of the plateau along reads at the saturation depth, whatever the cells
    ratio = fit.predict(fit.saturation_depth, 5000) / fit.predict(1e12, 5000)
    assert ratio == pytest.approx(0.95, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_recovers_plateau_and_depth_with_noise(seed):
    r, c = grid()
    y = surface(0.60, 12_000 / 19, 1500, r, c)  # fly-like: saturation at 12k reads per cell
    y = y + np.random.default_rng(seed).normal(0, 0.005, y.size)
    fit = fit_saturation(r, c, y)
    assert fit.plateau == pytest.approx(0.60, rel=0.02)
    assert fit.saturation_depth == pytest.approx(12_000, rel=0.10)


def test_single_cell_level_fits_reads_only(caplog):
    r = np.array([2000, 4000, 8000, 16000, 36000, 72000.0])
    c = np.full(r.size, 5000.0) * np.linspace(1, 1.02, r.size)  # achieved cells wobble a little
    y = surface(0.62, 1900, 2000, r, c)
    with caplog.at_level("INFO", logger="atlasbench.readouts.cost"):
        fit = fit_saturation(r, c, y)
    assert fit.axes == ("reads",)
    assert "fitting the reads axis alone" in caplog.text
    assert math.isnan(fit.K_cells) and math.isnan(fit.saturation_cells)
    assert fit.saturation_depth == pytest.approx(19 * 1900, rel=0.10)
    # the plateau is the plateau at that cell number
    assert fit.plateau == pytest.approx(0.62 * 5050 / 7050, rel=0.02)
    assert np.isfinite(fit.predict(10_000)).all()


@pytest.mark.parametrize(
    ("reads", "position"),
    [((20_000, 36_000, 72_000, 150_000), "below"), ((2000, 8000, 36_000), "within"), ((2000, 4000, 8000), "beyond")],
)
def test_saturation_depth_placed_against_the_levels(reads, position, caplog):
    # 95% of the plateau at 12,000 reads per cell: under the shallowest level, among the levels, or
    # over the deepest; only the middle one is measured, the others are said as bounds
    r, c = grid(reads=reads)
    with caplog.at_level("WARNING", logger="atlasbench.readouts.cost"):
        fit = fit_saturation(r, c, surface(0.6, 12_000 / 19, 1000, r, c))
    assert fit.saturation_depth == pytest.approx(12_000, rel=0.01)
    assert fit.depth_position == position and fit.cells_position == "within"
    assert fit.as_row()["depth_position"] == position
    assert ("below the smallest measured (20,000)" in caplog.text) == (position == "below")
    assert ("beyond the largest measured (8,000)" in caplog.text) == (position == "beyond")
    (sentence,) = saturation_sentences({"a": fit}, "Pearson")
    expected = {
        "below": "95% of it is reached below the fewest measured, 20,000 usable reads per cell (already saturated",
        "within": "95% of it is reached at about 12,000 usable reads per cell and",
        "beyond": "at about 12,000 usable reads per cell, beyond the most measured (8,000: an extrapolation)",
    }[position]
    assert expected in sentence and "at about 19,000 cells" in sentence


def test_single_depth_level_fits_cells_only():
    c = np.array([500, 1000, 2000, 4000, 8000.0])
    fit = fit_saturation(np.full(c.size, 36_000.0), c, surface(0.6, 1900, 1000, 36_000, c))
    assert fit.axes == ("cells",)
    assert fit.saturation_cells == pytest.approx(19_000, rel=0.01)
    assert math.isnan(fit.saturation_depth)


def test_fit_too_few_points_is_a_clear_error():
    with pytest.raises(AtlasbenchError, match=r"2 point\(s\) for 3 parameters"):
        fit_saturation([1000, 4000], [100, 400], [0.3, 0.5])
    with pytest.raises(AtlasbenchError, match=r"the 1 point\(s\) all have the same"):
        fit_saturation([1000, 4000], [100, 100], [0.3, math.nan])
    with pytest.raises(AtlasbenchError, match="same reads per cell and cells"):
        fit_saturation([1000, 1000, 1000], [100, 100, 100], [0.3, 0.31, 0.29])
    with pytest.raises(AtlasbenchError, match="same length"):
        fit_saturation([1000, 2000], [100], [0.3, 0.4])


# -- cheapest designs and sentences ----------------------------------------------------


def hand_table() -> pd.DataFrame:
    rows = [  # platform, reads per cell, cells, accuracy
        ("10x", 36_000, 10_000, 0.611),
        ("10x", 12_000, 10_000, 0.560),
        ("10x", 36_000, 5_000, 0.590),
        ("hydrop", 36_000, 10_000, 0.534),
        ("hydrop", 36_000, 16_000, 0.602),
        ("hydrop", 36_000, 20_000, 0.610),
        ("hydrop", 12_000, 16_000, 0.570),
    ]
    table = pd.DataFrame(rows, columns=["platform", "reads_per_cell", "n_cells", "accuracy"])
    return design_costs(table, COSTS)


def test_cheapest_measured_design_by_hand():
    cheapest = cheapest_designs(hand_table(), 0.59)
    assert list(cheapest.columns) == list(CHEAPEST_COLUMNS)
    by = cheapest.set_index("platform")
    # 10x: 5,000 x 36k = 2,355 + 517.5 = 2,872.5 beats 10,000 x 36k = 5,745
    assert by.loc["10x", "n_cells"] == 5_000 and by.loc["10x", "cost"] == pytest.approx(2872.5)
    # hydrop: 16,000 x 36k (2,440) reaches 0.59; 12k reads (0.570) and 10,000 cells (0.534) do not
    assert by.loc["hydrop", "n_cells"] == 16_000 and by.loc["hydrop", "cost"] == pytest.approx(2440.0)
    assert set(by["source"]) == {"measured"}


def test_cheapest_unreachable_target():
    cheapest = cheapest_designs(hand_table(), 0.605)
    by = cheapest.set_index("platform")
    assert by.loc["10x", "reached"] and by.loc["10x", "cost"] == pytest.approx(5745.0)
    assert by.loc["hydrop", "reached"]  # 20,000 cells: 0.610
    unreachable = cheapest_designs(hand_table(), 0.7)
    assert not unreachable["reached"].any()
    assert unreachable["cost"].isna().all() and unreachable["n_cells"].isna().all()
    sentences = compare_costs(unreachable, "10x")
    assert sentences == ["hydrop does not reach Pearson 0.70 within its measured designs."]
    # a platform without cost figures (e.g. combined) is said to be unpriced, not unreachable
    table = pd.concat([hand_table(), design_costs(pd.DataFrame(
        {"platform": ["atlas"], "reads_per_cell": [36_000], "n_cells": [30_000], "accuracy": [0.65]}), COSTS)])
    with_atlas = cheapest_designs(table, 0.6).set_index("platform")
    assert with_atlas.loc["atlas", "source"] == "unpriced" and not with_atlas.loc["atlas", "reached"]
    sentences = compare_costs(with_atlas.reset_index(), "10x")
    assert sentences[-1] == "atlas is not compared with 10x: atlas has no cost figures."


def test_cheapest_along_fit_stays_within_measured_range():
    # a known surface; the fitted optimum lies between grid points and must not leave the grid
    r, c = grid(reads=(4000, 12000, 36000), cells=(2000, 8000, 20000))
    table = pd.DataFrame({"platform": "p", "reads_per_cell": r, "n_cells": c,
                          "accuracy": surface(0.6, 1000, 2000, r, c)})
    table = design_costs(table, {"p": (0.1, 3.0)})
    fit = SaturationFit(0.6, 1000.0, 2000.0, 1.0, len(r), ("reads", "cells"))
    target = 0.45
    measured = cheapest_designs(table, target).iloc[0]
    fitted = cheapest_designs(table, target, fits={"p": fit}).iloc[0]
    assert fitted["source"] == "fitted" and fitted["cost"] < measured["cost"]
    assert fitted["accuracy"] >= target
    assert 4000 <= fitted["reads_per_cell"] <= 36000 and 2000 <= fitted["n_cells"] <= 20000
    assert fitted["cost"] == pytest.approx(design_cost(fitted["n_cells"], fitted["reads_per_cell"], 0.1, 3.0))
    # beyond the measured range the fit is not used: a target only reached there is unreachable
    assert not cheapest_designs(table, 0.58, fits={"p": fit}).iloc[0]["reached"]


def test_compare_costs_sentence_numbers_by_hand():
    cheapest = cheapest_designs(hand_table(), 0.59)
    (sentence,) = compare_costs(cheapest, "10x")
    # hydrop 16,000 cells vs 10x 5,000: 220% more; cost 2,872.5 / 2,440 = 1.18 -> 1.2x lower;
    # library 2,355 / 784 = 3.0x lower
    assert sentence == ("hydrop reaches Pearson 0.59 with 220% more cells than 10x (16,000 vs 5,000 cells; "
                        "36,000 vs 36,000 usable reads per cell) at 1.2x lower cost ($2,440 vs $2,872; "
                        "library alone 3.0x lower).")
    # the published claim: 60% more cells, about 2.4x cheaper with sequencing (6.0x library alone)
    at_target = cheapest_designs(hand_table(), 0.60)
    (sentence,) = compare_costs(at_target, "10x")
    assert "with 60% more cells than 10x (16,000 vs 10,000 cells" in sentence
    assert "at 2.4x lower cost ($2,440 vs $5,745; library alone 6.0x lower)" in sentence
    (reverse,) = compare_costs(at_target, "hydrop")
    assert reverse.startswith("10x reaches Pearson 0.60 with 38% fewer cells than hydrop")
    assert "at 2.4x higher cost" in reverse
    with pytest.raises(AtlasbenchError, match="reference platform 'bd' is not among"):
        compare_costs(at_target, "bd")


# -- the report and the command --------------------------------------------------------


def evaluation_table(seed: int = 0) -> pd.DataFrame:
    """A tidy evaluation table from known surfaces: 2 folds per design, plus distractor rows."""
    rng = np.random.default_rng(seed)
    truth = {"10x": (0.62, 600.0, 800.0), "hydrop": (0.61, 1500.0, 2500.0)}
    rows = []
    for platform, (plateau, k_r, k_c) in truth.items():
        for reads in (2000, 6000, 12000, 36000):
            for cells in (1000, 3000, 8000):
                level = f"reads-{reads}_cells-{cells}"
                for fold in (0, 1):
                    value = surface(plateau, k_r, k_c, reads, cells) + rng.normal(0, 0.003)
                    base = dict(platform=platform, level=level, reads_per_cell=float(reads), n_cells=cells,
                                fold_scheme="chromosome", fold=fold, seed=7, model="dilated_cnn")
                    rows.append({**base, "against": "full", "cell_type": "all", "metric": "pearson_mean",
                                 "value": value})
                    rows.append({**base, "against": "own", "cell_type": "all", "metric": "pearson_mean",
                                 "value": value + 0.05})
                    rows.append({**base, "against": "full", "cell_type": "T1", "metric": "pearson",
                                 "value": 0.1})
    return pd.DataFrame(rows)


def test_aggregate_designs_mean_and_sd():
    table = evaluation_table()
    designs = aggregate_designs(table)
    assert len(designs) == 24 and (designs["n_models"] == 2).all()
    one = table[(table["level"] == "reads-2000_cells-1000") & (table["platform"] == "10x")
                & (table["against"] == "full") & (table["metric"] == "pearson_mean")]["value"]
    row = designs[(designs["platform"] == "10x") & (designs["level"] == "reads-2000_cells-1000")].iloc[0]
    assert row["accuracy_mean"] == pytest.approx(one.mean()) and row["accuracy_sd"] == pytest.approx(one.std())
    own = aggregate_designs(table, against="own")
    assert own["accuracy_mean"].sub(designs["accuracy_mean"]).to_numpy() == pytest.approx(0.05)
    with pytest.raises(AtlasbenchError, match="no rows with metric 'nope'"):
        aggregate_designs(table, metric="nope")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict[str, Path]:
    return cost_report(evaluation_table(), COSTS, out=tmp_path_factory.mktemp("cost"), reference_platform="10x")


def test_cost_report_writes_every_file(report):
    paths = report
    assert set(paths) == {"designs", "saturation", "cheapest", "summary", "saturation_png", "saturation_pdf",
                          "cost_frontier_png", "cost_frontier_pdf"}
    for path in paths.values():
        assert path.is_file() and path.stat().st_size > 0
    for key in ("saturation_png", "cost_frontier_png"):
        assert paths[key].read_bytes()[:8] == PNG_MAGIC and paths[key].stat().st_size > 5000
    designs = pd.read_csv(paths["designs"], sep="\t")
    assert list(designs.columns) == list(DESIGN_COLUMNS) and len(designs) == 24
    row = designs[(designs["platform"] == "10x") & (designs["level"] == "reads-36000_cells-8000")].iloc[0]
    assert row["cost"] == pytest.approx(8000 * 0.471 + 8000 * 0.036 * 2.875)
    saturation = pd.read_csv(paths["saturation"], sep="\t").set_index("platform")
    assert list(saturation.reset_index().columns) == list(SATURATION_COLUMNS)
    assert saturation.loc["10x", "saturation_depth"] == pytest.approx(19 * 600, rel=0.15)
    assert saturation.loc["hydrop", "plateau"] == pytest.approx(0.61, rel=0.03)
    cheapest = pd.read_csv(paths["cheapest"], sep="\t")
    assert cheapest["reached"].all()
    assert (cheapest["metric"] == "pearson_mean").all() and (cheapest["against"] == "full").all()
    summary = paths["summary"].read_text()
    assert "reference platform: 10x" in summary and "hydrop reaches Pearson" in summary
    assert "lower cost" in summary and "library" in summary


def test_cost_report_explicit_target_and_missing_reference(tmp_path):
    paths = cost_report(evaluation_table(), COSTS, target=0.3, out=tmp_path, figures=False)
    assert set(paths) == {"designs", "saturation", "cheapest", "summary"}
    cheapest = pd.read_csv(paths["cheapest"], sep="\t")
    assert (cheapest["target"] == 0.3).all() and (cheapest["accuracy"] >= 0.3).all()
    assert "target: Pearson 0.30" in paths["summary"].read_text()
    with pytest.raises(AtlasbenchError, match="reference platform 'bd' has no designs"):
        cost_report(evaluation_table(), COSTS, out=tmp_path, reference_platform="bd", figures=False)


STUDY = """\
name: cost-test
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
evaluation:
  reference_platform: 10x
"""


def test_cli_cost(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text(textwrap.dedent(STUDY))
    evaluation = tmp_path / "evaluation.tsv"
    evaluation_table().to_csv(evaluation, sep="\t", index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["cost", str(evaluation), "--study", str(study), "--target", "0.4",
                                       "--out", str(out)], prog_name="atlasbench")
    assert result.exit_code == 0, result.output
    assert "target: Pearson 0.40" in result.output
    assert "hydrop reaches Pearson 0.40" in result.output and "than 10x" in result.output
    for name in ("designs.tsv", "saturation.tsv", "cheapest.tsv", "summary.txt", "saturation.png",
                 "cost_frontier.pdf"):
        assert (out / name).stat().st_size > 0
    bad = CliRunner().invoke(main, ["cost", str(evaluation), "--study", str(study), "--metric", "nope",
                                    "--out", str(out)], prog_name="atlasbench")
    assert bad.exit_code == 2 and "no rows with metric 'nope'" in bad.output


def test_design_cost_table_from_real_paths(tmp_path: Path):
    # a parquet evaluation table is read as well as a TSV
    from atlasbench.readouts.cost import read_evaluation

    path = tmp_path / "evaluation.parquet"
    evaluation_table().to_parquet(path, index=False)
    assert len(read_evaluation(path)) == len(evaluation_table())
    with pytest.raises(AtlasbenchError, match="not found"):
        read_evaluation(tmp_path / "missing.parquet")


# -- sequenced reads (issue 16 item 3) -------------------------------------------------


def test_design_costs_charge_sequenced_reads():
    designs = pd.DataFrame({"platform": ["10x", "hydrop"], "n_cells": [1_000, 1_000], "reads_per_cell": [20_000] * 2})
    out = design_costs(designs, COSTS, usable_fraction={"10x": 0.8}).set_index("platform")
    # 10x: 20,000 usable reads per cell / 0.8 = 25,000 sequenced; 25 M reads x 2.875 = 71.875
    assert out.loc["10x", "sequenced_reads_per_cell"] == pytest.approx(25_000)
    assert out.loc["10x", "sequencing_cost"] == pytest.approx(71.875)
    assert out.loc["10x", "cost"] == pytest.approx(471 + 71.875)
    assert out.loc["10x", "usable_fraction"] == 0.8 and out.loc["10x", "charged_reads"] == "sequenced read pairs"
    # hydrop has no usable fraction: its 20 M usable read pairs are charged, 57.50
    assert out.loc["hydrop", "sequencing_cost"] == pytest.approx(57.5)
    assert math.isnan(out.loc["hydrop", "sequenced_reads_per_cell"])
    assert out.loc["hydrop", "charged_reads"] == "usable read pairs"
    plain = design_costs(designs, COSTS)
    np.testing.assert_allclose(plain["sequencing_cost"], [57.5, 57.5])
    assert (plain["charged_reads"] == "usable read pairs").all() and plain["usable_fraction"].isna().all()
    for bad in (0, -0.5, "x", math.nan):
        with pytest.raises(AtlasbenchError, match="usable fraction of platform '10x'"):
            design_costs(designs, COSTS, usable_fraction={"10x": bad})


def test_cheapest_charges_sequenced_reads():
    r, c = grid(reads=(4000, 12000, 36000), cells=(2000, 8000, 20000))
    table = pd.DataFrame({"platform": "p", "reads_per_cell": r, "n_cells": c,
                          "accuracy": surface(0.6, 1000, 2000, r, c)})
    fraction = {"p": 0.5}
    table = design_costs(table, {"p": (0.1, 3.0)}, fraction)
    fit = SaturationFit(0.6, 1000.0, 2000.0, 1.0, len(r), ("reads", "cells"))
    # measured: 2,000 cells never reach 0.3 (0.292 at 36,000 reads); 8,000 cells x 4,000 usable reads do
    # (0.6 x 0.8 x 0.8 = 0.384): 8,000 sequenced reads per cell, 800 library + 8,000 x 0.008 M x 3.0 = 192
    measured = cheapest_designs(table, 0.3, usable_fraction=fraction).iloc[0]
    assert list(cheapest_designs(table, 0.3).columns) == list(CHEAPEST_COLUMNS)
    assert (measured["n_cells"], measured["reads_per_cell"]) == (8000, 4000)
    assert measured["cost"] == pytest.approx(992.0) and measured["sequenced_reads_per_cell"] == 8000
    # along the fit, grid points are charged twice their usable reads, whether the figures are given or
    # recovered from the priced table
    for costs in ({"p": (0.1, 3.0)}, None):
        fitted = cheapest_designs(table, 0.45, fits={"p": fit}, costs=costs, usable_fraction=fraction).iloc[0]
        assert fitted["source"] == "fitted"
        reads, cells = fitted["reads_per_cell"], fitted["n_cells"]
        assert fitted["cost"] == pytest.approx(design_cost(cells, 2 * reads, 0.1, 3.0))
        assert fitted["sequencing_cost"] == pytest.approx(cells * 2 * reads / 1e6 * 3.0)
        assert fitted["sequenced_reads_per_cell"] == pytest.approx(2 * reads)


def test_cost_report_with_usable_fraction(tmp_path):
    paths = cost_report(evaluation_table(), COSTS, target=0.3, out=tmp_path, figures=False,
                        usable_fraction={"hydrop": 0.5})
    designs = pd.read_csv(paths["designs"], sep="\t")
    assert list(designs.columns) == list(DESIGN_COLUMNS)
    hydrop = designs[designs["platform"] == "hydrop"]
    assert (hydrop["charged_reads"] == "sequenced read pairs").all()
    np.testing.assert_allclose(hydrop["sequenced_reads_per_cell"], 2 * hydrop["reads_per_cell"])
    sequenced = hydrop["n_cells"] * 2 * hydrop["reads_per_cell"]
    np.testing.assert_allclose(hydrop["sequencing_cost"], sequenced / 1e6 * 2.875)
    assert (designs.loc[designs["platform"] == "10x", "charged_reads"] == "usable read pairs").all()
    cheapest = pd.read_csv(paths["cheapest"], sep="\t").set_index("platform")
    hydrop_best = cheapest.loc["hydrop"]
    assert hydrop_best["sequenced_reads_per_cell"] == pytest.approx(2 * hydrop_best["reads_per_cell"])
    assert math.isnan(cheapest.loc["10x", "sequenced_reads_per_cell"])
