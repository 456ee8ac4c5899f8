"""Fragments drawn but not yet written, in bounded memory: an external merge sort.

The simulator draws a window's molecules in batches of whole components, so a window's
fragments arrive in no genome order and none can be written before the window is done
(:mod:`atlasbench.simulate.sequencing`). A window around a strong region at atlas scale
holds tens of millions of them. :class:`PendingFragments` keeps them as *runs*: arrays of
fragment keys (an int64 that sorts in genome order, see the sequencing module) sorted and
unique, with read counts beside them. Up to :data:`HELD_FRAGMENTS` fragments stay in
memory as they came; past that they are sorted into a run written to disk (16 bytes per
fragment). :meth:`PendingFragments.take` merges the runs (a key in several runs is one
fragment, its counts added) and yields every fragment below a bound in order, a chunk of
at most :data:`HELD_FRAGMENTS` at a time; what lies above the bound stays for the next
window. The fragments and counts written are those of one in-memory sort: only memory
and disk differ.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HELD_FRAGMENTS = 2_000_000  # held in memory before a sorted run is spilled to disk (32 MB)


@dataclass
class _Run:
    """A sorted, unique run of fragment keys and counts (in memory or memory-mapped)."""

    key: np.ndarray
    count: np.ndarray
    stem: Path | None = None  # where it is on disk; None in memory
    position: int = 0  # fragments before it are written


def sort_fragments(key: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort fragments by key; equal keys (start, length, barcode) become one, counts added.

    Parameters
    ----------
    key
        Fragment keys (int64, non-negative).
    count
        Read counts (int64, at least 1), one per key.

    Returns
    -------
    tuple of numpy.ndarray
        The unique keys in increasing order and their summed counts.
    """
    if len(key) == 0:
        return key, count
    count_bits = int(count.max()).bit_length()
    if int(key.max()).bit_length() + count_bits <= 63:  # the count rides in the low bits: one sort
        packed = (key << count_bits) | count
        packed.sort()
        key = packed >> count_bits
        count = packed & ((1 << count_bits) - 1)
    else:
        order = np.argsort(key, kind="stable")
        key, count = key[order], count[order]
    first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    if len(first) < len(key):
        count = np.add.reduceat(count, first)
        key = key[first]
    return key, count


class PendingFragments:
    """Fragments not yet written, in memory up to :data:`HELD_FRAGMENTS`, then on disk.

    Parameters
    ----------
    folder
        Where runs spilled to disk are written (a temporary folder is made inside and
        removed by :meth:`close`).
    held
        Fragments held in memory before they are spilled as a sorted run.
    """

    def __init__(self, folder: str | Path, held: int = HELD_FRAGMENTS) -> None:
        self._folder = Path(folder)
        self._held = held
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._n_parts = 0
        self._runs: list[_Run] = []
        self._spill_dir: tempfile.TemporaryDirectory | None = None
        self._n_spilled = 0

    @property
    def spilled(self) -> int:
        """How many runs were spilled to disk so far."""
        return self._n_spilled

    def add(self, key: np.ndarray, count: np.ndarray) -> None:
        """Hold fragments (any order, keys may repeat); spill a sorted run past the bound."""
        self._parts.append((key, count))
        self._n_parts += len(key)
        if self._n_parts > self._held:
            self._spill()

    def _gather(self) -> _Run:
        parts, self._parts, self._n_parts = self._parts, [], 0
        key, count = np.concatenate([k for k, _ in parts]), np.concatenate([c for _, c in parts])
        del parts
        return _Run(*sort_fragments(key, count))

    def _spill(self) -> None:
        run = self._gather()
        if self._spill_dir is None:
            self._spill_dir = tempfile.TemporaryDirectory(prefix=".pending-", dir=self._folder)
        stem = Path(self._spill_dir.name) / f"run{self._n_spilled}"
        np.save(f"{stem}.key.npy", run.key)
        np.save(f"{stem}.count.npy", run.count)
        del run
        key, count = np.load(f"{stem}.key.npy", mmap_mode="r"), np.load(f"{stem}.count.npy", mmap_mode="r")
        self._runs.append(_Run(key, count, stem))
        self._n_spilled += 1

    def take(self, below: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield every held fragment with key < ``below``, sorted and unique, in chunks.

        Each chunk holds at most about :data:`HELD_FRAGMENTS` fragments of the runs (plus
        what was in memory); chunks follow one another in key order, and a key is never
        split between chunks. Fragments at or above ``below`` stay held.
        """
        if self._parts:
            self._runs.append(self._gather())
        limits = [run.position + int(np.searchsorted(run.key[run.position :], below)) for run in self._runs]
        per_run = max(1, self._held // max(1, len(self._runs)))
        while True:
            live = [(run, limit) for run, limit in zip(self._runs, limits, strict=True) if run.position < limit]
            if not live:
                break
            stops = [min(run.position + per_run, limit) for run, limit in live]
            cut = [int(run.key[stop - 1]) for (run, limit), stop in zip(live, stops, strict=True) if stop < limit]
            if cut:  # runs cut short bound the chunk: no run may hold a smaller key beyond it
                split = min(cut)
                stops = [
                    run.position + int(np.searchsorted(run.key[run.position : stop], split, side="right"))
                    for (run, _), stop in zip(live, stops, strict=True)
                ]
            keys, counts = [], []
            for (run, _), stop in zip(live, stops, strict=True):
                # a run on disk is copied out (its file is removed when done); one in memory is never changed
                read = np.array if run.stem is not None else np.asarray
                keys.append(read(run.key[run.position : stop]))
                counts.append(read(run.count[run.position : stop]))
                run.position = stop
            if len(keys) == 1:
                yield keys[0], counts[0]
            else:
                yield sort_fragments(np.concatenate(keys), np.concatenate(counts))
        runs, self._runs = self._runs, []
        for run in runs:
            if run.stem is None:  # what stays of the run in memory goes back to the parts
                if run.position < len(run.key):
                    self.add(run.key[run.position :].copy(), run.count[run.position :].copy())
            elif run.position < len(run.key):
                self._runs.append(run)
            else:
                Path(f"{run.stem}.key.npy").unlink()
                Path(f"{run.stem}.count.npy").unlink()

    def close(self) -> None:
        """Remove the runs spilled to disk."""
        self._runs = []
        if self._spill_dir is not None:
            self._spill_dir.cleanup()
            self._spill_dir = None

    def __enter__(self) -> PendingFragments:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
