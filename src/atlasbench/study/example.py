"""A commented example study touching every section: :func:`example_study_yaml`.

The README points new users to it as a template; it loads
(:func:`atlasbench.study.loader.load_study`) once the files it names exist.
"""

from __future__ import annotations

__all__ = ["example_study_yaml"]

_EXAMPLE = """\
# An atlasbench study: which platform, how many cells and how many reads per cell
# give training data good enough for sequence-to-function models?
# Paths are relative to this file's folder. Sections left out take their defaults.
name: example
description: HyDrop v2 vs 10x on a small fly atlas
output: results                 # every artefact, named by a hash of its config
seed: 7                         # downsampling seed

genome:
  fasta: genome/dm6.fa          # FASTA with .fai; chrom_sizes alone serves the data layer
  name: dm6                     # alone (no fasta): fetched once into the genome cache
  chromosomes: [2L, 2R, 3L, 3R, X]

platforms:
  - name: hydrop
    fragments: data/hydrop.fragments.tsv.gz
    cells: data/hydrop.cells.tsv        # columns: barcode, cell_type
    cost: {per_cell: 0.049, per_million_reads: 2.875, currency: USD}
  - name: tenx
    fragments:                          # one file per sample ...
      - data/tenx_rep1.fragments.tsv.gz
      - data/tenx_rep2.fragments.tsv.gz
    samples: [rep1, rep2]               # ... named as in the cell table's sample column
    cells: data/tenx.cells.tsv          # columns: barcode, cell_type, sample
    cost: {per_cell: 0.471, per_million_reads: 2.875}
  - name: pooled                        # a combined atlas: both platforms' cells pooled
    union: [hydrop, tenx]
    common_depth: 20000                 # thin each part to 20k reads per cell first

regions:
  width: 500                    # MACS3 peaks per cell type -> 500 bp consensus regions
  peak_calling: {qvalue: 0.05}

targets:
  window: 1000                  # insertions counted over the central 1 kb
  normalization: log1p_cpm
  peak_height_top_k_percent: 0.03

grid:
  reads_per_cell: [5000, 20000, all]
  cells: [200, all]
  seeds: [7]
  scenarios:                    # named comparisons, trained on every fold
    - {name: matched, platform: hydrop, cells: matched}
    - {name: matched-plus-50, platform: hydrop, cells: matched+50%, reads_per_cell: 20000}

folds:
  scheme: chromosome            # or chromosome_block (the published protocol) or random
  groups: [[2L], [2R], [3L], [3R], [X]]
  test_folds: all
  validation: next

model:
  architecture: dilated_cnn
  preset: tiny                  # "paper" for the published width (GPU)
  input_length: 2114
  params: {}                    # preset overrides, e.g. {filters: 512}

training:
  learning_rate: 1e-3
  batch_size: 256
  max_epochs: 20
  finetune: {learning_rate: 1e-4, batch_size: 128}

evaluation:
  reference_platform: tenx

executor:
  kind: local                   # or dask, or slurm (resources below)
  slurm:
    partition: batch
    time: "04:00:00"
    memory: 16GB
    jobs:
      train: {partition: gpu, gpus: 1, time: "12:00:00"}
"""


def example_study_yaml() -> str:
    """A small commented study touching every section; valid once its files exist.

    Returns
    -------
    str
        YAML text (its paths are relative: ``genome/dm6.fa`` and ``data/...``).
    """
    return _EXAMPLE
