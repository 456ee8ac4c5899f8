"""Calibration of the platform comparison: power on true differences, false positives on nulls.

Issue 15, item 6. The report says a platform difference *holds* (Holm-adjusted paired
t-test p < 0.05 and a bootstrap interval excluding 0) or is *within noise*. This script
checks that claim by simulation. For each simulation seed it simulates two atlases with
a Markov background genome (:mod:`atlasbench.simulate.background`):

- **true**: the demo's atlas: a 10x-like platform and a HyDrop-like one with 0.6x its
  unique fragments per cell at equal sequenced reads and 1.6x its cells, as published,
  compared as the demo compares them, at matched cells and equal sequenced reads per
  cell. At every grid point the HyDrop-like data are then the worse; the direction the
  comparison should find is the data's, the mean difference over the grid points of how
  closely the platforms' targets follow the truth (:mod:`atlasbench.readouts.fidelity`,
  the expectation the report's truth section uses);
- **null**: two platforms with identical parameters and cells (the 10x-like profile
  twice), each sequenced from its own random stream: any difference that holds is a
  false positive.

Each atlas's study is the demo's on the designed regions (MACS3 peak calling is not part
of what is calibrated): every platform on the demo's grid (reads per cell x cells) and
its full data (the named scenarios), the test folds given, the demo's model, recipe and
loss weighting, and on true atlases the demo's motifs on every cell type. The platforms
are compared as the report compares them
(:func:`atlasbench.readouts.comparisons.compare_platforms`, against the full data and
against the truth). Printed per atlas and, at the end, per kind: how often the
difference holds in the data's direction (power; for nulls, false positives, the goal
being at most 5%), the mean paired difference beside the data's, the SD its test uses
(within grid points, see :func:`atlasbench.readouts.comparisons.compare_platforms`), the
minimum detectable difference, the saturation depths (the models', where the report's
fit against full data puts it against the grid's levels; the data's, from the targets'
Pearson with the truth; the libraries', from the simulated complexities), the error of the
models' ratio between the platforms against the libraries' and the data's where the
models' depths are placed (the share of atlases where they are) and, on true atlases,
the cell types whose planted activator motif discovery found per platform
(:func:`atlasbench.readouts.motifs.planted_motifs`). Last, with nulls, whether the
test's noise is the noise its verdicts meet (:func:`noise_check`).

    python benchmarks/truth_recovery.py benchmarks/out/truth --seeds 0 1 2 3 4

The defaults are the demo's study: 1,400 regions, 100, 250 and all sequenced read pairs
per cell, 500 and 1,500 cells and each platform's full data, two test folds, each
trained on its own draw of the grid point; 13 to 18 minutes per true atlas and 11 to 14
per null atlas on 2 CPU cores.

Every atlas is a folder under the output; a rerun reuses finished studies. The output's
``truth_recovery.csv`` gathers every atlas measured there, by this run or an earlier one
(the true atlases of some seeds, the nulls of others), and the summaries are over all of
them.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import time
from pathlib import Path

import pandas as pd
from designed_study import designed_study

log = logging.getLogger("truth_recovery")

KINDS = ("true", "null")


def _preset(kind: str, n_regions: int) -> str:
    """Register the preset of one kind (the demo's, on a Markov genome) and return its name."""
    from atlasbench.simulate.atlas import PRESETS

    demo = PRESETS["demo"]
    platforms = demo.platforms
    if kind == "null":
        platforms = (platforms[0], dataclasses.replace(platforms[0], name=f"{platforms[0].name}-twin"))
    name = f"truth-recovery-{kind}-{n_regions}"
    PRESETS[name] = dataclasses.replace(
        demo,
        n_cells=demo.n_cells if kind == "true" else demo.cell_counts()[0],
        platforms=platforms,
        n_regions=n_regions,
        genome_length=demo.genome_length * n_regions // demo.n_regions,
        motif_cell_types=demo.motif_cell_types if kind == "true" else None,
    )
    return name


def study_of(folder: Path, kind: str, seed: int, args: argparse.Namespace) -> Path:
    """The simulated atlas of one kind and seed, its study on the designed regions."""
    from atlasbench.simulate.atlas import simulate_atlas

    if not (folder / "study.yaml").exists():
        simulate_atlas(folder, _preset(kind, args.regions), seed=seed)

    def edit(settings: dict) -> None:
        settings["folds"]["test_folds"] = list(range(args.test_folds))
        del settings["evaluation"]["enhancers"]

    return designed_study(folder, "calibration", edit)


def measure(folder: Path, kind: str, seed: int, args: argparse.Namespace) -> list[dict]:
    from atlasbench.readouts.comparisons import compare_platforms
    from atlasbench.readouts.fidelity import expected_difference, target_fidelity
    from atlasbench.readouts.power import minimum_detectable_difference
    from atlasbench.study.data_stages import study_data
    from atlasbench.study.jobs import truth_targets
    from atlasbench.study.loader import load_study
    from atlasbench.study.run import evaluation_table, run_study

    study = load_study(study_of(folder, kind, seed, args))
    started = time.perf_counter()
    run_study(study, "local", until="evaluate", progress=False)
    if study.evaluation.motifs is not None:
        run_study(study, "local", until="motifs", progress=False)
    seconds = time.perf_counter() - started
    table = evaluation_table(study)
    first, second = (p.name for p in study.platforms)
    data = study_data(study)
    fidelity = target_fidelity(data.targets, truth_targets(study, data))
    expected = expected_difference(fidelity, first, second)
    common = {
        "kind": kind,
        "seed": seed,
        **_saturation(folder, table, fidelity, first, second),
        **_motifs(folder, study, first, second),
    }
    rows = []
    for against in ("full", "truth"):
        comparison = compare_platforms(table, [first, second], against=against).iloc[0]
        difference = float(comparison["mean_difference"])  # second minus first
        holds = comparison["verdict"] == "holds"
        rows.append(
            {
                **common,
                "against": against,
                "difference": difference,
                "data_difference": expected,
                "sd": float(comparison["sd_test"]),
                "blocks": int(comparison["blocks"]),
                "n": int(comparison["n"]),
                "t": float(comparison["t_statistic"]),
                "p_holm": float(comparison["p_holm"]),
                "holds": bool(holds),
                "holds_as_expected": bool(holds and difference * expected > 0),
                "mdd": minimum_detectable_difference(
                    float(comparison["sd_test"]), int(comparison["n"]), blocks=int(comparison["blocks"])
                ),
                **_fold_component(table, first, second, against),
                "seconds": seconds,
            }
        )
    return rows


def _fold_component(table: pd.DataFrame, first: str, second: str, against: str) -> dict[str, float]:
    """Whether the paired differences share a part per test fold that the test does not see.

    The comparison's t-test takes its noise from how the test folds of one grid point
    scatter, and treats every grid point-fold as its own draw. A part of the difference
    shared by every grid point of one test fold (its test regions, and the full-data
    targets scored there) would enter the mean once per fold but the test's noise only
    once per grid point-fold, and the test would be too sure. A two-way analysis of the
    differences (rows: grid points; columns: test folds; ``library_variance.two_way``)
    tests for it: ``fold_f`` is the
    folds' mean square over the interaction's, about 1 without such a part, and
    ``fold_p`` its F-test p; ``fold_ms`` and ``interaction_ms`` the two mean squares and
    ``fold_df``, ``interaction_df`` their degrees of freedom (pooled over atlases at the
    end)."""
    from library_variance import two_way

    rows = table[(table["metric"] == "pearson_mean") & (table["against"] == against) & (table["cell_type"] == "all")]
    values = rows.pivot_table(index=["level", "fold"], columns="platform", values="value", aggfunc="mean")
    differences = (values[second] - values[first]).unstack("fold").dropna()
    folds = two_way(differences.to_numpy())  # columns: the test folds
    return {
        "fold_ms": folds["ms_platform"],
        "fold_df": folds["platform_df"],
        "interaction_ms": folds["ms_residual"],
        "interaction_df": folds["residual_df"],
        "fold_f": folds["f_platform"],
        "fold_p": folds["p_platform"],
    }


def _saturation(
    folder: Path, table: pd.DataFrame, fidelity: pd.DataFrame, first: str, second: str
) -> dict[str, float | str]:
    """Per platform, on the grid points both platforms have, three saturation depths: the
    models' (the report's fit against full data, and where it lies against the grid's levels),
    the data's (the same surface fitted to the targets' Pearson with the truth,
    :func:`atlasbench.readouts.fidelity.fidelity_saturation`) and the libraries' (the simulated
    complexities, :func:`atlasbench.data.complexity.saturation_depth`); the error of the models'
    ratio (second / first) against the libraries' and against the data's, NaN unless both
    models' depths lie within or beyond the levels (one below them is an extrapolation the
    report does not give)."""
    from atlasbench.data.complexity import saturation_depth
    from atlasbench.readouts.cost import aggregate_designs, fit_saturation
    from atlasbench.readouts.fidelity import fidelity_saturation

    designs = aggregate_designs(table, "pearson_mean", "full")
    levels = [set(designs.loc[designs["platform"] == platform, "level"]) for platform in (first, second)]
    designs = designs[designs["level"].isin(levels[0] & levels[1])]  # a null's twin has no full-data scenario
    data = fidelity_saturation(fidelity, designs)
    out: dict[str, float | str] = {}
    depths = {}
    for side, platform in (("first", first), ("second", second)):
        mine = designs[designs["platform"] == platform]
        fit = fit_saturation(mine["reads_per_cell"], mine["n_cells"], mine["accuracy_mean"])
        cells = pd.read_csv(folder / "truth" / f"{platform}_barcodes.tsv", sep="\t")
        library = saturation_depth(cells.loc[cells["kind"] == "cell", "complexity"].to_numpy())
        placed = fit.depth_position in ("within", "beyond")
        depths[side] = (fit.saturation_depth if placed else math.nan, data[platform].saturation_depth, library)
        out |= {
            f"model_saturation_{side}": fit.saturation_depth,
            f"model_position_{side}": fit.depth_position,
            f"data_saturation_{side}": data[platform].saturation_depth,
            f"library_saturation_{side}": library,
        }
    (model_1, data_1, library_1), (model_2, data_2, library_2) = depths["first"], depths["second"]
    return out | {
        "saturation_ratio_error": (model_2 / model_1) / (library_2 / library_1) - 1,
        "data_ratio_error": (model_2 / model_1) / (data_2 / data_1) - 1,
    }


def _motifs(folder: Path, study, first: str, second: str) -> dict[str, float]:
    """Per platform, the cell types whose planted activator motif discovery found at full data
    (:func:`atlasbench.readouts.motifs.planted_motifs`), and the other cell types' activators the
    same patterns matched (NaN without motifs)."""
    import json

    from atlasbench.readouts.motifs import planted_motifs

    if study.evaluation.motifs is None:
        return {
            "motifs_first": math.nan,
            "motifs_second": math.nan,
            "motif_cell_types": math.nan,
            "wrong_activators": math.nan,
        }
    (matches,) = (folder / "results" / "readouts").glob("motifs-*/matches.tsv")
    cell_types = json.loads((folder / "truth" / "simulation.json").read_text())["cell_types"]
    found = planted_motifs(pd.read_csv(matches, sep="\t"), {c["name"]: c["activator"] for c in cell_types})
    counts = found.groupby("model", sort=False)["found"].sum()
    return {
        "motifs_first": float(counts.get(first, 0)),
        "motifs_second": float(counts.get(second, 0)),
        "motif_cell_types": float(len(cell_types)),
        "wrong_activators": float(found["n_other_matched"].sum()),
    }


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per kind and comparison: power (true) or false-positive rate (null), and the noise."""
    out = rows.groupby(["kind", "against"], sort=False).agg(
        atlases=("seed", "size"),
        holds=("holds", "mean"),
        holds_as_expected=("holds_as_expected", "mean"),
        mean_difference=("difference", "mean"),
        mean_data_difference=("data_difference", "mean"),
        mean_paired_sd=("sd", "mean"),
        mean_mdd=("mdd", "mean"),
        pairs=("n", "median"),
        saturation_placed=("saturation_ratio_error", lambda e: e.notna().mean()),
        saturation_ratio_error=("saturation_ratio_error", lambda e: e.abs().mean()),
        data_ratio_error=("data_ratio_error", lambda e: e.abs().mean()),
        motifs_first=("motifs_first", "mean"),
        motifs_second=("motifs_second", "mean"),
        seconds=("seconds", "mean"),
    )
    return out.reset_index()


def noise_check(rows: pd.DataFrame, n_draws: int = 100_000) -> pd.DataFrame:
    """Per comparison, whether the test's noise is the noise its verdicts meet.

    On null atlases a calibrated test's t statistics follow Student's t on the test's
    degrees of freedom (``n - blocks``), so the mean of t squared is ``df / (df - 2)``;
    a library-wide part the test does not see (one library's models above another's at
    every grid point and fold) makes it larger. ``t2_p`` is the share of as many draws
    of calibrated t statistics whose mean square is at least the one measured,
    ``library_sd_upper`` the smallest SD of one library's shift (in steps of 0.0005; a
    difference of two libraries carries twice its variance, as in
    ``library_variance.py``) that would have made the measured mean square lower than 95%
    of the draws (its one-sided 95% upper bound), ``false_positives_upper`` the share of
    the nulls' tests that would hold at that SD (two-sided p < 0.05 on the nulls'
    standard errors), and ``uniform_p`` the Kolmogorov-Smirnov p of the nulls' p-values
    against the uniform. Over every atlas, true and null, ``fold_f`` pools the two-way analyses of
    :func:`_fold_component` (sum of squares over sum of squares, each by its degrees of
    freedom) and ``fold_p`` is its F-test p: a part shared by the grid points of one test
    fold shows there.
    """
    import numpy as np
    from scipy import stats

    rng = np.random.default_rng(0)
    out = []
    for against, group in rows.groupby("against", sort=False):
        nulls = group[group["kind"] == "null"]
        df = (nulls["n"] - nulls["blocks"]).to_numpy()
        t2 = float((nulls["t"] ** 2).mean())
        calibrated = rng.standard_t(df, size=(n_draws, df.size))
        draws = (calibrated**2).mean(axis=1)
        standard_error = (nulls["sd"] / np.sqrt(nulls["n"])).to_numpy()
        shared = np.sqrt(2) * rng.standard_normal((n_draws, df.size)) / standard_error
        library_sd = 0.0
        while np.quantile(((calibrated + library_sd * shared) ** 2).mean(axis=1), 0.05) <= t2:
            library_sd += 0.0005
        shifted = np.abs(calibrated + library_sd * shared) > stats.t.ppf(0.975, df)
        p_two_sided = 2 * stats.t.sf(nulls["t"].abs(), df)
        fold_num = float((group["fold_ms"] * group["fold_df"]).sum()) / group["fold_df"].sum()
        fold_den = float((group["interaction_ms"] * group["interaction_df"]).sum()) / group["interaction_df"].sum()
        out.append(
            {
                "against": against,
                "nulls": len(nulls),
                "t2_mean": t2,
                "t2_calibrated": float(np.mean(df / (df - 2))),
                "t2_p": float((draws >= t2).mean()),
                "library_sd_upper": library_sd,
                "false_positives_upper": float(shifted.mean()),
                "uniform_p": float(stats.kstest(p_two_sided, "uniform").pvalue),
                "atlases": len(group),
                "fold_f": fold_num / fold_den,
                "fold_p": float(stats.f.sf(fold_num / fold_den, group["fold_df"].sum(), group["interaction_df"].sum())),
            }
        )
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output folder (one atlas per kind and seed)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="simulation seeds")
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--regions", type=int, default=1400, help="designed regions (the demo's 1,400 on 1.6 Mb)")
    ap.add_argument("--test-folds", type=int, default=2, help="test folds trained (of the demo's 5)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    path = args.out / "truth_recovery.csv"
    table = pd.read_csv(path, converters={"kind": str}) if path.exists() else None  # "null" is not NaN
    for seed in args.seeds:
        for kind in args.kinds:
            rows = pd.DataFrame(measure(args.out / f"{kind}-seed-{seed}", kind, seed, args))
            kept = [] if table is None else [table[(table["kind"] != kind) | (table["seed"] != seed)]]
            table = pd.concat([*kept, rows], ignore_index=True)
            table.to_csv(path, index=False)
            print(rows.to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    assert table is not None
    print(summary(table).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if (table["kind"] == "null").any():
        print(noise_check(table).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
