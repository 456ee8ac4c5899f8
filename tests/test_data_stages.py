"""The data stages end to end (atlasbench.study.data_stages.build_all_targets) on real data.

One study with MACS3 peak calling is built once for the module; the other tests use
small studies with a given regions.bed (no peak calling) in their own output folders.
"""

from __future__ import annotations

import gzip
import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

import atlasbench.study.data_stages as stages
from atlasbench.data.levels import level_key
from atlasbench.data.targets import read_targets
from atlasbench.errors import AtlasbenchError
from atlasbench.study.data_stages import build_all_targets
from atlasbench.study.loader import load_study

DATA = Path(__file__).parent / "data"
FRAGMENTS = DATA / "archr_pbsmall_hg19.fragments.tsv.gz"
DM6_FASTA = DATA / "dm6_1pct.fa.gz"
SIZES = {"chr5": 180915260, "chr11": 135006516}

READS = [50, 100, "all"]
CELLS = [60, "all"]

STUDY = """\
name: stages
output: results
seed: 11
genome:
  chrom_sizes: {sizes}
platforms:
  - name: tenx
    fragments: {fragments}
    cells: {cells}
    cost: {{per_cell: 0.471, per_million_reads: 2.875}}
regions:
  width: 500
targets:
  window: 1000
  normalization: {normalization}
  peak_height_top_k_percent: null
grid:
  reads_per_cell: [50, 100, all]
  cells: [60, all]
  min_cells_per_type: 10
folds:
  scheme: chromosome_block
  k: 2
"""


# -- helpers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    df = pd.read_csv(FRAGMENTS, sep="\t", header=None, names=["chrom", "start", "end", "barcode", "count"])
    df["cell_type"] = df["barcode"].str.split(".").str[0]
    return df


def write_inputs(folder: Path, barcodes, sizes=SIZES) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sizes_file = folder / "genome.sizes"
    sizes_file.write_text("".join(f"{c}\t{n}\n" for c, n in sizes.items()))
    cells = folder / "cells.tsv"
    pd.DataFrame({"barcode": list(barcodes), "cell_type": [b.split(".")[0] for b in barcodes]}).to_csv(
        cells, sep="\t", index=False
    )
    return sizes_file, cells


def centred_windows(var: pd.DataFrame, window: int) -> pd.DataFrame:
    """``window`` bp centred on each region (the region's midpoint, rounded down)."""
    mid = (var["start"].to_numpy(np.int64) + var["end"].to_numpy(np.int64)) // 2
    start = mid - window // 2
    return pd.DataFrame({"chrom": var["chrom"].astype(str).to_numpy(), "start": start, "end": start + window})


def hand_count(raw: pd.DataFrame, windows: pd.DataFrame, cell_types: list[str], rename=None) -> np.ndarray:
    """Tn5 insertions (start and end - 1 of each fragment) per cell type in each window."""
    rename = rename or {}
    chrom = raw["chrom"].map(lambda c: rename.get(c, c)).to_numpy()
    out = np.zeros((len(cell_types), len(windows)), dtype=np.int64)
    for i, t in enumerate(cell_types):
        for c in pd.unique(windows["chrom"]):
            sel = (chrom == c) & (raw["cell_type"].to_numpy() == t)
            pos = np.sort(np.concatenate([raw["start"].to_numpy()[sel], raw["end"].to_numpy()[sel] - 1]))
            on = (windows["chrom"] == c).to_numpy()
            w = windows[on]
            out[i, on] = np.searchsorted(pos, w["end"].to_numpy(), "left") - np.searchsorted(
                pos, w["start"].to_numpy(), "left"
            )
    return out


def all_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def hidden_leftovers(root: Path) -> list[str]:
    """Temporary names (atomic writes use ``.<name>.<random>.tmp<suffixes>``)."""
    return [p.as_posix() for p in root.rglob("*") if p.name.startswith(".") or re.search(r"\.tmp", p.name)]


def mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def small_study(folder: Path, barcodes, bed_lines: list[str], *, extra: str = "", sizes=SIZES,
                fragments: Path = FRAGMENTS, genome: str | None = None) -> Path:
    """A study on a given regions.bed (no MACS3), written to folder/study.yaml."""
    sizes_file, cells = write_inputs(folder, barcodes, sizes)
    (folder / "regions.bed").write_text("".join(line + "\n" for line in bed_lines))
    genome = genome or f"chrom_sizes: {sizes_file}"
    text = f"""\
name: small
output: out
genome:
  {genome}
platforms:
  - name: tenx
    fragments: {fragments}
    cells: {cells}
    cost: {{per_cell: 1.0, per_million_reads: 3.0}}
regions:
  bed: regions.bed
targets:
  window: 2000
  peak_height_top_k_percent: null
folds:
  scheme: chromosome_block
  k: 2
{extra}"""
    study = folder / "study.yaml"
    study.write_text(text)
    return study


# -- the module's MACS3 study ---------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory, raw):
    folder = tmp_path_factory.mktemp("stages")
    sizes, cells = write_inputs(folder, sorted(raw["barcode"].unique()))
    study_file = folder / "study.yaml"
    study_file.write_text(STUDY.format(sizes=sizes, fragments=FRAGMENTS, cells=cells, normalization="log1p_cpm"))
    study = load_study(study_file)
    return study_file, study, build_all_targets(study)


