"""Predictions of a trained model on sequences, FASTA files and BED regions.

A regulatory element works on both strands, so predictions are the average of the
model's outputs on a sequence and on its reverse complement (as CREsted and ChromBPNet
do): a sequence and its reverse complement get the same prediction.

Sequences shorter than the model input are padded with N on both sides (the published
protocol for validated enhancers); longer ones are scored by sliding windows of the
input length, keeping for each output its best window.

Where a model is expected, a fold ensemble (a list of models taking the same input and
predicting the same cell types) may be given: it acts as one model whose output is the
mean of its members' outputs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from atlasbench.data.regions import read_bed
from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.genome import base_codes, match_chromosomes, open_genome, region_codes
from atlasbench.models.dataset import one_hot, reverse_complement_codes
from atlasbench.models.train import resolve_device
from atlasbench.models.trained import TrainedModel

log = logging.getLogger(__name__)

WINDOW_STRIDE = 10
"""bp between the sliding windows that score a sequence longer than the model input."""

Models = TrainedModel | Sequence[TrainedModel]
"""One trained model, or a fold ensemble of them."""


def predict(
    model: nn.Module,
    codes: np.ndarray,
    *,
    batch_size: int = 256,
    device: str = "auto",
    reverse_complement: bool = True,
) -> np.ndarray:
    """Predict from base codes, averaging each sequence with its reverse complement.

    Parameters
    ----------
    model
        A trained model (put in evaluation mode here).
    codes
        uint8 ``(n, L)`` base codes (:func:`atlasbench.io.genome.base_codes`), ``L`` the
        model's input length.
    batch_size
        Sequences per forward pass.
    device
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
    reverse_complement
        Average with the reverse-complement strand.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, n_outputs)``.
    """
    target = resolve_device(device)
    model = model.to(target).eval()
    codes = np.asarray(codes, dtype=np.uint8)
    out = []
    with torch.no_grad():
        for first in range(0, len(codes), batch_size):
            batch = torch.as_tensor(codes[first : first + batch_size]).to(target)
            pred = model(one_hot(batch)).float()
            if reverse_complement:
                pred = (pred + model(one_hot(reverse_complement_codes(batch))).float()) / 2
            out.append(pred.cpu().numpy())
    if not out:
        with torch.no_grad():
            n_outputs = model(torch.zeros(1, 4, codes.shape[-1], device=target)).shape[1]
        return np.zeros((0, n_outputs), dtype=np.float32)
    return np.concatenate(out)


def as_ensemble(models: Models) -> list[TrainedModel]:
    """The models of an ensemble as a list, checked to share input length and cell types.

    Parameters
    ----------
    models
        One model or several.

    Returns
    -------
    list of TrainedModel
        At least one model.

    Raises
    ------
    AtlasbenchError
        For no model, or models whose input lengths or cell types (in order) differ.
    """
    models = [models] if isinstance(models, TrainedModel) else list(models)
    if not models:
        raise AtlasbenchError("no model to predict with")
    first = models[0]
    for model in models[1:]:
        if model.input_length != first.input_length:
            raise AtlasbenchError(
                f"the models of an ensemble take inputs of different lengths: {first.path} "
                f"{first.input_length} bp, {model.path} {model.input_length} bp"
            )
        if model.cell_types != first.cell_types:
            raise AtlasbenchError(
                f"the models of an ensemble must predict the same cell types in the same order: "
                f"{first.path} {first.cell_types}, {model.path} {model.cell_types}"
            )
    return models


def predict_ensemble(models: Models, codes: np.ndarray, **kwargs) -> np.ndarray:
    """Mean prediction of the models of an ensemble (see :func:`predict`) from base codes.

    Parameters
    ----------
    models
        One model or a fold ensemble (:func:`as_ensemble`).
    codes
        uint8 ``(n, L)`` base codes, ``L`` the models' input length.
    **kwargs
        ``batch_size``, ``device``, ``reverse_complement`` of :func:`predict`.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, n_outputs)``.
    """
    models = as_ensemble(models)
    return np.asarray(np.mean([predict(m.module, codes, **kwargs) for m in models], axis=0, dtype=np.float32))


def pad_codes(codes: np.ndarray, length: int) -> np.ndarray:
    """Pad base codes ``(L,)`` with N (code 4) to ``length``, equally on both sides (odd N on the right)."""
    missing = length - len(codes)
    left = missing // 2
    return np.concatenate([np.full(left, 4, np.uint8), codes, np.full(missing - left, 4, np.uint8)])


def predict_sequences(
    trained: Models,
    sequences: Sequence[str],
    *,
    stride: int = WINDOW_STRIDE,
    batch_size: int = 256,
    device: str = "auto",
) -> np.ndarray:
    """Predict DNA sequences of any length.

    Sequences shorter than the input are N-padded; longer ones are cut into windows of the
    input length every ``stride`` bp (the last window ending at the sequence end) and each
    output keeps its highest window. An ensemble scores each window by its members' mean.

    Parameters
    ----------
    trained
        The model, or a fold ensemble.
    sequences
        DNA strings (ACGTN, any case).
    stride
        Step between windows of a long sequence, in bp.
    batch_size, device
        See :func:`predict`.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, n_outputs)``.
    """
    _, ensemble = predict_sequences_by_member(trained, sequences, stride=stride, batch_size=batch_size, device=device)
    return ensemble


def predict_sequences_by_member(
    trained: Models,
    sequences: Sequence[str],
    *,
    stride: int = WINDOW_STRIDE,
    batch_size: int = 256,
    device: str = "auto",
) -> tuple[list[np.ndarray], np.ndarray]:
    """:func:`predict_sequences` for each member of an ensemble and for the ensemble, from
    one prediction of every window by each member.

    A member keeps its own best window of a long sequence; the ensemble the best window
    of the members' mean.

    Returns
    -------
    members : list of numpy.ndarray
        float32 ``(n, n_outputs)`` per member, in the ensemble's order.
    ensemble : numpy.ndarray
        float32 ``(n, n_outputs)``.
    """
    models = as_ensemble(trained)
    length = models[0].input_length
    windows, owner = [], []
    for i, seq in enumerate(sequences):
        codes = base_codes(seq)
        if len(codes) <= length:
            windows.append(pad_codes(codes, length))
            owner.append(i)
        else:
            starts = sorted({*range(0, len(codes) - length + 1, stride), len(codes) - length})
            windows.extend(codes[s : s + length] for s in starts)
            owner.extend([i] * len(starts))
    shape = (len(sequences), len(models[0].cell_types))
    if not windows:
        return [np.zeros(shape, dtype=np.float32) for _ in models], np.zeros(shape, dtype=np.float32)
    codes = np.stack(windows)
    by_member = [predict(m.module, codes, batch_size=batch_size, device=device) for m in models]
    owners = np.asarray(owner)

    def best(pred: np.ndarray) -> np.ndarray:
        out = np.full(shape, -np.inf, dtype=np.float32)
        np.maximum.at(out, owners, pred)
        return out

    return [best(p) for p in by_member], best(np.asarray(np.mean(by_member, axis=0, dtype=np.float32)))


def read_fasta_records(path: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """Names and sequences of a (plain or gzip) FASTA file, with line numbers in errors."""
    import gzip

    names: list[str] = []
    chunks: list[list[str]] = []
    try:
        with open(path, "rb") as raw:
            opener = gzip.open if raw.read(2) == b"\x1f\x8b" else open
        with opener(path, "rt") as handle:
            for number, line in enumerate(handle, 1):
                line = line.strip()
                if line.startswith(">"):
                    names.append(line[1:].split()[0] if line[1:].strip() else f"seq{len(names)}")
                    chunks.append([])
                elif line:
                    if not chunks:
                        raise input_error(path, "sequence before the first '>' header; expected FASTA", number)
                    bad = set(line.upper()) - set("ACGTN")
                    if bad:
                        raise input_error(path, f"characters {''.join(sorted(bad))!r} are not DNA (ACGTN)", number)
                    chunks[-1].append(line)
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise input_error(path, f"cannot read FASTA ({err})") from err
    if not names:
        raise input_error(path, "no FASTA records found")
    return names, ["".join(c) for c in chunks]


def predict_fasta(trained: Models, path: str | os.PathLike[str], **kwargs) -> pd.DataFrame:
    """Predict every record of a FASTA file (see :func:`predict_sequences`).

    Parameters
    ----------
    trained
        The model, or a fold ensemble.
    path
        FASTA file (plain or gzip) of sequences of any length.
    **kwargs
        Passed to :func:`predict_sequences`.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``length`` and one column per cell type.
    """
    names, seqs = read_fasta_records(path)
    models = as_ensemble(trained)
    pred = predict_sequences(models, seqs, **kwargs)
    table = pd.DataFrame(pred, columns=models[0].cell_types)
    table.insert(0, "length", [len(s) for s in seqs])
    table.insert(0, "name", names)
    return table


def predict_bed(trained: Models, bed: str | os.PathLike[str], genome: str | os.PathLike[str], **kwargs) -> pd.DataFrame:
    """Predict regions of a BED file: the input-length window centred on each region.

    Chromosome names are matched to the genome's (``chr2L`` and ``2L`` agree); windows
    running off a chromosome end are padded with N.

    Parameters
    ----------
    trained
        The model, or a fold ensemble.
    bed
        BED (or narrowPeak) file of regions.
    genome
        Genome FASTA the regions refer to.
    **kwargs
        ``batch_size``, ``device``, ``reverse_complement`` of :func:`predict`.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``chrom``, ``start``, ``end`` and one column per cell type.
    """
    models = as_ensemble(trained)
    table, codes = bed_windows(bed, genome, models[0].input_length)
    pred = predict_ensemble(models, codes, **kwargs)
    return pd.concat([table, pd.DataFrame(pred, columns=models[0].cell_types)], axis=1)


def bed_windows(
    bed: str | os.PathLike[str], genome: str | os.PathLike[str], length: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """The ``length`` bp window centred on each region of a BED file, as base codes.

    Chromosome names are matched to the genome's (``chr2L`` and ``2L`` agree); windows
    running off a chromosome end are padded with N.

    Returns
    -------
    table : pandas.DataFrame
        ``name`` (the BED's, else ``chrom:start-end``), ``chrom``, ``start``, ``end``.
    codes : numpy.ndarray
        uint8 ``(n, length)``.
    """
    regions = read_bed(bed)
    with open_genome(genome) as fasta:
        mapping, unknown = match_chromosomes(regions["chrom"].unique(), fasta.sizes)
        if unknown:
            raise input_error(bed, f"chromosomes not in the genome {genome}: {', '.join(unknown[:5])}")
        chrom = regions["chrom"].map(mapping).to_numpy()
        codes, _ = region_codes(fasta, chrom, regions["start"].to_numpy(), regions["end"].to_numpy(), length)
    if len(codes) == 0:
        raise AtlasbenchError(f"{bed}: no regions")
    table = regions[["chrom", "start", "end"]].copy()
    table.insert(
        0,
        "name",
        regions["name"]
        if "name" in regions
        else regions["chrom"] + ":" + regions["start"].astype(str) + "-" + regions["end"].astype(str),
    )
    return table.reset_index(drop=True), codes


def is_bed(path: str | os.PathLike[str]) -> bool:
    """Whether a file of inputs is a BED of regions (``.bed``, ``.narrowPeak``, gzipped or not), not a FASTA."""
    return Path(path).name.lower().removesuffix(".gz").endswith((".bed", ".narrowpeak"))


def input_windows(
    path: str | os.PathLike[str], genome: str | os.PathLike[str] | None, length: int
) -> tuple[list[str], np.ndarray]:
    """Model inputs from a BED of regions (with a genome) or a FASTA of sequences.

    BED regions (``.bed``, ``.narrowPeak``, gzipped or not) give the ``length`` bp
    window centred on each (:func:`bed_windows`); FASTA sequences up to ``length`` bp
    are centred and N-padded.

    Parameters
    ----------
    path
        The BED or FASTA file.
    genome
        Genome FASTA; required for a BED.
    length
        The model's input length.

    Returns
    -------
    names : list of str
        Region or record names.
    codes : numpy.ndarray
        uint8 ``(n, length)`` base codes.

    Raises
    ------
    AtlasbenchError
        For a BED without a genome, or FASTA sequences longer than ``length``.
    """
    if is_bed(path):
        if genome is None:
            raise AtlasbenchError(f"{path}: a BED of regions needs a genome FASTA (--genome)")
        table, codes = bed_windows(path, genome, length)
        return table["name"].tolist(), codes
    names, seqs = read_fasta_records(path)
    too_long = [n for n, s in zip(names, seqs) if len(s) > length]
    if too_long:
        raise AtlasbenchError(f"{path}: sequences longer than the model input ({length} bp): {too_long[:3]}")
    return names, np.stack([pad_codes(base_codes(s), length) for s in seqs])
