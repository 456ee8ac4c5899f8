"""Validated-enhancer scoring: metrics by hand, table checks, an ensemble, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from atlasbench.errors import AtlasbenchError
from atlasbench.models.architectures import build_model, model_params
from atlasbench.models.trained import load_trained, save_trained
from atlasbench.readouts.enhancers import (
    average_precision,
    enhancer_metrics,
    read_enhancers,
    roc_auc,
    score_enhancers,
    write_enhancer_report,
)


def test_roc_auc_and_average_precision_by_hand() -> None:
    labels = np.array([1, 0, 1, 0, 0], dtype=bool)
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.1])
    # pairs (positive, negative) ordered right: 0.9 beats all 3; 0.7 beats 2 of 3 -> 5/6
    assert roc_auc(labels, scores) == pytest.approx(5 / 6)
    # positives at ranks 1 and 3: precision 1/1 and 2/3
    assert average_precision(labels, scores) == pytest.approx((1 + 2 / 3) / 2)
    assert roc_auc(labels, np.ones(5)) == pytest.approx(0.5)  # ties count half
    assert np.isnan(roc_auc(np.zeros(3, bool), np.arange(3)))


def _table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "enhancers.tsv"
    path.write_text(text)
    return path


def test_metrics_rank_the_target_on_specificity_normalised_scores(tmp_path: Path) -> None:
    table = read_enhancers(_table(tmp_path, "name\tsequence\ttarget_cell_type\tlabel\n"
                                  "e1\tACGT\ta\t1\ne2\tACGT\tb\t1\ne3\tACGT\ta,b\t1\nn1\tACGT\t\t0\n"))
    scores = pd.DataFrame({"a": [8.0, 1.0, 2.0, 1.0], "b": [2.0, 3.0, 4.0, 1.0], "c": [0.0, 6.0, 2.0, 1.0]},
                          index=["e1", "e2", "e3", "n1"])
    per_type, per_enhancer = enhancer_metrics(scores, table)
    ranks = per_enhancer.set_index("name")
    assert ranks.loc["e1", "rank"] == 1 and ranks.loc["e1", "correct"]
    assert ranks.loc["e2", "rank"] == 2 and ranks.loc["e2", "top"] == "c" and not ranks.loc["e2", "correct"]
    assert ranks.loc["e3", "correct"]  # b is one of its targets
    assert "n1" not in ranks.index
    a = per_type.set_index("cell_type").loc["a"]
    # normalised a: e1 .8, e2 .1, e3 .25, n1 1/3; positives e1, e3 vs e2, n1 -> 3 of 4 pairs
    assert a["auroc"] == pytest.approx(3 / 4)
    assert a["n_positive"] == 2
    assert per_type.set_index("cell_type").loc["c", "n_positive"] == 0
    macro = per_type.set_index("cell_type").loc["macro", "auroc"]
    assert macro == pytest.approx(per_type.set_index("cell_type").loc[["a", "b"], "auroc"].mean())


@pytest.mark.parametrize(("text", "message"), [
    ("name\tsequence\tlabel\nx\tACGT\t1\n", "missing column"),
    ("name\tsequence\ttarget_cell_type\tlabel\nx\tACGT\ta\tyes\n", ":2: column 'label' must be 1 or 0"),
    ("name\tsequence\ttarget_cell_type\tlabel\nx\tACGT\t\t1\n", ":2: an enhancer with label 1 needs"),
    ("name\tchrom\tstart\tend\ttarget_cell_type\tlabel\nx\t2L\t50\t10\ta\t1\n", ":2: start must be below end"),
])
def test_bad_enhancer_tables_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = _table(tmp_path, text)
    with pytest.raises(AtlasbenchError, match=message) as info:
        read_enhancers(path)
    assert str(path) in str(info.value)


def _model(folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    params = {"filters": 8, "n_dil_layers": 3}
    module = build_model("dilated_cnn", 3, 60, "tiny", params)
    spec = {"architecture": "dilated_cnn", "preset": "tiny", "params": model_params("dilated_cnn", "tiny", params),
            "input_length": 60, "cell_types": ["a", "b", "c"]}
    return save_trained(folder, module, spec)


def test_ensemble_scores_are_the_mean_of_its_models_and_the_cli_writes_the_report(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from atlasbench.cli import main

    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in (40, 60, 150, 60)]
    path = _table(tmp_path, "name\tsequence\ttarget_cell_type\tlabel\n" + "".join(
        f"s{i}\t{s}\t{t}\t{lab}\n" for i, (s, t, lab) in enumerate(zip(seqs, ["a", "b", "a", ""], [1, 1, 1, 0]))))
    table = read_enhancers(path)
    models = [load_trained(_model(tmp_path / f"m{i}", i)) for i in range(2)]
    ensemble = score_enhancers(models, table, None)
    single = [score_enhancers(m, table, None) for m in models]
    mean = (single[0].to_numpy() + single[1].to_numpy()) / 2
    short = [0, 1, 3]  # one window each: the ensemble is the mean of its models
    np.testing.assert_allclose(ensemble.to_numpy()[short], mean[short], rtol=1e-6)
    # the 150 bp one: the ensemble's best window, at most the mean of each model's best
    assert (ensemble.to_numpy()[2] <= mean[2] + 1e-6).all()

    paths = write_enhancer_report(ensemble, table, tmp_path / "report")
    assert all(p.is_file() for p in paths.values())
    assert (tmp_path / "report" / "roc.pdf").stat().st_size > 0

    result = CliRunner().invoke(main, ["enhancers", str(tmp_path / "m0"), str(tmp_path / "m1"),
                                       "--enhancers", str(path), "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert "macro" in result.output
    written = pd.read_csv(tmp_path / "cli" / "scores.tsv", sep="\t", index_col=0)
    np.testing.assert_allclose(written.to_numpy(), ensemble.to_numpy(), rtol=1e-5)


def test_coordinates_need_a_genome(tmp_path: Path) -> None:
    path = _table(tmp_path, "name\tchrom\tstart\tend\ttarget_cell_type\tlabel\nx\t2L\t10\t50\ta\t1\n")
    model = load_trained(_model(tmp_path / "m", 0))
    with pytest.raises(AtlasbenchError, match="genome FASTA is needed"):
        score_enhancers(model, read_enhancers(path), None)


def test_ensemble_metrics_score_each_fold_model_and_their_mean(tmp_path: Path) -> None:
    """One row per fold model, one for the ensemble, each the published read-out of its scores."""
    from atlasbench.readouts.enhancers import _headline, ensemble_metrics

    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), 60)) for _ in range(6)]
    path = _table(tmp_path, "name\tsequence\ttarget_cell_type\tlabel\n" + "".join(
        f"s{i}\t{s}\t{t}\t{lab}\n" for i, (s, t, lab) in
        enumerate(zip(seqs, ["a", "b", "c", "a", "", ""], [1, 1, 1, 1, 0, 0]))))
    table = read_enhancers(path)
    models = [load_trained(_model(tmp_path / f"m{i}", i)) for i in range(3)]
    for fold, model in enumerate(models):
        model.spec.update(test_fold=fold, seed=7)
    metrics, ensemble = ensemble_metrics(models, table, None)
    assert metrics["fold"].tolist() == ["0", "1", "2", "ensemble"]
    np.testing.assert_allclose(ensemble.to_numpy(), score_enhancers(models, table, None).to_numpy(), rtol=1e-6)
    for row, scores in zip(metrics.itertuples(), [score_enhancers(m, table, None) for m in models] + [ensemble]):
        expected = _headline(scores, table)
        _per_type, per_enhancer = enhancer_metrics(scores, table)
        assert expected["accuracy"] == per_enhancer["correct"].mean() and expected["n_enhancers"] == 4
        assert (row.accuracy, row.macro_auroc, row.macro_auprc) == pytest.approx(
            (expected["accuracy"], expected["macro_auroc"], expected["macro_auprc"]))
