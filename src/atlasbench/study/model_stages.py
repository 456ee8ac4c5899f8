"""The model stages of a study, as plain cached functions on paths: the grid's jobs.

- :func:`sequences_stage`: the sequence window of every region, encoded once
  (``sequences/<hash>.npy``, uint8 base codes) and shared by every training job;
- :func:`train_stage`: one model per (platform, level, test fold, seed), trained on the
  level's targets, with its test-fold predictions (``models/<platform>/<level>/...``);
- :func:`evaluate_stage`: the model's test-fold accuracy against its own targets, its
  platform's full data and the other platforms' full data, as tidy rows.

:mod:`atlasbench.study.jobs` schedules them as the jobs of a study.

Like the data stages, each job's folder is named by a hash of what determines it, and a
finished job is recognised by its last file; a rerun skips it, a killed training job
resumes from its last epoch checkpoint.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
from pathlib import Path

import anndata
import numpy as np
import pandas as pd

from atlasbench.data.folds import split_labels, split_masks
from atlasbench.data.targets import read_targets, write_targets
from atlasbench.errors import AtlasbenchError
from atlasbench.io.atomic import atomic_path, write_text_atomic
from atlasbench.io.genome import open_genome, region_codes
from atlasbench.models.architectures import count_parameters, model_params
from atlasbench.models.losses import cosine_mse_log_settings
from atlasbench.models.predict import predict
from atlasbench.models.train import initial_model, train, weights_digest
from atlasbench.models.trained import is_trained, save_trained
from atlasbench.readouts.evaluate import evaluate_against, tidy
from atlasbench.study.data_stages import GenomeInfo, fingerprint
from atlasbench.study.schema import Study

log = logging.getLogger(__name__)

TEST_PREDICTIONS = "test_predictions.h5ad"


def sequences_stage(study: Study, regions: pd.DataFrame, genome: GenomeInfo) -> Path:
    """Encode the window around every region once, for all training jobs (cached).

    Each window is the model input length plus twice the largest training shift,
    centred on the region, N-padded past chromosome ends.

    Returns
    -------
    pathlib.Path
        ``.npy`` file of uint8 base codes, one row per region in ``regions`` order; the
        region names are in the ``.names.txt`` file beside it.
    """
    if genome.fasta is None:
        raise AtlasbenchError(
            "training needs the genome sequence: set genome.fasta in the study file, or fetch it "
            "(genome.url, or genome.name without chrom_sizes)"
        )
    length = study.model.input_length + 2 * study.training.max_shift
    key = fingerprint(genome.fasta, length, regions["name"].tolist())
    out = study.output / "sequences" / f"{key}.npy"
    names = out.with_suffix(".names.txt")
    if out.exists() and names.exists():
        return out
    with open_genome(genome.fasta) as fasta:
        codes, _ = region_codes(
            fasta, regions["chrom"].to_numpy(), regions["start"].to_numpy(), regions["end"].to_numpy(), length
        )
    log.info("encoded %d sequence windows of %d bp", len(codes), length)
    with atomic_path(out) as tmp, open(tmp, "wb") as handle:
        np.save(handle, codes)
    write_text_atomic(names, "\n".join(regions["name"]) + "\n")
    return out


def _load_sequences(path: Path, names: pd.Index) -> np.ndarray:
    """The encoded windows of ``names`` (in that order) from :func:`sequences_stage`'s file."""
    stored = pd.Index(path.with_suffix(".names.txt").read_text().split("\n")[:-1])
    rows = stored.get_indexer(names)
    if (rows < 0).any():
        raise AtlasbenchError(
            f"{path}: no sequence for {int((rows < 0).sum())} target regions, e.g. {names[rows < 0][0]}"
        )
    return np.load(path, mmap_mode="r")[rows]


def model_folder(study: Study, platform: str, level: str, fold: int, seed: int, key: str) -> Path:
    """Where the model of one grid job lives."""
    return study.output / "models" / platform / level / f"fold-{fold}_seed-{seed}-{key}"


