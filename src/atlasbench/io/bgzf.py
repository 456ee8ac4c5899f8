"""Writing BGZF (what ``bgzip`` writes) fast, and fragments lines into it.

BGZF is gzip cut into independent members of at most 64 KiB, each carrying its own
size, so that tabix can index the file and any reader can seek into it; a plain gzip
reader reads it whole. The members are compressed by ISA-L on a small thread pool;
the content is deterministic (no timestamps, fixed level, ordered members) and the bytes
nearly always are: ISA-L may, rarely, encode a member of the same text differently (one
member in about 2,000 differed in a CI run), so compare BGZF files by their content.
:func:`write_fragments` formats and compresses on that pool while the caller goes on
(at most ``backlog`` batches in flight, so memory stays bounded).
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from isal import isal_zlib

_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_BLOCK = 0xFF00  # uncompressed bytes per member, as bgzip uses
_HEADER = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"


class BgzfWriter:
    """Write a BGZF file.

    Parameters
    ----------
    path
        Output file (opened for writing; the caller renames it into place).
    threads
        Compression threads.
    level
        Deflate level (ISA-L 0-3).
    backlog
        Batches given to :meth:`submit` that may be in flight at once.
    """

    def __init__(self, path: str | Path, threads: int = 2, level: int = 2, backlog: int = 2) -> None:
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._pool = ThreadPoolExecutor(max(1, threads))
        self._level = level
        self._backlog = max(1, backlog)
        self._jobs: deque = deque()

    def _member(self, piece: bytes | memoryview) -> bytes:
        data = isal_zlib.compress(piece, self._level, -15)  # raw deflate
        size = struct.pack("<H", len(data) + 25)
        return _HEADER + size + data + struct.pack("<II", isal_zlib.crc32(piece) & 0xFFFFFFFF, len(piece))

    def _job(self, make: Callable[..., bytes], args: tuple) -> list[bytes]:
        view = memoryview(make(*args))
        return [self._member(view[i : i + _BLOCK]) for i in range(0, len(view), _BLOCK)]

    def _drain(self, keep: int) -> None:
        while len(self._jobs) > keep:
            for member in self._jobs.popleft().result():
                self._fh.write(member)

    def submit(self, make: Callable[..., bytes], *args: object) -> None:
        """Append the bytes ``make(*args)`` returns, made and compressed on the pool.

        Returns at once unless ``backlog`` batches are already in flight; the arguments
        must not change afterwards. Batches land in the file in the order submitted.
        """
        self._jobs.append(self._pool.submit(self._job, make, args))
        self._drain(self._backlog)

    def write(self, data: bytes) -> None:
        """Append bytes (cut into members of at most 64 KiB)."""
        self._drain(0)
        view = memoryview(data)
        for member in self._pool.map(self._member, [view[i : i + _BLOCK] for i in range(0, len(view), _BLOCK)]):
            self._fh.write(member)

    def close(self) -> None:
        """Write the end-of-file marker and close."""
        self._drain(0)
        self._fh.write(_EOF)
        self._fh.close()
        self._pool.shutdown()

    def __enter__(self) -> BgzfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_WRITE = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")


def write_fragments(
    writer: BgzfWriter,
    chrom: str,
    start: np.ndarray,
    end: np.ndarray,
    barcode: np.ndarray,
    count: np.ndarray,
    barcodes: pa.Array,
) -> None:
    """Append fragments of one chromosome as 10x fragments lines.

    Parameters
    ----------
    writer
        Open BGZF writer.
    chrom
        Chromosome name.
    start, end, barcode, count
        Fragment columns (barcode as index into ``barcodes``), already sorted.
    barcodes
        Arrow string array of barcode names.

    The lines are formatted and compressed on the writer's pool (:meth:`BgzfWriter.submit`):
    the arrays must not be changed afterwards.
    """
    if len(start):
        writer.submit(_lines, chrom, start, end, barcode, count, barcodes)


def _lines(
    chrom: str, start: np.ndarray, end: np.ndarray, barcode: np.ndarray, count: np.ndarray, barcodes: pa.Array
) -> bytes:
    n = len(start)
    chrom_col = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([chrom])).cast(
        pa.string()
    )
    table = pa.table({"c": chrom_col, "s": start, "e": end, "b": barcodes.take(pa.array(barcode)), "n": count})
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, _WRITE)
    return sink.getvalue()
