"""The data phase at increasing sizes: time and peak memory per job kind, and the
projection to the published size (issue 18, item 4).

For each size, a simulated atlas of the published study's shape (16 cortex cell types,
the mouse preset's named scenarios; the large preset's platform profiles, about 14,000
unique fragments per 10x-like cell at 20,000 reads, and twice as many HyDrop-like cells
with 0.7x the fragments each) is simulated, then every job of its data phase
(``ingest``, ``peaks`` per platform and cell type, ``regions``, ``targets``,
``sequences``) and every ``draws`` job (the draw of a grid point per test fold, the model
phase's only data work) runs in its own process, one after another, as a SLURM job
would. Per job: wall seconds, the job process's own memory peak (``VmHWM``, as the job
record keeps it) and the peak of the largest process of its tree (``wait4``'s
``ru_maxrss``). MACS3 is also run alone, from a launcher of a few MB (a started program
inherits its parent's memory mark), on each platform's largest cell type and on an
mm10-like file (``benchmarks/ingest.py``'s generator), whose density per base is a
published cell type's. One test fold is trained per scenario here (the published study
has 10).

    python benchmarks/scale.py benchmarks/out/scale --cells 350 2800 14000

``--cells`` is the 10x-like platform's cells per size (350: about 5 M fragments per
10x-like platform; 14,000: 200 M). The projection to the published size (two platforms of a billion
fragments, 16 cell types, the mouse grid with 10 test folds) takes the per-fragment rates
of the largest size, MACS3's at mm10-like density, and shows its arithmetic.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

PUBLISHED_FRAGMENTS = 1_000_000_000
"""Fragments per platform of the published mouse atlas, in round numbers (issue 18)."""
PUBLISHED_FOLDS = 10
NODE_CORES = 16
PASS_RATE_50K_REGIONS = 18.4e6
"""Fragments/s of a pseudobulk pass (20 levels) over 50,000 regions (README, benchmarks/ingest.py)."""


def _preset(n_cells: int) -> str:
    """Register the benchmark's preset at one size and return its name."""
    from atlasbench.simulate.atlas import PRESETS

    name = f"scale-{n_cells}"
    PRESETS[name] = dataclasses.replace(
        PRESETS["paper"], platforms=PRESETS["large"].platforms, n_cells=(n_cells, 2 * n_cells), test_folds=(0,)
    )
    return name


def _vmhwm_mb() -> float:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _worker(args: argparse.Namespace) -> None:
    """In its own process: simulate (``--simulate N``) or run one job (``--job KEY``)."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    if args.simulate:
        from atlasbench.simulate.atlas import simulate_atlas

        simulate_atlas(args.atlas, _preset(args.simulate), seed=0)
    else:
        from atlasbench.study.executors import execute_job
        from atlasbench.study.loader import load_study

        execute_job(load_study(args.atlas / "study.yaml"), args.job)
    print(json.dumps({"own_peak_mb": _vmhwm_mb()}))


def _timed(command: list[str]) -> dict:
    """Run a worker; its wall seconds, its own memory peak and its tree's (``ru_maxrss``)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        sys.exit(f"{' '.join(command)} failed ({process.returncode})")
    own = json.loads(output.strip().splitlines()[-1])["own_peak_mb"]
    return {"seconds": time.perf_counter() - started, "own_peak_mb": own, "tree_peak_mb": usage.ru_maxrss / 1024}


