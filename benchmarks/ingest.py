"""Benchmark: fragments file -> atlasbench store -> pseudobulk of a whole level grid.

Generates (once, cached) a realistic synthetic 10x-style scATAC fragments file and times,
side by side and each in its own subprocess:

* ``zcat FILE | wc -l``: the decompression floor every reader of the file pays;
* atlasbench ``ingest`` (parse + validate + per-cell QC + Parquet store) and
  ``pseudobulk`` (every reads_per_cell x cells level in one pass over the store);
* SnapATAC2 ``pp.import_fragments`` on the same file (whitelist = the annotated cells,
  backed ``.h5ad`` output, ``sorted_by_barcode=False``) and, as a rough counterpart of
  one pseudobulk level, ``pp.make_peak_matrix`` over the same windows summed per cell
  type. SnapATAC2 is a peer, not a dependency: it is used only when importable.

It also runs atlasbench on a file with a quarter of the fragments, to show that peak
memory does not grow with the number of fragments.

    python benchmarks/ingest.py --fragments 20000000 --out benchmarks/out

Results: a Markdown table on stdout and in ``OUT/ingest.md``, raw numbers in
``OUT/ingest.json``. Generated data is cached in ``OUT/data/`` (reruns reuse it);
scratch outputs go to ``OUT/work/`` and are removed at the end unless ``--keep-work``.

The synthetic data: a few mouse-sized chromosomes (mm10 chr1-chr5), ``--cells`` cells
with 10x-style barcodes (``ACGT...-1``) in ``--cell-types`` cell types of unequal size,
plus three times as many background barcodes (empty droplets, not in the cell table) with
~6% of the fragments; ``--regions`` 500 bp peaks, a quarter of them specific to one cell
type, holding ~55% of the cells' fragments (FRiP); fragment lengths drawn from a
nucleosomal ladder (nucleosome-free, mono-, di-, tri-nucleosome); reads per fragment
geometric (mean ~2.2, i.e. ~55% duplication). The file is sorted by chromosome and start
and written as BGZF (what ``bgzip`` writes) with ISA-L, in chunks, so generation never
holds more than one chunk of fragments.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from atlasbench.io.bgzf import BgzfWriter, write_fragments
from atlasbench.simulate.platforms import fragment_lengths, random_barcodes

GENERATOR_VERSION = 2
# mm10 chromosome lengths: "a few mouse-sized chromosomes" (846 Mb in all)
CHROM_SIZES = {
    "chr1": 195_471_971,
    "chr2": 182_113_224,
    "chr3": 160_039_680,
    "chr4": 156_508_116,
    "chr5": 151_834_684,
}
CELL_TYPE_NAMES = [
    "excitatory_neuron", "inhibitory_neuron", "astrocyte", "oligodendrocyte",
    "microglia", "OPC", "endothelial", "pericyte",
]
PEAK_WIDTH = 500
FRIP_CELLS = 0.55  # fraction of a cell's fragments from peaks
FRIP_EMPTY = 0.20
EMPTY_SHARE = 0.06  # fraction of all fragments from background barcodes
EMPTY_PER_CELL = 3  # background barcodes per annotated cell
DUP_P = 0.45  # reads per fragment ~ Geometric(DUP_P): mean 2.2
def _params(n_fragments: int, n_cells: int, n_types: int, n_regions: int, seed: int) -> dict:
    return {"generator_version": GENERATOR_VERSION, "n_fragments": n_fragments, "n_cells": n_cells,
            "n_types": n_types, "n_regions": n_regions, "seed": seed}


def cached_dataset(folder: Path, params: dict) -> dict | None:
    """The manifest of a complete dataset in ``folder`` made with ``params``, else None."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("params") != params or not (folder / "fragments.tsv.gz").exists():
        return None
    return manifest


