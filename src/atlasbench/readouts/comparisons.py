"""Comparisons of two scenarios: is one more accurate than the other, or is it noise?

Every scenario of a study (a platform at one reads-per-cell and cells level) is trained
on the same k chromosome folds, so two scenarios give k *paired* accuracies: fold 3 of
one and fold 3 of the other were tested on the same held-out chromosomes. Folds differ
from each other far more than two scenarios often do (some chromosomes are easier), so
comparing the two means with their SDs, as the paper does, hides differences that the
pairing reveals, and says nothing about which differences are larger than chance.

For each pair of scenarios this module reports:

- mean +- SD over folds of each scenario, and of the per-fold difference (b - a);
- the **paired t-test** over folds, the headline test, and the Wilcoxon signed-rank
  test as a check that does not assume normal differences;
- a bootstrap percentile confidence interval of the mean difference, folds resampled
  with replacement;
- Holm-adjusted p-values over all comparisons made together, and a verdict: the
  difference *holds* when its adjusted p is below ``alpha`` and its interval excludes 0,
  else it is *within noise*.

:func:`describe` turns one comparison into the sentence a scientist reads;
:mod:`atlasbench.readouts.power` says what a comparison within noise could have detected
and what would resolve it, and ranks only what holds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from atlasbench.errors import AtlasbenchError
from atlasbench.models.metrics import ALL_CELL_TYPES

logger = logging.getLogger(__name__)

GRID_POINT: tuple[str, ...] = ("platform", "level")
"""Columns of the evaluation table that identify a scenario (grid point) by default."""

PAIR_ON: tuple[str, ...] = ("fold_scheme", "fold", "seed")
"""Columns that pair the rows of two scenarios: the same test fold of the same scheme,
trained with the same seed."""

MAX_DEFAULT_PAIRS = 100
"""Most comparisons :func:`compare_scenarios` makes when it chooses the pairs itself."""

HOLDS = "holds"
WITHIN_NOISE = "within noise"

COMPARISON_COLUMNS: tuple[str, ...] = (
    "a",
    "b",
    "metric",
    "against",
    "cell_type",
    "n",
    "n_folds",
    "n_seeds",
    "unit",
    "mean_a",
    "sd_a",
    "mean_b",
    "sd_b",
    "mean_difference",
    "sd_difference",
    "blocks",
    "sd_test",
    "ci_low",
    "ci_high",
    "confidence",
    "t_statistic",
    "p_value",
    "wilcoxon_p",
    "p_holm",
    "verdict",
)
"""Columns of the table :func:`compare_scenarios` returns, in order."""

_METRIC_WORDS = {
    "pearson_mean": "test Pearson",
    "spearman_mean": "test Spearman",
    "pearson": "test Pearson",
    "spearman": "test Spearman",
    "pearson_across_cell_types": "Pearson across cell types",
    "spearman_across_cell_types": "Spearman across cell types",
}
_SMALLEST_P = 1e-4
_PLATFORM_PREFIX = "platform:"


@dataclass(frozen=True)
class PairedComparison:
    """Statistics of two scenarios' values paired by fold; differences are ``b - a``.

    Attributes
    ----------
    n
        Number of pairs (folds).
    mean_a, sd_a, mean_b, sd_b
        Mean and SD (``ddof=1``) of each scenario over the folds.
    mean_difference, sd_difference
        Mean and SD (``ddof=1``) of the per-fold differences ``b - a``.
    blocks
        Blocks the t-test compared within (1: none, the plain paired t-test).
    sd_test
        SD of the differences the t-test uses: ``sd_difference``, or with blocks the
        residual SD about the block means (on ``n - blocks`` degrees of freedom).
    ci_low, ci_high
        Bootstrap percentile confidence interval of ``mean_difference``.
    confidence
        Its level, e.g. 0.95.
    t_statistic, p_value
        Paired t-test (headline test): t of the differences, two-sided p.
    wilcoxon_p
        Two-sided p of the Wilcoxon signed-rank test.
    """

    n: int
    mean_a: float
    sd_a: float
    mean_b: float
    sd_b: float
    mean_difference: float
    sd_difference: float
    blocks: int
    sd_test: float
    ci_low: float
    ci_high: float
    confidence: float
    t_statistic: float
    p_value: float
    wilcoxon_p: float


def paired_comparison(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    blocks: Sequence[str] | np.ndarray | None = None,
    confidence: float = 0.95,
    n_bootstrap: int = 10_000,
    seed: int = 0,
) -> PairedComparison:
    """Compare two scenarios' per-fold values: means, SDs, paired tests and a bootstrap CI.

    ``a[i]`` and ``b[i]`` are the two scenarios' values on fold ``i`` (the same held-out
    chromosomes), so the comparison works on the differences ``d = b - a``, which remove
    what the folds share (a fold with easy chromosomes is easy for both).

    The **paired t-test** (:func:`scipy.stats.ttest_rel`, two-sided) is the headline
    test: ``t = mean(d) / (sd(d) / sqrt(n))`` on ``n - 1`` degrees of freedom. It assumes
    roughly normal differences, which cannot be checked on 5 to 10 folds, so the
    **Wilcoxon signed-rank test** (:func:`scipy.stats.wilcoxon`, two-sided, exact null
    distribution for up to 50 folds, by exhaustive permutation when differences tie or
    are zero) is reported beside it. The Wilcoxon test uses only the signs and ranks of
    the differences and so cannot reach a small p with few folds: with 5 folds its
    smallest two-sided p is ``2 / 2**5 = 0.0625``, even when every fold agrees; hence it
    is not the headline test. When every difference is exactly zero, both tests give
    ``p = 1`` (and ``t = 0``).

    The **bootstrap** interval resamples the ``n`` folds with replacement
    ``n_bootstrap`` times (one ``(n_bootstrap, n)`` index array drawn from
    ``numpy.random.default_rng(seed)``, so a seed gives the same interval), takes the
    mean difference of each resample, and reports the central ``confidence`` percentiles.
    With few folds it is narrower than it should be (a resample of 5 folds repeats some),
    one more reason the t-test leads.

    **Blocks.** Pairs may come in blocks whose differences differ by design: two
    platforms paired at every grid point of a study, over two test folds, differ a lot
    where data are thin and little where both saturate. Those grid points are fixed by
    the study, not drawn at random, so their spread is not noise; what is noise is how
    the pairs of one grid point (its folds and seeds) scatter. With ``blocks`` the t-test
    is the one of the two-way layout: ``t = mean(d) / (s / sqrt(n))`` with ``s`` the
    residual SD of the differences about their block means, on ``n - B`` degrees of
    freedom (``B`` blocks); the bootstrap resamples within each block. It tests the mean
    difference over the blocks as they are. When no block holds two pairs (one fold, one
    seed) there is nothing to estimate the noise within blocks from, and the plain
    paired t-test over all pairs is used.

    Parameters
    ----------
    a, b
        ``(n,)`` values of the two scenarios (e.g. test Pearson), paired by position;
        same length, at least 2, finite.
    blocks
        ``(n,)`` block of each pair (e.g. its grid point), or None.
    confidence
        Level of the bootstrap interval, in (0, 1).
    n_bootstrap
        Number of bootstrap resamples, at least 1.
    seed
        Seed of the bootstrap resampling.

    Returns
    -------
    PairedComparison
        The statistics, differences taken as ``b - a``.

    Raises
    ------
    AtlasbenchError
        On arrays that are not 1-D, differ in length, have fewer than 2 values or hold
        NaN or infinite values, and on a bad ``confidence`` or ``n_bootstrap``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1:
        raise AtlasbenchError(f"a and b must be 1-D arrays of per-fold values, got shapes {a.shape} and {b.shape}")
    if a.size != b.size:
        raise AtlasbenchError(
            f"a has {a.size} values and b has {b.size}; a paired comparison needs one value of each per fold"
        )
    if a.size < 2:
        raise AtlasbenchError(f"a paired comparison needs at least 2 folds, got {a.size}")
    for name, values in (("a", a), ("b", b)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise AtlasbenchError(f"{name} has NaN or infinite values (at position(s) {bad.tolist()})")
    if not 0 < confidence < 1:
        raise AtlasbenchError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 1:
        raise AtlasbenchError(f"n_bootstrap must be a positive integer, got {n_bootstrap}")

    difference = b - a
    codes = np.zeros(a.size, dtype=np.int64)
    if blocks is not None:
        labels = np.asarray(blocks)
        if labels.shape != a.shape:
            raise AtlasbenchError(f"blocks has shape {labels.shape}; it needs one block per pair, {a.shape}")
        codes = pd.factorize(labels)[0]
        if codes.max() + 1 == a.size:  # no block with two pairs: nothing to estimate the noise within blocks from
            codes = np.zeros(a.size, dtype=np.int64)
    n_blocks = int(codes.max()) + 1
    residual = difference - (np.bincount(codes, difference) / np.bincount(codes))[codes]
    sd_test = float(np.sqrt((residual**2).sum() / (a.size - n_blocks)))
    if np.all(difference == 0):
        t_statistic, p_value, wilcoxon_p = 0.0, 1.0, 1.0
    else:
        if sd_test > 0:
            t_statistic = float(difference.mean() / (sd_test / np.sqrt(a.size)))
        else:
            t_statistic = math.copysign(math.inf, difference.mean())
        p_value = float(2 * stats.t.sf(abs(t_statistic), a.size - n_blocks))
        wilcoxon_p = float(stats.wilcoxon(b, a).pvalue)

    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(codes == g) for g in range(n_blocks)]
    picks = [m[rng.integers(0, m.size, size=(int(n_bootstrap), m.size))] for m in members]
    boot_means = difference[np.concatenate(picks, axis=1)].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    ci_low, ci_high = np.percentile(boot_means, [tail, 100 - tail])

    return PairedComparison(
        n=int(a.size),
        mean_a=float(a.mean()),
        sd_a=float(a.std(ddof=1)),
        mean_b=float(b.mean()),
        sd_b=float(b.std(ddof=1)),
        mean_difference=float(difference.mean()),
        sd_difference=float(difference.std(ddof=1)),
        blocks=n_blocks,
        sd_test=sd_test,
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        confidence=float(confidence),
        t_statistic=t_statistic,
        p_value=p_value,
        wilcoxon_p=wilcoxon_p,
    )


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values: control the chance of any false "holds" among m tests.

    Making many comparisons at once, some reach ``p < 0.05`` by chance. Holm's step-down
    method sorts the m p-values increasingly, multiplies the i-th smallest (from 1) by
    ``m - i + 1``, makes the results non-decreasing in that order, and caps them at 1.
    An adjusted p below ``alpha`` then keeps the family-wise error rate at ``alpha``,
    with more power than Bonferroni (which multiplies every p by m).

    Parameters
    ----------
    p_values
        ``(m,)`` p-values in [0, 1].

    Returns
    -------
    numpy.ndarray
        ``(m,)`` adjusted p-values, in the input order.

    Raises
    ------
    AtlasbenchError
        On values outside [0, 1] or NaN, or input that is not 1-D.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise AtlasbenchError(f"p-values must be a 1-D sequence, got shape {p.shape}")
    if not np.all((p >= 0) & (p <= 1)):
        raise AtlasbenchError(f"p-values must lie in [0, 1] (no NaN), got {p.tolist()}")
    order = np.argsort(p, kind="stable")
    m = p.size
    scaled = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(scaled, 1.0)
    return adjusted


