"""Sequenced read pairs from Cell Ranger ATAC / ARC summary.csv files, and the study field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from atlasbench.errors import AtlasbenchError
from atlasbench.io.cellranger import read_sequenced_read_pairs
from atlasbench.study.loader import load_study
from atlasbench.study.schema import Platform

# Cell Ranger ATAC 2.x outs/summary.csv (abridged): one row, plain numbers
ATAC = """\
Sample ID,Genome,Pipeline version,Estimated number of cells,Sequenced read pairs,Valid barcodes
brain,mm10,cellranger-atac-2.1.0,4512,419000000,0.97
"""

# Cell Ranger ARC outs/summary.csv (abridged): ATAC and GEX columns
ARC = """\
Sample ID,Genome,Pipeline version,GEX Sequenced read pairs,ATAC Sequenced read pairs,ATAC Median fragments
pbmc,GRCh38,cellranger-arc-2.0.2,164926785,"218,058,449",13486
"""

# Cell Ranger ATAC 1.x: snake-case columns
OLD = """\
num_reads,frac_cut_fragments_in_peaks,annotated_cells
123456789,0.5,3000
"""


def write(folder: Path, text: str, name: str = "summary.csv") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_reads_cell_ranger_atac_arc_and_older_layouts(tmp_path: Path) -> None:
    assert read_sequenced_read_pairs(write(tmp_path, ATAC, "atac.csv")) == 419_000_000
    # ARC: the ATAC column, never the GEX one; thousands separators are read
    assert read_sequenced_read_pairs(write(tmp_path, ARC, "arc.csv")) == 218_058_449
    assert read_sequenced_read_pairs(write(tmp_path, OLD, "old.csv")) == 123_456_789
    words = "Number of reads,Fraction of reads in peaks\n2.5e7,0.4\n"
    assert read_sequenced_read_pairs(write(tmp_path, words, "words.csv")) == 25_000_000
    # several libraries (rows) are added
    two = "Sequenced read pairs\n100\n250\n"
    assert read_sequenced_read_pairs(write(tmp_path, two, "two.csv")) == 350


def test_unreadable_summary_names_file_and_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "Sample ID,Estimated number of cells\nx,10\n")
    with pytest.raises(AtlasbenchError) as err:
        read_sequenced_read_pairs(path)
    message = str(err.value)
    assert str(path) in message
    assert "'Sequenced read pairs'" in message and "'ATAC Sequenced read pairs'" in message
    assert "'num_reads'" in message and "'Estimated number of cells'" in message
    with pytest.raises(AtlasbenchError, match="positive number, got 'n/a'"):
        read_sequenced_read_pairs(write(tmp_path, "Sequenced read pairs\nn/a\n", "na.csv"))
    with pytest.raises(AtlasbenchError, match="no rows"):
        read_sequenced_read_pairs(write(tmp_path, "Sequenced read pairs\n", "empty.csv"))
    with pytest.raises(AtlasbenchError, match="cannot read"):
        read_sequenced_read_pairs(tmp_path / "missing.csv")


COST = {"per_cell": 0.471, "per_million_reads": 2.875}
BASE = {"name": "tenx", "fragments": "f.tsv.gz", "cells": "c.tsv", "cost": COST}


def test_platform_sequenced_reads_number_or_summary(tmp_path: Path) -> None:
    assert Platform.model_validate(BASE).sequenced_read_pairs() is None
    assert Platform.model_validate({**BASE, "sequenced_reads": 4.19e8}).sequenced_read_pairs() == 419_000_000
    summary = write(tmp_path, ATAC)
    platform = Platform.model_validate({**BASE, "sequenced_reads": str(summary)})
    assert platform.sequenced_reads == summary
    assert platform.sequenced_read_pairs() == 419_000_000
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ValueError, match="positive whole number"):
            Platform.model_validate({**BASE, "sequenced_reads": bad})
    with pytest.raises(ValueError, match="not allowed on a combined platform"):
        Platform.model_validate({"name": "both", "union": ["a", "b"], "sequenced_reads": 1000})


def test_study_resolves_and_checks_the_summary_path(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        name: mini
        output: results
        genome:
          fasta: genome.fa
        platforms:
          - name: tenx
            fragments: tenx.tsv.gz
            cells: tenx_cells.tsv
            cost: {per_cell: 0.471, per_million_reads: 2.875}
            sequenced_reads: tenx/outs/summary.csv
        """
    )
    path = write(tmp_path, text, "study.yaml")
    study = load_study(path, check_files=False)
    resolved = tmp_path / "tenx" / "outs" / "summary.csv"
    assert study.platforms[0].sequenced_reads == resolved
    assert study.input_paths()["platforms[0].sequenced_reads"] == resolved
    for name in ("genome.fa", "tenx.tsv.gz", "tenx_cells.tsv"):
        (tmp_path / name).write_text("")
    with pytest.raises(Exception, match="file not found"):
        load_study(path)
    resolved.parent.mkdir(parents=True)
    resolved.write_text(ATAC)
    assert load_study(path).platforms[0].sequenced_read_pairs() == 419_000_000
