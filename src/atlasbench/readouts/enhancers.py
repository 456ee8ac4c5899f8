"""Validated enhancers: how well a model recognises enhancers tested in vivo.

The published benchmark scores enhancers whose activity was tested in transgenic
animals (each with the cell type it drives, plus negatives): each sequence goes through
the model (padded with N when shorter than the input, scored by its best window when
longer, averaged over a fold ensemble), the predictions are normalised to specificity
(each prediction divided by the sum over cell types), and the model is judged by

- per cell type, the area under the ROC and precision-recall curves of the normalised
  score separating that cell type's enhancers from every other sequence (the macro
  average over cell types is the headline);
- per enhancer, the rank of its target cell type among the cell types (1 = top) and
  whether it is the top one (the accuracy).

An enhancer table is a TSV/CSV with ``name``, either ``sequence`` or ``chrom``, ``start``,
``end`` (the tested tile), ``target_cell_type`` (a cell type, several joined by ``,``, or
empty for a negative) and ``label`` (1 for an enhancer active in its targets, 0 for a
negative).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.genome import match_chromosomes, open_genome
from atlasbench.models.predict import predict_sequences, predict_sequences_by_member
from atlasbench.models.trained import TrainedModel

log = logging.getLogger(__name__)


def read_enhancers(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and check an enhancer table (see the module documentation).

    Returns
    -------
    pandas.DataFrame
        ``name``, ``sequence`` or ``chrom``/``start``/``end``, ``targets`` (list of cell
        types), ``label`` (int).

    Raises
    ------
    AtlasbenchError
        Naming the file, line and column of the first problem.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "enhancer table not found")
    sep = "," if path.name.lower().removesuffix(".gz").endswith(".csv") else "\t"
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as err:
        raise input_error(path, f"cannot read the enhancer table ({err})") from err
    has_sequence = "sequence" in table.columns
    needed = ["name", "target_cell_type", "label"] + ([] if has_sequence else ["chrom", "start", "end"])
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise input_error(
            path, f"missing column(s) {missing}; expected name, sequence or chrom/start/end, target_cell_type, label"
        )
    if table.empty:
        raise input_error(path, "no enhancers in the table")
    label = table["label"].str.strip()
    bad = np.flatnonzero(~label.isin(["0", "1"]))
    if bad.size:
        raise input_error(path, f"column 'label' must be 1 or 0, got {table['label'].iloc[bad[0]]!r}", int(bad[0]) + 2)
    out = pd.DataFrame({"name": table["name"]})
    if has_sequence:
        out["sequence"] = table["sequence"].str.strip()
    else:
        for column in ("start", "end"):
            values = pd.to_numeric(table[column], errors="coerce")
            bad = np.flatnonzero(values.isna().to_numpy() | (values < 0).to_numpy())
            if bad.size:
                raise input_error(
                    path,
                    f"column {column!r} must be a non-negative integer, got {table[column].iloc[bad[0]]!r}",
                    int(bad[0]) + 2,
                )
            out[column] = values.astype(np.int64)
        out.insert(1, "chrom", table["chrom"])
        bad = np.flatnonzero(out["start"].to_numpy() >= out["end"].to_numpy())
        if bad.size:
            raise input_error(path, "start must be below end", int(bad[0]) + 2)
    out["targets"] = [[t.strip() for t in v.split(",") if t.strip()] for v in table["target_cell_type"]]
    out["label"] = label.astype(int).to_numpy()
    no_target = np.flatnonzero((out["label"] == 1).to_numpy() & (out["targets"].str.len() == 0).to_numpy())
    if no_target.size:
        raise input_error(path, "an enhancer with label 1 needs a target_cell_type", int(no_target[0]) + 2)
    return out


def enhancer_sequences(enhancers: pd.DataFrame, genome: str | os.PathLike[str] | None) -> list[str]:
    """The sequences of an enhancer table: its ``sequence`` column, or its tiles cut from ``genome``."""
    if "sequence" in enhancers.columns:
        return enhancers["sequence"].tolist()
    if genome is None:
        raise AtlasbenchError("the enhancer table gives coordinates: a genome FASTA is needed")
    with open_genome(genome) as fasta:
        mapping, unknown = match_chromosomes(enhancers["chrom"].unique(), fasta.sizes)
        if unknown:
            raise AtlasbenchError(f"enhancers on chromosomes not in {genome}: {', '.join(unknown[:5])}")
        seqs = []
        for chrom, start, end in zip(enhancers["chrom"].map(mapping), enhancers["start"], enhancers["end"]):
            if end > fasta.sizes[chrom]:
                raise AtlasbenchError(f"enhancer {chrom}:{start}-{end} runs past the end of {chrom} in {genome}")
            seqs.append(fasta.fetch(chrom, int(start), int(end)))
    return seqs


def score_enhancers(
    models: TrainedModel | Sequence[TrainedModel], enhancers: pd.DataFrame, genome: str | os.PathLike[str] | None
) -> pd.DataFrame:
    """Predictions of a model, or of a fold ensemble (its members' mean; a long enhancer
    scored by the ensemble's best window), for every enhancer.

    Returns
    -------
    pandas.DataFrame
        Indexed by enhancer name, one column per cell type (raw predictions).
    """
    models = [models] if isinstance(models, TrainedModel) else list(models)
    return pd.DataFrame(
        predict_sequences(models, enhancer_sequences(enhancers, genome)),
        index=pd.Index(enhancers["name"], name="name"),
        columns=models[0].cell_types,
    )


def ensemble_metrics(
    models: Sequence[TrainedModel], enhancers: pd.DataFrame, genome: str | os.PathLike[str] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The published read-out for each fold model and for their ensemble.

    The paper scores validated enhancers with the ensemble of a scenario's fold models;
    the fold models alone show how much that score varies with the model.

    Parameters
    ----------
    models
        The fold (and seed) models of one scenario.
    enhancers
        From :func:`read_enhancers`.
    genome
        Genome FASTA, for enhancers given as coordinates.

    Returns
    -------
    metrics : pandas.DataFrame
        One row per model (``fold``, ``seed``) and one for the ensemble (``fold`` =
        ``"ensemble"``): ``accuracy`` (target cell type on top), ``macro_auroc``,
        ``macro_auprc``, ``n_enhancers`` (labelled enhancers with a known target).
    ensemble : pandas.DataFrame
        The ensemble's scores, as :func:`score_enhancers` returns them.
    """
    members, mean = predict_sequences_by_member(models, enhancer_sequences(enhancers, genome))
    index = pd.Index(enhancers["name"], name="name")
    scores = [pd.DataFrame(p, index=index, columns=m.cell_types) for m, p in zip(models, members)]
    ensemble = pd.DataFrame(mean, index=index, columns=models[0].cell_types)
    rows = [
        {"fold": str(m.spec.get("test_fold", "")), "seed": str(m.spec.get("seed", "")), **_headline(s, enhancers)}
        for m, s in zip(models, scores)
    ]
    rows.append({"fold": "ensemble", "seed": "", **_headline(ensemble, enhancers)})
    return pd.DataFrame(rows), ensemble


def _headline(scores: pd.DataFrame, enhancers: pd.DataFrame) -> dict[str, float]:
    per_type, per_enhancer = enhancer_metrics(scores, enhancers)
    macro = per_type[per_type["cell_type"] == "macro"].iloc[0]
    return {
        "accuracy": float(per_enhancer["correct"].mean()) if len(per_enhancer) else float("nan"),
        "macro_auroc": float(macro["auroc"]),
        "macro_auprc": float(macro["auprc"]),
        "n_enhancers": len(per_enhancer),
    }


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a positive outscores a negative (ties count half)."""
    labels = np.asarray(labels, dtype=bool)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision: the mean of the precision at the rank of each positive (scores sorted high to low)."""
    labels = np.asarray(labels, dtype=bool)
    if not labels.any():
        return float("nan")
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = labels[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def enhancer_metrics(scores: pd.DataFrame, enhancers: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per cell type auROC/auPRC and per enhancer target rank, on specificity-normalised scores.

    Parameters
    ----------
    scores
        From :func:`score_enhancers` (index = enhancer names).
    enhancers
        From :func:`read_enhancers`.

    Returns
    -------
    per_cell_type : pandas.DataFrame
        ``cell_type``, ``auroc``, ``auprc``, ``n_positive``, ``n_negative``, plus a
        ``macro`` row (the mean over cell types with positives).
    per_enhancer : pandas.DataFrame
        For each enhancer with label 1: ``name``, ``target`` (its first target cell type
        the model knows), ``rank`` (1 = the target scores highest), ``top`` (the
        highest-scoring cell type), ``correct``, and the normalised scores.
    """
    cell_types = list(scores.columns)
    values = scores.loc[enhancers["name"]].to_numpy(dtype=np.float64)
    normalised = values / np.clip(values.sum(axis=1, keepdims=True), 1e-12, None)
    unknown = sorted({t for ts in enhancers["targets"] for t in ts} - set(cell_types))
    if unknown:
        log.warning("enhancer target cell types the model does not predict (left out): %s", ", ".join(unknown))
    rows = []
    for j, cell_type in enumerate(cell_types):
        labels = np.array([cell_type in ts for ts in enhancers["targets"]]) & (enhancers["label"].to_numpy() == 1)
        rows.append(
            {
                "cell_type": cell_type,
                "auroc": roc_auc(labels, normalised[:, j]),
                "auprc": average_precision(labels, normalised[:, j]),
                "n_positive": int(labels.sum()),
                "n_negative": int((~labels).sum()),
            }
        )
    per_type = pd.DataFrame(rows)
    scored = per_type[per_type["n_positive"] > 0]
    if scored.empty:
        raise AtlasbenchError(f"no enhancer targets one of the model's cell types ({', '.join(cell_types)})")
    macro = {
        "cell_type": "macro",
        "auroc": scored["auroc"].mean(),
        "auprc": scored["auprc"].mean(),
        "n_positive": int(scored["n_positive"].sum()),
        "n_negative": len(enhancers),
    }
    per_type = pd.concat([per_type, pd.DataFrame([macro])], ignore_index=True)

    index = {c: j for j, c in enumerate(cell_types)}
    records = []
    for i, (name, targets, label) in enumerate(zip(enhancers["name"], enhancers["targets"], enhancers["label"])):
        known = [t for t in targets if t in index]
        if label != 1 or not known:
            continue
        row = normalised[i]
        target = known[0]
        rank = 1 + int((row > row[index[target]]).sum())
        top = cell_types[int(np.argmax(row))]
        records.append(
            {
                "name": name,
                "target": target,
                "rank": rank,
                "top": top,
                "correct": top in known,
                **{f"score_{c}": row[j] for j, c in enumerate(cell_types)},
            }
        )
    return per_type, pd.DataFrame(records)


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at every score threshold (from the highest down)."""
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = labels[order]
    tpr = np.concatenate([[0.0], np.cumsum(hits) / max(hits.sum(), 1)])
    fpr = np.concatenate([[0.0], np.cumsum(~hits) / max((~hits).sum(), 1)])
    return fpr, tpr


def write_enhancer_report(
    scores: pd.DataFrame, enhancers: pd.DataFrame, out: str | os.PathLike[str]
) -> dict[str, Path]:
    """Write the validated-enhancer evaluation: tables and ROC curves.

    Files: ``per_cell_type.tsv`` and ``per_enhancer.tsv`` (see :func:`enhancer_metrics`),
    ``scores.tsv`` (raw predictions) and ``roc.png`` / ``roc.pdf`` (one ROC curve per cell
    type on the specificity-normalised scores).

    Returns
    -------
    dict of str to pathlib.Path
        File kind -> path.
    """
    from matplotlib.figure import Figure

    from atlasbench.io.atomic import atomic_path
    from atlasbench.io.figures import save_figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    per_type, per_enhancer = enhancer_metrics(scores, enhancers)
    paths = {
        "per_cell_type": out / "per_cell_type.tsv",
        "per_enhancer": out / "per_enhancer.tsv",
        "scores": out / "scores.tsv",
        "roc": out / "roc.png",
    }
    for key, table, index in (
        ("per_cell_type", per_type, False),
        ("per_enhancer", per_enhancer, False),
        ("scores", scores, True),
    ):
        with atomic_path(paths[key]) as tmp:
            table.to_csv(tmp, sep="\t", index=index, float_format="%.6g")
    values = scores.loc[enhancers["name"]].to_numpy(dtype=np.float64)
    normalised = values / np.clip(values.sum(axis=1, keepdims=True), 1e-12, None)
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.subplots()
    for j, cell_type in enumerate(scores.columns):
        labels = np.array([cell_type in ts for ts in enhancers["targets"]]) & (enhancers["label"].to_numpy() == 1)
        if labels.any() and (~labels).any():
            fpr, tpr = roc_curve(labels, normalised[:, j])
            auc = per_type.loc[per_type["cell_type"] == cell_type, "auroc"].iloc[0]
            ax.plot(fpr, tpr, lw=1.2, label=f"{cell_type} ({auc:.2f})")
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
    macro = per_type.loc[per_type["cell_type"] == "macro"].iloc[0]
    accuracy = per_enhancer["correct"].mean() if len(per_enhancer) else float("nan")
    ax.set(
        xlabel="false positive rate",
        ylabel="true positive rate",
        xlim=(0, 1),
        ylim=(0, 1.01),
        title=f"validated enhancers: macro auROC {macro['auroc']:.2f}, top-1 {accuracy:.2f}",
    )
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, frameon=False, loc="lower right", title="cell type (auROC)", title_fontsize=7)
    fig.tight_layout()
    save_figure(fig, paths["roc"])
    return paths