def run_size(out: Path, n_cells: int) -> pd.DataFrame:
    """Simulate one size and run its data phase job by job, then MACS3 alone on each
    platform's largest cell type; one row per job (kept in the atlas's folder: a rerun
    would find every job's artefacts cached, so it reads them back instead)."""
    from atlasbench.study.data_stages import genome_stage, platform_stores, study_data
    from atlasbench.study.jobs import data_jobs, model_jobs, peaks_key
    from atlasbench.study.loader import load_study

    atlas = out / f"cells-{n_cells}"
    measured = atlas / "scale_jobs.csv"
    if measured.exists():
        return pd.read_csv(measured)
    here = [sys.executable, __file__, str(out), "--atlas", str(atlas)]
    rows = []
    if not (atlas / "study.yaml").exists():
        rows.append({"job": "simulate", "kind": "simulate", **_timed([*here, "--simulate", str(n_cells)])})
    study = load_study(atlas / "study.yaml")
    for job in data_jobs(study):
        print(f"{n_cells} cells: {job.key}", file=sys.stderr, flush=True)
        rows.append({"job": job.key, "kind": job.key.split("/")[0], **_timed([*here, "--job", job.key])})
    for job in model_jobs(study, study_data(study)):  # the draws: the model phase's data jobs
        if job.key.startswith("draws/"):
            print(f"{n_cells} cells: {job.key}", file=sys.stderr, flush=True)
            rows.append({"job": job.key, "kind": "draws", **_timed([*here, "--job", job.key])})
    stores = platform_stores(study, genome_stage(study), with_combined=False)
    fragments = {p: int(s.cells["n_fragments"].sum()) for p, s in stores.items()}
    by_type = {
        peaks_key(p, t): int(n)
        for p, s in stores.items()
        for t, n in s.cells.groupby("cell_type")["n_fragments"].sum().items()
    }
    for platform, store in stores.items():
        largest = store.cells.groupby("cell_type")["n_fragments"].sum().idxmax()
        rows.append({
            "job": f"macs3/{platform}/{largest}", "kind": "macs3 alone",
            "fragments": by_type[peaks_key(platform, largest)], **_macs3_alone(study, largest, store, atlas / "macs3"),
        })  # fmt: skip
    table = pd.DataFrame(rows)
    default = [by_type.get(key, fragments.get(key.split("/")[1] if "/" in key else "", sum(fragments.values())))
               for key in table["job"]]  # fmt: skip
    table["fragments"] = table["fragments"].fillna(pd.Series(default)).astype(np.int64)
    table["passes"] = 1  # a pass over the platform's data per ingest, targets and draw job
    table.insert(0, "cells_10x", n_cells)
    table.insert(1, "fragments_per_platform", fragments.get("10x", 0))
    table.to_csv(measured, index=False)
    return table


# A launcher of a few MB: a program it starts inherits its memory mark (exec keeps the
# larger of the old and new marks), so MACS3's own peak is measured from it, not from a
# job process of hundreds of MB.
_LAUNCH = (
    "import os, sys; pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ); "
    "_, status, usage = os.wait4(pid, 0); print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))"
)


def _macs3_alone(study, cell_type: str, store, folder: Path) -> dict:
    """MACS3 on one cell type's gzip BED, as a peak job runs it: its own seconds and peak."""
    import shutil

    from atlasbench.data.pseudobulk import write_fragment_bed
    from atlasbench.study.data_stages import effective_genome_size, genome_stage

    shutil.rmtree(folder, ignore_errors=True)
    bed = write_fragment_bed(store, cell_type, folder / "input.bed.gz")
    measured = _launch_macs3(bed, effective_genome_size(study, genome_stage(study))[0], folder)
    shutil.rmtree(folder)
    return measured


