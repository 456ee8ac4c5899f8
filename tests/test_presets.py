"""Preset studies (atlasbench.study.presets, ``atlasbench init``): written, listed as unfilled by
``validate``, and valid, carrying the published protocol, once their files are given."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from atlasbench.cli import main
from atlasbench.errors import AtlasbenchError
from atlasbench.simulate.atlas import PRESETS as SIMULATED
from atlasbench.simulate.atlas import _study_yaml, simulate_atlas
from atlasbench.study.loader import load_study, parse_study
from atlasbench.study.presets import PRESETS, preset_text, unfilled_fields, write_preset
from atlasbench.study.problems import FILL_IN
from atlasbench.study.schema import Study
from atlasbench.study.validate import check_study

#: The fields each preset leaves to the user, in file order.
UNFILLED = {
    "hydrop-v2-mouse": ["genome.fasta", "platforms[0].fragments", "platforms[0].cells",
                        "platforms[0].sequenced_reads", "platforms[1].fragments", "platforms[1].cells",
                        "platforms[1].sequenced_reads"],
    "hydrop-v2-fly": ["genome.fasta", "platforms[0].fragments", "platforms[0].cells",
                      "platforms[1].fragments", "platforms[1].cells"],
    "demo": [],
}
PLACEHOLDER = re.compile(r'(?<=: )"FILL_IN:[^"]*"')
ATLAS = "atlasbench-demo"  # the folder the demo preset's paths point into


def run(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="atlasbench")


@pytest.fixture(scope="module")
def atlas(tmp_path_factory) -> Path:
    """A folder holding a small simulated atlas under ``atlasbench-demo/`` (seconds)."""
    root = tmp_path_factory.mktemp("presets")
    simulate_atlas(root / ATLAS, preset="small")
    return root


def fill_in(text: str, atlas: Path) -> str:
    """The preset text with each placeholder replaced by the simulated atlas's file
    (HyDrop platforms get the HyDrop-like data, the others the 10x-like)."""
    data = yaml.safe_load(text)
    values = []
    for field in unfilled_fields(data):
        if field == "genome.fasta":
            values.append(atlas / ATLAS / "genome" / "genome.fa.gz")
            continue
        i, kind = re.fullmatch(r"platforms\[(\d+)\]\.(fragments|cells|sequenced_reads)", field).groups()
        simulated = "hydrop" if "hydrop" in data["platforms"][int(i)]["name"] else "10x"
        file = {"fragments": "fragments.tsv.gz", "cells": "cells.tsv", "sequenced_reads": "summary.csv"}[kind]
        values.append(atlas / ATLAS / simulated / file)
    paths = iter(values)
    return PLACEHOLDER.sub(lambda _: str(next(paths)), text)


@pytest.fixture(scope="module")
def filled(atlas) -> dict[str, Study]:
    """Each preset written by ``init`` and filled in with the simulated atlas's files."""
    studies = {}
    for name in PRESETS:
        path = atlas / f"{name}.yaml"
        result = run("init", "--preset", name, path)
        assert result.exit_code == 0, result.output
        path.write_text(fill_in(path.read_text(), atlas))
        studies[name] = load_study(path)
    return studies


@pytest.mark.parametrize("name", list(PRESETS))
def test_init_writes_a_commented_study(tmp_path, name):
    path = tmp_path / "study.yaml"
    result = run("init", "--preset", name, path)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert text == preset_text(name)
    data = yaml.safe_load(text)
    assert {"name", "output", "genome", "platforms", "targets", "folds", "model", "training"} <= set(data)
    # a comment beside most settings, saying where its value comes from
    assert sum("#" in line for line in text.splitlines()) >= 30
    # init says what is left to fill in, with the hints
    fields = unfilled_fields(path)
    assert list(fields) == UNFILLED[name]
    for field, hint in fields.items():
        assert f"  {field}: {hint}" in result.output
    assert f"atlasbench validate {path}" in result.output


@pytest.mark.parametrize("name", [n for n in PRESETS if UNFILLED[n]])
def test_validate_lists_every_field_to_fill_in_at_once(tmp_path, name):
    path = write_preset(name, tmp_path / "study.yaml")
    text = path.read_text()
    values = [line for line in text.splitlines() if FILL_IN in line.split("#")[0]]
    assert len(values) == len(UNFILLED[name]) == len(PLACEHOLDER.findall(text))
    result = run("validate", path)
    assert result.exit_code == 2
    lines = result.output.splitlines()
    # one list, before any file is looked at: no "file not found", no other problem
    assert lines[0] == "error: fields still to fill in: " + ", ".join(UNFILLED[name])
    hints = unfilled_fields(path)
    assert lines[1:-1] == [f"  {field}: {hints[field]}" for field in UNFILLED[name]]
    assert all(hints.values())
    assert lines[-1] == f"  (in {path}: replace each FILL_IN with a value)"


def test_a_placeholder_left_among_filled_fields_is_still_named(atlas, tmp_path):
    text = preset_text("hydrop-v2-mouse")
    fasta = str(atlas / ATLAS / "genome" / "genome.fa.gz")
    path = tmp_path / "study.yaml"
    path.write_text(fill_in(text, atlas).replace(fasta, PLACEHOLDER.search(text).group(), 1))
    result = run("validate", path)
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == "error: fields still to fill in: genome.fasta"
    assert "also" not in result.output  # the other fields are fine


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_validates_once_its_files_are_given(atlas, filled, name):
    study = filled[name]
    assert check_study(study) == []
    result = run("validate", atlas / f"{name}.yaml")
    assert result.exit_code == 0, result.output
    assert "OK (2 platform(s)" in result.stdout


