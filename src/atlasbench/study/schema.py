"""The study file: one YAML file, validated into typed, frozen config objects.

A *study* names the genome, the platforms to compare (their fragments files, cell
annotation tables and cost figures), the grid of degraded versions of each platform's
data (reads per cell x cells, plus named scenarios), the fold scheme, the model and its
training recipe, the evaluation sets and the executor that runs the grid's jobs. Every
artefact is written under ``output``, named by a hash of the config sections that made
it (:meth:`Study.hash_of`), so a rerun reuses what exists.

A minimal study (every other section has defaults)::

    name: my-study
    output: results                 # folder for all artefacts (created when needed)
    genome:
      fasta: genome/dm6.fa          # paths are relative to this file's folder
    platforms:
      - name: hydrop
        fragments: hydrop/fragments.tsv.gz
        cells: hydrop/cells.tsv     # columns barcode, cell_type
        cost: {per_cell: 0.049, per_million_reads: 2.875}

:func:`load_study` reads such a file; :func:`parse_study` validates a mapping already in
memory. Both report every mistake at once, in one :class:`StudyError` whose message starts
with the file and lists each problem as ``field.path[index].name: what was expected (got
...)``. A value written as ``FILL_IN``, or as ``"FILL_IN: what to give"`` (preset files leave
the user's paths so, see :mod:`atlasbench.study.presets`), is not a type error: the error then
starts with ``fields still to fill in:``, names every such field in one list and repeats
each hint. :func:`example_study_yaml` returns a commented example of every section.

Numbers follow YAML 1.2: ``1e-3`` is a float, ``010`` is ten and ``12:00:00`` is text
(PyYAML's YAML 1.1 rules would read a float written without a dot as text, and a SLURM
time limit as a base-60 integer). Duplicate keys are errors.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PlainValidator,
    PositiveInt,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from atlasbench.errors import AtlasbenchError, input_error

__all__ = [
    "FILL_IN",
    "JOB_KINDS",
    "Cost",
    "Evaluation",
    "Executor",
    "Finetune",
    "Folds",
    "Genome",
    "Grid",
    "Model",
    "PeakCalling",
    "Platform",
    "Problem",
    "Regions",
    "Scenario",
    "SlurmJobResources",
    "SlurmResources",
    "Study",
    "StudyError",
    "Targets",
    "Training",
    "example_study_yaml",
    "fill_in_fields",
    "load_study",
    "parse_study",
]

FILL_IN = "FILL_IN"
"""Placeholder a preset leaves where the user must give a value (usually a path); written
alone or followed by a colon and a hint, ``"FILL_IN: genome FASTA"``."""

JOB_KINDS: tuple[str, ...] = ("ingest", "targets", "train", "evaluate", "explain", "report")
"""Kinds of grid jobs that may get their own SLURM resources (``executor.slurm.jobs``)."""

JobKind = Literal["ingest", "targets", "train", "evaluate", "explain", "report"]

_CROSS = "cross_reference"  # error type of the study-level checks (see Study._cross_checks)
_HIDDEN: dict[str, Any] = {}  # offending "value" of a problem whose message needs no "(got ...)"


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One mistake in a study: where (``loc``, as pydantic gives it) and what is wrong."""

    loc: tuple[str | int, ...]
    message: str

    @property
    def path(self) -> str:
        """The field path, e.g. ``platforms[1].cost.per_cell``."""
        return _format_loc(self.loc)

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


def _custom(message: str, shown: str | None = None) -> PydanticCustomError:
    """A validation error whose text is ``message`` verbatim (braces are safe)."""
    ctx: dict[str, Any] = {"message": message}
    if shown is not None:
        ctx["shown"] = shown
    return PydanticCustomError("atlasbench", "{message}", ctx)


def _raise_problems(title: str, found: list[tuple[tuple[str | int, ...], str, Any]], kind: str = "atlasbench") -> None:
    """Raise the (loc, message, offending value) triples as one pydantic ValidationError.

    Raised inside a model validator, pydantic prefixes each ``loc`` with the model's own
    place in the study, so problems found across fields still point at the right field.
    """
    if not found:
        return
    details = [
        InitErrorDetails(type=PydanticCustomError(kind, "{message}", {"message": msg}), loc=loc, input=value)
        for loc, msg, value in found
    ]
    raise ValidationError.from_exception_data(title, details)


