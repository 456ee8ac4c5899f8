"""What a study can tell apart: the power of its paired comparisons, and a ranking that
ranks only what it resolves.

A paired comparison (:mod:`atlasbench.readouts.comparisons`) says whether a difference
*holds*: its Holm-adjusted p is below 0.05 and its bootstrap interval excludes 0. A
difference that does not hold is not evidence that there is none: with few pairs, or
noisy ones, the study may simply lack the power to see it. So for every comparison this
module also says what the study *could* have seen, and what it would take to see the
difference it observed.

**Minimum detectable difference.** A paired t-test on ``n`` pairs whose differences have
standard deviation ``SD`` detects a true mean difference ``delta`` with probability
(power) about ``1 - beta`` when

``delta >= MDD = (t[1 - alpha/2, n-1] + t[1 - beta, n-1]) * SD / sqrt(n)``,

with ``t[q, df]`` the q-quantile of Student's t (two-sided test at level ``alpha``; this
is the usual approximation of the noncentral t, which gives a power of 0.79 rather than
0.80 at 6 pairs and 0.80 from 12 on). Here ``alpha = 0.05`` and power 0.8.

A test within blocks (two platforms over a grid with several test folds: the grid points
are the blocks, see :func:`~atlasbench.readouts.comparisons.paired_comparison`) uses the
residual SD about the block means and ``n - B`` degrees of freedom for ``B`` blocks.

**Which alpha.** Comparisons made together are Holm-adjusted; the strictest threshold
Holm applies is ``alpha / m`` (the smallest of ``m`` p-values), so the MDD is computed at
``alpha / m``. It then does not depend on the other comparisons' p-values, it errs on the
side of caution, and it agrees with the verdict: an observed difference at least as large
as the MDD has a raw t-test p below ``alpha / m``, hence a Holm-adjusted p below
``alpha``. With one comparison (two platforms) it is plain ``alpha``.

**Pairs to resolve a difference.** The smallest ``n'`` with
``(t[1 - alpha/2, n'-1] + t[1 - beta, n'-1]) * SD / sqrt(n') <= |d|``, found by
iterating ``n'`` (from the normal approximation, below which no ``n'`` can qualify),
assuming the SD of the differences stays as observed. Pairs come from test folds (and
seeds, when each seed is its own pair), so the answer is also given in test folds: two
platforms compared over a grid pair once per grid point per fold, so ``n / n_folds``
pairs per fold. Seeds of one fold are usually averaged into one pair (they share its
test chromosomes): more of them make each pair less noisy but add no pairs, so only
folds are counted then; when seeds are paired separately the answer is also given in
seeds.

**Ranking.** :func:`platform_tiers` orders platforms by their accuracy and cuts the order
only where every platform above the cut is resolved above every platform below it (the
paired difference holds, in the same direction); platforms between two cuts are not
ranked against each other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from atlasbench.errors import AtlasbenchError
from atlasbench.readouts.comparisons import row_blocks

__all__ = [
    "ALPHA",
    "POWER",
    "POWER_COLUMNS",
    "Resolution",
    "add_power",
    "difference_words",
    "minimum_detectable_difference",
    "pairs_to_resolve",
    "platform_tiers",
    "power_words",
    "resolve",
]

ALPHA = 0.05
"""Family-wise level of the comparisons (two-sided), as the verdicts use it."""

POWER = 0.8
"""Power at which the minimum detectable difference and the pairs needed are given."""

POWER_COLUMNS: tuple[str, ...] = (
    "mdd_alpha",
    "minimum_detectable_difference",
    "pairs_needed",
    "n_test_folds",
    "folds_needed",
    "seeds_needed",
)
"""Columns :func:`add_power` adds to a comparison table."""

_HOLDS = "holds"  # the verdict of atlasbench.readouts.comparisons.HOLDS
_SMALLEST_P = 1e-4


def _check(alpha: float, power: float) -> None:
    if not 0 < alpha < 1:
        raise AtlasbenchError(f"alpha must be between 0 and 1 (e.g. 0.05), got {alpha}")
    if not 0 < power < 1:
        raise AtlasbenchError(f"power must be between 0 and 1 (e.g. 0.8), got {power}")


def _mdd(sd: float, n: int, alpha: float, power: float, blocks: int = 1) -> float:
    t = stats.t
    return float((t.ppf(1 - alpha / 2, n - blocks) + t.ppf(power, n - blocks)) * sd / math.sqrt(n))


def minimum_detectable_difference(
    sd: float, n: int, *, alpha: float = ALPHA, power: float = POWER, blocks: int = 1
) -> float:
    """The smallest true mean difference a paired t-test on ``n`` pairs detects with the given power.

    ``MDD = (t[1 - alpha/2, n-1] + t[power, n-1]) * sd / sqrt(n)``, with ``t[q, df]`` the
    q-quantile of Student's t with ``df`` degrees of freedom (two-sided test at level
    ``alpha``). With ``sd = 0.05`` and 6 pairs it is ``(2.571 + 0.920) * 0.05 / 2.449 =
    0.0712``.

    Parameters
    ----------
    sd
        Standard deviation (``ddof=1``) of the paired differences.
    n
        Number of pairs.
    alpha
        Two-sided level of the test (``alpha / m`` for one of ``m`` Holm-adjusted comparisons).
    power
        Probability of detecting a true difference of the returned size.
    blocks
        Blocks of a test within blocks (:func:`~atlasbench.readouts.comparisons.paired_comparison`):
        ``sd`` is then the residual SD and the t quantiles have ``n - blocks`` degrees of
        freedom (1: the plain paired t-test, ``n - 1``).

    Returns
    -------
    float
        The MDD, in the unit of the differences; NaN when it cannot be estimated (no
        degree of freedom left, or ``sd`` NaN, infinite or negative).

    Raises
    ------
    AtlasbenchError
        On ``alpha`` or ``power`` outside (0, 1).
    """
    _check(alpha, power)
    if n - blocks < 1 or not math.isfinite(sd) or sd < 0:
        return math.nan
    return _mdd(float(sd), int(n), alpha, power, int(blocks))


def pairs_to_resolve(
    difference: float, sd: float, *, alpha: float = ALPHA, power: float = POWER, blocks: int = 1
) -> int | None:
    """How many pairs would detect a true difference ``difference`` with the given power.

    The smallest ``n' >= 2`` whose minimum detectable difference
    (:func:`minimum_detectable_difference`) is at most ``|difference|``, the SD of the
    differences staying ``sd``. The search starts at the normal approximation
    ``((z[1 - alpha/2] + z[power]) * sd / |difference|)**2``, below which no ``n'``
    qualifies (for ``power >= 0.5``, t quantiles exceed the normal ones), and steps up one
    pair at a time.

    Parameters
    ----------
    difference
        The difference to resolve (its sign is ignored).
    sd
        Standard deviation of the paired differences.
    alpha, power, blocks
        As :func:`minimum_detectable_difference` (pairs added keep the blocks).

    Returns
    -------
    int or None
        The number of pairs; None when no number would do (a difference of 0) or it cannot
        be estimated (``sd`` or ``difference`` not finite, ``sd`` negative).

    Raises
    ------
    AtlasbenchError
        On ``alpha`` or ``power`` outside (0, 1).
    """
    _check(alpha, power)
    d = abs(float(difference))
    if not (math.isfinite(d) and math.isfinite(sd)) or sd < 0 or d == 0:
        return None
    least = int(blocks) + 1
    if sd == 0:
        return least
    n = least
    if power >= 0.5:
        z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
        n = max(least, math.floor((z * sd / d) ** 2))
    while _mdd(float(sd), n, alpha, power, int(blocks)) > d:
        n += 1
    return n


@dataclass(frozen=True)
class Resolution:
    """What one paired comparison resolves, and what it would take to resolve more.

    Differences are ``b - a``, as in the comparison table.

    Attributes
    ----------
    a, b
        The two compared (platforms or scenarios).
    holds
        Whether the difference holds (the comparison's verdict: Holm-adjusted p below
        0.05 and the bootstrap interval excluding 0).
    mean_difference, sd_difference, n
        Mean of the paired differences, the SD the t-test uses (the residual SD about
        the block means for a test within blocks, else the differences' SD), and the
        number of pairs.
    ci_low, ci_high, confidence, p_holm
        The bootstrap interval of the mean difference, its level, and the Holm-adjusted p.
    n_comparisons
        Comparisons Holm-adjusted together with this one (``m``).
    alpha, power
        Level of the MDD (the family's level over ``m``) and its power.
    minimum_detectable
        The minimum detectable difference (NaN when it cannot be estimated).
    pairs_needed
        Pairs that would resolve ``mean_difference`` at that level and power (None: no
        number would, or it cannot be estimated).
    n_test_folds, n_seeds
        Test folds and seeds the pairs come from.
    seeds_paired
        Whether each seed of a fold is its own pair (else a fold's seeds are averaged).
    pairs_per_fold
        Pairs one test fold gives (at one seed when ``seeds_paired``): the grid points
        two platforms share, or 1 for two scenarios.
    folds_needed
        Test folds that would give ``pairs_needed`` pairs (at the study's seeds).
    seeds_needed
        Seeds that would give them on the study's folds; None unless ``seeds_paired``.
    unit
        What one pair is (``"fold"``, ``"grid point"``, ``"grid point-fold"``).
    """

    a: str
    b: str
    holds: bool
    mean_difference: float
    sd_difference: float
    n: int
    ci_low: float
    ci_high: float
    confidence: float
    p_holm: float
    n_comparisons: int
    alpha: float
    power: float
    minimum_detectable: float
    pairs_needed: int | None
    n_test_folds: int
    n_seeds: int
    seeds_paired: bool
    pairs_per_fold: float
    folds_needed: int | None
    seeds_needed: int | None
    unit: str


def resolve(
    row: Mapping[str, Any] | pd.Series, *, n_comparisons: int = 1, alpha: float = ALPHA, power: float = POWER
) -> Resolution:
    """The verdict of one comparison with its power: the MDD and the pairs (folds, seeds) to resolve it.

    The verdict is the comparison's own (see the module docstring for why the MDD is at
    ``alpha / n_comparisons``). Test folds are the row's ``n_test_folds`` when it has one
    (:func:`~atlasbench.readouts.comparisons.compare_platforms` adds it: its ``n_folds``
    counts grid point-folds), else ``n_folds``. Seeds are paired separately when ``n``
    differs from ``n_folds`` (as :func:`~atlasbench.readouts.comparisons.describe` reads
    it); then the pairs per fold count one seed.

    Parameters
    ----------
    row
        One row of :func:`~atlasbench.readouts.comparisons.compare_scenarios` (or
        ``compare_platforms``).
    n_comparisons
        Comparisons Holm-adjusted together with this one (``m``).
    alpha, power
        Family-wise level and power.

    Returns
    -------
    Resolution

    Raises
    ------
    AtlasbenchError
        On ``n_comparisons`` below 1, or ``alpha`` or ``power`` outside (0, 1).
    """
    if int(n_comparisons) != n_comparisons or n_comparisons < 1:
        raise AtlasbenchError(f"n_comparisons must be a positive integer, got {n_comparisons}")
    _check(alpha, power)
    level = alpha / int(n_comparisons)
    n, n_folds, n_seeds = int(row["n"]), int(row["n_folds"]), int(row["n_seeds"])
    test_folds = row.get("n_test_folds", n_folds)
    test_folds = n_folds if test_folds is None or pd.isna(test_folds) else int(test_folds)
    seeds_paired = n != n_folds
    blocks = row_blocks(row)
    sd = float(row["sd_test"]) if blocks > 1 else float(row["sd_difference"])
    difference = float(row["mean_difference"])
    needed = pairs_to_resolve(difference, sd, alpha=level, power=power, blocks=blocks)
    per_fold = n / (test_folds * (n_seeds if seeds_paired else 1)) if test_folds > 0 else math.nan
    folds = seeds = None
    if needed is not None and per_fold > 0:
        folds = math.ceil(needed / (per_fold * (n_seeds if seeds_paired else 1)) - 1e-9)
        if seeds_paired:
            seeds = math.ceil(needed / (per_fold * test_folds) - 1e-9)
    return Resolution(
        a=str(row["a"]),
        b=str(row["b"]),
        holds=row["verdict"] == _HOLDS,
        mean_difference=difference,
        sd_difference=sd,
        n=n,
        ci_low=float(row["ci_low"]),
        ci_high=float(row["ci_high"]),
        confidence=float(row["confidence"]),
        p_holm=float(row["p_holm"]),
        n_comparisons=int(n_comparisons),
        alpha=level,
        power=power,
        minimum_detectable=minimum_detectable_difference(sd, n, alpha=level, power=power, blocks=blocks),
        pairs_needed=needed,
        n_test_folds=test_folds,
        n_seeds=n_seeds,
        seeds_paired=seeds_paired,
        pairs_per_fold=per_fold,
        folds_needed=folds,
        seeds_needed=seeds,
        unit=str(row.get("unit", "fold")),
    )


def add_power(table: pd.DataFrame, *, alpha: float = ALPHA, power: float = POWER) -> pd.DataFrame:
    """A comparison table with the power of each comparison, the table's rows being one Holm family.

    Parameters
    ----------
    table
        The table of :func:`~atlasbench.readouts.comparisons.compare_scenarios` or
        ``compare_platforms``: its ``m`` rows were Holm-adjusted together.
    alpha, power
        Family-wise level and power.

    Returns
    -------
    pandas.DataFrame
        A copy with :data:`POWER_COLUMNS` last: ``mdd_alpha`` (``alpha / m``),
        ``minimum_detectable_difference``, ``pairs_needed``, ``n_test_folds``,
        ``folds_needed`` and ``seeds_needed`` (see :class:`Resolution`; missing values
        where they cannot be estimated).
    """
    out = table.drop(columns=[c for c in POWER_COLUMNS if c in table.columns])
    found = [resolve(row, n_comparisons=len(table), alpha=alpha, power=power) for _, row in table.iterrows()]
    out["mdd_alpha"] = [r.alpha for r in found]
    out["minimum_detectable_difference"] = [r.minimum_detectable for r in found]
    for column, attribute in (
        ("pairs_needed", "pairs_needed"),
        ("n_test_folds", "n_test_folds"),
        ("folds_needed", "folds_needed"),
        ("seeds_needed", "seeds_needed"),
    ):
        out[column] = pd.array([getattr(r, attribute) for r in found], dtype="Int64")
    return out


def _p_words(p: float) -> str:
    return "p < 0.0001" if p < _SMALLEST_P else f"p = {p:.2g}"


def difference_words(resolution: Resolution, first: str | None = None) -> str:
    """'paired difference (hydrop minus 10x) -0.048 (95% CI -0.131 to +0.005, p = 0.29, n = 6 pairs)'.

    Parameters
    ----------
    resolution
        The comparison.
    first
        Which side to put first (``a`` or ``b``); the difference and interval are turned
        round when it is ``a``. By default ``b`` (the table's ``b - a``).

    Returns
    -------
    str
        Plain text; p is the Holm-adjusted one.
    """
    d, low, high = resolution.mean_difference, resolution.ci_low, resolution.ci_high
    top, other = resolution.b, resolution.a
    if first is not None and first == resolution.a:
        d, low, high = -d, -high, -low
        top, other = resolution.a, resolution.b
    return (
        f"paired difference ({top} minus {other}) {d:+.3f} ({resolution.confidence * 100:g}% CI {low:+.3f} to "
        f"{high:+.3f}, {_p_words(resolution.p_holm)}, n = {resolution.n} pairs)"
    )


def power_words(resolution: Resolution) -> str:
    """What the comparison could detect and what would resolve its difference, in words.

    For example: "the smallest difference it could detect (paired t-test, 80% power at
    alpha 0.05) is 0.142; resolving a difference of 0.048 would take about 24 pairs (this
    study has 6), i.e. about 4 test folds at this grid (it has 1)". With seeds paired
    separately the folds are counted at the study's seeds, and seeds on its folds are
    offered too.

    Parameters
    ----------
    resolution
        The comparison.

    Returns
    -------
    str
        Plain text, no final full stop.
    """
    r = resolution
    if not math.isfinite(r.minimum_detectable):
        return "the smallest difference it could detect cannot be estimated (fewer than 2 pairs, or no SD)"
    family = r.alpha * r.n_comparisons
    level = f"{r.alpha:.2g}" if r.n_comparisons == 1 else f"{r.alpha:.2g} ({family:g} over {r.n_comparisons})"
    text = (
        f"the smallest difference it could detect (paired t-test, {r.power * 100:g}% power at alpha {level}) "
        f"is {r.minimum_detectable:.3f}"
    )
    size = abs(r.mean_difference)
    if r.pairs_needed is None:
        return text + f"; no number of pairs would resolve a difference of {size:.3f}"
    text += f"; resolving a difference of {size:.3f} would take about {r.pairs_needed:,} pairs (this study has {r.n:,})"
    if r.folds_needed is None:
        return text
    grid = " at this grid" if r.unit.startswith("grid point") else ""
    fold_words = f"{r.folds_needed} test fold{'s' if r.folds_needed != 1 else ''}"
    had = f"it has {r.n_test_folds}"
    if r.seeds_paired and r.seeds_needed is not None:
        seeds = f"{r.n_seeds} seed{'s' if r.n_seeds != 1 else ''}"
        return (
            text + f", i.e. about {fold_words}{grid} at {seeds} ({had}), "
            f"or about {r.seeds_needed} seeds on its {r.n_test_folds} test fold{'s' if r.n_test_folds != 1 else ''}"
        )
    return text + f", i.e. about {fold_words}{grid} ({had})"


def platform_tiers(means: Mapping[str, float], comparisons: pd.DataFrame | Sequence[Resolution]) -> list[list[str]]:
    """Platforms in tiers, best first: a tier ranks above the next only where every pair across holds.

    Platforms are sorted by ``means`` (highest first, ties in the given order). The order
    is cut between two neighbours only when every platform above the cut is *resolved
    above* every platform below it: their paired comparison holds, and its difference
    points the same way as their means. Platforms between two cuts form a tier: the study
    does not rank them against each other. A pair with no comparison is not resolved.

    Parameters
    ----------
    means
        Platform -> accuracy (e.g. at full data), in the order to list a tier's members.
    comparisons
        Comparison rows (``a``, ``b``, ``mean_difference``, ``verdict``) or
        :class:`Resolution` objects, differences ``b - a``.

    Returns
    -------
    list of list of str
        The tiers, best first; each tier's platforms in the order of ``means``.
    """
    if isinstance(comparisons, pd.DataFrame):
        pairs = [
            (str(r["a"]), str(r["b"]), r["verdict"] == _HOLDS, float(r["mean_difference"]))
            for _, r in comparisons.iterrows()
        ]
    else:
        pairs = [(r.a, r.b, r.holds, r.mean_difference) for r in comparisons]
    above: set[tuple[str, str]] = set()
    for a, b, holds, difference in pairs:
        if holds and difference > 0:
            above.add((b, a))
        elif holds and difference < 0:
            above.add((a, b))
    names = list(means)
    order = sorted(names, key=lambda p: -float(means[p]) if np.isfinite(means[p]) else math.inf)
    tiers: list[list[str]] = [[order[0]]] if order else []
    for i in range(1, len(order)):
        cut = all((x, y) in above for x in order[:i] for y in order[i:])
        if cut:
            tiers.append([order[i]])
        else:
            tiers[-1].append(order[i])
    return [sorted(tier, key=names.index) for tier in tiers]