def generate(folder: Path, n_fragments: int, n_cells: int, n_types: int, n_regions: int, seed: int,
             chunk: int = 2_000_000, threads: int = 2) -> dict:
    """Write a synthetic dataset into ``folder`` (skipped when a matching one is there).

    Files: ``fragments.tsv.gz`` (BGZF), ``cells.tsv`` (barcode, cell_type), ``regions.bed``
    (chrom, start, end, name), ``tss.tsv`` (chrom, pos), ``chrom.sizes`` and
    ``manifest.json`` (written last: its presence marks a complete dataset).
    """
    import pandas as pd
    import pyarrow as pa

    params = _params(n_fragments, n_cells, n_types, n_regions, seed)
    manifest_path = folder / "manifest.json"
    cached = cached_dataset(folder, params)
    if cached is not None:
        return cached
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    chroms = list(CHROM_SIZES)
    sizes = np.array([CHROM_SIZES[c] for c in chroms], dtype=np.int64)
    genome_length = int(sizes.sum())

    # regions: 500 bp peaks spread over the chromosomes, sorted, non-overlapping
    per_chrom = rng.multinomial(n_regions, sizes / genome_length)
    margin, gap = 20_000, PEAK_WIDTH + 20
    reg_chrom, reg_start = [], []
    for cid, (size, k) in enumerate(zip(sizes, per_chrom)):
        u = np.sort(rng.integers(0, size - 2 * margin - k * gap, k))
        reg_chrom.append(np.full(k, cid))
        reg_start.append(margin + u + np.arange(k) * gap)
    reg_chrom = np.concatenate(reg_chrom)
    reg_start = np.concatenate(reg_start)
    reg_centre = reg_start + PEAK_WIDTH // 2

    # cells: types of unequal size, depth lognormal; background barcodes (empty droplets)
    n_empty = EMPTY_PER_CELL * n_cells
    barcodes = random_barcodes(rng, n_cells + n_empty, 16)
    type_share = 0.75 ** np.arange(n_types)
    type_share /= type_share.sum()
    type_counts = np.maximum(np.floor(type_share * n_cells).astype(int), 1)
    type_counts[0] += n_cells - type_counts.sum()
    cell_type = rng.permutation(np.repeat(np.arange(n_types), type_counts))
    group = np.concatenate([cell_type, np.full(n_empty, n_types)])  # group n_types: empty droplets
    depth = np.concatenate([rng.lognormal(0.0, 0.5, n_cells), rng.lognormal(0.0, 1.0, n_empty)])
    depth[:n_cells] *= (1 - EMPTY_SHARE) / depth[:n_cells].sum()
    depth[n_cells:] *= EMPTY_SHARE / depth[n_cells:].sum()
    n_groups = n_types + 1
    group_total = n_fragments * np.bincount(group, weights=depth, minlength=n_groups)
    frip = np.array([FRIP_CELLS] * n_types + [FRIP_EMPTY])
    members = [np.flatnonzero(group == g) for g in range(n_groups)]
    cum_depth = [np.cumsum(depth[m]) for m in members]

    # peak accessibility per group: shared base x cell-type specificity
    base = rng.lognormal(0.0, 0.8, n_regions)
    spec = np.ones((n_regions, n_groups))
    specific = np.flatnonzero(rng.random(n_regions) < 0.25)
    owner = rng.integers(0, n_types, len(specific))
    spec[specific, :n_types] = 0.15
    spec[specific, owner] = 6.0
    spec[:, n_types] = spec[:, :n_types] @ (type_counts / n_cells)  # ambient: the cells' mix
    weight = base[:, None] * spec
    peak_mass = weight / weight.sum(axis=0) * (group_total * frip)  # expected fragments (peak, group)
    bg_rate = group_total * (1 - frip) / genome_length  # expected fragments per bp, per group

    # windows: each chromosome cut into pieces of ~chunk expected fragments
    windows = []  # (cid, lo, hi, first region, last region)
    for cid, size in enumerate(sizes):
        rows = np.flatnonzero(reg_chrom == cid)
        expected = peak_mass[rows].sum() + bg_rate.sum() * size
        n_win = max(1, int(np.ceil(expected / chunk)))
        edges = np.linspace(0, size, n_win + 1).astype(np.int64)
        for lo, hi in itertools.pairwise(edges):
            a, b = np.searchsorted(reg_centre[rows], [lo, hi])
            windows.append((cid, int(lo), int(hi),
                            int(rows[0] + a) if len(rows) else 0, int(rows[0] + b) if len(rows) else 0))
    win_mass = np.array([peak_mass[a:b].sum() + bg_rate.sum() * (hi - lo) for _, lo, hi, a, b in windows])
    win_n = rng.multinomial(n_fragments, win_mass / win_mass.sum())

    barcodes_pa = pa.array(barcodes)
    tmp = folder / ".fragments.tsv.gz.tmp"
    writer = BgzfWriter(tmp, threads=threads)
    written = 0
    for (cid, lo, hi, a, b), n in zip(windows, win_n):
        if n == 0:
            continue
        pm = peak_mass[a:b].ravel()
        cats = np.concatenate([pm, bg_rate * (hi - lo)])
        counts = rng.multinomial(n, cats / cats.sum())
        n_peak = int(counts[: len(pm)].sum())
        cat = np.repeat(np.arange(len(pm)), counts[: len(pm)])
        peak = a + cat // n_groups
        g = np.concatenate([cat % n_groups, np.repeat(np.arange(n_groups), counts[len(pm):])])
        length = np.concatenate([fragment_lengths(rng, n_peak, 0.65), fragment_lengths(rng, n - n_peak, 0.35)])
        start = np.concatenate([
            reg_centre[peak] + np.rint(rng.normal(0.0, 75.0, n_peak)).astype(np.int64) - length[:n_peak] // 2,
            rng.integers(lo, hi, n - n_peak),
        ])
        start = np.clip(start, lo, hi - 1)
        end = np.minimum(start + length, sizes[cid])
        cell = np.empty(n, dtype=np.int64)
        for gi in range(n_groups):
            sel = np.flatnonzero(g == gi)
            if len(sel):
                cd = cum_depth[gi]
                pick = np.searchsorted(cd, rng.random(len(sel)) * cd[-1], side="right")
                cell[sel] = members[gi][np.minimum(pick, len(cd) - 1)]
        count = rng.geometric(DUP_P, n)
        order = np.argsort(start, kind="stable")
        write_fragments(writer, chroms[cid], start[order], end[order], cell[order], count[order], barcodes_pa)
        written += int(n)
    writer.close()
    os.replace(tmp, folder / "fragments.tsv.gz")

    names = np.array(CELL_TYPE_NAMES[:n_types] if n_types <= len(CELL_TYPE_NAMES)
                     else [f"type_{i}" for i in range(n_types)])
    pd.DataFrame({"barcode": barcodes[:n_cells], "cell_type": names[cell_type]}).to_csv(
        folder / "cells.tsv", sep="\t", index=False)
    chrom_names = np.array(chroms)[reg_chrom]
    pd.DataFrame({"chrom": chrom_names, "start": reg_start, "end": reg_start + PEAK_WIDTH,
                  "name": [f"peak{i}" for i in range(n_regions)]}).to_csv(
        folder / "regions.bed", sep="\t", header=False, index=False)
    promoters = np.arange(0, n_regions, 5)  # every fifth peak holds a TSS
    pd.DataFrame({"chrom": chrom_names[promoters], "pos": reg_centre[promoters]}).to_csv(
        folder / "tss.tsv", sep="\t", index=False)
    (folder / "chrom.sizes").write_text("".join(f"{c}\t{s}\n" for c, s in CHROM_SIZES.items()))
    manifest = {"params": params, "fragments_written": written, "seconds": round(time.perf_counter() - t0, 1),
                "bytes": (folder / "fragments.tsv.gz").stat().st_size, "n_background_barcodes": n_empty,
                "generator_peak_rss_mb": round(_peak_rss_mb())}
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


