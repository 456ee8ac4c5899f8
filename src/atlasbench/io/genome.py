"""Genome access: indexed FASTA, chromosome names, chrom.sizes, one-hot sequence windows.

Sequence-to-function models read DNA as one-hot matrices: four channels (A, C, G, T) by
sequence length, with unknown bases (N and other IUPAC codes) as all-zero columns. This
module gets those matrices from a genome FASTA: it prepares the FASTA for random access
(bgzip compression with ``.fai`` and ``.gzi`` indexes), opens it, reconciles chromosome
spellings between sources (``chr2L`` in one file, ``2L`` in another) and cuts fixed-length
windows centred on regions.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
import pysam
from pysam.libcbgzf import BGZFile

from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.atomic import atomic_path

logger = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
# Every BGZF file ends with this empty block; its absence means the file was cut short.
_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_COPY_CHUNK = 1 << 22

_MITO_ALIASES = ("chrM", "MT", "M", "chrMT")

# Byte value -> channel index 0..3 for A, C, G, T (either case); 4 for anything else,
# which one-hot encodes as an all-zero column.
_CHANNEL = np.full(256, 4, dtype=np.uint8)
_CHANNEL[np.frombuffer(b"ACGTacgt", dtype=np.uint8)] = [0, 1, 2, 3, 0, 1, 2, 3]


def _compression(path: Path) -> str:
    """Tell ``"bgzip"``, ``"gzip"`` or ``"plain"`` apart from a file's first bytes.

    BGZF is gzip whose header carries an extra field with a ``BC`` subfield (the block
    size), so the two are told apart by walking the gzip extra field, not by the name.
    """
    with open(path, "rb") as fh:
        head = fh.read(12)
        if head[:2] != _GZIP_MAGIC:
            return "plain"
        if len(head) < 12 or not head[3] & 0x04:  # FLG.FEXTRA unset: no extra field
            return "gzip"
        extra = fh.read(int.from_bytes(head[10:12], "little"))
    pos = 0
    while pos + 4 <= len(extra):
        if extra[pos : pos + 2] == b"BC":
            return "bgzip"
        pos += 4 + int.from_bytes(extra[pos + 2 : pos + 4], "little")
    return "gzip"


def prepare_fasta(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Write a bgzip-compressed, indexed copy of a FASTA for random access.

    Random access to a compressed FASTA needs BGZF (blocked gzip) plus two indexes: the
    ``.fai`` (where each sequence starts and how its lines are laid out) and the ``.gzi``
    (where each compressed block starts). Plain gzip, as genomes are usually
    distributed, cannot be read at an offset without decompressing everything before
    it. The input, plain text, gzip or bgzip, is streamed through in chunks, so memory
    use does not grow with the genome. The FASTA and both indexes are written to
    temporary names and renamed into place at the end (indexes first, FASTA last), so an
    interrupted run leaves nothing half-written under ``dst``.

    Parameters
    ----------
    src
        Input FASTA: plain text, gzip or bgzip (told apart by content).
    dst
        Output path, conventionally ending in ``.fa.gz``; ``dst.fai`` and ``dst.gzi``
        are written beside it. Existing files are replaced.

    Returns
    -------
    pathlib.Path
        ``dst``, ready for :func:`open_genome`.

    Raises
    ------
    AtlasbenchError
        If ``src`` is missing, or is not a FASTA that samtools can index (for example,
        lines of different lengths inside one sequence).
    """
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise input_error(src, "FASTA file not found")
    kind = _compression(src)
    logger.info("preparing %s (%s) as bgzip FASTA %s", src, kind, dst)
    fai, gzi = Path(f"{dst}.fai"), Path(f"{dst}.gzi")
    with atomic_path(dst) as tmp, atomic_path(fai) as tmp_fai, atomic_path(gzi) as tmp_gzi:
        opener = gzip.open if kind != "plain" else open
        try:
            # index=None is pysam's default, passed because its stub makes the argument required
            with opener(src, "rb") as fin, BGZFile(str(tmp), "wb", index=None) as fout:
                shutil.copyfileobj(fin, fout, _COPY_CHUNK)
        except (OSError, EOFError) as exc:
            raise input_error(src, f"could not read the FASTA ({exc}); is the file complete?") from exc
        try:
            pysam.faidx(str(tmp), "--fai-idx", str(tmp_fai), "--gzi-idx", str(tmp_gzi))
        except pysam.utils.SamtoolsError as exc:
            raise input_error(
                src,
                f"could not index as FASTA ({exc}); expected '>name' header lines and, "
                "within each sequence, lines of equal length",
            ) from exc
    return dst


