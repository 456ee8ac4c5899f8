"""The ``atlasbench`` command line, driven through click's CliRunner."""

from __future__ import annotations

import gzip
import itertools
import re
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pysam
import pytest
import yaml
from click.testing import CliRunner

from atlasbench.cli import main

DATA = Path(__file__).parent / "data"
FRAGMENTS = DATA / "archr_pbsmall_hg19.fragments.tsv.gz"
DM6_FASTA = DATA / "dm6_1pct.fa.gz"
SIZES = {"chr5": 180915260, "chr11": 135006516}


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="atlasbench")


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(FRAGMENTS, sep="\t", header=None, names=["chrom", "start", "end", "barcode", "count"])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A small simulated atlas and the targets of its study (the demo runs all of it)."""
    out = tmp_path_factory.mktemp("cli") / "demo"
    simulated = run("simulate", "--out", out, "--preset", "small")
    assert simulated.exit_code == 0, simulated.output
    return out, run("targets", out / "study.yaml")


# -- help -----------------------------------------------------------------------------


COMMANDS = {
    (): ["demo", "genome", "qc", "run", "simulate", "status", "targets", "validate", "--verbose", "--version"],
    ("validate",): ["STUDY_FILE", "--max-fragments"],
    ("qc",): ["FRAGMENTS", "--cells", "--regions", "--annotation", "--out"],
    ("genome",): ["prepare", "fetch"],
    ("genome", "prepare"): ["SRC", "DST", ".fai", ".gzi"],
    ("genome", "fetch"): ["NAME_OR_URL", "--provider", "--cache", "ATLASBENCH_GENOME_CACHE"],
    ("targets",): ["STUDY_FILE"],
    ("demo",): ["--out", "--preset", "--seed", "--executor"],
    ("run",): ["STUDY_FILE", "--executor", "--workers", "--until", "--allow-partial-report"],
    ("status",): ["STUDY_FILE", "--all"],
    ("simulate",): ["--out", "--preset", "--cells", "--seed", "--genome"],
}


@pytest.mark.parametrize("command", list(COMMANDS), ids=lambda c: " ".join(c) or "main")
def test_help_lists_commands_and_options(command):
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith(f"Usage: atlasbench {' '.join(command)}".rstrip())
    for word in COMMANDS[command]:
        assert word in text, (word, text)
    # a sentence of description under the usage line, wrapped for a terminal
    description = text.split("\n\n")[1].strip()
    assert len(description.split()) >= 3
    assert max(len(line) for line in text.splitlines()) <= 80
    assert run(*command, "-h").output == text


def test_unknown_command_is_a_usage_error():
    result = run("frobnicate")
    assert result.exit_code == 2
    assert "No such command" in result.output


# -- demo and validate ----------------------------------------------------------------


def test_targets_are_built_for_the_simulated_grid(demo):
    out, result = demo
    assert result.exit_code == 0, result.output
    study_file = out / "study.yaml"
    study = yaml.safe_load(study_file.read_text())
    grid = study["grid"]
    expected = {f"reads-{r}_cells-{c}.h5ad" for r, c in itertools.product(grid["reads_per_cell"], grid["cells"])}
    (regions_file,) = (out / study["output"] / "regions").glob("*/regions.tsv")
    n_regions = len(pd.read_csv(regions_file, sep="\t"))
    assert n_regions > 100
    assert [p["name"] for p in study["platforms"]] == ["10x", "hydrop"]
    for platform in study["platforms"]:
        (folder,) = (out / study["output"] / "targets").glob(f"{platform['name']}-*")
        targets = list(folder.glob("*.h5ad"))
        assert {p.name for p in targets} == expected
        cells = pd.read_csv(out / platform["cells"], sep="\t")
        cell_types = sorted(cells["cell_type"].unique())
        assert len(cell_types) == 8
        for path in targets:
            adata = anndata.read_h5ad(path)
            assert adata.X.shape == (8, n_regions)
            assert list(adata.obs_names) == cell_types
        levels = pd.read_csv(folder / "levels.tsv", sep="\t")
        assert len(levels) == len(expected)
    listed = [line.split("\t") for line in result.stdout.splitlines() if line.count("\t") == 2]
    assert len(listed) == 2 * len(expected) and all(Path(path).is_file() for _, _, path in listed)


def test_validate_good_study(demo):
    out, _ = demo
    result = run("validate", out / "study.yaml")
    assert result.exit_code == 0, result.output
    assert "OK" in result.stdout and "2 platform(s)" in result.stdout


BAD_STUDY = """\
name: has spaces
output: results
genome:
  chrom_sizes: sizes.txt
platforms:
  - name: tenx
    fragments: {fragments}
    cells: cells.tsv
    cost: {{per_cell: -1, per_million_reads: 2}}
grid:
  cells: [60, 0]
  reads_per_cell: [all]
folds:
  k: 1
