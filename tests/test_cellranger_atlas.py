"""A real atlas as Cell Ranger writes it runs unmodified (issue 16, "must show").

The small simulated atlas is rewritten the way a mouse-cortex study arrives: two Cell
Ranger ATAC libraries (samples) for the platform, their barcodes suffixed ``-1`` and
``-2``, fragments files opening with ``#`` header lines and ending with fragments on
unplaced contigs the genome lacks (``GL456210.1``, ``JH584304.1``), cell types named as
the Allen taxonomy names them, an annotation holding a barcode Cell Ranger did not call,
per-library ``singlecell.csv`` cell calls and a ``summary.csv`` with one row per library.
The grid counts sequenced reads, as the published study did. ``atlasbench run`` (here
:func:`run_study`) must finish, and the report must show the original names, the dropped
contigs and the usable fraction.
"""

from __future__ import annotations

import gzip
import html
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from allen_atlas import ALLEN, NAMES, allen_study

from atlasbench.data.ingest import open_store
from atlasbench.simulate.platforms import TENX
from atlasbench.study.loader import load_study
from atlasbench.study.run import run_study
from atlasbench.study.validate import check_study

UNPLACED = {"s1": ("GL456210.1", 30), "s2": ("JH584304.1", 20)}
"""Per library: an unplaced contig of Cell Ranger's mm10 and the fragments written on it."""


def _fragments_file(path: Path, frags: pd.DataFrame, sample: str) -> None:
    """bgzip + tabix, with Cell Ranger ATAC 2's ``#`` header lines."""
    plain = path.with_suffix("")
    with plain.open("w") as fh:
        fh.write(f"# id={sample}\n# description=Cell Ranger ATAC 2.1.0 (simulated)\n# reference_path=mm10\n")
        frags.to_csv(fh, sep="\t", header=False, index=False)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.tabix_index(str(path), preset="bed", force=True)


def _cell_ranger_shaped(base: Path) -> tuple[Path, dict]:
    """Rewrite the simulated 10x platform as two Cell Ranger libraries; returns the study
    file and what the test knows by hand."""
    study_file = allen_study(base)
    folder = base / "10x"
    frags = pd.read_csv(folder / "fragments.tsv.gz", sep="\t", header=None, names=["c", "s", "e", "b", "n"])
    cells = pd.read_csv(folder / "cells.tsv", sep="\t", dtype=str, keep_default_na=False)
    calls = pd.read_csv(folder / "singlecell.csv", dtype={"barcode": str})
    sequenced = int(pd.read_csv(folder / "summary.csv")["Sequenced read pairs"].iloc[0])
    barcodes = sorted(set(frags["b"]))
    sample_of = {b: ("s1", "s2")[i % 2] for i, b in enumerate(barcodes)}
    renamed = {b: b if sample_of[b] == "s1" else b.removesuffix("-1") + "-2" for b in barcodes}
    empty = next(b for b in barcodes if b not in set(cells["barcode"]) and sample_of[b] == "s1")

    calls_files = []
    rng = np.random.default_rng(0)
    for sample in ("s1", "s2"):
        mine = frags[frags["b"].map(sample_of) == sample].copy()
        contig, n = UNPLACED[sample]
        on_cells = mine[mine["b"].isin(set(cells["barcode"]))]
        extra = pd.DataFrame(
            {"c": contig, "s": np.sort(rng.integers(0, 10_000, n)), "b": on_cells["b"].iloc[:n].values}
        )
        extra["e"], extra["n"] = extra["s"] + 150, 1
        mine = pd.concat([mine, extra[["c", "s", "e", "b", "n"]]], ignore_index=True)
        mine["b"] = mine["b"].map(renamed)
        _fragments_file(folder / f"{sample}.fragments.tsv.gz", mine, sample)
        per_barcode = calls[calls["barcode"].map(sample_of) == sample].copy()
        per_barcode["barcode"] = per_barcode["barcode"].map(renamed)
        no_barcode = calls[calls["barcode"] == "NO_BARCODE"]
        per_barcode = pd.concat([no_barcode, per_barcode], ignore_index=True)
        calls_files.append(folder / f"{sample}.singlecell.csv")
        per_barcode.to_csv(calls_files[-1], index=False)
    # one row per library; the two add up to what the simulator sequenced
    pd.DataFrame(
        {"Sample ID": ["s1", "s2"], "Sequenced read pairs": [f"{sequenced // 2:,}", f"{sequenced - sequenced // 2:,}"]}
    ).to_csv(folder / "summary.csv", index=False)
    annotation = cells.assign(sample=cells["barcode"].map(sample_of), barcode=cells["barcode"].map(renamed))
    uncalled = pd.DataFrame({"barcode": [empty], "cell_type": [NAMES[0]], "sample": ["s1"]})
    pd.concat([annotation, uncalled], ignore_index=True).to_csv(folder / "annotation.tsv", sep="\t", index=False)

    text = study_file.read_text()
    text = text.replace(
        "    fragments: 10x/fragments.tsv.gz\n    cells: 10x/cells.tsv\n    cell_calls: 10x/singlecell.csv\n",
        "    fragments: [10x/s1.fragments.tsv.gz, 10x/s2.fragments.tsv.gz]\n    samples: [s1, s2]\n"
        "    cells: 10x/annotation.tsv\n    cell_calls: [10x/s1.singlecell.csv, 10x/s2.singlecell.csv]\n",
    )
    assert "s1.singlecell.csv" in text
    text = text.replace("grid:\n", "grid:\n  reads_unit: sequenced\n")
    study_file.write_text(text)
    in_cells = int(frags.loc[frags["b"].isin(set(cells["barcode"])), "n"].sum())
    return study_file, {
        "annotated": len(cells),
        "uncalled": renamed[empty],
        "fraction": in_cells / sequenced,
        "renamed": renamed,
    }