def test_targets_for_every_scenario_level(built):
    _, study, files = built
    assert list(files) == ["tenx"]
    expected = {level_key(r, c) for r, c in itertools.product(READS, CELLS)}
    assert set(files["tenx"]) == expected
    folder = {p.parent for p in files["tenx"].values()}
    assert len(folder) == 1
    (folder,) = folder
    assert folder.parent == study.output / "targets"
    regions_tables = list((study.output / "regions").glob("*/regions.tsv"))
    assert len(regions_tables) == 1
    regions = pd.read_csv(regions_tables[0], sep="\t")
    assert len(regions) > 100
    assert ((regions["end"] - regions["start"]) == 500).all()
    counts = {}
    for (reads, cells), key in zip(itertools.product(READS, CELLS),
                                   (level_key(r, c) for r, c in itertools.product(READS, CELLS))):
        adata = read_targets(files["tenx"][key])
        assert list(adata.obs_names) == ["B", "M", "T"]
        assert list(adata.var_names) == list(regions["name"])
        assert adata.X.shape == (3, len(regions))
        assert set(adata.var["fold"]) == {0, 1}
        assert (adata.uns["reads_per_cell"], adata.uns["cells"]) == (str(reads), str(cells))
        counts[reads, cells] = np.asarray(adata.layers["counts"])
    # levels are nested: fewer reads or fewer cells never add an insertion
    for c in CELLS:
        assert (counts[50, c] <= counts[100, c]).all() and (counts[100, c] <= counts["all", c]).all()
        assert counts[50, c].sum() < counts[100, c].sum() < counts["all", c].sum()
    for r in READS:
        assert (counts[r, 60] <= counts[r, "all"]).all() and counts[r, 60].sum() < counts[r, "all"].sum()
    # achieved levels: 60 of 150 cells keep the 50/50/50 proportions; depth near target
    levels = pd.read_csv(folder / "levels.tsv", sep="\t", dtype={"reads_per_cell": str, "cells": str})
    assert len(levels) == len(READS) * len(CELLS)
    sixty = levels[levels["cells"] == "60"]
    assert (sixty["n_cells"] == 60).all()
    assert (sixty[["n_cells_B", "n_cells_M", "n_cells_T"]] == 20).all().all()
    full_cells = levels[levels["cells"] == "all"].set_index("reads_per_cell")
    assert (full_cells["n_cells"] == 150).all()
    assert full_cells.loc["all", "mean_reads_per_cell"] == pytest.approx(29399 / 150, abs=0.01)  # 6 digits in the tsv
    assert full_cells.loc["50", "mean_reads_per_cell"] == pytest.approx(50, abs=3)
    assert full_cells.loc["100", "mean_reads_per_cell"] == pytest.approx(100, abs=3)
    qc = pd.read_csv(folder / "qc.tsv", sep="\t")
    assert len(qc) == 150 and qc["frip"].between(0, 1).all() and qc["frip"].max() > 0


def test_every_test_fold_trains_on_its_own_draw_of_each_level(built):
    study_file, study, files = built
    data = stages.study_data(load_study(study_file))
    folds = study.folds.test_fold_list
    assert len(folds) >= 2
    full = "reads-all_cells-all"
    assert {level for level, _ in data.draws["tenx"]} == set(files["tenx"]) - {full}
    assert {fold for _, fold in data.draws["tenx"]} == set(folds)
    # the full data is the same for every fold: the one file of the level
    assert {data.training_targets("tenx", full, f) for f in folds} == {files["tenx"][full]}
    for reads, cells in [(50, 60), (50, "all"), ("all", 60)]:
        level = level_key(reads, cells)
        draws = [read_targets(data.training_targets("tenx", level, f)) for f in folds]
        counts = [np.asarray(d.layers["counts"]) for d in draws]
        # the draws of one level differ from each other (their own cells or reads) ...
        assert not np.array_equal(counts[0], counts[1])
        assert len({d.uns["seed"] for d in draws}) == len(folds)
        # ... and sample the level as the nested sampling does: same cells, same depth
        nested = read_targets(files["tenx"][level])
        for d in draws:
            assert d.uns["n_cells"] == nested.uns["n_cells"]
            assert (d.uns["reads_per_cell"], d.uns["cells"]) == (str(reads), str(cells))
            assert d.uns["mean_reads_per_cell"] == pytest.approx(nested.uns["mean_reads_per_cell"], rel=0.1)
            assert np.asarray(d.layers["counts"]).sum() == pytest.approx(
                np.asarray(nested.layers["counts"]).sum(), rel=0.15
            )
    # a level of every read of some cells differs between draws only by which cells
    level = level_key("all", 60)
    full_counts = np.asarray(read_targets(files["tenx"][full]).layers["counts"])
    for f in folds:
        assert (np.asarray(read_targets(data.training_targets("tenx", level, f)).layers["counts"]) <= full_counts).all()


