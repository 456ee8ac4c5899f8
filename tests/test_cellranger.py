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


# -- cell calls: singlecell.csv (ATAC) and per_barcode_metrics.csv (ARC) --------------------

SINGLECELL = """\
barcode,total,duplicate,chimeric,unmapped,lowmapq,mitochondrial,passed_filters,cell_id,is__cell_barcode
NO_BARCODE,9000,0,0,0,0,0,0,None,0
AAACGAAAGAAACGCC-1,5000,1200,3,40,60,20,3600,_cell_0,1
AAACGAAAGAAAGCAG-1,30,2,0,1,0,0,27,None,0
AAACGAAAGAAATACC-1,7000,1500,2,30,50,10,5300,_cell_1,1
"""

PER_BARCODE = """\
barcode,gex_barcode,atac_barcode,is_cell,excluded_reason,gex_raw_reads,atac_raw_reads
AAACAGCCAAACAACA-1,AAACAGCCAAACAACA-1,ACAGCGGGTGTGTTAC-1,1,0,1200,5300
AAACAGCCAAACATAG-1,AAACAGCCAAACATAG-1,ACAGCGGGTTATAGCC-1,0,0,3,12
"""


def test_reads_cell_calls_of_atac_and_arc(tmp_path: Path) -> None:
    from atlasbench.io.cellranger import read_cell_calls

    assert read_cell_calls(write(tmp_path, SINGLECELL, "singlecell.csv")) == [
        "AAACGAAAGAAACGCC-1",
        "AAACGAAAGAAATACC-1",
    ]
    assert read_cell_calls(write(tmp_path, PER_BARCODE, "per_barcode_metrics.csv")) == ["AAACAGCCAAACAACA-1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("barcode,total\nAAAC-1,10\n", r"expected a 'barcode' column and one of 'is__cell_barcode', 'is_cell'"),
        ("barcode,is_cell\nAAAC-1,yes\n", r"line 2: column 'is_cell' must be 0 or 1, got 'yes'"),
        ("", r"cannot read it as a Cell Ranger per-barcode table"),
    ],
)
def test_bad_cell_calls_name_the_file_and_what_was_expected(tmp_path: Path, text: str, message: str) -> None:
    from atlasbench.io.cellranger import read_cell_calls

    path = write(tmp_path, text, "singlecell.csv")
    with pytest.raises(AtlasbenchError, match=message) as err:
        read_cell_calls(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_only_called_annotated_cells_are_kept(caplog) -> None:
    import pandas as pd

    from atlasbench.data.ingest import keep_called_cells

    cells = pd.DataFrame(
        {"barcode": ["A-1", "B-1", "C-1", "A-1"], "cell_type": ["x", "y", "x", "y"], "sample": ["s1", "s1", "s1", "s2"]}
    )
    with caplog.at_level("INFO"):
        kept = keep_called_cells(cells, {"s1": ["A-1", "C-1", "D-1"]}, {"s1": "s1/singlecell.csv"})
    # s1: B-1 was not called; s2 has no calls given and is kept whole
    assert kept.to_dict("list") == {"barcode": ["A-1", "C-1", "A-1"], "cell_type": ["x", "x", "y"],
                                    "sample": ["s1", "s1", "s2"]}
    assert "s1/singlecell.csv: 1 of 3 annotated barcodes of sample 's1' are not called cells" in caplog.text
    assert "1 called cells of sample 's1' have no cell type" in caplog.text
    with pytest.raises(AtlasbenchError, match=r"none of the 3 annotated barcodes of sample 's1' is a called cell "
                                              r"\(annotated e\.g\. 'A-1', called e\.g\. 'A'\)"):
        keep_called_cells(cells, {"s1": ["A", "B", "C"]})


def test_cell_calls_one_per_fragments_file() -> None:
    base = {"name": "p", "fragments": ["a.tsv.gz", "b.tsv.gz"], "cells": "c.tsv",
            "cost": {"per_cell": 1, "per_million_reads": 1}}
    with pytest.raises(Exception, match="one per-barcode table per fragments file"):
        Platform.model_validate({**base, "cell_calls": ["a.csv"]})
    with pytest.raises(Exception, match="not allowed on a combined platform"):
        Platform.model_validate({"name": "both", "union": ["a", "b"], "cell_calls": ["a.csv"]})
