"""Lazy public names for the package and its subpackages.

Each subpackage's ``__init__`` lists its public API: the names a notebook user reaches
as ``atlasbench.data.ingest`` or ``from atlasbench.models import load_trained``. Importing
them all eagerly would load PyTorch, MACS3 and matplotlib for a ``--help``, so a name's
module is imported the first time the name is used (PEP 562 module ``__getattr__``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__all__``, ``__getattr__`` and ``__dir__`` of a package whose names load lazily.

    Parameters
    ----------
    package
        The package's ``__name__``.
    exports
        Module name relative to the package (``"ingest"``, ``"cost.designs"``) -> the
        public names it defines.

    Returns
    -------
    tuple
        ``(__all__, __getattr__, __dir__)`` to assign at the package's top level.
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return sorted(where), __getattr__, __dir__
