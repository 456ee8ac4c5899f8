"""Peak calling as one job per (platform, cell type) (issue 18, item 1): on the demo's
atlas the jobs, run in a pool of worker processes, give the consensus regions that one
MACS3 call after another on plain-text BEDs gives; MACS3 reads gzip; a killed peak job
is redone alone."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atlasbench.data.regions import consensus_regions, peaks_per_cell_type
from atlasbench.errors import AtlasbenchError
from atlasbench.io.names import file_stem
from atlasbench.simulate.atlas import simulate_atlas
from atlasbench.study import data_stages
from atlasbench.study.data_stages import effective_genome_size, genome_stage, platform_stores
from atlasbench.study.jobs import data_jobs, peaks_key
from atlasbench.study.loader import load_study
from atlasbench.study.records import read_record
from atlasbench.study.run import run_study

COLUMNS = ["chrom", "start", "end"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The demo's atlas (seed 0), simulated once."""
    folder = tmp_path_factory.mktemp("demo-peaks")
    simulate_atlas(folder, "demo", seed=0)
    return folder / "study.yaml"


def _study(study_file: Path, output: Path, workers: int = 1):
    study = load_study(study_file)
    executor = study.executor.model_copy(update={"n_workers": workers, "threads_per_worker": 1})
    return study.model_copy(update={"output": output, "executor": executor})


@pytest.fixture(scope="module")
def pooled(demo, tmp_path_factory):
    """The demo's data phase up to the consensus regions, in a pool of 2 worker processes."""
    study = _study(demo, tmp_path_factory.mktemp("pooled"), workers=2)
    run_study(study, "local", until="regions", progress=False)
    return study


def _resident_mb() -> float:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _regions(study) -> pd.DataFrame:
    record = read_record(study, "regions")
    assert record is not None and record["state"] == "done"
    return pd.read_csv(study.output / record["outputs"][0] / "regions.tsv", sep="\t", dtype={"chrom": str})


def test_one_job_per_platform_and_cell_type(pooled) -> None:
    jobs = {j.key: j for j in data_jobs(pooled)}
    genome = genome_stage(pooled)
    stores = platform_stores(pooled, genome, with_combined=False)
    expected = {peaks_key(p, t) for p, store in stores.items() for t in store.cell_types}
    assert len(expected) == 16  # 2 platforms x 8 cell types
    assert {k for k in jobs if k.startswith("peaks/")} == expected
    assert set(jobs["regions"].deps) == expected
    assert all(jobs[k].deps == (f"ingest/{k.split('/')[1]}",) for k in expected)
    assert all(read_record(pooled, k)["state"] == "done" for k in expected)
    # each job records its own process's memory peak
    assert all(50 < read_record(pooled, k)["peak_memory_mb"] < 2000 for k in [*expected, "regions"])


def test_pooled_peak_jobs_give_the_single_jobs_consensus(pooled, tmp_path) -> None:
    """The reference is the single job as it was: a plain-text BED per cell type, MACS3 on
    each in turn (``peaks_per_cell_type``), one consensus."""
    genome = genome_stage(pooled)
    stores = platform_stores(pooled, genome, with_combined=False)
    pc = pooled.regions.peak_calling
    peaks = {}
    for name, store in stores.items():
        types = store.cell_types
        rows: dict[str, list[pd.DataFrame]] = {t: [] for t in types}
        type_of_cell = store.cells["cell_type"].map({t: i for i, t in enumerate(types)}).to_numpy()
        for batch in store.batches():
            of_type = type_of_cell[batch["cell"]]
            for i, t in enumerate(types):
                sel = of_type == i
                chroms = np.asarray(store.chromosomes, dtype=object)[batch["chrom"][sel]]
                rows[t].append(pd.DataFrame({"c": chroms, "s": batch["start"][sel], "e": batch["end"][sel]}))
        beds = {}
        for t, frames in rows.items():
            beds[t] = tmp_path / name / f"{file_stem(t)}.bed"
            beds[t].parent.mkdir(parents=True, exist_ok=True)
            pd.concat(frames).to_csv(beds[t], sep="\t", header=False, index=False)
        called = peaks_per_cell_type(
            beds,
            tmp_path / "peaks" / name,
            effective_genome_size(pooled, genome)[0],
            qvalue=pc.qvalue,
            shift=pc.shift,
            extsize=pc.extsize,
            input_format=pc.input_format,
            keep_dup=pc.keep_dup,
        )
        peaks.update({f"{name}:{t}": df for t, df in called.items()})
    reference = consensus_regions(peaks, genome.chrom_sizes, width=pooled.regions.width)
    regions = _regions(pooled)
    assert len(regions) > 1000
    pd.testing.assert_frame_equal(regions[COLUMNS], reference[COLUMNS].reset_index(drop=True), check_dtype=False)
    # and the peak files are the same, cell type by cell type
    for key in peaks:
        platform, cell_type = key.split(":")
        (folder,) = (pooled.output / "peaks").glob(f"{platform}-*")
        ours = (folder / f"{file_stem(cell_type)}_peaks.narrowPeak").read_text()
        assert ours == (tmp_path / "peaks" / platform / f"{file_stem(cell_type)}_peaks.narrowPeak").read_text()


