"""Which cell types did a simulated study's models learn, and what sets their activators apart?

The motif read-out finds a cell type's planted activator only where the model uses it.
For each cell type this script measures, on a simulated atlas whose study has run:

- ``separation``: how far the cell type's output puts its own enhancers above the closed
  regions (never accessible, never trained on), in SDs of that output over all the
  atlas's regions (the mean over the platform's full-data models). A model that learned
  the activator ranks its enhancers well above closed sequence; one that did not scores
  them as it scores background;
- ``closed_argmax``: the share of closed regions whose standardised prediction is the
  highest in this output (1/8 each if no output were the default): a cell type that
  takes far more than its share is where the model puts sequence with no motif it knows;
- ``pioneer``: whether the simulator's pioneer (vfl) acts in the type;
- ``at``: the A/T share of the activator's JASPAR matrix;
- ``background``: near-matches of the activator (relative score >= 0.8, below the
  simulator's 0.85 at which chance matches are broken) per kilobase of closed regions,
  the look-alikes the model must tell from planted sites.

    atlasbench demo --out atlasbench-demo
    python benchmarks/learned_cell_types.py atlasbench-demo
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def main(argv: list[str] | None = None) -> None:
    from atlasbench.io.genome import open_genome, region_codes
    from atlasbench.io.jaspar import jaspar_motif
    from atlasbench.models.predict import predict
    from atlasbench.models.trained import load_trained
    from atlasbench.simulate.grammar import DEFAULT_CELL_TYPES
    from atlasbench.simulate.motifs import relative_scores

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("atlas", type=Path, help="a simulated atlas whose study has run (results/ and truth/)")
    ap.add_argument("--platforms", nargs="+", default=["10x", "hydrop"])
    args = ap.parse_args(argv)
    truth = pd.read_csv(args.atlas / "truth" / "regions.tsv", sep="\t")
    pioneer = {c.name: c.pioneer for c in DEFAULT_CELL_TYPES}
    rows = []
    for platform in args.platforms:
        folder = args.atlas / "results" / "models" / platform / "reads-all_cells-all"
        models = [load_trained(d) for d in sorted(folder.glob("fold-*"))]
        cell_types = list(models[0].cell_types)
        length = models[0].input_length
        with open_genome(next((args.atlas / "genome").glob("*.fa.gz"))) as genome:
            codes, _ = region_codes(genome, truth["chrom"], truth["start"], truth["end"], length)
        predictions = np.mean([predict(m.module, codes, device="cpu") for m in models], axis=0)
        z = (predictions - predictions.mean(axis=0)) / predictions.std(axis=0)
        closed = (truth["kind"] == "closed").to_numpy()
        argmax = pd.Series(np.array(cell_types)[z[closed].argmax(axis=1)]).value_counts(normalize=True)
        for k, cell_type in enumerate(cell_types):
            own = ((truth["kind"] == "enhancer") & (truth["target"] == cell_type)).to_numpy()
            motif = jaspar_motif(cell_type)
            near = sum(int((relative_scores(c, motif) >= 0.8).sum()) for c in codes[closed])
            rows.append(
                {
                    "platform": platform,
                    "cell_type": cell_type,
                    "pioneer": pioneer.get(cell_type),
                    "separation": z[own, k].mean() - z[closed, k].mean(),
                    "closed_argmax": argmax.get(cell_type, 0.0),
                    "at": motif.probs[:, [0, 3]].sum() / motif.length,
                    "background": near / (closed.sum() * length / 1000),
                }
            )
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
