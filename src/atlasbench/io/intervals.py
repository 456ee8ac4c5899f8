"""Fast lookup of insertion positions against a set of (possibly overlapping) intervals.

The intervals of each chromosome are cut at every start and end into elementary
segments. An insertion falls in exactly one segment (one ``searchsorted``), so counting
insertions per segment is a single vectorised step, and

* the number of intervals covering an insertion is the segment's *depth*;
* the insertions inside interval ``i`` are the sum of its segments' counts, read off a
  cumulative sum: exact even when intervals overlap (e.g. 1 kb target windows around
  neighbouring 500 bp peaks).

Memory is proportional to the number of intervals, never to the number of insertions.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np
import pandas as pd

_ROWS_AT_ONCE = 1 << 16
"""Intervals summed at once by :meth:`Segments.interval_sums` (bounds its temporary arrays)."""


class Segments:
    """Elementary segments of a set of intervals, indexed for position lookup.

    Parameters
    ----------
    intervals
        Table with columns chrom, start, end (0-based half-open).
    chromosomes
        The chromosome names positions will be given in (index = chromosome id).
        Intervals on chromosomes not listed are ignored.
    groups
        Optional group (0..G-1) of each interval, e.g. TSS centres and flanks, so that
        one lookup serves both.

    Attributes
    ----------
    n_segments
        Total number of elementary segments over all chromosomes.
    depth
        int32 number of intervals covering each segment, shape (n_segments,).
    group_depth
        int32 number of intervals of each group covering each segment, shape
        (G, n_segments); G = 1 without ``groups``.
    """

    def __init__(self, intervals: pd.DataFrame, chromosomes: Sequence[str], groups: np.ndarray | None = None) -> None:
        self.chromosomes = list(chromosomes)
        self._bounds: list[np.ndarray] = []
        self._offset = np.zeros(len(self.chromosomes) + 1, dtype=np.int64)
        groups = np.zeros(len(intervals), dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
        n_groups = int(groups.max()) + 1 if len(groups) else 1
        depths = []
        first_seg = np.full(len(intervals), -1, dtype=np.int64)
        last_seg = np.full(len(intervals), -1, dtype=np.int64)
        chrom_col = intervals["chrom"].astype(str).to_numpy()
        starts = intervals["start"].to_numpy(np.int64)
        ends = intervals["end"].to_numpy(np.int64)
        for cid, name in enumerate(self.chromosomes):
            rows = np.flatnonzero(chrom_col == name)
            bounds = np.unique(np.concatenate([starts[rows], ends[rows]]))
            delta = np.zeros((n_groups, len(bounds)), dtype=np.int64)
            np.add.at(delta, (groups[rows], np.searchsorted(bounds, starts[rows])), 1)
            np.add.at(delta, (groups[rows], np.searchsorted(bounds, ends[rows])), -1)
            depths.append(np.cumsum(delta, axis=1)[:, :-1] if len(bounds) else delta)
            self._bounds.append(bounds)
            self._offset[cid + 1] = self._offset[cid] + max(len(bounds) - 1, 0)
            first_seg[rows] = self._offset[cid] + np.searchsorted(bounds, starts[rows])
            last_seg[rows] = self._offset[cid] + np.searchsorted(bounds, ends[rows])
        self.n_segments = int(self._offset[-1])
        self.group_depth = (
            np.concatenate(depths, axis=1).astype(np.int32) if depths else np.zeros((n_groups, 0), np.int32)
        )
        self.depth = self.group_depth.sum(axis=0, dtype=np.int32)
        self._first = first_seg
        self._last = last_seg
        # per chromosome, the answer for each ``searchsorted(bounds, pos, "right")``:
        # -1 before the first bound, after the last, and in uncovered gaps
        self._answer = []
        for cid, bounds in enumerate(self._bounds):
            seg = np.arange(self._offset[cid], self._offset[cid + 1])
            inner = np.where(self.depth[seg] > 0, seg, -1) if len(seg) else seg
            self._answer.append(np.concatenate([[-1], inner, [-1]]) if len(bounds) else np.array([-1]))

    @cached_property
    def _flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        bounds = np.concatenate([np.zeros(0, np.int64), *self._bounds]).astype(np.int64)
        answer = np.concatenate([np.zeros(0, np.int64), *self._answer]).astype(np.int64)
        bound_at = np.concatenate([[0], np.cumsum([len(b) for b in self._bounds])]).astype(np.int64)
        answer_at = np.concatenate([[0], np.cumsum([len(a) for a in self._answer])]).astype(np.int64)
        return bounds, bound_at, answer, answer_at

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The lookup tables as flat arrays, for compiled loops
        (:mod:`atlasbench.data.level_counts`).

        Returns
        -------
        tuple of numpy.ndarray
            (every chromosome's sorted segment bounds one after another, where each
            chromosome's bounds start (n_chromosomes + 1 offsets), the segment of each
            ``searchsorted(bounds, pos, side="right")`` answer or -1, where each
            chromosome's answers start).
        """
        return self._flat

    def lookup(self, chrom: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Global segment index of each position, -1 outside every interval.

        Parameters
        ----------
        chrom
            Chromosome id of each position (index into ``chromosomes``), shape (n,).
            Fragments come sorted, so a batch holds few chromosome runs.
        pos
            0-based positions, shape (n,).

        Returns
        -------
        numpy.ndarray
            int64 segment index per position.
        """
        out = np.full(len(pos), -1, dtype=np.int64)
        if len(pos) == 0:
            return out
        run_starts = np.concatenate([[0], np.flatnonzero(chrom[1:] != chrom[:-1]) + 1, [len(chrom)]])
        for a, b in zip(run_starts[:-1].tolist(), run_starts[1:].tolist()):
            cid = int(chrom[a])
            if cid < 0 or cid >= len(self._bounds) or len(self._bounds[cid]) < 2:
                continue
            out[a:b] = self._answer[cid][np.searchsorted(self._bounds[cid], pos[a:b], side="right")]
        return out

    def interval_sums(self, segment_counts: np.ndarray, intervals: np.ndarray | None = None) -> np.ndarray:
        """Sum per-segment values over each input interval.

        Parameters
        ----------
        segment_counts
            Values per segment on the first axis, shape (n_segments, ...). It is
            overwritten by its cumulative sum along that axis (it may be the largest array
            of a pass: no copy is made).
        intervals
            Indices of the intervals wanted (default: all, in order).

        Returns
        -------
        numpy.ndarray
            Shape (n_intervals, ...), in the order of the intervals given at construction
            (or of ``intervals``); 0 for intervals on chromosomes not listed.
        """
        csum = np.cumsum(segment_counts, axis=0, out=segment_counts)
        wanted = np.arange(len(self._first)) if intervals is None else np.asarray(intervals)
        first, last = self._first[wanted], self._last[wanted]
        out = np.zeros((len(wanted), *segment_counts.shape[1:]), dtype=csum.dtype)
        known = np.flatnonzero(last > first)  # listed, and at least one segment wide
        for rows in np.array_split(known, max(1, len(known) // _ROWS_AT_ONCE)):  # temporaries of a chunk only
            sums = csum[last[rows] - 1]
            after = first[rows] > 0
            sums[after] -= csum[first[rows][after] - 1]
            out[rows] = sums
        return out
