"""A trained model on disk: weights, the description needed to rebuild it, its region set.

A model folder holds

- ``model.safetensors``: the weights (safetensors: no code runs on loading);
- ``model.json``: the architecture and its parameters, the input length, the cell types
  (outputs, in order), the target normalisation, the genome, the fold and seed, the
  training recipe and anything else the caller records;
- ``regions.tsv``: the regions it was trained and tested on, with their fold and split
  (``train``, ``val``, ``test``), when it was trained on regions;
- ``training_log.tsv``: the loss per epoch.

``model.json`` is written last, so a folder without it is an unfinished model.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import safetensors.torch
from safetensors import SafetensorError
from torch import nn

from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.atomic import atomic_path, write_text_atomic
from atlasbench.models.architectures import build_model

log = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
DESCRIPTION = "model.json"
REGIONS = "regions.tsv"
TRAINING_LOG = "training_log.tsv"

_REQUIRED = ("architecture", "preset", "params", "input_length", "cell_types")


@dataclass
class TrainedModel:
    """A loaded model and its description.

    Attributes
    ----------
    module
        The model, on the CPU, in evaluation mode.
    spec
        The contents of ``model.json``.
    regions
        The region set (``name``, ``chrom``, ``start``, ``end``, ``fold``, ``split``), or None.
    path
        The model folder.
    """

    module: nn.Module
    spec: dict[str, Any]
    regions: pd.DataFrame | None
    path: Path

    @property
    def cell_types(self) -> list[str]:
        """Output names, in output order."""
        return list(self.spec["cell_types"])

    @property
    def input_length(self) -> int:
        """Input sequence length in bp."""
        return int(self.spec["input_length"])


def save_trained(
    directory: str | os.PathLike[str],
    module: nn.Module,
    spec: dict[str, Any],
    regions: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
) -> Path:
    """Write a model folder (see the module documentation), each file atomically.

    Parameters
    ----------
    directory
        The model folder; created if needed.
    module
        The trained model.
    spec
        JSON-serialisable description; must hold ``architecture``, ``preset``, ``params``,
        ``input_length`` and ``cell_types`` (so :func:`load_trained` can rebuild it).
    regions
        The region set, if any.
    history
        The training log, if any.

    Returns
    -------
    pathlib.Path
        ``directory``.
    """
    missing = [k for k in _REQUIRED if k not in spec]
    if missing:
        raise AtlasbenchError(f"model description lacks {missing}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(directory / WEIGHTS) as tmp:
        safetensors.torch.save_file(state, str(tmp), metadata={"format": "pt"})
    if regions is not None:
        with atomic_path(directory / REGIONS) as tmp:
            regions.to_csv(tmp, sep="\t", index=False)
    if history is not None:
        with atomic_path(directory / TRAINING_LOG) as tmp:
            history.to_csv(tmp, sep="\t", index=False)
    write_text_atomic(directory / DESCRIPTION, json.dumps(spec, indent=1, default=str))
    return directory


def is_trained(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` holds a finished model folder."""
    return (Path(directory) / DESCRIPTION).is_file() and (Path(directory) / WEIGHTS).is_file()


def load_trained(directory: str | os.PathLike[str]) -> TrainedModel:
    """Load a model folder written by :func:`save_trained`.

    Parameters
    ----------
    directory
        The model folder (or its ``model.json``).

    Returns
    -------
    TrainedModel
        The model in evaluation mode on the CPU, with its description and region set.

    Raises
    ------
    AtlasbenchError
        When a file is missing or damaged, or the weights do not fit the described model.
    """
    directory = Path(directory)
    if directory.name == DESCRIPTION:
        directory = directory.parent
    description = directory / DESCRIPTION
    if not description.is_file():
        raise input_error(directory, f"not a trained model folder: {DESCRIPTION} is missing")
    try:
        spec = json.loads(description.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise input_error(description, f"damaged model description ({err})") from err
    missing = [k for k in _REQUIRED if k not in spec]
    if missing:
        raise input_error(description, f"model description lacks {missing}")
    module = build_model(
        spec["architecture"], len(spec["cell_types"]), int(spec["input_length"]), spec["preset"], spec["params"]
    )
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise input_error(weights, "model weights are missing")
    try:
        state = safetensors.torch.load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise input_error(weights, f"damaged model weights ({err})") from err
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        raise input_error(weights, f"weights do not fit the model described in {DESCRIPTION}: {err}") from err
    regions = None
    if (directory / REGIONS).is_file():
        regions = pd.read_csv(directory / REGIONS, sep="\t", dtype={"chrom": str})
    return TrainedModel(module.eval(), spec, regions, directory)
