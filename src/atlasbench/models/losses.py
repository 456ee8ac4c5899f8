"""Training losses for peak regression: CREsted's CosineMSELogLoss, MSE and Poisson.

Every loss takes predictions and targets of shape ``(batch, n_cell_types)`` and returns
a scalar tensor.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

LOSSES = ("cosine_mse_log", "mse", "poisson")
"""Loss names accepted by :func:`make_loss`."""


def _signed_log1p(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def cosine_mse_log(
    pred: torch.Tensor, target: torch.Tensor, multiplier: float = 1.0, max_weight: float = 100.0
) -> torch.Tensor:
    """CREsted's ``CosineMSELogLoss``: profile across cell types plus log height.

    ``loss = w * mean_batch(-cos(pred_i, target_i)) + MSE(log1p(m * pred), log1p(m * target))``
    where the cosine similarity is taken across cell types for each region, the MSE over
    the whole batch, and ``w = clip(MSE, 1, max_weight)`` keeps the profile term from
    being swamped while the heights are still far off. Negative predictions enter the log
    term as ``-log1p(|m * pred|)``. The minimum is ``-1``, reached by a perfect prediction.

    Parameters
    ----------
    pred, target
        ``(batch, n_cell_types)``.
    multiplier
        ``m``: scales values into the range where the log acts (CREsted: the target
        window width for mean coverage targets, 1 for counts).
    max_weight
        Upper bound of ``w``.

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    pred = pred.float()
    target = target.float()
    mse = torch.mean((_signed_log1p(multiplier * pred) - torch.log1p(multiplier * target)) ** 2)
    weight = torch.clamp(mse.clamp(min=1.0), max=max_weight)
    cosine = F.cosine_similarity(pred, target, dim=-1, eps=1e-12)
    return weight * (-cosine.mean()) + mse


def make_loss(name: str, multiplier: float = 1.0, max_weight: float = 100.0) -> Loss:
    """The loss function called ``name`` (see :data:`LOSSES`).

    Parameters
    ----------
    name
        ``"cosine_mse_log"``, ``"mse"`` or ``"poisson"`` (Poisson negative log-likelihood
        of the targets given the predictions as rates; needs non-negative predictions).
    multiplier, max_weight
        Parameters of :func:`cosine_mse_log`.

    Returns
    -------
    callable
        ``loss(pred, target) -> scalar tensor``.
    """
    if name == "cosine_mse_log":
        return lambda pred, target: cosine_mse_log(pred, target, multiplier, max_weight)
    if name == "mse":
        return lambda pred, target: F.mse_loss(pred.float(), target.float())
    if name == "poisson":
        return lambda pred, target: F.poisson_nll_loss(pred.float(), target.float(), log_input=False, full=False)
    raise ValueError(f"unknown loss {name!r}; valid: {', '.join(LOSSES)}")


def cosine_mse_log_settings(
    normalization: str, window: int, multiplier: float | None = None, max_weight: float | None = None
) -> tuple[float, float]:
    """``(multiplier, max_weight)`` of :func:`cosine_mse_log` for a target normalisation.

    By default CREsted pairs mean-coverage targets (``"mean_cpm"`` here, its
    ``target="mean"``) with ``multiplier`` = the target window width and
    ``max_weight=1``, and count-like targets with ``multiplier=1`` and ``max_weight=100``;
    both put ``multiplier * y`` on the scale of insertion counts, where the log acts.
    ``multiplier`` or ``max_weight`` given (a study's ``training.loss_multiplier`` and
    ``training.loss_max_weight``) replace the default.
    """
    default = (float(window), 1.0) if normalization == "mean_cpm" else (1.0, 100.0)
    return (
        default[0] if multiplier is None else float(multiplier),
        default[1] if max_weight is None else float(max_weight),
    )
