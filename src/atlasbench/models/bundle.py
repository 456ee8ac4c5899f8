"""Shareable models: one file that holds a trained model, or a fold ensemble, and all it needs.

A model folder (:mod:`atlasbench.models.trained`) lives inside a study's output; to hand a model
to someone else, :func:`export_bundle` writes a *bundle*: one zip file (members stored,
not compressed) holding

- ``bundle.json``: the format and its version; what every model of the bundle shares
  (architecture, preset and parameters, input length, cell types in output order, target
  normalisation and its window, genome name and, when known, the sizes of the genome's
  chromosomes); and per model its weights member with the member's sha256, its test fold,
  fold scheme, seed, grid point and test-fold metrics;
- ``model-<i>.safetensors``: the weights of each model (safetensors: loading runs no code).

:func:`load_bundle` reads it back, checking every member against its recorded sha256,
and :func:`predict_bundle` predicts FASTA, BED, sequences or arrays with it. Several
models (the folds of one grid point) form an ensemble whose prediction is the mean of its
members'. A bundle that does not fit its input fails with a message naming the bundle:
a damaged or truncated file, a BED on a genome whose chromosomes differ from the
training genome's, an array of another length than the models take.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import safetensors.torch
import torch
from safetensors import SafetensorError

from atlasbench.data.regions import read_bed
from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.atomic import atomic_path
from atlasbench.io.genome import match_chromosomes, open_genome
from atlasbench.models.architectures import build_model
from atlasbench.models.predict import is_bed, predict_bed, predict_ensemble, predict_fasta, predict_sequences
from atlasbench.models.trained import DESCRIPTION, TrainedModel, load_trained

log = logging.getLogger(__name__)

FORMAT = "atlasbench-bundle"
"""``format`` of every ``bundle.json``."""

FORMAT_VERSION = 1
"""The bundle format version this atlasbench writes and reads."""

MANIFEST = "bundle.json"

SHARED = ("architecture", "preset", "params", "input_length", "cell_types", "normalization", "window", "genome")
"""Fields of ``model.json`` that every model of a bundle must agree on."""

PER_MODEL = (
    "fold_scheme",
    "seed",
    "validation_fold",
    "platform",
    "level",
    "reads_per_cell",
    "n_cells",
    "n_parameters",
    "best_val_loss",
    "training",
    "atlasbench",
)
"""Fields of ``model.json`` kept per model (with ``test_fold`` as ``fold``)."""

_METRIC_KEYS = (("platform", "platform"), ("level", "level"), ("fold", "test_fold"), ("seed", "seed"))
"""(evaluation-table column, ``model.json`` field) pairs that tie metric rows to a model."""

_METRIC_DROPPED = ("reads_per_cell", "n_cells", "fold_scheme", "model")
"""Evaluation-table columns left out of a model's metrics: the model entry records them."""


@dataclass
class Bundle:
    """A loaded bundle.

    Attributes
    ----------
    path
        The bundle file.
    spec
        The contents of ``bundle.json``.
    models
        The models (one, or a fold ensemble), on the CPU, in evaluation mode; each one's
        ``spec`` holds the shared fields and its own (``fold``, ``seed``, ``metrics``, ...).
    """

    path: Path
    spec: dict[str, Any]
    models: list[TrainedModel]

    @property
    def cell_types(self) -> list[str]:
        """Output names, in output order."""
        return list(self.spec["cell_types"])

    @property
    def input_length(self) -> int:
        """Input sequence length in bp."""
        return int(self.spec["input_length"])

    @property
    def genome(self) -> str | None:
        """Name of the genome the models were trained on, when recorded."""
        return self.spec.get("genome")

    @property
    def chrom_sizes(self) -> dict[str, int] | None:
        """Chromosome sizes of the training genome, when recorded."""
        sizes = self.spec.get("chrom_sizes")
        return None if sizes is None else {k: int(v) for k, v in sizes.items()}


# -- writing ---------------------------------------------------------------------------