def test_peak_input_is_gzip_and_removed(pooled, tmp_path) -> None:
    """MACS3 is given the cell type's fragments gzip-compressed, and nothing of it is left."""
    genome = genome_stage(pooled)
    store = platform_stores(pooled, genome, with_combined=False)["10x"]
    path = data_stages.write_fragment_bed(store, "twi", tmp_path / "twi.bed.gz")
    with gzip.open(path, "rt") as handle:
        table = pd.read_csv(handle, sep="\t", header=None, names=COLUMNS, dtype={"chrom": str})
    twi = store.cells.index[store.cells["cell_type"].to_numpy() == "twi"]
    expected = sum(int(np.isin(b["cell"], twi).sum()) for b in store.batches())
    assert len(table) == expected > 10_000
    assert (table["end"] > table["start"]).all()
    assert path.stat().st_size < 0.4 * sum(len("\t".join(map(str, r))) + 1 for r in table.itertuples(index=False))
    leftovers = [p for p in (pooled.output / "peaks").rglob("*") if not p.name.endswith("_peaks.narrowPeak")]
    assert all(p.is_dir() and p.parent == pooled.output / "peaks" for p in leftovers)


def test_killed_peak_job_is_redone_alone(demo, pooled, tmp_path, monkeypatch) -> None:
    study = _study(demo, tmp_path / "out")
    real = data_stages.call_peaks

    def killed(bed, out_dir, name, *args, **kwargs):
        if Path(out_dir).name.startswith("hydrop-") and name == "grh":
            raise RuntimeError("killed")  # after its input is written, before MACS3 ends
        return real(bed, out_dir, name, *args, **kwargs)

    monkeypatch.setattr(data_stages, "call_peaks", killed)
    with pytest.raises(AtlasbenchError, match="peaks/hydrop/grh"):
        run_study(study, "local", until="regions", progress=False)
    assert read_record(study, "peaks/hydrop/grh")["state"] == "failed"
    assert read_record(study, "regions") is None  # blocked: never started
    done = sorted((study.output / "peaks").rglob("*_peaks.narrowPeak"))
    assert len(done) == 15
    stamps = {p: p.stat().st_mtime_ns for p in done}
    # a SIGKILL would also leave the input half-written: the next try removes it
    (folder,) = (study.output / "peaks").glob("hydrop-*")
    stale = folder / ".input-grh" / "grh.bed.gz"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"\x1f\x8b truncated")
    monkeypatch.setattr(data_stages, "call_peaks", real)
    rss = _resident_mb()
    np.ones(100_000_000).sum()  # an 800 MB peak of this process before the jobs run in it
    summary = run_study(study, "local", until="regions", progress=False)
    assert read_record(study, "regions")["peak_memory_mb"] < rss + 400  # the job's peak, not the process's
    assert [o.key for o in summary.outcomes] == ["peaks/hydrop/grh", "regions"]
    assert {p: p.stat().st_mtime_ns for p in done} == stamps
    assert not stale.parent.exists()
    pd.testing.assert_frame_equal(_regions(study), _regions(pooled))
