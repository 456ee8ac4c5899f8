"""Benchmark: training throughput of atlasbench's dilated CNN next to CREsted's, on the same data.

Trains, each in its own subprocess and one after the other, on the same targets, folds
and regions:

* atlasbench's ``dilated_cnn`` (preset "paper" with ``filters``, ``first_kernel_size`` 5,
  ``kernel_size`` 3, ``n_dil_layers`` 8, dropout 0.1), through :func:`atlasbench.models.train.train`;
* CREsted's ``dilated_cnn`` at the same sizes, trained the way CREsted trains it
  (``benchmarks/crested_peer.py``: CREsted 1.11, Keras 3 on the torch backend).
  CREsted is a peer, not a dependency: this script runs in an environment that has both
  (see benchmarks/README.md).

and reports training samples per second (a sample: one sequence fed to the model),
peak memory and the test-fold Pearson correlation of each.

    python benchmarks/train_throughput.py --out benchmarks/out

Same for both: the targets file (mean-CPM coverage, CREsted's ``target="mean"``), test
fold 0, validation fold 1, the regions (those whose input window plus shift margin lies
inside the chromosome: CREsted drops the others, so they are left out for both), input
length 2114 bp, 64 filters, 8 dilated layers, first kernel 5, batch size 128, learning
rate 1e-3 (Adam for both), CosineMSELog loss with multiplier 1000 and
max weight 1, shift of up to 3 bp and reverse-complement augmentation, no early stopping,
no learning-rate decay, and the weights of the epoch with the lowest validation loss at
the end. The number of training samples seen is the same: CREsted feeds both strands of
every training region in an epoch (``2 * n_train`` samples), atlasbench each region once
on a random strand (``n_train``), so atlasbench runs twice CREsted's epochs.

Data: by default a simulated atlas (``atlasbench simulate --preset demo``, cached in
``OUT/train_throughput_data``) whose targets are built with the study API
(``load_study``, ``study_data``) with ``targets.normalization`` set to ``mean_cpm``;
``--data DIR`` uses an existing simulated atlas instead (its ``study.yaml``; targets are
written under its output folder). Results: a Markdown table on stdout and in
``OUT/train_throughput.md``, every number in ``OUT/train_throughput.json``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
CONTENDERS = ("atlasbench", "crested")
# atlasbench epochs per CREsted epoch: CREsted's epoch holds both strands of every region
SAMPLES_RATIO = 2
#: The published mouse study (../shared/PROTOCOL.md): consensus regions, regions of the
#: Gini-filtered fine-tuning set, models in all, and the epoch cap of each phase.
PAPER_REGIONS, PAPER_FINETUNE_REGIONS, PAPER_MODELS, PAPER_MAX_EPOCHS = 808_845, 130_000, 220, 60


# --------------------------------------------------------------------------------------
# Helpers shared by launcher and workers
# --------------------------------------------------------------------------------------
def _peak_rss_mb() -> float:
    """This process's own RSS high-water mark (VmHWM), in MB (see benchmarks/ingest.py:
    ``ru_maxrss`` of a vfork+exec child starts at its parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _pearson_per_row(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair; NaN where either row is constant."""
    p = pred - pred.mean(axis=1, keepdims=True)
    t = truth - truth.mean(axis=1, keepdims=True)
    denom = np.sqrt((p * p).sum(axis=1) * (t * t).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (p * t).sum(axis=1) / denom, np.nan)


def _mean_r(r: np.ndarray) -> float:
    return float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")


def _code_state() -> str:
    """The atlasbench code measured: git commit, plus the library files changed since."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent, capture_output=True, text=True,
                              check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=HERE.parent, capture_output=True,
                               text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    changed = [line[3:] for line in dirty.stdout.splitlines()]
    return head.stdout.strip() + (f" + uncommitted changes to {', '.join(changed)}" if changed else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# --------------------------------------------------------------------------------------
# Data: a simulated atlas -> mean-CPM targets -> the benchmark's targets file
# --------------------------------------------------------------------------------------
def prepare_data(data_dir: Path | None, out: Path, platform_name: str | None, level: str, input_length: int,
                 max_shift: int, preset: str, seed: int) -> dict:
    """Build (cached) the targets of a simulated atlas and write the benchmark's targets file.

    The targets keep only regions whose window of ``input_length + 2 * max_shift`` bp,
    centred as both tools centre it, lies inside its chromosome (CREsted would drop the
    others; atlasbench would N-pad them), so both train and test on the same regions.
    """
    from atlasbench.data.levels import FULL_LEVEL
    from atlasbench.data.targets import read_targets, write_targets
    from atlasbench.io.genome import open_genome
    from atlasbench.simulate.atlas import simulated_study
    from atlasbench.study.data_stages import study_data
    from atlasbench.study.loader import load_study

    t0 = time.perf_counter()
    if data_dir is None:
        data_dir = out / "train_throughput_data"
        study_file = simulated_study(data_dir, preset=preset, seed=seed)
    else:
        study_file = data_dir / "study.yaml"
    study = load_study(study_file)
    normalization_in_file = study.targets.normalization
    if study.targets.normalization != "mean_cpm":
        # CREsted's peak_regression: mean coverage targets with CosineMSELogLoss(multiplier=1000)
        study = study.model_copy(update={"targets": study.targets.model_copy(update={"normalization": "mean_cpm"})})
    data = study_data(study)
    name = platform_name or next(iter(data.targets))
    level = level or FULL_LEVEL
    if name not in data.targets or level not in data.targets[name]:
        raise SystemExit(f"no targets for platform {name!r} level {level!r}; have "
                         f"{ {p: sorted(v) for p, v in data.targets.items()} }")
    source = data.targets[name][level]
    adata = read_targets(source)
    if adata.uns.get("normalization") != "mean_cpm":
        raise SystemExit(f"{source}: targets are {adata.uns.get('normalization')!r}, expected mean_cpm")
    with open_genome(data.genome.fasta) as genome:
        sizes = dict(genome.sizes)
    var = adata.var
    centre = (var["start"].to_numpy() + var["end"].to_numpy()) // 2
    lo = centre - input_length // 2 - max_shift
    hi = centre - input_length // 2 + input_length + max_shift
    size = var["chrom"].astype(str).map(sizes).to_numpy()
    keep = (lo >= 0) & (hi <= size)
    bench = adata[:, keep].copy()
    bench.layers.clear()
    bench.X = np.asarray(bench.X, dtype=np.float32)
    work = out / "train_throughput_work"
    work.mkdir(parents=True, exist_ok=True)
    targets = work / f"targets_L{input_length}_shift{max_shift}.h5ad"
    write_targets(bench, targets)
    folds = np.asarray(bench.var["fold"]).astype(int)
    return {
        "study": str(study_file),
        "normalization_in_study_file": normalization_in_file,
        "normalization": "mean_cpm",
        "platform": name,
        "level": level,
        "source_targets": str(source),
        "targets": str(targets),
        "fasta": str(data.genome.fasta),
        "window": int(bench.uns["window"]),
        "n_cell_types": int(bench.n_obs),
        "n_regions_in_targets": int(adata.n_vars),
        "n_regions": int(bench.n_vars),
        "n_regions_dropped_at_chromosome_ends": int((~keep).sum()),
        "regions_per_fold": {int(f): int((folds == f).sum()) for f in np.unique(folds)},
        "seconds": time.perf_counter() - t0,
    }


# --------------------------------------------------------------------------------------
# Workers: each contender in its own subprocess
# --------------------------------------------------------------------------------------
def _split(folds: np.ndarray, test_fold: int, val_fold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    train = np.flatnonzero((folds != test_fold) & (folds != val_fold))
    return train, np.flatnonzero(folds == val_fold), np.flatnonzero(folds == test_fold)


def run_atlasbench(cfg: dict) -> dict:
    """Train atlasbench's dilated CNN with :func:`atlasbench.models.train.train`; time its epochs."""
    import torch

    import atlasbench.models.train as train_module
    from atlasbench.data.targets import read_targets
    from atlasbench.io.genome import open_genome, region_codes
    from atlasbench.models.architectures import count_parameters, model_params
    from atlasbench.models.losses import cosine_mse_log_settings
    from atlasbench.models.predict import predict
    from atlasbench.models.settings import Training

    device = torch.device(cfg["device"])
    adata = read_targets(cfg["targets"])
    folds = np.asarray(adata.var["fold"]).astype(int)
    train_index, val_index, test_index = _split(folds, cfg["test_fold"], cfg["val_fold"])
    length, shift = cfg["input_length"], cfg["max_shift"]

    t0 = time.perf_counter()
    with open_genome(cfg["fasta"]) as genome:
        codes, kept = region_codes(genome, adata.var["chrom"].astype(str).to_numpy(), adata.var["start"].to_numpy(),
                                   adata.var["end"].to_numpy(), length + 2 * shift, edge="drop")
    if len(kept) != adata.n_vars:
        raise RuntimeError(f"{adata.n_vars - len(kept)} windows cross a chromosome end; the launcher should drop them")
    targets = np.asarray(adata.X, dtype=np.float32).T
    data_setup_seconds = time.perf_counter() - t0

    epochs = cfg["atlasbench_epochs"]
    training = Training(
        loss="cosine_mse_log", learning_rate=cfg["learning_rate"], batch_size=cfg["batch_size"], max_epochs=epochs,
        early_stopping_patience=epochs, lr_plateau_patience=epochs, warmup_epochs=cfg["warmup_epochs"],
        max_shift=shift, reverse_complement=True, device=cfg["device"], precision=cfg["precision"],
    )
    multiplier, max_weight = cosine_mse_log_settings(adata.uns["normalization"], int(adata.uns["window"]))
    params = {"filters": cfg["filters"], "first_kernel_size": 5, "kernel_size": 3, "n_dil_layers": cfg["n_dil_layers"],
              "dropout": 0.1}

    # Time every epoch's training part from outside the library: the validation pass
    # (evaluate_loss, called right after the training loop) marks the end of an epoch's
    # training and its return the start of the next epoch's. On CUDA the queue is
    # drained first, so the last batches' kernels count in their epoch.
    marks: list[tuple[float, float]] = []
    evaluate_loss = train_module.evaluate_loss

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def timed_evaluate_loss(*args: Any, **kwargs: Any) -> float:
        sync()
        start = time.perf_counter()
        value = evaluate_loss(*args, **kwargs)
        sync()
        marks.append((start, time.perf_counter()))
        return value

    train_module.evaluate_loss = timed_evaluate_loss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rss_before = _peak_rss_mb()
    t0 = time.perf_counter()
    try:
        model, history = train_module.train(
            codes, targets, train_index, val_index, architecture="dilated_cnn", preset="paper", params=params,
            input_length=length, training=training, loss_multiplier=multiplier, loss_max_weight=max_weight,
            seed=cfg["seed"], progress=False,
        )
    finally:
        train_module.evaluate_loss = evaluate_loss
    train_seconds = time.perf_counter() - t0
    cuda_memory = {}
    if device.type == "cuda":
        cuda_memory = {"cuda_max_memory_allocated_mb": torch.cuda.max_memory_allocated() / 2**20,
                       "cuda_max_memory_reserved_mb": torch.cuda.max_memory_reserved() / 2**20}
    if len(history) != epochs or len(marks) != epochs:
        raise RuntimeError(f"expected {epochs} epochs, got {len(history)} (validation passes: {len(marks)})")
    library_seconds = history["seconds"].to_numpy(float)
    # epoch 0 starts inside train() (after the model is built): the library's own time
    epoch_train = [float(library_seconds[0])] + [marks[i][0] - marks[i - 1][1] for i in range(1, epochs)]
    epoch_val = [end - start for start, end in marks]

    skip = cfg["atlasbench_warmup_epochs"]
    timed = slice(skip, None)
    k = len(epoch_train[timed])
    n_train = int(train_index.size)
    samples_per_s = n_train * k / sum(epoch_train[timed])
    with_val = n_train * k / (sum(epoch_train[timed]) + sum(epoch_val[timed]))
    all_epochs = n_train * epochs / sum(epoch_train)

    # Test: the centred windows, forward strand and averaged with the reverse complement
    centred = codes[test_index, shift : shift + length]
    truth = targets[test_index].astype(np.float64)
    t0 = time.perf_counter()
    pred_rc = predict(model, centred, batch_size=cfg["batch_size"], device=cfg["device"], reverse_complement=True)
    predict_seconds = time.perf_counter() - t0
    pred_fwd = predict(model, centred, batch_size=cfg["batch_size"], device=cfg["device"], reverse_complement=False)
    r_rc = _pearson_per_row(pred_rc.T.astype(np.float64), truth.T)
    r_fwd = _pearson_per_row(pred_fwd.T.astype(np.float64), truth.T)
    best = history.index[history["best"].astype(bool)]
    cell_types = list(map(str, adata.obs_names))
    return {
        "contender": "atlasbench",
        "precision": "bf16" if train_module.uses_bf16(cfg["precision"], torch.device(cfg["device"])) else "fp32",
        "train_seconds": train_seconds,
        "epoch_train_seconds": epoch_train,
        "epoch_val_seconds": epoch_val,
        "epoch_train_seconds_library": library_seconds.tolist(),
        "epochs": epochs,
        "warmup_epochs_excluded": skip,
        "timed_epochs": k,
        "n_train": n_train,
        "n_val": int(val_index.size),
        "n_test": int(test_index.size),
        "samples_per_epoch": n_train,
        "steps_per_epoch": math.ceil(n_train / cfg["batch_size"]),
        "samples_seen": n_train * epochs,
        "train_samples_per_s": samples_per_s,
        "train_samples_per_s_with_val": with_val,
        "train_samples_per_s_all_epochs": all_epochs,
        "test_pearson_mean": _mean_r(r_fwd),
        "test_pearson_mean_rc": _mean_r(r_rc),
        "test_pearson_per_cell_type": dict(zip(cell_types, map(float, r_fwd), strict=True)),
        "test_pearson_per_cell_type_rc": dict(zip(cell_types, map(float, r_rc), strict=True)),
        "val_loss": history["val_loss"].astype(float).tolist(),
        "train_loss": history["train_loss"].astype(float).tolist(),
        "best_epoch": int(best[-1]) if len(best) else -1,
        "params": int(count_parameters(model)),
        "model_params": model_params("dilated_cnn", "paper", params),
        "loss": {"name": "cosine_mse_log", "multiplier": multiplier, "max_weight": max_weight},
        "optimizer": f"{training.optimizer}(lr={training.learning_rate}, weight_decay={training.weight_decay})",
        "warmup_epochs": cfg["warmup_epochs"],
        "data_setup_seconds": data_setup_seconds,
        "predict_seconds": predict_seconds,
        "rss_before_training_mb": rss_before,
        "device": str(device),
        **cuda_memory,
        "torch_threads": torch.get_num_threads(),
        "versions": {"atlasbench": importlib.metadata.version("atlasbench"),
                     "torch": torch.__version__},
    }


def run_crested(cfg: dict) -> dict:
    """Train CREsted's dilated_cnn via benchmarks/crested_peer.py."""
    sys.path.insert(0, str(HERE))
    from crested_peer import crested_run

    result = crested_run(
        cfg["targets"], cfg["fasta"], test_fold=cfg["test_fold"], val_fold=cfg["val_fold"], filters=cfg["filters"],
        input_length=cfg["input_length"], epochs=cfg["crested_epochs"], batch_size=cfg["batch_size"],
        learning_rate=cfg["learning_rate"], seed=cfg["seed"], workdir=Path(cfg["work"]) / "crested",
        n_dil_layers=cfg["n_dil_layers"], max_stochastic_shift=cfg["max_shift"], with_metrics=cfg["crested_metrics"],
        restore_best_weights=True, mixed_precision=cfg["crested_mixed_precision"], verbose=True,
    )
    result["contender"] = "crested"
    result["samples_seen"] = result["samples_per_epoch"] * result["epochs"]
    k = result["timed_epochs"]
    result["warmup_epochs_excluded"] = result["epochs"] - k
    result["train_samples_per_s_all_epochs"] = (result["samples_per_epoch"] * result["epochs"]
                                                / sum(result["epoch_train_seconds"]))
    return result


def run_worker(name: str, cfg: dict) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    rss_start = _peak_rss_mb()
    t0 = time.perf_counter()
    result = run_atlasbench(cfg) if name == "atlasbench" else run_crested(cfg)
    result["worker_seconds"] = time.perf_counter() - t0
    result["peak_rss_mb"] = _peak_rss_mb()
    result["rss_after_imports_mb"] = rss_start
    return result


def run_contender(name: str, cfg: dict, work: Path) -> dict:
    """Run one contender in a fresh subprocess; its output goes to ``WORK/NAME.log``."""
    config = work / f"{name}.config.json"
    result = work / f"{name}.result.json"
    log = work / f"{name}.log"
    config.write_text(json.dumps(cfg, indent=1))
    result.unlink(missing_ok=True)
    env = dict(os.environ, TQDM_DISABLE="1", KERAS_BACKEND="torch")
    if cfg["device"] == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # else Keras' torch backend would take a GPU by itself
    t0 = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.run([sys.executable, __file__, "--worker", name, "--config", str(config),
                               "--result", str(result)], env=env, stdout=handle, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not result.exists():
        tail = log.read_text().strip().splitlines()[-20:]
        sys.stderr.write("\n".join(tail) + "\n")
        return {"contender": name, "error": (tail or ["failed"])[-1], "log": str(log), "process_seconds": wall}
    out = json.loads(result.read_text())
    out["process_seconds"] = wall
    out["log"] = str(log)
    return out


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------
def _f(x: Any, fmt: str = ".1f") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return format(x, fmt)


def projection(result: dict) -> str:
    """The paper's grid at this speed: hours per epoch and for all its models, as a sentence.

    An epoch trains on 8 of 10 folds' regions and validates on one, at the measured
    'with validation' rate (this run's own train:validation ratio); fine-tuning runs
    on the Gini-filtered set. The total is an upper bound: every model runs every epoch
    of both phases (early stopping after 6 stalled epochs ends most runs well before).
    """
    rate = result["train_samples_per_s_with_val"]
    epoch_hours = 0.8 * PAPER_REGIONS / rate / 3600
    finetune_hours = 0.8 * PAPER_FINETUNE_REGIONS / rate / 3600
    total = PAPER_MODELS * PAPER_MAX_EPOCHS * (epoch_hours + finetune_hours)
    where = "GPU" if result["device"].startswith("cuda") else "CPU"
    return (f"Projected to the paper's mouse study at {rate:,.1f} samples/s ({where}): one epoch over 80% of "
            f"{PAPER_REGIONS:,} regions takes {epoch_hours:,.2f} h, one fine-tuning epoch over 80% of "
            f"{PAPER_FINETUNE_REGIONS:,} {finetune_hours:,.2f} h; {PAPER_MODELS} models of at most "
            f"{PAPER_MAX_EPOCHS} epochs of each phase: at most **{total:,.0f} {where}-hours** "
            f"({total / PAPER_MAX_EPOCHS:,.0f} per epoch of the whole grid).")


def report(results: dict, meta: dict) -> str:
    cfg, data = meta["config"], meta["data"]
    lines = [
        f"# Training throughput: dilated CNN, {cfg['input_length']} bp, {cfg['filters']} filters",
        "",
        (f"{meta['machine']}; device {cfg['device']}; load average at start {meta['loadavg_start']}, "
         f"at end {meta['loadavg_end']}. atlasbench: {meta['atlasbench']}. "
         f"Data: {data['platform']} {data['level']} of {data['study']} ({data['n_cell_types']} cell types, "
         f"{data['n_regions']} regions, mean-CPM targets over {data['window']} bp); test fold {cfg['test_fold']}, "
         f"validation fold {cfg['val_fold']}."),
        "",
        ("| contender | epochs (timed) | samples/epoch | samples seen | train samples/s | with validation "
         "| all epochs | fit s | test r (fwd) | test r (fwd+RC) | best epoch | params | peak RSS MB | GPU peak MB |"),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in CONTENDERS:
        r = results.get(name)
        if r is None:
            continue
        if "error" in r:
            lines.append(f"| {name} | failed: {r['error']} (log: {r['log']}) |" + " |" * 12)
            continue
        label = name
        if name == "crested":
            label = f"CREsted {r['versions']['crested']} (Keras {r['versions']['keras']}, torch)"
        elif name == "atlasbench":
            label = f"atlasbench ({r.get('precision', 'fp32')})"
        gpu = r.get("cuda_max_memory_allocated_mb")
        lines.append(
            f"| {label} | {r['epochs']} ({r['timed_epochs']}) | {r['samples_per_epoch']:,} | {r['samples_seen']:,} "
            f"| {_f(r['train_samples_per_s'])} | {_f(r['train_samples_per_s_with_val'])} "
            f"| {_f(r['train_samples_per_s_all_epochs'])} | {_f(r['train_seconds'])} "
            f"| {_f(r['test_pearson_mean'], '.3f')} | {_f(r['test_pearson_mean_rc'], '.3f')} "
            f"| {r['best_epoch'] + 1} of {r['epochs']} | {r['params']:,} | {_f(r['peak_rss_mb'], ',.0f')} "
            f"| {_f(gpu, ',.0f') if gpu is not None else '-'} |"
        )
    a, c = results.get("atlasbench"), results.get("crested")
    if a and "error" not in a:
        lines += ["", projection(a)]
    if a and c and "error" not in a and "error" not in c:
        speed = a["train_samples_per_s"] / c["train_samples_per_s"]
        dr = a["test_pearson_mean_rc"] - c["test_pearson_mean_rc"]
        dr_fwd = a["test_pearson_mean"] - c["test_pearson_mean"]
        ok = speed >= 1.5 and dr >= 0
        lines += [
            "",
            (f"atlasbench / CREsted training samples/s: **{speed:.2f}x** (with validation "
             f"{a['train_samples_per_s_with_val'] / c['train_samples_per_s_with_val']:.2f}x, all epochs "
             f"{a['train_samples_per_s_all_epochs'] / c['train_samples_per_s_all_epochs']:.2f}x); test Pearson "
             f"atlasbench - CREsted: {dr:+.3f} (fwd+RC), {dr_fwd:+.3f} (forward only). "
             f"Goal (>= 1.5x and test r not lower): {'met' if ok else 'not met'}."),
        ]
    lines += [
        "",
        ("A sample is one sequence fed to the model. CREsted's epoch feeds both strands of every training region "
         "(2 x n_train samples), atlasbench's each region once on a random strand (n_train), so atlasbench runs "
         f"{SAMPLES_RATIO}x the epochs and both see the same number of samples. train samples/s: samples of the "
         "timed epochs / their training time (first batch to last batch, validation excluded); the first "
         f"{cfg['crested_warmup_epochs']} CREsted epoch(s) and the first {cfg['atlasbench_warmup_epochs']} atlasbench "
         "epoch(s) (the same samples) are warm-up and not timed. 'with validation': whole epochs of the timed ones; "
         "'all epochs': every epoch's training part, warm-up included. fit s: the whole training call. test r: "
         "mean over cell types of the Pearson r across test regions, forward strand only and averaged with the "
         "reverse complement; both sides end with the weights of their best validation epoch. Peak RSS: the "
         "worker process's VmHWM (interpreter, imports and data included). GPU peak: "
         "torch.cuda.max_memory_allocated over training."),
        "",
        ("Same for both: targets, regions, folds, input length, filters, 8 dilated layers, first kernel 5, batch "
         f"size {cfg['batch_size']}, learning rate {cfg['learning_rate']} constant (atlasbench warm-up epochs: "
         f"{cfg['warmup_epochs']}), CosineMSELog loss (multiplier {data['window']}, max weight 1), shift "
         f"{cfg['max_shift']} bp + reverse complement, no early stopping, seed {cfg['seed']}, torch's default threads. "
         "Different by design: atlasbench uses Adam without weight decay (its default, the published recipe) and "
         "starts its output bias at the training targets' means; CREsted uses Adam with L2 1e-5 on the convolutions"
         + (", and computes its training metrics every batch (MAE, MSE, cosine, Pearson, CCC, log-Pearson), as "
            "its users do" if cfg["crested_metrics"] else ", trained here with the loss only (--crested-no-metrics)")
         + "."),
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Launcher
# --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "out", help="results folder (default benchmarks/out)")
    ap.add_argument("--data", type=Path, default=None,
                    help="an existing simulated atlas (folder with study.yaml); default: simulate one in OUT")
    ap.add_argument("--preset", default="demo", help="simulator preset when simulating (default demo)")
    ap.add_argument("--platform", default=None, help="platform whose targets to train on (default: the first)")
    ap.add_argument("--level", default=None, help="targets level (default: the full data, reads-all_cells-all)")
    ap.add_argument("--crested-epochs", type=int, default=4, help="CREsted epochs (default 4)")
    ap.add_argument("--atlasbench-epochs", type=int, default=None,
                    help=f"atlasbench epochs (default {SAMPLES_RATIO} x --crested-epochs: the same samples seen)")
    ap.add_argument("--input-length", type=int, default=2114)
    ap.add_argument("--filters", type=int, default=64)
    ap.add_argument("--n-dil-layers", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--max-shift", type=int, default=3)
    ap.add_argument("--warmup-epochs", type=int, default=0,
                    help="atlasbench's learning-rate warm-up epochs (default 0: constant, as CREsted)")
    ap.add_argument("--test-fold", type=int, default=0)
    ap.add_argument("--val-fold", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7, help="training seed of both (default 7)")
    ap.add_argument("--sim-seed", type=int, default=0, help="simulator seed (default 0)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where both train (cpu: the GPU is hidden from both workers)")
    ap.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated, run in this order")
    ap.add_argument("--crested-no-metrics", action="store_true",
                    help="train CREsted with the loss only (default: with its per-batch metrics, as users do)")
    ap.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                    help="atlasbench's training.precision (default auto: bfloat16 where the CPU or GPU has it)")
    ap.add_argument("--crested-mixed-precision", action="store_true",
                    help="Crested.fit(mixed_precision=True) (GPU; atlasbench uses bfloat16 autocast on CUDA)")
    ap.add_argument("--keep-work", action="store_true", help="keep OUT/train_throughput_work (targets, logs)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        cfg = json.loads(args.config.read_text())
        args.result.write_text(json.dumps(run_worker(args.worker, cfg), indent=1))
        return

    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = sorted(set(contenders) - set(CONTENDERS))
    if unknown:
        raise SystemExit(f"unknown contender(s) {unknown}; choose from {CONTENDERS}")
    if args.input_length % 2:
        raise SystemExit("--input-length must be even: CREsted and atlasbench centre odd windows 1 bp apart")
    ab_epochs = args.atlasbench_epochs or SAMPLES_RATIO * args.crested_epochs
    crested_warmup = 1 if args.crested_epochs > 1 else 0
    # atlasbench's warm-up: the epochs holding CREsted's first epoch's samples
    ab_warmup = min(SAMPLES_RATIO * crested_warmup, ab_epochs - 1)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: torch sees no CUDA GPU here")

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = out / "train_throughput_work"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    t_start = time.perf_counter()
    load_start = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print("preparing data ...", file=sys.stderr)
    data = prepare_data(args.data.resolve() if args.data else None, out.resolve(), args.platform, args.level or "",
                        args.input_length, args.max_shift, args.preset, args.sim_seed)
    print(f"  {data['n_regions']} regions x {data['n_cell_types']} cell types from {data['source_targets']} "
          f"({data['seconds']:.0f} s)", file=sys.stderr)
    cfg = {
        "targets": data["targets"], "fasta": data["fasta"], "work": str(work.resolve()),
        "test_fold": args.test_fold, "val_fold": args.val_fold, "input_length": args.input_length,
        "filters": args.filters, "n_dil_layers": args.n_dil_layers, "batch_size": args.batch_size,
        "learning_rate": args.learning_rate, "max_shift": args.max_shift, "seed": args.seed, "device": args.device,
        "crested_epochs": args.crested_epochs, "atlasbench_epochs": ab_epochs, "crested_warmup_epochs": crested_warmup,
        "atlasbench_warmup_epochs": ab_warmup, "warmup_epochs": args.warmup_epochs,
        "crested_metrics": not args.crested_no_metrics, "crested_mixed_precision": args.crested_mixed_precision,
        "precision": args.precision,
    }
    results = {}
    for name in contenders:
        print(f"  {name} ...", end="", flush=True, file=sys.stderr)
        r = run_contender(name, cfg, work)
        results[name] = r
        if "error" in r:
            print(f" FAILED: {r['error']} (log {r['log']})", file=sys.stderr)
        else:
            print(f" {r['train_samples_per_s']:.1f} samples/s, test r {r['test_pearson_mean_rc']:.3f}, "
                  f"{r['process_seconds']:.0f} s", file=sys.stderr)
    import torch

    meta = {
        "config": cfg, "data": data, "atlasbench": _code_state(),
        "machine": (f"{os.cpu_count()} CPUs ({_cpu_model()}), Python {platform.python_version()}, "
                    f"torch {torch.__version__} with {torch.get_num_threads()} threads"),
        "loadavg_start": load_start, "loadavg_end": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "seconds": time.perf_counter() - t_start, "argv": sys.argv,
    }
    table = report(results, meta)
    print(table)
    (out / "train_throughput.md").write_text(table)
    (out / "train_throughput.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    if not args.keep_work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
