"""Output non-linearities shared by the architectures."""

from __future__ import annotations

from torch import nn

OUTPUT_ACTIVATIONS = ("softplus", "sigmoid", "linear")
"""Valid ``output_activation`` names: softplus (non-negative regression), sigmoid
(probabilities, e.g. topics), linear (unbounded targets)."""


def make_activation(name: str) -> nn.Module:
    """The module for an output activation named in :data:`OUTPUT_ACTIVATIONS`."""
    if name not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"unknown output activation {name!r}; valid: {', '.join(OUTPUT_ACTIVATIONS)}")
    return {"softplus": nn.Softplus(), "sigmoid": nn.Sigmoid(), "linear": nn.Identity()}[name]
