"""Accuracy against the number of regions: where the demo's models stop being limited by them.

Issue 15: "Enough regions that the models are limited by the data, not by their number:
measure the accuracy-vs-regions curve and choose the demo's size from it." For each size
N, the demo preset's 10x-like platform is simulated on a Markov background genome (fitted
on the bundled dm6 slice) holding N designed regions, one kilobase of genome per region;
the study trains on the designed regions themselves (no peak calling, so N is exactly the
region count), at full data, on one test fold, with the demo's model and training recipe
(or the ones given), and the test Pearson against the simulated truth is printed with the
training time. The targets' own Pearson with the truth is the ceiling a model could reach.

    python benchmarks/regions_curve.py benchmarks/out/regions --sizes 1000 2000 4000 8000 16000

Every size is a study folder under the output; a rerun reuses finished ones.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from designed_study import designed_study

log = logging.getLogger("regions_curve")


def study_of(folder: Path, n_regions: int, seed: int, args: argparse.Namespace) -> Path:
    """The simulated atlas of one size, its study trained on the designed regions."""
    from atlasbench.simulate.atlas import simulate_atlas

    study_file = folder / "study.yaml"
    if not study_file.exists():
        simulate_atlas(
            folder, "demo", seed=seed, n_regions=n_regions, genome_length=1000 * n_regions, platforms=("10x",)
        )

    def edit(settings: dict) -> None:
        settings["grid"] = {"reads_per_cell": ["all"], "cells": ["all"]}
        settings["evaluation"]["motifs"] = None
        for key in ("batch_size", "learning_rate", "max_epochs", "early_stopping_patience"):
            if getattr(args, key) is not None:
                settings["training"][key] = getattr(args, key)
        if args.filters is not None:
            settings["model"]["params"] = {"filters": args.filters}

    return designed_study(folder, "curve", edit)


def measure(folder: Path, n_regions: int, seed: int, args: argparse.Namespace) -> dict:
    from atlasbench.data.targets import read_targets
    from atlasbench.study.data_stages import study_data
    from atlasbench.study.jobs import truth_targets
    from atlasbench.study.loader import load_study
    from atlasbench.study.run import evaluation_table, run_study

    study = load_study(study_of(folder, n_regions, seed, args))
    started = time.perf_counter()
    run_study(study, "local", until="evaluate", progress=False)
    seconds = time.perf_counter() - started
    table = evaluation_table(study)
    score = table[(table["metric"] == "pearson_mean") & (table["cell_type"] == "all")]
    by = score.groupby("against")["value"].mean()
    data = study_data(study)
    truth = read_targets(truth_targets(study, data))
    full = read_targets(data.targets["10x"]["reads-all_cells-all"])
    shared = [c for c in truth.obs_names if c in full.obs_names]
    ceiling = np.mean([np.corrcoef(np.log1p(full[c].X.ravel()), np.log1p(truth[c].X.ravel()))[0, 1] for c in shared])
    # the study's model: the one trained last (a rerun with another recipe adds a folder)
    model = max((study.output / "models").glob("10x/*/fold-*"), key=lambda path: path.stat().st_mtime)
    history = pd.read_csv(model / "training_log.tsv", sep="\t")
    return {
        "regions": len(data.regions),
        "train_regions": round(len(data.regions) * 0.6),
        "vs_truth": by.get("truth", np.nan),
        "vs_full": by.get("full", np.nan),
        "targets_vs_truth": ceiling,
        "epochs": len(history),
        "samples_per_s": float(history["samples_per_s"].median()),
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output folder (one study per size)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000, 16000])
    ap.add_argument("--seed", type=int, default=0, help="simulation seed")
    ap.add_argument("--batch-size", dest="batch_size", type=int)
    ap.add_argument("--learning-rate", dest="learning_rate", type=float)
    ap.add_argument("--max-epochs", dest="max_epochs", type=int)
    ap.add_argument("--patience", dest="early_stopping_patience", type=int)
    ap.add_argument("--filters", type=int)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rows = []
    for n in args.sizes:
        rows.append(measure(args.out / f"regions-{n}-seed-{args.seed}", n, args.seed, args))
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    pd.DataFrame(rows).to_csv(args.out / f"regions_curve_seed-{args.seed}.csv", index=False)


if __name__ == "__main__":
    main()