class Genome:
    """An open, indexed genome FASTA; build it with :func:`open_genome`.

    Holds the open :class:`pysam.FastaFile` and the chromosome names and lengths read
    from its index. Use it as a context manager, or call :meth:`close`.

    Attributes
    ----------
    path
        The FASTA file.
    names
        Chromosome names in file order.
    sizes
        Chromosome name -> length in bp.
    """

    def __init__(self, path: Path, fasta: pysam.FastaFile) -> None:
        self.path = path
        self._fasta = fasta
        self.names: list[str] = list(fasta.references)
        self.sizes: dict[str, int] = dict(zip(fasta.references, fasta.lengths))

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Return the uppercase sequence of ``chrom`` over ``[start, end)`` (0-based).

        Raises
        ------
        AtlasbenchError
            If the chromosome is not in the genome, the range is not within it, or the
            file cannot be read there (for example, a truncated file).
        """
        size = self.sizes.get(chrom)
        if size is None:
            shown = ", ".join(self.names[:10]) + (", ..." if len(self.names) > 10 else "")
            raise input_error(self.path, f"chromosome {chrom!r} is not in the genome (it has: {shown})")
        if not 0 <= start <= end <= size:
            raise input_error(
                self.path,
                f"range {chrom}:{start}-{end} is not within {chrom}; expected 0 <= start <= end <= {size}",
            )
        try:
            return self._fasta.fetch(chrom, start, end).upper()
        except (OSError, ValueError) as exc:
            message = f"could not read {chrom}:{start}-{end} ({exc}); is the file complete?"
            raise input_error(self.path, message) from exc

    def close(self) -> None:
        """Close the underlying FASTA file."""
        self._fasta.close()

    def __enter__(self) -> Genome:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_genome(path: str | os.PathLike[str]) -> Genome:
    """Open a plain-text or bgzip FASTA for random access.

    A missing ``.fai`` (and, for bgzip, ``.gzi``) index is built beside the file when the
    folder is writable. Plain gzip cannot be read at random offsets, so it is refused
    with the command that converts it; the compression is read from the file's header,
    not its name. A bgzip file without the BGZF end-of-file block is reported as
    truncated.

    Parameters
    ----------
    path
        The FASTA file.

    Returns
    -------
    Genome
        The open genome; close it (or use ``with``) when done.

    Raises
    ------
    AtlasbenchError
        If the file is missing, plain gzip, truncated, or cannot be indexed.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "FASTA file not found")
    kind = _compression(path)
    if kind == "gzip":
        raise input_error(
            path,
            "FASTA is plain gzip, which cannot be read at random positions; convert it once "
            f"to bgzip with its indexes: `atlasbench genome prepare {path} OUT.fa.gz` "
            "(or atlasbench.io.genome.prepare_fasta(PATH, OUT) from Python), then use OUT.fa.gz",
        )
    if kind == "bgzip":
        with open(path, "rb") as fh:
            fh.seek(max(path.stat().st_size - len(_BGZF_EOF), 0))
            if fh.read() != _BGZF_EOF:
                raise input_error(
                    path,
                    "bgzip FASTA lacks the BGZF end-of-file block: the file is truncated; download or prepare it again",
                )
    if not Path(f"{path}.fai").exists():
        logger.info("building FASTA index %s.fai", path)
    try:
        fasta = pysam.FastaFile(str(path))
    except (OSError, ValueError) as exc:
        raise input_error(
            path,
            f"could not open as an indexed FASTA ({exc}); expected a FASTA whose index "
            f"{path}.fai exists or can be written beside it (or write an indexed copy "
            "elsewhere with `atlasbench genome prepare`)",
        ) from exc
    return Genome(path, fasta)


