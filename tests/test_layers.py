"""The package's layers import one way only, read from the source of every module.

The layers, lowest first: the base modules (``errors``, ``settings``, ``lazy``), ``io`` (file
formats), ``data`` (fragments to targets), ``models``, ``readouts``, then ``simulate`` and
``report`` (each using the layers below, not each other), ``study`` (the orchestration:
the only layer that knows a whole study) and the CLI on top. A module may import its own
layer and the layers below it; every import is checked, including those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import atlasbench

PACKAGE = Path(atlasbench.__file__).parent

# layer -> the layers it may import (besides itself)
BASE = {"errors", "settings", "lazy", "__init__"}
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "io": {"base"},
    "data": {"base", "io"},
    "models": {"base", "io", "data"},
    "readouts": {"base", "io", "data", "models"},
    "simulate": {"base", "io", "data", "models", "readouts"},
    "report": {"base", "io", "data", "models", "readouts"},
    "study": {"base", "io", "data", "models", "readouts", "simulate", "report"},
    "cli": {"base", "io", "data", "models", "readouts", "simulate", "report", "study"},
}


def _layer(parts: list[str]) -> str:
    """Layer of a module given its dotted name's parts after ``atlasbench``."""
    if not parts or parts[0] in BASE:
        return "base"
    return parts[0]


def _module_parts(path: Path) -> list[str]:
    return list(path.relative_to(PACKAGE).with_suffix("").parts)


def _imports(source: str, package: list[str]) -> list[tuple[int, str]]:
    """(line, module) of every atlasbench import in a module's source, top level or not.

    ``package`` is the dotted name, split, of the package holding the module (relative
    imports are resolved against it).
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "atlasbench"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the module's package
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] == "atlasbench":
                if module == "atlasbench":  # from atlasbench import x: a subpackage, a module or a name
                    found += [(node.lineno, _submodule(alias.name)) for alias in node.names]
                else:
                    found.append((node.lineno, module))
    return found


def _submodule(name: str) -> str:
    """``atlasbench.name`` when it is a module or subpackage, else ``atlasbench`` (a name of the package)."""
    is_module = (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()
    return f"atlasbench.{name}" if is_module else "atlasbench"


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_layer_is_known() -> None:
    layers = {_layer(_module_parts(path)) for path in MODULES}
    assert layers <= set(ALLOWED), f"modules outside the known layers: {layers - set(ALLOWED)}"
    assert {"io", "data", "models", "readouts", "study", "report", "simulate", "cli"} <= layers


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_down_the_layers(path: Path) -> None:
    own = _layer(_module_parts(path))
    wrong = []
    package = ["atlasbench", *_module_parts(path)[:-1]]
    for line, module in _imports(path.read_text(encoding="utf-8"), package):
        target = _layer(module.split(".")[1:])
        if target != own and target not in ALLOWED[own]:
            wrong.append(f"line {line}: {module} ({target} layer)")
    assert not wrong, f"{path.relative_to(PACKAGE)} ({own} layer) imports upward: " + "; ".join(wrong)


def test_the_check_sees_imports_inside_functions_and_relative_ones() -> None:
    """The parser finds every kind of import, so the check above can fail."""
    source = (
        "import atlasbench.io.genome\n"
        "from atlasbench import errors, __version__\n"
        "def f():\n"
        "    from atlasbench.study.schema import Study\n"
        "    from ..report import page\n"
        "    from . import dataset\n"
    )
    found = [module for _, module in _imports(source, ["atlasbench", "models"])]
    assert found == ["atlasbench.io.genome", "atlasbench.errors", "atlasbench", "atlasbench.study.schema",
                     "atlasbench.report", "atlasbench.models"]
    layers = [_layer(module.split(".")[1:]) for module in found]
    assert [layer not in ALLOWED["models"] | {"models"} for layer in layers] == [False, False, False, True, True, False]