# --------------------------------------------------------------------------------------
# Contenders: each runs in its own subprocess (`--worker NAME`) and reports JSON
# --------------------------------------------------------------------------------------
def _maxrss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: KiB


def _peak_rss_mb() -> float:
    """This process's own RSS high-water mark (VmHWM), in MB.

    ``ru_maxrss`` is not used for Python workers: a process started by vfork+exec (as
    Python's subprocess does) starts with its parent's high-water mark, so every worker
    would report at least the launcher's peak. VmHWM belongs to the process's own address
    space, which exec creates afresh.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return _maxrss_mb(resource.RUSAGE_SELF)


def _windows(regions, window: int | None):
    import pandas as pd

    if window is None:
        return regions[["chrom", "start", "end"]]
    mid = (regions["start"].to_numpy() + regions["end"].to_numpy()) // 2
    start = (mid - window // 2).clip(min=0)
    return pd.DataFrame({"chrom": regions["chrom"].to_numpy(), "start": start, "end": mid - window // 2 + window})


def _grid(store) -> tuple[list, list]:
    """A realistic level grid scaled to the data: 4 depth levels + all, 3 cell levels + all."""
    has = store.cells["n_fragments"] > 0
    mean_reads = float(store.cells.loc[has, "n_reads"].mean())
    n = int(has.sum())

    def nice(x: float) -> int:
        digits = max(int(np.floor(np.log10(x))) - 1, 0)
        return int(round(x, -digits))

    reads = [nice(mean_reads * f) for f in (0.1, 0.25, 0.5, 0.75)] + ["all"]
    cells = [nice(n * f) for f in (0.125, 0.25, 0.5)] + ["all"]
    return reads, cells


def run_worker(name: str, data: Path, work: Path, window: int | None, seed: int, profile: Path | None) -> dict:
    import pandas as pd

    frag = data / "fragments.tsv.gz"
    rss_start = _peak_rss_mb()
    info: dict = {}
    if name == "zcat":
        # GNU time reports zcat's own high-water mark; a child forked from this Python
        # process would otherwise inherit the interpreter's RSS in ru_maxrss
        gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
        rss_file = work / ".zcat.rss"
        timed_zcat = f"{gnu_time} -f %M -o {rss_file} zcat" if gnu_time else "zcat"
        t = time.perf_counter()
        out = subprocess.run(f"{timed_zcat} {frag} | wc -l", shell=True, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        info["lines"] = int(out.stdout.strip())
        rss = int(rss_file.read_text().split()[-1]) / 1024.0 if gnu_time else _maxrss_mb(resource.RUSAGE_CHILDREN)
        return {"seconds": seconds, "peak_rss_mb": rss, **info}

    def timed(fn):
        if profile is None:
            t = time.perf_counter()
            result = fn()
            return result, time.perf_counter() - t
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        t = time.perf_counter()
        result = prof.runcall(fn)
        seconds = time.perf_counter() - t
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).strip_dirs()
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(25)
        profile.write_text(buf.getvalue())
        return result, seconds

    if name == "atlasbench-ingest":
        from atlasbench.data.ingest import ingest, read_cell_table

        cells = read_cell_table(data / "cells.tsv", ["fragments"])
        tss = pd.read_csv(data / "tss.tsv", sep="\t", dtype={"chrom": str})
        shutil.rmtree(work / "store", ignore_errors=True)
        rss_start = _peak_rss_mb()
        store, seconds = timed(lambda: ingest([frag], cells, work / "store", list(CHROM_SIZES), samples=["fragments"],
                                              tss=tss))
        info["fragments_in_store"] = int(store.cells["n_fragments"].sum())
        info["cells_with_data"] = int((store.cells["n_fragments"] > 0).sum())
    elif name == "atlasbench-pseudobulk":
        from atlasbench.data.ingest import open_store
        from atlasbench.data.pseudobulk import pseudobulk
        from atlasbench.data.regions import read_bed

        store = open_store(work / "store")
        regions = read_bed(data / "regions.bed")
        reads, cells = _grid(store)
        info["grid"] = {"reads_per_cell": reads, "cells": cells, "window": window}
        rss_start = _peak_rss_mb()
        pb, seconds = timed(lambda: pseudobulk(store, regions, reads, cells, seed=seed, window=window))
        info["counts_shape"] = list(pb.counts.shape)
        info["frip_all"] = float(pb.counts[-1, -1].sum() / pb.library_size[-1, -1].sum())
        info["fragments_in_store"] = int(store.cells["n_fragments"].sum())
    elif name == "snapatac2-import":
        import snapatac2 as snap

        whitelist = pd.read_csv(data / "cells.tsv", sep="\t", dtype=str)["barcode"].tolist()
        for p in (work / "snap.h5ad",):
            p.unlink(missing_ok=True)
        (work / "snaptmp").mkdir(parents=True, exist_ok=True)
        rss_start = _peak_rss_mb()
        adata, seconds = timed(lambda: snap.pp.import_fragments(
            frag, chrom_sizes=dict(CHROM_SIZES), file=work / "snap.h5ad", sorted_by_barcode=False,
            whitelist=whitelist, min_num_fragments=0, tempdir=work / "snaptmp"))
        info["n_obs"] = int(adata.n_obs)
        info["snapatac2_version"] = snap.__version__
        adata.close()
    elif name == "snapatac2-peaks":
        import scipy.sparse as sp
        import snapatac2 as snap

        cells = pd.read_csv(data / "cells.tsv", sep="\t", dtype=str)
        regions = pd.read_csv(data / "regions.bed", sep="\t", header=None, names=["chrom", "start", "end", "name"])
        bed = work / "windows.bed"
        _windows(regions, window).to_csv(bed, sep="\t", header=False, index=False)
        adata = snap.read(work / "snap.h5ad", backed="r")
        type_of = dict(zip(cells["barcode"], cells["cell_type"]))
        labels = pd.Categorical([type_of[b] for b in adata.obs_names])
        rss_start = _peak_rss_mb()

        def peaks_then_pseudobulk():
            pm = snap.pp.make_peak_matrix(adata, peak_file=bed, counting_strategy="insertion")
            indicator = sp.csr_matrix((np.ones(len(labels)), (labels.codes, np.arange(len(labels)))))
            return indicator @ pm.X

        bulk, seconds = timed(peaks_then_pseudobulk)
        info["shape"] = list(bulk.shape)
        adata.close()
    else:
        raise SystemExit(f"unknown worker {name}")
    info.update(seconds=seconds, peak_rss_mb=_peak_rss_mb(), rss_before_work_mb=rss_start)
    return info


def run_contender(name: str, data: Path, work: Path, window: int | None, seed: int,
                  profile: Path | None = None) -> dict:
    """Run one contender in a fresh subprocess; return its JSON report."""
    result = work / f".{name}.json"
    result.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--worker", name, "--data", str(data), "--work", str(work),
           "--result", str(result), "--seed", str(seed), "--window", str(window or 0)]
    if profile is not None:
        cmd += ["--profile-to", str(profile)]
    env = dict(os.environ, TQDM_DISABLE="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(result.read_text())


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------
def _row(label: str, seconds: float | None, n: int, rss: float | None, floor: float | None) -> str:
    if seconds is None:
        return f"| {label} | - | - | - | - |"
    ratio = f"{seconds / floor:.1f}x" if floor else "-"
    return f"| {label} | {seconds:.1f} | {n / seconds / 1e6:.2f} M | {rss:,.0f} | {ratio} |"


def report(results: dict, meta: dict) -> str:
    main, small = results["main"], results.get("small", {})
    n = meta["n_fragments"]
    floor = main["zcat"]["seconds"]
    lines = [
        f"# Ingest benchmark: {n:,} fragments",
        "",
        (f"{meta['n_cells']:,} annotated cells ({meta['n_types']} cell types) + {meta['n_background_barcodes']:,} "
         f"background barcodes, {meta['n_regions']:,} x {PEAK_WIDTH} bp regions, {len(CHROM_SIZES)} mouse chromosomes; "
         f"file {meta['file_mb']:,.0f} MB BGZF. Machine: {meta['machine']}. atlasbench: {meta['atlasbench']}. "
         f"Best of {meta['repeat']} run(s) per contender."),
        "",
        "| contender | seconds | fragments/s | peak RSS MB | ratio to zcat |",
        "| --- | ---: | ---: | ---: | ---: |",
        _row("zcat FILE \\| wc -l (decompression floor)", floor, n, main["zcat"]["peak_rss_mb"], floor),
    ]
    ing, pb = main["atlasbench-ingest"], main["atlasbench-pseudobulk"]
    if "error" not in ing and "error" not in pb:
        total = ing["seconds"] + pb["seconds"]
        lines += [
            _row("atlasbench ingest + pseudobulk (total)", total, n, max(ing["peak_rss_mb"], pb["peak_rss_mb"]), floor),
            _row("&nbsp;&nbsp;atlasbench ingest", ing["seconds"], n, ing["peak_rss_mb"], floor),
            _row("&nbsp;&nbsp;atlasbench pseudobulk (all levels)", pb["seconds"], n, pb["peak_rss_mb"], floor),
        ]
    else:
        lines.append(f"| atlasbench | failed: {ing.get('error') or pb.get('error')} | | | |")
    si, sp_ = main.get("snapatac2-import"), main.get("snapatac2-peaks")
    if si is None:
        lines.append(f"| snapatac2 | {meta.get('snapatac2', 'skipped')} | | | |")
    elif "error" in si:
        lines.append(f"| snapatac2 import_fragments | failed: {si['error']} | | | |")
    else:
        label = f"snapatac2 {si.get('snapatac2_version', '')} pp.import_fragments"
        lines.append(_row(label, si["seconds"], n, si["peak_rss_mb"], floor))
        if sp_ and "error" not in sp_:
            lines.append(_row("&nbsp;&nbsp;(then make_peak_matrix + sum per type, 1 level)", sp_["seconds"], n,
                              sp_["peak_rss_mb"], floor))
            lines.append(_row("snapatac2 import + peak matrix (total)", si["seconds"] + sp_["seconds"], n,
                              max(si["peak_rss_mb"], sp_["peak_rss_mb"]), floor))
    grid = pb.get("grid", {})
    lines += [
        "",
        (f"fragments/s is input fragments (all {n:,} lines) per second for every row; atlasbench keeps "
         f"{ing.get('fragments_in_store', 0):,} fragments of annotated cells for pseudobulk. "
         f"Pseudobulk grid: reads_per_cell {grid.get('reads_per_cell')} x cells {grid.get('cells')} "
         f"({len(grid.get('reads_per_cell', [])) * len(grid.get('cells', []))} levels, "
         f"window {grid.get('window')} bp), "
         f"one pass. Peak RSS is the whole contender process (interpreter and imports included; zcat: the "
         f"zcat/wc processes). Each contender ran in its own subprocess with the file in the page cache."),
    ]
    if small:
        m = meta["small"]
        lines += [
            "",
            "## Peak memory vs. number of fragments (atlasbench, same cells and regions)",
            "",
            "| fragments | ingest s | ingest peak RSS MB (before work) | pseudobulk s "
            "| pseudobulk peak RSS MB (before work) |",
            "| ---: | ---: | ---: | ---: | ---: |",
        ]
        for count, res in ((m["n_fragments"], small), (n, main)):
            a, b = res["atlasbench-ingest"], res["atlasbench-pseudobulk"]
            if "error" in a or "error" in b:
                lines.append(f"| {count:,} | failed | | | |")
            else:
                lines.append(f"| {count:,} | {a['seconds']:.1f} "
                             f"| {a['peak_rss_mb']:,.0f} ({a['rss_before_work_mb']:,.0f}) "
                             f"| {b['seconds']:.1f} | {b['peak_rss_mb']:,.0f} ({b['rss_before_work_mb']:,.0f}) |")
        lines += ["", ("(before work): the process's high-water mark after imports and reading the inputs, "
                       "before the timed call.")]
    return "\n".join(lines) + "\n"


def _code_state() -> str:
    """The atlasbench code measured: git commit, plus the library files changed since."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True,
                               check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    changed = [line[3:] for line in dirty.stdout.splitlines()]
    return head.stdout.strip() + (f" + uncommitted changes to {', '.join(changed)}" if changed else "")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fragments", type=int, default=20_000_000, help="fragments in the main file (default 20M)")
    ap.add_argument("--small-fragments", type=int, default=None,
                    help="fragments in the memory-scaling file (default: a quarter of --fragments; 0 to skip)")
    ap.add_argument("--cells", type=int, default=10_000, help="annotated cells (default 10,000)")
    ap.add_argument("--cell-types", type=int, default=6, help="cell types (default 6)")
    ap.add_argument("--regions", type=int, default=50_000, help="500 bp regions (default 50,000)")
    ap.add_argument("--window", type=int, default=1000,
                    help="pseudobulk target window in bp, 0 = the region itself (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    ap.add_argument("--repeat", type=int, default=1, help="runs per contender; the fastest is reported (default 1)")
    ap.add_argument("--no-snapatac2", action="store_true", help="skip SnapATAC2 even when installed")
    ap.add_argument("--profile", action="store_true",
                    help="also run the atlasbench stages once more under cProfile (OUT/profile_*.txt; not timed)")
    ap.add_argument("--keep-work", action="store_true", help="keep the stores written under OUT/work")
    # worker mode (internal)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    window = args.window or None
    if args.worker == "generate":
        generate(args.data, args.fragments, args.cells, args.cell_types, args.regions, args.seed)
        return
    if args.worker:
        out = run_worker(args.worker, args.data, args.work, window, args.seed, args.profile_to)
        args.result.write_text(json.dumps(out))
        return

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    small_n = args.fragments // 4 if args.small_fragments is None else args.small_fragments
    try:
        import snapatac2  # noqa: F401

        have_snap = not args.no_snapatac2
    except ImportError:
        have_snap = False
        print("snapatac2 not importable: skipping it (pip install snapatac2 to compare)", file=sys.stderr)

    def dataset(n: int) -> tuple[Path, dict]:
        folder = out / "data" / (f"frags{n}_cells{args.cells}_types{args.cell_types}"
                                 f"_regions{args.regions}_seed{args.seed}")
        manifest = cached_dataset(folder, _params(n, args.cells, args.cell_types, args.regions, args.seed))
        state = "cached"
        if manifest is None:
            # in a subprocess, so that this launcher stays small (see _peak_rss_mb)
            subprocess.run([sys.executable, __file__, "--worker", "generate", "--data", str(folder),
                            "--fragments", str(n), "--cells", str(args.cells), "--cell-types", str(args.cell_types),
                            "--regions", str(args.regions), "--seed", str(args.seed)], check=True)
            manifest = json.loads((folder / "manifest.json").read_text())
            state = f"generated in {manifest['seconds']:.0f} s, peak RSS {manifest['generator_peak_rss_mb']:,} MB"
        print(f"dataset {n:,} fragments: {folder} ({state}, {manifest['bytes'] / 1e6:,.0f} MB)", file=sys.stderr)
        return folder, manifest

    data, manifest = dataset(args.fragments)
    subprocess.run(["cat", str(data / "fragments.tsv.gz")], stdout=subprocess.DEVNULL, check=True)  # page cache

    def contenders(folder: Path, work: Path, with_peers: bool) -> dict:
        work.mkdir(parents=True, exist_ok=True)
        names = ["zcat", "atlasbench-ingest", "atlasbench-pseudobulk"]
        if with_peers and have_snap:
            names += ["snapatac2-import", "snapatac2-peaks"]
        res = {}
        for name in names:
            if name == "atlasbench-pseudobulk" and "error" in res["atlasbench-ingest"]:
                res[name] = {"error": "ingest failed"}
                continue
            if name == "snapatac2-peaks" and "error" in res["snapatac2-import"]:
                res[name] = {"error": "import failed"}
                continue
            print(f"  {name} ...", end="", flush=True, file=sys.stderr)
            res[name] = best_of(name, folder, work)
            r = res[name]
            print(f" {r['seconds']:.1f} s, {r['peak_rss_mb']:,.0f} MB" if "error" not in r
                  else f" FAILED: {r['error']}", file=sys.stderr)
        return res

    def best_of(name: str, folder: Path, work: Path) -> dict:
        """The fastest of --repeat runs, with every run's seconds and the highest peak RSS."""
        runs = [run_contender(name, folder, work, window, args.seed) for _ in range(args.repeat)]
        failed = [r for r in runs if "error" in r]
        if failed:
            return failed[0]
        best = dict(min(runs, key=lambda r: r["seconds"]))
        best["runs_seconds"] = [round(r["seconds"], 2) for r in runs]
        best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
        return best

    results = {}
    print(f"timing on {args.fragments:,} fragments:", file=sys.stderr)
    results["main"] = contenders(data, out / "work" / "main", with_peers=True)
    meta = {"n_fragments": args.fragments, "n_cells": args.cells, "n_types": args.cell_types, "n_regions": args.regions,
            "n_background_barcodes": manifest["n_background_barcodes"], "file_mb": manifest["bytes"] / 1e6,
            "machine": (f"{os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, "
                        f"{platform.machine()}"),
            "window": window, "seed": args.seed, "repeat": args.repeat, "atlasbench": _code_state(),
            "snapatac2": "run" if have_snap else ("skipped (--no-snapatac2)" if args.no_snapatac2
                                                  else "not installed (`pip install snapatac2`)")}
    if small_n:
        small_data, _ = dataset(small_n)
        subprocess.run(["cat", str(small_data / "fragments.tsv.gz")], stdout=subprocess.DEVNULL, check=True)
        print(f"timing on {small_n:,} fragments (memory scaling):", file=sys.stderr)
        work = out / "work" / "small"
        work.mkdir(parents=True, exist_ok=True)
        results["small"] = {name: best_of(name, small_data, work)
                            for name in ("atlasbench-ingest", "atlasbench-pseudobulk")}
        meta["small"] = {"n_fragments": small_n, "data": str(small_data)}
    if args.profile:
        work = out / "work" / "main"
        for name in ("atlasbench-ingest", "atlasbench-pseudobulk"):
            stage = name.split("-")[1]
            run_contender(name, data, work, window, args.seed, profile=(out / f"profile_{stage}.txt").resolve())
            print(f"profile of {name}: {out / f'profile_{stage}.txt'}", file=sys.stderr)
    table = report(results, meta)
    print(table)
    (out / "ingest.md").write_text(table)
    (out / "ingest.json").write_text(json.dumps({"meta": meta, "data": str(data), "results": results}, indent=1))
    if not args.keep_work:
        shutil.rmtree(out / "work", ignore_errors=True)


if __name__ == "__main__":
    main()