def match_chromosomes(names: Iterable[str], reference: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Map chromosome names to the spelling used by a reference (usually the genome).

    Annotations spell chromosomes differently: UCSC adds a ``chr`` prefix (``chr2L``),
    Ensembl and FlyBase do not (``2L``), and mitochondria go by ``chrM``, ``M``, ``MT``
    or ``chrMT``. Each name is looked up in this order, and the first hit wins, so the
    result is deterministic: the name itself; the name with ``chr`` removed (or added);
    for a mitochondrial alias, the aliases ``chrM``, ``MT``, ``M``, ``chrMT``.

    Parameters
    ----------
    names
        Names to translate (for example, from a fragments file).
    reference
        Names as the reference spells them (for example, ``Genome.names``).

    Returns
    -------
    mapping : dict of str to str
        Each name found -> its reference spelling.
    missing : list of str
        Names not found, in first-seen order, each once.
    """
    ref = set(reference)
    mapping: dict[str, str] = {}
    missing: list[str] = []
    for name in dict.fromkeys(names):
        candidates = [name, name[3:] if name.startswith("chr") else f"chr{name}"]
        if name in _MITO_ALIASES:
            candidates += _MITO_ALIASES
        hit = next((c for c in candidates if c in ref), None)
        if hit is None:
            missing.append(name)
        else:
            mapping[name] = hit
    return mapping, missing


def read_chrom_sizes(path: str | os.PathLike[str]) -> dict[str, int]:
    """Read a chrom.sizes file: one ``name<TAB>length`` line per chromosome.

    Parameters
    ----------
    path
        The file (UCSC chrom.sizes layout; blank lines are ignored).

    Returns
    -------
    dict of str to int
        Chromosome name -> length in bp, in file order.

    Raises
    ------
    AtlasbenchError
        Naming the line, for a line without exactly two tab-separated fields, a length
        that is not a positive integer, or a name seen before; or if the file is missing
        or lists no chromosome.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "chrom.sizes file not found")
    sizes: dict[str, int] = {}
    first_line: dict[str, int] = {}
    with open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != 2 or not fields[0]:
                raise input_error(path, f"expected 'name<TAB>length', got {line.rstrip()!r}", line=lineno)
            name, length = fields
            try:
                size = int(length)
            except ValueError:
                size = 0
            if size <= 0:
                raise input_error(path, f"length of {name!r} must be a positive integer, got {length!r}", line=lineno)
            if name in sizes:
                raise input_error(path, f"chromosome {name!r} already listed on line {first_line[name]}", line=lineno)
            sizes[name] = size
            first_line[name] = lineno
    if not sizes:
        raise input_error(path, "no chromosomes listed; expected 'name<TAB>length' lines")
    return sizes


