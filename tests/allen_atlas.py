"""A small simulated atlas whose cell types are named as a mouse-cortex atlas names them
(Allen taxonomy style: "/", spaces, "+", parentheses, non-ASCII), shared by the tests of
cell-type names and of Cell Ranger-shaped atlases."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from atlasbench.simulate.atlas import simulate_atlas

# the small preset's cell types -> names as a mouse-cortex atlas spells them; "tin" stays (a safe name)
ALLEN = {
    "twi": "L2/3 IT",
    "SoxN": "L5/6 NP",
    "GATAe": "Sst+ (Chodl)",
    "grh": "Müller glia",
    "lz": "L4/5 IT",
    "repo": "Pvalb (Vipr2)",
    "fkh": "OPC/Oligo",
}
NAMES = sorted([*ALLEN.values(), "tin"])


def rewrite(path: Path, columns=(), header: bool = False, mapping=ALLEN) -> None:
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    for column in columns:
        table[column] = table[column].map(lambda v: mapping.get(v, v))
    if header:
        table = table.rename(columns=mapping)
    table.to_csv(path, sep="\t", index=False)


def allen_study(base: Path, platforms: tuple[str, ...] = ("10x",)) -> Path:
    """The small simulated atlas with Allen-style cell-type names everywhere (cell tables,
    validated enhancers, truth) and CPU-tiny settings; returns its study file."""
    simulate_atlas(base, "small", seed=5, platforms=platforms)
    for platform in platforms:
        rewrite(base / platform / "cells.tsv", ["cell_type"])
        rewrite(base / "truth" / f"{platform}_barcodes.tsv", ["cell_type", "second_type"])
    rewrite(base / "enhancers.tsv", ["target_cell_type"])
    rewrite(base / "truth" / "sites.tsv", ["cell_type"])
    rewrite(base / "truth" / "regions.tsv", ["target"], header=True)
    text = (base / "study.yaml").read_text()
    text = re.sub(r"  motifs: .*\n", "  motifs: null\n", text)  # TF-MoDISco alone would take most of a minute
    text = re.sub(r"  cells: \[.*?\]\n", "  cells: [all]\n  min_cells_per_type: 2\n", text)
    text = re.sub(r"max_epochs: \d+", "max_epochs: 2", text)
    (base / "study.yaml").write_text(text)
    return base / "study.yaml"
