"""Tests of the study file: its schema, loader, error messages and example
(atlasbench.study.schema, .loader, .problems, .example)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pydantic
import pytest

from atlasbench.errors import AtlasbenchError
from atlasbench.models.settings import Training
from atlasbench.study.example import example_study_yaml
from atlasbench.study.loader import load_study, parse_study
from atlasbench.study.problems import FILL_IN, StudyError
from atlasbench.study.schema import Executor, Folds, Platform, Scenario, SlurmResources, Study, Targets

MINIMAL = """\
name: mini
output: results
genome:
  fasta: genome.fa
platforms:
  - name: hydrop
    fragments: hydrop.tsv.gz
    cells: hydrop_cells.tsv
    cost: {per_cell: 0.049, per_million_reads: 2.875}
"""


def write(folder: Path, text: str, name: str = "study.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def touch_inputs(study: Study) -> None:
    for path in study.input_paths().values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")


def error_lines(exc: pytest.ExceptionInfo[AtlasbenchError]) -> list[str]:
    return [line.strip() for line in str(exc.value).splitlines()]


# -- the example -------------------------------------------------------------------------


def test_example_round_trips(tmp_path: Path) -> None:
    path = write(tmp_path, example_study_yaml())
    with pytest.raises(StudyError, match="file not found"):
        load_study(path)
    touch_inputs(load_study(path, check_files=False))

    study = load_study(path)
    assert study.name == "example"
    assert study.output == tmp_path / "results"
    assert [p.name for p in study.platforms] == ["hydrop", "tenx", "pooled"]
    assert [p.kind for p in study.platforms] == ["sourced", "sourced", "combined"]
    assert study.platform("tenx").samples == ["rep1", "rep2"]
    assert study.platform("pooled").union == ["hydrop", "tenx"]
    assert study.genome.chromosomes == ["2L", "2R", "3L", "3R", "X"]
    assert study.folds.k == 5  # follows the groups
    assert study.folds.test_fold_list == [0, 1, 2, 3, 4]
    assert study.folds.validation_fold(4) == 0
    assert study.training.learning_rate == pytest.approx(1e-3)  # YAML 1.2 float without a dot
    assert study.training.finetune is not None and study.training.finetune.batch_size == 128
    assert study.target_window == 1000
    scenarios = {s.name: s for s in study.grid.scenarios}
    assert scenarios["matched"].matched_extra_percent == 0
    assert scenarios["matched-plus-50"].matched_extra_percent == 50
    train = study.executor.slurm_resources("train")
    assert (train.partition, train.gpus, train.time, train.memory) == ("gpu", 1, "12:00:00", "16GB")
    ingest = study.executor.slurm_resources("ingest")
    assert (ingest.partition, ingest.gpus, ingest.time) == ("batch", 0, "04:00:00")

    data = study.to_dict()
    assert json.loads(json.dumps(data)) == data  # JSON-able, paths as strings
    assert data["genome"]["fasta"] == str(tmp_path / "genome" / "dm6.fa")
    again = parse_study(data, base_dir=tmp_path / "elsewhere")
    assert again == study
    assert again.hash_of() == study.hash_of()


def test_field_descriptions_are_documented() -> None:
    for model in (Study, Platform, Scenario, Folds, Executor, SlurmResources, Training, Targets):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no docstring"


# -- paths ---------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_yaml_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "genome.fa").write_text(">chr1\nACGT\n")
    folder = tmp_path / "studies" / "one"
    for name in ("hydrop.tsv.gz", "hydrop_cells.tsv"):
        write(folder, "", name)
    path = write(folder, MINIMAL.replace("fasta: genome.fa", "fasta: ../../ref/genome.fa"))
    monkeypatch.chdir(tmp_path)  # the working directory must not matter

    study = load_study(Path("studies/one/study.yaml"))
    assert study.genome.fasta == tmp_path / "ref" / "genome.fa"
    assert study.platforms[0].fragments == [folder / "hydrop.tsv.gz"]
    assert study.platforms[0].cells == folder / "hydrop_cells.tsv"
    assert study.output == folder / "results"
    assert path.exists()


def test_single_fragments_path_becomes_a_list_and_names_the_sample(tmp_path: Path) -> None:
    study = parse_study(__import__("yaml").safe_load(MINIMAL), tmp_path, check_files=False)
    platform = study.platforms[0]
    assert platform.fragments == [tmp_path / "hydrop.tsv.gz"]
    assert platform.samples == ["hydrop"]
    assert platform.sample_names == ["hydrop"]
    assert platform.kind == "sourced"


def test_sample_names_default_to_file_names_and_must_be_unique(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "fragments: hydrop.tsv.gz", "fragments: [a/s1.tsv.bgz, b/s2.tsv, c/s3.fragments.tsv.gz]"
    )
    study = load_study(write(tmp_path, text), check_files=False)
    assert study.platforms[0].samples == ["s1", "s2", "s3.fragments"]

    clash = MINIMAL.replace("fragments: hydrop.tsv.gz", "fragments: [a/fragments.tsv.gz, b/fragments.tsv.gz]")
    with pytest.raises(StudyError, match=r"platforms\[0\]\.samples: required"):
        load_study(write(tmp_path, clash), check_files=False)

    wrong = MINIMAL.replace("fragments: hydrop.tsv.gz", "fragments: [a.tsv.gz, b.tsv.gz]\n    samples: [x, y, z]")
    with pytest.raises(StudyError) as exc:
        load_study(write(tmp_path, wrong), check_files=False)
    expected = "platforms[0].samples: must give one name per fragments file (2) (got [\"x\", \"y\", \"z\"])"
    assert expected in error_lines(exc)
    twice = wrong.replace("[x, y, z]", "[x, x]")
    with pytest.raises(StudyError) as exc:
        load_study(write(tmp_path, twice), check_files=False)
    assert "platforms[0].samples[1]: duplicate (also at index 0) (got 'x')" in error_lines(exc)


# -- errors ---------------------------------------------------------------------------------


def test_every_mistake_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "", "genome.fa")
    write(tmp_path, "", "a.tsv.gz")
    write(tmp_path, "", "a_cells.tsv")
    path = write(
        tmp_path,
        """\
        name: broken
        output: results
        seed: seven
        genome: {fasta: genome.fa}
        platforms:
          - name: a
            fragments: a.tsv.gz
            cells: a_cells.tsv
            cost: {per_cell: 0.05, per_million_reads: 2.875}
          - name: b
            fragments: missing.tsv.gz
            cells: a_cells.tsv
            cost: {per_cell: -1, per_million_reads: 2.875}
            colour: red
          - name: a
            fragments: a.tsv.gz
            cells: a_cells.tsv
            cost: {per_cell: 1, per_million_reads: 1}
          - name: both
            union: [a, nope]
        grid:
          scenarios:
            - {name: s1, platform: ghost, cells: matched+x%}
        folds:
          k: 3
          groups: [[chr1], [chr2]]
        """,
    )
    with pytest.raises(StudyError) as exc:
        load_study(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: ")
    lines = error_lines(exc)
    expected = [
        "seed: must be a whole number (got 'seven')",
        f"platforms[1].fragments[0]: file not found (got '{tmp_path / 'missing.tsv.gz'}')",
        "platforms[1].cost.per_cell: must be >= 0 (got -1)",
        "platforms[2].name: duplicate platform name (also platforms[0]) (got 'a')",
        "platforms[3].union[1]: must name a sourced platform of this study (a, b) (got 'nope')",
        "grid.scenarios[0].platform: must name a platform of this study (a, b, both) (got 'ghost')",
        "folds.k: must equal the number of groups (2) (got 3)",
    ]
    for line in expected:
        assert line in lines, f"{line!r} missing from:\n{message}"
    unknown = next(line for line in lines if line.startswith("platforms[1].colour:"))
    assert "unknown key" in unknown
    assert "fragments, cells, cell_calls, samples, cost, sequenced_reads, union, common_depth" in unknown
    assert any(line.startswith("grid.scenarios[0].cells: must be") and "'matched+x%'" in line for line in lines)
    assert exc.value.problems and all(str(p) in lines for p in exc.value.problems)
    # listed in the order of the file
    assert [p.path for p in exc.value.problems] == sorted(
        (p.path for p in exc.value.problems), key=lambda s: message.index(s)
    )


def test_combined_platform_rules(tmp_path: Path) -> None:
    text = MINIMAL + textwrap.indent(
        textwrap.dedent(
            """\
            - name: pool
              union: [hydrop, pool, deep]
              cells: x.tsv
            - name: deep
              union: [hydrop, hydrop]
            - name: lone
              fragments: b.tsv.gz
              cells: b.tsv
              common_depth: 1000
            """
        ),
        "  ",
    )
    with pytest.raises(StudyError) as exc:
        load_study(write(tmp_path, text), check_files=False)
    lines = error_lines(exc)
    assert any(line.startswith("platforms[1].cells: not allowed on a combined platform") for line in lines)
    assert "platforms[1].union[1]: a combined platform cannot include itself (got 'pool')" in lines
    assert any(line.startswith("platforms[1].union[2]: 'deep' is itself combined") for line in lines)
    assert "platforms[2].union[1]: listed twice (got 'hydrop')" in lines
    assert any(line.startswith("platforms[3].cost: required for a platform with its own data") for line in lines)
    assert "platforms[3].common_depth: only for a combined platform (one with union) (got 1000)" in lines


def test_value_grammar_errors(tmp_path: Path) -> None:
    text = MINIMAL + textwrap.dedent(
        """\
        genome_extra: 1
        grid:
          reads_per_cell: [0, 5000, 5000, all]
          cells: [many]
          full_grid: false
          scenarios:
            - {name: one, platform: hydrop, cells: 100}
            - {name: one, platform: hydrop, cells: matched+10%}
        folds: {scheme: random, groups: [[chr1]], test_folds: [0, 9]}
        model: {params: {filters: [64]}}
        targets: {peak_height_top_k_percent: 3}
        executor:
          kind: cloud
          slurm: {time: "25:00", memory: lots, jobs: {trian: {gpus: 1}}}
        """
    )
    with pytest.raises(StudyError) as exc:
        load_study(write(tmp_path, text), check_files=False)
    lines = error_lines(exc)
    for line in [
        "grid.reads_per_cell[0]: must be a positive whole number or 'all' (got 0)",
        "grid.reads_per_cell[2]: duplicate (also at index 1) (got 5000)",
        "grid.cells[0]: must be a positive whole number or 'all' (got 'many')",
        "folds.test_folds[1]: must be a fold number from 0 to 4 (got 9)",
        "model.params.filters: must be a number, text or true/false (got [64])",
        "executor.kind: must be 'local', 'dask' or 'slurm' (got 'cloud')",
        "executor.slurm.time: must be a time limit HH:MM:SS or D-HH:MM:SS, e.g. '02:00:00' or '1-12:00:00' "
        "(got '25:00')",
        "executor.slurm.memory: must be an amount of memory with a unit, e.g. '16GB' or '500MB' (got 'lots')",
    ]:
        assert line in lines, f"{line!r} missing from:\n{exc.value}"
    assert any(line.startswith("genome_extra: unknown key") and "did you mean 'genome'" in line for line in lines)
    assert any(line.startswith("folds.groups: only for scheme 'chromosome'") for line in lines)
    assert any(line.startswith("targets.peak_height_top_k_percent: must be a fraction") for line in lines)
    assert any(line.startswith("executor.slurm.jobs.trian: must be 'ingest'") for line in lines)
    assert "grid.scenarios[1].name: duplicate name (also at index 0) (got 'one')" in lines


def test_grid_without_full_grid_needs_scenarios(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match=r"grid\.scenarios: must list at least one scenario when full_grid is false"):
        load_study(write(tmp_path, MINIMAL + "grid: {full_grid: false, cells: [0]}\n"), check_files=False)


def test_genome_needs_fasta_or_chrom_sizes(tmp_path: Path) -> None:
    # (a name alone is an assembly to fetch: tests/test_genome_fetch.py)
    with pytest.raises(StudyError, match=r"genome: give fasta or chrom_sizes .*, or an assembly name"):
        load_study(write(tmp_path, MINIMAL.replace("fasta: genome.fa", "annotation: genes.gtf")), check_files=False)


def test_missing_sections_and_empty_or_odd_files(tmp_path: Path) -> None:
    with pytest.raises(StudyError) as exc:
        load_study(write(tmp_path, "name: x\n"), check_files=False)
    lines = error_lines(exc)
    for field in ("output", "genome", "platforms"):
        assert f"{field}: required field is missing" in lines
    with pytest.raises(AtlasbenchError, match="empty"):
        load_study(write(tmp_path, "# nothing\n"))
    with pytest.raises(AtlasbenchError, match="must be a mapping"):
        load_study(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(AtlasbenchError, match="study file not found"):
        load_study(tmp_path / "nope.yaml")


def test_fill_in_placeholders_are_listed_together(tmp_path: Path) -> None:
    text = f"""\
    name: preset
    output: results
    genome:
      fasta: {FILL_IN}
      name: mm10
    platforms:
      - name: hydrop
        fragments: {FILL_IN}
        cells: {FILL_IN}
        cost: {{per_cell: {FILL_IN}, per_million_reads: 2.875}}
      - name: tenx
        fragments: [{FILL_IN}, {FILL_IN}]
        cells: cells.tsv
        cost: {{per_cell: 0.471, per_million_reads: 2.875}}
    evaluation:
      enhancers: {FILL_IN}
    """
    path = write(tmp_path, text)
    with pytest.raises(StudyError) as exc:
        load_study(path)
    message = str(exc.value)
    assert message.startswith("fields still to fill in: ")
    first = message.splitlines()[0]
    expected = [
        "genome.fasta",
        "platforms[0].fragments",
        "platforms[0].cells",
        "platforms[0].cost.per_cell",
        "platforms[1].fragments[0]",
        "platforms[1].fragments[1]",
        "evaluation.enhancers",
    ]
    assert first == "fields still to fill in: " + ", ".join(expected)
    assert exc.value.fill_in == expected
    # the placeholders get no type or file errors of their own; other problems still show
    assert "must be a number" not in message
    assert [p.path for p in exc.value.problems] == ["platforms[1].cells"]

    # once filled in (files present), the same file validates
    for name in ("genome.fa", "h.tsv.gz", "h.tsv", "t1.tsv.gz", "t2.tsv.gz", "cells.tsv", "enh.tsv"):
        write(tmp_path, "", name)
    filled = path.read_text()
    for value in ("genome.fa", "h.tsv.gz", "h.tsv", "0.049", "t1.tsv.gz", "t2.tsv.gz", "enh.tsv"):
        filled = filled.replace(FILL_IN, value, 1)
    study = load_study(write(tmp_path, filled))
    assert study.platforms[0].cost is not None and study.platforms[0].cost.per_cell == pytest.approx(0.049)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\noutput: out\ngenome:\n  fasta: [a.fa\nplatforms: []\n")
    with pytest.raises(AtlasbenchError) as exc:
        load_study(path)
    assert str(exc.value).startswith(f"{path}:5: invalid YAML")

    path = write(tmp_path, "name: x\noutput: out\n  seed: 3\n")
    with pytest.raises(AtlasbenchError, match=rf"^{path}:3: invalid YAML"):
        load_study(path)


def test_duplicate_yaml_keys_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "seed: 1\nseed: 2\n")
    with pytest.raises(AtlasbenchError, match=rf"^{path}:\d+: invalid YAML: found duplicate key 'seed'"):
        load_study(path)


def test_yaml_numbers_follow_yaml_1_2(tmp_path: Path) -> None:
    text = MINIMAL + textwrap.dedent(
        """\
        genome_chromosomes_placeholder: null
        training: {learning_rate: 5e-4}
        executor: {slurm: {time: 12:00:00, jobs: {train: {time: 1-00:00:00}}}}
        folds: {groups: [[1, 2], [3, X]]}
        """
    ).replace("genome_chromosomes_placeholder: null\n", "")
    study = load_study(write(tmp_path, text), check_files=False)
    assert study.training.learning_rate == pytest.approx(5e-4)
    assert study.executor.slurm is not None and study.executor.slurm.time == "12:00:00"
    assert study.executor.slurm_resources("train").time == "1-00:00:00"
    assert study.folds.groups == [["1", "2"], ["3", "X"]]  # numeric chromosome names are names
    assert study.folds.k == 2


# -- hashing ---------------------------------------------------------------------------------


def test_hash_of_is_stable_across_key_order_and_follows_values(tmp_path: Path) -> None:
    one = load_study(
        write(tmp_path, MINIMAL + "model: {preset: tiny, params: {filters: 64, dropout: 0.1}}\n", "a.yaml"),
        check_files=False,
    )
    reordered = textwrap.dedent(
        """\
        model: {params: {dropout: 0.1, filters: 64}, preset: tiny}
        platforms:
          - cost: {per_million_reads: 2.875, per_cell: 0.049}
            cells: hydrop_cells.tsv
            fragments: [hydrop.tsv.gz]
            name: hydrop
        genome:
          fasta: genome.fa
        output: results
        name: mini
        """
    )
    two = load_study(write(tmp_path, reordered, "b.yaml"), check_files=False)
    assert one == two
    for sections in [(), ("model",), ("platforms", "genome"), ("training.finetune",), ("seed",)]:
        assert one.hash_of(*sections) == two.hash_of(*sections)
    digest = one.hash_of("model")
    assert len(digest) == 64 and int(digest, 16) >= 0

    changed = load_study(
        write(tmp_path, MINIMAL + "model: {preset: tiny, params: {filters: 65, dropout: 0.1}}\n", "c.yaml"),
        check_files=False,
    )
    assert changed.hash_of("model") != one.hash_of("model")
    assert changed.hash_of("platforms", "genome") == one.hash_of("platforms", "genome")
    assert one.hash_of("model", "genome") != one.hash_of("model")
    with pytest.raises(ValueError, match="unknown study section"):
        one.hash_of("nonsense")


def test_study_objects_are_frozen(tmp_path: Path) -> None:
    study = load_study(write(tmp_path, MINIMAL), check_files=False)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        study.seed = 3  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        study.platforms[0].name = "other"  # type: ignore[misc]