def compare_scenarios(
    evaluation: pd.DataFrame,
    pairs: Sequence[Sequence[str]] | None = None,
    *,
    by: Sequence[str] = GRID_POINT,
    metric: str = "pearson_mean",
    against: str = "full",
    cell_type: str = ALL_CELL_TYPES,
    model: str | None = None,
    names: Mapping[str, str] | None = None,
    average_seeds: bool = True,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_bootstrap: int = 10_000,
    seed: int = 0,
    max_pairs: int = MAX_DEFAULT_PAIRS,
    unit: str = "fold",
    within_grid_points: bool = False,
) -> pd.DataFrame:
    """Compare scenarios of a study's evaluation table, fold by fold, with tests and verdicts.

    The evaluation table (:data:`atlasbench.readouts.evaluate.TIDY_COLUMNS`) has one row per
    model (platform, level, fold scheme, test fold, seed, architecture), target set
    (``against``), cell type and metric. A scenario is a *grid point*, identified by the
    columns ``by``: by default ``platform`` and ``level`` (the level key
    ``reads-R_cells-C``), which is all the table knows of a scenario; a named scenario
    (``matched``, ...) is the grid point it resolved to (see :func:`atlasbench.study.scenarios.scenario_labels`).
    ``by`` may add other columns, e.g. ``model`` to compare architectures.

    Each grid point is reduced to one value per fold and seed: the row with the given
    ``metric`` and ``against`` and ``cell_type`` (by default ``"all"``, the summary rows
    that hold ``pearson_mean``, the published test Pearson, and the other means over
    cell types or regions). Two grid points are paired on :data:`PAIR_ON` (same fold
    scheme, test fold and seed); pairs with a NaN value on either side are dropped. With
    ``average_seeds`` the paired values of a fold's seeds are then averaged, so a fold
    counts once however many seeds it was trained with (seeds share the test fold and
    are not independent replicates of it); otherwise each (fold, seed) is one pair.
    :func:`paired_comparison` then compares them, and Holm's method (:func:`holm`)
    adjusts the t-test p-values over all comparisons of this call. A difference
    *holds* when its adjusted p is below ``alpha`` and its bootstrap interval excludes
    0; otherwise it is *within noise*.

    When ``pairs`` is None every two grid points evaluated on the same set of
    (fold scheme, fold, seed), at least 2, are compared, in the table's order (``a``
    first seen first). A full grid gives many such pairs (48 grid points give 1128),
    which would make the adjustment harsh and the report unreadable, so more than
    ``max_pairs`` default pairs is an error: name the comparisons that answer a
    question instead.

    Parameters
    ----------
    evaluation
        Tidy evaluation table with the columns ``by``, :data:`PAIR_ON`, ``metric``,
        ``against``, ``cell_type``, ``value`` (and ``model``, if it has several).
    pairs
        ``(a, b)`` grid point names to compare, differences taken as ``b - a``. A grid
        point's name is ``names[label]`` if given, else its label: its ``by`` values
        joined with ``/``, e.g. ``"hydrop/reads-all_cells-1500"``.
    by
        Columns identifying a grid point; none of :data:`PAIR_ON`.
    metric, against, cell_type
        Which value of each model is compared (``cell_type`` ``"all"`` for the summary
        metrics).
    model
        Architecture to keep; required when the table holds several and ``model`` is
        not in ``by``.
    names
        Label -> readable name of some grid points, e.g. from :func:`atlasbench.study.scenarios.scenario_labels`.
    average_seeds
        Average a fold's seeds before comparing (one pair per fold).
    alpha
        Level the Holm-adjusted p must be below for a difference to hold.
    confidence, n_bootstrap, seed
        Bootstrap interval settings, see :func:`paired_comparison`.
    max_pairs
        Most comparisons made when ``pairs`` is None.
    unit
        What one paired value is, for the sentences of :func:`describe`: ``"fold"``, or
        e.g. ``"grid point"`` for a table whose ``fold`` column was relabelled to pair
        two platforms over every grid point (and fold) they share.
    within_grid_points
        For such a table, whose ``fold`` labels read ``<grid point>/<fold>``: test
        within grid points (``blocks`` of :func:`paired_comparison`).

    Returns
    -------
    pandas.DataFrame
        One row per comparison, columns :data:`COMPARISON_COLUMNS`: the names ``a`` and
        ``b``, what was compared, ``n`` pairs over ``n_folds`` folds and ``n_seeds``
        seeds, the fields of :class:`PairedComparison`, ``p_holm`` and ``verdict``
        (``"holds"`` or ``"within noise"``). Empty when ``pairs`` is None and no two
        grid points share their folds.

    Raises
    ------
    AtlasbenchError
        On missing columns, no matching rows, several models without a choice, several
        rows for one grid point, fold and seed, unknown or repeated names in ``pairs``,
        too many default pairs, or fewer than 2 shared folds in a pair.
    """
    by = list(by)
    if not by:
        raise AtlasbenchError("by must name at least one column identifying a grid point, e.g. ['platform', 'level']")
    reserved = [c for c in by if c in (*PAIR_ON, "metric", "against", "cell_type", "value")]
    if reserved:
        raise AtlasbenchError(f"by cannot use {reserved}: those columns pair the folds or select the values")
    needed = [*by, *PAIR_ON, "metric", "against", "cell_type", "value"]
    missing = [c for c in needed if c not in evaluation.columns]
    if missing:
        raise AtlasbenchError(f"evaluation table lacks column(s) {missing}; it has {list(evaluation.columns)}")
    if not 0 < alpha < 1:
        raise AtlasbenchError(f"alpha must be between 0 and 1 (e.g. 0.05), got {alpha}")

    rows = _select(evaluation, by, metric, against, cell_type, model)
    points = _grid_points(rows, by, names or {})
    if pairs is None:
        pairs = _default_pairs(points, max_pairs)
    else:
        pairs = [tuple(pair) for pair in pairs]
        for pair in pairs:
            if len(pair) != 2 or pair[0] == pair[1]:
                raise AtlasbenchError(f"each pair must name two different grid points, got {pair!r}")
            unknown = [name for name in pair if name not in points]
            if unknown:
                raise AtlasbenchError(f"unknown grid point(s) {unknown}; the table has {list(points)}")

    records: list[dict[str, Any]] = []
    for name_a, name_b in pairs:
        units = _paired_units(points[name_a], points[name_b], average_seeds)
        if len(units) < 2:
            raise AtlasbenchError(
                f"{name_b} vs {name_a}: {len(units)} fold(s) with values for both, a comparison needs at least 2"
            )
        blocks = None
        if within_grid_points:
            blocks = units.index.get_level_values("fold").astype(str).str.rsplit("/", n=1).str[0].to_numpy()
        result = paired_comparison(
            units["a"].to_numpy(),
            units["b"].to_numpy(),
            blocks=blocks,
            confidence=confidence,
            n_bootstrap=n_bootstrap,
            seed=seed,
        )
        records.append(
            {
                "a": name_a,
                "b": name_b,
                "metric": metric,
                "against": against,
                "cell_type": cell_type,
                "n_folds": int(units["n_folds"].iloc[0]),
                "n_seeds": int(units["n_seeds"].iloc[0]),
                "unit": unit,
                **asdict(result),
            }
        )
    columns = [c for c in COMPARISON_COLUMNS if c not in ("p_holm", "verdict")]
    table = pd.DataFrame.from_records(records, columns=columns)
    table["p_holm"] = holm(table["p_value"].to_numpy(dtype=np.float64))
    excludes_zero = (table["ci_low"] > 0) | (table["ci_high"] < 0)
    table["verdict"] = np.where((table["p_holm"] < alpha) & excludes_zero, HOLDS, WITHIN_NOISE)
    return table[list(COMPARISON_COLUMNS)]