def _metric_rows(spec: Mapping[str, Any], metrics: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of an evaluation table that belong to one model, without the columns that tie them to it."""
    rows, used = metrics, []
    for column, field in _METRIC_KEYS:
        if column in rows.columns and spec.get(field) is not None:
            rows = rows[rows[column] == spec[field]]
            used.append(column)
    dropped = [*used, *(c for c in _METRIC_DROPPED if c in rows.columns)]
    return json.loads(rows.drop(columns=dropped).to_json(orient="records"))


def export_bundle(
    models: str | os.PathLike[str] | TrainedModel | Iterable[str | os.PathLike[str] | TrainedModel],
    out: str | os.PathLike[str],
    metrics: pd.DataFrame | None = None,
    chrom_sizes: Mapping[str, int] | None = None,
) -> Path:
    """Write one model, or a fold ensemble, as a bundle file (see the module documentation).

    The models must agree on every field a prediction depends on (:data:`SHARED`):
    architecture, preset and parameters, input length, cell types, target normalisation
    and its window, genome. The file is written beside ``out`` and renamed onto it, so an
    interrupted export never leaves a partial bundle.

    Parameters
    ----------
    models
        A model folder (:mod:`atlasbench.models.trained`) or loaded model, or several, which
        form an ensemble whose prediction is their mean.
    out
        The bundle file to write (e.g. ``10x-full.zip``).
    metrics
        Evaluation rows (:data:`atlasbench.readouts.evaluate.TIDY_COLUMNS`, or any table); each
        model keeps the rows whose ``platform``, ``level``, ``fold`` and ``seed`` (those
        columns the table has) match its own.
    chrom_sizes
        Sizes of the chromosomes of the genome the models were trained on, recorded so
        that predictions on another genome's BED are refused.

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    AtlasbenchError
        When no model is given, a model folder cannot be loaded, or two models disagree
        (naming the field and both values).
    """
    if isinstance(models, (str, os.PathLike, TrainedModel)):
        models = [models]
    loaded = [m if isinstance(m, TrainedModel) else load_trained(m) for m in models]
    if not loaded:
        raise AtlasbenchError("no model to export")
    first = loaded[0]
    for model in loaded[1:]:
        for field in SHARED:
            if model.spec.get(field) != first.spec.get(field):
                raise AtlasbenchError(
                    f"cannot bundle models that disagree on {field}: {first.path} has "
                    f"{first.spec.get(field)!r}, {model.path} has {model.spec.get(field)!r}"
                )
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "atlasbench": importlib.metadata.version("atlasbench"),
        **{field: first.spec.get(field) for field in SHARED},
        "chrom_sizes": None if chrom_sizes is None else {str(k): int(v) for k, v in chrom_sizes.items()},
        "models": [],
    }
    members = {}
    for i, model in enumerate(loaded):
        name = f"model-{i}.safetensors"
        state = {k: v.detach().cpu().contiguous() for k, v in model.module.state_dict().items()}
        members[name] = safetensors.torch.save(state, metadata={"format": "pt"})
        entry = {
            "weights": name,
            "sha256": hashlib.sha256(members[name]).hexdigest(),
            "fold": model.spec.get("test_fold"),
        }
        entry.update({field: model.spec[field] for field in PER_MODEL if field in model.spec})
        entry["metrics"] = [] if metrics is None else _metric_rows(model.spec, metrics)
        manifest["models"].append(entry)
    out = Path(out)
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1, default=str))
        for name, data in members.items():
            archive.writestr(name, data)
    log.info(
        "bundle of %d model(s) (%s, %d bp, %d cell types): %s",
        len(loaded),
        first.spec["architecture"],
        first.input_length,
        len(first.cell_types),
        out,
    )
    return out


# -- reading ---------------------------------------------------------------------------


def _member(archive: zipfile.ZipFile, path: Path, name: str) -> bytes:
    """The bytes of one member, or an error naming the bundle and the member."""
    try:
        return archive.read(name)
    except KeyError:
        raise input_error(
            path, f"{name} is missing from the bundle; expected an atlasbench model bundle (`atlasbench export`)"
        ) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise input_error(path, f"{name} is damaged ({err}); ask for the bundle again") from err


def _manifest(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    """``bundle.json``, checked for its format, version and required fields."""
    try:
        manifest = json.loads(_member(archive, path, MANIFEST))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise input_error(path, f"{MANIFEST} is damaged ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise input_error(path, f"{MANIFEST} does not describe an atlasbench model bundle")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise input_error(
            path,
            f"bundle format version {version!r}; this atlasbench "
            f"({importlib.metadata.version('atlasbench')}) reads version {FORMAT_VERSION}"
            + (": update atlasbench" if isinstance(version, int) and version > FORMAT_VERSION else ""),
        )
    missing = [
        k for k in ("architecture", "preset", "params", "input_length", "cell_types", "models") if k not in manifest
    ]
    missing += [
        f"models[{i}].{k}"
        for i, entry in enumerate(manifest.get("models") or [])
        for k in ("weights", "sha256")
        if k not in entry
    ]
    if missing or not manifest["models"]:
        raise input_error(path, f"{MANIFEST} lacks {missing or ['models']}")
    return manifest


def _model(archive: zipfile.ZipFile, path: Path, manifest: dict[str, Any], entry: dict[str, Any]) -> TrainedModel:
    """One model of the bundle, its weights checked against their sha256."""
    name = entry["weights"]
    data = _member(archive, path, name)
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise input_error(path, f"{name} is damaged: its sha256 is {digest}, {MANIFEST} records {entry['sha256']}")
    try:
        state = safetensors.torch.load(data)
    except (SafetensorError, ValueError) as err:
        raise input_error(path, f"{name} is damaged ({err})") from err
    try:
        module = build_model(
            manifest["architecture"],
            len(manifest["cell_types"]),
            int(manifest["input_length"]),
            manifest["preset"],
            manifest["params"],
        )
    except AtlasbenchError as err:
        raise input_error(path, f"cannot build the model {MANIFEST} describes: {err}") from err
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        raise input_error(path, f"{name} does not fit the model {MANIFEST} describes: {err}") from err
    spec = {field: manifest.get(field) for field in SHARED}
    spec.update({k: v for k, v in entry.items() if k not in ("weights", "sha256")})
    return TrainedModel(module.eval(), spec, None, path)


def load_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Load a bundle written by :func:`export_bundle`.

    Every weights member is checked against the sha256 recorded in ``bundle.json``
    before it is used.

    Parameters
    ----------
    path
        The bundle file.

    Returns
    -------
    Bundle
        Its description and models (CPU, evaluation mode).

    Raises
    ------
    AtlasbenchError
        Naming the bundle, when it is missing, not a zip file or truncated, lacks
        ``bundle.json`` or a member, has a member whose sha256 differs from the recorded
        one (damaged), is of an unknown format version, or holds weights that do not fit
        the described model.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(
            path,
            "model bundle not found"
            if not path.exists()
            else "not a model bundle file (a model folder is loaded by atlasbench.models.trained.load_trained)",
        )
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = _manifest(archive, path)
            models = [_model(archive, path, manifest, entry) for entry in manifest["models"]]
    except zipfile.BadZipFile as err:
        raise input_error(path, f"not a readable model bundle: truncated or not a zip file ({err})") from err
    except OSError as err:
        raise input_error(path, f"cannot read the model bundle ({err})") from err
    log.debug("bundle %s: %d model(s)", path, len(models))
    return Bundle(path, manifest, models)


# -- predicting ------------------------------------------------------------------------


def check_genome(bundle: Bundle, bed: str | os.PathLike[str], genome: str | os.PathLike[str]) -> None:
    """Check that a BED's chromosomes are those of the genome the bundle's models were trained on.

    Each chromosome the BED uses must be in the training genome (``chr2L`` and ``2L``
    agree) and have the same size in ``genome`` as there: another assembly of the same
    species places the same coordinates on other sequence. A bundle that records no
    chromosome sizes cannot be checked (a warning says so).

    Parameters
    ----------
    bundle
        The bundle.
    bed
        BED of regions.
    genome
        Genome FASTA the regions refer to.

    Raises
    ------
    AtlasbenchError
        Naming the chromosome, when it is not in the training genome or its size differs.
    """
    sizes = bundle.chrom_sizes
    trained_on = f"the genome {bundle.genome or '(unnamed)'} the models of {bundle.path} were trained on"
    if sizes is None:
        log.warning("%s records no chromosome sizes: cannot check that %s is %s", bundle.path, genome, trained_on)
        return
    chroms = read_bed(bed)["chrom"].unique()
    to_bundle, unknown = match_chromosomes(chroms, sizes)
    if unknown:
        raise input_error(
            bed, f"chromosome {unknown[0]} is not in {trained_on} (chromosomes: {', '.join(list(sizes)[:10])})"
        )
    with open_genome(genome) as fasta:
        given = dict(fasta.sizes)
    to_fasta, _ = match_chromosomes(chroms, given)  # chromosomes absent from the FASTA: bed_windows says so
    for chrom, name in to_fasta.items():
        expected = sizes[to_bundle[chrom]]
        if given[name] != expected:
            raise input_error(
                genome,
                f"chromosome {chrom} has {given[name]:,} bp here but {expected:,} bp in "
                f"{trained_on}: give the genome FASTA the models were trained on",
            )


def _codes(x: np.ndarray | torch.Tensor, bundle: Bundle) -> np.ndarray:
    """uint8 base codes ``(n, L)`` from base codes or a one-hot ``(n, 4, L)`` array, of the bundle's length."""
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if x.ndim == 3 and x.shape[1] == 4:
        codes = np.where(x.sum(axis=1) > 0, x.argmax(axis=1), 4).astype(np.uint8)
    elif x.ndim == 2 and np.issubdtype(x.dtype, np.integer):
        if x.size and (x.min() < 0 or x.max() > 4):
            raise AtlasbenchError(f"base codes must be 0-4 (A, C, G, T, N), got {x.min()} to {x.max()}")
        codes = x.astype(np.uint8)
    else:
        raise AtlasbenchError(
            f"expected one-hot sequences (n, 4, length) or integer base codes (n, length), "
            f"got an array of shape {x.shape} and type {x.dtype}"
        )
    if codes.shape[1] != bundle.input_length:
        raise AtlasbenchError(
            f"{bundle.path}: the models take sequences of {bundle.input_length} bp, got "
            f"{codes.shape[1]} bp; pass DNA strings or a FASTA to pad or window them"
        )
    return codes


def predict_array(bundle: Bundle, x: np.ndarray | torch.Tensor, **kwargs) -> np.ndarray:
    """Predict exactly-sized inputs: one-hot ``(n, 4, L)`` or base codes ``(n, L)``, ``L`` the input length.

    Unlike DNA strings and FASTA records, arrays are neither padded nor windowed: an
    input of another length than the models take is an error. Predictions average each
    sequence with its reverse complement, and the ensemble's models.

    Parameters
    ----------
    bundle
        The loaded bundle.
    x
        One-hot sequences (A, C, G, T channels; all-zero for N) or uint8 base codes
        (:func:`atlasbench.io.genome.base_codes`), as a NumPy array or torch tensor.
    **kwargs
        ``batch_size``, ``device``, ``reverse_complement`` of :func:`atlasbench.models.predict.predict`.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, n_cell_types)``, columns in :attr:`Bundle.cell_types` order.

    Raises
    ------
    AtlasbenchError
        Naming both lengths, for inputs of another length than the models take.
    """
    return predict_ensemble(bundle.models, _codes(x, bundle), **kwargs)


def predict_bundle(
    bundle: Bundle | str | os.PathLike[str],
    inputs: str | os.PathLike[str] | Sequence[str] | np.ndarray | torch.Tensor,
    genome: str | os.PathLike[str] | None = None,
    **kwargs,
) -> pd.DataFrame:
    """Predict per-cell-type accessibility with a bundle: its model, or its ensemble's mean.

    Inputs are read as :mod:`atlasbench.models.predict` reads them, and every prediction
    averages the sequence and its reverse complement:

    - a FASTA file (plain or gzip), or a list of DNA strings: sequences shorter than the
      input length are padded with N on both sides, longer ones are scored by sliding
      windows of the input length, each cell type keeping its best window;
    - a BED file of regions (``.bed``, ``.narrowPeak``, gzipped or not) with ``genome``:
      the input-length window centred on each region, after checking that the BED's
      chromosomes are those of the training genome (:func:`check_genome`);
    - an array of one-hot sequences or base codes: exactly the input length
      (:func:`predict_array`).

    Parameters
    ----------
    bundle
        A loaded bundle, or the bundle file.
    inputs
        FASTA or BED file, DNA strings, or an array.
    genome
        Genome FASTA, for a BED.
    **kwargs
        ``batch_size``, ``device`` (and ``stride`` for FASTA and strings) of
        :func:`atlasbench.models.predict.predict_sequences`.

    Returns
    -------
    pandas.DataFrame
        One row per input and one column per cell type, after ``name`` and ``length``
        (FASTA, strings: ``seq0``, ``seq1``, ...) or ``name``, ``chrom``, ``start``,
        ``end`` (BED); arrays give the cell-type columns only.

    Raises
    ------
    AtlasbenchError
        For a BED without a genome or on another genome, an array of another length, or
        an unreadable input.
    """
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    if isinstance(inputs, (np.ndarray, torch.Tensor)):
        return pd.DataFrame(predict_array(bundle, inputs, **kwargs), columns=bundle.cell_types)
    if isinstance(inputs, (str, os.PathLike)):
        if not is_bed(inputs):
            return predict_fasta(bundle.models, inputs, **kwargs)
        if genome is None:
            raise AtlasbenchError(f"{inputs}: a BED of regions needs the genome FASTA it refers to")
        check_genome(bundle, inputs, genome)
        return predict_bed(bundle.models, inputs, genome, **kwargs)
    sequences = list(inputs)
    table = pd.DataFrame(predict_sequences(bundle.models, sequences, **kwargs), columns=bundle.cell_types)
    table.insert(0, "length", [len(s) for s in sequences])
    table.insert(0, "name", [f"seq{i}" for i in range(len(sequences))])
    return table


def is_bundle(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a bundle file rather than a model folder (or its ``model.json``)."""
    path = Path(path)
    return path.is_file() and path.name != DESCRIPTION
