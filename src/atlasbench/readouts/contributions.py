"""Contribution scores: which bases make a model predict accessibility in a cell type.

Integrated gradients (Sundararajan et al. 2017) attribute a prediction to the input by
integrating the gradient along the straight path from a baseline (here the all-N, zero
sequence) to the sequence: ``attribution = (x - baseline) * mean over the path of
d output / d x``. With a one-hot input this gives one number per position, at the
base present; the mean gradient at the other three bases is the *hypothetical*
contribution TF-MoDISco uses to compare seqlets. Gradients of one-hot inputs carry an
arbitrary per-position offset, so the hypothetical scores are centred across the four
bases (Majdandzic et al. 2023). Scores of the two strands are averaged, as predictions
are.

Integrated gradients from the all-zero baseline credit every base of a region with a share
of ``f(x) - f(0)``: on the demo's models, whose output at the zero input is far above their
output on real sequence, 93% of positions came out negative and TF-MoDISco clustered that
offset into window-wide negative patterns. The gradient at the sequence itself, centred
across bases and times the input (:func:`input_gradients`, "gradient x input"), has no
baseline: on the demo's 10x-like full-data model, 80% (twi), 85% (grh) and 29% (fkh) of
the top 1% of positions of the cell type's 100 most specific regions lie on its planted
activator sites (3-5% of positions), against 43%, 54% and 3% for integrated gradients
from zero, and 60%, 76% and 13% from four shuffled copies of each sequence
(``benchmarks/contribution_methods.py``). With it TF-MoDISco found the planted activator
in 7 and 6 of the demo's 8 cell types (10x-like, HyDrop-like), against 0 and 0 before.
Motif discovery uses it by default.

Two models trained on different data (platforms, depths) that learned the same
enhancer logic give correlated contribution scores on the same regions
(:func:`contribution_agreement`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from atlasbench.errors import AtlasbenchError
from atlasbench.models.dataset import one_hot, reverse_complement_codes
from atlasbench.models.train import resolve_device


def _path_gradients(model: nn.Module, x: torch.Tensor, output: int, steps: int) -> torch.Tensor:
    """Mean gradient of ``output`` along the path from zero to ``x`` (midpoint Riemann sum)."""
    total = torch.zeros_like(x)
    for k in range(steps):
        point = (x * ((k + 0.5) / steps)).requires_grad_(True)
        value = model(point)[:, output].sum()
        (grad,) = torch.autograd.grad(value, point)
        total += grad
    return total / steps


def _input_gradient(model: nn.Module, x: torch.Tensor, output: int) -> torch.Tensor:
    """Gradient of ``output`` at ``x`` itself."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[:, output].sum(), x)
    return grad