def describe(row: Mapping[str, Any] | pd.Series) -> str:
    """One sentence stating a comparison and whether its difference holds.

    For example: ``"hydrop matched+50% vs hydrop matched: test Pearson (against full
    data) 0.587 ± 0.031 vs 0.534 ± 0.040 (mean ± SD over 10 folds); difference +0.053
    (95% CI +0.041 to +0.066), paired t-test p = 0.0004 (Holm): the difference
    holds."`` Values have 3 decimals, p-values 2 significant digits (``< 0.0001`` below
    that).

    Parameters
    ----------
    row
        One row of :func:`compare_scenarios`.

    Returns
    -------
    str
        The sentence, ``b`` first (the difference is ``b - a``).
    """
    what = _METRIC_WORDS.get(str(row["metric"]), str(row["metric"]))
    if row["cell_type"] != ALL_CELL_TYPES:
        what += f" of {row['cell_type']}"
    n, n_folds, n_seeds = int(row["n"]), int(row["n_folds"]), int(row["n_seeds"])
    unit = str(row.get("unit", "fold"))
    if n != n_folds:
        units = f"{n} {unit}-seed pairs"
    elif n_seeds > 1:
        units = f"{n} {unit}s, seeds averaged"
    else:
        units = f"{n} {unit}s"
    p = float(row["p_holm"])
    p_text = "p < 0.0001" if p < _SMALLEST_P else f"p = {p:.2g}"
    verdict = "the difference holds" if row["verdict"] == HOLDS else "within noise"
    return (
        f"{row['b']} vs {row['a']}: {what} ({_against_words(str(row['against']))}) "
        f"{row['mean_b']:.3f} ± {row['sd_b']:.3f} vs {row['mean_a']:.3f} ± {row['sd_a']:.3f} "
        f"(mean ± SD over {units}); difference {row['mean_difference']:+.3f} "
        f"({float(row['confidence']) * 100:g}% CI {row['ci_low']:+.3f} to {row['ci_high']:+.3f}), "
        f"paired t-test{_within_words(row)} {p_text} (Holm): {verdict}."
    )


