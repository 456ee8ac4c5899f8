"""Dilated residual CNN for peak regression (the ChromBPNet / CREsted ``dilated_cnn`` design).

A wide first convolution turns the one-hot sequence into ``filters`` motif-detector
tracks. A stack of convolutions with dilation 2, 4, 8, ... lets each position see an
exponentially growing stretch of sequence (motif grammar: spacing, cooperativity) at a
cost linear in depth; each layer is residual (its input, cropped to the layer's valid
output, is added back). Global average pooling summarises the whole window and one
dense layer gives one non-negative output per cell type.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from atlasbench.models.architectures.layers import Dropout, make_activation


class _DilatedBlock(nn.Module):
    def __init__(self, filters: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(filters, filters, kernel_size, dilation=dilation, bias=False)
        self.norm = nn.BatchNorm1d(filters, momentum=0.1)
        self.dropout = Dropout(dropout)
        self.crop = dilation * (kernel_size - 1) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm(self.conv(x)))
        return self.dropout(y + x[:, :, self.crop : x.shape[-1] - self.crop])


class DilatedCNN(nn.Module):
    """Dilated residual CNN: one-hot ``(n, 4, L)`` in, ``(n, n_outputs)`` out.

    Parameters
    ----------
    n_outputs
        Number of outputs (cell types).
    input_length
        Sequence length in bp; must leave at least one position after the dilated
        layers' valid convolutions (``2 * (kernel_size - 1) * (2 ** n_dil_layers - 1)`` bp).
    filters
        Channels of every layer.
    first_kernel_size
        Width of the first (motif) convolution.
    kernel_size
        Width of the dilated convolutions (odd).
    n_dil_layers
        Number of dilated residual layers; layer i has dilation ``2 ** i`` (i from 1).
    dropout
        Dropout after the first convolution and after each residual layer.
    output_activation
        ``"softplus"`` (default; non-negative targets), ``"sigmoid"`` or ``"linear"``.
    """

    def __init__(
        self,
        n_outputs: int,
        input_length: int,
        filters: int = 512,
        first_kernel_size: int = 5,
        kernel_size: int = 3,
        n_dil_layers: int = 8,
        dropout: float = 0.1,
        output_activation: str = "softplus",
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd so residual crops are symmetric, got {kernel_size}")
        shrink = (kernel_size - 1) * (2 ** (n_dil_layers + 1) - 2)
        if input_length - shrink < 1:
            raise ValueError(
                f"input_length {input_length} bp is too short for {n_dil_layers} dilated layers "
                f"of kernel {kernel_size} (they need more than {shrink} bp)"
            )
        self.first = nn.Sequential(
            nn.Conv1d(4, filters, first_kernel_size, padding="same", bias=False),
            nn.BatchNorm1d(filters, momentum=0.1),
            nn.GELU(),
            Dropout(dropout),
        )
        self.body = nn.Sequential(
            *(_DilatedBlock(filters, kernel_size, 2**i, dropout) for i in range(1, n_dil_layers + 1))
        )
        self.head = nn.Linear(filters, n_outputs)
        self.out = make_activation(output_activation)
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict from one-hot sequences ``(n, 4, input_length)``."""
        h = self.body(self.first(x))
        return self.out(self.head(h.mean(dim=-1)))
