"""Compiled parser of fragments lines: a block of whole lines into integer columns, one pass.

A fragments line is ``chrom<TAB>start<TAB>end<TAB>barcode<TAB>count``. The parser reads
each byte once (numba, compiled on first use and cached on disk): it checks the line's
shape (five fields, digits where numbers go, ``start < end``, ``count >= 1``), converts
the numbers, looks the barcode up in a :class:`~atlasbench.io.barcodes.BarcodeIndex`'s
hash table as it passes, and notes where the chromosome changes (a sorted file changes
chromosome a few times per file, so names are decoded per run, not per line). It stops
at the first line it cannot take and says which; the reader then re-reads that block in
Python to say what is wrong there. The compiled code releases the GIL, so the pieces of
a block are parsed on several threads at once.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from atlasbench.io.barcodes import BarcodeIndex

#: parsing threads per block: the decompressing thread and the caller's work need cores too
PARSE_THREADS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))
_MAX_DIGITS = 18  # below 2**63

_TAB, _NEWLINE, _RETURN, _HASH, _ZERO, _NINE = 9, 10, 13, 35, 48, 57
_MIX = np.uint64(0x9E3779B97F4A7C15)  # BarcodeIndex's hash


@dataclass(frozen=True)
class ParsedLines:
    """The columns of a block of fragments lines.

    Attributes
    ----------
    start, end, count
        int64 per line.
    cell
        int32 barcode id per line (-1: not in the index).
    barcode_at, barcode_length
        Byte offset and length of each line's barcode in the block.
    run_rows
        First line of each run of equal chromosome names, increasing, starting at 0.
    run_names
        The chromosome name of each run.
    bad_line
        0-based index of the first line that is not a valid fragment, -1 if none; the
        columns are only filled up to it.
    """

    start: np.ndarray
    end: np.ndarray
    count: np.ndarray
    cell: np.ndarray
    barcode_at: np.ndarray
    barcode_length: np.ndarray
    run_rows: np.ndarray
    run_names: list[str]
    bad_line: int


def parse_lines(block: bytes, barcodes: BarcodeIndex, pool: ThreadPoolExecutor | None = None) -> ParsedLines:
    """Parse a block of whole fragments lines (it ends with a newline).

    Parameters
    ----------
    block
        Lines of a fragments file, without header lines.
    barcodes
        The barcode ids to look up (a growing index is looked up as it stands; the caller
        adds the new barcodes).
    pool
        Threads to parse the block on, in :data:`PARSE_THREADS` pieces; without it, one piece.

    Returns
    -------
    ParsedLines
        The block's columns, and its first invalid line if any.
    """
    buf = np.frombuffer(block, dtype=np.uint8)
    hash_table = barcodes.hash_table()
    cuts = _cuts(block, 1 if pool is None else PARSE_THREADS)
    run = pool.map if pool is not None and len(cuts) > 1 else map
    # lines per piece first, so that every piece parses straight into the block's columns
    first = np.cumsum([0, *run(lambda cut: _count_lines(buf[cut[0] : cut[1]]), cuts)]).tolist()
    start, end, count, at = (np.empty(first[-1], dtype=np.int64) for _ in range(4))
    cell, length = (np.empty(first[-1], dtype=np.int32) for _ in range(2))

    def parse(piece: int) -> tuple[list[int], list[str], int]:
        (lo, hi), rows = cuts[piece], slice(first[piece], first[piece + 1])
        run_row, run_at, run_length = (np.empty(rows.stop - rows.start + 1, dtype=np.int64) for _ in range(3))
        n_runs, bad = _parse(
            buf[lo:hi], start[rows], end[rows], count[rows], cell[rows], at[rows], length[rows],
            run_row, run_at, run_length, *hash_table,
        )  # fmt: skip
        at[rows] += lo
        names = [block[lo + a : lo + a + n].decode("utf-8", errors="replace") for a, n in zip(
            run_at[:n_runs].tolist(), run_length[:n_runs].tolist())]  # fmt: skip
        return (run_row[:n_runs] + rows.start).tolist(), names, bad if bad < 0 else rows.start + bad

    results = list(run(parse, range(len(cuts))))
    bad_line = next((bad for _, _, bad in results if bad >= 0), -1)
    run_rows: list[int] = []
    run_names: list[str] = []
    for rows_of_runs, names, _ in results:
        for r, name in zip(rows_of_runs, names):
            if not run_names or name != run_names[-1]:  # a piece may go on with its previous one's run
                run_rows.append(r)
                run_names.append(name)
    return ParsedLines(start, end, count, cell, at, length, np.array(run_rows, dtype=np.int64), run_names, bad_line)


def _cuts(block: bytes, n: int) -> list[tuple[int, int]]:
    """Cut a block at line ends into up to ``n`` pieces of about equal size: (first byte, end byte)."""
    cuts = [0]
    for k in range(1, n):
        cut = block.find(b"\n", max(len(block) * k // n, cuts[-1])) + 1
        if 0 < cut < len(block):
            cuts.append(cut)
    cuts.append(len(block))
    return list(itertools.pairwise(cuts))


@numba.njit(nogil=True, cache=True)
def _count_lines(buf):  # pragma: no cover - compiled
    """Newlines in ``buf``."""
    n = 0
    for b in buf:
        n += b == _NEWLINE
    return n


@numba.njit(nogil=True, cache=True)
def _parse(
    buf, start, end, count, cell, bc_at, bc_len, run_row, run_at, run_len, slots, shift, mask
):  # pragma: no cover - compiled
    """Parse whole lines into the given columns; returns (runs of chromosome, first bad line or -1).

    One function, its loops written out: numba calls between compiled functions cost
    more per line than the parsing itself.
    """
    n = buf.size
    n_words = slots.shape[1] - 2
    i = 0
    row = 0
    n_runs = 0
    prev_at = 0
    prev_len = -1
    while i < n:
        # chromosome: not empty, not a '#' line; a new run where the name changes
        a = i
        while i < n and buf[i] != _TAB and buf[i] != _NEWLINE:
            i += 1
        if i in (n, a) or buf[i] != _TAB or buf[a] == _HASH:
            return n_runs, row
        same = i - a == prev_len
        k = 0
        while same and k < prev_len:
            same = buf[a + k] == buf[prev_at + k]
            k += 1
        if not same:
            run_row[n_runs] = row
            run_at[n_runs] = a
            run_len[n_runs] = i - a
            n_runs += 1
            prev_at = a
            prev_len = i - a
        # start and end: decimal digits
        i += 1
        a = i
        s = 0
        while i < n and _ZERO <= buf[i] <= _NINE:
            s = s * 10 + (buf[i] - _ZERO)
            i += 1
        if i in (a, n) or i - a > _MAX_DIGITS or buf[i] != _TAB:
            return n_runs, row
        i += 1
        a = i
        e = 0
        while i < n and _ZERO <= buf[i] <= _NINE:
            e = e * 10 + (buf[i] - _ZERO)
            i += 1
        if i in (a, n) or i - a > _MAX_DIGITS or buf[i] != _TAB or e <= s:
            return n_runs, row
        # barcode: not empty; hashed 8 bytes at a time as BarcodeIndex hashes it
        i += 1
        a = i
        h = np.uint64(0)
        x = np.uint64(0)
        while i < n and buf[i] != _TAB and buf[i] != _NEWLINE:
            x |= np.uint64(buf[i]) << np.uint64(8 * ((i - a) & 7))
            i += 1
            if (i - a) & 7 == 0:
                h = x if i - a == 8 else (h * _MIX) ^ x
                x = np.uint64(0)
        if i in (n, a) or buf[i] != _TAB:
            return n_runs, row
        barcode_at = a
        length = i - a
        n_full = (length + 7) // 8
        if length & 7:
            h = x if n_full == 1 else (h * _MIX) ^ x
        for _ in range(n_full, n_words):  # zero words of padding
            h = h * _MIX
        # count: decimal digits, >= 1, then the line's end (a '\r' before it is let pass)
        i += 1
        a = i
        c = 0
        while i < n and _ZERO <= buf[i] <= _NINE:
            c = c * 10 + (buf[i] - _ZERO)
            i += 1
        if i == a or i - a > _MAX_DIGITS or c < 1:
            return n_runs, row
        if i < n and buf[i] == _RETURN:
            i += 1
        if i == n or buf[i] != _NEWLINE:
            return n_runs, row
        i += 1
        start[row] = s
        end[row] = e
        count[row] = c
        bc_at[row] = barcode_at
        bc_len[row] = length
        known = n_full <= n_words  # a longer barcode is none of the index's
        cell[row] = _barcode_id(buf, barcode_at, length, h, slots, shift, mask) if known else -1
        row += 1
    return n_runs, -1


@numba.njit(nogil=True, cache=True)
def _barcode_id(buf, a, n, h, slots, shift, mask):  # pragma: no cover - compiled
    """Id of the barcode ``buf[a:a+n]`` of word-hash ``h`` in BarcodeIndex's slots, -1 if absent."""
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    slot = np.int64(h >> shift)
    while slots[slot, 1] != 0:
        if slots[slot, 0] == h:
            for w in range(slots.shape[1] - 2):
                x = np.uint64(0)
                for k in range(min(8, n - 8 * w)):
                    x |= np.uint64(buf[a + 8 * w + k]) << np.uint64(8 * k)
                if slots[slot, 2 + w] != x:
                    return -1
            return np.int64(slots[slot, 1]) - 1
        slot = (slot + 1) & mask
    return -1
