"""Regions: BED input/output, MACS3 peak calling per cell type and one consensus region set.

An S2F model is trained on a fixed set of genomic regions shared by every cell type and
every degraded level of a study, so that test sets stay comparable. The set is built the
way pycisTopic builds it (Corces et al. 2018): peaks are called per cell-type pseudobulk
with MACS3, each summit is widened to a fixed-width window, and overlapping windows are
resolved by keeping the most significant one.

Region tables are pandas DataFrames with columns ``chrom`` (str), ``start`` and ``end``
(int64, 0-based half-open) and optionally ``name`` and ``score``; a region is named
``chrom:start-end``.
"""

from __future__ import annotations

import gzip
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.atomic import atomic_path
from atlasbench.io.names import file_stem

log = logging.getLogger(__name__)

NARROWPEAK_COLUMNS = (
    "chrom",
    "start",
    "end",
    "name",
    "score",
    "strand",
    "signal_value",
    "pvalue",
    "qvalue",
    "summit",
)
"""Columns of a narrowPeak table as :func:`read_narrowpeak` names them.

``score`` is MACS3's ``int(-10 * log10 qvalue)``, ``signal_value`` the fold enrichment at
the summit, ``pvalue`` and ``qvalue`` are -log10 values and ``summit`` is the summit's
offset from ``start``.
"""

_HEADER_PREFIXES = ("track", "browser", "#")
_MACS_LOG_TAIL_LINES = 20


