"""A simulated atlas's study on the regions its simulation designed, for the benchmarks.

The calibration benchmarks (``truth_recovery.py``, ``regions_curve.py``,
``library_variance.py``, ``data_saturation.py``) train and score on the regions the
simulator planted (``truth/regions.tsv``) instead of MACS3 peaks, so that what they
measure is the data, the models and the statistics, not peak calling. Each writes its
own study file beside the simulation's ``study.yaml`` with this function.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml


def designed_study(folder: Path, name: str, edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Write ``folder/study-<name>.yaml``: the simulation's study on its designed regions.

    Parameters
    ----------
    folder
        A simulated atlas (``atlasbench simulate``): ``study.yaml`` and ``truth/regions.tsv``.
    name
        The study file's suffix.
    edit
        Changes the benchmark makes to the study's settings (the parsed ``study.yaml``, in
        place) beyond its regions: grid, folds, training...

    Returns
    -------
    pathlib.Path
        The study file written; its regions are ``folder/regions.bed``.
    """
    truth = pd.read_csv(folder / "truth" / "regions.tsv", sep="\t")
    truth[["chrom", "start", "end", "name"]].to_csv(folder / "regions.bed", sep="\t", header=False, index=False)
    settings = yaml.safe_load((folder / "study.yaml").read_text())
    settings["regions"] = {"bed": "regions.bed"}
    if edit is not None:
        edit(settings)
    path = folder / f"study-{name}.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path