def _format_loc(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _show(value: Any) -> str:
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


def _describe(error: Mapping[str, Any]) -> Problem:
    """Turn one pydantic error into a :class:`Problem` in the study's own words."""
    kind = error["type"]
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    value = error.get("input")
    show = kind not in ("missing", "extra_forbidden") and not isinstance(value, dict)
    shown = _show(value)
    if loc and loc[-1] == "[key]":  # a dict key failed (e.g. executor.slurm.jobs.<kind>)
        loc = loc[:-1]
    if kind in ("atlasbench", _CROSS):
        message = ctx.get("message", error["msg"])
        if "shown" in ctx:
            shown = ctx["shown"]
    elif kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
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


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The field names of the model found at ``loc`` inside a Study, or [] if none."""
    tp: Any = Study
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


# ---------------------------------------------------------------------------------------
# Field types
# ---------------------------------------------------------------------------------------

def _duplicate_problems(items: list[Any], skip: Collection[int] = ()) -> list[tuple[tuple[str | int, ...], str, Any]]:
    first: dict[tuple[str, Any], int] = {}
    found: list[tuple[tuple[str | int, ...], str, Any]] = []
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
    if error["type"] in ("atlasbench", _CROSS):
        return InitErrorDetails(type=PydanticCustomError(error["type"], "{message}", ctx), loc=error["loc"], input=error["input"])
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
    _raise_problems("list", _duplicate_problems(result))
    return result


_T = typing.TypeVar("_T")
Unique = Annotated[_T, WrapValidator(_no_duplicates)]
"""A list whose items must differ."""


def _unique_names(items: list[Any]) -> list[Any]:
    first: dict[str, int] = {}
    found = []
    for i, item in enumerate(items):
        if item.name in first:
            found.append(((i, "name"), f"duplicate name (also at index {first[item.name]})", item.name))
        first.setdefault(item.name, i)
    _raise_problems("list", found)
    return items


def _matching(pattern: str, allowed: str) -> Any:
    """A validator accepting only strings that match ``pattern`` (``allowed`` says what it takes)."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise _custom(f"must use only {allowed}", _show(value))
        return value

    return AfterValidator(check)


Name = Annotated[str, _matching(r"^[A-Za-z0-9_-]+$", "letters, digits, '-' and '_'")]
"""A name used in file names: letters, digits, ``-`` and ``_``."""

ScenarioName = Annotated[str, _matching(r"^[A-Za-z0-9_+%.-]+$", "letters, digits and '-', '_', '+', '%', '.'")]
"""A scenario's name, read in reports and never a file name: ``limited+50%`` is one."""


def _nonempty_path(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise _custom("must be a file path, not empty text")
    return value


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """Expand ``~`` and make a relative path absolute against the study file's folder.

    Without a ``base_dir`` in the validation context (a Study built in code), a relative
    path is kept as given. Symbolic links are not followed, so file names stay as written.
    """
    path = value.expanduser()
    base = (info.context or {}).get("base_dir")
    if base is not None and not path.is_absolute():
        path = Path(os.path.normpath(Path(base) / path))
    return path


def _input_file(value: Path, info: ValidationInfo) -> Path:
    path = _resolve(value, info)
    if (info.context or {}).get("check_files"):
        if not path.exists():
            raise _custom("file not found", _show(path))
        if path.is_dir():
            raise _custom("must be a file, not a folder", _show(path))
    return path


def _input_folder(value: Path, info: ValidationInfo) -> Path:
    path = _resolve(value, info)
    if (info.context or {}).get("check_files") and not path.is_dir():
        raise _custom("folder not found" if not path.exists() else "must be a folder, not a file", _show(path))
    return path


def _output_folder(value: Path, info: ValidationInfo) -> Path:
    path = _resolve(value, info)
    if (info.context or {}).get("check_files") and path.exists() and not path.is_dir():
        raise _custom("must be a folder (a file of that name exists)", _show(path))
    return path


InputPath = Annotated[Path, BeforeValidator(_nonempty_path), AfterValidator(_input_file)]
"""An input file; relative to the study file's folder; must exist when files are checked."""

InputFolder = Annotated[Path, BeforeValidator(_nonempty_path), AfterValidator(_input_folder)]
"""An input folder; relative to the study file's folder; must exist when files are checked."""

OutputPath = Annotated[Path, BeforeValidator(_nonempty_path), AfterValidator(_output_folder)]
"""The output folder; relative to the study file's folder; need not exist."""


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, (str, os.PathLike)) else value


FragmentsList = Annotated[list[InputPath], BeforeValidator(_one_or_many), Field(min_length=1)]

Chromosome = Annotated[str, Field(min_length=1)]
"""A chromosome name; numbers in YAML (``4``, ``19``) are read as names."""


def _level(value: Any) -> int | str:
    if value == "all" and isinstance(value, str):
        return "all"
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise _custom("must be a positive whole number or 'all'", _show(value))


Level = Annotated[int | Literal["all"], PlainValidator(_level, json_schema_input_type=int | Literal["all"])]
"""A downsampling level: a positive number, or ``"all"`` for no downsampling."""

_MATCHED = re.compile(r"^matched(?:\+(\d+)%)?$")


def _scenario_cells(value: Any) -> int | str:
    if isinstance(value, str) and (value == "all" or _MATCHED.match(value)):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise _custom(
        "must be a positive whole number, 'all', 'matched' or 'matched+N%' "
        "with N a whole number of percent, e.g. 'matched+50%'",
        _show(value),
    )


ScenarioCells = Annotated[int | str, PlainValidator(_scenario_cells, json_schema_input_type=int | str)]

_FOLD_LIST = TypeAdapter(Unique[list[NonNegativeInt]])


def _test_folds(value: Any) -> list[int] | str:
    if value == "all" and isinstance(value, str):
        return "all"
    if isinstance(value, list):
        return _FOLD_LIST.validate_python(value)
    raise _custom("must be 'all' or a list of fold numbers", _show(value))


TestFolds = Annotated[list[int] | Literal["all"], PlainValidator(_test_folds, json_schema_input_type=list[int] | Literal["all"])]


def _param_value(value: Any) -> int | float | str | bool:
    if isinstance(value, (bool, int, float, str)):
        return value
    raise _custom("must be a number, text or true/false", _show(value))


ParamValue = Annotated[int | float | str | bool, PlainValidator(_param_value, json_schema_input_type=int | float | str | bool)]

_SLURM_TIME = re.compile(r"^(?:(\d+)-)?(\d+):([0-5]\d):([0-5]\d)$")


def _slurm_time(value: str) -> str:
    match = _SLURM_TIME.match(value.strip())
    if not match or (match.group(1) is not None and int(match.group(2)) >= 24):
        raise _custom("must be a time limit HH:MM:SS or D-HH:MM:SS, e.g. '02:00:00' or '1-12:00:00'", _show(value))
    return value.strip()


_MEMORY = re.compile(r"^\d+(?:\.\d+)?\s*[KMGT]i?B?$", re.IGNORECASE)


def _memory(value: str) -> str:
    if not _MEMORY.match(value.strip()):
        raise _custom("must be an amount of memory with a unit, e.g. '16GB' or '500MB'", _show(value))
    return value.strip()


SlurmTime = Annotated[str, AfterValidator(_slurm_time)]
Memory = Annotated[str, AfterValidator(_memory)]


def _keep_dup(value: str) -> str:
    if value in ("all", "auto") or (value.isdigit() and int(value) > 0):
        return value
    raise _custom("must be 'all', 'auto' or a positive whole number (MACS3 --keep-dup)", _show(value))


# ---------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------


class _Section(BaseModel):
    """Base of every config object: frozen, unknown keys rejected, docstrings documented."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
        coerce_numbers_to_str=True,  # YAML reads chromosome 4 or sample 1 as numbers
    )


class Genome(_Section):
    """The reference genome. Give ``fasta`` to train models; ``chrom_sizes`` alone is
    enough for the data layer (fragments, downsampling, pseudobulk, peak calling)."""

    fasta: InputPath | None = None
    """Genome FASTA (bgzip-compressed or plain, with a .fai index beside it)."""
    chrom_sizes: InputPath | None = None
    """Tab-separated chromosome sizes (name, length), e.g. a UCSC .chrom.sizes file."""
    name: str | None = None
    """Assembly name recorded with models and results, e.g. "mm10" or "dm6"."""
    chromosomes: Unique[list[Chromosome]] | None = Field(default=None, min_length=1)
    """Keep only these chromosomes; fragments and regions elsewhere are dropped."""
    annotation: InputPath | None = None
    """Gene annotation (GTF or GFF3) for the TSS-enrichment QC."""
    blacklist: InputPath | None = None
    """BED of regions to exclude from peaks (e.g. the ENCODE blacklist)."""

    @model_validator(mode="after")
    def _fasta_or_sizes(self) -> Genome:
        if self.fasta is None and self.chrom_sizes is None:
            raise _custom("give fasta or chrom_sizes (fasta is needed to train models)")
        return self


class Cost(_Section):
    """What a platform's data costs: library preparation per cell plus sequencing."""

    per_cell: float = Field(ge=0)
    """Library cost per cell, in ``currency`` units."""
    per_million_reads: float = Field(ge=0)
    """Sequencing cost per million reads, in ``currency`` units."""
    currency: str = Field(default="USD", min_length=1)
    """Currency of both figures; every platform of a study uses the same one."""


def _sample_name(path: Path) -> str:
    name = path.name
    for suffix in (".tsv.gz", ".tsv.bgz", ".tsv", ".gz", ".bgz"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


class Platform(_Section):
    """One scATAC-seq platform's data set, or an atlas combining several of them.

    A *sourced* platform has its own data: ``fragments``, ``cells`` and ``cost``. A
    *combined* platform gives ``union``, the names of two or more sourced platforms whose
    cells are pooled per cell type (each part optionally thinned to ``common_depth``
    first); its data and its cost come from those parts. :attr:`kind` tells which.
    """

    name: Name
    """Platform name, used in file names and result tables (e.g. "hydrop", "10x")."""
    fragments: FragmentsList | None = None
    """10x fragments files (.tsv.gz); one path or a list, e.g. one file per sample."""
    cells: InputPath | None = None
    """Cell table (TSV) with columns barcode and cell_type, plus sample when there are
    several fragments files; only the cells listed are used."""
    samples: Unique[list[Annotated[str, Field(min_length=1)]]] | None = None
    """Sample name of each fragments file, in order (the cell table's sample column);
    defaults to each file's name without .tsv.gz / .tsv.bgz / .tsv."""
    cost: Cost | None = None
    """Library and sequencing cost figures."""
    union: list[Name] | None = Field(default=None, min_length=2)
    """Combined platform: names of the sourced platforms (two or more) to pool."""
    common_depth: PositiveInt | None = None
    """Combined platform: reads per cell to thin each part to before pooling."""

    @property
    def kind(self) -> Literal["sourced", "combined"]:
        """``"combined"`` for a union of other platforms, else ``"sourced"``."""
        return "combined" if self.union is not None else "sourced"

    @property
    def sample_names(self) -> list[str]:
        """Sample name of each fragments file (given or derived); [] when combined."""
        return list(self.samples or [])

    @model_validator(mode="after")
    def _sourced_or_combined(self) -> Platform:
        found: list[tuple[tuple[str | int, ...], str, Any]] = []
        if self.union is not None:
            for field in ("fragments", "cells", "samples", "cost"):
                value = getattr(self, field)
                if value is not None:
                    found.append(
                        ((field,), "not allowed on a combined platform (one with union): "
                         "its data and cost come from its parts", _json_value(value))
                    )
        else:
            if self.common_depth is not None:
                found.append(
                    (("common_depth",), "only for a combined platform (one with union)", self.common_depth)
                )
            for field in ("fragments", "cells", "cost"):
                if getattr(self, field) is None:
                    found.append(
                        ((field,), "required for a platform with its own data "
                         "(or give union: [...] for a combined platform)", _HIDDEN)
                    )
            if self.fragments is not None:
                found.extend(self._check_samples())
        _raise_problems("Platform", found)
        return self

    def _check_samples(self) -> list[tuple[tuple[str | int, ...], str, Any]]:
        assert self.fragments is not None
        if self.samples is None:
            derived = [_sample_name(p) for p in self.fragments]
            if len(set(derived)) < len(derived):
                return [
                    (("samples",), "required: the fragments file names give the same sample "
                     "name twice; list one unique name per fragments file", _HIDDEN)
                ]
            self.__dict__["samples"] = derived  # frozen model: fill the default in once
            return []
        found: list[tuple[tuple[str | int, ...], str, Any]] = []
        if len(self.samples) != len(self.fragments):
            found.append(
                (("samples",), f"must give one name per fragments file ({len(self.fragments)})", self.samples)
            )
        return found


def _json_value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [str(v) if isinstance(v, Path) else v for v in value]
    return str(value) if isinstance(value, Path) else value


class PeakCalling(_Section):
    """MACS3 ``callpeak`` options, run on each cell type's pseudobulk of the full data.

    The defaults are those of the published protocol: ``--format BEDPE --nomodel
    --shift 73 --extsize 146 --keep-dup all -q 0.05``.
    """

    qvalue: float = Field(default=0.05, gt=0, lt=1)
    """q-value cut-off (``-q``)."""
    shift: int = 73
    """``--shift`` (with ``--nomodel``)."""
    extsize: PositiveInt = 146
    """``--extsize`` (with ``--nomodel``)."""
    input_format: Literal["BEDPE", "BED"] = "BEDPE"
    """Fragments given to MACS3 as paired ends (``BEDPE``) or as Tn5 insertion sites (``BED``)."""
    keep_dup: Annotated[str, AfterValidator(_keep_dup)] = "all"
    """``--keep-dup``: "all", "auto" or a number."""
    genome_size: PositiveInt | None = None
    """Effective genome size (``-g``); default: the sum of the chromosome sizes."""


class Regions(_Section):
    """The region set the models are trained on, shared by every grid level."""

    bed: InputPath | None = None
    """A BED of regions to use instead of calling peaks (then no MACS3 run)."""
    width: PositiveInt = 500
    """Width in bp of the consensus regions (peak summit +- width/2)."""
    peak_calling: PeakCalling = PeakCalling()
    """MACS3 options used when ``bed`` is not given."""


def _fraction(value: float | None) -> float | None:
    if value is not None and not 0 < value <= 1:
        raise _custom("must be a fraction in (0, 1], e.g. 0.03 for the top 3% of regions", _show(value))
    return value


class Targets(_Section):
    """How pseudobulk insertion counts become the regression targets (one AnnData per
    platform and grid level: obs = cell types, var = regions)."""

    window: PositiveInt | None = None
    """bp around each region centre whose insertions are counted; default: regions.width
    (the published mouse study used 1000)."""
    normalization: Literal["log1p_cpm", "cpm", "mean_cpm", "counts"] = "log1p_cpm"
    """Per cell type: log1p of counts per million, counts per million, the mean CPM
    coverage per bp of the window (CREsted's ``target="mean"``), or raw counts."""
    peak_height_top_k_percent: Annotated[float | None, AfterValidator(_fraction)] = 0.03
    """CREsted peak-height normalisation across cell types from this fraction of top
    regions (0.03 = top 3%); null disables it."""
    specificity_gini_std: float | None = Field(default=1.0, gt=0)
    """Gini threshold (standard deviations) selecting cell-type-specific regions for
    fine-tuning, as CREsted's ``filter_regions_on_specificity``; null disables it."""
    bigwig: bool = False
    """Also write CPM-normalised insertion coverage bigWigs per cell type."""


class Scenario(_Section):
    """A named grid point: one platform at one cell number and read depth, trained on
    every fold. Used for comparisons such as cells matched across platforms."""

    name: ScenarioName
    """Scenario name, unique in the study (e.g. "limited-36k", "limited+50%")."""
    platform: str
    """Name of the platform (sourced or combined) the scenario uses."""
    cells: ScenarioCells
    """A number of cells, "all", "matched" (the smallest sourced platform's cell count,
    with this platform's cell-type proportions) or "matched+N%" (N% more than that)."""
    reads_per_cell: Level = "all"
    """Mean reads per cell to thin to, or "all"."""

    @property
    def matched_extra_percent(self) -> int | None:
        """N for ``"matched+N%"`` (0 for ``"matched"``); None when cells is not matched."""
        if not isinstance(self.cells, str):
            return None
        match = _MATCHED.match(self.cells)
        if match is None:
            return None
        return int(match.group(1) or 0)


class Grid(_Section):
    """Which degraded versions of each platform's data get a model.

    With ``full_grid`` every platform is trained at every (reads_per_cell, cells) pair;
    ``scenarios`` add named grid points. Each grid point is trained once per fold and seed.
    Levels are nested: cells kept at a lower level are kept at every higher one, and so
    are reads.
    """

    reads_per_cell: Unique[list[Level]] = Field(default=["all"], min_length=1)
    """Mean reads per cell to thin each platform to; "all" keeps every read."""
    cells: Unique[list[Level]] = Field(default=["all"], min_length=1)
    """Numbers of cells to keep (stratified by cell type); "all" keeps every cell."""
    seeds: Unique[list[int]] = Field(default=[7], min_length=1)
    """Model training seeds; each grid point is trained once per seed."""
    min_cells_per_type: PositiveInt = 10
    """Cell types with fewer cells than this at a level are left out of its targets."""
    full_grid: bool = True
    """Train the cross-product platforms x reads_per_cell x cells."""
    scenarios: Annotated[list[Scenario], AfterValidator(_unique_names)] = []
    """Named scenarios, trained in addition to (or, with full_grid false, instead of) the grid."""



class Folds(_Section):
    """How regions are split into k folds; each test fold gives one model per grid point.

    Schemes: ``chromosome`` holds out whole chromosomes (given as ``groups``, or assigned
    to k groups of similar total size); ``chromosome_block`` cuts every chromosome into k
    contiguous blocks of equal length, fold i being block i of every chromosome (the
    published mouse protocol, CREsted's ``split_by_chromosome_folds``; a region belongs to
    the block holding its midpoint); ``random`` assigns regions to folds at random.
    """

    scheme: Literal["chromosome", "chromosome_block", "random"] = "chromosome"
    """Fold scheme, recorded with every result."""
    k: int = Field(default=5, ge=2)
    """Number of folds (the number of groups when groups are given)."""
    groups: list[Annotated[list[Chromosome], Field(min_length=1)]] | None = None
    """Explicit chromosome groups, one per fold (scheme chromosome only)."""
    test_folds: TestFolds = "all"
    """Folds that serve as test fold (0 to k-1), each giving one model; "all" for every fold."""
    validation: Literal["next", "same"] = "next"
    """Validation fold of test fold i: the next fold (i+1 mod k), or the test fold itself
    as in the published study."""
    seed: int = 0
    """Seed of the random scheme."""

    @model_validator(mode="after")
    def _check(self) -> Folds:
        found: list[tuple[tuple[str | int, ...], str, Any]] = []
        k = self.k
        if self.groups is not None:
            if self.scheme != "chromosome":
                found.append((("groups",), f"only for scheme 'chromosome' (scheme is {self.scheme!r})", _HIDDEN))
            elif "k" not in self.model_fields_set:
                k = len(self.groups)
                self.__dict__["k"] = k  # frozen model: k follows the groups once
            elif k != len(self.groups):
                found.append((("k",), f"must equal the number of groups ({len(self.groups)})", k))
            seen: dict[str, int] = {}
            for i, group in enumerate(self.groups):
                for j, chrom in enumerate(group):
                    if chrom in seen:
                        found.append((("groups", i, j), f"chromosome already in groups[{seen[chrom]}]", chrom))
                    seen.setdefault(chrom, i)
        if self.test_folds != "all":
            if not self.test_folds:
                found.append((("test_folds",), "must list at least one fold, or be 'all'", []))
            for i, fold in enumerate(self.test_folds):
                if fold >= k:
                    found.append((("test_folds", i), f"must be a fold number from 0 to {k - 1}", fold))
        _raise_problems("Folds", found)
        return self

    @property
    def test_fold_list(self) -> list[int]:
        """The test folds as a list of numbers."""
        return list(range(self.k)) if self.test_folds == "all" else list(self.test_folds)

    def validation_fold(self, test_fold: int) -> int:
        """The validation fold used with ``test_fold``."""
        return test_fold if self.validation == "same" else (test_fold + 1) % self.k


class Model(_Section):
    """The sequence-to-function architecture: one output per cell type."""

    architecture: Name = "dilated_cnn"
    """Architecture name in the model registry (e.g. "dilated_cnn", "deeptopic_cnn")."""
    preset: Literal["tiny", "paper"] = "tiny"
    """Width and depth preset: "tiny" trains on a CPU, "paper" is the published size (GPU)."""
    input_length: PositiveInt = 2114
    """bp of sequence the model sees, centred on each region."""
    params: dict[str, ParamValue] = {}
    """Overrides of the preset's parameters, e.g. {filters: 512, dropout: 0.5}."""


class Finetune(_Section):
    """A second training round on the cell-type-specific regions (targets.specificity_gini_std)."""

    learning_rate: float = Field(default=1e-4, gt=0)
    """Learning rate of the fine-tuning round."""
    batch_size: PositiveInt = 128
    """Batch size of the fine-tuning round."""
    max_epochs: PositiveInt = 30
    """Epoch limit of the fine-tuning round (early stopping applies)."""


class Training(_Section):
    """The training recipe (defaults follow CREsted's peak regression)."""

    loss: Literal["cosine_mse_log", "mse", "poisson"] = "cosine_mse_log"
    """Loss: CREsted's CosineMSELogLoss (profile across cell types + log height), MSE or Poisson."""
    learning_rate: float = Field(default=1e-3, gt=0)
    """Peak learning rate (AdamW)."""
    batch_size: PositiveInt = 256
    """Regions per batch."""
    max_epochs: PositiveInt = 60
    """Epoch limit."""
    early_stopping_patience: PositiveInt = 6
    """Stop after this many epochs without a better validation loss."""
    lr_plateau_patience: PositiveInt = 3
    """Multiply the learning rate by lr_plateau_factor after this many epochs without improvement."""
    lr_plateau_factor: float = Field(default=0.25, gt=0, lt=1)
    """Learning-rate factor on a plateau."""
    warmup_epochs: NonNegativeInt = 1
    """Epochs of linear learning-rate warm-up (0: none)."""
    max_shift: NonNegativeInt = 3
    """Augmentation: random shifts of the input window by up to this many bp."""
    reverse_complement: bool = True
    """Augmentation: train on reverse complements too (and average both at prediction)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train: "auto" picks CUDA when present."""
    finetune: Finetune | None = None
    """Fine-tune on cell-type-specific regions after training; null: no fine-tuning."""


class Motifs(_Section):
    """TF-MoDISco motifs of each platform's full-data model (first test fold and seed),
    matched to JASPAR (see :mod:`atlasbench.readouts.motifs`)."""

    cell_types: list[str] | None = None
    """Cell types to analyse; null for all."""
    top_regions: PositiveInt = 500
    """Most specific regions explained per cell type."""
    steps: PositiveInt = 32
    """Integrated-gradient steps."""
    max_seqlets: PositiveInt = 2000
    """Most seqlets clustered per cell type and sign."""
    leiden_runs: PositiveInt = 50
    """Leiden clustering runs of TF-MoDISco."""
    jaspar_group: str | None = None
    """JASPAR taxonomic group matched against ("insects", "vertebrates", ...); null: all of CORE."""


class Evaluation(_Section):
    """What trained models are evaluated against, besides their own test fold."""

    motifs: Motifs | None = Motifs()
    """Motif discovery on the full-data models; null to skip it."""

    enhancers: InputPath | None = None
    """Table of in vivo validated enhancers (with their target cell types, and negatives)."""
    reference_platform: str | None = None
    """Platform whose full-depth, all-cells targets serve as the common reference."""


class SlurmJobResources(_Section):
    """SLURM resources for one kind of job; a field left out keeps the executor's value."""

    partition: str | None = None
    """``--partition``."""
    account: str | None = None
    """``--account``."""
    time: SlurmTime | None = None
    """``--time``, HH:MM:SS or D-HH:MM:SS."""
    memory: Memory | None = None
    """``--mem``, e.g. "16GB"."""
    cpus: PositiveInt | None = None
    """``--cpus-per-task``."""
    gpus: NonNegativeInt | None = None
    """GPUs per job (``--gres=gpu:N``)."""


class SlurmResources(_Section):
    """SLURM resources of every grid job, with optional overrides per kind of job
    (e.g. GPUs for ``train`` only)."""

    partition: str | None = None
    """``--partition``; the cluster's default when null."""
    account: str | None = None
    """``--account``; the user's default when null."""
    time: SlurmTime = "02:00:00"
    """``--time``, HH:MM:SS or D-HH:MM:SS."""
    memory: Memory = "16GB"
    """``--mem``, e.g. "16GB"."""
    cpus: PositiveInt = 4
    """``--cpus-per-task``."""
    gpus: NonNegativeInt = 0
    """GPUs per job (``--gres=gpu:N``)."""
    jobs: dict[JobKind, SlurmJobResources] = {}
    """Overrides per job kind: ingest, targets, train, evaluate, explain, report."""

    def for_job(self, kind: str) -> SlurmResources:
        """The resources of one job kind: these defaults with its overrides applied."""
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r}; expected one of {', '.join(JOB_KINDS)}")
        override = self.jobs.get(kind)  # type: ignore[call-overload]
        update = {} if override is None else override.model_dump(exclude_none=True)
        return self.model_copy(update={**update, "jobs": {}})


class Executor(_Section):
    """Where the grid's jobs run: in this process (``local``), on a Dask cluster (a local
    one with n_workers, or an existing scheduler at ``address``) or as SLURM jobs."""

    kind: Literal["local", "dask", "slurm"] = "local"
    """Executor: "local", "dask" or "slurm" (``atlasbench run --executor`` overrides it)."""
    address: str | None = None
    """dask: address of an existing scheduler (e.g. "tcp://10.0.0.1:8786"); otherwise a
    LocalCluster is started."""
    n_workers: PositiveInt = 1
    """dask: workers of the LocalCluster."""
    threads_per_worker: PositiveInt = 1
    """dask: threads per worker of the LocalCluster."""
    slurm: SlurmResources | None = None
    """slurm: resources of the SLURM jobs; null uses the defaults."""

    def slurm_resources(self, job_kind: str) -> SlurmResources:
        """SLURM resources for one job kind (defaults when no ``slurm`` section is given)."""
        return (self.slurm or SlurmResources()).for_job(job_kind)


class Study(_Section):
    """A whole benchmark study, as read from its YAML file. See the module docstring."""

    name: Name
    """Study name (letters, digits, '-' and '_'), used in report titles and file names."""
    description: str | None = None
    """Free text shown in the report."""
    output: OutputPath
    """Folder for every artefact of the study; created when needed."""
    seed: int = 7
    """Seed of data downsampling and of anything else random outside model training."""
    genome: Genome
    """Reference genome."""
    platforms: list[Platform] = Field(min_length=1)
    """Platforms to compare (names unique)."""
    regions: Regions = Regions()
    """Region set (peaks or a given BED)."""
    targets: Targets = Targets()
    """Regression targets."""
    grid: Grid = Grid()
    """Grid of read depths, cell numbers, seeds and named scenarios."""
    folds: Folds = Folds()
    """Fold scheme."""
    model: Model = Model()
    """Model architecture."""
    training: Training = Training()
    """Training recipe."""
    evaluation: Evaluation = Evaluation()
    """Evaluation sets."""
    executor: Executor = Executor()
    """Where jobs run."""
    truth: InputFolder | None = None
    """Ground truth of a simulated atlas (the ``truth`` folder ``atlasbench simulate``
    writes); the report sets each result beside it."""

    @model_validator(mode="after")
    def _cross_checks(self) -> Study:
        _raise_problems("Study", _cross_references(self.model_dump()), kind=_CROSS)
        return self

    # -- access ---------------------------------------------------------------------

    def platform(self, name: str) -> Platform:
        """The platform called ``name`` (KeyError if there is none)."""
        for platform in self.platforms:
            if platform.name == name:
                return platform
        raise KeyError(name)

    @property
    def sourced_platforms(self) -> list[Platform]:
        """Platforms with their own data, in file order."""
        return [p for p in self.platforms if p.kind == "sourced"]

    @property
    def combined_platforms(self) -> list[Platform]:
        """Platforms that are unions of others, in file order."""
        return [p for p in self.platforms if p.kind == "combined"]

    @property
    def target_window(self) -> int:
        """bp counted around each region centre: targets.window, else regions.width."""
        return self.targets.window if self.targets.window is not None else self.regions.width

    def input_paths(self) -> dict[str, Path]:
        """Every input file of the study by field path, e.g. ``platforms[0].cells``."""
        found: dict[str, Path] = {}
        for field in ("fasta", "chrom_sizes", "annotation", "blacklist"):
            value = getattr(self.genome, field)
            if value is not None:
                found[f"genome.{field}"] = value
        for i, platform in enumerate(self.platforms):
            for j, path in enumerate(platform.fragments or []):
                found[f"platforms[{i}].fragments[{j}]"] = path
            if platform.cells is not None:
                found[f"platforms[{i}].cells"] = platform.cells
        if self.regions.bed is not None:
            found["regions.bed"] = self.regions.bed
        if self.evaluation.enhancers is not None:
            found["evaluation.enhancers"] = self.evaluation.enhancers
        return found

    # -- serialisation --------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The study as plain JSON-able data (paths as absolute strings when loaded from
        a file); :func:`parse_study` turns it back into an equal Study."""
        return self.model_dump(mode="json")

    def hash_of(self, *section_names: str) -> str:
        """sha256 (hex) of the canonical JSON of some sections, for naming artefacts.

        An artefact made from, say, the genome, platforms and regions is stored under
        ``hash_of("genome", "platforms", "regions")``, so it is rebuilt when one of
        those sections changes and reused otherwise. Key order in the YAML file does not
        matter. A name may be dotted (``"training.finetune"``); no names hash the whole
        study.

        Parameters
        ----------
        section_names
            Top-level field names (or dotted paths) of the study.

        Returns
        -------
        str
            64 hex digits.
        """
        data = self.to_dict()
        if not section_names:
            chosen: Any = data
        else:
            chosen = {}
            for dotted in section_names:
                value: Any = data
                for part in dotted.split("."):
                    if not isinstance(value, dict) or part not in value:
                        raise ValueError(f"unknown study section {dotted!r}; top-level sections: {', '.join(data)}")
                    value = value[part]
                chosen[dotted] = value
        text = json.dumps(chosen, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()


def _strip_chr(name: str) -> str:
    return name[3:] if name.lower().startswith("chr") else name


def _cross_references(data: Any) -> list[tuple[tuple[str | int, ...], str, Any]]:
    """Checks across sections (platform names and references, currencies, ...).

    Works on the raw mapping as well as on a validated study's dump, tolerating values of
    the wrong type (those are reported by field validation), so a study with a type error
    in one place still gets its cross-reference mistakes reported in the same message.
    """
    found: list[tuple[tuple[str | int, ...], str, Any]] = []
    if not isinstance(data, Mapping):
        return found
    platforms = data.get("platforms")
    platforms = platforms if isinstance(platforms, list) else []
    names: dict[str, int] = {}
    combined: set[str] = set()
    for i, platform in enumerate(platforms):
        if not isinstance(platform, Mapping) or not isinstance(platform.get("name"), str):
            continue
        name = platform["name"]
        if name in names:
            found.append((("platforms", i, "name"), f"duplicate platform name (also platforms[{names[name]}])", name))
        else:
            names[name] = i
            if platform.get("union") is not None:
                combined.add(name)
    defined = ", ".join(names) or "none"
    sourced = ", ".join(n for n in names if n not in combined) or "none"

    currency: str | None = None
    for i, platform in enumerate(platforms):
        if not isinstance(platform, Mapping):
            continue
        union = platform.get("union")
        if isinstance(union, list):
            seen: set[str] = set()
            for j, part in enumerate(union):
                if not isinstance(part, str):
                    continue
                loc: tuple[str | int, ...] = ("platforms", i, "union", j)
                if part == platform.get("name"):
                    found.append((loc, "a combined platform cannot include itself", part))
                elif part not in names:
                    found.append((loc, f"must name a sourced platform of this study ({sourced})", part))
                elif part in combined:
                    found.append((loc, f"{part!r} is itself combined; list its parts instead ({sourced})", part))
                elif part in seen:
                    found.append((loc, "listed twice", part))
                seen.add(part)
        cost = platform.get("cost")
        if isinstance(cost, Mapping):
            this = cost.get("currency", "USD")
            if isinstance(this, str):
                if currency is None:
                    currency = this
                elif this != currency:
                    found.append(
                        (("platforms", i, "cost", "currency"),
                         f"must be the same for every platform ({currency!r}) so costs compare", this)
                    )

    def check_platform(loc: tuple[str | int, ...], value: Any) -> None:
        if isinstance(value, str) and value not in names:
            found.append((loc, f"must name a platform of this study ({defined})", value))

    grid = data.get("grid")
    if isinstance(grid, Mapping) and grid.get("full_grid") is False and not grid.get("scenarios"):
        found.append((("grid", "scenarios"), "must list at least one scenario when full_grid is false", _HIDDEN))
    if isinstance(grid, Mapping) and isinstance(grid.get("scenarios"), list):
        for i, scenario in enumerate(grid["scenarios"]):
            if isinstance(scenario, Mapping):
                check_platform(("grid", "scenarios", i, "platform"), scenario.get("platform"))
    evaluation = data.get("evaluation")
    if isinstance(evaluation, Mapping):
        check_platform(("evaluation", "reference_platform"), evaluation.get("reference_platform"))

    training, targets = data.get("training"), data.get("targets")
    if (
        isinstance(training, Mapping)
        and training.get("finetune") is not None
        and isinstance(targets, Mapping)
        and "specificity_gini_std" in targets
        and targets["specificity_gini_std"] is None
    ):
        found.append(
            (("training", "finetune"), "needs targets.specificity_gini_std (it selects the "
             "fine-tuning regions), which is null", _HIDDEN)
        )

    genome, folds = data.get("genome"), data.get("folds")
    chromosomes = genome.get("chromosomes") if isinstance(genome, Mapping) else None
    if isinstance(chromosomes, list) and isinstance(folds, Mapping):
        kept = {_strip_chr(str(c)) for c in chromosomes}
        groups = folds.get("groups")
        if isinstance(groups, list):
            for i, group in enumerate(groups):
                for j, chrom in enumerate(group if isinstance(group, list) else []):
                    if isinstance(chrom, (str, int)) and _strip_chr(str(chrom)) not in kept:
                        found.append((("folds", "groups", i, j), "chromosome not in genome.chromosomes", chrom))
        elif folds.get("scheme", "chromosome") == "chromosome":
            k = folds.get("k", 5)
            if isinstance(k, int) and not isinstance(k, bool) and k > len(kept):
                found.append(
                    (("folds", "k"), f"must be at most the number of chromosomes kept "
                     f"({len(kept)}, genome.chromosomes) to hold out whole chromosomes", k)
                )
    return found


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------

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

    def construct_yaml_int(self, node: yaml.Node) -> int:  # type: ignore[override]
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
            yield from _placeholders(value, loc + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _placeholders(value, loc + (i,))


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
    return {_format_loc(loc): hint for loc, hint in _placeholders(data)}


def _document_order(data: Mapping[str, Any]) -> Any:
    """A sort key putting problems in the order their fields appear in the study."""
    seen: dict[tuple[str | int, ...], int] = {}

    def walk(value: Any, loc: tuple[str | int, ...]) -> None:
        seen[loc] = len(seen)
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, loc + (key,))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, loc + (i,))

    walk(data, ())

    def key(problem: Problem) -> tuple[int, int]:
        loc = problem.loc
        while loc not in seen:  # a missing field: place it with its parent
            loc = loc[:-1]
        return seen[loc], len(loc) - len(problem.loc)

    return key


def _under(loc: tuple[str | int, ...], prefixes: list[tuple[str | int, ...]]) -> bool:
    return any(loc[: len(p)] == p for p in prefixes)


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
        raise StudyError(source, [Problem((), f"the study must be a mapping of sections (got {_show(data)})")])
    placeholders = list(_placeholders(data))
    fill_in = [loc for loc, _ in placeholders]
    context = {"base_dir": Path(base_dir).expanduser().resolve(), "check_files": check_files}
    try:
        study = Study.model_validate(data, context=context)
        errors: list[dict[str, Any]] = []
    except ValidationError as exc:
        study = None
        errors = list(exc.errors())
    problems = [_describe(e) for e in errors]
    if errors and any(e["type"] != _CROSS for e in errors):
        # Some field failed, so Study's own cross-section checks did not run: run them on
        # the raw data so that their mistakes are listed too.
        problems += [_describe({"type": _CROSS, "loc": loc, "msg": msg, "input": value, "ctx": {"message": msg}})
                     for loc, msg, value in _cross_references(data)]
    if fill_in:
        problems = [p for p in problems if not _under(p.loc, fill_in) or p.message.startswith("unknown key")]
    problems.sort(key=_document_order(data))
    if problems or fill_in:
        hints = {_format_loc(loc): hint for loc, hint in placeholders}
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
        data = yaml.load(text, Loader=_StudyLoader)  # noqa: S506 - a SafeLoader subclass
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


# ---------------------------------------------------------------------------------------
# Example
# ---------------------------------------------------------------------------------------

_EXAMPLE = """\
# An atlasbench study: which platform, how many cells and how many reads per cell
# give training data good enough for sequence-to-function models?
# Paths are relative to this file's folder. Sections left out take their defaults.
name: example
description: HyDrop v2 vs 10x on a small fly atlas
output: results                 # every artefact, named by a hash of its config
seed: 7                         # downsampling seed

