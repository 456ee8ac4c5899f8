"""Model stages on a simulated study: sequences, training jobs, evaluation, caching."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from atlasbench.data.targets import read_targets
from atlasbench.models.trained import load_trained
from atlasbench.readouts.evaluate import TIDY_COLUMNS
from atlasbench.simulate.atlas import simulate_atlas
from atlasbench.study.loader import load_study
from atlasbench.study.run import evaluation_table, run_study

# Three jobs: 10x at full depth and at 20 reads per cell, HyDrop at full depth.
GRID = """\
  full_grid: false
  min_cells_per_type: 2
  scenarios:
    - {name: full, platform: 10x, cells: all}
    - {name: shallow, platform: 10x, cells: all, reads_per_cell: 20}
    - {name: hydrop, platform: hydrop, cells: all}
"""

MODEL = """
model:
  preset: tiny
  input_length: 300
  params: {n_dil_layers: 5}
training:
  loss: cosine_mse_log
  learning_rate: 0.003
  batch_size: 16
  max_epochs: 15
  early_stopping_patience: 15
  device: cpu
"""


@pytest.fixture(scope="module")
def study_run(tmp_path_factory):
    """A small simulated atlas, its truth regions as the study's regions (no peak calling),
    a grid of full data and a very shallow level (20 reads per cell), one test fold."""
    out = tmp_path_factory.mktemp("model-stages")
    study_file = simulate_atlas(out, "small", seed=3, n_regions=1500)
    truth = pd.read_csv(out / "truth" / "regions.tsv", sep="\t")
    truth[["chrom", "start", "end", "name"]].to_csv(out / "regions.bed", sep="\t", header=False, index=False)
    text = study_file.read_text()
    text = re.sub(r"regions:\n  width: 500\n", "regions:\n  bed: regions.bed\n", text)
    text = re.sub(r"normalization: \w+", "normalization: mean_cpm", text)
    text = re.sub(r"  reads_per_cell: .*\n  cells: .*\n", GRID, text)
    text = re.sub(r"model:.*?(?=evaluation:)", MODEL.lstrip("\n"), text, flags=re.S)
    study_file.write_text(text)
    study = load_study(study_file)
    run_study(study, "local", until="evaluate", progress=False)
    return study, evaluation_table(study)


def test_every_job_is_trained_and_evaluated_in_tidy_rows(study_run) -> None:
    study, table = study_run
    assert tuple(table.columns) == TIDY_COLUMNS
    jobs = table[["platform", "level", "fold", "seed"]].drop_duplicates()
    assert len(jobs) == 3  # 3 scenarios x 1 fold x 1 seed
    assert set(table["fold_scheme"]) == {"chromosome_block"}
    for platform in ("10x", "hydrop"):
        other = "hydrop" if platform == "10x" else "10x"
        against = set(table.loc[table["platform"] == platform, "against"])
        assert against == {"own", "full", f"platform:{other}", "truth"}
    models = sorted((study.output / "models").glob("*/*/fold-0_seed-7-*"))
    assert len(models) == 3
    trained = load_trained(models[0])
    predictions = read_targets(models[0] / "test_predictions.h5ad")
    assert set(predictions.var["fold"]) == {0}
    assert list(predictions.obs_names) == trained.cell_types
    assert set(trained.regions["split"]) == {"train", "val", "test"}
    assert (trained.regions.loc[trained.regions["split"] == "test", "fold"] == 0).all()
    assert (trained.regions.loc[trained.regions["split"] == "val", "fold"] == 1).all()


def test_shallow_data_gives_a_worse_model_against_the_full_data(study_run) -> None:
    """The model trained on 20 reads per cell predicts the full-depth targets worse than
    the model trained on the full data."""
    _, table = study_run
    score = table[(table["against"] == "full") & (table["metric"] == "pearson_mean")]
    score = score.set_index(["platform", "level"])["value"]
    print(score.to_string())
    assert score[("10x", "reads-all_cells-all")] > 0.3
    assert score[("10x", "reads-20_cells-all")] < score[("10x", "reads-all_cells-all")] - 0.1


def test_rerun_reuses_finished_models(study_run, monkeypatch) -> None:
    study, table = study_run
    import atlasbench.study.model_stages as model_stages

    def fail(*args, **kwargs):
        raise AssertionError("a finished model was trained again")

    monkeypatch.setattr(model_stages, "train", fail)
    summary = run_study(study, "local", until="evaluate", progress=False)
    assert summary.outcomes == [] and "evaluate" in summary.skipped
    again = evaluation_table(study)
    pd.testing.assert_frame_equal(again, table)
    assert np.isfinite(table["value"]).any()



def test_jobs_of_one_fold_and_seed_share_initial_weights_and_batches(study_run) -> None:
    """Issue 15 item 3, common random numbers: every job of one (fold, seed) starts from the
    same weights and trains on the same regions (so sees the same batches); another seed
    starts elsewhere."""
    import json

    import torch

    from atlasbench.models.train import initial_model, weights_digest

    study, _ = study_run
    folders = sorted((study.output / "models").glob("*/*/fold-0_seed-7-*"))
    specs = [json.loads((folder / "model.json").read_text()) for folder in folders]
    assert len(specs) == 3 and {s["platform"] for s in specs} == {"10x", "hydrop"}
    assert len({s["initial_weights"] for s in specs}) == 1
    assert len({s["training_regions"] for s in specs}) == 1
    m = study.model
    n_outputs = len(specs[0]["cell_types"])
    same = initial_model(m.architecture, n_outputs, m.input_length, m.preset, m.params, seed=7)
    other = initial_model(m.architecture, n_outputs, m.input_length, m.preset, m.params, seed=8)
    assert weights_digest(same) == specs[0]["initial_weights"] != weights_digest(other)
    torch.manual_seed(123)  # the global generator's state before does not matter
    assert weights_digest(initial_model(m.architecture, n_outputs, m.input_length, m.preset, m.params, 7)) == (
        specs[0]["initial_weights"]
    )
