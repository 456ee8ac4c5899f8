"""How much a platform's library, not only its training, moves the accuracy of its models.

Issue 15, item 6 (false positives). The platform comparison
(:func:`atlasbench.readouts.comparisons.compare_platforms`) pairs two platforms at every grid
point and test fold and tests the mean difference against how the test folds of one grid
point scatter. If every model of a platform trained on one sampling of its library, a
chance difference between two libraries would be shared by all pairs and the test could
not see it; each test fold therefore trains on its own draw of the grid point
(:mod:`atlasbench.data.sampling`). This script measures what is left of the libraries'
part.

It simulates one atlas with ``--twins`` platforms of identical parameters and cells (the
demo's 10x-like profile), each sequenced from its own random stream, so every platform is
an independent library of the same kind. Their study trains, on the designed regions,
every platform at the grid points given and test folds 0 and 1, with the demo's model and
recipe. Per comparison (against the full data, against the truth), a two-way analysis of
the accuracies (rows: grid point x test fold; columns: platform) gives

- the residual SD: the scatter between test folds (training and draws), what the
  platform comparison tests with;
- the platform F statistic and its p: whether the libraries differ beyond that scatter;
- the library SD, ``sqrt(max(0, (MS_platform - MS_residual) / rows))``: how much one
  library's models sit above or below another's on average over the grid;
- the factor by which the comparison's standard error understates the SD of a paired
  difference's mean: ``sqrt((2 sd_library^2 + 2 sd_residual^2 / rows) / (2 sd_residual^2 / rows))``.

At the end the atlases are pooled (:func:`pooled`): the same with the degrees of freedom
of all of them, and the library SD's one-sided 95% upper bound with the understatement
there.

    python benchmarks/library_variance.py benchmarks/out/library --seeds 11 12

About 15 minutes per atlas on 2 CPU cores with the defaults (4 platforms, 4 grid points).
Every atlas is a folder under the output; a rerun reuses finished studies.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from designed_study import designed_study
from scipy import stats

log = logging.getLogger("library_variance")


def study_of(folder: Path, seed: int, args: argparse.Namespace) -> Path:
    """The twins' atlas of one seed, its study on the designed regions and the chosen grid."""
    from atlasbench.simulate.atlas import PRESETS, simulate_atlas

    demo = PRESETS["demo"]
    first = demo.platforms[0]
    name = f"library-variance-{args.twins}"
    PRESETS[name] = dataclasses.replace(
        demo,
        n_cells=tuple([demo.cell_counts()[0]] * args.twins),
        platforms=(first, *(dataclasses.replace(first, name=f"twin{i}") for i in range(1, args.twins))),
        n_regions=args.regions,
        genome_length=demo.genome_length * args.regions // demo.n_regions,
        motif_cell_types=None,
    )
    if not (folder / "study.yaml").exists():
        simulate_atlas(folder, name, seed=seed)

    def edit(settings: dict) -> None:
        del settings["grid"]["scenarios"]
        settings["grid"]["reads_per_cell"] = [_level(r) for r in args.reads]
        settings["grid"]["cells"] = [_level(c) for c in args.cells]
        del settings["evaluation"]["enhancers"]

    return designed_study(folder, "library", edit)


def _level(text: str) -> int | str:
    """A grid level as the study file has it: a number, or ``all``."""
    return text if text == "all" else int(text)


def two_way(values: np.ndarray) -> dict[str, float]:
    """Two-way analysis without replication of ``(rows, platforms)`` accuracies.

    Parameters
    ----------
    values
        Accuracy of each platform (column) at each grid point and test fold (row).

    Returns
    -------
    dict
        ``sd_residual``, ``f_platform``, ``p_platform``, ``sd_library`` and
        ``understatement`` (see the module docstring), and the mean squares and degrees of
        freedom they come from (``ms_platform``, ``platform_df``, ``ms_residual``,
        ``residual_df``).
    """
    rows, cols = values.shape
    grand = values.mean()
    row_means = values.mean(axis=1, keepdims=True)
    col_means = values.mean(axis=0, keepdims=True)
    ms_residual = ((values - row_means - col_means + grand) ** 2).sum() / ((rows - 1) * (cols - 1))
    ms_platform = rows * ((col_means - grand) ** 2).sum() / (cols - 1)
    return {
        "ms_platform": float(ms_platform),
        "platform_df": cols - 1,
        "ms_residual": float(ms_residual),
        "residual_df": (rows - 1) * (cols - 1),
    } | _platform_part(float(ms_platform), cols - 1, float(ms_residual), (rows - 1) * (cols - 1), rows)


