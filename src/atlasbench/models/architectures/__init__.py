"""Sequence-to-function architectures and the registry of their names.

Each architecture lives in its own module as a ``torch.nn.Module`` whose constructor
takes ``n_outputs`` and ``input_length`` followed by its width and depth parameters.
A study names an architecture and a preset (``tiny`` trains on a laptop CPU in minutes,
``paper`` is the published size for a GPU) and may override single parameters;
:func:`model_params` resolves them and :func:`build_model` builds the module.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from torch import nn

from atlasbench.errors import AtlasbenchError
from atlasbench.models.architectures.deeptopic_cnn import DeepTopicCNN
from atlasbench.models.architectures.dilated_cnn import DilatedCNN

ARCHITECTURES: dict[str, type[nn.Module]] = {"dilated_cnn": DilatedCNN, "deeptopic_cnn": DeepTopicCNN}
"""Architecture name -> module class."""

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "dilated_cnn": {
        # CREsted's dilated_cnn as the published mouse study used it (512 filters).
        "paper": {"filters": 512, "first_kernel_size": 5, "kernel_size": 3, "n_dil_layers": 8, "dropout": 0.1},
        # A wider first kernel makes up for fewer, narrower layers on short CPU inputs.
        "tiny": {"filters": 32, "first_kernel_size": 11, "kernel_size": 3, "n_dil_layers": 6, "dropout": 0.1},
    },
    "deeptopic_cnn": {
        # The published fly study: 512 filters, convolution dropout 0.5.
        "paper": {"filters": 512, "first_kernel_size": 17, "pool_size": 4, "dense": 1024, "conv_dropout": 0.5},
        "tiny": {"filters": 64, "first_kernel_size": 17, "pool_size": 4, "dense": 64, "conv_dropout": 0.15},
    },
}
"""Architecture name -> preset name -> parameters."""


def _architecture(name: str) -> type[nn.Module]:
    if name not in ARCHITECTURES:
        raise AtlasbenchError(f"unknown model architecture {name!r}; valid names: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def model_params(architecture: str, preset: str = "tiny", params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The width and depth parameters of an architecture: a preset with overrides.

    Parameters
    ----------
    architecture
        A name in :data:`ARCHITECTURES`.
    preset
        ``"tiny"`` or ``"paper"``.
    params
        Overrides of single parameters, e.g. ``{"filters": 64}``.

    Returns
    -------
    dict
        Every constructor parameter except ``n_outputs`` and ``input_length``.

    Raises
    ------
    AtlasbenchError
        On an unknown architecture, preset or parameter name (the valid ones are listed).
    """
    cls = _architecture(architecture)
    presets = PRESETS[architecture]
    if preset not in presets:
        raise AtlasbenchError(f"unknown preset {preset!r} for {architecture}; valid: {', '.join(presets)}")
    signature = inspect.signature(cls.__init__)
    valid = [name for name in signature.parameters if name not in ("self", "n_outputs", "input_length")]
    unknown = sorted(set(params or {}) - set(valid))
    if unknown:
        raise AtlasbenchError(
            f"unknown parameter(s) {', '.join(unknown)} for model {architecture}; valid: {', '.join(valid)}"
        )
    defaults = {name: signature.parameters[name].default for name in valid}
    return {**defaults, **presets[preset], **dict(params or {})}


def build_model(
    architecture: str,
    n_outputs: int,
    input_length: int,
    preset: str = "tiny",
    params: Mapping[str, Any] | None = None,
) -> nn.Module:
    """Build an untrained model by name.

    Parameters
    ----------
    architecture
        A name in :data:`ARCHITECTURES`.
    n_outputs
        Outputs (cell types).
    input_length
        Input sequence length in bp.
    preset
        ``"tiny"`` or ``"paper"``.
    params
        Overrides of single parameters (see :func:`model_params`).

    Returns
    -------
    torch.nn.Module
        The model, on the CPU, in training mode; initialised from torch's global RNG
        (seed it for reproducible weights).

    Raises
    ------
    AtlasbenchError
        On unknown names or parameters the architecture rejects.
    """
    resolved = model_params(architecture, preset, params)
    try:
        return ARCHITECTURES[architecture](n_outputs=n_outputs, input_length=input_length, **resolved)
    except (TypeError, ValueError) as err:
        raise AtlasbenchError(f"cannot build model {architecture} ({preset} preset, {resolved}): {err}") from err


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