def row_blocks(row: Mapping[str, Any] | pd.Series) -> int:
    """Blocks of a comparison row's t-test: 1 for the plain paired test (also when the row
    has no ``blocks``, or NaN there)."""
    blocks = row.get("blocks", 1)
    return 1 if blocks is None or pd.isna(blocks) else int(blocks)


def _within_words(row: Mapping[str, Any] | pd.Series) -> str:
    """ " within grid points (residual SD s)" for a test within blocks, else ""."""
    blocks = row_blocks(row)
    if blocks <= 1:
        return ""
    return f" within the {blocks} grid points (residual SD {float(row['sd_test']):.3f})"


def _select(
    evaluation: pd.DataFrame, by: list[str], metric: str, against: str, cell_type: str, model: str | None
) -> pd.DataFrame:
    """The rows compared: one metric against one target set for one cell type (and model)."""
    rows = evaluation[
        (evaluation["metric"] == metric) & (evaluation["against"] == against) & (evaluation["cell_type"] == cell_type)
    ]
    if rows.empty:
        at_cell_type = evaluation[evaluation["cell_type"] == cell_type]
        raise AtlasbenchError(
            f"evaluation table has no rows with metric {metric!r}, against {against!r} and cell type "
            f"{cell_type!r} (metrics there: {sorted(map(str, at_cell_type['metric'].unique()))}; against: "
            f"{sorted(map(str, evaluation['against'].unique()))})"
        )
    if model is not None:
        if "model" not in rows.columns or not (rows["model"] == model).any():
            models = sorted(map(str, rows["model"].unique())) if "model" in rows.columns else []
            raise AtlasbenchError(f"evaluation table has no model {model!r} (models: {models})")
        rows = rows[rows["model"] == model]
    elif "model" in rows.columns and "model" not in by and rows["model"].nunique(dropna=False) > 1:
        raise AtlasbenchError(
            f"evaluation table holds several models ({sorted(map(str, rows['model'].unique()))}); "
            "choose one with model=, or put 'model' in by to compare them"
        )
    keys = [*by, *PAIR_ON]
    duplicated = rows.duplicated(keys, keep=False)
    if duplicated.any():
        first = rows.loc[duplicated, keys].iloc[0].to_dict()
        raise AtlasbenchError(
            f"several {metric!r} rows for one grid point, fold and seed, e.g. {first}; "
            f"add the column that tells them apart to by (by is {by})"
        )
    return rows


