"""Layers shared by the architectures: output activations and a fast dropout for CPUs."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

OUTPUT_ACTIVATIONS = ("softplus", "sigmoid", "linear")
"""Valid ``output_activation`` names: softplus (non-negative regression), sigmoid
(probabilities, e.g. topics), linear (unbounded targets)."""


def make_activation(name: str) -> nn.Module:
    """The module for an output activation named in :data:`OUTPUT_ACTIVATIONS`."""
    if name not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"unknown output activation {name!r}; valid: {', '.join(OUTPUT_ACTIVATIONS)}")
    return {"softplus": nn.Softplus(), "sigmoid": nn.Sigmoid(), "linear": nn.Identity()}[name]


class Dropout(nn.Module):
    """Element-wise dropout, as ``nn.Dropout``, with a faster random mask on the CPU.

    PyTorch draws a CPU dropout mask one Bernoulli variate per element, which took a
    fifth of a training step of the dilated CNN at 2,114 bp. Here each 64-bit random
    integer gives four 16-bit draws, each kept when at or above ``p`` of the 16-bit range
    (so the drop rate is ``p`` to within 1/65,536). The draws come from torch's global
    generator, so seeding and checkpointed RNG state make it reproducible. On a GPU
    ``torch.nn.functional.dropout`` is used.

    Parameters
    ----------
    p
        Probability of zeroing an element, in [0, 1).
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        n = x.numel()
        draws = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64).view(torch.int16)[:n]
        keep = draws.view(x.shape) >= round(self.p * 65536) - 32768
        return x * (keep * (1.0 / (1.0 - self.p))).to(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"
