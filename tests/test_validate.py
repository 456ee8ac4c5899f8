"""Cross-file checks of a study (atlasbench.study.validate.check_study) on the real ArchR data."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pysam
import pytest

from atlasbench.study.loader import parse_study
from atlasbench.study.validate import check_study, contig_fates, list_contigs

DATA = Path(__file__).parent / "data"
FRAGMENTS = DATA / "archr_pbsmall_hg19.fragments.tsv.gz"
SIZES = {"chr5": 180915260, "chr11": 135006516}


@pytest.fixture(scope="module")
def barcodes() -> list[str]:
    raw = pd.read_csv(FRAGMENTS, sep="\t", header=None, usecols=[3], names=["barcode"])
    return sorted(raw["barcode"].unique())


def write_sizes(path: Path, sizes: dict[str, int]) -> Path:
    path.write_text("".join(f"{c}\t{n}\n" for c, n in sizes.items()))
    return path


def write_cells(path: Path, barcodes: list[str], relabel: dict[str, str] | None = None) -> Path:
    relabel = relabel or {}
    types = [relabel.get(b, b.split(".")[0]) for b in barcodes]
    pd.DataFrame({"barcode": barcodes, "cell_type": types}).to_csv(path, sep="\t", index=False)
    return path


def study(tmp_path: Path, barcodes: list[str], *, sizes=SIZES, cells=None, grid=None, regions=None, model=None,
          fragments=FRAGMENTS, genome=None):
    sizes_file = write_sizes(tmp_path / "genome.sizes", sizes)
    cells_file = cells if cells is not None else write_cells(tmp_path / "cells.tsv", barcodes)
    data = {
        "name": "v",
        "output": "out",
        "genome": {"chrom_sizes": str(sizes_file), **(genome or {})},
        "platforms": [{"name": "tenx", "fragments": str(fragments), "cells": str(cells_file),
                       "cost": {"per_cell": 0.5, "per_million_reads": 3.0}}],
        "grid": grid or {"cells": [60, "all"], "min_cells_per_type": 10},
    }
    if regions is not None:
        data["regions"] = {"bed": str(regions)}
    if model is not None:
        data["model"] = model
    return parse_study(data, tmp_path)


def test_good_study_has_no_problems(tmp_path, barcodes):
    bed = tmp_path / "regions.bed"
    bed.write_text("chr11\t1000000\t1000500\nchr5\t2000000\t2000500\n")
    assert check_study(study(tmp_path, barcodes, regions=bed)) == []


def test_chr_prefix_difference_is_not_a_problem(tmp_path, barcodes):
    # fragments say chr11 / chr5, the genome 11 / 5 (Ensembl spelling), regions mix both
    bed = tmp_path / "regions.bed"
    bed.write_text("11\t1000000\t1000500\nchr5\t2000000\t2000500\n")
    sizes = {"11": SIZES["chr11"], "5": SIZES["chr5"]}
    assert check_study(study(tmp_path, barcodes, sizes=sizes, regions=bed)) == []


def test_fragments_on_chromosomes_absent_from_the_genome(tmp_path, barcodes):
    sizes = {"chr11": SIZES["chr11"], "chr1": 249250621}
    # dropped at ingest by default: information, not a problem
    assert check_study(study(tmp_path, barcodes, sizes=sizes)) == []
    problems = check_study(study(tmp_path, barcodes, sizes=sizes, genome={"unknown_contigs": "error"}))
    assert len(problems) == 1
    (problem,) = problems
    assert problem.startswith("platforms[0] (tenx).fragments[0]")
    assert str(FRAGMENTS) in problem
    assert "'chr5'" in problem and "not in the genome" in problem
    assert "'chr11'" not in problem.split("(which has")[0]


def test_regions_bed_on_other_chromosomes(tmp_path, barcodes):
    bed = tmp_path / "regions.bed"
    bed.write_text("2L\t100\t600\n2R\t1000\t1500\n")
    problems = check_study(study(tmp_path, barcodes, regions=bed))
    assert len(problems) == 1
    assert problems[0].startswith("regions.bed:")
    assert "2L" in problems[0] and "chr11" in problems[0]


def test_cell_type_too_small_at_a_level_is_logged_not_a_problem(tmp_path, barcodes, caplog):
    # 8 of the 50 T cells become "NK": 60 of 150 cells keep about 60 * 8 / 150 = 3 NK cells,
    # which the run leaves out of that level's targets
    nk = [b for b in barcodes if b.startswith("T.")][:8]
    cells = write_cells(tmp_path / "cells.tsv", barcodes, {b: "NK" for b in nk})
    with caplog.at_level("WARNING", logger="atlasbench.study.validate"):
        problems = check_study(study(tmp_path, barcodes, cells=cells,
                                     grid={"cells": [60, "all"], "min_cells_per_type": 10}))
    assert problems == []
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith("platforms[0] (tenx): at cells level 60")
    assert "'NK' (~3 cells)" in warning and "min_cells_per_type=10" in warning
    # B: 60 * 50 / 150 = 20, T: 60 * 42 / 150 = 17: enough
    assert "'B'" not in warning and "'T'" not in warning


def test_level_leaving_no_cell_type_is_a_problem(tmp_path, barcodes):
    # 150 cells in three types of 50: 24 cells keep about 8 of each
    problems = check_study(study(tmp_path, barcodes, grid={"cells": [24, 60, "all"], "min_cells_per_type": 10}))
    assert problems == [
        "platforms[0] (tenx).cells: at cells level 24 every cell type keeps fewer than grid.min_cells_per_type=10 "
        "cells ('B' (~8 cells), 'M' (~8 cells), 'T' (~8 cells)), so that level would have no targets; raise the "
        "level or lower min_cells_per_type"
    ]


def test_numeric_scenario_levels_are_checked_and_matched_ones_left_to_the_run(tmp_path, barcodes, caplog):
    grid = {"cells": ["all"], "min_cells_per_type": 10,
            "scenarios": [{"name": "tiny", "platform": "tenx", "cells": 15},
                          {"name": "fair", "platform": "tenx", "cells": "matched+10%"}]}
    with caplog.at_level("INFO", logger="atlasbench.study.validate"):
        problems = check_study(study(tmp_path, barcodes, grid=grid))
    assert len(problems) == 1
    assert problems[0].startswith("platforms[0] (tenx).cells: at cells level 15 every cell type keeps fewer than")
    assert any("matched scenario(s) fair are checked at run time" in r.getMessage() for r in caplog.records)
    grid["scenarios"][0]["cells"] = 90
    assert check_study(study(tmp_path, barcodes, grid=grid)) == []


def test_cell_table_barcodes_absent_from_fragments(tmp_path, barcodes):
    cells = write_cells(tmp_path / "cells.tsv", [f"{b}-1" for b in barcodes])
    problems = check_study(study(tmp_path, barcodes, cells=cells))
    assert len(problems) == 1
    assert "none of the 150 barcodes" in problems[0]
    assert str(FRAGMENTS) in problems[0] and "'-1'" in problems[0]


@pytest.mark.parametrize(("model", "expected"), [
    ({"architecture": "transformer"}, "unknown model architecture 'transformer'; valid names: dilated_cnn"),
    ({"params": {"width": 3}}, "unknown parameter(s) width for model dilated_cnn; valid: filters"),
    ({"input_length": 200}, "input_length 200 bp is too short"),
])
def test_model_section_that_cannot_be_built_is_reported(tmp_path, barcodes, model, expected):
    problems = check_study(study(tmp_path, barcodes, model=model))
    assert any(p.startswith("model: ") and expected in p for p in problems), problems


def small_fragments(tmp_path: Path, name: str = "small.tsv") -> Path:
    """A small sorted fragments file (plain text): some chr11 and chr5 fragments of the
    fixture, then 12 on the unplaced contig GL456210.1."""
    raw = pd.read_csv(FRAGMENTS, sep="\t", header=None, names=["chrom", "start", "end", "barcode", "count"])
    parts = [raw[raw["chrom"] == "chr11"].head(3000), raw[raw["chrom"] == "chr5"].head(3000)]
    extra = raw.head(12).assign(chrom="GL456210.1", start=range(100, 220, 10), end=range(150, 270, 10))
    path = tmp_path / name
    pd.concat([*parts, extra]).to_csv(path, sep="\t", header=False, index=False)
    return path


def contig_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if " contigs (" in r.getMessage()]


@pytest.mark.parametrize("indexed", [False, True])
def test_every_contig_listed_with_its_fate(tmp_path, barcodes, caplog, indexed):
    path = small_fragments(tmp_path)
    if indexed:
        path = Path(pysam.tabix_index(str(path), preset="bed", force=True))  # bgzip + .tbi
        assert Path(f"{path}.tbi").exists()
    else:
        with open(path, "rb") as src, gzip.open(f"{path}.gz", "wb") as dst:
            dst.write(src.read())
        path = Path(f"{path}.gz")
    assert list_contigs(path) == (["chr11", "chr5", "GL456210.1"], "tabix index" if indexed else "full pass")
    sizes = {"11": SIZES["chr11"], "5": SIZES["chr5"]}
    with caplog.at_level("INFO", logger="atlasbench.study.validate"):
        assert check_study(study(tmp_path, barcodes, sizes=sizes, fragments=path)) == []
    (line,) = contig_lines(caplog)
    assert "3 contigs (tabix index)" in line if indexed else "3 contigs (full pass)" in line
    assert "chr11 renamed to 11; chr5 renamed to 5; GL456210.1 dropped (not in genome)" in line

    problems = check_study(study(tmp_path, barcodes, sizes=sizes, fragments=path, genome={"unknown_contigs": "error"}))
    assert len(problems) == 1 and "'GL456210.1'" in problems[0] and str(path) in problems[0]


def test_contig_outside_genome_chromosomes_is_listed_as_dropped(tmp_path, barcodes, caplog):
    path = small_fragments(tmp_path)
    with caplog.at_level("INFO", logger="atlasbench.study.validate"):
        # five chromosomes kept, for the default five chromosome folds
        sizes = {**SIZES, **{f"chr{k}": 1_000_000 for k in range(1, 5)}}
        kept = ["chr11", "chr1", "chr2", "chr3", "chr4"]
        problems = check_study(study(tmp_path, barcodes, sizes=sizes, fragments=path, genome={"chromosomes": kept}))
    assert problems == []
    (line,) = contig_lines(caplog)
    assert "chr11 kept; chr5 dropped (not in genome.chromosomes); GL456210.1 dropped (not in genome)" in line


def test_contig_fates_mitochondria_and_prefixes():
    fates = contig_fates(["chrM", "2L", "chrX", "JH584304.1"], ["MT", "chr2L", "chrX"], ["2L", "MT"])
    assert fates["fate"].tolist() == ["renamed", "renamed", "dropped", "dropped"]
    assert fates["genome_name"].tolist() == ["MT", "chr2L", "chrX", ""]
    assert fates["reason"].tolist() == ["", "", "not in genome.chromosomes", "not in genome"]
