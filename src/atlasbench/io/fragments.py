"""Streaming reader for 10x Genomics fragments files, validated as it goes.

A fragments file has one line per unique fragment: ``chrom start end barcode count``
(0-based, half-open, Tn5 shift already applied; ``count`` is the number of read pairs
behind the fragment). It is sorted by position within each chromosome, may start with
``#`` header lines, and is gzip or bgzip compressed (plain text is accepted too).

Real atlases hold billions of fragments, so the file is never loaded whole: it is
decompressed in a background thread (ISA-L), cut into blocks of whole lines, and each
block is parsed and checked by compiled code (:mod:`atlasbench.io.fragment_lines`) on
several threads into numpy columns. Only when a line is found bad is it re-read in Python
to say what is wrong with it.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
from isal import igzip_threaded

from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.barcodes import BarcodeIndex
from atlasbench.io.fragment_lines import PARSE_THREADS, ParsedLines, parse_lines
from atlasbench.io.read_ahead import read_ahead

log = logging.getLogger(__name__)

COLUMNS = ("chrom", "start", "end", "barcode", "count")
BLOCK_BYTES = 1 << 24


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
        rows = 0
        with _open_bytes(self.path) as fh, ThreadPoolExecutor(PARSE_THREADS) as threads:
            pool = threads if PARSE_THREADS > 1 else None
            # the blocks are cut (and the header skipped) on the reading-ahead thread
            for block in read_ahead(self._blocks(fh)):
                batch, n_rows = self._parse_block(block, self.n_header_lines + 1 + rows, pool)
                rows += n_rows
                if len(batch):
                    yield batch
        self.n_lines = self.n_header_lines + rows

    def _blocks(self, fh: BinaryIO) -> Iterator[bytes]:
        """The lines after the header in blocks of whole lines (a last line without its
        newline gets one); the header's lines are counted in ``n_header_lines`` before
        the first block comes."""
        tail = b""
        in_header = True
        for data in self._chunks(fh):
            if in_header:
                # header lines may run on into the next chunk: an unfinished one is carried
                data, in_header = self._skip_header(tail + data, at_eof=not data)
                tail = b""
                if in_header:
                    tail = data
                    continue
            if not data:
                break
            data = tail + data
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            if cut:
                yield data[:cut]
        if tail.strip():
            yield tail + b"\n"

    def _chunks(self, fh: BinaryIO) -> Iterator[bytes]:
        """The file's bytes in chunks of ``block_bytes``, the last one empty."""
        while True:
            try:
                data = fh.read(self.block_bytes)
            except (EOFError, zlib.error, OSError) as exc:
                raise input_error(
                    self.path,
                    f"the gzip stream is truncated or corrupt after line {_complete_lines(self.path)} ({exc}); "
                    "re-copy or re-create the file",
                ) from exc
            yield data
            if not data:
                return

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

    def _parse_block(self, block: bytes, first_line: int, pool: ThreadPoolExecutor | None) -> tuple[FragmentBatch, int]:
        """Parse and validate a block of whole lines; return its fragments and line count."""
        parsed = parse_lines(block, self._barcodes, pool)
        if parsed.bad_line >= 0:
            raise _diagnose_line(self.path, block, first_line, parsed.bad_line)
        if self._barcodes.grow and (parsed.cell < 0).any():
            self._add_barcodes(block, parsed)
        chrom = self._chrom_index(parsed.run_rows, parsed.run_names, parsed.start, first_line)
        batch = FragmentBatch(chrom, parsed.start, parsed.end, parsed.cell, parsed.count, first_line)
        keep = chrom >= 0
        return (batch if keep.all() else batch.subset(keep)), len(parsed.start)

    def _add_barcodes(self, block: bytes, parsed: ParsedLines) -> None:
        """Give the barcodes a growing index has not seen yet their ids, in order of appearance."""
        rows = np.flatnonzero(parsed.cell < 0)
        at, length = parsed.barcode_at[rows], parsed.barcode_length[rows].astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(length)])
        data = np.frombuffer(block, dtype=np.uint8)[np.repeat(at - offsets[:-1], length) + np.arange(offsets[-1])]
        buffers = [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
        parsed.cell[rows] = self._barcodes.lookup(pa.Array.from_buffers(pa.binary(), len(rows), buffers))

    # -- dictionaries and sort order ---------------------------------------------------
    def _chrom_index(
        self, run_rows: np.ndarray, run_names: list[str], start: np.ndarray, first_line: int
    ) -> np.ndarray:
        """Chromosome id of each line from its runs of equal chromosome; sort order is checked run by run."""
        run_ends = np.append(run_rows[1:], len(start))
        out = np.empty(len(start), dtype=np.int32)
        for rs, re, name in zip(run_rows.tolist(), run_ends.tolist(), run_names):
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


def _diagnose_line(path: Path, block: bytes, first_line: int, bad: int) -> AtlasbenchError:
    """The error for the ``bad``-th line of a block, the first the compiled parser refused."""
    raw = block.split(b"\n", bad + 1)[bad]
    problem = _line_problem(raw) or (
        "expected `chrom<TAB>start<TAB>end<TAB>barcode<TAB>count` with plain decimal numbers, "
        f"found {raw.decode('utf-8', errors='replace')[:80]!r}"
    )
    return input_error(path, problem, first_line + bad)


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
