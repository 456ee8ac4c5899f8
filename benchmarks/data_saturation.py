"""Where the data stop improving with depth, against where the libraries saturate: no models.

Issue 15, item 5 asks for a model-based saturation depth per platform whose ratio between
the platforms is within 30% of the libraries'. On the demo the models' accuracy is already
saturated at the grid's shallowest depth (see ``truth_recovery.py``). This script asks the
question one step earlier, of the data themselves, where no model can be the limit: it
simulates the demo's two platforms (the same libraries: 300 and 150 molecules per cell,
8 cell types) sequenced far beyond both libraries' saturation (3,000 sequenced read pairs
per cell) with few cells, so that depth limits the data; builds every grid point's targets
(the data phase only, on the designed regions); and prints, per grid point, the targets'
Pearson with the truth (:func:`atlasbench.readouts.fidelity.target_fidelity`), and per
platform the depth at which the report's saturation surface fitted to it reaches 95% of its
plateau (:func:`atlasbench.readouts.fidelity.fidelity_saturation`) beside the depth at which
the libraries' unique fragments reach 95% of their complexity
(:func:`atlasbench.data.complexity.saturation_depth`), and the two ratios. It also fits a
surface that knows the libraries: the Pearson as a Michaelis-Menten curve of a cell type's
unique fragments, ``P * x / (x + K)`` with ``x = cells * u(r)`` and ``u(r)`` the cells' mean
unique fragments at ``r`` reads per cell from their simulated complexities, and gives,
per cell level, the depth at which it reaches 95% of its plateau at that cell number.

    python benchmarks/data_saturation.py benchmarks/out/data_saturation

About 15 seconds on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import pandas as pd
from designed_study import designed_study

PRESET = "data-saturation"


def _register(cells: tuple[int, ...], atlas_cells: tuple[int, int]) -> None:
    """The demo's preset with deep sequencing, few cells and depth levels up to the libraries' saturation."""
    from atlasbench.simulate.atlas import PRESETS

    demo = PRESETS["demo"]
    deep = tuple(dataclasses.replace(p, reads_per_cell=round(3000 * p.usable_fraction)) for p in demo.platforms)
    PRESETS[PRESET] = dataclasses.replace(
        demo,
        n_cells=atlas_cells,
        platforms=deep,
        reads_per_cell=(50, 100, 250, 500, 1000, 2000, "all"),
        cells=cells,
        scenarios=(),
        motif_cell_types=None,
    )


def study_file(folder: Path, seed: int) -> Path:
    """Simulate the atlas (once) and write its study on the designed regions."""
    from atlasbench.simulate.atlas import simulate_atlas

    if not (folder / "study.yaml").exists():
        simulate_atlas(folder, PRESET, seed=seed)
    return designed_study(folder, "data")


def measure(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per grid point, each platform's achieved usable reads per cell and targets' Pearson with the
    truth; per platform, the data's and the libraries' saturation depths."""
    from atlasbench.data.complexity import saturation_depth
    from atlasbench.data.levels import level_key
    from atlasbench.readouts.fidelity import fidelity_saturation, target_fidelity
    from atlasbench.study.data_stages import study_data
    from atlasbench.study.jobs import truth_targets
    from atlasbench.study.loader import load_study

    study = load_study(path)
    data = study_data(study)
    fidelity = target_fidelity(data.targets, truth_targets(study, data))
    designs = []
    for platform in study.platforms:
        (folder,) = (study.output / "targets").glob(f"{platform.name}-*")
        levels = pd.read_csv(folder / "levels.tsv", sep="\t", dtype={"cells": str, "reads_per_cell": str})
        designs.append(
            pd.DataFrame(
                {
                    "platform": platform.name,
                    "level": [level_key(r, c) for r, c in zip(levels["reads_per_cell"], levels["cells"])],
                    "reads_per_cell": levels["mean_reads_per_cell"],
                    "n_cells": levels["n_cells"],
                }
            )
        )
    points = fidelity.merge(pd.concat(designs), on=["platform", "level"])
    fits = fidelity_saturation(fidelity, points)
    rows = []
    for platform in study.platforms:
        cells = pd.read_csv(path.parent / "truth" / f"{platform.name}_barcodes.tsv", sep="\t")
        fit = fits[platform.name]
        rows.append(
            {
                "platform": platform.name,
                "data_saturation": fit.saturation_depth,
                "data_position": fit.depth_position,
                "data_plateau": fit.plateau,
                "data_r2": fit.r2,
                "library_saturation": saturation_depth(cells.loc[cells["kind"] == "cell", "complexity"].to_numpy()),
            }
        )
    return points, pd.DataFrame(rows)