def _read_fields(path: Path, min_columns: int, expected: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Split the data lines of a tab-separated text file (plain or gzip) into string columns.

    Header lines (``track``, ``browser``, ``#``) and blank lines are skipped. Returns the
    fields (one column per tab-separated field, missing trailing fields as NaN) and the
    1-based line number of each data line, for error messages.
    """
    if not path.is_file():
        raise input_error(path, f"file not found (expected {expected})")
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rt") as fh:
        lines = pd.Series(fh.read().split("\n"), dtype=object)
    stripped = lines.str.strip()
    is_data = (stripped != "") & ~stripped.str.startswith(_HEADER_PREFIXES)
    data = lines[is_data]
    line_numbers = data.index.to_numpy() + 1
    if data.empty:
        return pd.DataFrame(index=pd.RangeIndex(0), columns=range(min_columns), dtype=object), line_numbers
    fields = data.str.rstrip("\r").str.split("\t", expand=True).reset_index(drop=True)
    n_fields = fields.notna().sum(axis=1).to_numpy()
    short = np.flatnonzero(n_fields < min_columns)
    if short.size:
        i = short[0]
        raise input_error(
            path,
            f"expected at least {min_columns} tab-separated columns ({expected}), found {n_fields[i]}"
            + _more(short.size),
            line=int(line_numbers[i]),
        )
    return fields, line_numbers


def _more(n_bad: int) -> str:
    return f" (and {n_bad - 1} more such lines)" if n_bad > 1 else ""


def _int_field(values: pd.Series, path: Path, line_numbers: np.ndarray, field: str) -> np.ndarray:
    """Parse a column of non-negative integers, raising on the first line that is not one."""
    ok = values.str.fullmatch(r"\d{1,18}").to_numpy(dtype=bool, na_value=False)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        i = bad[0]
        raise input_error(
            path,
            f"{field} must be a non-negative integer, found {values.iloc[i]!r}" + _more(bad.size),
            line=int(line_numbers[i]),
        )
    return values.astype(np.int64).to_numpy()


def _float_field(
    values: pd.Series, path: Path, line_numbers: np.ndarray, field: str, allow_dot: bool = False
) -> np.ndarray:
    """Parse a numeric column (``.`` read as NaN when ``allow_dot``), raising on the first bad line."""
    dot = (values == ".").to_numpy() if allow_dot else np.zeros(len(values), dtype=bool)
    parsed = pd.to_numeric(values.mask(dot), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(parsed) & ~dot)
    if bad.size:
        i = bad[0]
        raise input_error(
            path,
            f"{field} must be a number{' or .' if allow_dot else ''}, found {values.iloc[i]!r}" + _more(bad.size),
            line=int(line_numbers[i]),
        )
    return parsed


def _check_intervals(
    chrom: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    path: Path,
    line_numbers: np.ndarray,
    chrom_sizes: Mapping[str, int] | None,
) -> None:
    """Check 0 <= start < end, and chromosome known and end <= its size when sizes are given."""
    empty = np.flatnonzero(chrom == "")
    if empty.size:
        raise input_error(path, "chromosome name is empty" + _more(empty.size), line=int(line_numbers[empty[0]]))
    inverted = np.flatnonzero(start >= end)
    if inverted.size:
        i = inverted[0]
        raise input_error(
            path,
            f"start ({start[i]}) must be smaller than end ({end[i]})" + _more(inverted.size),
            line=int(line_numbers[i]),
        )
    if chrom_sizes is None:
        return
    size = pd.Series(chrom).map(dict(chrom_sizes)).to_numpy(dtype=np.float64)
    unknown = np.flatnonzero(np.isnan(size))
    if unknown.size:
        i = unknown[0]
        raise input_error(
            path,
            f"chromosome {chrom[i]!r} is not in the chromosome sizes "
            f"(known: {', '.join(list(chrom_sizes)[:5])}{', ...' if len(chrom_sizes) > 5 else ''})"
            + _more(unknown.size),
            line=int(line_numbers[i]),
        )
    beyond = np.flatnonzero(end > size)
    if beyond.size:
        i = beyond[0]
        raise input_error(
            path,
            f"end ({end[i]}) is beyond the end of {chrom[i]} (length {int(size[i])})" + _more(beyond.size),
            line=int(line_numbers[i]),
        )


def read_bed(path: str | os.PathLike[str], chrom_sizes: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Read a BED3+ file (plain or gzip) into a region table, validating every line.

    BED is 0-based and half-open: ``start`` is the first base, ``end`` one past the last.
    ``track``, ``browser`` and ``#`` lines are skipped. The 4th and 5th columns, when every
    line has them, become ``name`` and ``score`` (``.`` as score reads as NaN); further
    columns are ignored.

    Parameters
    ----------
    path
        BED file, optionally gzip- or bgzip-compressed.
    chrom_sizes
        Chromosome lengths. When given, every chromosome must be known and every ``end``
        must lie within its chromosome.

    Returns
    -------
    pandas.DataFrame
        Columns ``chrom``, ``start``, ``end`` (int64) and, when present, ``name``, ``score``.

    Raises
    ------
    AtlasbenchError
        Naming the file and line of the first problem: fewer than 3 columns, a start or end
        that is not a non-negative integer, ``start >= end``, an unknown chromosome or an
        end beyond the chromosome.
    """
    path = Path(path)
    fields, line_numbers = _read_fields(path, 3, "chrom, start, end")
    chrom = fields[0].to_numpy(dtype=object)
    start = _int_field(fields[1], path, line_numbers, "start")
    end = _int_field(fields[2], path, line_numbers, "end")
    _check_intervals(chrom, start, end, path, line_numbers, chrom_sizes)
    table = pd.DataFrame({"chrom": chrom, "start": start, "end": end})
    if fields.shape[1] > 3 and fields[3].notna().all():
        table["name"] = fields[3].to_numpy(dtype=object)
        if fields.shape[1] > 4 and fields[4].notna().all():
            table["score"] = _float_field(fields[4], path, line_numbers, "score", allow_dot=True)
    log.debug("read %d regions from %s", len(table), path)
    return table


def write_bed(regions: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a region table as BED, atomically; gzip-compressed when ``path`` ends in ``.gz``.

    Columns written: ``chrom``, ``start``, ``end``, then ``name`` and ``score`` when the
    table has them (a table with a score but no name gets ``chrom:start-end`` names, since
    BED's score is the 5th column).

    Parameters
    ----------
    regions
        Region table.
    path
        Destination file.
    """
    out = regions.loc[:, ["chrom", "start", "end"]].copy()
    if "name" in regions or "score" in regions:
        out["name"] = regions["name"] if "name" in regions else region_names(regions)
    if "score" in regions:
        out["score"] = regions["score"]
    compression = "gzip" if Path(path).suffix == ".gz" else None
    with atomic_path(path) as tmp:
        out.to_csv(tmp, sep="\t", header=False, index=False, compression=compression)
    log.debug("wrote %d regions to %s", len(out), path)


def region_names(regions: pd.DataFrame) -> np.ndarray:
    """Name every region ``chrom:start-end`` (the var names of CREsted-style AnnData targets).

    Parameters
    ----------
    regions
        Region table.

    Returns
    -------
    numpy.ndarray
        Object array of strings, one per row.
    """
    names = regions["chrom"].astype(str) + ":" + regions["start"].astype(str) + "-" + regions["end"].astype(str)
    return names.to_numpy(dtype=object)


def _macs3_executable() -> str:
    """The ``macs3`` command, preferring the one installed beside the running interpreter."""
    beside = Path(sys.executable).parent / "macs3"
    if beside.is_file():
        return str(beside)
    found = shutil.which("macs3")
    if found is None:
        raise AtlasbenchError(
            "MACS3 not found: install the macs3 package (pip install macs3) so that the `macs3` command is available"
        )
    return found


# MACS2's ``-g`` shortcuts (hs, mm, ce, dm), the values the published protocol's MACS2 run
# used. MACS3 3.0.4's own shortcuts are deeptools' non-N counts instead (e.g. mm
# 2,652,783,500, close to the whole genome), so atlasbench passes these numbers, not
# the shortcut names.
MACS_EFFECTIVE_SIZES: dict[str, int] = {"hs": 2_700_000_000, "mm": 1_870_000_000, "ce": 90_000_000, "dm": 120_000_000}
_ASSEMBLY_SPECIES = {
    **dict.fromkeys(("hg19", "hg38", "grch37", "grch38"), "hs"),
    **dict.fromkeys(("mm9", "mm10", "mm39", "grcm38", "grcm39"), "mm"),
    **dict.fromkeys(("ce10", "ce11"), "ce"),
    **dict.fromkeys(("dm3", "dm6"), "dm"),
}


def known_effective_genome_size(assembly: str | None) -> int | None:
    """MACS's effective genome size of a known assembly name (case-insensitive), else None.

    hg19/hg38/GRCh37/GRCh38 -> hs (2.7e9), mm9/mm10/mm39/GRCm38/GRCm39 -> mm (1.87e9),
    ce10/ce11 -> ce (9e7), dm3/dm6 -> dm (1.2e8).
    """
    if assembly is None:
        return None
    species = _ASSEMBLY_SPECIES.get(assembly.strip().lower())
    return None if species is None else MACS_EFFECTIVE_SIZES[species]


def call_peaks(
    fragments_bed: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    name: str,
    genome_size: str | float,
    *,
    qvalue: float = 0.05,
    shift: int = 73,
    extsize: int = 146,
    input_format: str = "BEDPE",
    keep_dup: str | int = "all",
    nolambda: bool = True,
) -> Path:
    """Call peaks on one cell type's fragments with MACS3, as pycisTopic does.

    Runs ``macs3 callpeak --treatment FRAGMENTS --format BEDPE --gsize G --qvalue 0.05
    --nomodel --shift 73 --extsize 146 --keep-dup all --call-summits --nolambda``: the
    options the published protocol lists (PROTOCOL.md, the paper's MACS2 options, which
    MACS3 takes unchanged) plus the two that pycisTopic's ``macs_call_peak``, whose
    consensus method the paper follows, always adds (``--call-summits``, and
    ``--nolambda`` by default).

    What the options do on fragments: with ``--format BEDPE`` MACS3 piles up each whole
    fragment (its two ends are the two Tn5 insertions) and takes the mean fragment length
    as *d*. In this paired-end mode MACS3 resets ``--shift`` to 0 and does not use
    ``--extsize`` (checked in MACS3 3.0.4's option validator and ``callpeak``), so ``73``
    and ``146`` are passed only to keep the command identical to pycisTopic's and the
    paper's; they change nothing. To call peaks on insertion sites instead, write one
    record per Tn5 cut and use ``input_format="BED"`` with ``shift=-73, extsize=146``,
    which centres a 146 bp window on each cut. ``--keep-dup all`` keeps every fragment:
    10x fragments are already deduplicated, and a pseudobulk pools cells whose fragments
    may coincide by chance. ``--nolambda`` compares the pileup with the genome-wide
    background only; with no control library MACS3 would otherwise estimate local
    lambda from the treatment itself. ``--call-summits`` reports every sub-peak summit,
    from which :func:`consensus_regions` builds fixed-width regions.

    MACS3 writes into a temporary folder beside the result; the narrowPeak file is then
    moved into place atomically, so a half-finished call never leaves a result behind.

    Parameters
    ----------
    fragments_bed
        BED of fragments (chrom, start, end; further columns ignored) of one cell type.
    out_dir
        Folder for the result (created if missing).
    name
        File-name stem (:func:`atlasbench.io.names.file_stem` of the cell type); the result is
        ``out_dir / f"{name}_peaks.narrowPeak"``.
    genome_size
        Effective genome size: a number of bases or a MACS3 shortcut (``hs``, ``mm``,
        ``ce``, ``dm``).
    qvalue
        q-value cutoff (``--qvalue``).
    shift, extsize
        ``--shift`` and ``--extsize``; ignored by MACS3 for ``BEDPE``/``BAMPE`` (see above).
    input_format
        MACS3 ``--format``.
    keep_dup
        ``--keep-dup``: ``all``, ``auto`` or a number.
    nolambda
        Pass ``--nolambda``.

    Returns
    -------
    pathlib.Path
        The narrowPeak file (read it with :func:`read_narrowpeak`).

    Raises
    ------
    AtlasbenchError
        If the fragments file is missing, the name cannot be a file name, MACS3 is not
        installed, or MACS3 fails (the message carries the tail of its log).
    """
    fragments_bed = Path(fragments_bed)
    out_dir = Path(out_dir)
    if not fragments_bed.is_file():
        raise input_error(fragments_bed, "fragments BED not found")
    if not name or "/" in name or os.sep in name or name.startswith("."):
        raise AtlasbenchError(f"peak-calling name {name!r} must be non-empty, not start with '.' and contain no '/'")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}_peaks.narrowPeak"
    with tempfile.TemporaryDirectory(prefix=f".{name}.macs3.", dir=out_dir) as work:
        command = [
            _macs3_executable(),
            "callpeak",
            "--treatment", str(fragments_bed),
            "--name", name,
            "--outdir", work,
            "--tempdir", work,
            "--format", input_format,
            "--gsize", str(genome_size),
            "--qvalue", str(qvalue),
            "--nomodel",
            "--shift", str(shift),
            "--extsize", str(extsize),
            "--keep-dup", str(keep_dup),
            "--call-summits",
        ]  # fmt: skip
        if nolambda:
            command.append("--nolambda")
        log.info("calling peaks for %s: %s", name, shlex.join(command))
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        produced = Path(work) / f"{name}_peaks.narrowPeak"
        if result.returncode != 0 or not produced.is_file():
            tail = "\n".join(result.stderr.strip().splitlines()[-_MACS_LOG_TAIL_LINES:])
            raise input_error(
                fragments_bed,
                f"MACS3 callpeak failed for {name!r} (exit code {result.returncode}); end of its log:\n{tail}",
            )
        log.debug("MACS3 log for %s:\n%s", name, result.stderr)
        with atomic_path(target) as tmp:
            os.replace(produced, tmp)
    return target


def read_narrowpeak(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a narrowPeak file (BED6+4, as MACS3 writes it) into a validated table.

    Parameters
    ----------
    path
        narrowPeak file, plain or gzip.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`NARROWPEAK_COLUMNS`: ``chrom``, ``start``, ``end``, ``summit``
        (offset from ``start``, int64), ``name``, ``strand`` (str) and ``score``,
        ``signal_value``, ``pvalue``, ``qvalue`` (float64; the last two are -log10).
        With ``--call-summits`` one peak may appear on several rows, one per summit.

    Raises
    ------
    AtlasbenchError
        Naming file and line: fewer than 10 columns, bad coordinates, a non-numeric
        score or a summit outside its peak.
    """
    path = Path(path)
    fields, line_numbers = _read_fields(path, 10, "narrowPeak: " + ", ".join(NARROWPEAK_COLUMNS))
    chrom = fields[0].to_numpy(dtype=object)
    start = _int_field(fields[1], path, line_numbers, "start")
    end = _int_field(fields[2], path, line_numbers, "end")
    _check_intervals(chrom, start, end, path, line_numbers, None)
    summit = _int_field(fields[9], path, line_numbers, "summit offset")
    outside = np.flatnonzero(summit >= end - start)
    if outside.size:
        i = outside[0]
        raise input_error(
            path,
            f"summit offset {summit[i]} lies outside its peak of length {end[i] - start[i]}" + _more(outside.size),
            line=int(line_numbers[i]),
        )
    table = pd.DataFrame(
        {
            "chrom": chrom,
            "start": start,
            "end": end,
            "name": fields[3].to_numpy(dtype=object),
            "strand": fields[5].to_numpy(dtype=object),
            "summit": summit,
        }
    )
    for column, index in (("score", 4), ("signal_value", 6), ("pvalue", 7), ("qvalue", 8)):
        table[column] = _float_field(fields[index], path, line_numbers, column)
    log.debug("read %d peaks from %s", len(table), path)
    return table.loc[:, list(NARROWPEAK_COLUMNS)]


def peaks_per_cell_type(
    beds: Mapping[str, str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    genome_size: str | float,
    **macs_options: Any,
) -> dict[str, pd.DataFrame]:
    """Call peaks for every cell type with :func:`call_peaks` and read the results.

    Parameters
    ----------
    beds
        Cell type -> fragments BED of that cell type's pseudobulk.
    out_dir
        Folder for the narrowPeak files (``{file_stem(cell_type)}_peaks.narrowPeak``).
    genome_size
        Effective genome size (see :func:`call_peaks`).
    **macs_options
        Keyword options of :func:`call_peaks` (``qvalue``, ``shift``, ...).

    Returns
    -------
    dict of str to pandas.DataFrame
        Cell type -> narrowPeak table (:func:`read_narrowpeak`), in the order of ``beds``.
    """
    peaks = {}
    for cell_type, bed in beds.items():
        path = call_peaks(bed, out_dir, file_stem(cell_type), genome_size, **macs_options)
        peaks[cell_type] = read_narrowpeak(path)
        log.info("%s: %d peak summits", cell_type, len(peaks[cell_type]))
    return peaks


def _select_non_overlapping(position: np.ndarray, score: np.ndarray, width: int) -> np.ndarray:
    """Greedy overlap resolution of equal-width windows: the best-scoring window wins.

    Windows are visited by decreasing score (ties: leftmost first); a window still
    standing is kept and removes every window overlapping it. This is exactly "take the
    best, remove all that overlap it, repeat". Two windows of the same width overlap when
    their starts differ by less than ``width``, so in start order the windows a window
    overlaps form one contiguous run, found for all windows at once by binary search.
    Kept windows never overlap, so each window is removed by at most two of them: after
    the O(n log n) sorts the loop does O(n) work.

    ``position`` is a genome-wide coordinate (chromosome offset + start) so that one
    sorted order serves all chromosomes. Returns a boolean mask of kept windows.
    """
    by_position = np.argsort(position, kind="stable")
    sorted_position = position[by_position]
    first = np.searchsorted(sorted_position, sorted_position - width, side="right").tolist()
    stop = np.searchsorted(sorted_position, sorted_position + width, side="left").tolist()
    rank = np.empty(len(position), dtype=np.int64)
    rank[by_position] = np.arange(len(position))
    removed = np.zeros(len(position), dtype=bool)
    kept = np.zeros(len(position), dtype=bool)
    for r in rank[np.lexsort((position, -score))].tolist():
        if removed[r]:
            continue
        kept[r] = True
        removed[first[r] : stop[r]] = True
    return kept[rank]


def _overlaps_blacklist(
    position: np.ndarray, width: int | np.ndarray, blacklist: pd.DataFrame, offsets: pd.Series, sizes: pd.Series
) -> np.ndarray:
    """Mask of windows ``[position, position + width)`` overlapping any blacklist interval.

    All coordinates are genome-wide (chromosome offset + position). With blacklist
    intervals sorted by start, the last one starting before a window's end overlaps the
    window when the running maximum of ends up to it passes the window's start.
    """
    known = blacklist["chrom"].isin(offsets.index)
    chrom = blacklist.loc[known, "chrom"]
    offset = chrom.map(offsets).to_numpy(dtype=np.int64)
    bl_start = offset + blacklist.loc[known, "start"].to_numpy(dtype=np.int64)
    bl_end = offset + np.minimum(
        blacklist.loc[known, "end"].to_numpy(dtype=np.int64), chrom.map(sizes).to_numpy(dtype=np.int64)
    )
    if bl_start.size == 0:
        return np.zeros(len(position), dtype=bool)
    order = np.argsort(bl_start, kind="stable")
    bl_start = bl_start[order]
    running_end = np.maximum.accumulate(bl_end[order])
    last = np.searchsorted(bl_start, position + width, side="left") - 1
    return (last >= 0) & (running_end[np.maximum(last, 0)] > position)


def _genome_offsets(chrom_sizes: Mapping[str, int]) -> tuple[pd.Series, pd.Series]:
    """Chromosome sizes and the genome-wide offset of each chromosome's first base."""
    sizes = pd.Series(dict(chrom_sizes), dtype=np.int64)
    offsets = pd.Series(np.concatenate([[0], np.cumsum(sizes.to_numpy())[:-1]]), index=sizes.index, dtype=np.int64)
    return sizes, offsets


def overlapping(regions: pd.DataFrame, intervals: pd.DataFrame, chrom_sizes: Mapping[str, int]) -> np.ndarray:
    """Mask of the regions that overlap any of ``intervals`` (e.g. a blacklist).

    Parameters
    ----------
    regions, intervals
        Tables with chrom, start, end (0-based half-open); any widths, overlaps allowed.
    chrom_sizes
        Chromosome lengths; regions on other chromosomes are never overlapping.

    Returns
    -------
    numpy.ndarray
        bool per region.
    """
    sizes, offsets = _genome_offsets(chrom_sizes)
    known = regions["chrom"].isin(sizes.index).to_numpy()
    chrom = regions.loc[known, "chrom"]
    start = regions.loc[known, "start"].to_numpy(dtype=np.int64)
    width = regions.loc[known, "end"].to_numpy(dtype=np.int64) - start
    out = np.zeros(len(regions), dtype=bool)
    out[known] = _overlaps_blacklist(
        chrom.map(offsets).to_numpy(dtype=np.int64) + start, width, intervals, offsets, sizes
    )
    return out


def consensus_regions(
    peaks: Mapping[str, pd.DataFrame],
    chrom_sizes: Mapping[str, int],
    width: int = 500,
    blacklist: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Build one fixed-width, non-overlapping region set from the peaks of all cell types.

    pycisTopic's consensus peaks (``get_consensus_peaks``, after Corces et al. 2018):

    1. Per cell type, every summit (peak ``start`` + ``summit`` offset) is widened to a
       window of ``width`` bp, ``[summit - width // 2, summit - width // 2 + width)``.
       Windows on chromosomes absent from ``chrom_sizes`` or crossing a chromosome end
       are dropped, as are windows overlapping the blacklist.
    2. Within each cell type, overlapping windows are resolved by score: the window with
       the highest narrowPeak ``score`` (MACS3's -10 log10 q) is kept, every window
       overlapping it is removed, and so on (:func:`_select_non_overlapping`).
    3. Scores are normalised within each cell type as pycisTopic does (CPM): each score
       is divided by the sum of the scores kept in step 2 and multiplied by 10^6, so a
       cell type with many peaks or deep coverage does not dominate the others.
    4. The windows of all cell types are pooled and resolved by normalised score the same
       way.

    Parameters
    ----------
    peaks
        Cell type -> narrowPeak table (:func:`read_narrowpeak`; needs ``chrom``,
        ``start``, ``summit`` and ``score``).
    chrom_sizes
        Chromosome lengths; their order is the output order.
    width
        Width of every consensus region in bp.
    blacklist
        Regions (``chrom``, ``start``, ``end``) no consensus region may overlap.

    Returns
    -------
    pandas.DataFrame
        Columns ``chrom``, ``start``, ``end`` (``end - start == width``), ``name``
        (``chrom:start-end``) and ``score`` (the normalised score of the winning window),
        sorted by chromosome (in ``chrom_sizes`` order) then start.

    Raises
    ------
    AtlasbenchError
        If ``width`` is not positive or a peak table lacks a needed column.
    """
    if width <= 0:
        raise AtlasbenchError(f"consensus region width must be a positive number of bp, got {width}")
    sizes, offsets = _genome_offsets(chrom_sizes)
    half = width // 2
    per_type_positions, per_type_scores = [], []
    for cell_type, table in peaks.items():
        missing = {"chrom", "start", "summit", "score"} - set(table.columns)
        if missing:
            raise AtlasbenchError(
                f"peaks of cell type {cell_type!r}: missing column(s) {', '.join(sorted(missing))} "
                "(expected a narrowPeak table from read_narrowpeak)"
            )
        known = table["chrom"].isin(sizes.index).to_numpy()
        if not known.all():
            log.info(
                "%s: dropped %d summits on chromosomes without a size (%s)",
                cell_type,
                int((~known).sum()),
                ", ".join(sorted(table.loc[~known, "chrom"].astype(str).unique())[:5]),
            )
        chrom = table.loc[known, "chrom"]
        start = (table.loc[known, "start"] + table.loc[known, "summit"]).to_numpy(dtype=np.int64) - half
        score = table.loc[known, "score"].to_numpy(dtype=np.float64)
        inside = (start >= 0) & (start + width <= chrom.map(sizes).to_numpy(dtype=np.int64))
        if not inside.all():
            log.info("%s: dropped %d windows crossing a chromosome end", cell_type, int((~inside).sum()))
        position = chrom.map(offsets).to_numpy(dtype=np.int64)[inside] + start[inside]
        score = score[inside]
        if blacklist is not None:
            listed = _overlaps_blacklist(position, width, blacklist, offsets, sizes)
            log.info("%s: dropped %d windows overlapping the blacklist", cell_type, int(listed.sum()))
            position, score = position[~listed], score[~listed]
        kept = _select_non_overlapping(position, score, width)
        position, score = position[kept], score[kept]
        total = score.sum()
        per_type_positions.append(position)
        per_type_scores.append(score / total * 1e6 if total > 0 else score)
        log.info("%s: %d non-overlapping windows", cell_type, len(position))
    position = np.concatenate(per_type_positions) if per_type_positions else np.zeros(0, np.int64)
    score = np.concatenate(per_type_scores) if per_type_scores else np.zeros(0, np.float64)
    kept = _select_non_overlapping(position, score, width)
    order = np.argsort(position[kept], kind="stable")
    position, score = position[kept][order], score[kept][order]
    chrom_index = np.searchsorted(offsets.to_numpy(), position, side="right") - 1
    consensus = pd.DataFrame(
        {
            "chrom": sizes.index.to_numpy(dtype=object)[chrom_index],
            "start": position - offsets.to_numpy()[chrom_index],
            "score": score,
        }
    )
    consensus["end"] = consensus["start"] + width
    consensus["name"] = region_names(consensus)
    log.info("consensus: %d regions of %d bp from %d cell types", len(consensus), width, len(per_type_positions))
    return consensus.loc[:, ["chrom", "start", "end", "name", "score"]]
