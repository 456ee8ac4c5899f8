"""The training loop: Adam (or AdamW), warm-up and plateau decay, early stopping, checkpoints.

:func:`fit` trains a model on a :class:`~atlasbench.models.dataset.SequenceData` the way
CREsted trains peak-regression models: each epoch sees every training region once,
randomly shifted and reverse-complemented; the learning rate rises linearly over the
warm-up epochs, is multiplied by ``lr_plateau_factor`` when the validation loss has not
improved for ``lr_plateau_patience`` epochs, and training stops after
``early_stopping_patience`` epochs without improvement, keeping the best epoch's weights.
With ``ema_decay`` the model validated and kept is an exponential moving average of the
weights (:class:`torch.optim.swa_utils.AveragedModel`, batch-norm statistics included).

After every epoch the whole state (weights, optimiser, schedule, early-stopping counters,
random generators) is written atomically to a checkpoint, so a job killed at any point
resumes from its last finished epoch and ends with exactly the weights an uninterrupted
run gives. Runs are deterministic for a seed on one machine. Training steps run under
bfloat16 autocast where the hardware does bfloat16 natively (``Training.precision``).

**Common random numbers.** The seed alone fixes the initial weights (:func:`initial_model`;
only the output bias, set to the mean training target, depends on the data), the order of
the batches and the augmentation draws. Every job of one (test fold, seed) of a study
trains on the same regions, so every platform and grid level starts from the same weights
and sees the same batches: a paired difference between two of them measures their data,
not the draw. :func:`weights_digest` fingerprints the initial weights, recorded with each
model.

:func:`train` is the whole recipe on arrays: build the model, train, optionally
fine-tune on cell-type-specific regions.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from atlasbench.errors import AtlasbenchError
from atlasbench.io.atomic import atomic_path
from atlasbench.models.architectures import build_model
from atlasbench.models.dataset import SequenceData
from atlasbench.models.losses import Loss, make_loss
from atlasbench.models.settings import Training

log = logging.getLogger(__name__)

_MIN_IMPROVEMENT = 1e-6


def make_optimizer(parameters: Iterable[nn.Parameter], training: Training) -> torch.optim.Optimizer:
    """The optimiser of a training round: ``training.optimizer`` over all parameters.

    ``"adam"`` gives :class:`torch.optim.Adam`, ``"adamw"`` :class:`torch.optim.AdamW`,
    both with ``training.learning_rate`` and ``training.weight_decay`` (the default recipe:
    Adam, no weight decay, as published).
    """
    kind = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[training.optimizer]
    return kind(parameters, lr=training.learning_rate, weight_decay=training.weight_decay)


def resolve_device(name: str = "auto") -> torch.device:
    """The training device: ``"auto"`` picks CUDA when present, else the CPU.

    Raises
    ------
    AtlasbenchError
        When ``"cuda"`` is asked for on a machine without a CUDA GPU.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise AtlasbenchError("training.device is 'cuda' but PyTorch sees no CUDA GPU on this machine")
    return torch.device(name)


@dataclass
class _State:
    """Everything that carries over from one epoch to the next."""

    epoch: int = 0
    lr_scale: float = 1.0
    best_loss: float = math.inf
    best_epoch: int = -1
    best_weights: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    plateau_epochs: int = 0
    done: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


