"""Vectorised barcode -> cell id lookup for Arrow string columns.

An atlas has up to hundreds of thousands of cells, and every fragment names its cell by
a barcode string. Looking each one up in a Python dict costs about a microsecond per
fragment; instead the barcodes of a whole block are read straight from Arrow's buffers
as rows of 64-bit words (zero-padded bytes), hashed to one 64-bit key per row, looked up
by ``searchsorted`` among the sorted keys of the known barcodes, and every match is
confirmed word by word, so the lookup is exact. The per-fragment work stays in numpy.
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
    h = words[:, 0].copy()
    for i in range(1, words.shape[1]):
        h = h * _MIX ^ words[:, i]
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
        keys = _hash(words)
        order = np.argsort(keys, kind="stable")
        self._keys, self._words, self._ids = keys[order], words[order], ids[order]
        same = np.flatnonzero(self._keys[1:] == self._keys[:-1])
        if len(same):
            # two distinct barcodes with one 64-bit hash: astronomically rare, but never silent
            raise AtlasbenchError(f"barcode hash collision between ids {self._ids[same[0]]} and {self._ids[same[0] + 1]}")

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
        lengths = np.diff(np.frombuffer(array.buffers()[1], dtype=np.int32, count=len(array) + 1, offset=array.offset * 4))
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
            self._set(np.vstack([self._words, words[rows]]), np.concatenate([self._ids, np.arange(start, start + len(rows))]))
            ids = self._match(words, keys, too_long)
        return ids.astype(np.int32)

    def _match(self, words: np.ndarray, keys: np.ndarray, too_long: np.ndarray) -> np.ndarray:
        if len(self._keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        j = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        found = (self._keys[j] == keys) & (self._words[j] == words).all(axis=1) & ~too_long
        return np.where(found, self._ids[j], -1)
