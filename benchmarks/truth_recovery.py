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
(:func:`atlasbench.readouts.motifs.planted_motifs`).

    python benchmarks/truth_recovery.py benchmarks/out/truth --seeds 0 1 2 3 4

The defaults are the demo's study: 1,400 regions, 100, 250 and all sequenced read pairs
per cell, 500 and 1,500 cells and each platform's full data, two test folds, each
trained on its own draw of the grid point; 13 to 18 minutes per true atlas and 11 to 14
per null atlas on 2 CPU cores.

Every atlas is a folder under the output; a rerun reuses finished studies.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import re
import time
from pathlib import Path

import pandas as pd

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
    truth = pd.read_csv(folder / "truth" / "regions.tsv", sep="\t")
    truth[["chrom", "start", "end", "name"]].to_csv(folder / "regions.bed", sep="\t", header=False, index=False)
    text = (folder / "study.yaml").read_text()
    text = re.sub(r"regions:\n  width: 500\n", "regions:\n  bed: regions.bed\n", text)
    folds = ", ".join(str(f) for f in range(args.test_folds))
    text = re.sub(r"  test_folds: .*\n", f"  test_folds: [{folds}]\n", text)
    text = re.sub(r"  enhancers: .*\n", "", text)
    (folder / "study-calibration.yaml").write_text(text)
    return folder / "study-calibration.yaml"


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
                "p_holm": float(comparison["p_holm"]),
                "holds": bool(holds),
                "holds_as_expected": bool(holds and difference * expected > 0),
                "mdd": minimum_detectable_difference(
                    float(comparison["sd_test"]), int(comparison["n"]), blocks=int(comparison["blocks"])
                ),
                "seconds": seconds,
            }
        )
    return rows


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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output folder (one atlas per kind and seed)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="simulation seeds")
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--regions", type=int, default=1400, help="designed regions (the demo's 1,400 on 1.6 Mb)")
    ap.add_argument("--test-folds", type=int, default=2, help="test folds trained (of the demo's 5)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rows: list[dict] = []
    for seed in args.seeds:
        for kind in args.kinds:
            rows += measure(args.out / f"{kind}-seed-{seed}", kind, seed, args)
            table = pd.DataFrame(rows)
            table.to_csv(args.out / "truth_recovery.csv", index=False)
            print(table.tail(2).to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    print(summary(pd.DataFrame(rows)).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
