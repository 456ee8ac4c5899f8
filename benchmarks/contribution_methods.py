"""Which contribution scores put a model's credit on the motifs the simulator planted?

TF-MoDISco finds motifs in contribution scores only where those scores single out the
bases that matter. On a simulated atlas the truth says which bases matter: every
planted activator site (``truth/sites.tsv``). For each cell type, this script takes the
regions a full-data model predicts most specific to it (as the motif read-out does,
:func:`atlasbench.readouts.motifs.specific_regions`), scores them by each method, and
prints the share of the top 1% of positions (by contribution to the cell type's output)
that lie on the cell type's planted activator sites, beside the share of all positions
those sites cover (what chance gives), and the share of positions with a positive
contribution. Methods:

- ``gradient``: gradient x input at the sequence, centred across bases
  (:func:`atlasbench.readouts.contributions.input_gradients`, the motif read-out's default);
- ``ig_zero``: integrated gradients from the all-zero sequence
  (:func:`atlasbench.readouts.contributions.integrated_gradients`);
- ``ig_shuffled``: integrated gradients averaged over paths from shuffled copies of each
  sequence (CREsted's ``expected_integrated_grad``), computed here.

    atlasbench demo --out atlasbench-demo
    python benchmarks/contribution_methods.py atlasbench-demo --platform 10x

Reads the demo's (or any simulated study's) results: the encoded sequences, the
full-data model of the first test fold, and the truth.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

METHODS = ("gradient", "ig_zero", "ig_shuffled")


def _shuffled_ig(model: torch.nn.Module, codes: np.ndarray, output: int, steps: int, references: int) -> np.ndarray:
    """Mean gradient over straight paths from ``references`` shuffles of each sequence (forward strand)."""
    from atlasbench.models.dataset import one_hot

    rng = np.random.default_rng(0)
    x = one_hot(torch.as_tensor(codes))
    total = torch.zeros_like(x)
    for _ in range(references):
        order = np.stack([rng.permutation(codes.shape[1]) for _ in range(len(codes))])
        base = one_hot(torch.as_tensor(np.take_along_axis(codes, order, axis=1)))
        for k in range(steps):
            point = (base + (x - base) * ((k + 0.5) / steps)).requires_grad_(True)
            (grad,) = torch.autograd.grad(model(point)[:, output].sum(), point)
            total += grad
    mean = total / (steps * references)
    return (mean - mean.mean(dim=1, keepdim=True)).numpy()


def main(argv: list[str] | None = None) -> None:
    from atlasbench.models.dataset import one_hot
    from atlasbench.models.predict import predict
    from atlasbench.models.trained import load_trained
    from atlasbench.readouts.contributions import input_gradients, integrated_gradients
    from atlasbench.readouts.motifs import specific_regions

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("atlas", type=Path, help="a simulated atlas whose study has run (results/ and truth/)")
    ap.add_argument("--platform", default="10x")
    ap.add_argument("--cell-types", nargs="+", default=["twi", "GATAe", "grh", "fkh"])
    ap.add_argument("--regions", type=int, default=100, help="most specific regions per cell type")
    ap.add_argument("--steps", type=int, default=8, help="integrated-gradient steps")
    ap.add_argument("--references", type=int, default=4, help="shuffled references of ig_shuffled")
    args = ap.parse_args(argv)
    results = args.atlas / "results"
    names = next((results / "sequences").glob("*.names.txt")).read_text().split()
    windows = np.load(next((results / "sequences").glob("*.npy")))
    model_dir = sorted((results / "models" / args.platform / "reads-all_cells-all").glob("fold-*"))[0]
    trained = load_trained(model_dir)
    model = trained.module.eval()
    length = trained.input_length
    trim = (windows.shape[1] - length) // 2
    codes = np.ascontiguousarray(windows[:, trim : trim + length])
    chroms = np.array([n.rsplit(":", 1)[0] for n in names])
    bounds = np.array([n.rsplit(":", 1)[1].split("-") for n in names], dtype=np.int64)
    starts = bounds.sum(axis=1) // 2 - length // 2  # the model's window, centred on the region
    sites = pd.read_csv(args.atlas / "truth" / "sites.tsv", sep="\t")
    predictions = predict(model, codes, device="cpu")
    rows = []
    for cell_type in args.cell_types:
        output = list(trained.cell_types).index(cell_type)
        chosen = specific_regions(predictions, output, args.regions)
        on_site = np.zeros((len(chosen), length), dtype=bool)
        own = sites[sites["motif"] == cell_type]
        for k, i in enumerate(chosen):
            hit = own[(own["chrom"] == chroms[i]) & (own["start"] >= starts[i]) & (own["end"] <= starts[i] + length)]
            for start, end in zip(hit["start"] - starts[i], hit["end"] - starts[i]):
                on_site[k, start:end] = True
        onehot = one_hot(torch.as_tensor(codes[chosen])).numpy()
        for method in METHODS:
            if method == "gradient":
                _, hypothetical = input_gradients(model, codes[chosen], output, device="cpu")
            elif method == "ig_zero":
                _, hypothetical = integrated_gradients(model, codes[chosen], output, steps=args.steps, device="cpu")
            else:
                hypothetical = _shuffled_ig(model, codes[chosen], output, args.steps, args.references)
            per_base = (hypothetical * onehot).sum(axis=1)
            top = per_base >= np.quantile(per_base, 0.99)
            rows.append(
                {
                    "cell_type": cell_type,
                    "method": method,
                    "regions": len(chosen),
                    "top_1pct_on_sites": on_site[top].mean(),
                    "sites_cover": on_site.mean(),
                    "positive": (per_base > 0).mean(),
                }
            )
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
