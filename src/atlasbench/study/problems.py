"""Mistakes in a study file, in the study's own words: :class:`Problem` and :class:`StudyError`.

pydantic reports a failed validation as a list of errors, each with a location (a tuple
of field names and list indexes), an error type and the offending input. This module
turns each into a :class:`Problem`, one line ``field.path[index].name: what was expected
(got ...)``, and gathers them into one :class:`StudyError` so a user fixes every mistake
after one run:

- :func:`describe` words one pydantic error (ranges, literals, wrong types, unknown keys
  listed with the allowed ones and the closest match);
- :func:`custom_error` and :func:`raise_problems` let validators report problems in
  words of their own, for one field or for several fields at once;
- :data:`Unique` and :func:`unique_names` reject repeated list items or names, with the
  index of the first occurrence;
- :func:`document_order` sorts problems as their fields appear in the file.

The study schema (:mod:`atlasbench.study.schema`) raises these errors; the loader
(:mod:`atlasbench.study.loader`) collects them into a :class:`StudyError`.
"""

from __future__ import annotations

import difflib
import json
import os
import types
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import BaseModel, ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import InitErrorDetails, PydanticCustomError

from atlasbench.errors import AtlasbenchError

__all__ = [
    "CROSS_REFERENCE",
    "FILL_IN",
    "HIDDEN",
    "Found",
    "Problem",
    "StudyError",
    "Unique",
    "custom_error",
    "describe",
    "document_order",
    "format_loc",
    "is_under",
    "raise_problems",
    "show_value",
    "unique_names",
]

FILL_IN = "FILL_IN"
"""Placeholder a preset leaves where the user must give a value (usually a path); written
alone or followed by a colon and a hint, ``"FILL_IN: genome FASTA"``."""

CROSS_REFERENCE = "cross_reference"
"""Error type of the study-level checks across sections (see ``Study._cross_checks``)."""

HIDDEN: dict[str, Any] = {}
"""Offending "value" of a problem whose message needs no ``(got ...)``."""

Found = list[tuple[tuple[str | int, ...], str, Any]]
"""Problems as (location, message, offending value) triples."""


@dataclass(frozen=True)
class Problem:
    """One mistake in a study: where (``loc``, as pydantic gives it) and what is wrong."""

    loc: tuple[str | int, ...]
    message: str

    @property
    def path(self) -> str:
        """The field path, e.g. ``platforms[1].cost.per_cell``."""
        return format_loc(self.loc)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class StudyError(AtlasbenchError):
    """Every mistake found in a study file, reported together.

    Attributes
    ----------
    source
        The study file (or ``"<dict>"``) the problems were found in.
    problems
        Each problem with its field path; ``str(problem)`` is one line of the message.
    fill_in
        Field paths whose value is still the ``FILL_IN`` placeholder.
    hints
        The hint written after ``FILL_IN:`` for those fields that have one, by field path.
    """

    def __init__(
        self,
        source: str,
        problems: list[Problem],
        fill_in: list[str] | None = None,
        hints: Mapping[str, str] | None = None,
    ):
        self.source = source
        self.problems = list(problems)
        self.fill_in = list(fill_in or [])
        self.hints = {path: hint for path, hint in (hints or {}).items() if hint}
        lines: list[str] = []
        if self.fill_in:
            lines.append(f"fields still to fill in: {', '.join(self.fill_in)}")
            lines.extend(f"  {path}: {self.hints[path]}" for path in self.fill_in if path in self.hints)
            lines.append(f"  (in {source}: replace each {FILL_IN} with a value)")
            if self.problems:
                n = len(self.problems)
                lines.append(f"{source}: also {n} other problem{'s' if n > 1 else ''}:")
        elif self.problems:
            n = len(self.problems)
            lines.append(f"{source}: {n} problem{'s' if n > 1 else ''} in the study:")
        lines.extend(f"  {p}" for p in self.problems)
        super().__init__("\n".join(lines))


def custom_error(message: str, shown: str | None = None) -> PydanticCustomError:
    """A validation error whose text is ``message`` verbatim (braces are safe).

    Parameters
    ----------
    message
        What was expected, in the study's words.
    shown
        The offending value as the message should show it, instead of the input.
    """
    ctx: dict[str, Any] = {"message": message}
    if shown is not None:
        ctx["shown"] = shown
    return PydanticCustomError("atlasbench", "{message}", ctx)


def raise_problems(title: str, found: Found, kind: str = "atlasbench") -> None:
    """Raise the (loc, message, offending value) triples as one pydantic ValidationError.

    Raised inside a model validator, pydantic prefixes each ``loc`` with the model's own
    place in the study, so problems found across fields still point at the right field.
    Nothing is raised when ``found`` is empty.
    """
    if not found:
        return
    details = [
        InitErrorDetails(type=PydanticCustomError(kind, "{message}", {"message": msg}), loc=loc, input=value)
        for loc, msg, value in found
    ]
    raise ValidationError.from_exception_data(title, details)