def _grid_points(rows: pd.DataFrame, by: list[str], names: Mapping[str, str]) -> dict[str, pd.Series]:
    """Name -> values of one grid point, indexed by :data:`PAIR_ON`, in the table's order."""
    points: dict[str, pd.Series] = {}
    label_of: dict[str, str] = {}
    for key, group in rows.groupby(by, sort=False, dropna=False):
        label = "/".join(str(v) for v in key)
        name = names.get(label, label)
        if name in points:
            raise AtlasbenchError(f"grid points {label_of[name]!r} and {label!r} have the same name {name!r}")
        label_of[name] = label
        points[name] = group.set_index(list(PAIR_ON))["value"].astype(np.float64)
    return points


def _default_pairs(points: dict[str, pd.Series], max_pairs: int) -> list[tuple[str, str]]:
    """Every two grid points evaluated on the same (at least 2) folds and seeds."""
    folds = {name: frozenset(values.index) for name, values in points.items()}
    names = list(points)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if folds[a] == folds[b] and len(folds[a]) >= 2]
    if len(pairs) > max_pairs:
        raise AtlasbenchError(
            f"{len(pairs)} pairs of grid points share their folds, more than max_pairs={max_pairs}: "
            "pass the comparisons to make as pairs, or raise max_pairs"
        )
    return pairs


