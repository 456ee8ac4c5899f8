"""Reading a study file: YAML into a validated :class:`~atlasbench.study.schema.Study`.

:func:`load_study` reads a study file; :func:`parse_study` validates a mapping already in
memory (the parsed YAML); :func:`read_study_yaml` parses the file without validating it.
Both loaders report every mistake at once, in one
:class:`~atlasbench.study.problems.StudyError` whose message starts with the file and
lists each problem as ``field.path[index].name: what was expected (got ...)``. A value
written as ``FILL_IN``, or as ``"FILL_IN: what to give"`` (preset files leave the user's
paths so, see :mod:`atlasbench.study.presets`), is not a type error: the error then
starts with ``fields still to fill in:``, names every such field in one list and repeats
each hint (:func:`fill_in_fields` lists them).

Numbers follow YAML 1.2: ``1e-3`` is a float, ``010`` is ten and ``12:00:00`` is text
(PyYAML's YAML 1.1 rules would read a float written without a dot as text, and a SLURM
time limit as a base-60 integer). Duplicate keys are errors.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from atlasbench.errors import input_error
from atlasbench.study.problems import (
    CROSS_REFERENCE,
    FILL_IN,
    Problem,
    StudyError,
    describe,
    document_order,
    format_loc,
    is_under,
    show_value,
)
from atlasbench.study.schema import Study, cross_references

__all__ = ["fill_in_fields", "load_study", "parse_study", "read_study_yaml"]

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class _StudyLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 numbers and duplicate keys rejected."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # unhashable key: SafeLoader reports it
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
                    )
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]

    def construct_yaml_int(self, node: yaml.Node) -> int:
        return int(str(self.construct_scalar(node)).replace("_", ""), 10)  # type: ignore[arg-type]


_StudyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StudyLoader.add_implicit_resolver(_INT_TAG, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_StudyLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"^(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_StudyLoader.add_constructor(_INT_TAG, _StudyLoader.construct_yaml_int)


def _placeholders(data: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Each ``FILL_IN`` value's location and hint ("" for a bare ``FILL_IN``)."""
    if isinstance(data, str):
        head, _, hint = data.partition(":")
        if head.strip() == FILL_IN:
            yield loc, hint.strip()
    elif isinstance(data, Mapping):
        for key, value in data.items():
            yield from _placeholders(value, (*loc, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _placeholders(value, (*loc, i))


def fill_in_fields(data: Any) -> dict[str, str]:
    """The fields of a study, as parsed from YAML, still holding the ``FILL_IN`` placeholder.

    Parameters
    ----------
    data
        The study as nested dicts and lists.

    Returns
    -------
    dict
        Field path (``platforms[0].fragments[0]``) -> the hint written after
        ``FILL_IN:`` ("" for none), in the order the fields appear.
    """
    return {format_loc(loc): hint for loc, hint in _placeholders(data)}


def parse_study(
    data: Mapping[str, Any],
    base_dir: str | os.PathLike[str],
    check_files: bool = True,
    source: str = "<dict>",
) -> Study:
    """Validate a study given as a mapping (the parsed YAML) into a :class:`Study`.

    Every mistake is collected before anything is raised: field types and ranges,
    unknown keys (listed with the allowed ones), missing files, and references across
    sections (platform names in union, scenarios and evaluation; fold groups against the
    genome's chromosomes). ``FILL_IN`` values (alone or with a hint, ``"FILL_IN: ..."``)
    are reported together as fields still to fill in, without type errors of their own.

    Parameters
    ----------
    data
        The study as nested dicts and lists.
    base_dir
        Folder that relative paths are resolved against (the YAML file's folder).
    check_files
        Require every input file to exist.
    source
        Name of where ``data`` came from, for the error message.

    Returns
    -------
    Study
        The validated, frozen study; paths absolute.

    Raises
    ------
    StudyError
        Listing every problem, each with its field path.
    """
    if not isinstance(data, Mapping):
        raise StudyError(source, [Problem((), f"the study must be a mapping of sections (got {show_value(data)})")])
    placeholders = list(_placeholders(data))
    fill_in = [loc for loc, _ in placeholders]
    context = {"base_dir": Path(base_dir).expanduser().resolve(), "check_files": check_files}
    try:
        study = Study.model_validate(data, context=context)
        errors: list[ErrorDetails] = []
    except ValidationError as exc:
        study = None
        errors = list(exc.errors())
    problems = [describe(e, Study) for e in errors]
    if errors and any(e["type"] != CROSS_REFERENCE for e in errors):
        # Some field failed, so Study's own cross-section checks did not run: run them on
        # the raw data so that their mistakes are listed too.
        problems += [
            describe({"type": CROSS_REFERENCE, "loc": loc, "msg": msg, "input": value, "ctx": {"message": msg}}, Study)
            for loc, msg, value in cross_references(data)
        ]
    if fill_in:
        problems = [p for p in problems if not is_under(p.loc, fill_in) or p.message.startswith("unknown key")]
    problems.sort(key=document_order(data))
    if problems or fill_in:
        hints = {format_loc(loc): hint for loc, hint in placeholders}
        raise StudyError(source, problems, list(hints), hints)
    assert study is not None
    return study


def read_study_yaml(path: str | os.PathLike[str]) -> Any:
    """A study file parsed as YAML, not yet validated (see :func:`load_study`).

    Raises
    ------
    AtlasbenchError
        For a missing, unreadable or empty file, or a YAML syntax error (with its line).
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise input_error(path, "study file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise input_error(path, f"cannot read the study file: {exc}") from None
    try:
        data = yaml.load(text, Loader=_StudyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{problem} ({context})" if context else str(problem)
        if mark is not None:
            detail += f", column {mark.column + 1}"
        raise input_error(path, f"invalid YAML: {detail}", mark.line + 1 if mark is not None else None) from None
    if data is None:
        raise input_error(path, "the study file is empty")
    return data


def load_study(path: str | os.PathLike[str], check_files: bool = True) -> Study:
    """Read and validate a study YAML file.

    Relative paths in the file are resolved against the file's folder.

    Parameters
    ----------
    path
        The study file.
    check_files
        Require every input file to exist (``atlasbench validate`` does; tools that
        only inspect the config may not).

    Returns
    -------
    Study

    Raises
    ------
    AtlasbenchError
        For an unreadable file or a YAML syntax error (with its line), or a
        :class:`StudyError` listing every mistake in the study.
    """
    path = Path(path).expanduser()
    data = read_study_yaml(path)
    return parse_study(data, path.resolve().parent, check_files=check_files, source=str(path))