def _platform_part(
    ms_platform: float, platform_df: int, ms_residual: float, residual_df: int, rows: float
) -> dict[str, float]:
    """From a two-way analysis's mean squares: the platform F test, the library SD and the
    understatement (see the module docstring)."""
    f = ms_platform / ms_residual
    var_library = max(0.0, (ms_platform - ms_residual) / rows)
    return {
        "sd_residual": float(np.sqrt(ms_residual)),
        "f_platform": float(f),
        "p_platform": float(stats.f.sf(f, platform_df, residual_df)),
        "sd_library": float(np.sqrt(var_library)),
        "understatement": _understatement(var_library, ms_residual, rows),
    }


def _understatement(var_library: float, ms_residual: float, rows: float) -> float:
    """The factor by which the comparison's standard error understates a paired difference's."""
    return float(np.sqrt((2 * var_library + 2 * ms_residual / rows) / (2 * ms_residual / rows)))


def pooled(table: pd.DataFrame) -> pd.DataFrame:
    """Per comparison, the atlases' two-way analyses pooled (sums of squares over degrees of
    freedom): the platform F test over all of them, the library SD with its one-sided 95%
    upper bound (from the F distribution's 5% quantile, as for a one-way random effect) and
    the understatement at each."""
    out = []
    for against, group in table.groupby("against", sort=False):
        platform_df, residual_df = int(group["platform_df"].sum()), int(group["residual_df"].sum())
        ms_platform = float((group["ms_platform"] * group["platform_df"]).sum()) / platform_df
        ms_residual = float((group["ms_residual"] * group["residual_df"]).sum()) / residual_df
        rows = float(group["grid_point_folds"].iloc[0])
        part = _platform_part(ms_platform, platform_df, ms_residual, residual_df, rows)
        f_low = stats.f.ppf(0.05, platform_df, residual_df)
        upper = max(0.0, (part["f_platform"] / f_low - 1) / rows) * ms_residual
        out.append(
            {"against": against, "atlases": len(group)}
            | part
            | {
                "sd_library_upper": float(np.sqrt(upper)),
                "understatement_upper": _understatement(upper, ms_residual, rows),
            }
        )
    return pd.DataFrame(out)


def measure(folder: Path, seed: int, args: argparse.Namespace) -> list[dict]:
    from atlasbench.study.loader import load_study
    from atlasbench.study.run import evaluation_table, run_study

    study = load_study(study_of(folder, seed, args))
    run_study(study, "local", until="evaluate", progress=False)
    table = evaluation_table(study)
    rows = []
    for against in ("full", "truth"):
        chosen = table[(table["metric"] == "pearson_mean") & (table["against"] == against)]
        values = chosen.pivot_table(index=["level", "fold"], columns="platform", values="value").to_numpy()
        rows.append({"seed": seed, "against": against, "grid_point_folds": len(values)} | two_way(values))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output folder (one atlas per seed)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12], help="simulation seeds")
    ap.add_argument("--twins", type=int, default=4, help="platforms of identical parameters")
    ap.add_argument("--regions", type=int, default=1400, help="designed regions (the demo's 1,400 on 1.6 Mb)")
    ap.add_argument("--reads", nargs="+", default=["100", "all"], help="sequenced read pairs per cell levels")
    ap.add_argument("--cells", nargs="+", default=["500", "1500"], help="cells levels")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rows: list[dict] = []
    for seed in args.seeds:
        rows += measure(args.out / f"seed-{seed}", seed, args)
        table = pd.DataFrame(rows)
        table.to_csv(args.out / "library_variance.csv", index=False)
        print(table.tail(2).to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    print(pooled(pd.DataFrame(rows)).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