def _paired_units(a: pd.Series, b: pd.Series, average_seeds: bool) -> pd.DataFrame:
    """Paired values ``a``, ``b`` per fold (seeds averaged) or per (fold, seed).

    Also gives ``n_folds`` and ``n_seeds`` (distinct folds and seeds paired) on every row.
    """
    paired = pd.concat({"a": a, "b": b}, axis=1, join="inner")
    finite = np.isfinite(paired["a"]) & np.isfinite(paired["b"])
    if not finite.all():
        logger.info("%d fold(s) with a NaN value left out of a comparison", int((~finite).sum()))
    # Fold order fixes which folds a bootstrap resample draws: keep it independent of row order.
    paired = paired[finite].sort_index()
    fold_keys = [c for c in PAIR_ON if c != "seed"]
    n_folds = len(paired.index.droplevel("seed").unique())
    n_seeds = paired.index.get_level_values("seed").nunique()
    if average_seeds:
        paired = paired.groupby(level=fold_keys, sort=False, dropna=False).mean()
    return paired.assign(n_folds=n_folds, n_seeds=n_seeds)


def _against_words(against: str) -> str:
    """What the predictions were compared with, in words."""
    if against == "full":
        return "against full data"
    if against == "own":
        return "against own targets"
    if against.startswith(_PLATFORM_PREFIX):
        return f"against {against.removeprefix(_PLATFORM_PREFIX)} full data"
    return f"against {against}"


