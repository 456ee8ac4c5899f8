"""Shared fixtures: a tiny dilated CNN trained on a simulated design with planted motifs."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

from atlasbench.data.folds import FoldScheme, assign_folds
from atlasbench.io.genome import base_codes
from atlasbench.models.settings import Training
from atlasbench.models.train import train
from atlasbench.simulate.atlas import bundled_genome, read_fasta
from atlasbench.simulate.grammar import Design, design_atlas

#: Largest random shift in training; the training windows are this much wider per side.
PLANTED_SHIFT = 3


@dataclass
class Planted:
    """A model trained on a simulated design's truth, and what it was trained on."""

    design: Design
    codes: np.ndarray  # uint8 (regions, length): the model's input windows
    y: np.ndarray  # float32 (regions, cell types): the design's truth
    folds: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    length: int
    model: torch.nn.Module
    history: pd.DataFrame
    seconds: float


def _windows(genome: dict[str, str], regions: pd.DataFrame, length: int) -> np.ndarray:
    """Base codes of the ``length`` bp windows centred on each region, N-padded at chromosome ends."""
    seqs = []
    for chrom, start, end in zip(regions["chrom"], regions["start"], regions["end"]):
        left = (start + end) // 2 - length // 2
        seq = genome[chrom][max(left, 0) : left + length]
        seqs.append("N" * max(-left, 0) + seq + "N" * (length - max(-left, 0) - len(seq)))
    return base_codes(seqs)


@pytest.fixture(scope="session")
def planted() -> Planted:
    """3,500 designed regions of real fly sequence (300 bp, JASPAR motifs planted per
    cell type), chromosome-block folds (test fold 0, validation fold 1), and the tiny
    dilated CNN trained on the design's truth for 14 epochs (about a minute on 2 cores)."""
    torch.set_num_threads(2)
    genome = read_fasta(bundled_genome())
    design = design_atlas(genome, 3500, rng=np.random.default_rng(0), width=300, spacing=60)
    regions = design.regions
    folds = assign_folds(regions, FoldScheme("chromosome_block", k=5), {c: len(s) for c, s in genome.items()})
    length = 300
    wide = _windows(design.genome, regions, length + 2 * PLANTED_SHIFT)
    y = design.truth.loc[regions["name"]].to_numpy(np.float32)
    train_idx, val_idx, test_idx = (np.flatnonzero(folds >= 2), np.flatnonzero(folds == 1),
                                    np.flatnonzero(folds == 0))
    recipe = Training(loss="cosine_mse_log", learning_rate=3e-3, batch_size=32, max_epochs=14,
                      early_stopping_patience=14, max_shift=PLANTED_SHIFT, device="cpu")
    started = time.perf_counter()
    model, history = train(wide, y, train_idx, val_idx, params={"n_dil_layers": 5}, input_length=length,
                           training=recipe, seed=7, progress=False)
    return Planted(design, wide[:, PLANTED_SHIFT : PLANTED_SHIFT + length], y, folds, train_idx, test_idx, length,
                   model, history, time.perf_counter() - started)
