"""The training recipe as settings: :class:`Training` and its fine-tuning round :class:`Finetune`.

The training loop (:mod:`atlasbench.models.train`) and training on a sequence table
(:mod:`atlasbench.models.seqtable`) take a :class:`Training` object; the study schema
composes it as a study's ``training`` section. Defining it here, without importing
PyTorch, lets settings flow one way: the study knows the models layer's settings, the
models layer knows nothing of studies.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from atlasbench.settings import Settings

__all__ = ["Finetune", "Training"]


class Finetune(Settings):
    """A second training round on the cell-type-specific regions (targets.specificity_gini_std).

    It uses the main round's optimiser kind and weight decay (:attr:`Training.optimizer`,
    :attr:`Training.weight_decay`), a fresh optimiser state and no warm-up. The defaults are
    the published mouse fine-tuning: Adam, learning rate 1e-4, batch 128.
    """

    learning_rate: float = Field(default=1e-4, gt=0)
    """Learning rate of the fine-tuning round."""
    batch_size: PositiveInt = 128
    """Batch size of the fine-tuning round."""
    max_epochs: PositiveInt = 30
    """Epoch limit of the fine-tuning round (early stopping applies)."""


class Training(Settings):
    """The training recipe (defaults follow CREsted's peak regression).

    The optimiser defaults to the published recipe (PROTOCOL.md, "Models and training"):
    Adam without weight decay; the published mouse models used learning rate 1e-3 and
    batch 512 (the mouse preset sets these).
    """

    loss: Literal["cosine_mse_log", "mse", "poisson"] = "cosine_mse_log"
    """Loss: CREsted's CosineMSELogLoss (profile across cell types + log height), MSE or Poisson."""
    loss_multiplier: float | None = Field(default=None, gt=0)
    """CosineMSELogLoss's ``multiplier`` m (targets and predictions enter the log term as
    ``log1p(m * y)``); null: the target window for ``mean_cpm`` targets (CREsted's
    default for mean coverage) and 1 for the others."""
    loss_max_weight: float | None = Field(default=None, ge=1)
    """CosineMSELogLoss's ``max_weight`` (the cosine term's weight is the log term's
    value clipped to [1, max_weight]); null: 1 for ``mean_cpm`` targets (CREsted's
    default) and 100 for the others. ``loss_multiplier: 1, loss_max_weight: 100`` is the
    weighting CREsted's tutorial recommends for peak regression."""
    learning_rate: float = Field(default=1e-3, gt=0)
    """Peak learning rate."""
    optimizer: Literal["adam", "adamw"] = "adam"
    """Optimiser: "adam" (torch.optim.Adam, as published; weight decay added to the
    gradient, L2) or "adamw" (torch.optim.AdamW, decoupled weight decay). Used by the
    fine-tuning round too."""
    weight_decay: float = Field(default=0.0, ge=0)
    """Weight decay on every parameter (0: none, as published)."""
    batch_size: PositiveInt = 256
    """Regions per batch."""
    max_epochs: PositiveInt = 60
    """Epoch limit."""
    early_stopping_patience: PositiveInt = 6
    """Stop after this many epochs without a better validation loss."""
    lr_plateau_patience: PositiveInt = 3
    """Multiply the learning rate by lr_plateau_factor after this many epochs without improvement."""
    lr_plateau_factor: float = Field(default=0.25, gt=0, lt=1)
    """Learning-rate factor on a plateau."""
    ema_decay: float | None = Field(default=None, gt=0, lt=1)
    """Keep an exponential moving average of the weights (and batch-norm statistics),
    updated after every step with this decay: validation, early stopping and the kept model
    use the average, which smooths the epoch-to-epoch noise of a high learning rate (an
    average over about ``1 / (1 - decay)`` steps); null: the raw weights, as CREsted."""
    warmup_epochs: NonNegativeInt = 1
    """Epochs of linear learning-rate warm-up (0: none)."""
    max_shift: NonNegativeInt = 3
    """Augmentation: random shifts of the input window by up to this many bp."""
    reverse_complement: bool = True
    """Augmentation: train on reverse complements too (and average both at prediction)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train: "auto" picks CUDA when present."""
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """Arithmetic of training steps: "bf16" runs them under bfloat16 autocast (weights,
    optimiser and loss stay float32), "fp32" in float32; "auto" picks bf16 on CUDA and on
    CPUs with native bfloat16 (AVX-512 BF16 or AMX: about 1.5x faster there), else fp32."""
    finetune: Finetune | None = None
    """Fine-tune on cell-type-specific regions after training; null: no fine-tuning."""
