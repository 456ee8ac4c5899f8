"""The compiled pass of pseudobulk against its vectorised formulation, on random batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from atlasbench.data.level_counts import count_batch
from atlasbench.data.sampling import first_level
from atlasbench.io.intervals import Segments

CHROMS = ["chrA", "chrB", "chrC"]


def vectorised(batch, draw, probs, cell_level, cell_type, n_c, segments, in_window, in_region, n_t):
    """pseudobulk's per-batch counting as numpy does it (the formulation before the compiled loop)."""
    n_d, n_all, n_s = len(probs), len(cell_level), segments.n_segments
    cell, count = batch["cell"].astype(np.int64), batch["count"]
    lowest = np.zeros(len(draw), dtype=np.int8)
    for p in probs:
        lowest += draw >= p
    reads = np.bincount(np.repeat(cell, count) * (n_d + 1) + lowest, minlength=n_all * (n_d + 1))
    d = first_level(count, lowest).astype(np.int64)
    c = cell_level[cell]
    seen = d < n_d
    frags = np.bincount(d[seen] * n_all + cell[seen], minlength=n_d * n_all)
    valid = seen & (c < n_c)
    group = (d * n_c + c) * n_t + cell_type[cell]
    library = 2 * np.bincount(group[valid], minlength=n_d * n_c * n_t)
    seg = segments.lookup(np.concatenate([batch["chrom"]] * 2), np.concatenate([batch["start"], batch["end"] - 1]))
    inside = seg >= 0
    cell2 = np.concatenate([cell, cell])
    hit_region = inside.copy()
    hit_region[inside] = in_region[seg[inside]]
    in_regions = np.bincount(cell2[hit_region], minlength=n_all)
    hit = np.concatenate([valid, valid]) & inside
    hit[hit] = in_window[seg[hit]]
    acc = np.zeros(n_s * n_d * n_c * n_t, dtype=np.int64)
    np.add.at(acc, seg[hit] * (n_d * n_c * n_t) + np.concatenate([group, group])[hit], 1)
    return acc, library, frags, reads, in_regions


def random_batch(rng, n: int, n_cells: int, parts: int) -> dict[str, np.ndarray]:
    """Fragments sorted by chromosome and start; in ``parts`` parts one after another, all
    on one chromosome, where the starts go back at each new part (as two stores' batches
    put together would)."""
    pieces = []
    for _ in range(parts):
        chrom = np.sort(rng.integers(0, len(CHROMS) if parts == 1 else 1, n // parts)).astype(np.int32)
        start = rng.integers(0, 20_000, len(chrom))
        order = np.lexsort([start, chrom])
        chrom, start = chrom[order], start[order]
        pieces.append({"chrom": chrom, "start": start, "end": start + rng.integers(1, 800, len(chrom)),
                       "cell": rng.integers(0, n_cells, len(chrom)).astype(np.int32),
                       "count": rng.integers(1, 5, len(chrom)).astype(np.int32)})  # fmt: skip
    return {key: np.concatenate([p[key] for p in pieces]) for key in pieces[0]}


@pytest.mark.parametrize(("seed", "parts"), [(0, 1), (1, 1), (2, 3)])
def test_compiled_pass_counts_what_the_vectorised_one_counts(seed: int, parts: int) -> None:
    rng = np.random.default_rng(seed)
    n_cells, n_t, n_c = 40, 3, 3
    starts = rng.integers(0, 19_000, 30)
    regions = pd.DataFrame({"chrom": rng.choice(CHROMS[:2], 30), "start": starts, "end": starts + 500})  # none on chrC
    windows = regions.assign(start=regions["start"] - 250, end=regions["end"] + 250)
    segments = Segments(pd.concat([windows, regions], ignore_index=True), CHROMS, groups=np.repeat([0, 1], 30))
    in_window, in_region = segments.group_depth[0] > 0, segments.group_depth[1] > 0
    batch = random_batch(rng, 3000, n_cells, parts)
    draw = rng.random(int(batch["count"].sum()))
    probs = np.array([0.2, 0.5, 0.8, 1.0])
    cell_level = rng.integers(0, n_c + 1, n_cells)  # n_c: a cell at no cell level
    cell_type = rng.integers(0, n_t, n_cells)
    n_d = len(probs)
    counters = (np.zeros(segments.n_segments * n_d * n_c * n_t, np.int64), np.zeros(n_d * n_c * n_t, np.int64),
                np.zeros(n_d * n_cells, np.int64), np.zeros(n_cells * (n_d + 1), np.int64),
                np.zeros(n_cells, np.int64))  # fmt: skip
    count_batch(batch, draw, (probs, cell_level, cell_type, n_c), segments, in_window, in_region, counters)
    expected = vectorised(batch, draw, probs, cell_level, cell_type, n_c, segments, in_window, in_region, n_t)
    for got, want in zip(counters, expected):
        np.testing.assert_array_equal(got, want)
    assert counters[0].sum() > 0 and counters[4].sum() > 0  # the case counts something