def format_loc(loc: tuple[str | int, ...]) -> str:
    """A pydantic location as a field path: ``("platforms", 1, "cost")`` -> ``platforms[1].cost``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def show_value(value: Any) -> str:
    """A value as the user wrote it, shortened."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, (str, os.PathLike)):
        text = repr(os.fspath(value))
    else:
        try:
            text = json.dumps(value, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_MESSAGES: dict[str, str] = {
    "missing": "required field is missing",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "path_type": "must be a file path",
    "list_type": "must be a list ([a, b] or one '- item' per line)",
    "dict_type": "must be a mapping (key: value lines)",
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
}


def describe(error: Mapping[str, Any], root: type[BaseModel]) -> Problem:
    """Turn one pydantic error into a :class:`Problem` in the study's own words.

    Parameters
    ----------
    error
        One item of :meth:`pydantic.ValidationError.errors`.
    root
        The model that was validated (the study), to list the keys allowed where an
        unknown key was found.
    """
    kind = error["type"]
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    value = error.get("input")
    show = kind not in ("missing", "extra_forbidden") and not isinstance(value, dict)
    shown = show_value(value)
    if loc and loc[-1] == "[key]":  # a dict key failed (e.g. executor.slurm.jobs.<kind>)
        loc = loc[:-1]
    if kind in ("atlasbench", CROSS_REFERENCE):
        message = ctx.get("message", error["msg"])
        if "shown" in ctx:
            shown = ctx["shown"]
    elif kind == "extra_forbidden":
        allowed = _allowed_keys(root, loc[:-1])
        message = "unknown key"
        if allowed:
            message += f"; allowed keys: {', '.join(allowed)}"
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
    elif kind in ("greater_than_equal", "greater_than", "less_than", "less_than_equal"):
        op, key = {
            "greater_than_equal": (">=", "ge"),
            "greater_than": (">", "gt"),
            "less_than": ("<", "lt"),
            "less_than_equal": ("<=", "le"),
        }[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        message = f"must be {op} {bound}"
    elif kind == "literal_error":
        message = f"must be {ctx.get('expected')}"
    elif kind == "too_short":
        n = ctx.get("min_length")
        message = f"must have at least {n} item{'s' if n != 1 else ''}"
    elif kind == "too_long":
        n = ctx.get("max_length")
        message = f"must have at most {n} item{'s' if n != 1 else ''}"
    elif kind in _MESSAGES:
        message = _MESSAGES[kind]
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
    if show:
        message += f" (got {shown})"
    return Problem(loc, message)


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional/Union wrappers down to a model, list or dict type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            structured = [
                a
                for a in args
                if (isinstance(a, type) and issubclass(a, BaseModel))
                or typing.get_origin(_strip_annotated(a)) in (list, dict)
            ]
            tp = (structured or args)[0]
        else:
            return tp


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _allowed_keys(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The field names of the model found at ``loc`` inside ``root``, or [] if none."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            field = tp.model_fields.get(part)
            if field is None:
                return []
            tp = field.annotation
        elif typing.get_origin(tp) is list and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def document_order(data: Mapping[str, Any]) -> Callable[[Problem], tuple[int, int]]:
    """A sort key putting problems in the order their fields appear in the study ``data``.

    A problem about a missing field is placed with the field's parent.
    """
    seen: dict[tuple[str | int, ...], int] = {}

    def walk(value: Any, loc: tuple[str | int, ...]) -> None:
        seen[loc] = len(seen)
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, (*loc, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*loc, i))

    walk(data, ())

    def key(problem: Problem) -> tuple[int, int]:
        loc = problem.loc
        while loc not in seen:  # a missing field: place it with its parent
            loc = loc[:-1]
        return seen[loc], len(loc) - len(problem.loc)

    return key


def is_under(loc: tuple[str | int, ...], prefixes: list[tuple[str | int, ...]]) -> bool:
    """Whether ``loc`` is one of ``prefixes`` or lies inside one of them."""
    return any(loc[: len(p)] == p for p in prefixes)


# ---------------------------------------------------------------------------------------
# Repeated items
# ---------------------------------------------------------------------------------------


def _duplicate_problems(items: list[Any], skip: Collection[int] = ()) -> Found:
    first: dict[tuple[str, Any], int] = {}
    found: Found = []
    for i, value in enumerate(items):
        try:
            key = (type(value).__name__, value)
            hash(key)
        except TypeError:
            continue
        if i in skip:
            continue
        if key in first:
            found.append(((i,), f"duplicate (also at index {first[key]})", value))
        first.setdefault(key, i)
    return found


def _as_detail(error: Mapping[str, Any]) -> InitErrorDetails:
    """A reported pydantic error turned back into one that can be raised again."""
    ctx = dict(error.get("ctx") or {})
    if error["type"] in ("atlasbench", CROSS_REFERENCE):
        return InitErrorDetails(
            type=PydanticCustomError(error["type"], "{message}", ctx), loc=error["loc"], input=error["input"]
        )
    return InitErrorDetails(type=error["type"], loc=error["loc"], input=error["input"], ctx=ctx)


def _no_duplicates(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Validate a list, then reject repeated items; repeats are reported even when
    other items of the list are invalid."""
    try:
        result = handler(value)
    except ValidationError as exc:
        if not isinstance(value, list):
            raise
        errors = exc.errors()
        bad = {e["loc"][0] for e in errors if e["loc"] and isinstance(e["loc"][0], int)}
        details = [_as_detail(e) for e in errors]
        details += [
            InitErrorDetails(type=PydanticCustomError("atlasbench", "{message}", {"message": msg}), loc=loc, input=item)
            for loc, msg, item in _duplicate_problems(value, bad)
        ]
        raise ValidationError.from_exception_data("list", details) from None
    raise_problems("list", _duplicate_problems(result))
    return result


_T = typing.TypeVar("_T")
Unique = Annotated[_T, WrapValidator(_no_duplicates)]
"""A list whose items must differ."""


def unique_names(items: list[Any]) -> list[Any]:
    """Check that the items of a list (of objects with a ``name``) have different names.

    Used as an after-validator of the list; each repeat is reported at its ``name``.
    """
    first: dict[str, int] = {}
    found: Found = []
    for i, item in enumerate(items):
        if item.name in first:
            found.append(((i, "name"), f"duplicate name (also at index {first[item.name]})", item.name))
        first.setdefault(item.name, i)
    raise_problems("list", found)
    return items
