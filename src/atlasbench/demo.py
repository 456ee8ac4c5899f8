"""The embedded demo study: real scATAC data bundled with the package, ready to run."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from atlasbench.atomic import write_text_atomic

DEMO_FILES = ("archr_pbsmall_hg19.fragments.tsv.gz", "archr_pbsmall_cells.tsv", "hg19_chr5_chr11.chrom.sizes")

DEMO_STUDY = """\
# atlasbench demo: real 10x scATAC fragments of 150 blood cells (ArchR's PBSmall test
# data: B cells, monocytes, T cells; hg19 chr5 and chr11).
name: demo
output: results
seed: 7
genome:
  name: hg19
  chrom_sizes: inputs/hg19_chr5_chr11.chrom.sizes
platforms:
  - name: 10x
    fragments: inputs/archr_pbsmall_hg19.fragments.tsv.gz
    cells: inputs/archr_pbsmall_cells.tsv
    cost: {per_cell: 0.471, per_million_reads: 2.875}
regions:
  width: 500
targets:
  window: 1000
  normalization: log1p_cpm
  peak_height_top_k_percent: null  # too few, too sparse regions for peak-height scaling
grid:
  reads_per_cell: [50, 100, all]   # the data has about 196 reads per cell
  cells: [60, 120, all]
  min_cells_per_type: 10
folds:
  scheme: chromosome_block
  k: 4
"""


def write_demo_study(out: str | Path) -> Path:
    """Copy the bundled data into ``out/inputs`` and write ``out/study.yaml``.

    Parameters
    ----------
    out
        Folder of the demo study (created).

    Returns
    -------
    pathlib.Path
        The study file.
    """
    out = Path(out)
    inputs = out / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    data = resources.files("atlasbench") / "data"
    for name in DEMO_FILES:
        with resources.as_file(data / name) as src:
            if not (inputs / name).exists():
                shutil.copyfile(src, inputs / name)
    study = out / "study.yaml"
    write_text_atomic(study, DEMO_STUDY)
    return study