def test_mouse_preset_carries_the_published_protocol(filled):
    study = filled["hydrop-v2-mouse"]
    assert [p.name for p in study.platforms] == ["10x", "hydrop_v2"]
    assert [(p.cost.per_cell, p.cost.per_million_reads) for p in study.platforms] == [(0.471, 2.875), (0.049, 2.875)]
    # the published depth levels count sequenced reads (FASTQ downsampled with seqtk)
    assert study.grid.reads_unit == "sequenced" and all(p.sequenced_reads is not None for p in study.platforms)
    calling = study.regions.peak_calling
    assert study.regions.width == 500 and study.regions.bed is None
    assert (calling.input_format, calling.shift, calling.extsize, calling.keep_dup, calling.qvalue) == (
        "BEDPE", 73, 146, "all", 0.05)
    t = study.targets
    assert (t.window, t.normalization, t.peak_height_top_k_percent, t.specificity_gini_std) == (
        1000, "mean_cpm", 0.03, 1.0)
    assert (study.folds.scheme, study.folds.k, study.folds.test_folds, study.folds.validation) == (
        "chromosome_block", 10, "all", "same")
    assert (study.model.architecture, study.model.preset, study.model.input_length) == ("dilated_cnn", "paper", 2114)
    tr = study.training
    assert (tr.loss, tr.learning_rate, tr.batch_size, tr.max_epochs) == ("cosine_mse_log", 1e-3, 512, 60)
    assert (tr.optimizer, tr.weight_decay) == ("adam", 0.0)
    assert (tr.lr_plateau_patience, tr.lr_plateau_factor, tr.early_stopping_patience) == (3, 0.25, 6)
    assert (tr.max_shift, tr.reverse_complement, tr.warmup_epochs) == (3, True, 0)
    assert tr.finetune is not None and (tr.finetune.learning_rate, tr.finetune.batch_size) == (1e-4, 128)
    assert study.grid.seeds == [7] and not study.grid.full_grid
    scenarios = {s.name: (s.platform, s.cells, s.reads_per_cell) for s in study.grid.scenarios}
    for platform in ("10x", "hydrop_v2"):
        assert scenarios[f"{platform}-all"] == (platform, "all", "all")
        assert scenarios[f"{platform}-all-36k"] == (platform, "all", 36000)
        assert scenarios[f"{platform}-limited"] == (platform, "matched", "all")
        assert scenarios[f"{platform}-limited-36k"] == (platform, "matched", 36000)
    for extra in (25, 50, 75):
        assert scenarios[f"hydrop_v2-limited-plus{extra}"] == ("hydrop_v2", f"matched+{extra}%", "all")
    assert len(scenarios) == 11
    assert study.evaluation.reference_platform == "10x"
    assert study.evaluation.motifs is not None and study.evaluation.motifs.max_seqlets == 20000
    assert study.executor.kind == "local"
    assert study.executor.slurm_resources("train").gpus == 1


def test_fly_preset_carries_the_published_protocol(filled):
    study = filled["hydrop-v2-fly"]
    assert [p.name for p in study.platforms] == ["hydrop_v2", "10x"]
    assert (study.folds.scheme, study.folds.k) == ("random", 11)
    assert (study.model.architecture, study.model.preset, study.model.input_length) == ("deeptopic_cnn", "paper", 500)
    assert study.target_window == 500 and study.training.finetune is None
    scenarios = {s.name: (s.platform, s.cells, s.reads_per_cell) for s in study.grid.scenarios}
    assert scenarios == {
        "hydrop_v2-all": ("hydrop_v2", "all", "all"), "hydrop_v2-all-12k": ("hydrop_v2", "all", 12000),
        "10x-all": ("10x", "all", "all"), "10x-all-12k": ("10x", "all", 12000),
    }
    assert study.evaluation.motifs is not None and study.evaluation.motifs.jaspar_group == "insects"


def test_demo_preset_is_the_study_atlasbench_demo_runs(filled, atlas):
    # the study `atlasbench simulate --out atlasbench-demo --preset demo` writes, read from
    # inside that folder: the same study, so either run reuses the other's artefacts
    simulated = parse_study(yaml.safe_load(_study_yaml("demo", SIMULATED["demo"], 0)), atlas / ATLAS,
                            check_files=False)
    assert filled["demo"].to_dict() == simulated.to_dict()


def test_init_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("name: mine\n")
    result = run("init", "--preset", "demo", path)
    assert result.exit_code == 2
    assert "already exists" in result.output and "--force" in result.output
    assert path.read_text() == "name: mine\n"
    result = run("init", "--preset", "hydrop-v2-fly", path, "--force")
    assert result.exit_code == 0, result.output
    assert path.read_text() == preset_text("hydrop-v2-fly")
    assert [p.name for p in tmp_path.iterdir()] == ["study.yaml"]  # no temporary file left


def test_init_help_lists_the_presets():
    result = run("init", "--help")
    assert result.exit_code == 0
    for name, what in PRESETS.items():
        assert re.search(rf"^\s+{name}\s+{re.escape(what)}$", result.output, re.M), result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_unknown_preset(tmp_path):
    with pytest.raises(AtlasbenchError, match="unknown preset 'rat'; choose one of hydrop-v2-mouse"):
        write_preset("rat", tmp_path / "study.yaml")
    result = run("init", "--preset", "rat", tmp_path / "study.yaml")
    assert result.exit_code == 2 and "'rat' is not one of" in result.output
    assert not (tmp_path / "study.yaml").exists()
