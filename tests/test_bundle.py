"""Model bundles: export, load and predict round trips, damaged and mismatched bundles, the
``atlasbench export`` and ``atlasbench predict BUNDLE`` commands."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from test_predict import CELL_TYPES, DM6, LENGTH, PARAMS, random_sequence

from atlasbench.cli import main
from atlasbench.errors import AtlasbenchError
from atlasbench.io.genome import open_genome, prepare_fasta
from atlasbench.models.architectures import build_model, model_params
from atlasbench.models.bundle import (
    FORMAT_VERSION,
    export_bundle,
    load_bundle,
    predict_array,
    predict_bundle,
)
from atlasbench.models.predict import predict, predict_bed, predict_fasta, predict_sequences
from atlasbench.models.trained import load_trained, save_trained


def make_model(folder: Path, seed: int, fold: int, **changes) -> Path:
    """A model folder of a (seeded, untrained) tiny model, described like a study's."""
    spec = {
        "architecture": "dilated_cnn", "preset": "tiny", "params": model_params("dilated_cnn", "tiny", PARAMS),
        "input_length": LENGTH, "cell_types": CELL_TYPES, "normalization": "mean_cpm", "window": 1000,
        "genome": "dm6", "platform": "10x", "level": "reads-all_cells-all", "fold_scheme": "chromosome_block",
        "test_fold": fold, "validation_fold": fold + 1, "seed": 7,
    }
    spec.update(changes)
    torch.manual_seed(seed)
    module = build_model("dilated_cnn", len(spec["cell_types"]), spec["input_length"], "tiny", PARAMS)
    return save_trained(folder, module, spec)


@pytest.fixture(scope="module")
def genome(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_fasta(DM6, tmp_path_factory.mktemp("genome") / "dm6.fa.gz")


@pytest.fixture(scope="module")
def sizes(genome: Path) -> dict[str, int]:
    with open_genome(genome) as fasta:
        return dict(fasta.sizes)


@pytest.fixture(scope="module")
def folds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("models")
    return [make_model(base / f"fold-{f}", seed=f + 1, fold=f) for f in (0, 1)]


@pytest.fixture(scope="module")
def single(folds: list[Path], sizes: dict[str, int], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_bundle(folds[0], tmp_path_factory.mktemp("bundle") / "single.zip", chrom_sizes=sizes)


@pytest.fixture(scope="module")
def ensemble(folds: list[Path], sizes: dict[str, int], tmp_path_factory: pytest.TempPathFactory) -> Path:
    metrics = pd.DataFrame({
        "platform": "10x", "level": "reads-all_cells-all", "reads_per_cell": 1000.0, "n_cells": 50,
        "fold_scheme": "chromosome_block", "fold": [0, 0, 1, 1, 1], "seed": 7, "model": "dilated_cnn",
        "against": ["own", "full", "own", "full", "own"], "cell_type": ["all", "all", "all", "all", "glia"],
        "metric": "pearson_mean", "value": [0.5, 0.4, 0.6, 0.55, 0.7],
    })
    return export_bundle(folds, tmp_path_factory.mktemp("bundle") / "ensemble.zip", metrics=metrics,
                         chrom_sizes=sizes)


@pytest.fixture
def fasta(tmp_path: Path) -> Path:
    """Records shorter than, as long as and longer than the input."""
    path = tmp_path / "seqs.fa"
    path.write_text(f">short\n{random_sequence(120, 1)}\n>exact\n{random_sequence(LENGTH, 2)}\n"
                    f">long\n{random_sequence(LENGTH + 33, 3)}\n")
    return path


@pytest.fixture
def bed(tmp_path: Path) -> Path:
    path = tmp_path / "regions.bed"
    path.write_text("2L\t1000\t1500\ta\nchrX\t20000\t20100\tb\n4\t13300\t13481\tedge\n")
    return path


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="atlasbench")


def rewrite(bundle: Path, out: Path, **members: bytes | None) -> Path:
    """A copy of a bundle with members replaced (bytes) or left out (None)."""
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = members.get(name, src.read(name))
            if data is not None:
                dst.writestr(name, data)
    return out


# -- round trips --------------------------------------------------------------------------


def test_single_model_round_trip_gives_identical_predictions(single: Path, folds: list[Path], fasta: Path,
                                                             bed: Path, genome: Path) -> None:
    trained = load_trained(folds[0])
    bundle = load_bundle(single)
    assert len(bundle.models) == 1
    assert bundle.cell_types == CELL_TYPES and bundle.input_length == LENGTH and bundle.genome == "dm6"
    pd.testing.assert_frame_equal(predict_bundle(bundle, fasta, device="cpu"), predict_fasta(trained, fasta,
                                                                                             device="cpu"))
    pd.testing.assert_frame_equal(predict_bundle(single, bed, genome, device="cpu"),  # one call, from the file
                                  predict_bed(trained, bed, genome, device="cpu"))
    codes = np.random.default_rng(0).integers(0, 5, size=(4, LENGTH), dtype=np.uint8)
    expected = predict(trained.module, codes, device="cpu")
    np.testing.assert_array_equal(predict_array(bundle, codes, device="cpu"), expected)
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(codes).long(), 5)[..., :4].permute(0, 2, 1).float()
    np.testing.assert_array_equal(predict_array(bundle, one_hot, device="cpu"), expected)
    seqs = [random_sequence(80, 4), random_sequence(LENGTH + 5, 5)]
    table = predict_bundle(bundle, seqs, device="cpu")
    assert table["name"].tolist() == ["seq0", "seq1"] and table["length"].tolist() == [80, LENGTH + 5]
    np.testing.assert_array_equal(table[CELL_TYPES].to_numpy(), predict_sequences(trained, seqs, device="cpu"))


