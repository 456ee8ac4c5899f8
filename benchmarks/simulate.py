"""Benchmark ``atlasbench simulate``: time, fragments/s, peak memory and output size.

Each run is ``simulate_atlas(out, preset=..., n_cells=..., platforms=...)`` in its own
subprocess (``--worker``); peak RSS is the worker's own ``VmHWM`` from
``/proc/self/status`` (interpreter and imports included). ``ru_maxrss`` of children is
not used: a child started by vfork+exec inherits its parent's high-water mark.

Runs (see benchmarks/README.md):

- ``demo``: the demo preset (must stay under one minute);
- ``large``: 100,000 cells per platform at 20,000 reads per cell (``--platforms 10x``
  simulates only the 10x-like platform; its files are the same as in the full preset);
- ``large-10k``: the large preset's profiles with 10,000 cells, to compare peak memory
  with ``large`` (memory must not grow with the number of fragments).

    python benchmarks/simulate.py --out benchmarks/out                      # all three
    python benchmarks/simulate.py --runs demo                               # < 1 min
    python benchmarks/simulate.py --runs large-10k,large --platforms 10x    # as reported
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

RUNS = {
    "demo": {"preset": "demo", "n_cells": None},
    "large-10k": {"preset": "large", "n_cells": 10_000},
    "large": {"preset": "large", "n_cells": None},
}


def _vmhwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def worker(args: argparse.Namespace) -> None:
    """Run one simulation in this process and print its numbers as JSON."""
    import logging

    import pandas as pd

    from atlasbench.simulate.atlas import simulate_atlas

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    run = RUNS[args.worker]
    platforms = tuple(args.platforms.split(",")) if args.platforms else None
    out = Path(args.work) / args.worker
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    simulate_atlas(out, preset=run["preset"], n_cells=run["n_cells"], seed=args.seed, platforms=platforms)
    seconds = time.perf_counter() - t0
    per_platform = {}
    for table in sorted((out / "truth").glob("*_barcodes.tsv")):
        name = table.name[: -len("_barcodes.tsv")]
        frag = out / name / "fragments.tsv.gz"
        if not frag.exists():
            continue
        t = pd.read_csv(table, sep="\t", usecols=["kind", "n_fragments", "n_reads"])
        per_platform[name] = {
            "barcodes": len(t), "cells": int((t["kind"] != "empty").sum()),
            "fragments": int(t["n_fragments"].sum()), "reads": int(t["n_reads"].sum()),
            "fragments_gz_bytes": frag.stat().st_size,
        }
    total_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(json.dumps({
        "run": args.worker, "preset": run["preset"], "n_cells": run["n_cells"], "platforms": list(per_platform),
        "seconds": seconds, "peak_rss_mib": _vmhwm_kib() / 1024, "output_bytes": total_bytes,
        "fragments": sum(p["fragments"] for p in per_platform.values()), "per_platform": per_platform,
    }))


def _commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, cwd=root, capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], check=False, cwd=root, capture_output=True,
                               text=True).stdout
        return sha + (" + uncommitted changes in src/" if dirty.strip() else "")
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/out", help="where simulate.md/json go")
    parser.add_argument("--work", default=None, help="where the simulated studies go (default OUT/simulate_work)")
    parser.add_argument("--runs", default="demo,large-10k,large", help=f"comma-separated, of {list(RUNS)}")
    parser.add_argument("--platforms", default=None, help="only these platforms, e.g. 10x (default: all of the preset)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--append", action="store_true",
                        help="add to (or replace runs of the same name in) an existing OUT/simulate.json")
    parser.add_argument("--keep", action="store_true", help="keep the simulated studies (large ones are tens of GB)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = Path(args.out)
    args.work = args.work or str(out / "simulate_work")
    if args.worker:
        worker(args)
        return
    out.mkdir(parents=True, exist_ok=True)
    results = []
    previous = out / "simulate.json"
    if args.append and previous.exists():
        names = set(args.runs.split(","))
        results = [r for r in json.loads(previous.read_text()) if r["run"] not in names]
    for name in args.runs.split(","):
        cmd = [sys.executable, __file__, "--worker", name, "--work", args.work, "--seed", str(args.seed),
               "--out", str(out)]
        # the demo is timed as shipped (both platforms); --platforms applies to the large runs
        if args.platforms and name != "demo":
            cmd += ["--platforms", args.platforms]
        print(f"running {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "TQDM_DISABLE": "1"})
        if proc.returncode:
            sys.exit(f"{name} failed ({proc.returncode})")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["process_seconds"] = time.perf_counter() - t0
        results.append(result)
        if not args.keep:
            shutil.rmtree(Path(args.work) / name, ignore_errors=True)
        _report(out, results)
    print(_table(results))


def _table(results: list[dict]) -> str:
    rows = [
        "| run | preset | cells/platform | platforms | seconds | fragments | fragments/s "
        "| peak RSS (MiB) | output (GiB) |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        cells = max((p["cells"] for p in r["per_platform"].values()), default=0)
        rows.append(
            f"| {r['run']} | {r['preset']} | {cells:,} | {', '.join(r['platforms'])} | {r['seconds']:,.1f} | "
            f"{r['fragments']:,} | {r['fragments'] / r['seconds']:,.0f} | {r['peak_rss_mib']:,.0f} | "
            f"{r['output_bytes'] / 2**30:,.2f} |"
        )
    return "\n".join(rows)


def _report(out: Path, results: list[dict]) -> None:
    import platform

    header = (
        "# atlasbench simulate benchmark\n\n"
        f"atlasbench {_commit()}; {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}.\n\n"
        "seconds: the whole `simulate_atlas` call (design, genome, every platform's fragments, tabix index, "
        "tables); fragments/s divides all fragments written by those seconds; peak RSS: the worker's VmHWM; "
        "output: every file of the study.\n\n"
    )
    (out / "simulate.md").write_text(header + _table(results) + "\n")
    (out / "simulate.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
