"""The one rule from a name in the data to a file name (io/names.py)."""

from __future__ import annotations

import pytest

from atlasbench.io.names import file_stem


def test_safe_names_are_kept_as_they_are() -> None:
    for name in ("B", "L2-3_IT", "Astro.1", "10x"):
        assert file_stem(name) == name


def test_unsafe_names_become_safe_and_stay_apart() -> None:
    names = ["L2/3 IT", "L2-3 IT", "L2_3 IT", "CD4+ T (naive)", "Müller glia", ".hidden", "..", "a/../b", "L2_3_IT"]
    stems = [file_stem(n) for n in names]
    assert len(set(stems)) == len(names)
    for stem in stems:
        assert "/" not in stem and " " not in stem and not stem.startswith(".")
        assert stem.isascii()
    assert file_stem("L2/3 IT").startswith("L2_3_IT-")
    assert file_stem("L2/3 IT") == file_stem("L2/3 IT")  # deterministic


def test_an_empty_name_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        file_stem("")
