"""The study's designs: which (platform, reads per cell, cells) datasets are built and trained.

A study trains one model per *scenario* (and fold and seed). Scenarios come from the full
grid (every platform x reads-per-cell level x cells level) and from named scenarios such
as cells matched across platforms (``"matched"``: the smallest sourced platform's cell
count, same cell-type proportions) or more cells than matched (``"matched+50%"``).
Levels are resolved against each platform's data once it is ingested: a grid level
above what a platform has (more cells than it holds, more reads per cell than it was
sequenced to) is skipped for that platform with a message; in a named scenario it is
an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from atlasbench.data.levels import level_key
from atlasbench.errors import AtlasbenchError
from atlasbench.study import schema as config

log = logging.getLogger(__name__)

ALL: Final = "all"


@dataclass(frozen=True)
class PlatformData:
    """What scenario resolution needs to know of an ingested platform."""

    n_cells: int
    mean_reads_per_cell: float
    """In the study's reads unit (:attr:`reads_unit`)."""
    sourced: bool = True
    reads_unit: str = "usable read pairs"


@dataclass(frozen=True)
class Scenario:
    """One concrete dataset of the grid.

    Attributes
    ----------
    name
        ``grid`` for the cross-product, else the named scenario's name.
    platform
        Platform name.
    reads_per_cell
        Target mean reads per cell, or ``"all"``.
    cells
        Number of cells, or ``"all"``.
    """

    name: str
    platform: str
    reads_per_cell: int | str
    cells: int | str

    @property
    def level(self) -> str:
        """File-name key of the dataset, e.g. ``reads-12000_cells-all``."""
        return level_key(self.reads_per_cell, self.cells)


def _sort_key(level: int | str) -> tuple[int, int]:
    return (1, 0) if level == ALL else (0, int(level))


def resolve_scenarios(
    platforms: Sequence[str],
    reads_per_cell: Sequence[int | str],
    cells: Sequence[int | str],
    full_grid: bool,
    named: Sequence[config.Scenario],
    data: Mapping[str, PlatformData],
) -> list[Scenario]:
    """Concrete scenarios of a study.

    Parameters
    ----------
    platforms
        Platform names, in study order.
    reads_per_cell, cells
        The grid's levels (``"all"`` allowed).
    full_grid
        Whether the cross-product is part of the study.
    named
        Named scenarios of the study (:class:`atlasbench.study.schema.Scenario`).
    data
        Per platform, its cell count and mean reads per cell.

    Returns
    -------
    list of Scenario
        Unique by (platform, reads_per_cell, cells); a named scenario equal to a grid
        point keeps its name.
    """
    out: dict[tuple[str, str, str], Scenario] = {}
    for sc in named:
        resolved = _resolve_named(sc, data)
        out[(sc.platform, str(resolved.reads_per_cell), str(resolved.cells))] = resolved
    if full_grid:
        for platform in platforms:
            info = data[platform]
            for reads in reads_per_cell:
                if isinstance(reads, int) and reads > info.mean_reads_per_cell:
                    log.warning(
                        "grid: %s has %.0f %s per cell, level %s skipped",
                        platform,
                        info.mean_reads_per_cell,
                        info.reads_unit,
                        reads,
                    )
                    continue
                if reads != ALL and reads == info.mean_reads_per_cell:
                    reads = ALL  # the full data, as in a named scenario
                for n in cells:
                    if isinstance(n, int) and n > info.n_cells:
                        log.warning("grid: %s has %d cells, level %s skipped", platform, info.n_cells, n)
                        continue
                    if n != ALL and n == info.n_cells:
                        n = ALL  # every cell, as in a named scenario
                    out.setdefault((platform, str(reads), str(n)), Scenario("grid", platform, reads, n))
    return sorted(
        out.values(), key=lambda s: (list(platforms).index(s.platform), _sort_key(s.reads_per_cell), _sort_key(s.cells))
    )