def integrated_gradients(
    model: nn.Module,
    codes: np.ndarray,
    output: int,
    *,
    steps: int = 32,
    batch_size: int = 64,
    device: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Integrated-gradient contribution scores of one output, averaged over both strands.

    Parameters
    ----------
    model
        A trained model.
    codes
        uint8 ``(n, L)`` base codes (:func:`atlasbench.io.genome.base_codes`).
    output
        Index of the output (cell type) to explain.
    steps
        Points on the integration path.
    batch_size
        Sequences per gradient batch.
    device
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    contributions : numpy.ndarray
        float32 ``(n, 4, L)``: non-zero only at the base present at each position.
    hypothetical : numpy.ndarray
        float32 ``(n, 4, L)``: the centred mean gradient, the contribution each base would
        make at each position (for TF-MoDISco).
    """
    return _both_strands(model, codes, lambda x: _path_gradients(model, x, output, steps), batch_size, device)


def input_gradients(
    model: nn.Module, codes: np.ndarray, output: int, *, batch_size: int = 64, device: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient-times-input contribution scores of one output, averaged over both strands.

    The gradient at the sequence, centred across the four bases; no baseline (see the
    module docstring for why motif discovery prefers it).

    Parameters
    ----------
    model
        A trained model.
    codes
        uint8 ``(n, L)`` base codes (:func:`atlasbench.io.genome.base_codes`).
    output
        Index of the output (cell type) to explain.
    batch_size
        Sequences per gradient batch.
    device
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    contributions : numpy.ndarray
        float32 ``(n, 4, L)``: non-zero only at the base present at each position.
    hypothetical : numpy.ndarray
        float32 ``(n, 4, L)``: the centred gradient (for TF-MoDISco).
    """
    return _both_strands(model, codes, lambda x: _input_gradient(model, x, output), batch_size, device)


def _both_strands(
    model: nn.Module,
    codes: np.ndarray,
    gradient: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int,
    device: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Contributions and hypothetical scores from ``gradient`` (of one-hot ``(n, 4, L)`` inputs),
    the two strands averaged and the bases centred."""
    target = resolve_device(device)
    model.to(target).eval()
    codes = np.asarray(codes, dtype=np.uint8)
    contributions, hypothetical = [], []
    for first in range(0, len(codes), batch_size):
        batch = torch.as_tensor(codes[first : first + batch_size]).to(target)
        forward = one_hot(batch)
        grad = gradient(forward)
        # The reverse strand's gradients, flipped back onto the forward strand's positions
        # and bases (reversing both axes maps a reverse-complement position to its forward one).
        grad_rc = gradient(one_hot(reverse_complement_codes(batch))).flip(1, 2)
        mean = (grad + grad_rc) / 2
        mean = mean - mean.mean(dim=1, keepdim=True)
        contributions.append((mean * forward).cpu().numpy())
        hypothetical.append(mean.cpu().numpy())
    return np.concatenate(contributions), np.concatenate(hypothetical)


def contribution_agreement(a: np.ndarray, b: np.ndarray, names: list[str] | None = None) -> pd.DataFrame:
    """Per region, the Pearson correlation of two models' contribution scores.

    Parameters
    ----------
    a, b
        ``(n, 4, L)`` contributions of two models on the same sequences (summed over
        bases to one score per position).
    names
        Region names (default: 0..n-1).

    Returns
    -------
    pandas.DataFrame
        ``name``, ``pearson``; regions with a constant score are NaN.
    """
    if a.shape != b.shape:
        raise AtlasbenchError(f"contribution arrays differ in shape: {a.shape} and {b.shape}")
    x = a.sum(axis=1).astype(np.float64)
    y = b.sum(axis=1).astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    y -= y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * y).sum(axis=1) / np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    return pd.DataFrame({"name": names if names is not None else range(len(r)), "pearson": r})


def write_contributions(
    scores: dict[str, np.ndarray], names: list[str], codes: np.ndarray, out: str | os.PathLike[str], title: str
) -> dict[str, Path]:
    """Write contribution scores of one or more models on the same sequences.

    Files: ``contributions.npz`` (``names``, ``codes`` and one ``(n, 4, L)`` array per
    model), ``contributions.tsv`` (tidy: model, name, total contribution, largest
    per-base contribution and its position), ``agreement.tsv`` when two models are given
    (see :func:`contribution_agreement`), and ``logo.png`` / ``logo.pdf``: the
    contribution logo of the region with the largest total, one row per model.

    Returns
    -------
    dict of str to pathlib.Path
        File kind -> path.
    """
    import logomaker
    from matplotlib.figure import Figure

    from atlasbench.io.atomic import atomic_path
    from atlasbench.io.figures import save_figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"npz": out / "contributions.npz", "table": out / "contributions.tsv", "logo": out / "logo.png"}
    with atomic_path(paths["npz"]) as tmp, open(tmp, "wb") as handle:
        # numpy's stub matches **scores against allow_pickle; the keys are model names
        np.savez_compressed(handle, names=np.asarray(names), codes=codes, **scores)  # type: ignore[arg-type]
    rows = []
    for model, values in scores.items():
        per_base = values.sum(axis=1)
        rows.append(
            pd.DataFrame(
                {
                    "model": model,
                    "name": names,
                    "total": per_base.sum(axis=1),
                    "max": per_base.max(axis=1),
                    "argmax": per_base.argmax(axis=1),
                }
            )
        )
    table = pd.concat(rows, ignore_index=True)
    with atomic_path(paths["table"]) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    if len(scores) == 2:
        first, second = scores.values()
        paths["agreement"] = out / "agreement.tsv"
        with atomic_path(paths["agreement"]) as tmp:
            contribution_agreement(first, second, names).to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    best = int(np.argmax(next(iter(scores.values())).sum(axis=(1, 2))))
    fig = Figure(figsize=(10, 1.8 * len(scores)))
    axes = fig.subplots(len(scores), 1, squeeze=False)
    for ax, (model, values) in zip(axes[:, 0], scores.items()):
        frame = pd.DataFrame(values[best].T, columns=list("ACGT"))
        logomaker.Logo(frame, ax=ax, color_scheme="classic")
        ax.set_ylabel("contribution", fontsize=8)
        ax.set_title(f"{model}: {names[best]}", fontsize=9)
    axes[-1, 0].set_xlabel(f"position in the input window (bp); {title}", fontsize=8)
    fig.tight_layout()
    save_figure(fig, paths["logo"])
    return paths