def test_each_draw_is_a_job_the_models_of_its_fold_wait_for(built):
    """Issue 18: a draw is a pass over the data; as jobs of their own, the draws run side by
    side, and a training job waits for its own draw only."""
    from atlasbench.study.jobs import draw_key, model_jobs, train_key

    study_file, study, _ = built
    data = stages.study_data(load_study(study_file))
    jobs = {j.key: j for j in model_jobs(study, data)}
    planned = {draw_key("tenx", level, fold) for level, fold in data.draws["tenx"]}
    assert {k for k in jobs if k.startswith("draws/")} == planned
    assert all(jobs[k].deps == ("targets/tenx",) for k in planned)
    seed = study.grid.seeds[0]
    for level, fold in data.draws["tenx"]:
        assert draw_key("tenx", level, fold) in jobs[train_key("tenx", level, fold, seed)].deps
        assert sum(d.startswith("draws/") for d in jobs[train_key("tenx", level, fold, seed)].deps) == 1
    full = train_key("tenx", "reads-all_cells-all", study.folds.test_fold_list[0], seed)
    assert not any(d.startswith("draws/") for d in jobs[full].deps)


@pytest.mark.parametrize(("cells", "warned"), [(100, True), (60, False)])
def test_draws_that_keep_most_of_the_library_are_named(tmp_path, raw, caplog, cells, warned):
    study_file = small_study(tmp_path, sorted(raw["barcode"].unique()), BED,
                             extra=f"grid: {{reads_per_cell: [all], cells: [{cells}]}}\n")
    with caplog.at_level("WARNING", logger="atlasbench.study.data_stages"):
        build_all_targets(load_study(study_file))
    named = [r.getMessage() for r in caplog.records if "share most of their data" in r.getMessage()]
    assert len(named) == int(warned)
    if warned:  # 100 of 150 cells keep about two thirds of the fragments (60 keep two fifths)
        assert named[0].startswith(f"tenx reads-all_cells-{cells}: each test fold's draw keeps ")
        assert 55 <= int(re.search(r"keeps (\d+)%", named[0]).group(1)) <= 80
        assert named[0].endswith("the platform comparison counts the library's sampling noise there only in part")


def test_full_level_counts_are_the_insertions_in_each_target_window(built, raw):
    _, _, files = built
    adata = read_targets(files["tenx"]["reads-all_cells-all"])
    var = adata.var
    expected = hand_count(raw, centred_windows(var, 1000), ["B", "M", "T"])
    assert expected.sum() > 1000
    np.testing.assert_array_equal(np.asarray(adata.layers["counts"]), expected)
    # library sizes: both insertions of every fragment of the cell type
    per_type = raw.groupby("cell_type").size()
    np.testing.assert_array_equal(adata.obs["n_insertions"].to_numpy(), 2 * per_type.loc[["B", "M", "T"]].to_numpy())
    # log1p_cpm by the definition
    cpm = expected / (2 * per_type.loc[["B", "M", "T"]].to_numpy())[:, None] * 1e6
    np.testing.assert_allclose(np.asarray(adata.X), np.log1p(cpm), rtol=1e-5)


def _refuse(name):
    def refuse(*args, **kwargs):
        raise AssertionError(f"{name} must not run: its artefact is cached")

    return refuse


def test_rerun_uses_the_cache(built, monkeypatch):
    study_file, _, files = built
    before = {key: path.stat().st_mtime_ns for key, path in files["tenx"].items()}
    for name in ("ingest", "pseudobulk", "call_peaks"):
        monkeypatch.setattr(stages, name, _refuse(name))
    again = build_all_targets(load_study(study_file))
    assert again == files
    assert {key: path.stat().st_mtime_ns for key, path in again["tenx"].items()} == before


def test_changed_target_config_rebuilds_targets_only(built, monkeypatch):
    study_file, study, files = built
    ingest_dirs = sorted((study.output / "ingest").iterdir())
    regions_dirs = sorted((study.output / "regions").iterdir())
    stamps = {d: mtimes(d) for d in ingest_dirs + regions_dirs}
    other = study_file.with_name("study_cpm.yaml")
    other.write_text(study_file.read_text().replace("normalization: log1p_cpm", "normalization: cpm"))
    monkeypatch.setattr(stages, "ingest", _refuse("ingest"))
    monkeypatch.setattr(stages, "call_peaks", _refuse("call_peaks"))
    rebuilt = build_all_targets(load_study(other))
    assert set(rebuilt["tenx"]) == set(files["tenx"])
    new_folder = rebuilt["tenx"]["reads-all_cells-all"].parent
    assert new_folder != files["tenx"]["reads-all_cells-all"].parent
    assert new_folder.parent == study.output / "targets"
    assert sorted((study.output / "ingest").iterdir()) == ingest_dirs
    assert sorted((study.output / "regions").iterdir()) == regions_dirs
    assert {d: mtimes(d) for d in ingest_dirs + regions_dirs} == stamps
    for key in ("reads-50_cells-60", "reads-all_cells-all"):
        old, new = read_targets(files["tenx"][key]), read_targets(rebuilt["tenx"][key])
        assert new.uns["normalization"] == "cpm"
        # same data, same seed: same counts; X is now counts per million
        np.testing.assert_array_equal(np.asarray(new.layers["counts"]), np.asarray(old.layers["counts"]))
        expected = np.asarray(new.layers["counts"]) / new.obs["n_insertions"].to_numpy()[:, None] * 1e6
        np.testing.assert_allclose(np.asarray(new.X), expected, rtol=1e-5)