def library_aware_depths(points: pd.DataFrame, folder: Path, cells: list[int]) -> pd.DataFrame:
    """Per platform, the fit of ``P * x / (x + K)``, ``x = cells * u(r)``, to the data's Pearson with
    the truth, its R2, and per cell level the reads per cell reaching 95% of its plateau there."""
    import numpy as np
    from scipy.optimize import brentq, curve_fit

    rows = []
    for platform, group in points.groupby("platform", sort=False):
        barcodes = pd.read_csv(folder / "truth" / f"{platform}_barcodes.tsv", sep="\t")
        m = barcodes.loc[barcodes["kind"] == "cell", "complexity"].to_numpy(float)

        def unique(r: float, m: np.ndarray = m) -> float:
            return float(np.mean(-m * np.expm1(-r / m)))

        x = group["n_cells"].to_numpy(float) * np.array([unique(r) for r in group["reads_per_cell"]])
        y = group["value"].to_numpy(float)

        def curve(x: np.ndarray, plateau: float, k: float) -> np.ndarray:
            return plateau * x / (x + k)

        (plateau, k), _ = curve_fit(curve, x, y, p0=[1.0, float(np.median(x))], bounds=([0, 0], [10, np.inf]))
        r2 = 1 - float(np.sum((curve(x, plateau, k) - y) ** 2)) / float(np.sum((y - y.mean()) ** 2))
        row = {"platform": platform, "plateau": plateau, "K": k, "r2": r2}
        for c in cells:
            top = curve(c * m.mean(), plateau, k)  # the plateau at c cells: every molecule read

            def gap(r: float, c: int = c, top: float = top, plateau: float = plateau, k: float = k) -> float:
                return float(curve(c * unique(r), plateau, k)) - 0.95 * top

            row[f"depth_at_{c}_cells"] = brentq(gap, 1e-3, 1e7)
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output folder (the simulated atlas and its targets)")
    ap.add_argument("--seed", type=int, default=0, help="simulation seed")
    ap.add_argument("--cells", type=int, nargs="+", default=[200, 600], help="cell levels of the grid")
    ap.add_argument(
        "--atlas-cells",
        type=int,
        nargs=2,
        default=[2000, 3200],
        help="cells simulated per platform (10x-like, HyDrop-like)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _register(tuple(args.cells), tuple(args.atlas_cells))
    path = study_file(args.out, args.seed)
    points, depths = measure(path)
    wide = points.pivot_table(index="level", columns="platform", values=["reads_per_cell", "value"])
    wide = wide.sort_values(("reads_per_cell", depths["platform"].iloc[0]))
    print("usable reads per cell and targets' Pearson with the truth, per grid point:")
    print(wide.to_string(float_format=lambda v: f"{v:.3f}"))
    print(depths.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    first, second = depths.iloc[0], depths.iloc[1]
    data_ratio = second["data_saturation"] / first["data_saturation"]
    library_ratio = second["library_saturation"] / first["library_saturation"]
    print(
        f"{second['platform']} / {first['platform']}: data {data_ratio:.3f}, libraries {library_ratio:.3f} "
        f"(the data's ratio off the libraries' by {data_ratio / library_ratio - 1:+.0%})"
    )
    aware = library_aware_depths(points, path.parent, args.cells)
    print("the surface in cells x unique fragments (95% of the plateau at each cell level):")
    print(aware.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for c in args.cells:
        column = aware[f"depth_at_{c}_cells"]
        print(f"{c} cells: {second['platform']} / {first['platform']} {column.iloc[1] / column.iloc[0]:.3f}")


if __name__ == "__main__":
    main()