genome:
  fasta: genome/dm6.fa          # FASTA with .fai; chrom_sizes alone serves the data layer
  name: dm6
  chromosomes: [2L, 2R, 3L, 3R, X]

platforms:
  - name: hydrop
    fragments: data/hydrop.fragments.tsv.gz
    cells: data/hydrop.cells.tsv        # columns: barcode, cell_type
    cost: {per_cell: 0.049, per_million_reads: 2.875, currency: USD}
  - name: tenx
    fragments:                          # one file per sample ...
      - data/tenx_rep1.fragments.tsv.gz
      - data/tenx_rep2.fragments.tsv.gz
    samples: [rep1, rep2]               # ... named as in the cell table's sample column
    cells: data/tenx.cells.tsv          # columns: barcode, cell_type, sample
    cost: {per_cell: 0.471, per_million_reads: 2.875}
  - name: pooled                        # a combined atlas: both platforms' cells pooled
    union: [hydrop, tenx]
    common_depth: 20000                 # thin each part to 20k reads per cell first

regions:
  width: 500                    # MACS3 peaks per cell type -> 500 bp consensus regions
  peak_calling: {qvalue: 0.05}

targets:
  window: 1000                  # insertions counted over the central 1 kb
  normalization: log1p_cpm
  peak_height_top_k_percent: 0.03

