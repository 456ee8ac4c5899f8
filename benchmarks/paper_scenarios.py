"""The published mouse scenarios on a simulated atlas: ``atlasbench simulate --preset paper``, run whole.

Simulates the ``paper`` preset (16 cortex-like cell types; a 10x-like platform and a
HyDrop-like one with half its library complexity and twice its cells; 10
chromosome-block folds; PROTOCOL.md's scenarios: all, depth-cap, limited, limited-cap
on both platforms, limited +25/+50/+75% cells on HyDrop) into a folder, runs its study
with :func:`atlasbench.study.run.run_study` and prints, per named scenario, the test Pearson
(``pearson_mean``: per cell type over the test fold's regions, averaged over cell types)
as mean +- SD over folds, against the simulated truth and against the scenario's own
targets. The paper's question: at matched cells the lower-complexity platform trails,
and more cells close the gap.

Also printed: the platforms' QC (unique fragments, FRiP, TSS enrichment per cell), how
well each level's targets follow the truth before any model (Pearson of log1p(targets)
and log1p(truth) per cell type over the study's regions, averaged), and the time of the
simulation, of the data phase and of each training job.

    python benchmarks/paper_scenarios.py benchmarks/out/paper           # the whole study
    python benchmarks/paper_scenarios.py benchmarks/out/paper --until sequences   # data phase only

A folder simulated before with the same seed is reused, and so is every finished job:
rerunning after an interruption resumes. The summary is also written to
``<folder>/paper_scenarios.csv``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger("paper_scenarios")


def targets_vs_truth(study, data) -> pd.DataFrame:
    """Pearson of log1p(targets) with log1p(truth) per cell type, averaged, for every level."""
    from atlasbench.data.targets import read_targets
    from atlasbench.study.jobs import truth_targets

    truth = read_targets(truth_targets(study, data))
    expected = pd.DataFrame(np.log1p(truth.X), index=truth.obs_names, columns=truth.var_names)
    rows = []
    for platform, levels in data.targets.items():
        for level, path in levels.items():
            targets = read_targets(path)
            observed = pd.DataFrame(np.log1p(targets.X), index=targets.obs_names, columns=targets.var_names)
            shared = [c for c in expected.index if c in observed.index]
            r = [np.corrcoef(observed.loc[c, expected.columns], expected.loc[c])[0, 1] for c in shared]
            rows.append({"platform": platform, "level": level, "targets_vs_truth": float(np.mean(r)),
                         "worst_cell_type": shared[int(np.argmin(r))], "worst": float(np.min(r))})
    return pd.DataFrame(rows)


def platform_qc(data) -> pd.DataFrame:
    """Mean unique fragments, reads, FRiP and median TSS enrichment per cell of each platform."""
    rows = []
    for platform, levels in data.targets.items():
        qc = pd.read_csv(Path(next(iter(levels.values()))).parent / "qc.tsv", sep="\t")
        rows.append({"platform": platform, "cells": len(qc), "unique_fragments": qc["n_fragments"].mean(),
                     "reads": qc["n_reads"].mean(), "frip": qc["frip"].mean(),
                     "tss_enrichment": qc["tss_enrichment"].median()})
    return pd.DataFrame(rows)


def scenario_summary(study, data) -> pd.DataFrame:
    """Test Pearson per named scenario: mean and SD over folds, against truth and own targets."""
    from atlasbench.study.run import evaluation_table

    table = evaluation_table(study)
    table = table[(table["cell_type"] == "all") & (table["metric"] == "pearson_mean")]
    rows = []
    for name, scenario in data.named.items():
        mine = table[(table["platform"] == scenario.platform) & (table["level"] == scenario.level)]
        row = {"scenario": name, "platform": scenario.platform, "level": scenario.level}
        for against in ("truth", "own"):
            values = mine.loc[mine["against"] == against, "value"]
            row[f"{against}_mean"], row[f"{against}_sd"], row["folds"] = values.mean(), values.std(), len(values)
        rows.append(row)
    return pd.DataFrame(rows)


def scenario_comparisons(study, data, against: str) -> pd.DataFrame:
    """The report's comparisons of named scenarios differing in one factor, paired over folds."""
    from atlasbench.readouts.comparisons import compare_scenarios
    from atlasbench.study.run import evaluation_table
    from atlasbench.study.scenarios import one_factor_pairs, scenario_labels

    labels = scenario_labels(data.scenarios, data.named)
    point = {name: (sc.platform, sc.level) for name, sc in data.named.items()}
    pairs = list(dict.fromkeys((labels[point[a]], labels[point[b]]) for a, b in one_factor_pairs(study.grid.scenarios)
                               if point[a] != point[b]))
    names = {f"{platform}/{level}": label for (platform, level), label in labels.items()}
    return compare_scenarios(evaluation_table(study), pairs, names=names, against=against)