def write_chrom_sizes(sizes: dict[str, int], path: str | os.PathLike[str]) -> None:
    """Write ``sizes`` (name -> length) as a chrom.sizes file, atomically, in dict order."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{name}\t{size}\n" for name, size in sizes.items()))


def base_codes(seqs: str | Sequence[str]) -> np.ndarray:
    """Encode DNA sequences compactly as one byte per base: 0, 1, 2, 3 for A, C, G, T.

    This is the form in which training data is kept (a quarter of the one-hot size);
    lowercase bases count as uppercase, and N or any other character becomes 4.
    :func:`codes_one_hot` expands it.

    Parameters
    ----------
    seqs
        One sequence, or a sequence of equal-length sequences.

    Returns
    -------
    numpy.ndarray
        uint8, shape (L,) for one string, (n, L) for n strings.

    Raises
    ------
    ValueError
        If the sequences differ in length.
    """
    if isinstance(seqs, str):
        return base_codes([seqs])[0]
    lengths = {len(s) for s in seqs}
    if len(lengths) > 1:
        raise ValueError(f"sequences must have equal length, got lengths {sorted(lengths)}")
    length = lengths.pop() if lengths else 0
    joined = "".join(seqs).encode("ascii", errors="replace")
    return _CHANNEL[np.frombuffer(joined, dtype=np.uint8).reshape(len(seqs), length)]


def codes_one_hot(codes: np.ndarray) -> np.ndarray:
    """One-hot encode base codes (from :func:`base_codes`) of shape (..., L) into uint8 (..., 4, L)."""
    return (codes[..., None, :] == np.arange(4, dtype=np.uint8)[:, None]).astype(np.uint8)


def one_hot(seqs: str | Sequence[str]) -> np.ndarray:
    """One-hot encode DNA sequences as four channels (A, C, G, T) by position.

    Each base becomes a column with a single 1 in its channel; lowercase (soft-masked)
    bases count as their uppercase letters, and N or any other character (other IUPAC
    ambiguity codes included) becomes an all-zero column. The encoding is a 256-entry
    lookup table applied to the sequences' bytes at once.

    Parameters
    ----------
    seqs
        One sequence, or a sequence of equal-length sequences.

    Returns
    -------
    numpy.ndarray
        uint8, shape (4, L) for one string, (n, 4, L) for n strings.

    Raises
    ------
    ValueError
        If the sequences differ in length.
    """
    if isinstance(seqs, str):
        return one_hot([seqs])[0]
    return codes_one_hot(base_codes(seqs))


def reverse_complement(onehot: np.ndarray) -> np.ndarray:
    """Reverse-complement one-hot sequences.

    With channels ordered A, C, G, T, the complement is the channel order reversed
    (T, G, C, A), so reversing both the channel and the position axes gives the reverse
    complement; all-zero (N) columns stay all-zero.

    Parameters
    ----------
    onehot
        Shape (4, L) or (n, 4, L).

    Returns
    -------
    numpy.ndarray
        Same shape and dtype, a contiguous copy.
    """
    if onehot.ndim not in (2, 3) or onehot.shape[-2] != 4:
        raise ValueError(f"expected shape (4, L) or (n, 4, L), got {onehot.shape}")
    return np.ascontiguousarray(onehot[..., ::-1, ::-1])


def decode(onehot: np.ndarray) -> list[str]:
    """Turn one-hot sequences back into strings; all-zero columns become ``N``.

    Parameters
    ----------
    onehot
        Shape (4, L) or (n, 4, L); the channel with the largest value names the base.

    Returns
    -------
    list of str
        One uppercase string per sequence (a single one for a (4, L) input).
    """
    if onehot.ndim not in (2, 3) or onehot.shape[-2] != 4:
        raise ValueError(f"expected shape (4, L) or (n, 4, L), got {onehot.shape}")
    batch = onehot.reshape(-1, 4, onehot.shape[-1])
    index = np.where(batch.any(axis=1), batch.argmax(axis=1), 4)
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)[index]
    return [row.tobytes().decode("ascii") for row in letters]


def region_codes(
    genome: Genome,
    chrom: Sequence[str] | np.ndarray,
    start: Sequence[int] | np.ndarray,
    end: Sequence[int] | np.ndarray,
    length: int,
    edge: str = "pad",
) -> tuple[np.ndarray, np.ndarray]:
    """Sequence windows of fixed length centred on regions, as base codes.

    Models take inputs of one length, while regions (peaks) vary, so each region is
    replaced by the ``length`` bp window around its midpoint:
    ``window_start = (start + end) // 2 - length // 2``. Near a chromosome end the
    window may run off the chromosome; ``edge="pad"`` fills that part with N (all-zero
    columns), ``edge="drop"`` leaves such regions out (and logs how many).

    Parameters
    ----------
    genome
        The open genome.
    chrom, start, end
        The n regions: chromosome names and 0-based half-open coordinates, shape (n,).
        Each region must lie within its chromosome.
    length
        Window length in bp.
    edge
        ``"pad"`` or ``"drop"``: what to do with windows crossing a chromosome end.

    Returns
    -------
    codes : numpy.ndarray
        uint8, shape (m, length): one window per kept region, bases coded as by
        :func:`base_codes` (0-3 for A, C, G, T; 4 for N).
    kept : numpy.ndarray
        int64, shape (m,): index of each window's region in the input.

    Raises
    ------
    AtlasbenchError
        If a chromosome is not in the genome or a region lies outside its chromosome.

    Notes
    -----
    Windows are read in genome order (then placed in input order), so 100,000 windows
    from a bgzip genome take a few seconds.
    """
    if edge not in ("pad", "drop"):
        raise ValueError(f"edge must be 'pad' or 'drop', got {edge!r}")
    if length <= 0:
        raise ValueError(f"length must be positive, got {length}")
    chrom = np.asarray(chrom, dtype=str)
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    if not chrom.shape == start.shape == end.shape or chrom.ndim != 1:
        shapes = f"{chrom.shape}, {start.shape}, {end.shape}"
        raise ValueError(f"chrom, start and end must be 1-D of equal length, got shapes {shapes}")

    names, inverse = np.unique(chrom, return_inverse=True)
    unknown = [str(n) for n in names if n not in genome.sizes]
    if unknown:
        raise input_error(genome.path, f"regions on chromosomes not in the genome: {', '.join(unknown)}")
    size = np.array([genome.sizes[str(n)] for n in names], dtype=np.int64)[inverse]
    outside = np.flatnonzero((start < 0) | (start > end) | (end > size))
    if outside.size:
        i = outside[0]
        raise AtlasbenchError(
            f"{outside.size} regions do not lie within their chromosome in {genome.path}, "
            f"first: region {i} {chrom[i]}:{start[i]}-{end[i]} (chromosome length {size[i]})"
        )

    win_start = (start + end) // 2 - length // 2
    win_end = win_start + length
    if edge == "drop":
        kept = np.flatnonzero((win_start >= 0) & (win_end <= size))
        if kept.size < chrom.size:
            logger.info("dropped %d of %d windows crossing a chromosome end", chrom.size - kept.size, chrom.size)
    else:
        kept = np.arange(chrom.size, dtype=np.int64)

    fetch_start = np.maximum(win_start[kept], 0)
    fetch_end = np.maximum(np.minimum(win_end[kept], size[kept]), fetch_start)
    offset = fetch_start - win_start[kept]
    codes = np.full((kept.size, length), 4, dtype=np.uint8)
    # Reading in genome order lets bgzip decompress each block once, not once per window.
    for row in np.lexsort((fetch_start, inverse[kept])):
        seq = genome.fetch(str(chrom[kept[row]]), int(fetch_start[row]), int(fetch_end[row]))
        codes[row, offset[row] : offset[row] + len(seq)] = _CHANNEL[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
    return codes, kept


def region_windows(
    genome: Genome,
    chrom: Sequence[str] | np.ndarray,
    start: Sequence[int] | np.ndarray,
    end: Sequence[int] | np.ndarray,
    length: int,
    edge: str = "pad",
) -> tuple[np.ndarray, np.ndarray]:
    """One-hot windows of fixed length centred on regions: :func:`region_codes`, one-hot encoded.

    Returns
    -------
    onehot : numpy.ndarray
        uint8, shape (m, 4, length): one window per kept region.
    kept : numpy.ndarray
        int64, shape (m,): index of each window's region in the input.
    """
    codes, kept = region_codes(genome, chrom, start, end, length, edge)
    return codes_one_hot(codes), kept


def n_fraction(onehot: np.ndarray) -> np.ndarray:
    """Fraction of positions that are N (all-zero columns) in each one-hot sequence.

    Parameters
    ----------
    onehot
        Shape (4, L) or (n, 4, L).

    Returns
    -------
    numpy.ndarray
        float64, shape () or (n,).
    """
    return (~onehot.any(axis=-2)).mean(axis=-1)


def non_n_bases(path: str | os.PathLike[str], chromosomes: Iterable[str], chunk: int = 1 << 24) -> int:
    """Number of bases other than N (either case) on some chromosomes of an indexed FASTA.

    Each chromosome is read in chunks of ``chunk`` bp, so memory stays bounded on large
    genomes; names are matched to the FASTA's spelling as :func:`match_chromosomes` does.
    Used as MACS3's effective genome size when the assembly has no known value.

    Raises
    ------
    AtlasbenchError
        If a chromosome is not in the FASTA.
    """
    with open_genome(path) as genome:
        mapping, unknown = match_chromosomes(chromosomes, genome.names)
        if unknown:
            raise AtlasbenchError(
                f"{path}: chromosomes {unknown[:5]} are not in the FASTA (which has {genome.names[:8]})"
            )
        total = 0
        for name in mapping.values():
            size = genome.sizes[name]
            for start in range(0, size, chunk):
                seq = np.frombuffer(genome.fetch(name, start, min(start + chunk, size)).encode("ascii"), np.uint8)
                total += int(seq.size - np.count_nonzero(seq == ord("N")))
    return total