# -- interruption ---------------------------------------------------------------------


BED = ["chr11\t2000000\t2000500", "chr11\t64000000\t64000500", "chr5\t1000000\t1000500", "chr5\t140000000\t140000500"]


def test_interrupted_run_resumes_from_complete_artefacts(tmp_path, raw, monkeypatch):
    study_file = small_study(tmp_path, sorted(raw["barcode"].unique()), BED,
                             extra="grid: {reads_per_cell: [100, all], cells: [60, all]}\n")
    output = tmp_path / "out"

    def crash(*args, **kwargs):
        raise RuntimeError("killed during pseudobulk")

    monkeypatch.setattr(stages, "pseudobulk", crash)
    with pytest.raises(RuntimeError, match="killed during pseudobulk"):
        build_all_targets(load_study(study_file))
    (ingest_dir,) = (output / "ingest").iterdir()
    (regions_dir,) = (output / "regions").iterdir()
    # only the finished stages' complete artefacts are there
    assert all_files(output) == {
        f"ingest/{ingest_dir.name}/fragments.parquet",
        f"ingest/{ingest_dir.name}/cells.parquet",
        f"ingest/{ingest_dir.name}/store.json",
        f"ingest/{ingest_dir.name}/dropped_contigs.tsv",
        f"regions/{regions_dir.name}/regions.tsv",
    }
    stamps = mtimes(ingest_dir)

    monkeypatch.undo()
    monkeypatch.setattr(stages, "ingest", _refuse("ingest"))
    files = build_all_targets(load_study(study_file))
    assert set(files["tenx"]) == {level_key(r, c) for r, c in itertools.product([100, "all"], [60, "all"])}
    assert list((output / "ingest").iterdir()) == [ingest_dir]
    assert mtimes(ingest_dir) == stamps
    assert hidden_leftovers(output) == []
    for path in files["tenx"].values():
        assert read_targets(path).n_obs == 3