def training_seconds(study) -> pd.Series:
    """Wall seconds of every finished training job, by job key."""
    from atlasbench.study.data_stages import study_data
    from atlasbench.study.jobs import model_jobs
    from atlasbench.study.records import read_record

    seconds = {}
    for job in model_jobs(study, study_data(study)):
        record = read_record(study, job.key)
        if job.kind == "train" and record is not None and record["state"] == "done":
            seconds[job.key] = record["seconds"]
    return pd.Series(seconds, dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder of the simulated atlas and its results")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")
    parser.add_argument("--until", help="stop after this job (e.g. 'sequences' or a train job's key)")
    parser.add_argument("--executor", choices=["local", "dask"], default="local")
    parser.add_argument("--test-folds", type=int, help="train only the first N of the 10 test folds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from atlasbench.simulate.atlas import simulated_study
    from atlasbench.study.data_stages import study_data
    from atlasbench.study.loader import load_study
    from atlasbench.study.run import run_study

    t0 = time.perf_counter()
    study_file = simulated_study(args.out, preset="paper", seed=args.seed)
    if args.test_folds is not None:
        text = study_file.read_text()
        if "  test_folds:" not in text:
            folds = ", ".join(str(f) for f in range(args.test_folds))
            study_file.write_text(text.replace("  scheme: chromosome_block\n",
                                               f"  scheme: chromosome_block\n  test_folds: [{folds}]\n"))
    study = load_study(study_file)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    for key in [f"targets/{p.name}" for p in study.platforms] + ["sequences"]:
        run_study(study, args.executor, until=key, progress=False)
    data = study_data(study)  # every stage cached by now
    t_data = time.perf_counter() - t0
    pd.set_option("display.width", 200)
    print(f"\nsimulation {t_sim:.0f} s, data phase {t_data:.0f} s")
    print("\nplatform QC (per cell):\n" + platform_qc(data).round(3).to_string(index=False))
    print("\ntargets vs truth before any model:\n" + targets_vs_truth(study, data).round(3).to_string(index=False))
    if args.until == "sequences":
        return

    t0 = time.perf_counter()
    run_study(study, args.executor, until=args.until, progress=True)
    t_models = time.perf_counter() - t0
    seconds = training_seconds(study)
    if len(seconds):
        print(f"\nmodel phase {t_models:.0f} s; {len(seconds)} training jobs, "
              f"{seconds.mean():.0f} +- {seconds.std():.0f} s each (min {seconds.min():.0f}, max {seconds.max():.0f})")
    if args.until is not None:
        return
    summary = scenario_summary(study, data)
    summary.to_csv(args.out / "paper_scenarios.csv", index=False)
    print("\ntest Pearson (pearson_mean), mean +- SD over folds:")
    for row in summary.itertuples():
        print(f"  {row.scenario:24s} {row.level:24s} truth {row.truth_mean:.3f} +- {row.truth_sd:.3f}   "
              f"own {row.own_mean:.3f} +- {row.own_sd:.3f}   ({row.folds} folds)")
    from atlasbench.readouts.comparisons import describe

    for against in ("truth", "full"):
        table = scenario_comparisons(study, data, against)
        table.to_csv(args.out / f"paper_comparisons_{against}.csv", index=False)
        print(f"\nscenarios differing in one factor, against {against}:")
        for _, row in table.iterrows():
            print("  " + describe(row))


if __name__ == "__main__":
    main()
