"""CREsted's ``dilated_cnn`` trained the way CREsted trains it: the peer of atlasbench's model.

CREsted (1.11, Keras 3 on the PyTorch backend) is a *peer* here, never a dependency of
atlasbench: this module runs in a separate environment that has ``crested`` installed
(see benchmarks/README.md) and is used by ``benchmarks/train_throughput.py`` to compare
training throughput (samples/s on CPU) and test Pearson on the same targets.

What it does, following CREsted's own flow (tutorial + ``tl/_crested.py``):

1. read the targets (cell types x regions, CREsted's layout) and set ``var["split"]``
   from the ``fold`` column: ``test_fold`` -> "test", ``val_fold`` -> "val", the rest
   "train";
2. ``crested.pp.change_regions_width(adata, input_length, genome)``: centre every region
   on its midpoint and widen it to the model's input; regions that would cross a
   chromosome end are *dropped* by CREsted (counted in ``n_regions_dropped``);
3. ``crested.tl.data.AnnDataWrapper`` (the current data API; ``data_api="module"`` uses
   the legacy ``AnnDataModule`` instead) with ``always_reverse_complement=True`` and
   ``max_stochastic_shift=3``;
4. ``crested.tl.zoo.dilated_cnn(seq_len, num_classes, first_conv_filters=filters,
   num_filters=filters)``, CREsted's "peak_regression" task config (CosineMSELogLoss +
   its metrics) with ``Adam(learning_rate)``;
5. ``crested.tl.Crested(...).fit(epochs)`` with checkpointing, early stopping and
   learning-rate reduction off (nothing is written to disk; with 2 epochs the latter two
   could not fire anyway), timed by a Keras callback; with ``restore_best_weights`` a
   Keras ``EarlyStopping`` that never stops (patience > epochs) keeps the weights of the
   epoch with the lowest validation loss and restores them at the end, in memory (what
   CREsted's best-only checkpointing gives its users, without the disk);
6. ``crested.tl.predict`` on the test regions (forward strand only: CREsted's predict
   does not average the reverse complement) and the Pearson per cell type; beside it the
   Pearson of the average of the forward and reverse-complement predictions (the same
   model called on the reverse complement of each test sequence).

How CREsted feeds the model (read from its source): at construction the data wrapper
extracts every region's sequence once from the FASTA (``in_memory=True``: a dict of
strings, both strands for training, each extended by ``max_stochastic_shift`` bp on both
sides). Per batch, in the main process (``num_workers=0``), each sample's string is
sliced at a random shift, one-hot encoded with a lookup table and collated: the input
pipeline is Python per sample, on the same cores as the model.

What a "sample" is: one (sequence, target) pair fed to the model. With
``always_reverse_complement=True`` CREsted *doubles* the training set: every training
region appears once per strand in every epoch, so ``samples_per_epoch = 2 * n_train``
(and ``steps_per_epoch = ceil(samples_per_epoch / batch_size)``, the last batch partial).

Run standalone (in the peer environment) for a quick check::

    python benchmarks/crested_peer.py TARGETS.h5ad GENOME.fa.gz \\
        --test-fold 0 --val-fold 1 --filters 8 --input-length 1100 --epochs 1
"""

from __future__ import annotations

import os

# Keras picks its backend when first imported: this must come before keras / crested.
os.environ.setdefault("KERAS_BACKEND", "torch")

import argparse
import contextlib
import gzip
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["crested_run"]


def _import_peer() -> tuple[Any, Any]:
    """Import keras and crested, checking that Keras runs on the torch backend."""
    import keras

    if keras.config.backend() != "torch":
        raise RuntimeError(
            f"Keras runs on the {keras.config.backend()!r} backend; this peer needs 'torch'. "
            "Set KERAS_BACKEND=torch before anything imports keras."
        )
    import crested

    return keras, crested