def compare_platforms(
    evaluation: pd.DataFrame, platforms: Sequence[str], *, every_pair: bool = False, **kwargs: Any
) -> pd.DataFrame:
    """Platforms compared paired over every grid point (and fold) both were trained at.

    At one grid point two platforms share reads per cell, cells level, test fold and
    seed, so their accuracies pair as two scenarios' do over folds; over a grid the pairs
    are many even with one test fold. The grid points are the study's design: the
    difference is large where data are thin and small where both platforms saturate, and
    that spread is not noise. So with several test folds (or seeds paired separately)
    the t-test compares within grid points (``blocks`` of :func:`paired_comparison`):
    its noise is how the folds of one grid point scatter. Each test fold trains on its
    own draw of the grid point's cells and reads (:mod:`atlasbench.data.sampling`), so
    that scatter holds the library's sampling noise as well as the training's: a chance
    difference between two libraries is noise to the test, not a platform difference.
    (With one nested sampling per platform it was shared by every pair and the test
    could not see it: 1 of 3 null atlases held, ``benchmarks/library_variance.py``.)

    By default each platform is compared with the first (differences ``platform -
    platforms[0]``); with ``every_pair`` every two platforms are (``platforms[j] -
    platforms[i]`` for ``i < j``), Holm-adjusted together, which is what a ranking of
    more than two platforms needs.

    Parameters
    ----------
    evaluation
        Tidy evaluation table (:data:`atlasbench.readouts.evaluate.TIDY_COLUMNS`).
    platforms
        Platform names, the reference first.
    every_pair
        Compare every two platforms, not only each with the first.
    **kwargs
        Passed to :func:`compare_scenarios` (``metric``, ``against``, ``model``...).

    Returns
    -------
    pandas.DataFrame
        As :func:`compare_scenarios`, one row per platform after the first (or per two
        platforms); ``unit`` says what was paired (grid points, or grid points and
        folds), and so do ``n_folds``, which counts paired grid point-folds. One more
        column, ``n_test_folds``, counts the test folds (fold scheme and fold) the pairs
        come from.
    """
    present = set(evaluation["platform"].astype(str))
    chosen = [p for p in platforms if p in present]
    several_folds = evaluation["fold"].nunique() > 1
    paired = evaluation.assign(
        fold=evaluation["level"].astype(str) + "/" + evaluation["fold"].astype(str), level="grid"
    )
    if every_pair:
        pairs = [(a, b) for i, a in enumerate(chosen) for b in chosen[i + 1 :]]
    else:
        pairs = [(chosen[0], p) for p in chosen[1:]]
    table = compare_scenarios(
        paired,
        pairs,
        names={f"{p}/grid": p for p in chosen},
        unit="grid point-fold" if several_folds else "grid point",
        within_grid_points=True,
        **kwargs,
    )
    table["n_test_folds"] = _test_folds(evaluation, table, kwargs)
    return table


def _test_folds(evaluation: pd.DataFrame, table: pd.DataFrame, kwargs: Mapping[str, Any]) -> list[int]:
    """Per row of a platform comparison, the distinct (fold scheme, fold) of the pairs compared."""
    if table.empty:
        return []
    rows = _select(
        evaluation,
        ["platform", "level"],
        kwargs.get("metric", "pearson_mean"),
        kwargs.get("against", "full"),
        kwargs.get("cell_type", ALL_CELL_TYPES),
        kwargs.get("model"),
    )
    rows = rows[np.isfinite(rows["value"].astype(np.float64))]
    keys = {
        str(p): set(zip(g["level"], g["fold_scheme"], g["fold"], g["seed"]))
        for p, g in rows.groupby(rows["platform"].astype(str), sort=False)
    }
    return [
        len({(scheme, fold) for _, scheme, fold, _ in keys[str(r["a"])] & keys[str(r["b"])]})
        for _, r in table.iterrows()
    ]