def _save_checkpoint(
    path: Path,
    key: str,
    model: nn.Module,
    average: AveragedModel | None,
    optimizer: torch.optim.Optimizer,
    state: _State,
    generator: torch.Generator,
) -> None:
    payload = {
        "key": key,
        "model": model.state_dict(),
        "average": average.state_dict() if average is not None else None,
        "optimizer": optimizer.state_dict(),
        "state": state.__dict__,
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _load_checkpoint(
    path: Path,
    key: str,
    model: nn.Module,
    average: AveragedModel | None,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> _State | None:
    """Restore a checkpoint; None (start afresh) when it is unreadable or from other training."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any damage means: train afresh
        log.warning("checkpoint %s is unreadable (%s); training from the start", path, err)
        return None
    if payload.get("key") != key:
        log.warning("checkpoint %s belongs to other data or settings; training from the start", path)
        return None
    model.load_state_dict(payload["model"])
    if average is not None:
        average.load_state_dict(payload["average"])
    optimizer.load_state_dict(payload["optimizer"])
    generator.set_state(payload["generator"])
    torch.set_rng_state(payload["torch_rng"])
    if payload["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["cuda_rng"])
    return _State(**payload["state"])


def evaluate_loss(
    model: nn.Module, data: SequenceData, index: np.ndarray, loss: Loss, batch_size: int, bf16: bool = False
) -> float:
    """Mean loss of ``model`` over the centred, unaugmented sequences in ``index`` (the
    forward pass under bfloat16 autocast with ``bf16``, the loss in float32)."""
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for x, y in data.batches(index, batch_size):
            with _autocast(data.device, bf16):
                pred = model(x)
            total += float(loss(pred.float(), y)) * len(y)
            n += len(y)
    return total / max(n, 1)


def uses_bf16(precision: str, device: torch.device) -> bool:
    """Whether training steps run under bfloat16 autocast (``Training.precision``).

    ``"auto"`` picks bfloat16 on CUDA and on CPUs with native bfloat16 arithmetic
    (AVX-512 BF16 or AMX tiles), where oneDNN's bfloat16 convolutions are faster than
    float32 ones; elsewhere float32.
    """
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return True
    native = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in native if check is not None)


def _autocast(device: torch.device, bf16: bool) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)


def fit(
    model: nn.Module,
    data: SequenceData,
    train_index: np.ndarray,
    val_index: np.ndarray,
    training: Training,
    loss: Loss,
    *,
    seed: int,
    checkpoint: str | os.PathLike[str] | None = None,
    phase: str = "train",
    progress: bool = True,
) -> pd.DataFrame:
    """Train ``model`` in place; leave it holding the weights of its best validation epoch
    (the moving average's, with ``training.ema_decay``).

    Parameters
    ----------
    model
        The model, on ``data.device``.
    data
        Sequences and targets.
    train_index, val_index
        Rows of ``data`` to train on and to choose the best epoch with (not empty).
    training
        The recipe: optimiser, learning rate, weight decay, batch size, epochs, patience,
        plateau decay, warm-up, shift and reverse-complement augmentation.
    loss
        ``loss(pred, target) -> scalar`` (see :mod:`atlasbench.models.losses`).
    seed
        Seeds data order, augmentation and dropout.
    checkpoint
        File to save the state to after every epoch and to resume from if it exists.
    phase
        Label of this round in the history (``"train"`` or ``"finetune"``).
    progress
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per epoch: ``phase``, ``epoch``, ``train_loss``, ``val_loss``,
        ``learning_rate``, ``seconds`` (training part), ``samples_per_s``, ``best``.
    """
    train_index = np.asarray(train_index, dtype=np.int64)
    val_index = np.asarray(val_index, dtype=np.int64)
    if train_index.size == 0 or val_index.size == 0:
        raise AtlasbenchError(
            f"{phase}: {train_index.size} training and {val_index.size} validation regions; "
            "both must be non-empty (check the folds)"
        )
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = make_optimizer(model.parameters(), training)
    average = (
        AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(training.ema_decay), use_buffers=True)
        if training.ema_decay is not None
        else None
    )
    kept = average.module if average is not None else model
    bf16 = uses_bf16(training.precision, data.device)
    key = f"{phase}|{seed}|{training.model_dump_json()}|{train_index.size}|{val_index.size}|" + ",".join(
        f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items()
    )
    path = Path(checkpoint) if checkpoint is not None else None
    state = None
    if path is not None and path.exists():
        state = _load_checkpoint(path, key, model, average, optimizer, generator)
        if state is not None:
            log.info("%s: resuming from %s after epoch %d", phase, path, state.epoch)
    state = state or _State(history=[])
    steps = math.ceil(train_index.size / training.batch_size)
    warmup_steps = training.warmup_epochs * steps
    shift = min(training.max_shift, data.max_shift)
    bar = tqdm(
        total=training.max_epochs, initial=state.epoch, desc=phase, unit="epoch", disable=not progress, leave=False
    )
    while not state.done and state.epoch < training.max_epochs:
        model.train()
        started = time.perf_counter()
        total = torch.zeros((), device=data.device)
        batches = data.batches(
            train_index,
            training.batch_size,
            generator=generator,
            shift=shift,
            reverse_complement=training.reverse_complement,
        )
        for step, (x, y) in enumerate(batches):
            done_steps = state.epoch * steps + step
            warm = min(1.0, (done_steps + 1) / warmup_steps) if warmup_steps else 1.0
            learning_rate = training.learning_rate * state.lr_scale * warm
            for group in optimizer.param_groups:
                group["lr"] = learning_rate
            with _autocast(data.device, bf16):
                pred = model(x)
            value = loss(pred.float(), y)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            if average is not None:
                average.update_parameters(model)
            total += value.detach() * len(y)
        seconds = time.perf_counter() - started
        train_loss = float(total) / train_index.size
        val_loss = evaluate_loss(kept, data, val_index, loss, training.batch_size, bf16)
        if not math.isfinite(train_loss):
            raise AtlasbenchError(f"{phase}: the training loss diverged (epoch {state.epoch}); lower the learning rate")
        best = val_loss < state.best_loss - _MIN_IMPROVEMENT
        if best:
            state.best_loss, state.best_epoch = val_loss, state.epoch
            state.best_weights = copy.deepcopy({k: v.detach().cpu() for k, v in kept.state_dict().items()})
            state.bad_epochs = state.plateau_epochs = 0
        else:
            state.bad_epochs += 1
            state.plateau_epochs += 1
            if state.plateau_epochs >= training.lr_plateau_patience:
                state.lr_scale *= training.lr_plateau_factor
                state.plateau_epochs = 0
        state.history.append(
            {
                "phase": phase,
                "epoch": state.epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "learning_rate": learning_rate,
                "seconds": seconds,
                "samples_per_s": train_index.size / seconds,
                "best": best,
            }
        )
        log.info(
            "%s epoch %d: train loss %.4f, validation loss %.4f%s, %.0f samples/s",
            phase,
            state.epoch,
            train_loss,
            val_loss,
            " (best)" if best else "",
            train_index.size / seconds,
        )
        state.epoch += 1
        state.done = state.bad_epochs >= training.early_stopping_patience
        if path is not None:
            _save_checkpoint(path, key, model, average, optimizer, state, generator)
        bar.update(1)
        bar.set_postfix(train=f"{train_loss:.3f}", val=f"{val_loss:.3f}")
    bar.close()
    if state.best_weights is not None:
        model.load_state_dict(state.best_weights)
    return pd.DataFrame(state.history)


def init_output_bias(model: nn.Module, mean: np.ndarray) -> None:
    """Start the model's predictions at the training targets' means.

    The bias of the last linear layer is set so that the output activation maps it to
    each output's mean target (inverse softplus, logit or identity). Training then
    learns the differences between regions and cell types from the first step instead of
    spending epochs climbing to the targets' scale.
    """
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    target = torch.as_tensor(np.asarray(mean, dtype=np.float32))
    activation = getattr(model, "out", nn.Identity())
    if isinstance(activation, nn.Softplus):
        bias = torch.where(target > 20, target, torch.log(torch.expm1(target.clamp(min=1e-6))))
    elif isinstance(activation, nn.Sigmoid):
        bias = torch.logit(target.clamp(1e-6, 1 - 1e-6))
    else:
        bias = target
    with torch.no_grad():
        head.bias.copy_(bias.to(head.bias.device))


def initial_model(
    architecture: str,
    n_outputs: int,
    input_length: int,
    preset: str = "tiny",
    params: dict[str, Any] | None = None,
    seed: int = 7,
) -> nn.Module:
    """The untrained model of a seed: every job of one seed starts from these weights.

    Parameters
    ----------
    architecture, preset, params
        The model (see :func:`atlasbench.models.architectures.build_model`).
    n_outputs
        Outputs (cell types).
    input_length
        Input length in bp.
    seed
        The training seed.

    Returns
    -------
    torch.nn.Module
        On the CPU.
    """
    torch.manual_seed(seed)
    return build_model(architecture, n_outputs, input_length, preset, params)


def weights_digest(model: nn.Module) -> str:
    """sha256 (16 hex digits) of a model's weights and buffers, in state-dict order."""
    digest = hashlib.sha256()
    for name, value in model.state_dict().items():
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def train(
    codes: np.ndarray,
    targets: np.ndarray,
    train_index: np.ndarray,
    val_index: np.ndarray,
    *,
    architecture: str = "dilated_cnn",
    preset: str = "tiny",
    params: dict[str, Any] | None = None,
    input_length: int,
    training: Training,
    loss_multiplier: float = 1.0,
    loss_max_weight: float = 100.0,
    seed: int = 7,
    finetune_index: tuple[np.ndarray, np.ndarray] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> tuple[nn.Module, pd.DataFrame]:
    """Build a model and train it on sequences and targets; the whole recipe in one call.

    Parameters
    ----------
    codes
        uint8 ``(n, input_length + 2 * training.max_shift)`` base codes
        (:func:`atlasbench.io.genome.base_codes`), windows centred on the regions.
    targets
        float ``(n, n_outputs)``.
    train_index, val_index
        Rows to train on and to validate with.
    architecture, preset, params
        The model (see :func:`atlasbench.models.architectures.build_model`).
    input_length
        Model input length in bp.
    training
        The recipe; ``training.finetune`` set and ``finetune_index`` given add a
        fine-tuning round.
    loss_multiplier, loss_max_weight
        Parameters of the CosineMSELog loss (see :func:`atlasbench.models.losses.cosine_mse_log`).
    seed
        Seeds the initial weights and training.
    finetune_index
        ``(train, validation)`` rows of the cell-type-specific regions to fine-tune on.
    checkpoint_dir
        Folder for the per-epoch checkpoints (``checkpoint-train.pt``,
        ``checkpoint-finetune.pt``); training resumes from them.
    progress
        Show progress bars.

    Returns
    -------
    model : torch.nn.Module
        The trained model, on the CPU, in evaluation mode.
    history : pandas.DataFrame
        The training log, one row per epoch of each round (see :func:`fit`).
    """
    device = resolve_device(training.device)
    model = initial_model(architecture, targets.shape[1], input_length, preset, params, seed).to(device)
    init_output_bias(model, np.asarray(targets)[train_index].mean(axis=0))
    data = SequenceData(codes, targets, input_length, device)
    loss = make_loss(training.loss, loss_multiplier, loss_max_weight)
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    log.info(
        "training %s (%s) on %d regions, validating on %d, on %s",
        architecture,
        preset,
        len(train_index),
        len(val_index),
        device,
    )
    history = [
        fit(
            model,
            data,
            train_index,
            val_index,
            training,
            loss,
            seed=seed,
            progress=progress,
            checkpoint=folder / "checkpoint-train.pt" if folder else None,
        )
    ]
    if training.finetune is not None and finetune_index is not None:
        ft = training.finetune
        recipe = training.model_copy(
            update={
                "learning_rate": ft.learning_rate,
                "batch_size": ft.batch_size,
                "max_epochs": ft.max_epochs,
                "warmup_epochs": 0,
            }
        )
        history.append(
            fit(
                model,
                data,
                finetune_index[0],
                finetune_index[1],
                recipe,
                loss,
                seed=seed,
                phase="finetune",
                progress=progress,
                checkpoint=folder / "checkpoint-finetune.pt" if folder else None,
            )
        )
    return model.cpu().eval(), pd.concat(history, ignore_index=True)