def test_run_interrupted_while_writing_targets_leaves_no_partial_file(tmp_path, raw, monkeypatch):
    study_file = small_study(tmp_path, sorted(raw["barcode"].unique()), BED,
                             extra="grid: {reads_per_cell: [all], cells: [60, all]}\n")
    output = tmp_path / "out"
    real_write = stages.write_targets
    written = []

    def write_then_die(adata, path):
        if written:  # the second file: half written when the run is killed
            with stages.atomic_path(path) as tmp:
                tmp.write_bytes(b"\x89HDF partial")
                raise KeyboardInterrupt
        written.append(path)
        return real_write(adata, path)

    monkeypatch.setattr(stages, "write_targets", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        build_all_targets(load_study(study_file))
    (targets_dir,) = (output / "targets").iterdir()
    # no manifest, no partial file (the second file is the level's first draw)
    assert all_files(targets_dir) == {written[0].relative_to(targets_dir).as_posix()}
    assert hidden_leftovers(output) == []
    read_targets(written[0])  # the one finished file is complete

    monkeypatch.undo()
    files = build_all_targets(load_study(study_file))
    assert set(files["tenx"]) == {"reads-all_cells-60", "reads-all_cells-all"}
    assert {p.parent for p in files["tenx"].values()} == {targets_dir}
    assert (targets_dir / "manifest.json").exists()
    assert hidden_leftovers(output) == []
    for path in files["tenx"].values():
        assert read_targets(path).shape[0] == 3


# -- chromosome spellings and genome formats -------------------------------------------


def test_regions_bed_without_chr_prefix_is_mapped_to_the_genome(tmp_path, raw):
    # Ensembl spelling in the BED; "1" is on no chromosome of the study and is dropped
    bed = [line.removeprefix("chr") for line in BED] + ["1\t5000\t5500"]
    study_file = small_study(tmp_path, sorted(raw["barcode"].unique()), bed)
    files = build_all_targets(load_study(study_file))
    adata = read_targets(files["tenx"]["reads-all_cells-all"])
    expected_names = ["{}:{}-{}".format(*line.split("\t")) for line in BED]  # the genome's spelling
    assert list(adata.var_names) == expected_names
    assert list(adata.var["chrom"].astype(str)) == ["chr11", "chr11", "chr5", "chr5"]
    expected = hand_count(raw, centred_windows(adata.var, 2000), ["B", "M", "T"])
    assert expected.sum() > 0
    np.testing.assert_array_equal(np.asarray(adata.layers["counts"]), expected)


def _fasta_lengths_and_seq(path: Path) -> tuple[dict[str, int], dict[str, str]]:
    seqs: dict[str, list[str]] = {}
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                name = line[1:].split()[0]
                seqs[name] = []
            else:
                seqs[name].append(line.strip())
    joined = {k: "".join(v) for k, v in seqs.items()}
    return {k: len(v) for k, v in joined.items()}, joined


def test_plain_gzip_fasta_is_converted_once_and_chr_prefixed_fragments_accepted(tmp_path, monkeypatch):
    lengths, seqs = _fasta_lengths_and_seq(DM6_FASTA)
    rng = np.random.default_rng(0)
    barcodes = [f"{t}.{i}" for t in ("A", "B") for i in range(1, 21)]
    rows = []
    for chrom in ("2L", "2R"):  # tabix order; spelled with chr in the file
        starts = np.sort(rng.integers(0, lengths[chrom] - 1000, size=400))
        for s in starts:
            rows.append((f"chr{chrom}", int(s), int(s + rng.integers(50, 600)), str(rng.choice(barcodes)), 1))
    frags = pd.DataFrame(rows, columns=["chrom", "start", "end", "barcode", "count"])
    fragments = tmp_path / "dm6.fragments.tsv.gz"
    with gzip.open(fragments, "wt") as fh:
        frags.to_csv(fh, sep="\t", header=False, index=False)
    bed = ["2L\t20000\t120000", "2L\t150000\t230000", "2R\t10000\t110000", "2R\t150000\t250000"]
    study_file = small_study(tmp_path, barcodes, bed, fragments=fragments, genome=f"fasta: {DM6_FASTA}",
                             extra="grid: {min_cells_per_type: 5}\n")
    files = build_all_targets(load_study(study_file))

    (genome_dir,) = (tmp_path / "out" / "genome").iterdir()
    prepared = genome_dir / "genome.fa.gz"
    assert {p.name for p in genome_dir.iterdir()} == {"genome.fa.gz", "genome.fa.gz.fai", "genome.fa.gz.gzi"}
    with open(prepared, "rb") as fh:
        head = fh.read(16)
    assert head[:2] == b"\x1f\x8b" and head[3] & 0x04 and head[12:14] == b"BC"  # BGZF block header
    with pysam.FastaFile(str(prepared)) as fa:
        assert dict(zip(fa.references, fa.lengths)) == lengths
        assert fa.fetch("3R", 100_000, 100_120) == seqs["3R"][100_000:100_120]
    stamp = prepared.stat().st_mtime_ns

    adata = read_targets(files["tenx"]["reads-all_cells-all"])
    assert list(adata.var["chrom"].astype(str)) == ["2L", "2L", "2R", "2R"]
    frags["cell_type"] = frags["barcode"].str.split(".").str[0]
    expected = hand_count(frags, centred_windows(adata.var, 2000), ["A", "B"], rename={"chr2L": "2L", "chr2R": "2R"})
    assert expected.sum() > 0
    np.testing.assert_array_equal(np.asarray(adata.layers["counts"]), expected)

    # second run: the bgzip copy is reused, not rewritten
    monkeypatch.setattr(stages, "prepare_fasta", _refuse("prepare_fasta"))
    again = build_all_targets(load_study(study_file))
    assert again == files
    assert list((tmp_path / "out" / "genome").iterdir()) == [genome_dir]
    assert prepared.stat().st_mtime_ns == stamp


# -- combined platforms and named scenarios through the stages ------------------------


def test_combined_platform_and_matched_scenario(tmp_path, raw):
    barcodes = sorted(raw["barcode"].unique())
    odd = [b for b in barcodes if int(b.split(".")[1]) % 2]
    even = [b for b in barcodes if not int(b.split(".")[1]) % 2]
    _, cells_odd = write_inputs(tmp_path / "odd", odd)
    _, cells_even = write_inputs(tmp_path / "even", even)
    study_file = small_study(tmp_path, barcodes, BED, extra="grid: {cells: [30, all], min_cells_per_type: 5, "
                             "scenarios: [{name: matched, platform: pool, cells: matched}]}\n")
    text = study_file.read_text().replace(
        "platforms:\n",
        "platforms:\n"
        f"  - {{name: pool, union: [odd, even]}}\n"
        f"  - {{name: odd, fragments: {FRAGMENTS}, cells: {cells_odd}, "
        "cost: {per_cell: 1, per_million_reads: 1}}\n"
        f"  - {{name: even, fragments: {FRAGMENTS}, cells: {cells_even}, "
        "cost: {per_cell: 1, per_million_reads: 1}}\n",
    )
    study_file.write_text(text)
    files = build_all_targets(load_study(study_file))
    assert set(files) == {"tenx", "odd", "even", "pool"}
    assert set(files["odd"]) == set(files["even"]) == {"reads-all_cells-30", "reads-all_cells-all"}
    # matched: the smallest sourced platform has 75 cells (odd, even), not 150 (tenx)
    assert set(files["pool"]) == {"reads-all_cells-30", "reads-all_cells-75", "reads-all_cells-all"}
    full = {name: read_targets(files[name]["reads-all_cells-all"]) for name in ("odd", "even", "pool", "tenx")}
    pooled = np.asarray(full["pool"].layers["counts"])
    np.testing.assert_array_equal(pooled,
                                  np.asarray(full["odd"].layers["counts"]) + np.asarray(full["even"].layers["counts"]))
    np.testing.assert_array_equal(pooled, np.asarray(full["tenx"].layers["counts"]))
    levels = pd.read_csv(files["pool"]["reads-all_cells-75"].parent / "levels.tsv", sep="\t", dtype={"cells": str})
    matched = levels[levels["cells"] == "75"].iloc[0]
    assert matched["n_cells"] == 75
    assert [matched[f"n_cells_{t}"] for t in "BMT"] == [25, 25, 25]


def test_regions_bed_off_the_chromosome_end_is_a_clear_error(tmp_path, raw):
    bed = [*BED, "chr5\t180915000\t180916000"]  # chr5 is 180,915,260 bp long
    study_file = small_study(tmp_path, sorted(raw["barcode"].unique()), bed)
    with pytest.raises(AtlasbenchError,
                       match=r"regions\.bed: region chr5:180915000-180916000 runs off the end of chr5"):
        build_all_targets(load_study(study_file))


# -- MACS3's effective genome size and grid.min_cells_per_type (issue 16) ----------------


def _genome_size_study(tmp_path: Path, raw, *, name: str | None = None, explicit: int | None = None):
    barcodes = sorted(raw["barcode"].unique())
    sizes_file = tmp_path / "genome.sizes"
    genome = f"chrom_sizes: {sizes_file}" + (f"\n  name: {name}" if name else "")
    study_file = small_study(tmp_path, barcodes, BED, genome=genome)
    if explicit is not None:
        setting = f"  bed: regions.bed\n  peak_calling: {{genome_size: {explicit}}}\n"
        text = study_file.read_text().replace("  bed: regions.bed\n", setting)
        study_file.write_text(text)
    return load_study(study_file)


def test_effective_genome_size_sources(tmp_path, raw, caplog):
    sizes = {"chr1": 10, "chr2": 8}
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\nACGTNNNNAC\n>chr2\nnnACGTAC\n>chrUn\nACGT\n")
    with_fasta = stages.GenomeInfo(sizes, ["chr1", "chr2", "chrUn"], fasta)
    sizes_only = stages.GenomeInfo(sizes, ["chr1", "chr2"], None)
    # a known assembly: MACS's value (mm 1.87e9), FASTA or not
    mm10 = _genome_size_study(tmp_path / "a", raw, name="mm10")
    assert stages.effective_genome_size(mm10, with_fasta) == (1_870_000_000, "MACS value for genome.name 'mm10'")
    # unknown name with a FASTA: its non-N bases over the study's chromosomes (chrUn left out)
    other = _genome_size_study(tmp_path / "b", raw, name="myGenome1")
    assert stages.effective_genome_size(other, with_fasta) == (12, f"non-N bases of {fasta}")
    # counted once, for every peak job after: the count is read back from the study's output
    (cached,) = (other.output / "genome").glob("non_n_bases-*.json")
    cached.write_text(cached.read_text().replace('"non_n_bases": 12', '"non_n_bases": 13'))
    assert stages.effective_genome_size(other, with_fasta)[0] == 13
    fasta.write_text(">chr1\nACGTNNNNNN\n>chr2\nnnACGTAC\n")  # a changed FASTA is counted again
    assert stages.effective_genome_size(other, with_fasta)[0] == 10
    # chrom sizes only: their sum, with a warning
    with caplog.at_level("WARNING", logger="atlasbench.study.data_stages"):
        assert stages.effective_genome_size(other, sizes_only) == (18, "sum of chromosome sizes")
    assert any("set regions.peak_calling.genome_size" in r.getMessage() for r in caplog.records)
    # an explicit value wins over everything
    explicit = _genome_size_study(tmp_path / "c", raw, name="mm10", explicit=123_456)
    assert stages.effective_genome_size(explicit, with_fasta) == (123_456, "regions.peak_calling.genome_size")


def test_small_cell_type_is_left_out_of_a_levels_targets(tmp_path, raw, caplog):
    # 8 of the 50 B cells become "NK": the 60-cell level keeps about 3 of them (< 5), all keep 8
    barcodes = sorted(raw["barcode"].unique())
    study_file = small_study(tmp_path, barcodes, BED, extra="grid: {cells: [60, all], min_cells_per_type: 5}\n")
    cells = tmp_path / "cells.tsv"
    table = pd.read_csv(cells, sep="\t")
    nk = table.index[table["cell_type"] == "B"][:8]
    table.loc[nk, "cell_type"] = "NK"
    table.to_csv(cells, sep="\t", index=False)
    with caplog.at_level("WARNING", logger="atlasbench.data.pseudobulk"):
        files = build_all_targets(load_study(study_file))
    assert any("'NK'" in r.getMessage() and "cells level 60" in r.getMessage() for r in caplog.records)
    small = read_targets(files["tenx"]["reads-all_cells-60"])
    full = read_targets(files["tenx"]["reads-all_cells-all"])
    assert list(small.obs_names) == ["B", "M", "T"]
    assert list(full.obs_names) == ["B", "M", "NK", "T"]
    assert small.uns["dropped_cell_types"] == "NK"
    levels = pd.read_csv(files["tenx"]["reads-all_cells-60"].parent / "levels.tsv", sep="\t", keep_default_na=False)
    assert dict(zip(levels["cells"].astype(str), levels["dropped_cell_types"])) == {"60": "NK", "all": ""}


def test_bigwigs_of_both_kinds_at_the_full_level(tmp_path, raw):
    study_file = small_study(tmp_path, sorted(raw["barcode"].unique()), BED)
    text = study_file.read_text().replace("targets:\n  window: 2000\n", "targets:\n  window: 2000\n  bigwig: true\n")
    study_file.write_text(text)
    files = build_all_targets(load_study(study_file))
    root = files["tenx"]["reads-all_cells-all"].parent / "bigwig"
    assert all_files(root) == {f"reads-all_cells-all/{kind}/{t}.bw" for kind in ("cutsites", "coverage")
                               for t in ("B", "M", "T")}


def test_ingest_stage_drops_unknown_contigs_or_fails_in_error_mode(tmp_path, raw):
    frags = raw
    extra = frags.head(4).assign(chrom="JH584304.1", start=[10, 20, 30, 40], end=[60, 70, 80, 90])
    path = tmp_path / "with_unplaced.tsv.gz"
    with gzip.open(path, "wt", compresslevel=1) as fh:
        pd.concat([frags, extra])[["chrom", "start", "end", "barcode", "count"]].to_csv(
            fh, sep="\t", header=False, index=False
        )
    barcodes = sorted(frags["barcode"].unique())
    study_file = small_study(tmp_path, barcodes, BED, fragments=path)
    study = load_study(study_file)
    store = stages.ingest_stage(study, "tenx", stages.genome_stage(study))
    table = store.dropped_contigs
    assert table["contig"].tolist() == ["JH584304.1"] and table["fragments"].tolist() == [4]
    assert table["reason"].tolist() == ["not in genome"]

    strict = small_study(tmp_path, barcodes, BED, fragments=path,
                         genome=f"chrom_sizes: {tmp_path / 'genome.sizes'}\n  unknown_contigs: error")
    study = load_study(strict)
    # the cached store (made in drop mode) fails too
    with pytest.raises(AtlasbenchError, match=r"'JH584304\.1' \(4 fragments\)"):
        stages.ingest_stage(study, "tenx", stages.genome_stage(study))


def test_usable_fraction_from_sequenced_reads(tmp_path, raw, caplog):
    """Issue 16 item 3: read pairs in the annotated cells' fragments per sequenced read pair."""
    barcodes = sorted(raw["barcode"].unique())[:40]
    study_file = small_study(tmp_path, barcodes, BED, extra="grid: {reads_per_cell: [all], cells: [all]}\n")
    # by hand: the read pairs (count column) of the 40 cells' fragments on the study's chromosomes
    usable = int(raw.loc[raw["barcode"].isin(barcodes) & raw["chrom"].isin(list(SIZES)), "count"].sum())
    assert usable > 0
    data = stages.study_data(load_study(study_file))
    assert data.usable_fraction == {}  # no sequenced_reads: nothing computed, nothing written
    folder = data.targets["tenx"]["reads-all_cells-all"].parent
    assert not (folder / stages.SEQUENCING_FILE).exists()

    text = study_file.read_text()
    cost = "cost: {per_cell: 1.0, per_million_reads: 3.0}"
    study_file.write_text(text.replace(cost, f"{cost}\n    sequenced_reads: {4 * usable}"))
    with caplog.at_level("INFO", logger="atlasbench.study.data_stages"):
        data = stages.study_data(load_study(study_file))
    assert data.usable_fraction == {"tenx": pytest.approx(0.25)}
    record = __import__("json").loads((folder / stages.SEQUENCING_FILE).read_text())
    assert record["usable_read_pairs"] == usable and record["sequenced_read_pairs"] == 4 * usable
    assert record["usable_fraction"] == pytest.approx(0.25)
    assert "usable fraction 0.250" in caplog.text

    # a Cell Ranger summary.csv, read directly; a fraction over 1 is a warning
    (tmp_path / "summary.csv").write_text(f"Sample ID,Sequenced read pairs\ns1,{usable // 2}\n")
    study_file.write_text(text.replace(cost, f"{cost}\n    sequenced_reads: summary.csv"))
    caplog.clear()
    data = stages.study_data(load_study(study_file))
    assert data.usable_fraction["tenx"] == pytest.approx(usable / (usable // 2))
    assert "more read pairs in the cells' fragments" in caplog.text
    assert stages.usable_fraction(300, 400) == 0.75

    # sequenced_reads taken out again: the figure written before goes with it
    study_file.write_text(text)
    assert stages.study_data(load_study(study_file)).usable_fraction == {}
    assert not (folder / stages.SEQUENCING_FILE).exists()


def test_levels_in_sequenced_reads(tmp_path, raw):
    """Issue 16 item 3: with grid.reads_unit: sequenced a level counts sequenced read pairs
    per cell, R of them keeping R x the usable fraction usable read pairs per cell."""
    import json

    barcodes = sorted(raw["barcode"].unique())[:40]
    usable = int(raw.loc[raw["barcode"].isin(barcodes) & raw["chrom"].isin(list(SIZES)), "count"].sum())
    mean_sequenced = 4 * usable / 40  # usable fraction 0.25
    level = int(mean_sequenced / 2)  # half the sequencing: above the usable mean (usable / 40)
    assert level > usable / 40
    grid = f"grid: {{reads_per_cell: [{level}, all], cells: [all], reads_unit: sequenced, min_cells_per_type: 1}}\n"
    study_file = small_study(tmp_path, barcodes, BED, extra=grid)
    text = study_file.read_text()
    cost = "cost: {per_cell: 1.0, per_million_reads: 3.0}"
    # without sequenced_reads the unit cannot be converted: a clear error at load time
    with pytest.raises(AtlasbenchError, match=r"platforms\[0\]\.sequenced_reads.*required with grid\.reads_unit"):
        load_study(study_file)
    study_file.write_text(text.replace(cost, f"{cost}\n    sequenced_reads: {4 * usable}"))
    data = stages.study_data(load_study(study_file))
    key = level_key(level, "all")
    assert key in data.targets["tenx"]
    folder = data.targets["tenx"][key].parent
    levels = pd.read_csv(folder / "levels.tsv", sep="\t", dtype={"reads_per_cell": str})
    row = levels[levels["reads_per_cell"] == str(level)].iloc[0]
    assert row["reads_unit"] == "sequenced read pairs"
    assert row["p"] == pytest.approx(level / mean_sequenced)
    # achieved: binomial thinning of the usable read pairs at p ~ 0.5
    assert row["mean_reads_per_cell"] == pytest.approx(level * 0.25, rel=0.03)
    assert row["mean_sequenced_reads_per_cell"] == pytest.approx(row["mean_reads_per_cell"] / 0.25)
    assert read_targets(data.targets["tenx"][key]).uns["reads_unit"] == "sequenced read pairs"
    assert json.loads((folder / stages.SEQUENCING_FILE).read_text())["usable_fraction"] == pytest.approx(0.25)
    # what `atlasbench cost` prices with, from the cached stores
    assert stages.study_usable_fractions(load_study(study_file)) == pytest.approx({"tenx": 0.25})

    # in usable read pairs the same level is above what the platform has: skipped
    study_file.write_text(study_file.read_text().replace("reads_unit: sequenced", "reads_unit: usable"))
    data = stages.study_data(load_study(study_file))
    assert key not in data.targets["tenx"]


def test_combined_platform_usable_fraction_from_its_parts(tmp_path, raw):
    """A pool's sequenced read pairs are its parts' pooled read pairs at each part's fraction."""
    import json

    barcodes = sorted(raw["barcode"].unique())
    first, second = barcodes[:30], barcodes[30:60]
    study_file = small_study(tmp_path, first, BED, extra="grid: {reads_per_cell: [all], cells: [all]}\n")
    cells2 = tmp_path / "cells2.tsv"
    pd.DataFrame({"barcode": second, "cell_type": [b.split(".")[0] for b in second]}).to_csv(
        cells2, sep="\t", index=False
    )
    used = raw[raw["chrom"].isin(list(SIZES))]
    u1 = int(used.loc[used["barcode"].isin(first), "count"].sum())
    u2 = int(used.loc[used["barcode"].isin(second), "count"].sum())
    cost = "cost: {per_cell: 1.0, per_million_reads: 3.0}"
    platforms = (
        f"{cost}\n    sequenced_reads: {2 * u1}\n"
        f"  - name: other\n    fragments: {FRAGMENTS}\n    cells: {cells2}\n    {cost}\n"
        f"    sequenced_reads: {5 * u2}\n"
        "  - name: both\n    union: [tenx, other]"
    )
    study_file.write_text(study_file.read_text().replace(cost, platforms))
    data = stages.study_data(load_study(study_file))
    assert data.usable_fraction["tenx"] == pytest.approx(0.5)
    assert data.usable_fraction["other"] == pytest.approx(0.2)
    assert data.usable_fraction["both"] == pytest.approx((u1 + u2) / (2 * u1 + 5 * u2))
    record = json.loads((data.targets["both"]["reads-all_cells-all"].parent / stages.SEQUENCING_FILE).read_text())
    assert record["sequenced_read_pairs"] == 2 * u1 + 5 * u2 and record["source"] == "parts tenx, other"


def test_a_level_too_sparse_to_normalise_names_its_grid_point(tmp_path, raw):
    # on the 200 densest 500 bp windows the full data normalise (strong regions open in every cell
    # type), but 2 reads per cell leave none: the error says which grid point and what to do
    windows = raw.assign(w=raw["start"] // 500).groupby(["chrom", "w"]).size().nlargest(200).reset_index()
    bed = sorted(f"{c}\t{w * 500}\t{w * 500 + 500}" for c, w in zip(windows["chrom"], windows["w"]))
    barcodes = sorted(raw["barcode"].unique())
    for reads in ("[all]", "[2, all]"):
        study_file = small_study(tmp_path / reads, barcodes, bed,
                                 extra=f"grid: {{reads_per_cell: {reads}, cells: [all]}}\n")
        study_file.write_text(study_file.read_text().replace("top_k_percent: null", "top_k_percent: 0.05"))
        if reads == "[all]":
            assert list(build_all_targets(load_study(study_file))["tenx"]) == ["reads-all_cells-all"]
            continue
        with pytest.raises(AtlasbenchError, match=r"tenx: targets of grid point reads-2_cells-all \(150 cells, 2 reads "
                                                  r"per cell\): no ubiquitous .*drop it from the grid"):
            build_all_targets(load_study(study_file))