@pytest.fixture(scope="module")
def cell_ranger_run(tmp_path_factory):
    """The Cell Ranger-shaped study, checked and run to its report (about 20 s on 2 cores)."""
    base = tmp_path_factory.mktemp("cellranger")
    study_file, known = _cell_ranger_shaped(base)
    study = load_study(study_file)
    problems = check_study(study)
    handler = _Collect()
    logging.getLogger("atlasbench").addHandler(handler)
    try:
        run_study(study, "local", progress=False)
    finally:
        logging.getLogger("atlasbench").removeHandler(handler)
    return study, known, problems, handler.messages


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_validate_passes_and_lists_the_contigs_to_drop(cell_ranger_run) -> None:
    _, _, problems, messages = cell_ranger_run
    assert problems == []
    text = "\n".join(messages)
    assert "GL456210.1" in text and "JH584304.1" in text


def test_ingest_keeps_called_annotated_cells_of_both_libraries(cell_ranger_run) -> None:
    study, known, _, messages = cell_ranger_run
    (store_dir,) = (study.output / "ingest").glob("10x-*")
    store = open_store(store_dir)
    assert len(store.cells) == known["annotated"]  # the uncalled barcode is left out
    assert known["uncalled"] not in set(store.cells["barcode"])
    assert set(store.cells["sample"]) == {"s1", "s2"}
    assert store.cells.loc[store.cells["sample"] == "s2", "barcode"].str.endswith("-2").all()
    assert any("1 of" in m and "not called cells" in m for m in messages)
    dropped = store.dropped_contigs.set_index("contig")
    assert dropped.loc["GL456210.1", "fragments"] == 30 and dropped.loc["JH584304.1", "fragments"] == 20


def test_report_shows_names_dropped_contigs_and_usable_fraction(cell_ranger_run) -> None:
    study, known, _, _ = cell_ranger_run
    report = study.output / "report"
    page = (report / "report.html").read_text(encoding="utf-8")
    for name in ALLEN.values():
        assert html.escape(name) in page, name
    assert "Fragments left out" in page and "GL456210.1" in page and "JH584304.1" in page
    contigs = pd.read_csv(report / "tables" / "dropped_contigs.csv", keep_default_na=False).set_index("contig")
    assert contigs.loc["GL456210.1", "reason"] == "not in genome"
    qc = pd.read_csv(report / "tables" / "qc.csv").set_index("platform")
    # read pairs in the annotated cells' fragments on the genome, per sequenced read pair
    assert qc.loc["10x", "usable_fraction"] == pytest.approx(known["fraction"], rel=1e-4)
    assert known["fraction"] == pytest.approx(TENX.usable_fraction, rel=1e-4)
    assert "usable fraction" in page
    levels = pd.read_csv(report / "tables" / "qc_levels.csv", dtype={"reads_per_cell": str})
    assert set(levels["reads_unit"]) == {"sequenced read pairs"}
    assert "sequenced read pairs per cell" in page


def test_fragments_files_look_like_cell_ranger(cell_ranger_run) -> None:
    study, _, _, _ = cell_ranger_run
    first = study.platforms[0].fragments[0]
    with gzip.open(first, "rt") as fh:
        head = [next(fh) for _ in range(4)]
    assert head[0].startswith("# id=s1") and not head[3].startswith("#")