grid:
  reads_per_cell: [5000, 20000, all]
  cells: [200, all]
  seeds: [7]
  scenarios:                    # named comparisons, trained on every fold
    - {name: matched, platform: hydrop, cells: matched}
    - {name: matched-plus-50, platform: hydrop, cells: matched+50%, reads_per_cell: 20000}

folds:
  scheme: chromosome            # or chromosome_block (the published protocol) or random
  groups: [[2L], [2R], [3L], [3R], [X]]
  test_folds: all
  validation: next

model:
  architecture: dilated_cnn
  preset: tiny                  # "paper" for the published width (GPU)
  input_length: 2114
  params: {}                    # preset overrides, e.g. {filters: 512}

training:
  learning_rate: 1e-3
  batch_size: 256
  max_epochs: 20
  finetune: {learning_rate: 1e-4, batch_size: 128}

evaluation:
  reference_platform: tenx

executor:
  kind: local                   # or dask, or slurm (resources below)
  slurm:
    partition: batch
    time: "04:00:00"
    memory: 16GB
    jobs:
      train: {partition: gpu, gpus: 1, time: "12:00:00"}
"""


def example_study_yaml() -> str:
    """A small commented study touching every section; valid once its files exist.

    Returns
    -------
    str
        YAML text (its paths are relative: ``genome/dm6.fa`` and ``data/...``).
    """
    return _EXAMPLE
