"""How much common random numbers shrink the SD of paired platform differences.

Issue 15, item 3. At a given test fold and seed every platform and grid level starts from
the same initial weights and sees the same batches (:mod:`atlasbench.models.train`), so
a paired difference between two platforms measures their data, not the draw. This script
measures the gain on a study :mod:`truth_recovery` made: it trains the study again with
two seeds (the first seed's models are reused) and compares, over the grid points and
test folds, the SD of the paired differences between the two platforms

- *with* common random numbers: both sides trained with the same seed (7 with 7, 8 with 8);
- *without*: each side with another seed (7 with 8, 8 with 7), as if every job drew its own.

    python benchmarks/common_random_numbers.py benchmarks/out/truth/true-seed-0

Printed per comparison (against the full data, against the truth): both SDs and their
ratio, and the minimum detectable difference each would give at the study's pairs. The SD
is the one the platform comparison tests with: the residual SD of the differences about
their grid point's mean (:func:`atlasbench.readouts.comparisons.compare_platforms`), so the
grid points' designed spread counts in neither.
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

SEEDS = (7, 8)


def residual_sd(differences: pd.Series) -> float:
    """SD of paired differences about their grid point's mean (index level ``level``), on
    ``n - grid points`` degrees of freedom."""
    level = differences.index.get_level_values("level")
    residual = differences - differences.groupby(level).transform("mean")
    return float(np.sqrt((residual**2).sum() / (len(differences) - level.nunique())))


def main(argv: list[str] | None = None) -> None:
    from atlasbench.readouts.power import minimum_detectable_difference
    from atlasbench.study.loader import load_study
    from atlasbench.study.run import evaluation_table, run_study

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("atlas", type=Path, help="an atlas folder of benchmarks/truth_recovery.py")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    text = (args.atlas / "study-calibration.yaml").read_text()
    seeds = ", ".join(str(s) for s in SEEDS)
    text = re.sub(r"grid:\n", f"grid:\n  seeds: [{seeds}]\n", text, count=1)
    (args.atlas / "study-crn.yaml").write_text(text)
    study = load_study(args.atlas / "study-crn.yaml")
    run_study(study, "local", until="evaluate", progress=False)
    table = evaluation_table(study)
    first, second = (p.name for p in study.platforms)
    rows = []
    for against in ("full", "truth"):
        chosen = (table["metric"] == "pearson_mean") & (table["cell_type"] == "all") & (table["against"] == against)
        score = table[chosen]
        wide = score.pivot_table(index=["level", "fold"], columns=["platform", "seed"], values="value")
        same = pd.concat([wide[(first, s)] - wide[(second, s)] for s in SEEDS])
        crossed = pd.concat([wide[(first, a)] - wide[(second, b)] for a, b in (SEEDS, SEEDS[::-1])])
        n, points = len(same), wide.index.get_level_values("level").nunique()
        sd_same, sd_crossed = residual_sd(same), residual_sd(crossed)
        rows.append(
            {
                "against": against,
                "pairs": n,
                "grid_points": points,
                "sd_common_random_numbers": sd_same,
                "sd_independent": sd_crossed,
                "ratio": sd_same / sd_crossed,
                "mdd_common": minimum_detectable_difference(sd_same, n, blocks=points),
                "mdd_independent": minimum_detectable_difference(sd_crossed, n, blocks=points),
            }
        )
    out = pd.DataFrame(rows)
    out.to_csv(args.atlas / "common_random_numbers.csv", index=False)
    print(out.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
