"""DeepTopic-style CNN: the light baseline (convolution, pooling, dense).

The architecture of DeepFlyBrain / CREsted's ``deeptopic_cnn``: a wide first
convolution (motif detectors), convolution blocks that each pool the track four-fold
(the last two with residual connections), then a dense layer over the flattened track,
so position within the window is kept. It trains fast on short (500 bp) inputs and is
what the published fly study used.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from atlasbench.models.architectures.layers import Dropout, make_activation


class _ConvBlock(nn.Module):
    """Convolution, batch norm, activation, optional residual, max-pool, dropout."""

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, pool: int, activation: nn.Module, dropout: float, residual: bool
    ) -> None:
        super().__init__()
        # "same" padding as Keras does it, also for even kernels: the extra base on the right.
        left = (kernel_size - 1) // 2
        self.pad = nn.ConstantPad1d((left, kernel_size - 1 - left), 0.0)
        self.conv = nn.Conv1d(c_in, c_out, kernel_size, bias=False)
        self.norm = nn.BatchNorm1d(c_out, momentum=0.1)
        self.activation = activation
        self.skip = (nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()) if residual else None
        self.pool = nn.MaxPool1d(pool, ceil_mode=True) if pool > 1 else nn.Identity()
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.activation(self.norm(self.conv(self.pad(x))))
        if self.skip is not None:
            y = y + self.skip(x)
        return self.dropout(self.pool(y))


class DeepTopicCNN(nn.Module):
    """DeepTopic CNN: one-hot ``(n, 4, L)`` in, ``(n, n_outputs)`` out.

    Parameters
    ----------
    n_outputs
        Number of outputs (cell types or topics).
    input_length
        Sequence length in bp.
    filters
        Channels of the first convolution; the later blocks use half as many.
    first_kernel_size
        Width of the first convolution.
    pool_size
        Max-pool width of the first four blocks.
    dense
        Units of the dense layer.
    conv_dropout
        Dropout after each of the first four convolution blocks.
    dense_dropout
        Dropout before and after the dense layer.
    output_activation
        ``"softplus"`` (default; non-negative regression), ``"sigmoid"`` (topics) or ``"linear"``.
    """

    def __init__(
        self,
        n_outputs: int,
        input_length: int,
        filters: int = 1024,
        first_kernel_size: int = 17,
        pool_size: int = 4,
        dense: int = 1024,
        conv_dropout: float = 0.15,
        dense_dropout: float = 0.5,
        output_activation: str = "softplus",
    ) -> None:
        super().__init__()
        half = max(filters // 2, 1)
        blocks = [
            _ConvBlock(4, filters, first_kernel_size, pool_size, nn.GELU(), conv_dropout, residual=False),
            _ConvBlock(filters, half, 11, pool_size, nn.ReLU(), conv_dropout, residual=False),
            _ConvBlock(half, half, 11, pool_size, nn.ReLU(), conv_dropout, residual=False),
            _ConvBlock(half, half, 5, pool_size, nn.ReLU(), conv_dropout, residual=True),
            _ConvBlock(half, half, 2, 1, nn.ReLU(), 0.0, residual=True),
        ]
        self.conv = nn.Sequential(*blocks)
        length = input_length
        for _ in range(4):
            length = math.ceil(length / pool_size) if pool_size > 1 else length
        self.head = nn.Sequential(
            nn.Flatten(),
            Dropout(dense_dropout),
            nn.Linear(half * length, dense, bias=False),
            nn.BatchNorm1d(dense, momentum=0.1),
            nn.ReLU(),
            Dropout(dense_dropout),
            nn.Linear(dense, n_outputs),
        )
        self.out = make_activation(output_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict from one-hot sequences ``(n, 4, input_length)``."""
        return self.out(self.head(self.conv(x)))
