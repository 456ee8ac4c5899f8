"""Streaming reader for 10x Genomics fragments files, validated as it goes.

A fragments file has one line per unique fragment: ``chrom start end barcode count``
(0-based, half-open, Tn5 shift already applied; ``count`` is the number of read pairs
behind the fragment). It is sorted by position within each chromosome, may start with
``#`` header lines, and is gzip or bgzip compressed (plain text is accepted too).

Real atlases hold billions of fragments, so the file is never loaded whole: it is
decompressed in a background thread (ISA-L), cut into blocks of whole lines and each
block is parsed by Arrow's multithreaded CSV parser into numpy columns. Validation is
vectorised over the block; only when a block is found bad is it re-read line by line to
name the first offending line and what was expected there.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from isal import igzip_threaded

from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.barcodes import BarcodeIndex

log = logging.getLogger(__name__)

COLUMNS = ("chrom", "start", "end", "barcode", "count")
BLOCK_BYTES = 1 << 24
_CONVERT = pacsv.ConvertOptions(
    column_types={
        "chrom": pa.dictionary(pa.int32(), pa.string()),
        "start": pa.int64(),
        "end": pa.int64(),
        "barcode": pa.binary(),
        "count": pa.int64(),
    }
)
# blank lines are errors, not skipped, so that rows and file lines stay in step
_PARSE = pacsv.ParseOptions(delimiter="\t", quote_char=False, double_quote=False, ignore_empty_lines=False)
_READ = pacsv.ReadOptions(column_names=list(COLUMNS), use_threads=True, block_size=1 << 22)


@dataclass(frozen=True)
class FragmentBatch:
    """A block of consecutive fragments as numpy columns.

    Attributes
    ----------
    chrom
        int32 index of each fragment's chromosome into the reader's ``chromosomes``.
    start, end
        int64 positions, 0-based half-open.
    barcode
        int32 index into the reader's barcode space: the reader's ``barcodes`` list, or
        the values of the ``barcodes`` mapping it was given (-1: barcode not in it).
    count
        int64 read pairs behind each fragment (>= 1).
    first_line
        1-based line number of the block's first fragment in the file.
    """

    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    barcode: np.ndarray
    count: np.ndarray
    first_line: int

    def __len__(self) -> int:
        return len(self.start)

    def subset(self, mask: np.ndarray) -> FragmentBatch:
        """Return the fragments where ``mask`` is true (line numbers lose meaning)."""
        return FragmentBatch(
            self.chrom[mask], self.start[mask], self.end[mask], self.barcode[mask], self.count[mask], self.first_line
        )


def _open_bytes(path: Path):
    """Open a fragments file for binary reading, decompressing gzip/bgzip if needed."""
    if not path.exists():
        raise input_error(path, "fragments file not found")
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return igzip_threaded.open(path, "rb", threads=1)
    return path.open("rb")


class FragmentReader:
    """Iterate over a fragments file in validated blocks.

    The reader keeps the state that spans blocks: chromosome and barcode dictionaries and
    the sort order seen so far (each chromosome must form one contiguous run, with start
    positions non-decreasing inside it).

    Parameters
    ----------
    path
        The fragments file (``.tsv.gz``, bgzip or plain gzip, or uncompressed).
    barcodes
        Optional mapping of the barcodes of interest to integer ids. Fragments of other
        barcodes get id -1 (callers usually drop them). Without it every barcode gets an
        id in order of first appearance and ``barcodes`` lists them.
    resolve_chrom
        Optional function from a chromosome name as spelled in the file to its index in
        the caller's reference, -1 to drop that chromosome's fragments, or raising
        :class:`AtlasbenchError` for an unknown one. It is called once per chromosome and
        the error is prefixed with the file and line. Without it chromosomes are indexed
        in order of appearance (``chromosomes``). Fragments dropped so are counted per
        chromosome in ``dropped`` (the line of the first in ``dropped_first_line``).
    block_bytes
        Decompressed bytes per block: the unit of parsing, validation and memory use.
    """

    def __init__(
        self,
        path: str | Path,
        barcodes: Mapping[str, int] | None = None,
        resolve_chrom: Callable[[str], int] | None = None,
        block_bytes: int = BLOCK_BYTES,
    ) -> None:
        self.path = Path(path)
        self._barcodes = BarcodeIndex(barcodes, grow=barcodes is None)
        self.chromosomes: list[str] = []
        self._chrom_ids: dict[str, int] = {}
        self._resolve_chrom = resolve_chrom
        self.block_bytes = block_bytes
        self.n_lines = 0
        self.n_header_lines = 0
        # sort state: chromosome (as spelled in the file) of the last fragment, its start,
        # and every chromosome already finished
        self._last_chrom: str | None = None
        self._last_start = -1
        self._finished: set[str] = set()
        # fragments left out because resolve_chrom gave -1: per chromosome (file spelling),
        # with the line of the first one
        self.dropped: dict[str, int] = {}
        self.dropped_first_line: dict[str, int] = {}

    # -- reading ---------------------------------------------------------------------
    def __iter__(self) -> Iterator[FragmentBatch]:
        line_no = 1
        tail = b""
        with _open_bytes(self.path) as fh:
            in_header = True
            while True:
                try:
                    data = fh.read(self.block_bytes)
                except (EOFError, zlib.error, OSError) as exc:
                    raise input_error(
                        self.path,
                        f"the gzip stream is truncated or corrupt after line {_complete_lines(self.path)} ({exc}); "
                        "re-copy or re-create the file",
                    ) from exc
                if in_header:
                    # header lines may run on into the next block: an unfinished one is carried
                    data, in_header = self._skip_header(tail + data, at_eof=not data)
                    tail = b""
                    line_no = self.n_header_lines + 1
                    if in_header:
                        tail = data
                        continue
                if not data:
                    break
                data = tail + data
                cut = data.rfind(b"\n") + 1
                tail = data[cut:]
                block = data[:cut]
                if not block:
                    continue
                batch, n_rows = self._parse_block(block, line_no)
                line_no += n_rows
                if len(batch):
                    yield batch
            if tail.strip():
                batch, _ = self._parse_block(tail + b"\n", line_no)
                line_no += 1
                if len(batch):
                    yield batch
        self.n_lines = line_no - 1

    def _skip_header(self, data: bytes, at_eof: bool) -> tuple[bytes, bool]:
        """Skip leading ``#`` lines; return the rest and whether the header may go on."""
        pos = 0
        while data.startswith(b"#", pos):
            nl = data.find(b"\n", pos)
            if nl < 0 and not at_eof:
                if len(data) - pos > self.block_bytes:
                    raise input_error(
                        self.path, "header line longer than a block; is this a fragments file?", self.n_header_lines + 1
                    )
                return data[pos:], True
            pos = len(data) if nl < 0 else nl + 1
            self.n_header_lines += 1
        return data[pos:], pos == len(data) and not at_eof

    @property
    def barcodes(self) -> list[str]:
        """Barcodes by id: the mapping given, or every barcode seen so far."""
        return self._barcodes.names

    def _parse_block(self, block: bytes, first_line: int) -> tuple[FragmentBatch, int]:
        """Parse and validate a block of whole lines; return its fragments and line count."""
        try:
            table = pacsv.read_csv(
                pa.py_buffer(block), read_options=_READ, parse_options=_PARSE, convert_options=_CONVERT
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise _diagnose_block(self.path, block, first_line) from None
        # a blank line parses as nulls, an empty field as an empty string
        if (
            any(table.column(c).null_count for c in COLUMNS)
            or pc.min(pc.binary_length(table.column("barcode"))).as_py() == 0
        ):
            raise _diagnose_block(self.path, block, first_line)
        # a '#' line after the first fragment that still has five columns (a commented-out
        # fragment) parses cleanly; its chromosome name gives it away
        if any(n.startswith("#") for chunk in table.column("chrom").chunks for n in chunk.dictionary.to_pylist()):
            raise _diagnose_block(self.path, block, first_line)
        start = table.column("start").to_numpy()
        end = table.column("end").to_numpy()
        count = table.column("count").to_numpy()
        bad = (start < 0) | (end <= start) | (count < 1)
        if bad.any():
            raise _diagnose_block(self.path, block, first_line)
        chrom = self._chrom_index(table.column("chrom"), start, first_line)
        barcode = np.concatenate([self._barcodes.lookup(chunk) for chunk in table.column("barcode").chunks])
        batch = FragmentBatch(chrom, start, end, barcode, count, first_line)
        keep = chrom >= 0
        return (batch if keep.all() else batch.subset(keep)), table.num_rows

    # -- dictionaries and sort order ---------------------------------------------------
    def _chrom_index(self, column: pa.ChunkedArray, start: np.ndarray, first_line: int) -> np.ndarray:
        # chromosome names of this block as small local codes, consistent across chunks
        local: dict[str, int] = {}
        parts = []
        for chunk in column.chunks:
            lookup = np.array([local.setdefault(n, len(local)) for n in chunk.dictionary.to_pylist()], dtype=np.int32)
            parts.append(lookup[_dict_codes(chunk)])
        codes = parts[0] if len(parts) == 1 else np.concatenate(parts)
        names = list(local)
        # one run per stretch of equal chromosome; sort order is checked run by run
        run_starts = np.concatenate([[0], np.flatnonzero(codes[1:] != codes[:-1]) + 1])
        run_ends = np.append(run_starts[1:], len(codes))
        out = np.empty(len(codes), dtype=np.int32)
        for rs, re in zip(run_starts.tolist(), run_ends.tolist()):
            name = names[codes[rs]]
            line = first_line + rs
            if name != self._last_chrom:
                if name in self._finished:
                    raise input_error(
                        self.path,
                        f"fragments are not sorted: chromosome {name!r} appears again after {self._last_chrom!r} "
                        "(each chromosome must be one contiguous block; sort with `sort -k1,1 -k2,2n`)",
                        line,
                    )
                if self._last_chrom is not None:
                    self._finished.add(self._last_chrom)
                self._last_chrom = name
                self._last_start = -1
            seg = start[rs:re]
            down = np.flatnonzero(seg[1:] < seg[:-1])
            if seg[0] < self._last_start or len(down):
                j = 0 if seg[0] < self._last_start else int(down[0]) + 1
                before = self._last_start if j == 0 else int(seg[j - 1])
                raise input_error(
                    self.path,
                    f"fragments are not sorted by start within {name!r}: start {int(seg[j])} follows "
                    f"{before} (sort with `sort -k1,1 -k2,2n`)",
                    line + j,
                )
            self._last_start = int(seg[-1])
            cid = self._chrom_id(name, line)
            if cid < 0:
                self.dropped[name] = self.dropped.get(name, 0) + (re - rs)
                self.dropped_first_line.setdefault(name, line)
            out[rs:re] = cid
        return out

    def _chrom_id(self, name: str, line: int) -> int:
        if name not in self._chrom_ids:
            if self._resolve_chrom is None:
                self._chrom_ids[name] = len(self.chromosomes)
                self.chromosomes.append(name)
            else:
                try:
                    self._chrom_ids[name] = self._resolve_chrom(name)
                except AtlasbenchError as exc:
                    raise input_error(self.path, str(exc), line) from None
        return self._chrom_ids[name]


def _complete_lines(path: Path) -> int:
    """Number of whole lines that decompress before a broken gzip stream (of any members) ends."""
    n = 0
    d = zlib.decompressobj(31)
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(1 << 16):
                while chunk:
                    n += d.decompress(chunk).count(b"\n")
                    if not d.eof:
                        break
                    chunk = d.unused_data
                    d = zlib.decompressobj(31)
        except zlib.error:
            pass
    return n


def _dict_codes(chunk: pa.DictionaryArray) -> np.ndarray:
    return chunk.indices.to_numpy(zero_copy_only=False)


def _diagnose_block(path: Path, block: bytes, first_line: int) -> AtlasbenchError:
    """Re-read a block that failed fast parsing, line by line, and name the first bad line."""
    for offset, raw in enumerate(block.split(b"\n")[:-1]):
        problem = _line_problem(raw)
        if problem:
            return input_error(path, problem, first_line + offset)
    return input_error(path, "could not parse this block of fragments", first_line)


def _line_problem(raw: bytes) -> str | None:
    """What is wrong with one fragments line, or None if it is valid."""
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        return "empty line; expected `chrom start end barcode count`"
    if text.startswith("#"):
        return "header line (`#...`) after the first fragment; headers may only open the file"
    fields = text.split("\t")
    if len(fields) != 5:
        return f"expected 5 tab-separated columns (chrom start end barcode count), found {len(fields)}: {text[:80]!r}"
    values = []
    for name, value in zip(("start", "end", "count"), (fields[1], fields[2], fields[4])):
        try:
            values.append(int(value))
        except ValueError:
            return f"column {name!r} must be an integer, found {value!r}"
    start, end, count = values
    if start < 0:
        return f"start must be >= 0, found {start}"
    if end <= start:
        return f"start must be < end, found start {start} and end {end}"
    if count < 1:
        return f"count (read pairs behind the fragment) must be >= 1, found {count}"
    if not fields[0] or not fields[3]:
        return "chromosome and barcode must not be empty"
    return None