def _launch_macs3(bed: Path, genome_size: int, folder: Path) -> dict:
    """MACS3 with the study's default options, started from a small launcher."""
    from atlasbench.data.regions import _macs3_executable
    from atlasbench.study.schema import PeakCalling

    pc = PeakCalling()
    command = [
        _macs3_executable(), "callpeak", "--treatment", str(bed), "--name", "alone", "--outdir", str(folder),
        "--format", pc.input_format, "--gsize", str(genome_size), "--qvalue", str(pc.qvalue), "--nomodel",
        "--shift", str(pc.shift), "--extsize", str(pc.extsize), "--keep-dup", str(pc.keep_dup),
        "--call-summits", "--nolambda",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-S", "-c", _LAUNCH, *command], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    peak_kib, code = (int(x) for x in done.stdout.split())
    if code:
        sys.exit(f"MACS3 failed on {bed} ({code})")
    return {"seconds": seconds, "own_peak_mb": peak_kib / 1024, "tree_peak_mb": peak_kib / 1024}


def macs3_at_density(out: Path, millions: list[int]) -> pd.DataFrame:
    """MACS3 alone on the first N million fragments of an mm10-like file (the generator of
    ``benchmarks/ingest.py``: chr1-5, nucleosomal lengths, about 750 Mb), whose density
    per base is the published atlas's per cell type, where the simulated atlases above
    are dozens of times denser. One row per size."""
    import gzip

    from ingest import generate  # benchmarks/ingest.py, beside this script

    folder = out / "mm10-like"
    measured = folder / f"macs3-{'-'.join(map(str, millions))}.csv"
    if measured.exists():  # as for the atlases: measured once, read back by a rerun
        return pd.read_csv(measured)
    generate(folder, max(millions) * 1_000_000, 10_000, 6, 50_000, 0)
    sizes = pd.read_csv(folder / "chrom.sizes", sep="\t", header=None)[1].sum()
    rows = []
    for m in millions:
        bed = folder / f"first-{m}M.bed.gz"
        if not bed.exists():
            lines = pd.read_csv(folder / "fragments.tsv.gz", sep="\t", header=None, usecols=[0, 1, 2], nrows=m * 10**6)
            with gzip.open(bed, "wt", compresslevel=1) as handle:
                lines.to_csv(handle, sep="\t", header=False, index=False)
        print(f"MACS3 alone at mm10-like density: {m} M fragments", file=sys.stderr, flush=True)
        rows.append({"job": f"macs3-mm10-like/{m}M", "kind": "macs3 mm10-like", "fragments": m * 10**6,
                     "passes": 1, **_launch_macs3(bed, int(sizes), folder / "work")})  # fmt: skip
    table = pd.DataFrame(rows).assign(cells_10x=0, fragments_per_platform=0)
    table.to_csv(measured, index=False)
    return table


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per size and job kind: jobs, total and longest seconds, fragments/s, peaks."""
    rows = []
    for (cells, kind), group in table.groupby(["cells_10x", "kind"], sort=False):
        work = (group["fragments"] * group["passes"]).sum()
        rows.append(
            {
                "cells_10x": cells,
                "fragments_per_platform": group["fragments_per_platform"].iloc[0],
                "kind": kind,
                "jobs": len(group),
                "seconds": group["seconds"].sum(),
                "longest_s": group["seconds"].max(),
                "fragments_per_s": np.nan
                if kind in ("simulate", "regions", "sequences")
                else work / group["seconds"].sum(),
                "own_peak_mb": group["own_peak_mb"].max(),
                "tree_peak_mb": group["tree_peak_mb"].max(),
            }
        )
    return pd.DataFrame(rows)


def projection(table: pd.DataFrame) -> list[str]:
    """The published size's data phase from the largest size's rates, with the arithmetic."""
    from atlasbench.simulate.atlas import CORTEX_PROPORTIONS

    largest = table[table["cells_10x"] == table["cells_10x"].max()]
    f = PUBLISHED_FRAGMENTS
    lines = [f"Published size: 2 platforms x {f:,} fragments, 16 cell types, {PUBLISHED_FOLDS} test folds."]

    def rate(kind: str) -> float:
        g = largest[largest["kind"] == kind]
        return float((g["fragments"] * g["passes"]).sum() / g["seconds"].sum())

    ingest = f / rate("ingest")
    lines.append(
        f"ingest: {f:,} / {rate('ingest'):,.0f} fragments/s = {ingest / 60:.1f} min per platform, "
        "both platforms at once"
    )
    alone = table[table["kind"] == "macs3 mm10-like"]
    slope, intercept = np.polyfit(alone["fragments"], alone["own_peak_mb"], 1)
    macs3_rate = float(alone["fragments"].sum() / alone["seconds"].sum())
    shares = np.asarray(CORTEX_PROPORTIONS) / np.sum(CORTEX_PROPORTIONS)
    # a peak job: MACS3 at the mm10-like rate, plus the whole peak job at the simulated
    # atlas's rate (its input writing and start-up, and its own, faster MACS3: an upper bound)
    per_type = [f * s / macs3_rate + f * s / rate("peaks") for s in shares for _ in range(2)]  # two platforms
    waves = _longest_first(per_type, NODE_CORES)
    biggest = f * shares.max()
    lines.append(
        f"peaks: MACS3 at {macs3_rate:,.0f} fragments/s (mm10-like density) + the rest of a peak job at "
        f"{rate('peaks'):,.0f}; the largest cell type ({shares.max():.0%} of {f:,}) {max(per_type) / 60:.0f} min; "
        f"32 jobs on {NODE_CORES} cores (longest first) {waves / 60:.0f} min; MACS3 memory {intercept:,.0f} MB + "
        f"{slope * 1e6:,.1f} MB per million fragments = {(intercept + slope * biggest) / 1024:.1f} GB "
        "for the largest cell type"
    )
    draws = (3 + 6) * PUBLISHED_FOLDS  # 10x: 3 grid points below full, HyDrop: 6; a draw per test fold
    # the simulated atlases have hundreds of regions; at 50,000 benchmarks/ingest.py measures
    # 18.4 M fragments/s for a pass of 20 levels: the slower of the two is used
    pass_rate = min(rate("targets"), PASS_RATE_50K_REGIONS)
    per_pass = f / pass_rate
    rounds = math.ceil(draws / NODE_CORES)
    lines.append(
        f"targets and draws: a pass over {f:,} fragments at {pass_rate:,.0f} fragments/s = {per_pass / 60:.1f} min; "
        f"each platform's targets job makes one (the nested levels), then {draws} draw jobs (3 and 6 grid points "
        f"below full x {PUBLISHED_FOLDS} folds) one each: on {NODE_CORES} cores {rounds} rounds"
    )
    node = ingest + waves + per_pass + rounds * per_pass
    lines.append(
        f"one {NODE_CORES}-core node: {ingest / 60:.1f} + {waves / 60:.1f} + {per_pass / 60:.1f} + "
        f"{rounds} x {per_pass / 60:.1f} = {node / 60:.0f} min"
    )
    cluster = ingest + max(per_type) + 2 * per_pass
    lines.append(
        f"SLURM, every job at once: {ingest / 60:.1f} + {max(per_type) / 60:.1f} + {per_pass / 60:.1f} + "
        f"{per_pass / 60:.1f} = {cluster / 60:.0f} min"
    )
    return lines


def _longest_first(durations: list[float], cores: int) -> float:
    """Makespan of independent jobs on ``cores`` cores, longest first."""
    loads = [0.0] * cores
    for d in sorted(durations, reverse=True):
        loads[loads.index(min(loads))] += d
    return max(loads)


def _markdown(table: pd.DataFrame) -> str:
    """A Markdown table (numbers with thousands separators, one decimal for floats)."""

    def cell(x: object) -> str:
        if isinstance(x, float):
            return "" if math.isnan(x) else f"{x:,.1f}"
        return f"{x:,}" if isinstance(x, (int, np.integer)) else str(x)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + " --- |" * len(table.columns)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="output folder (one atlas per size, kept for reruns)")
    ap.add_argument("--cells", type=int, nargs="+", default=[350, 1400, 2800], help="10x-like cells per size")
    ap.add_argument("--macs3-millions", type=int, nargs="+", default=[4, 8, 16],
                    help="fragments (millions) of MACS3's runs at mm10-like density")  # fmt: skip
    ap.add_argument("--atlas", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--simulate", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--job", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.atlas is not None:
        _worker(args)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = [run_size(args.out, n) for n in args.cells]
    table = pd.concat([*sizes, macs3_at_density(args.out, args.macs3_millions)], ignore_index=True)
    table.to_csv(args.out / "scale_jobs.csv", index=False)
    result = summary(table)
    result.to_csv(args.out / "scale.csv", index=False)
    print(_markdown(result))
    print()
    print("\n".join(projection(table)))


if __name__ == "__main__":
    main()
