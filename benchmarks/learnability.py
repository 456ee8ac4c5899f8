"""How much of the simulated truth a model can learn, and how much the data's noise costs it.

Issue 15 asks for models limited by the data, not by the simulator or the recipe. This
benchmark takes the designed regions of a simulated atlas (the demo preset on a Markov
background, one kilobase of genome per region) and trains the demo's model on them with
targets drawn straight from the truth: the truth itself (``--depth 0``, noise-free), or
Poisson counts of mean ``depth x truth`` per region and cell type (thin data: depth 1 is
about one insertion per enhancer). It prints the test Pearson of the model against the
truth beside the targets' own: a model far below its noise-free ceiling is limited by the
simulator or the recipe, and accuracy that climbs with depth is what the benchmark needs
to tell platforms apart. No peak calling, no pseudobulk: this isolates the model.

    python benchmarks/learnability.py benchmarks/out/learnability --regions 1600 --depth 0 1 3 10 \
        --learning-rate 0.01 --max-epochs 40

With ``--noise-seed`` every training seed learns the same targets, so the spread of its rows
is the training's own scatter (``--depth 1 --seeds 7 8 9 10 11 12 13 --noise-seed 100``).

Folds are chromosome blocks of the designed regions (5; test fold 0, validation fold 1).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

log = logging.getLogger("learnability")

_REGION_COLUMNS = ("name", "chrom", "start", "end", "summit", "kind", "target", "strand")


def atlas(folder: Path, n_regions: int, seed: int) -> Path:
    """The simulated atlas (its truth and genome are all this benchmark reads)."""
    from atlasbench.simulate.atlas import simulate_atlas

    if not (folder / "study.yaml").exists():
        simulate_atlas(folder, "demo", n_cells=100, seed=seed, n_regions=n_regions, genome_length=1000 * n_regions)
    return folder


def block_folds(regions: pd.DataFrame, k: int = 5) -> np.ndarray:
    """Fold of each region: k blocks of equal count along the genome."""
    order = np.lexsort((regions["start"].to_numpy(), regions["chrom"].astype(str).to_numpy()))
    folds = np.empty(len(regions), dtype=np.int64)
    folds[order] = np.arange(len(regions)) * k // len(regions)
    return folds


def run_one(folder: Path, depth: float, args: argparse.Namespace, seed: int) -> dict:
    """Train on targets of one depth; the model's and the targets' test Pearson against the truth."""
    from atlasbench.io.genome import open_genome, region_codes
    from atlasbench.models.metrics import correlations
    from atlasbench.models.predict import predict
    from atlasbench.models.settings import Training
    from atlasbench.models.train import train

    truth = pd.read_csv(folder / "truth" / "regions.tsv", sep="\t")
    types = [c for c in truth.columns if c not in _REGION_COLUMNS]
    true = truth[types].to_numpy(np.float64)
    length, shift = args.input_length, 3
    with open_genome(folder / "genome" / "genome.fa.gz") as genome:
        codes, _ = region_codes(genome, truth["chrom"], truth["start"], truth["end"], length + 2 * shift)
    folds = block_folds(truth)
    rng = np.random.default_rng(seed + 100 if args.noise_seed is None else args.noise_seed)
    targets = true * 100 if depth == 0 else rng.poisson(true * depth).astype(np.float64)
    test, val, fit = np.flatnonzero(folds == 0), np.flatnonzero(folds == 1), np.flatnonzero(folds >= 2)
    recipe = Training(
        learning_rate=args.learning_rate,
        batch_size=32,
        max_epochs=args.max_epochs,
        early_stopping_patience=args.patience,
        lr_plateau_patience=max(3, args.patience // 2),
        max_shift=shift,
    )
    started = time.perf_counter()
    model, history = train(codes, targets, fit, val, input_length=length, training=recipe, seed=seed, progress=False)
    predicted = predict(model, codes[test][:, shift : shift + length])

    def pearson(values: np.ndarray) -> float:
        table = correlations(values, true[test], types)
        return float(table.loc[(table["cell_type"] == "all") & (table["metric"] == "pearson_mean"), "value"].iloc[0])

    return {
        "regions": len(truth),
        "train_regions": len(fit),
        "depth": depth,
        "seed": seed,
        "learning_rate": args.learning_rate,
        "epochs": len(history),
        "best_epoch": int(np.flatnonzero(history["best"].to_numpy())[-1]),
        "model_vs_truth": round(pearson(predicted), 3),
        "targets_vs_truth": round(pearson(targets[test]), 3),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder for the simulated atlases")
    parser.add_argument("--regions", type=int, nargs="+", default=[1600], help="designed regions per atlas")
    parser.add_argument("--depth", type=float, nargs="+", default=[0, 1, 3, 10], help="0: the truth itself")
    parser.add_argument("--seeds", type=int, nargs="+", default=[7], help="training seeds (and noise draws)")
    parser.add_argument(
        "--noise-seed", type=int, help="draw the targets once from this seed for every training seed (their scatter)"
    )
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=12)
    parser.add_argument("--input-length", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    rows = []
    for n_regions in args.regions:
        folder = atlas(args.out / f"regions-{n_regions}", n_regions, seed=0)
        for depth in args.depth:
            for seed in args.seeds:
                rows.append(run_one(folder, depth, args, seed))
                print(json.dumps(rows[-1]), flush=True)
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
