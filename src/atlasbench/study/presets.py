"""Preset studies: commented study files that carry a published protocol.

A preset is a complete study file whose every setting is chosen and explained (a comment
beside each value says where it comes from), except the user's own files. Those are left
as the placeholder ``"FILL_IN: what to give"``: the text after the colon tells the user
what file the field wants. :func:`atlasbench.study.loader.load_study` reports every such field
in one list, with its hint (and no error of its own), so ``atlasbench validate`` on a
fresh preset names exactly what is left to do and reads no file until it is done.

The presets:

- ``hydrop-v2-mouse``: the published mouse motor cortex benchmark, HyDrop v2 vs 10x
  (CREsted targets and ``dilated_cnn`` at 2,114 bp, chromosome-block folds k=10, the
  eleven published scenarios with their test Pearson in comments, the 2023 costs);
- ``hydrop-v2-fly``: the published Drosophila embryo benchmark (``deeptopic_cnn`` at
  500 bp, random folds k=11, all reads and 12k reads per cell);
- ``demo``: the study ``atlasbench demo`` runs, on what ``atlasbench simulate --out
  atlasbench-demo`` writes (no files of the user's to fill in).

The templates live in ``atlasbench/data/presets/<name>.yaml``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from atlasbench.errors import AtlasbenchError, input_error
from atlasbench.io.atomic import write_text_atomic

__all__ = ["PRESETS", "preset_text", "unfilled_fields", "write_preset"]

PRESETS: dict[str, str] = {
    "hydrop-v2-mouse": "published mouse cortex study: 11 scenarios, 10 block folds",
    "hydrop-v2-fly": "published fly embryo study: deeptopic_cnn, 11 random folds",
    "demo": "the simulated study that `atlasbench demo` runs",
}
"""Preset name -> what it is (one line, shown by ``atlasbench init --help``)."""


def preset_text(name: str) -> str:
    """The commented YAML text of a preset study.

    Parameters
    ----------
    name
        A key of :data:`PRESETS`.

    Returns
    -------
    str
        The study file as written by :func:`write_preset`.

    Raises
    ------
    AtlasbenchError
        For an unknown preset name.
    """
    if name not in PRESETS:
        raise AtlasbenchError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return (resources.files("atlasbench") / "resources" / "presets" / f"{name}.yaml").read_text(encoding="utf-8")


def write_preset(name: str, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write a preset study to ``path`` (atomically), for the user to fill in.

    Parameters
    ----------
    name
        A key of :data:`PRESETS`.
    path
        The study file to write; its folder is created when needed. Paths in the study
        are relative to this file's folder.
    overwrite
        Replace an existing file (otherwise an existing file is an error).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    AtlasbenchError
        For an unknown preset, or when ``path`` exists and ``overwrite`` is false.
    """
    text = preset_text(name)
    path = Path(path).expanduser()
    if path.is_dir():
        raise input_error(path, "is a folder; give the study file's name, e.g. study.yaml")
    if path.exists() and not overwrite:
        raise input_error(path, "already exists; not replaced (atlasbench init --force replaces it)")
    write_text_atomic(path, text)
    return path


def unfilled_fields(study: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, str]:
    """The fields of a study still holding the ``FILL_IN`` placeholder.

    Parameters
    ----------
    study
        A study file, or the study as a mapping (parsed YAML).

    Returns
    -------
    dict
        Field path (e.g. ``genome.fasta``, ``platforms[0].cells``) -> what to give there
        (the hint after ``FILL_IN:``; "" when none), in the order the fields appear.
    """
    # imported here: config loads pydantic, and the CLI imports this module for its help
    from atlasbench.study.loader import fill_in_fields, read_study_yaml

    return fill_in_fields(study if isinstance(study, Mapping) else read_study_yaml(study))
