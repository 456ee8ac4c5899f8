"""The public API: every name a package's ``__init__`` lists can be reached, lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ["atlasbench", "atlasbench.io", "atlasbench.data", "atlasbench.models", "atlasbench.readouts",
            "atlasbench.study", "atlasbench.report", "atlasbench.simulate"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_listed_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, f"{package} lists no public names"
    for name in module.__all__:
        assert getattr(module, name) is not None
    assert set(module.__all__) <= set(dir(module))


def test_an_unknown_name_is_an_attribute_error() -> None:
    import atlasbench.data

    with pytest.raises(AttributeError, match=r"atlasbench\.data' has no attribute 'not_a_stage'"):
        atlasbench.data.not_a_stage  # noqa: B018


def test_importing_a_package_loads_no_heavy_library() -> None:
    """``--help`` and the lazy API stay fast: no torch, MACS3 or matplotlib until a name is used."""
    code = ("import sys, atlasbench, atlasbench.io, atlasbench.data, atlasbench.models, atlasbench.readouts, "
            "atlasbench.study, atlasbench.report, atlasbench.simulate, atlasbench.cli; "
            "print(sorted(m for m in ('torch', 'MACS3', 'matplotlib', 'anndata') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
