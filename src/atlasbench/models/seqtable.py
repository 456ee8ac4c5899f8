"""Sequence tables: S2F training data that does not come from scATAC-seq.

A sequence-to-function model needs only sequences and the values to predict for them, so
it can equally learn from massively parallel reporter assays (MPRA) or STARR-seq, where
each tested sequence comes with one or more activity measurements. Such data is usually
shared as a table with one row per sequence, and this module reads it into the same form
the scATAC path produces: fixed-length base codes (see :func:`atlasbench.io.genome.base_codes`)
and a float32 target matrix.

A *sequence table* is a TSV or CSV file (``.tsv``, ``.txt`` or ``.csv``, optionally
gzip-compressed) with a header line. Each row gives its sequence in one of two ways:

- a ``sequence`` column holding the DNA itself (``A``, ``C``, ``G``, ``T``, ``N``, either
  case), as for synthetic MPRA libraries; or
- ``chrom``, ``start`` and ``end`` columns (0-based, half-open, as BED) locating it in a
  genome FASTA, as for genomic STARR-seq fragments.

An optional ``name`` column names the rows and an optional ``fold`` column (non-negative
integers) carries a train/validation/test split made by the data's authors. The other
numeric columns are the targets, unless the caller picks them.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from atlasbench.data.folds import default_validation, split_labels, split_masks
from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.genome import base_codes, match_chromosomes, open_genome, region_codes
from atlasbench.models.settings import Training

logger = logging.getLogger(__name__)

_SEPARATORS = {".tsv": "\t", ".txt": "\t", ".csv": ","}
_COORDINATES = ("chrom", "start", "end")
_RESERVED = ("name", "sequence", *_COORDINATES, "fold")
_GZIP_MAGIC = b"\x1f\x8b"

# Byte value -> whether it may appear in a sequence column.
_ALLOWED = np.zeros(256, dtype=bool)
_ALLOWED[np.frombuffer(b"ACGTNacgtn", dtype=np.uint8)] = True


@dataclass(frozen=True)
class SequenceTable:
    """Sequences and their measured activities, read by :func:`read_sequence_table`.

    Attributes
    ----------
    names
        One name per row: the ``name`` column, else ``chrom:start-end`` (coordinates as
        spelled in the table) or ``seq<i>`` with ``i`` the 0-based row index.
    codes
        uint8, shape (n, length): each row's sequence window as base codes, 0-3 for A, C,
        G, T and 4 for N (:func:`atlasbench.io.genome.base_codes`).
    targets
        float32, shape (n, n_targets): the finite target values.
    target_names
        The target columns, in the column order of ``targets``.
    fold
        int64, shape (n,): the table's ``fold`` column, or None when it has none.
    regions
        Columns ``chrom`` (the genome's spelling), ``start``, ``end`` (int64), one row per
        sequence, when the table located its sequences by coordinates; else None.
    """

    names: list[str]
    codes: np.ndarray
    targets: np.ndarray
    target_names: list[str]
    fold: np.ndarray | None
    regions: pd.DataFrame | None


def read_sequence_table(
    path: str | os.PathLike[str],
    length: int,
    genome: str | os.PathLike[str] | None = None,
    targets: Sequence[str] | None = None,
) -> SequenceTable:
    """Read a sequence table (MPRA, STARR-seq) as fixed-length base codes and targets.

    A model takes inputs of one length, so every row becomes a window of ``length`` bp.
    Sequences given as text are centred in that window: a shorter one is padded with N on
    both sides (``(length - l) // 2`` on the left, so the odd N goes to the right), a
    longer one is cropped around its centre (``(l - length) // 2`` bases off the left,
    so the odd base is cut on the right); how many were padded or cropped is logged.
    Sequences given as coordinates are read from the genome as the ``length`` bp window
    around each region's midpoint, N-padded where it runs off a chromosome end
    (:func:`atlasbench.io.genome.region_codes`, ``edge="pad"``); chromosome spellings are
    reconciled with the genome's (:func:`atlasbench.io.genome.match_chromosomes`), so
    ``chr2L`` in the table finds ``2L`` in the FASTA.

    The separator follows the extension: tab for ``.tsv`` and ``.txt``, comma for
    ``.csv``, each optionally followed by ``.gz``; gzip is recognised by content. Blank
    lines are skipped. A ``sequence`` column is used when present (a ``genome`` is then
    not needed, and is ignored); otherwise ``chrom``, ``start`` and ``end`` are.

    Parameters
    ----------
    path
        The table.
    length
        Window length in bp (positive).
    genome
        Genome FASTA (plain or bgzip with indexes, as :func:`atlasbench.io.genome.open_genome`
        takes); needed when the table gives coordinates.
    targets
        Target columns, in the order wanted. By default every column other than
        ``name``, ``sequence``, ``chrom``, ``start``, ``end`` and ``fold`` that holds at
        least one number, in file order; columns holding no number at all (free text
        such as descriptions) are skipped and logged.

    Returns
    -------
    SequenceTable
        One row per data line, in file order.

    Raises
    ------
    AtlasbenchError
        Naming the file and, for a problem on one data row, its line (the header is
        line 1) and column: a missing or unparseable file; an extension other than
        those above; no data rows; neither a ``sequence`` column nor ``chrom``,
        ``start``, ``end``; coordinates without a genome; a requested target column
        missing (the available columns are listed); no target column; a target value
        that is not a finite number; a sequence that is empty or holds a character
        other than ACGTN; a ``start``/``end`` that is not a non-negative integer, or
        ``start >= end``; a chromosome not in the genome or an ``end`` beyond it; an
        empty or repeated name; a ``fold`` that is not a non-negative integer.
    ValueError
        If ``length`` is not positive.
    """
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length <= 0:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    length = int(length)
    path = Path(path)
    table, lines = _read_table(path)
    columns = list(table.columns)

    if "sequence" in table.columns:
        if genome is not None:
            logger.info("%s has a sequence column; the genome %s is not used", path, genome)
        codes = _sequence_codes(table["sequence"], path, lines, length)
        regions = None
    elif all(c in table.columns for c in _COORDINATES):
        if genome is None:
            raise input_error(
                path,
                "the table locates its sequences by chrom, start, end but no genome FASTA was given "
                "to read them from (pass genome=...); or give the DNA itself in a 'sequence' column",
            )
        codes, regions = _coordinate_codes(table, path, lines, length, Path(genome))
    else:
        raise input_error(
            path,
            f"expected a 'sequence' column or 'chrom', 'start' and 'end' columns; found columns: {', '.join(columns)}",
            line=1,
        )

    target_names = _target_columns(table, path, targets)
    values = _target_values(table, target_names, path, lines)
    names = _row_names(table, regions, path, lines)
    fold = _fold_column(table["fold"], path, lines) if "fold" in table.columns else None
    logger.info(
        "read %d sequences of %d bp with %d targets (%s) from %s",
        len(names),
        length,
        len(target_names),
        ", ".join(target_names),
        path,
    )
    return SequenceTable(
        names=names, codes=codes, targets=values, target_names=target_names, fold=fold, regions=regions
    )


def _read_table(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Read the table as strings; return it (header stripped of spaces) and each row's line number.

    The header is read as an ordinary row so that rows with too many fields raise instead
    of silently becoming an index, and blank lines are kept while numbering the lines,
    then dropped.
    """
    if not path.is_file():
        raise input_error(path, "sequence table not found")
    base = path.name.lower().removesuffix(".gz")
    sep = _SEPARATORS.get(Path(base).suffix)
    if sep is None:
        raise input_error(
            path, "cannot tell the table's format; expected a name ending in .tsv, .txt or .csv (optionally .gz)"
        )
    with open(path, "rb") as fh:
        compression = "gzip" if fh.read(2) == _GZIP_MAGIC else None
    try:
        raw = pd.read_csv(
            path,
            sep=sep,
            header=None,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            compression=compression,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError as exc:
        raise input_error(path, "the file is empty; expected a header line and one line per sequence") from exc
    except pd.errors.ParserError as exc:
        where = re.search(r"line (\d+)", str(exc))
        line = int(where.group(1)) if where else None
        raise input_error(
            path, f"could not parse as a {'tab' if sep == chr(9) else 'comma'}-separated table ({exc})", line=line
        ) from exc
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise input_error(path, f"could not read the table ({exc}); is the file complete?") from exc

    header = [str(c).strip() for c in raw.iloc[0]]
    unnamed = [i + 1 for i, c in enumerate(header) if not c]
    if unnamed:
        raise input_error(path, f"header has an empty column name (column {unnamed[0]})", line=1)
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise input_error(path, f"header repeats column name(s) {', '.join(map(repr, repeated))}", line=1)
    body = raw.iloc[1:]
    body.columns = header
    blank = (body == "").all(axis=1).to_numpy()
    body = body.loc[~blank].reset_index(drop=True)
    lines = np.flatnonzero(~blank) + 2  # row 0 of the body is line 2
    if body.empty:
        raise input_error(path, "the table has a header but no data rows; expected one line per sequence")
    return body, lines


def _more(n_bad: int, what: str = "rows") -> str:
    return f" (and {n_bad - 1} more such {what})" if n_bad > 1 else ""


def _sequence_codes(column: pd.Series, path: Path, lines: np.ndarray, length: int) -> np.ndarray:
    """Validate the sequence column and centre every sequence in a ``length`` bp window.

    All sequences are joined into one buffer in order of length, so that the sequences
    of each length are one contiguous block that reshapes into a matrix: the work is one
    pass over the bases plus one vectorised copy per distinct length.
    """
    seqs = column.str.strip().to_numpy(dtype=object)
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise input_error(
            path, "column 'sequence': the sequence is empty" + _more(empty.size), line=int(lines[empty[0]])
        )
    order = np.argsort(lengths, kind="stable")
    joined = "".join(seqs[order])
    # One byte per character ('?' for non-ASCII), so positions stay aligned with the text.
    buffer = np.frombuffer(joined.encode("ascii", errors="replace"), dtype=np.uint8)
    bad = np.flatnonzero(~_ALLOWED[buffer])
    if bad.size:
        ends = np.cumsum(lengths[order])
        sorted_index = np.searchsorted(ends, bad, side="right")
        bad_rows = order[sorted_index]
        row = int(bad_rows.min())
        first = int(np.flatnonzero(bad_rows == row)[0])
        row_start = int(ends[sorted_index[first]] - lengths[row])
        position = int(bad[first])
        raise input_error(
            path,
            f"column 'sequence': character {joined[position]!r} at position {position - row_start + 1} "
            "is not one of A, C, G, T, N" + _more(np.unique(bad_rows).size),
            line=int(lines[row]),
        )

    flat = base_codes(joined)
    codes = np.full((len(seqs), length), 4, dtype=np.uint8)
    distinct, counts = np.unique(lengths[order], return_counts=True)
    position = 0
    block_start = 0
    for seq_length, count in zip(distinct.tolist(), counts.tolist()):
        block = flat[position : position + seq_length * count].reshape(count, seq_length)
        rows = order[block_start : block_start + count]
        if seq_length <= length:
            left = (length - seq_length) // 2
            codes[rows, left : left + seq_length] = block
        else:
            left = (seq_length - length) // 2
            codes[rows] = block[:, left : left + length]
        position += seq_length * count
        block_start += count
    n_padded = int((lengths < length).sum())
    n_cropped = int((lengths > length).sum())
    logger.info(
        "%s: %d of %d sequences padded with N and %d centre-cropped to %d bp",
        path,
        n_padded,
        len(seqs),
        n_cropped,
        length,
    )
    return codes


def _int_column(column: pd.Series, name: str, path: Path, lines: np.ndarray) -> np.ndarray:
    """Parse a column of non-negative integers, raising on the first row that is not one."""
    values = column.str.strip()
    ok = values.str.fullmatch(r"\d{1,18}").to_numpy(dtype=bool, na_value=False)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        raise input_error(
            path,
            f"column {name!r}: expected a non-negative integer, found {values.iloc[bad[0]]!r}" + _more(bad.size),
            line=int(lines[bad[0]]),
        )
    return values.to_numpy(dtype=np.int64)


def _coordinate_codes(
    table: pd.DataFrame, path: Path, lines: np.ndarray, length: int, genome_path: Path
) -> tuple[np.ndarray, pd.DataFrame]:
    """Read the ``length`` bp window around each region's midpoint from the genome.

    Returns the codes and the regions with chromosomes spelled as in the genome.
    """
    chrom = table["chrom"].str.strip().to_numpy(dtype=object)
    empty = np.flatnonzero(chrom == "")
    if empty.size:
        raise input_error(
            path, "column 'chrom': chromosome name is empty" + _more(empty.size), line=int(lines[empty[0]])
        )
    start = _int_column(table["start"], "start", path, lines)
    end = _int_column(table["end"], "end", path, lines)
    inverted = np.flatnonzero(start >= end)
    if inverted.size:
        i = inverted[0]
        raise input_error(
            path,
            f"columns 'start', 'end': start ({start[i]}) must be smaller than end ({end[i]})" + _more(inverted.size),
            line=int(lines[i]),
        )
    with open_genome(genome_path) as genome:
        mapping, missing = match_chromosomes(chrom, genome.names)
        if missing:
            i = int(np.flatnonzero(chrom == missing[0])[0])
            shown = ", ".join(genome.names[:10]) + (", ..." if len(genome.names) > 10 else "")
            raise input_error(
                path,
                f"column 'chrom': chromosome {missing[0]!r} is not in the genome {genome.path} (it has: {shown})"
                + _more(len(missing), "chromosomes"),
                line=int(lines[i]),
            )
        genome_chrom = pd.Series(chrom).map(mapping).to_numpy(dtype=object)
        size = pd.Series(genome_chrom).map(genome.sizes).to_numpy(dtype=np.int64)
        beyond = np.flatnonzero(end > size)
        if beyond.size:
            i = beyond[0]
            raise input_error(
                path,
                f"column 'end': end ({end[i]}) is beyond the end of {chrom[i]} (length {size[i]} in {genome.path})"
                + _more(beyond.size),
                line=int(lines[i]),
            )
        codes, _ = region_codes(genome, genome_chrom.astype(str), start, end, length, edge="pad")
    window_start = (start + end) // 2 - length // 2
    n_edge = int(((window_start < 0) | (window_start + length > size)).sum())
    if n_edge:
        logger.info("%s: %d of %d windows run off a chromosome end and were padded with N", path, n_edge, len(chrom))
    regions = pd.DataFrame({"chrom": genome_chrom, "start": start, "end": end})
    return codes, regions


def _target_columns(table: pd.DataFrame, path: Path, targets: Sequence[str] | None) -> list[str]:
    """The requested target columns, checked to exist, or by default the numeric non-reserved ones."""
    columns = list(table.columns)
    if targets is not None:
        names = [targets] if isinstance(targets, str) else [str(t) for t in targets]
        missing = [t for t in names if t not in table.columns]
        if missing:
            raise input_error(
                path,
                f"target column(s) {', '.join(map(repr, missing))} not in the table; "
                f"available columns: {', '.join(columns)}",
                line=1,
            )
        repeated = sorted({t for t in names if names.count(t) > 1})
        if repeated:
            raise AtlasbenchError(f"target column(s) {', '.join(map(repr, repeated))} requested more than once")
        if not names:
            raise AtlasbenchError(f"no target columns requested for {path}; name at least one")
        return names
    candidates = [c for c in columns if c not in _RESERVED]
    numeric = [c for c in candidates if not np.isnan(_to_float(table[c])).all()]
    skipped = [c for c in candidates if c not in numeric]
    if skipped:
        logger.info("%s: columns without numbers are not targets: %s", path, ", ".join(skipped))
    if not numeric:
        raise input_error(
            path,
            "no target columns: expected at least one numeric column besides "
            f"{', '.join(_RESERVED)}; found columns: {', '.join(columns)}",
            line=1,
        )
    return numeric


def _to_float(column: pd.Series) -> np.ndarray:
    """Parse strings as float64, with NaN where a value is not a number."""
    return pd.to_numeric(column.str.strip(), errors="coerce").to_numpy(dtype=np.float64)


def _target_values(table: pd.DataFrame, names: list[str], path: Path, lines: np.ndarray) -> np.ndarray:
    """Parse the target columns into a float32 matrix, raising at the first row with a bad value."""
    values = np.empty((len(table), len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        with np.errstate(over="ignore"):
            values[:, j] = _to_float(table[name])
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        i = int(rows[0])
        name = names[int(np.flatnonzero(bad[i])[0])]
        raise input_error(
            path,
            f"column {name!r}: target value {table[name].iloc[i]!r} is not a finite number "
            "(within float32 range)" + _more(rows.size),
            line=int(lines[i]),
        )
    return values


def _row_names(table: pd.DataFrame, regions: pd.DataFrame | None, path: Path, lines: np.ndarray) -> list[str]:
    """Row names from the ``name`` column or made up; checked to be non-empty and unique."""
    if "name" in table.columns:
        names = table["name"].str.strip()
        column = "column 'name'"
        empty = np.flatnonzero((names == "").to_numpy())
        if empty.size:
            raise input_error(path, f"{column}: the name is empty" + _more(empty.size), line=int(lines[empty[0]]))
    elif regions is not None:
        names = table["chrom"].str.strip() + ":" + regions["start"].astype(str) + "-" + regions["end"].astype(str)
        column = "columns 'chrom', 'start', 'end' (which name rows without a 'name' column)"
    else:
        return [f"seq{i}" for i in range(len(table))]
    repeated = np.flatnonzero(names.duplicated().to_numpy())
    if repeated.size:
        i = int(repeated[0])
        first = int(np.flatnonzero((names == names.iloc[i]).to_numpy())[0])
        raise input_error(
            path,
            f"{column}: name {names.iloc[i]!r} is already used on line {lines[first]}; names must be unique"
            + _more(repeated.size),
            line=int(lines[i]),
        )
    return names.tolist()


def _fold_column(column: pd.Series, path: Path, lines: np.ndarray) -> np.ndarray:
    """Parse the ``fold`` column as non-negative integers."""
    return _int_column(column, "fold", path, lines)


def train_on_table(
    table: SequenceTable,
    out: str | os.PathLike[str],
    *,
    input_length: int,
    training: Training,
    architecture: str = "dilated_cnn",
    preset: str = "tiny",
    params: dict | None = None,
    seed: int = 7,
    k: int = 10,
    test_fold: int = 0,
    validation_fold: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Train a model on a sequence table, hold out a test fold, save model and evaluation.

    The table's ``fold`` column splits it; without one, rows are assigned to ``k`` folds
    at random (seeded). The model is trained on every fold but the test and validation
    folds, evaluated on the test fold (per target Pearson and Spearman across sequences,
    see :func:`atlasbench.models.metrics.correlations`) and saved to ``out`` (see
    :mod:`atlasbench.models.trained`) with its evaluation in ``evaluation.tsv``.

    Parameters
    ----------
    table
        Read with windows of ``input_length + 2 * training.max_shift`` bp.
    out
        Model folder.
    input_length
        Model input length in bp.
    training
        The recipe (loss, learning rate, epochs, augmentation...).
    architecture, preset, params
        The model (see :func:`atlasbench.models.architectures.build_model`).
    seed
        Seeds folds and training.
    k
        Folds to assign when the table has none.
    test_fold, validation_fold
        Held-out folds; validation defaults to the fold after the test fold.
    progress
        Show progress bars.

    Returns
    -------
    pandas.DataFrame
        The test-fold evaluation (``cell_type`` = target column, ``metric``, ``value``).

    Raises
    ------
    AtlasbenchError
        When targets go below zero and the model was asked for an output that cannot
        (``output_activation`` softplus or sigmoid in ``params``), or the loss cannot
        take them (Poisson; CosineMSELog below -1). Without an explicit
        ``output_activation``, negative targets get a linear output (logged).
    """
    from atlasbench.models.architectures import count_parameters, model_params
    from atlasbench.models.metrics import correlations
    from atlasbench.models.predict import predict
    from atlasbench.models.train import train
    from atlasbench.models.trained import save_trained

    shift = training.max_shift
    if table.codes.shape[1] != input_length + 2 * shift:
        raise AtlasbenchError(
            f"the table was read with {table.codes.shape[1]} bp windows; this training needs "
            f"input_length + 2 * max_shift = {input_length + 2 * shift}"
        )
    if table.fold is not None:
        fold = table.fold
    else:
        fold = np.random.default_rng(seed).permutation(np.arange(len(table.names)) % k)
    folds_present = sorted(set(fold.tolist()))
    if validation_fold is None:  # the next fold present; past the end when the test fold is absent
        validation_fold = (
            folds_present[default_validation(folds_present.index(test_fold), len(folds_present))]
            if test_fold in folds_present
            else test_fold + 1
        )
    split = split_labels(split_masks(fold, test_fold, validation_fold, check=False))
    test = np.flatnonzero(split == "test")
    if test.size < 3:
        raise AtlasbenchError(f"test fold {test_fold} holds {test.size} sequences; folds present: {folds_present}")
    params = _output_for_targets(table, architecture, preset, params, training.loss)
    model, history = train(
        table.codes,
        table.targets,
        np.flatnonzero(split == "train"),
        np.flatnonzero(split == "val"),
        architecture=architecture,
        preset=preset,
        params=params,
        input_length=input_length,
        training=training,
        seed=seed,
        progress=progress,
    )
    pred = predict(model, table.codes[test, shift : shift + input_length], device=training.device)
    evaluation = correlations(pred, table.targets[test], table.target_names)
    regions = pd.DataFrame({"name": table.names, "fold": fold, "split": split})
    if table.regions is not None:
        regions = pd.concat([regions, table.regions[["chrom", "start", "end"]].reset_index(drop=True)], axis=1)
    spec = {
        "architecture": architecture,
        "preset": preset,
        "params": model_params(architecture, preset, params),
        "input_length": input_length,
        "cell_types": list(table.target_names),
        "normalization": "table",
        "test_fold": test_fold,
        "validation_fold": validation_fold,
        "seed": seed,
        "training": training.model_dump(mode="json"),
        "n_parameters": count_parameters(model),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    evaluation.to_csv(out / "evaluation.tsv", sep="\t", index=False)
    save_trained(out, model, spec, regions, history)
    return evaluation


def _output_for_targets(
    table: SequenceTable, architecture: str, preset: str, params: dict | None, loss: str
) -> dict | None:
    """The model parameters, with a linear output where targets go below zero.

    Softplus (the default output) and sigmoid cannot go below zero, so a model with
    either could never reach negative targets (e.g. log2 enhancer activities): unless
    the caller chose the output activation, it becomes linear, with a warning; if the
    caller chose one of those, or a loss that cannot take negative targets, this raises.
    """
    from atlasbench.models.architectures import model_params

    lowest = float(table.targets.min())
    if lowest >= 0:
        return params
    below = ", ".join(n for n, v in zip(table.target_names, table.targets.min(axis=0)) if v < 0)
    if loss == "poisson":
        raise AtlasbenchError(
            f"target column(s) {below} go below zero (min {lowest:g}); the Poisson loss needs non-negative "
            "targets: use loss 'mse'"
        )
    if loss == "cosine_mse_log" and lowest <= -1:
        raise AtlasbenchError(
            f"target column(s) {below} go down to {lowest:g}; the cosine_mse_log loss takes log1p of the "
            "targets and needs them above -1: use loss 'mse'"
        )
    chosen = (params or {}).get("output_activation")
    if chosen in ("softplus", "sigmoid"):
        raise AtlasbenchError(
            f"target column(s) {below} go below zero (min {lowest:g}) but output_activation={chosen} cannot: "
            "use output_activation=linear"
        )
    if chosen is None and model_params(architecture, preset, params).get("output_activation") in (
        "softplus",
        "sigmoid",
    ):
        logger.warning(
            "target column(s) %s go below zero (min %g), which a softplus output cannot reach; "
            "training with a linear output instead",
            below,
            lowest,
        )
        return {**(params or {}), "output_activation": "linear"}
    return params