def _resolve_named(sc: config.Scenario, data: Mapping[str, PlatformData]) -> Scenario:
    """A named scenario's concrete grid point; a level equal to all the platform has is ``"all"``."""
    info = data[sc.platform]
    n_cells = _named_cells(sc, data)
    if isinstance(n_cells, int) and n_cells > info.n_cells:
        raise AtlasbenchError(
            f"scenario {sc.name!r}: {n_cells} cells asked of platform {sc.platform!r}, which has {info.n_cells}"
        )
    if n_cells != ALL and n_cells == info.n_cells:
        n_cells = ALL
    reads = sc.reads_per_cell
    if isinstance(reads, int) and reads > info.mean_reads_per_cell:
        raise AtlasbenchError(
            f"scenario {sc.name!r}: {reads} {info.reads_unit} per cell asked of platform {sc.platform!r}, "
            f"which has {info.mean_reads_per_cell:,.0f}"
        )
    if reads != ALL and reads == info.mean_reads_per_cell:
        reads = ALL
    return Scenario(sc.name, sc.platform, reads, n_cells)


def named_levels(named: Sequence[config.Scenario], data: Mapping[str, PlatformData]) -> dict[str, Scenario]:
    """Every named scenario's grid point, by name (two names may share one grid point,
    which :func:`resolve_scenarios` then trains once).

    Parameters
    ----------
    named
        Named scenarios of the study.
    data
        Per platform, its cell count and mean reads per cell.

    Returns
    -------
    dict of str to Scenario
        Scenario name -> its resolved grid point.
    """
    return {sc.name: _resolve_named(sc, data) for sc in named}


def scenario_labels(scenarios: Sequence[Scenario], named: Mapping[str, Scenario]) -> dict[tuple[str, str], str]:
    """How a report names each grid point: its scenario names (joined by " = " when
    several name one grid point), else its platform and levels (``10x, 12,000
    reads/cell, all cells``).

    Parameters
    ----------
    scenarios
        The study's grid points (:func:`resolve_scenarios`).
    named
        Named scenarios' grid points (:func:`named_levels`).

    Returns
    -------
    dict
        (platform, level key) -> label.
    """
    names: dict[tuple[str, str], list[str]] = {}
    for name, sc in named.items():
        names.setdefault((sc.platform, sc.level), []).append(name)
    return {
        (sc.platform, sc.level): " = ".join(names.get((sc.platform, sc.level), []))
        or f"{sc.platform}, {_level_words(sc.reads_per_cell, 'reads/cell')}, {_level_words(sc.cells, 'cells')}"
        for sc in scenarios
    }


def _level_words(level: int | str, unit: str) -> str:
    return f"all {unit.split('/')[0]}" if level == ALL else f"{int(level):,} {unit}"


def _named_cells(sc: config.Scenario, data: Mapping[str, PlatformData]) -> int | str:
    extra = sc.matched_extra_percent
    if extra is None:
        return sc.cells
    matched = min(d.n_cells for d in data.values() if d.sourced)
    return round(matched * (1 + extra / 100))


def platform_levels(scenarios: Sequence[Scenario], platform: str) -> tuple[list[int | str], list[int | str]]:
    """Sorted distinct depth and cell levels one platform must be sampled at.

    Parameters
    ----------
    scenarios
        From :func:`resolve_scenarios`.
    platform
        Platform name.

    Returns
    -------
    tuple of list
        (reads-per-cell levels, cells levels), increasing, ``"all"`` last.
    """
    mine = [s for s in scenarios if s.platform == platform]
    reads = sorted({s.reads_per_cell for s in mine}, key=_sort_key)
    cells = sorted({s.cells for s in mine}, key=_sort_key)
    return reads, cells


def one_factor_pairs(scenarios: Sequence[config.Scenario]) -> list[tuple[str, str]]:
    """Pairs of named scenarios that differ in one factor only: the platform, the cells
    or the reads per cell.

    These are the comparisons a study of named scenarios asks: the two platforms at
    matched cells, a platform with matched cells against the same platform with 50% more,
    all reads against a depth cap. Scenarios differing in two factors at once answer no
    single question and are not compared.

    Parameters
    ----------
    scenarios
        The study's named scenarios (``grid.scenarios``), as written (``"matched+25%"``
        is a cells factor of its own).

    Returns
    -------
    list of (str, str)
        Scenario names ``(a, b)``, ``a`` the earlier in the study file.
    """

    def factors(sc: config.Scenario) -> tuple[str, str, str]:
        return sc.platform, str(sc.cells), str(sc.reads_per_cell)

    return [
        (a.name, b.name)
        for i, a in enumerate(scenarios)
        for b in scenarios[i + 1 :]
        if sum(x != y for x, y in zip(factors(a), factors(b))) == 1
    ]
