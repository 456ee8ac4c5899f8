"""Scenario resolution: the grid's cross-product, skipped levels, named and matched scenarios."""

from __future__ import annotations

import itertools
import logging

import pytest

from atlasbench.data.levels import level_key
from atlasbench.errors import AtlasbenchError
from atlasbench.study.scenarios import (
    PlatformData,
    Scenario,
    one_factor_pairs,
    platform_levels,
    resolve_scenarios,
)
from atlasbench.study.schema import Scenario as NamedScenario


def named(name: str, platform: str, cells, reads_per_cell="all") -> NamedScenario:
    """A named scenario as the study schema validates it."""
    return NamedScenario(name=name, platform=platform, cells=cells, reads_per_cell=reads_per_cell)


def points(scenarios: list[Scenario]) -> set[tuple]:
    return {(s.platform, s.reads_per_cell, s.cells) for s in scenarios}


AMPLE = {"a": PlatformData(1000, 50_000.0), "b": PlatformData(800, 30_000.0)}


def test_full_grid_is_the_cross_product_in_study_order():
    reads, cells = [1000, 5000, "all"], [100, "all"]
    out = resolve_scenarios(["b", "a"], reads, cells, True, [], AMPLE)
    assert points(out) == set(itertools.product(["b", "a"], reads, cells))
    assert len(out) == 2 * 3 * 2
    assert {s.name for s in out} == {"grid"}
    # platforms in the order given, then reads and cells increasing with "all" last
    expected = [(p, r, c) for p in ["b", "a"] for r in reads for c in cells]
    assert [(s.platform, s.reads_per_cell, s.cells) for s in out] == expected


def test_grid_levels_above_a_platform_are_skipped_with_a_message(caplog):
    data = {"big": PlatformData(500, 20_000.0), "small": PlatformData(60, 4_000.0)}
    with caplog.at_level(logging.WARNING, logger="atlasbench.study.scenarios"):
        out = resolve_scenarios(["big", "small"], [1000, 10_000, "all"], [50, 200, "all"], True, [], data)
    big = {(r, c) for p, r, c in points(out) if p == "big"}
    small = {(r, c) for p, r, c in points(out) if p == "small"}
    assert big == set(itertools.product([1000, 10_000, "all"], [50, 200, "all"]))
    # 10,000 reads per cell > 4,000 sequenced; 200 cells > 60 annotated
    assert small == set(itertools.product([1000, "all"], [50, "all"]))
    text = caplog.text
    assert "small" in text and "10000" in text and "200" in text
    assert "big" not in text


def test_grid_level_equal_to_the_platform_is_its_full_data():
    # 150 cells asked of a platform with exactly 150 is the "all" dataset, not a second
    # level (two levels of the same size would make the nested sampling fail)
    data = {"a": PlatformData(150, 200.0)}
    out = resolve_scenarios(["a"], [200, "all"], [60, 150, "all"], True, [], data)
    assert points(out) == {("a", "all", 60), ("a", "all", "all")}
    reads, cells = platform_levels(out, "a")
    assert reads == ["all"] and cells == [60, "all"]


@pytest.mark.parametrize(
    ("cells", "reads", "expected"),
    [
        (2000, "all", "2000 cells asked of platform 'a', which has 1000"),
        ("all", 60_000, "60000 usable read pairs per cell asked of platform 'a', which has"),
    ],
)
def test_named_scenario_above_a_platform_is_an_error(cells, reads, expected):
    with pytest.raises(AtlasbenchError) as err:
        resolve_scenarios(["a", "b"], ["all"], ["all"], True, [named("too-big", "a", cells, reads)], AMPLE)
    assert "'too-big'" in str(err.value)
    assert expected in str(err.value)


def test_matched_uses_the_smallest_sourced_platform_not_a_combined_one():
    data = {
        "hydrop": PlatformData(400, 9_000.0),
        "tenx": PlatformData(250, 30_000.0),
        # a combined platform claiming fewer cells must not set the matched number
        "pooled": PlatformData(100, 12_000.0, sourced=False),
    }
    scenarios = [
        named("matched", "hydrop", "matched"),
        named("more", "hydrop", "matched+50%", 5000),
        named("self", "tenx", "matched"),
    ]
    out = resolve_scenarios(["hydrop", "tenx", "pooled"], ["all"], ["all"], False, scenarios, data)
    by_name = {s.name: s for s in out}
    assert set(by_name) == {"matched", "more", "self"}
    assert (by_name["matched"].platform, by_name["matched"].cells) == ("hydrop", 250)
    assert (by_name["more"].cells, by_name["more"].reads_per_cell) == (375, 5000)  # 250 * 1.5
    # matched on the smallest platform itself is all of its cells
    assert by_name["self"].cells == "all"
    assert by_name["more"].level == "reads-5000_cells-375"