def _genome(crested: Any, fasta: Path, workdir: Path) -> Any:
    """A ``crested.Genome`` over ``fasta``.

    pysam (behind ``crested.Genome``) reads a bgzip FASTA with its ``.fai``/``.gzi``
    directly (block random access, nothing decompressed up front). Anything it cannot
    open by itself (plain gzip) is decompressed once to ``workdir`` and indexed.
    """
    try:
        genome = crested.Genome(fasta)
        genome.fasta.fetch(genome.fasta.references[0], 0, 1)  # opens (and checks) the file
        return genome
    except (OSError, ValueError) as err:
        import pysam

        plain = workdir / "genome.fa"
        print(f"crested_peer: pysam cannot open {fasta} ({err}); decompressing to {plain}", file=sys.stderr)
        opener = gzip.open if fasta.suffix == ".gz" else open
        with opener(fasta, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        pysam.faidx(str(plain))
        return crested.Genome(plain)


def _set_splits(adata: Any, test_fold: int, val_fold: int) -> None:
    """``var["split"]`` from the fold numbers: test / val / train."""
    if "fold" not in adata.var.columns:
        raise ValueError("targets lack var['fold']; cannot make the train/val/test split")
    if test_fold == val_fold:
        raise ValueError(f"test_fold and val_fold must differ, both are {test_fold}")
    fold = np.asarray(adata.var["fold"]).astype(int)
    for name, value in (("test_fold", test_fold), ("val_fold", val_fold)):
        if not (fold == value).any():
            raise ValueError(f"{name}={value} matches no region; folds present: {sorted(set(fold.tolist()))}")
    split = np.full(fold.shape, "train", dtype=object)
    split[fold == val_fold] = "val"
    split[fold == test_fold] = "test"
    adata.var["split"] = split


def _pearson_per_row(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair ``(pred[i], truth[i])``; NaN where either is constant."""
    p = pred - pred.mean(axis=1, keepdims=True)
    t = truth - truth.mean(axis=1, keepdims=True)
    denom = np.sqrt((p * p).sum(axis=1) * (t * t).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (p * t).sum(axis=1) / denom, np.nan)


def _epoch_timer(keras: Any) -> Any:
    """A Keras callback with wall-clock times of every epoch, split into train / validation."""

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epoch_seconds: list[float] = []  # whole epoch: training + validation
            self.train_seconds: list[float] = []  # first batch start -> last batch end
            self.val_seconds: list[float] = []  # validation pass at the end of the epoch
            self.steps: list[int] = []
            self.logs: list[dict[str, float]] = []
            self._in_epoch = False

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._in_epoch = True
            self._steps = 0
            self._t0 = self._t_train_end = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self._steps += 1
            self._t_train_end = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            t = time.perf_counter()
            self._in_epoch = False
            self.epoch_seconds.append(t - self._t0)
            self.train_seconds.append(self._t_train_end - self._t0)
            self.val_seconds.append(t - self._t_train_end)
            self.steps.append(self._steps)
            self.logs.append({k: float(v) for k, v in (logs or {}).items()})

    return EpochTimer()


def crested_run(
    targets_h5ad: str | Path,
    fasta: str | Path,
    *,
    test_fold: int,
    val_fold: int,
    filters: int = 64,
    input_length: int = 2114,
    epochs: int = 2,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 7,
    workdir: str | Path,
    n_dil_layers: int = 8,
    max_stochastic_shift: int = 3,
    data_api: str = "wrapper",
    task: str = "peak_regression",
    with_metrics: bool = True,
    restore_best_weights: bool = False,
    mixed_precision: bool = False,
    verbose: bool = True,
) -> dict:
    """Train CREsted's ``dilated_cnn`` on ``targets_h5ad`` and report its throughput and test Pearson.

    Parameters
    ----------
    targets_h5ad
        Targets in CREsted's layout: obs = cell types, var = regions ``chrom:start-end``
        with a ``fold`` column, ``X`` (cell types x regions).
    fasta
        Genome FASTA (bgzip with ``.fai``/``.gzi``, plain, or plain gzip).
    test_fold, val_fold
        Fold numbers of the test and validation regions; all other folds train.
    filters
        ``first_conv_filters`` and ``num_filters`` of ``dilated_cnn``.
    input_length
        Sequence length fed to the model: regions are re-centred to this width.
    epochs, batch_size, learning_rate
        Training schedule (Adam).
    seed
        ``keras.utils.set_random_seed`` (Python, NumPy, torch) before the model is built.
        CREsted's stochastic shift draws from an unseeded ``np.random.default_rng()``, so
        runs are not bit-reproducible.
    workdir
        Scratch folder: a ``chrom.sizes`` file, CREsted's project folder (left empty:
        no checkpoints, no logs) and, only if pysam cannot read the FASTA as it is, a
        decompressed copy.
    n_dil_layers
        Dilated layers (CREsted's default 8 needs ``input_length > 1020``).
    max_stochastic_shift
        CREsted's random shift of each training sequence, in bp either way.
    data_api
        ``"wrapper"``: ``crested.tl.data.AnnDataWrapper`` (CREsted 1.11's data API;
        shuffles the training set every epoch). ``"module"``: the legacy
        ``AnnDataModule`` (under ``tl/data/_old``), which on the torch backend does *not*
        shuffle: its ``shuffle`` only acts on the TensorFlow generator, its torch
        ``DataLoader`` iterates regions in ``var`` order, each one's two strands in a row.
    task
        ``crested.tl.default_configs`` task whose loss and metrics are used.
    with_metrics
        Compute CREsted's training metrics every batch, as its users do (MAE, MSE,
        cosine, Pearson, CCC, log-Pearson); ``False`` trains with the loss only.
    restore_best_weights
        End with the weights of the epoch with the lowest validation loss (a Keras
        ``EarlyStopping`` with patience ``epochs + 1``, so it never stops training);
        ``False`` keeps the last epoch's weights.
    mixed_precision
        ``Crested.fit(mixed_precision=...)`` (Keras' ``mixed_float16`` policy; for GPUs).
    verbose
        Let ``Crested.fit`` print the model summary and Keras' progress bar to stdout
        (as it always does); ``False`` sends them to ``os.devnull``.

    Returns
    -------
    dict
        ``train_seconds``: wall time of ``Crested.fit`` (all epochs, validation, model
        compile and first-batch build included). ``epoch_seconds``: per-epoch wall time
        (training + validation), with ``epoch_train_seconds`` (first batch start to last
        batch end) and ``epoch_val_seconds`` beside it. ``n_train``: training regions;
        ``samples_per_epoch``: samples fed per epoch (``2 * n_train`` with the reverse
        complement). ``train_samples_per_s``: ``samples_per_epoch * k / sum of the
        training parts of the k timed epochs``, where the timed epochs are all but the
        first when there are several (the first carries warm-up), validation excluded;
        ``train_samples_per_s_with_val`` is the same over whole epochs.
        ``test_pearson_mean``: mean over cell types of the Pearson r across test regions
        between ``crested.tl.predict`` (forward strand) and ``X``;
        ``test_pearson_mean_rc``: the same for the mean of the forward and
        reverse-complement predictions. ``best_epoch``: the epoch whose weights were
        kept (0-based; the last one without ``restore_best_weights``). ``device``: where
        the weights live; ``cuda_max_memory_allocated_mb``/``cuda_max_memory_reserved_mb``
        (torch's peak over ``fit``) when that is a GPU. ``params``: trainable
        parameters. Plus counts, timings of data setup and prediction, and versions.
    """
    keras, crested = _import_peer()
    import anndata as ad
    import torch

    targets_h5ad, fasta = Path(targets_h5ad), Path(fasta)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if data_api not in ("wrapper", "module"):
        raise ValueError(f"data_api must be 'wrapper' or 'module', got {data_api!r}")
    # dilated_cnn's layer i (kernel 3, dilation 2**i, "valid") trims 2 * 2**i bp.
    shrink = 4 * (2**n_dil_layers - 1)
    if input_length <= shrink:
        raise ValueError(
            f"input_length={input_length} is too short for {n_dil_layers} dilated layers "
            f"(they trim {shrink} bp); use input_length > {shrink} or fewer n_dil_layers"
        )

    genome = _genome(crested, fasta, workdir)
    adata = ad.read_h5ad(targets_h5ad)
    if adata.X.dtype != np.float32:
        adata.X = adata.X.astype(np.float32)
    _set_splits(adata, test_fold, val_fold)
    n_regions_in = adata.n_vars
    # change_regions_width documents a Genome for chromsizes_file but only accepts a path
    # (CREsted 1.11 calls Path() on it): hand it a chrom.sizes file.
    chrom_sizes = workdir / "chrom.sizes"
    chrom_sizes.write_text("".join(f"{c}\t{n}\n" for c, n in genome.chrom_sizes.items()))
    crested.pp.change_regions_width(adata, input_length, chromsizes_file=chrom_sizes)  # drops edge regions
    split = np.asarray(adata.var["split"])
    n_train, n_val, n_test = (int((split == s).sum()) for s in ("train", "val", "test"))
    if min(n_train, n_val, n_test) == 0:
        raise ValueError(f"empty split after resizing: train={n_train} val={n_val} test={n_test}")

    # Data: sequences are extracted from the FASTA here, once (in_memory=True).
    t0 = time.perf_counter()
    if data_api == "wrapper":
        data = crested.tl.data.AnnDataWrapper(
            adata,
            genome=genome,
            batch_size=batch_size,
            always_reverse_complement=True,
            max_stochastic_shift=max_stochastic_shift,
            in_memory=True,
            train_splits="train",
            val_splits="val",
            test_splits="test",
        )
        samples_per_epoch = data.split_len("train")
    else:
        data = crested.tl.data.AnnDataModule(
            adata,
            genome=genome,
            batch_size=batch_size,
            always_reverse_complement=True,
            max_stochastic_shift=max_stochastic_shift,
            in_memory=True,
        )
        data.setup("fit")  # else Crested.fit would do it inside the timed call
        samples_per_epoch = len(data.train_dataset)
    data_setup_seconds = time.perf_counter() - t0
    steps_per_epoch = math.ceil(samples_per_epoch / batch_size)

    # Model and task, seeded before the weights are drawn.
    keras.utils.set_random_seed(seed)
    model = crested.tl.zoo.dilated_cnn(
        seq_len=input_length,
        num_classes=adata.n_obs,
        first_conv_filters=filters,
        num_filters=filters,
        n_dil_layers=n_dil_layers,
    )
    params = int(sum(math.prod(w.shape) for w in model.trainable_weights))
    params_total = int(model.count_params())
    defaults = crested.tl.default_configs(task)
    config = crested.tl.TaskConfig(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=defaults.loss,
        metrics=defaults.metrics if with_metrics else [],
    )

    # Crested resumes from <project>/<run>/checkpoints if that exists: start clean.
    project = workdir / "crested_project"
    run_name = f"dilated_cnn_f{filters}_L{input_length}_seed{seed}"
    shutil.rmtree(project / run_name, ignore_errors=True)
    trainer = crested.tl.Crested(
        data=data, model=model, config=config, project_name=str(project), run_name=run_name, logger=None
    )

    timer = _epoch_timer(keras)
    callbacks = [timer]
    keeper = None
    if restore_best_weights:
        keeper = keras.callbacks.EarlyStopping(
            monitor="val_loss", mode="min", patience=epochs + 1, restore_best_weights=True, verbose=0
        )
        callbacks.append(keeper)
    device = str(model.trainable_weights[0].value.device)
    on_cuda = device.startswith("cuda")
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
    with contextlib.ExitStack() as stack:
        if not verbose:
            stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
        t0 = time.perf_counter()
        trainer.fit(
            epochs=epochs,
            model_checkpointing=False,
            early_stopping=False,
            learning_rate_reduce=False,
            mixed_precision=mixed_precision,
            custom_callbacks=callbacks,
        )
        train_seconds = time.perf_counter() - t0
    cuda_memory = {}
    if on_cuda:
        cuda_memory = {"cuda_max_memory_allocated_mb": torch.cuda.max_memory_allocated() / 2**20,
                       "cuda_max_memory_reserved_mb": torch.cuda.max_memory_reserved() / 2**20}
    val_losses = [logs.get("val_loss", float("nan")) for logs in timer.logs]
    best_epoch = keeper.best_epoch if keeper is not None and keeper.best_weights is not None else epochs - 1
    if len(timer.epoch_seconds) != epochs:
        raise RuntimeError(f"fit ran {len(timer.epoch_seconds)} of {epochs} epochs (interrupted?)")
    if any(s != steps_per_epoch for s in timer.steps):
        raise RuntimeError(f"expected {steps_per_epoch} steps per epoch, Keras ran {timer.steps}")

    # Throughput over the timed epochs: all but the first when there are several.
    timed = slice(1, None) if epochs > 1 else slice(None)
    k = len(timer.train_seconds[timed])
    train_samples_per_s = samples_per_epoch * k / sum(timer.train_seconds[timed])
    train_samples_per_s_with_val = samples_per_epoch * k / sum(timer.epoch_seconds[timed])

    # Test: CREsted's predict (one-hot of every test region from the FASTA, forward strand).
    test = adata[:, split == "test"]
    t0 = time.perf_counter()
    pred = np.asarray(crested.tl.predict(test, model, genome=genome, batch_size=batch_size, verbose=0))
    predict_seconds = time.perf_counter() - t0
    truth = test.X.toarray() if hasattr(test.X, "toarray") else np.asarray(test.X)
    r = _pearson_per_row(pred.T.astype(np.float64), truth.astype(np.float64))
    # Both strands: CREsted's one-hot of each test window (as its predict makes it) and
    # its reverse complement (ACGT columns: complement = reversed channel order).
    onehot = np.stack([
        crested.utils.one_hot_encode_sequence(genome.fetch(region=name), expand_dim=False) for name in test.var_names
    ]).astype(np.float32)
    pred_fwd = np.asarray(crested.tl.predict(onehot, model, batch_size=batch_size, verbose=0))
    pred_rev = np.asarray(crested.tl.predict(np.ascontiguousarray(onehot[:, ::-1, ::-1]), model,
                                             batch_size=batch_size, verbose=0))
    r_rc = _pearson_per_row(((pred_fwd + pred_rev) / 2).T.astype(np.float64), truth.astype(np.float64))

    return {
        "peer": "crested",
        "train_seconds": train_seconds,
        "epoch_seconds": timer.epoch_seconds,
        "epoch_train_seconds": timer.train_seconds,
        "epoch_val_seconds": timer.val_seconds,
        "timed_epochs": k,
        "n_train": n_train,
        "n_val": n_val,
        "n_test": n_test,
        "n_regions_dropped": n_regions_in - adata.n_vars,
        "reverse_complement_doubles": True,
        "samples_per_epoch": samples_per_epoch,
        "steps_per_epoch": steps_per_epoch,
        "train_samples_per_s": train_samples_per_s,
        "train_samples_per_s_with_val": train_samples_per_s_with_val,
        "test_pearson_mean": float(np.nanmean(r)) if np.isfinite(r).any() else float("nan"),
        "test_pearson_per_cell_type": dict(zip(map(str, adata.obs_names), map(float, r), strict=True)),
        "test_pearson_mean_rc": float(np.nanmean(r_rc)) if np.isfinite(r_rc).any() else float("nan"),
        "test_pearson_per_cell_type_rc": dict(zip(map(str, adata.obs_names), map(float, r_rc), strict=True)),
        "predict_check_max_abs_diff": float(np.abs(pred_fwd - pred).max()),
        "val_loss": val_losses,
        "best_epoch": int(best_epoch),
        "restore_best_weights": restore_best_weights,
        "mixed_precision": mixed_precision,
        "device": device,
        **cuda_memory,
        "params": params,
        "params_total": params_total,
        "history": timer.logs,
        "data_setup_seconds": data_setup_seconds,
        "predict_seconds": predict_seconds,
        "filters": filters,
        "input_length": input_length,
        "n_dil_layers": n_dil_layers,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "max_stochastic_shift": max_stochastic_shift,
        "data_api": data_api,
        "task": task,
        "with_metrics": with_metrics,
        "seed": seed,
        "torch_threads": torch.get_num_threads(),
        "versions": {"crested": crested.__version__, "keras": keras.__version__, "torch": torch.__version__},
    }


def main(argv: list[str] | None = None) -> int:
    """Smoke entry: train on TARGETS with FASTA and print the result as JSON.

    stdout carries only the JSON; CREsted's model summary, Keras' progress bar and the
    logs go to stderr.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", type=Path, help="targets .h5ad (cell types x regions, var['fold'])")
    parser.add_argument("fasta", type=Path, help="genome FASTA (bgzip + .fai/.gzi, plain or gzip)")
    parser.add_argument("--test-fold", type=int, default=0)
    parser.add_argument("--val-fold", type=int, default=1)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--input-length", type=int, default=2114)
    parser.add_argument("--n-dil-layers", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-stochastic-shift", type=int, default=3)
    parser.add_argument("--data-api", choices=("wrapper", "module"), default="wrapper")
    parser.add_argument("--task", default="peak_regression", help="crested.tl.default_configs task")
    parser.add_argument("--no-metrics", action="store_true", help="train with the loss only")
    parser.add_argument("--restore-best-weights", action="store_true",
                        help="end with the weights of the epoch with the lowest validation loss")
    parser.add_argument("--mixed-precision", action="store_true", help="Crested.fit(mixed_precision=True)")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="crested_peer_") as tmp, contextlib.redirect_stdout(sys.stderr):
        result = crested_run(
            args.targets,
            args.fasta,
            test_fold=args.test_fold,
            val_fold=args.val_fold,
            filters=args.filters,
            input_length=args.input_length,
            n_dil_layers=args.n_dil_layers,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            seed=args.seed,
            max_stochastic_shift=args.max_stochastic_shift,
            data_api=args.data_api,
            task=args.task,
            with_metrics=not args.no_metrics,
            restore_best_weights=args.restore_best_weights,
            mixed_precision=args.mixed_precision,
            workdir=args.workdir if args.workdir is not None else tmp,
        )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