def test_bundle_is_one_self_describing_zip(ensemble: Path, folds: list[Path], sizes: dict[str, int]) -> None:
    with zipfile.ZipFile(ensemble) as archive:
        assert archive.namelist() == ["bundle.json", "model-0.safetensors", "model-1.safetensors"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        manifest = json.loads(archive.read("bundle.json"))
    assert manifest["format"] == "atlasbench-bundle" and manifest["format_version"] == FORMAT_VERSION
    spec = load_trained(folds[0]).spec
    for field in ("architecture", "preset", "params", "input_length", "cell_types", "normalization", "window",
                  "genome"):
        assert manifest[field] == spec[field], field
    assert manifest["chrom_sizes"] == sizes
    assert [m["fold"] for m in manifest["models"]] == [0, 1]
    assert all(m["seed"] == 7 and m["fold_scheme"] == "chromosome_block" and len(m["sha256"]) == 64
               for m in manifest["models"])
    # each model keeps its own fold's metric rows
    assert manifest["models"][0]["metrics"] == [
        {"against": "own", "cell_type": "all", "metric": "pearson_mean", "value": 0.5},
        {"against": "full", "cell_type": "all", "metric": "pearson_mean", "value": 0.4}]
    assert [r["value"] for r in manifest["models"][1]["metrics"]] == [0.6, 0.55, 0.7]
    assert load_bundle(ensemble).models[1].spec["metrics"][2]["cell_type"] == "glia"
    assert not list(ensemble.parent.glob(".*.tmp*"))  # written atomically, no temporary file left


def test_ensemble_predicts_the_mean_of_its_models(ensemble: Path, folds: list[Path], bed: Path, genome: Path,
                                                  fasta: Path) -> None:
    models = [load_trained(f) for f in folds]
    bundle = load_bundle(ensemble)
    got = predict_bundle(bundle, bed, genome, device="cpu")
    each = [predict_bed(m, bed, genome, device="cpu")[CELL_TYPES].to_numpy() for m in models]
    assert not np.allclose(each[0], each[1])
    np.testing.assert_allclose(got[CELL_TYPES].to_numpy(), (each[0] + each[1]) / 2, rtol=1e-6, atol=1e-7)
    codes = np.random.default_rng(1).integers(0, 4, size=(3, LENGTH), dtype=np.uint8)
    np.testing.assert_allclose(predict_array(bundle, codes, device="cpu"),
                               np.mean([predict(m.module, codes, device="cpu") for m in models], axis=0),
                               rtol=1e-6, atol=1e-7)
    # the same ensemble given as model folders predicts the same
    pd.testing.assert_frame_equal(predict_bundle(bundle, fasta, device="cpu"), predict_fasta(models, fasta,
                                                                                             device="cpu"))


# -- bundles that do not fit ----------------------------------------------------------------


def test_damaged_member_is_refused(single: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "flipped.zip"
    data = bytearray(single.read_bytes())
    with zipfile.ZipFile(single) as archive:
        info = archive.getinfo("model-0.safetensors")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # local header, then the data
    for at in range(start + info.file_size // 2, start + info.file_size // 2 + 8):
        data[at] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(AtlasbenchError, match=r"model-0\.safetensors is damaged") as info_:
        load_bundle(damaged)
    assert str(info_.value).startswith(str(damaged))
    # weights replaced with a valid zip entry (right CRC), but not the recorded weights
    other = rewrite(single, tmp_path / "swapped.zip", **{"model-0.safetensors": b"\0" * 64})
    with pytest.raises(AtlasbenchError, match=r"model-0\.safetensors is damaged: its sha256 is [0-9a-f]{64}, "
                                              r"bundle\.json records [0-9a-f]{64}"):
        load_bundle(other)


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_truncated_bundle_is_refused(single: Path, tmp_path: Path, keep: float) -> None:
    truncated = tmp_path / "truncated.zip"
    data = single.read_bytes()
    truncated.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(AtlasbenchError, match="not a readable model bundle: truncated or not a zip file") as info:
        load_bundle(truncated)
    assert str(info.value).startswith(str(truncated))


def test_not_a_bundle(tmp_path: Path, folds: list[Path]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(AtlasbenchError, match="truncated or not a zip file"):
        load_bundle(text)
    with pytest.raises(AtlasbenchError, match="model bundle not found"):
        load_bundle(tmp_path / "absent.zip")
    with pytest.raises(AtlasbenchError, match="not a model bundle file"):
        load_bundle(folds[0])
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "x")
    with pytest.raises(AtlasbenchError, match=r"bundle\.json is missing from the bundle"):
        load_bundle(other_zip)


def test_missing_member_and_unknown_version(ensemble: Path, tmp_path: Path) -> None:
    without = rewrite(ensemble, tmp_path / "without.zip", **{"model-1.safetensors": None})
    with pytest.raises(AtlasbenchError, match=r"model-1\.safetensors is missing from the bundle"):
        load_bundle(without)
    with zipfile.ZipFile(ensemble) as archive:
        manifest = json.loads(archive.read("bundle.json"))
    future = rewrite(ensemble, tmp_path / "future.zip",
                     **{"bundle.json": json.dumps({**manifest, "format_version": FORMAT_VERSION + 1}).encode()})
    with pytest.raises(AtlasbenchError, match=f"bundle format version {FORMAT_VERSION + 1}; this atlasbench .* "
                                              f"reads version {FORMAT_VERSION}: update atlasbench"):
        load_bundle(future)
    garbled = rewrite(ensemble, tmp_path / "garbled.zip", **{"bundle.json": b"{not json"})
    with pytest.raises(AtlasbenchError, match=r"bundle\.json is damaged"):
        load_bundle(garbled)


def test_wrong_input_length_is_refused(single: Path) -> None:
    bundle = load_bundle(single)
    codes = np.zeros((2, LENGTH - 1), dtype=np.uint8)
    message = f"{re.escape(str(single))}: the models take sequences of {LENGTH} bp, got {LENGTH - 1} bp"
    with pytest.raises(AtlasbenchError, match=message):
        predict_array(bundle, codes)
    with pytest.raises(AtlasbenchError, match=message):
        predict_bundle(bundle, np.zeros((2, 4, LENGTH - 1), dtype=np.float32))
    with pytest.raises(AtlasbenchError, match="expected one-hot sequences"):
        predict_array(bundle, np.zeros((2, 5, LENGTH), dtype=np.float32))


def test_bed_on_another_genome_is_refused(single: Path, genome: Path, tmp_path: Path) -> None:
    with open_genome(genome) as fasta:
        records = {name: fasta.fetch(name, 0, size) for name, size in fasta.sizes.items()}
    records["2L"] = records["2L"][:-1000]  # another assembly: same names, other sizes
    other = tmp_path / "other.fa"
    other.write_text("".join(f">{name}\n{seq}\n" for name, seq in records.items()))
    bed = tmp_path / "regions.bed"
    bed.write_text("chrX\t20000\t20100\nchr2L\t1000\t1500\n")
    with pytest.raises(AtlasbenchError, match=r"chromosome chr2L has [\d,]+ bp here but [\d,]+ bp in the genome "
                                              r"dm6 the models of .*single\.zip were trained on") as info:
        predict_bundle(single, bed, other)
    assert str(info.value).startswith(str(other))
    human = tmp_path / "human.bed"
    human.write_text("2L\t100\t200\nchr17\t100\t200\n")
    with pytest.raises(AtlasbenchError, match="chromosome chr17 is not in the genome dm6 the models of"):
        predict_bundle(single, human, genome)
    with pytest.raises(AtlasbenchError, match="needs the genome FASTA"):
        predict_bundle(single, human)


@pytest.mark.parametrize(("field", "value"), [("input_length", LENGTH + 50), ("cell_types", ["neuron", "glia"]),
                                              ("genome", "mm10"), ("normalization", "cpm")])
def test_export_refuses_models_that_disagree(folds: list[Path], tmp_path: Path, field: str, value) -> None:
    odd = make_model(tmp_path / "odd", seed=3, fold=2, **{field: value})
    out = tmp_path / "mixed.zip"
    with pytest.raises(AtlasbenchError, match=f"cannot bundle models that disagree on {field}: .*fold-0 has "
                                              f"{re.escape(repr(load_trained(folds[0]).spec[field]))}, .*odd has "
                                              f"{re.escape(repr(value))}"):
        export_bundle([folds[0], odd], out)
    assert not out.exists()
    with pytest.raises(AtlasbenchError, match="no model to export"):
        export_bundle([], out)


# -- command line -------------------------------------------------------------------------


def test_cli_predict_with_a_bundle(ensemble: Path, fasta: Path, bed: Path, genome: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred.tsv"
    result = run("predict", ensemble, fasta, "--out", out)
    assert result.exit_code == 0, result.output
    expected = predict_bundle(ensemble, fasta)
    np.testing.assert_allclose(pd.read_csv(out, sep="\t")[CELL_TYPES].to_numpy(), expected[CELL_TYPES].to_numpy(),
                               rtol=1e-5)
    result = run("predict", ensemble, bed, "--genome", genome)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split("\t") == ["name", "chrom", "start", "end", *CELL_TYPES]
    assert "a BED input needs --genome" in run("predict", ensemble, bed).output
    broken = tmp_path / "broken.zip"
    broken.write_bytes(ensemble.read_bytes()[:1000])
    result = run("predict", broken, fasta)
    assert result.exit_code == 2
    assert f"error: {broken}: not a readable model bundle" in result.output and "Traceback" not in result.output


STUDY_SETTINGS = """\
grid:
  reads_per_cell: [all]
  cells: [all]
  min_cells_per_type: 2
  scenarios:
    - {name: few-cells, platform: 10x, cells: 100}
folds:
  scheme: chromosome_block
  k: 5
  test_folds: [0, 1]
model:
  preset: tiny
  input_length: 200
  params: {filters: 4, n_dil_layers: 1}
training:
  loss: cosine_mse_log
  batch_size: 64
  max_epochs: 1
  device: cpu
evaluation:
  motifs: null
  enhancers: null
  reference_platform: 10x
"""


@pytest.fixture(scope="module")
def study_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny simulated study, trained and evaluated (two test folds, one named scenario)."""
    from atlasbench.simulate.atlas import simulate_atlas
    from atlasbench.study.loader import load_study
    from atlasbench.study.run import run_study

    base = tmp_path_factory.mktemp("study")
    simulate_atlas(base, "small", seed=5)
    truth = pd.read_csv(base / "truth" / "regions.tsv", sep="\t")
    truth[["chrom", "start", "end", "name"]].to_csv(base / "regions.bed", sep="\t", header=False, index=False)
    text = (base / "study.yaml").read_text()
    text = re.sub(r"regions:\n  width: 500\n", "regions:\n  bed: regions.bed\n", text)
    text = re.sub(r"grid:.*?(?=truth:)", STUDY_SETTINGS, text, flags=re.S)
    path = base / "tiny.yaml"
    path.write_text(text)
    run_study(load_study(path), "local", until="evaluate", progress=False)
    return path


def test_cli_export_and_predict_a_study_model(study_file: Path, tmp_path: Path) -> None:
    from atlasbench.study.loader import load_study
    from atlasbench.study.records import read_record

    study = load_study(study_file)
    out = tmp_path / "10x-full.zip"
    result = run("export", study_file, "--platform", "10x", "--level", "reads-all_cells-all", "--out", out)
    assert result.exit_code == 0, result.output
    assert f"{out}: 10x reads-all_cells-all, every test fold" in result.output
    bundle = load_bundle(out)
    assert [m.spec["fold"] for m in bundle.models] == [0, 1]
    assert bundle.genome == "dm6-simulated" and bundle.input_length == 200
    with open_genome(study.genome.fasta) as fasta:
        assert bundle.chrom_sizes == dict(fasta.sizes)
    for model in bundle.models:
        rows = pd.DataFrame(model.spec["metrics"])
        assert {"own", "full", "platform:hydrop", "truth"} <= set(rows["against"])
        assert np.isfinite(rows.loc[(rows["metric"] == "pearson_mean") & (rows["against"] == "own"), "value"]).all()
    # the bundle predicts what the study's models predict
    folders = [study.output / read_record(study, f"train/10x/reads-all_cells-all/fold-{f}/seed-7")["outputs"][0]
               for f in (0, 1)]
    bed = tmp_path / "peaks.bed"
    pd.read_csv(study_file.parent / "regions.bed", sep="\t", header=None).head(20).to_csv(bed, sep="\t",
                                                                                          header=False, index=False)
    predicted = tmp_path / "pred.tsv"
    result = run("predict", out, bed, "--genome", study.genome.fasta, "--out", predicted)
    assert result.exit_code == 0, result.output
    expected = predict_bed([load_trained(f) for f in folders], bed, study.genome.fasta)
    cell_types = bundle.cell_types
    np.testing.assert_allclose(pd.read_csv(predicted, sep="\t")[cell_types].to_numpy(),
                               expected[cell_types].to_numpy(), rtol=1e-5, atol=1e-6)

    one = tmp_path / "fold1.zip"
    assert run("export", study_file, "--platform", "10x", "--level", "reads-all_cells-all", "--fold", 1,
               "--out", one).exit_code == 0
    assert [m.spec["fold"] for m in load_bundle(one).models] == [1]
    named = tmp_path / "few.zip"
    result = run("export", study_file, "--scenario", "few-cells", "--out", named)
    assert result.exit_code == 0, result.output
    assert "10x reads-all_cells-100" in result.output
    assert {m.spec["level"] for m in load_bundle(named).models} == {"reads-all_cells-100"}


def test_cli_export_errors(study_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.zip"
    result = run("export", study_file, "--platform", "10x", "--level", "reads-9_cells-all", "--out", out)
    assert result.exit_code == 2
    assert ("not trained: train/10x/reads-9_cells-all/fold-0/seed-7, train/10x/reads-9_cells-all/fold-1/seed-7; "
            "trained levels of 10x: reads-all_cells-100, reads-all_cells-all") in result.output
    result = run("export", study_file, "--platform", "10x", "--level", "reads-all_cells-all", "--fold", 3,
                 "--out", out)
    assert "3 is not a test fold; test folds: [0, 1]" in result.output
    assert "no platform 'snare'" in run("export", study_file, "--platform", "snare", "--level", "reads-all_cells-all",
                                        "--out", out).output
    assert "no scenario 'nope'" in run("export", study_file, "--scenario", "nope", "--out", out).output
    assert "give --level or --scenario" in run("export", study_file, "--platform", "10x", "--out", out).output
    assert "--level needs --platform" in run("export", study_file, "--level", "reads-all_cells-all",
                                             "--out", out).output
    assert not out.exists()