def test_matched_plus_percent_beyond_a_platform_is_an_error():
    data = {"hydrop": PlatformData(300, 9_000.0), "tenx": PlatformData(250, 30_000.0)}
    with pytest.raises(AtlasbenchError, match=r"'plus'.*300 cells asked of platform 'tenx', which has 250"):
        resolve_scenarios(["hydrop", "tenx"], ["all"], ["all"], False, [named("plus", "tenx", "matched+20%")], data)


def test_named_scenario_on_a_grid_point_keeps_its_name_once():
    scenarios = [named("full", "a", "all"), named("every-cell", "b", 800, 1000)]
    out = resolve_scenarios(["a", "b"], [1000, "all"], [100, "all"], True, scenarios, AMPLE)
    assert len(out) == 8  # the named points are grid points: nothing added
    assert len(points(out)) == len(out)
    names = {(s.platform, s.reads_per_cell, s.cells): s.name for s in out}
    assert names[("a", "all", "all")] == "full"
    # 800 cells of a platform holding 800 is its "all" level
    assert names[("b", 1000, "all")] == "every-cell"
    assert sum(n == "grid" for n in names.values()) == 6


def test_named_scenarios_alone_without_full_grid():
    out = resolve_scenarios(["a", "b"], [1000, "all"], [100, "all"], False, [named("x", "b", 100, 1000)], AMPLE)
    assert [(s.name, s.platform, s.reads_per_cell, s.cells) for s in out] == [("x", "b", 1000, 100)]


def test_platform_levels_sorted_with_all_last():
    scenarios = [
        Scenario("grid", "a", "all", 500),
        Scenario("grid", "a", 20_000, "all"),
        Scenario("n", "a", 3000, 40),
        Scenario("grid", "a", 20_000, 500),
        Scenario("grid", "b", 7, 9),
    ]
    reads, cells = platform_levels(scenarios, "a")
    assert reads == [3000, 20_000, "all"]
    assert cells == [40, 500, "all"]
    assert platform_levels(scenarios, "b") == ([7], [9])
    assert platform_levels(scenarios, "c") == ([], [])


def test_level_key_names_files():
    assert level_key(12_000, "all") == "reads-12000_cells-all"
    assert Scenario("grid", "a", "all", 60).level == "reads-all_cells-60"


def test_named_levels_keep_every_name_and_labels_join_names_of_one_grid_point():
    """Two names may resolve to one grid point (matched cells = all cells of the smaller
    platform): it is trained once, both names are known, and the report label says both."""
    from atlasbench.study.scenarios import named_levels, scenario_labels

    data = {"small": PlatformData(500, 20_000.0), "big": PlatformData(800, 20_000.0)}
    scenarios = [named("small-all", "small", "all"), named("small-limited", "small", "matched"),
                 named("big-limited-plus50", "big", "matched+50%", 10_000)]
    resolved = resolve_scenarios(["small", "big"], [5_000], ["all"], True, scenarios, data)
    levels = named_levels(scenarios, data)
    assert levels["small-limited"].level == levels["small-all"].level == level_key("all", "all")
    assert levels["big-limited-plus50"].level == level_key(10_000, 750)
    labels = scenario_labels(resolved, levels)
    assert labels[("small", level_key("all", "all"))] == "small-all = small-limited"
    assert labels[("big", level_key(10_000, 750))] == "big-limited-plus50"
    assert labels[("big", level_key(5_000, "all"))] == "big, 5,000 reads/cell, all cells"


# --- which comparisons a study makes ------------------------------------------------------


def test_one_factor_pairs_are_the_published_questions() -> None:
    """Platforms at matched cells, cells steps on one platform, a depth cap: never two factors at once."""
    named = [NamedScenario(name=n, platform=p, cells=c, reads_per_cell=r) for n, p, c, r in (
        ("10x-limited", "10x", "matched", "all"), ("hydrop-limited", "hydrop", "matched", "all"),
        ("hydrop-limited+50%", "hydrop", "matched+50%", "all"), ("hydrop-cap", "hydrop", "matched", 36000),
        ("10x-all-cap", "10x", "all", 36000))]
    assert one_factor_pairs(named) == [("10x-limited", "hydrop-limited"), ("hydrop-limited", "hydrop-limited+50%"),
                                       ("hydrop-limited", "hydrop-cap")]
