"""Vectorised barcode -> cell id lookup for Arrow string columns.

An atlas has up to hundreds of thousands of cells, and every fragment names its cell by
a barcode string. Looking each one up in a Python dict costs about a microsecond per
fragment; instead the barcodes of a whole block are read straight from Arrow's buffers
as rows of 64-bit words (zero-padded bytes), hashed to one 64-bit key per row and looked
up in an open-addressing hash table (linear probing, a quarter full) with a few
vectorised gathers; every match is confirmed word by word, so the lookup is exact. The
per-fragment work stays in numpy.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from atlasbench.errors import AtlasbenchError

_MIX = np.uint64(0x9E3779B97F4A7C15)


def barcode_words(array: pa.Array, n_words: int) -> tuple[np.ndarray, np.ndarray]:
    """Barcodes of an Arrow string/binary array as zero-padded rows of uint64 words.

    Parameters
    ----------
    array
        Arrow ``string`` or ``binary`` array without nulls.
    n_words
        Words per row: values longer than ``8 * n_words`` bytes are truncated (their
        length says so).

    Returns
    -------
    tuple of numpy.ndarray
        (uint64 words of shape (n, n_words), byte length of each value).
    """
    n = len(array)
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32, count=n + 1, offset=array.offset * 4)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    width = 8 * n_words
    rows = np.zeros((n, width), dtype=np.uint8)
    if n and lengths.min() == lengths.max() and lengths[0] <= width:
        # the common case, equal-length barcodes: the bytes already form a matrix
        size = int(lengths[0])
        rows[:, :size] = data[offsets[0] : offsets[0] + n * size].reshape(n, size)
    elif n:
        cols = np.arange(width)
        pos = np.minimum(offsets[:-1, None] + cols, max(len(data) - 1, 0))
        rows[:] = np.where(cols < lengths[:, None], data[pos] if len(data) else 0, 0)
    return rows.view(np.uint64), lengths


def _hash(words: np.ndarray) -> np.ndarray:
    """64-bit hash of each row of words (multiply-xor, then the splitmix64 finaliser)."""
    h = words[:, 0].copy()
    for i in range(1, words.shape[1]):
        h = h * _MIX ^ words[:, i]
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


class BarcodeIndex:
    """Known barcodes and their ids, matched against blocks of barcodes.

    Parameters
    ----------
    barcodes
        Known barcodes and their ids. Unknown ones get -1 unless ``grow``.
    grow
        Give every new barcode the next id (in order of first appearance) and record it
        in ``names``.
    """

    def __init__(self, barcodes: Mapping[str, int] | None = None, grow: bool = False) -> None:
        barcodes = dict(barcodes or {})
        self.grow = grow
        self.names: list[str] = list(barcodes)
        encoded = pa.array([b.encode() for b in barcodes], type=pa.binary())
        longest = max((len(b) for b in encoded.to_pylist()), default=1)
        self._n_words = max(1, -(-longest // 8))
        words, _ = barcode_words(encoded, self._n_words)
        self._set(words, np.fromiter(barcodes.values(), dtype=np.int64, count=len(barcodes)))

    def _set(self, words: np.ndarray, ids: np.ndarray) -> None:
        """Store the known barcodes and build the hash table over their keys."""
        self._words, self._ids = words, ids
        self._slots: np.ndarray | None = None  # hash_table's layout, made when asked for
        self._keys = _hash(words)
        if len(np.unique(self._keys)) != len(self._keys):
            # two distinct barcodes with one 64-bit hash: astronomically rare, but never silent
            raise AtlasbenchError("two barcodes share a 64-bit hash; please report this data set")
        bits = max(4, int(np.ceil(np.log2(max(len(ids), 1) * 4))))
        self._mask = (1 << bits) - 1
        self._shift = np.uint64(64 - bits)
        self._table = np.full(1 << bits, -1, dtype=np.int64)  # slot -> row of the known arrays
        probe = (self._keys >> self._shift).astype(np.int64)
        pending = np.arange(len(ids))
        while len(pending):
            slot = probe[pending]
            free = self._table[slot] < 0
            # of the rows wanting the same free slot, the first takes it; the rest move on
            taken, first = np.unique(slot[free], return_index=True)
            self._table[taken] = pending[free][first]
            placed = np.zeros(len(ids), dtype=bool)
            placed[pending[free][first]] = True
            pending = pending[~placed[pending]]
            probe[pending] = (probe[pending] + 1) & self._mask

    def hash_table(self) -> tuple[np.ndarray, np.uint64, int]:
        """The index as compiled code looks barcodes up in it
        (:mod:`atlasbench.io.fragment_lines`): each slot holds what a probe needs in one
        place, so a lookup touches one or two cache lines.

        Returns
        -------
        tuple
            (uint64 slots of shape (n_slots, 2 + words per barcode): key, id + 1 (0: an
            empty slot), the barcode's words; the shift that makes a key's first slot;
            the slot mask).
        """
        if self._slots is None:
            occupied = self._table >= 0
            rows = self._table[occupied]
            slots = np.zeros((len(self._table), 2 + self._n_words), dtype=np.uint64)
            slots[occupied, 0] = self._keys[rows]
            slots[occupied, 1] = (self._ids[rows] + 1).astype(np.uint64)
            slots[occupied, 2:] = self._words[rows]
            self._slots = slots
        return self._slots, self._shift, self._mask

    def lookup(self, array: pa.Array) -> np.ndarray:
        """Id of each barcode of ``array`` (-1: unknown and not growing).

        Parameters
        ----------
        array
            Arrow string/binary array of barcodes.

        Returns
        -------
        numpy.ndarray
            int32 ids, one per value.
        """
        lengths = np.diff(
            np.frombuffer(array.buffers()[1], dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
        )
        if self.grow and len(lengths) and lengths.max() > 8 * self._n_words:
            widen = -(-int(lengths.max()) // 8) - self._n_words
            self._words = np.hstack([self._words, np.zeros((len(self._words), widen), np.uint64)])
            self._n_words += widen
            self._set(self._words, self._ids)
        words, lengths = barcode_words(array, self._n_words)
        too_long = lengths > 8 * self._n_words
        keys = _hash(words)
        ids = self._match(words, keys, too_long)
        if self.grow and (ids < 0).any():
            _, first_seen = np.unique(keys[ids < 0], return_index=True)
            rows = np.flatnonzero(ids < 0)[np.sort(first_seen)]
            start = len(self.names)
            self.names.extend(words[r].tobytes().rstrip(b"\0").decode() for r in rows)
            self._set(
                np.vstack([self._words, words[rows]]), np.concatenate([self._ids, np.arange(start, start + len(rows))])
            )
            ids = self._match(words, keys, too_long)
        return ids.astype(np.int32)

    def _match(self, words: np.ndarray, keys: np.ndarray, too_long: np.ndarray) -> np.ndarray:
        if len(self._keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        slot = (keys >> self._shift).astype(np.int64)
        row = self._table[slot]
        hit = (row >= 0) & (self._keys[row] == keys)
        # keys that met another key in their slot probe on (rare at a quarter load)
        pending = np.flatnonzero((row >= 0) & ~hit)
        while len(pending):
            slot[pending] = (slot[pending] + 1) & self._mask
            candidate = self._table[slot[pending]]
            found = (candidate >= 0) & (self._keys[candidate] == keys[pending])
            row[pending] = candidate
            hit[pending[found]] = True
            pending = pending[(candidate >= 0) & ~found]
        hit &= ~too_long
        hit[hit] = (self._words[row[hit]] == words[hit]).all(axis=1)
        return np.where(hit, self._ids[row], -1)
