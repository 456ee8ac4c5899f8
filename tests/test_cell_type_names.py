"""Cell-type names are data (issue 16, item 1): Allen-style names with "/", spaces, "+",
parentheses and non-ASCII letters run through a whole study, every file is named by
atlasbench.io.names.file_stem and every table and figure shows the original name; the
pre-run checks report names that would share a file."""

from __future__ import annotations

import html
from pathlib import Path

import anndata
import pandas as pd
import pytest
from allen_atlas import ALLEN, NAMES, allen_study

from atlasbench.io.names import file_stem
from atlasbench.simulate.atlas import simulate_atlas
from atlasbench.study.loader import load_study
from atlasbench.study.run import evaluation_table, run_study
from atlasbench.study.validate import check_study


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The Allen-named study run to its report (about 15 s on 2 cores)."""
    study = load_study(allen_study(tmp_path_factory.mktemp("allen")))
    assert check_study(study) == []
    run_study(study, "local", progress=False)
    return study


def _only(folder: Path, pattern: str) -> Path:
    (found,) = folder.glob(pattern)
    return found


def test_peaks_are_named_by_the_one_rule(finished) -> None:
    peaks = _only(finished.output / "peaks", "10x-*")
    assert sorted(p.name for p in peaks.iterdir()) == sorted(f"{file_stem(n)}_peaks.narrowPeak" for n in NAMES)
    assert (peaks / "tin_peaks.narrowPeak").is_file()  # a safe name keeps its own file name
    assert all(p.stat().st_size > 0 for p in peaks.iterdir())


def test_targets_and_qc_tables_show_the_original_names(finished) -> None:
    targets = _only(finished.output / "targets", "10x-*")
    levels = list(targets.glob("*.h5ad"))
    assert len(levels) == 2
    for path in levels:
        assert list(anndata.read_h5ad(path).obs_names) == NAMES
    qc = pd.read_csv(targets / "qc.tsv", sep="\t", keep_default_na=False)
    assert sorted(qc["cell_type"].unique()) == NAMES
    columns = pd.read_csv(targets / "levels.tsv", sep="\t", nrows=0).columns
    assert {f"n_cells_{n}" for n in NAMES} <= set(columns)


def test_evaluation_readouts_and_report_show_the_original_names(finished) -> None:
    evaluation = evaluation_table(finished)
    assert set(evaluation["cell_type"]) == {*NAMES, "all"}
    per_type = pd.read_csv(
        _only(finished.output / "readouts", "enhancers-*/10x/per_cell_type.tsv"), sep="\t", keep_default_na=False
    )
    assert set(NAMES) <= set(per_type["cell_type"])
    report = finished.output / "report"
    assert set(NAMES) <= set(pd.read_csv(report / "tables" / "enhancers.csv", keep_default_na=False)["cell_type"])
    page = (report / "report.html").read_text(encoding="utf-8")
    for name in ALLEN.values():
        assert html.escape(name) in page or name in page, name
        assert file_stem(name) not in page, name
    for folder in ("tables", "figures"):
        assert not any(file_stem(n) in p.name for n in ALLEN.values() for p in (report / folder).iterdir())


# -- validate: names that would share a file ------------------------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("names")
    simulate_atlas(base, "small", seed=5)
    return base


def _problems(base: Path, relabel: dict[str, dict[str, str]], combined: bool = False) -> list[str]:
    """check_study of the simulated study with its platforms' cell types renamed."""
    text = (base / "study.yaml").read_text()
    for platform, mapping in relabel.items():
        cells = pd.read_csv(base / platform / "cells.tsv", sep="\t", dtype=str, keep_default_na=False)
        cells["cell_type"] = cells["cell_type"].map(lambda v, m=mapping: m.get(v, v))
        path = base / platform / "cells-renamed.tsv"
        cells.to_csv(path, sep="\t", index=False)
        text = text.replace(f"cells: {platform}/cells.tsv", f"cells: {platform}/cells-renamed.tsv")
    if combined:
        text = text.replace("regions:\n", "  - name: both\n    union: [10x, hydrop]\nregions:\n", 1)
    study_file = base / "study-renamed.yaml"
    study_file.write_text(text)
    return check_study(load_study(study_file), max_fragments=1_000)


def test_allen_names_are_no_problem(simulated) -> None:
    assert _problems(simulated, {"10x": ALLEN, "hydrop": ALLEN}) == []


def test_names_differing_only_in_case_are_a_problem(simulated) -> None:
    problems = _problems(simulated, {"10x": {"twi": "B_cell", "SoxN": "b_cell"}})
    assert len(problems) == 1, problems
    (problem,) = problems
    assert problem.startswith("platforms[0] (10x).cells: ")
    assert "'B_cell'" in problem and "'b_cell'" in problem and "case" in problem


def test_names_sharing_a_file_name_are_a_problem(simulated) -> None:
    # a safe name equal to another name's cleaned, hashed stem
    stem = file_stem("L2/3 IT")
    problems = _problems(simulated, {"hydrop": {"twi": "L2/3 IT", "SoxN": stem}})
    assert len(problems) == 1, problems
    assert problems[0].startswith("platforms[1] (hydrop).cells: ")
    assert "'L2/3 IT'" in problems[0] and repr(stem) in problems[0] and "same file name" in problems[0]


def test_blank_name_is_a_problem(simulated) -> None:
    problems = _problems(simulated, {"10x": {"twi": "  "}})
    assert len(problems) == 1, problems
    assert "'  '" in problems[0] and "whitespace" in problems[0]


def test_collision_across_the_parts_of_a_combined_platform(simulated) -> None:
    problems = _problems(simulated, {"10x": {"twi": "B_cell"}, "hydrop": {"twi": "b_cell"}}, combined=True)
    assert len(problems) == 1, problems
    assert problems[0].startswith("platforms[2] (both).cells: ")
    assert "'B_cell'" in problems[0] and "'b_cell'" in problems[0]


def test_motif_logo_captions_show_the_original_names(tmp_path: Path) -> None:
    """The logo's file is named by file_stem("<model>_<cell type>"); its caption is the original."""
    import numpy as np

    from atlasbench.io.jaspar import jaspar_collection, jaspar_motif
    from atlasbench.readouts.motifs import Pattern, match_patterns, write_motifs
    from atlasbench.report.readouts import motifs_section

    insects = jaspar_collection("insects")
    probs = jaspar_motif("twi").probs
    found = [Pattern("pos_0", 40, np.asarray(probs, float), np.asarray(probs, float) * 0.1)]
    table = match_patterns(found, insects)
    table.insert(0, "cell_type", "L2/3 IT")
    table.insert(0, "model", "10x")
    paths = write_motifs(table, {("10x", "L2/3 IT"): found}, insects, tmp_path / "motifs")
    assert paths["logo:10x:L2/3 IT"].name == f"{file_stem('10x_L2/3 IT')}.png"

    class Context:  # what motifs_section uses of a ReportContext
        def __init__(self) -> None:
            self.inputs = type("Inputs", (), {"motifs": tmp_path / "motifs"})()
            self.colours: dict[str, str] = {}
            self.motif_table = None

        def table(self, name: str, frame: pd.DataFrame) -> None:
            pass

        def embed(self, png: Path, caption: str, alt: str | None = None) -> str:
            return f"<figure alt={alt!r}>{caption}</figure>"

    page = motifs_section(Context()).body  # type: ignore[arg-type]
    assert "<b>10x, L2/3 IT</b>" in page
    assert file_stem("10x_L2/3 IT") not in page