def train_stage(
    study: Study,
    platform: str,
    level: str,
    targets_path: Path,
    sequences_path: Path,
    fold: int,
    seed: int,
    progress: bool = True,
) -> Path:
    """Train the model of one grid job: a platform's level, one test fold, one seed (cached).

    The regions of the test fold and of its validation fold (``folds.validation``) are
    held out of training; training stops early on the validation loss. With
    ``training.finetune`` set, a second round trains on the cell-type-specific regions
    (``targets.specificity_gini_std``). The model's predictions on the test fold are saved
    beside it as targets-shaped AnnData (``test_predictions.h5ad``).

    Parameters
    ----------
    study
        The study.
    platform, level
        The grid point (level key ``reads-R_cells-C``).
    targets_path
        Its targets ``.h5ad``.
    sequences_path
        The encoded windows (:func:`sequences_stage`).
    fold
        The test fold.
    seed
        Training seed.
    progress
        Show progress bars.

    Returns
    -------
    pathlib.Path
        The model folder (see :mod:`atlasbench.models.trained`).
    """
    key = fingerprint(str(targets_path), sequences_path.name, study.hash_of("model", "training", "folds"), fold, seed)
    out = model_folder(study, platform, level, fold, seed, key)
    if is_trained(out):
        log.debug("model %s %s fold %d seed %d: cached in %s", platform, level, fold, seed, out)
        return out
    adata = read_targets(targets_path)
    val_fold = study.folds.validation_fold(fold)
    masks = split_masks(adata.var["fold"].to_numpy(), fold, val_fold, check=False)
    split = split_labels(masks)
    train_index, val_index, test_index = (np.flatnonzero(masks[part]) for part in ("train", "validation", "test"))
    if test_index.size == 0:
        raise AtlasbenchError(f"{targets_path}: no region is in test fold {fold}")
    codes = _load_sequences(sequences_path, adata.var_names)
    targets = np.asarray(adata.X, dtype=np.float32).T
    finetune = None
    if study.training.finetune is not None and "specific" in adata.var:
        specific = adata.var["specific"].to_numpy(bool)
        finetune = (train_index[specific[train_index]], val_index[specific[val_index]])
        if min(len(finetune[0]), len(finetune[1])) == 0:
            log.warning("no cell-type-specific regions to fine-tune on in %s; skipping fine-tuning", targets_path)
            finetune = None
    normalization, window = adata.uns["normalization"], int(adata.uns["window"])
    multiplier, max_weight = cosine_mse_log_settings(
        normalization, window, study.training.loss_multiplier, study.training.loss_max_weight
    )
    m = study.model
    model, history = train(
        codes,
        targets,
        train_index,
        val_index,
        architecture=m.architecture,
        preset=m.preset,
        params=m.params,
        input_length=m.input_length,
        training=study.training,
        loss_multiplier=multiplier,
        loss_max_weight=max_weight,
        seed=seed,
        finetune_index=finetune,
        checkpoint_dir=out,
        progress=progress,
    )
    shift = study.training.max_shift
    pred = predict(model, codes[test_index, shift : shift + m.input_length], device=study.training.device)
    predictions = anndata.AnnData(
        X=pred.T.astype(np.float32),
        obs=pd.DataFrame(index=adata.obs_names.copy()),
        var=adata.var.iloc[test_index].copy(),
        uns={"normalization": normalization, "window": window},
    )
    write_targets(predictions, out / TEST_PREDICTIONS)
    regions = adata.var[["chrom", "start", "end", "fold"]].rename_axis("name").reset_index()
    regions["split"] = split
    spec = {
        "architecture": m.architecture,
        "preset": m.preset,
        "params": model_params(m.architecture, m.preset, m.params),
        "input_length": m.input_length,
        "cell_types": list(adata.obs_names),
        "normalization": normalization,
        "window": window,
        "genome": study.genome.name,
        "platform": platform,
        "level": level,
        "reads_per_cell": adata.uns.get("mean_reads_per_cell"),
        "n_cells": adata.uns.get("n_cells"),
        "fold_scheme": study.folds.scheme,
        "test_fold": fold,
        "validation_fold": val_fold,
        "seed": seed,
        "training": study.training.model_dump(mode="json"),
        "n_parameters": count_parameters(model),
        # common random numbers: equal for every job of this (fold, seed) with these outputs
        "initial_weights": weights_digest(
            initial_model(m.architecture, len(adata.obs_names), m.input_length, m.preset, m.params, seed)
        ),
        "training_regions": hashlib.sha256("\n".join(adata.var_names[train_index]).encode()).hexdigest()[:16],
        "best_val_loss": float(history["val_loss"].min()),
        "targets": str(targets_path),
        "atlasbench": importlib.metadata.version("atlasbench"),
    }
    save_trained(out, model, spec, regions, history)
    for name in ("checkpoint-train.pt", "checkpoint-finetune.pt"):
        (out / name).unlink(missing_ok=True)
    return out


def evaluate_stage(model_dir: Path, against: dict[str, Path]) -> pd.DataFrame:
    """Test-fold accuracy of a trained model against several targets, as tidy rows.

    Parameters
    ----------
    model_dir
        A model folder from :func:`train_stage`.
    against
        Label -> targets ``.h5ad``; ``"own"`` for the targets it was trained on,
        ``"full"`` for its platform's full data, ``"platform:<name>"`` for another
        platform's full data.

    Returns
    -------
    pandas.DataFrame
        Rows in :data:`atlasbench.readouts.evaluate.TIDY_COLUMNS` order.
    """
    spec = json.loads((model_dir / "model.json").read_text())
    predictions = read_targets(model_dir / TEST_PREDICTIONS)
    rows = [evaluate_against(predictions, read_targets(path), label) for label, path in against.items()]
    return tidy(
        pd.concat(rows, ignore_index=True),
        platform=spec["platform"],
        level=spec["level"],
        reads_per_cell=spec["reads_per_cell"],
        n_cells=spec["n_cells"],
        fold_scheme=spec["fold_scheme"],
        fold=spec["test_fold"],
        seed=spec["seed"],
        model=spec["architecture"],
    )