colour: blue
"""


def test_validate_lists_every_schema_mistake(tmp_path):
    (tmp_path / "cells.tsv").write_text("barcode\tcell_type\nB.1\tB\n")
    study = tmp_path / "study.yaml"
    study.write_text(BAD_STUDY.format(fragments=FRAGMENTS))
    result = run("validate", study)
    assert result.exit_code == 2
    text = result.output
    assert "Traceback" not in text
    for path in ("name", "genome.chrom_sizes", "platforms[0].cost.per_cell", "grid.cells[1]", "folds.k", "colour"):
        assert re.search(rf"^\s+{re.escape(path)}: ", text, re.M), (path, text)
    assert "file not found" in text  # sizes.txt
    assert "unknown key" in text


def test_validate_cell_barcodes_missing_from_fragments(tmp_path, raw):
    barcodes = sorted(raw["barcode"].unique())
    pd.DataFrame({"barcode": [f"{b}-1" for b in barcodes], "cell_type": [b[0] for b in barcodes]}).to_csv(
        tmp_path / "cells.tsv", sep="\t", index=False
    )
    (tmp_path / "sizes.txt").write_text("".join(f"{c}\t{n}\n" for c, n in SIZES.items()))
    study = tmp_path / "study.yaml"
    study.write_text(
        f"name: s\noutput: out\ngenome: {{chrom_sizes: sizes.txt}}\nplatforms:\n"
        f"  - {{name: tenx, fragments: {FRAGMENTS}, cells: cells.tsv, cost: {{per_cell: 1, per_million_reads: 1}}}}\n"
    )
    result = run("validate", study)
    assert result.exit_code == 2
    text = result.output
    assert "Traceback" not in text
    assert "1 problem(s)" in text
    assert "platforms[0] (tenx).cells" in text and str(FRAGMENTS) in text
    assert "'-1'" in text  # the hint


def test_validate_missing_study_file(tmp_path):
    result = run("validate", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "study file not found" in result.output and "Traceback" not in result.output


# -- qc -------------------------------------------------------------------------------


def test_qc_one_row_per_cell_with_histogram(tmp_path, raw):
    barcodes = sorted(raw["barcode"].unique())
    cells = pd.DataFrame({"barcode": [*barcodes, "Z.404"], "cell_type": [b[0] for b in barcodes] + ["Z"]})
    cells.to_csv(tmp_path / "cells.tsv", sep="\t", index=False)
    out = tmp_path / "qc" / "x.tsv"
    result = run("qc", FRAGMENTS, "--cells", tmp_path / "cells.tsv", "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, sep="\t")
    assert list(table["barcode"]) == list(cells["barcode"])
    assert {"barcode", "cell_type", "n_fragments", "n_reads"} <= set(table.columns)
    expected = raw.groupby("barcode").agg(n_fragments=("count", "size"), n_reads=("count", "sum"))
    expected = expected.reindex(cells["barcode"], fill_value=0)
    np.testing.assert_array_equal(table["n_fragments"], expected["n_fragments"])
    np.testing.assert_array_equal(table["n_reads"], expected["n_reads"])
    assert table.loc[table["barcode"] == "Z.404", "n_fragments"].item() == 0
    assert list(table["cell_type"]) == list(cells["cell_type"])
    hist_path = out.with_name("x.fragment_lengths.tsv")
    assert hist_path.exists() and str(hist_path) in result.output
    hist = pd.read_csv(hist_path, sep="\t")
    lengths = np.minimum(raw["end"] - raw["start"], 1000)
    np.testing.assert_array_equal(hist["n_fragments"], np.bincount(lengths, minlength=1001))


# -- genome ---------------------------------------------------------------------------


def test_genome_prepare_plain_gzip(tmp_path):
    seqs: dict[str, list[str]] = {}
    with gzip.open(DM6_FASTA, "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                seqs[line[1:].split()[0]] = []
            else:
                seqs[list(seqs)[-1]].append(line.strip())
    seq = {k: "".join(v) for k, v in seqs.items()}
    dst = tmp_path / "g" / "dm6.fa.gz"
    result = run("genome", "prepare", DM6_FASTA, dst)
    assert result.exit_code == 0, result.output
    assert f"{len(seq)} sequences" in result.output
    assert f"{sum(map(len, seq.values())):,} bp" in result.output
    assert Path(f"{dst}.fai").exists() and Path(f"{dst}.gzi").exists()
    with pysam.FastaFile(str(dst)) as fa:
        assert list(fa.references) == list(seq)
        for name in ("2L", "X", "4"):
            assert fa.fetch(name, 5000, 5100) == seq[name][5000:5100]


def test_genome_prepare_missing_source(tmp_path):
    result = run("genome", "prepare", tmp_path / "absent.fa.gz", tmp_path / "out.fa.gz")
    assert result.exit_code == 2
    assert "FASTA file not found" in result.output and "Traceback" not in result.output
