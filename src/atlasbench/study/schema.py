"""The study file's schema: typed, frozen sections validated into a :class:`Study`.

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

Each section is a :class:`~atlasbench.settings.Settings` model whose validators check
its own fields and, where fields depend on each other, the section as a whole; a section
a lower layer uses is defined there and composed here (the training recipe,
:class:`~atlasbench.models.settings.Training`). :func:`cross_references` checks what
spans sections (platform names, currencies, fold groups against the genome's
chromosomes). Validators report mistakes in the study's own words
(:mod:`atlasbench.study.problems`); :mod:`atlasbench.study.loader` reads a study file into
a :class:`Study`, and :func:`atlasbench.study.example.example_study_yaml` is a commented
example of every section.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    NonNegativeInt,
    PlainValidator,
    PositiveInt,
    TypeAdapter,
    ValidationInfo,
    model_validator,
)

from atlasbench.data.folds import default_validation
from atlasbench.data.ingest import default_sample_name
from atlasbench.data.levels import ReadsUnit
from atlasbench.io.cellranger import read_sequenced_read_pairs
from atlasbench.io.genome import match_chromosomes
from atlasbench.io.genome_fetch import FetchedGenome, cached_genome, fetch_genome, is_url
from atlasbench.models.settings import Training
from atlasbench.settings import Settings
from atlasbench.study.problems import (
    CROSS_REFERENCE,
    HIDDEN,
    Found,
    Unique,
    custom_error,
    raise_problems,
    show_value,
    unique_names,
)

__all__ = [
    "JOB_KINDS",
    "Cost",
    "Evaluation",
    "Executor",
    "Folds",
    "Genome",
    "Grid",
    "Model",
    "Motifs",
    "PeakCalling",
    "Platform",
    "Regions",
    "Scenario",
    "SlurmJobResources",
    "SlurmResources",
    "Study",
    "Targets",
    "cross_references",
]

JOB_KINDS: tuple[str, ...] = ("ingest", "peaks", "targets", "train", "evaluate", "explain", "report")
"""Kinds of grid jobs that may get their own SLURM resources (``executor.slurm.jobs``)."""

JobKind = Literal["ingest", "peaks", "targets", "train", "evaluate", "explain", "report"]


# ---------------------------------------------------------------------------------------
# Field types
# ---------------------------------------------------------------------------------------


def _matching(pattern: str, allowed: str) -> Any:
    """A validator accepting only strings that match ``pattern`` (``allowed`` says what it takes)."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise custom_error(f"must use only {allowed}", show_value(value))
        return value

    return AfterValidator(check)


Name = Annotated[str, _matching(r"^[A-Za-z0-9_-]+$", "letters, digits, '-' and '_'")]
"""A name used in file names: letters, digits, ``-`` and ``_``."""

ScenarioName = Annotated[str, _matching(r"^[A-Za-z0-9_+%.-]+$", "letters, digits and '-', '_', '+', '%', '.'")]
"""A scenario's name, read in reports and never a file name: ``limited+50%`` is one."""


def _nonempty_path(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise custom_error("must be a file path, not empty text")
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
            raise custom_error("file not found", show_value(path))
        if path.is_dir():
            raise custom_error("must be a file, not a folder", show_value(path))
    return path


def _input_folder(value: Path, info: ValidationInfo) -> Path:
    path = _resolve(value, info)
    if (info.context or {}).get("check_files") and not path.is_dir():
        message = "folder not found" if not path.exists() else "must be a folder, not a file"
        raise custom_error(message, show_value(path))
    return path


def _output_folder(value: Path, info: ValidationInfo) -> Path:
    path = _resolve(value, info)
    if (info.context or {}).get("check_files") and path.exists() and not path.is_dir():
        raise custom_error("must be a folder (a file of that name exists)", show_value(path))
    return path


InputPath = Annotated[Path, BeforeValidator(_nonempty_path), AfterValidator(_input_file)]
"""An input file; relative to the study file's folder; must exist when files are checked."""

InputFolder = Annotated[Path, BeforeValidator(_nonempty_path), AfterValidator(_input_folder)]
"""An input folder; relative to the study file's folder; must exist when files are checked."""

OutputPath = Annotated[Path, BeforeValidator(_nonempty_path), AfterValidator(_output_folder)]
"""The output folder; relative to the study file's folder; need not exist."""


def _read_pairs_or_summary(value: Any, info: ValidationInfo) -> int | Path:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # YAML's 4.19e8
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, (str, os.PathLike)):
        return _input_file(Path(_nonempty_path(value)), info)
    raise custom_error(
        "must be a positive whole number (read pairs sequenced) or the path of a Cell Ranger ATAC / ARC summary.csv",
        show_value(value),
    )


SequencedReads = Annotated[int | Path, PlainValidator(_read_pairs_or_summary, json_schema_input_type=int | str)]
"""Read pairs sequenced: a positive number, or an input file (a Cell Ranger ``summary.csv``)."""


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
    raise custom_error("must be a positive whole number or 'all'", show_value(value))


Level = Annotated[int | Literal["all"], PlainValidator(_level, json_schema_input_type=int | Literal["all"])]
"""A downsampling level: a positive number, or ``"all"`` for no downsampling."""

_MATCHED = re.compile(r"^matched(?:\+(\d+)%)?$")


def _scenario_cells(value: Any) -> int | str:
    if isinstance(value, str) and (value == "all" or _MATCHED.match(value)):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise custom_error(
        "must be a positive whole number, 'all', 'matched' or 'matched+N%' "
        "with N a whole number of percent, e.g. 'matched+50%'",
        show_value(value),
    )


ScenarioCells = Annotated[int | str, PlainValidator(_scenario_cells, json_schema_input_type=int | str)]

_FOLD_LIST = TypeAdapter(Unique[list[NonNegativeInt]])


def _test_folds(value: Any) -> list[int] | str:
    if value == "all" and isinstance(value, str):
        return "all"
    if isinstance(value, list):
        return _FOLD_LIST.validate_python(value)
    raise custom_error("must be 'all' or a list of fold numbers", show_value(value))


TestFolds = Annotated[
    list[int] | Literal["all"], PlainValidator(_test_folds, json_schema_input_type=list[int] | Literal["all"])
]


def _param_value(value: Any) -> int | float | str | bool:
    if isinstance(value, (bool, int, float, str)):
        return value
    raise custom_error("must be a number, text or true/false", show_value(value))


ParamValue = Annotated[
    int | float | str | bool, PlainValidator(_param_value, json_schema_input_type=int | float | str | bool)
]

_SLURM_TIME = re.compile(r"^(?:(\d+)-)?(\d+):([0-5]\d):([0-5]\d)$")


def _slurm_time(value: str) -> str:
    match = _SLURM_TIME.match(value.strip())
    if not match or (match.group(1) is not None and int(match.group(2)) >= 24):
        raise custom_error(
            "must be a time limit HH:MM:SS or D-HH:MM:SS, e.g. '02:00:00' or '1-12:00:00'", show_value(value)
        )
    return value.strip()


_MEMORY = re.compile(r"^\d+(?:\.\d+)?\s*[KMGT]i?B?$", re.IGNORECASE)


def _memory(value: str) -> str:
    if not _MEMORY.match(value.strip()):
        raise custom_error("must be an amount of memory with a unit, e.g. '16GB' or '500MB'", show_value(value))
    return value.strip()


SlurmTime = Annotated[str, AfterValidator(_slurm_time)]
Memory = Annotated[str, AfterValidator(_memory)]


def _keep_dup(value: str) -> str:
    if value in ("all", "auto") or (value.isdigit() and int(value) > 0):
        return value
    raise custom_error("must be 'all', 'auto' or a positive whole number (MACS3 --keep-dup)", show_value(value))


# ---------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------


class Genome(Settings):
    """The reference genome: files on disk, or an assembly fetched by name or URL.

    Give ``fasta`` to train models; ``chrom_sizes`` alone is enough for the data layer
    (fragments, downsampling, pseudobulk, peak calling). Or let atlasbench fetch the
    genome once into a cache shared by your studies (through genomepy): ``name`` alone
    (``genome: {name: mm10}``) fetches that assembly from GENCODE, Ensembl, UCSC or NCBI,
    ``url`` fetches a FASTA from the web; the fetched FASTA then serves as ``fasta``."""

    fasta: InputPath | None = None
    """Genome FASTA (bgzip-compressed or plain, with a .fai index beside it)."""
    chrom_sizes: InputPath | None = None
    """Tab-separated chromosome sizes (name, length), e.g. a UCSC .chrom.sizes file."""
    name: str | None = None
    """Assembly name recorded with models and results, e.g. "mm10" or "dm6". Given alone
    (no fasta, chrom_sizes or url), the assembly to fetch, as the providers spell it
    (mm10, hg38, dm6, GRCm39)."""
    url: str | None = None
    """URL (https, http or ftp) of a FASTA (plain, gzip or bgzip) to fetch instead of
    ``fasta``, e.g. UCSC's .../goldenPath/dm6/bigZips/dm6.fa.gz."""
    provider: Literal["gencode", "ensembl", "ucsc", "ncbi"] | None = None
    """Fetch ``name`` from this provider only; default: the first that has it, in the
    order gencode, ensembl, ucsc, ncbi."""
    cache: OutputPath | None = None
    """Folder of fetched genomes, each downloaded once (default: the environment variable
    ATLASBENCH_GENOME_CACHE, else ~/.cache/atlasbench/genomes); on a cluster, one that
    the compute nodes can read."""
    chromosomes: Unique[list[Chromosome]] | None = Field(default=None, min_length=1)
    """Keep only these chromosomes; fragments and regions elsewhere are dropped."""
    unknown_contigs: Literal["drop", "error"] = "drop"
    """Fragments on contigs the genome lacks (e.g. unplaced ``GL456210.1``): "drop" leaves
    them out and lists them per contig in the ingest store's dropped_contigs.tsv;
    "error" stops ingest (and makes them a ``validate`` problem)."""
    annotation: InputPath | None = None
    """Gene annotation (GTF or GFF3) for the TSS-enrichment QC."""
    blacklist: InputPath | None = None
    """BED of regions to exclude from peaks (e.g. the ENCODE blacklist)."""

    @model_validator(mode="after")
    def _fasta_or_sizes(self) -> Genome:
        if self.fasta is None and self.chrom_sizes is None and self.url is None and self.name is None:
            raise custom_error(
                "give fasta or chrom_sizes (fasta is needed to train models), or an assembly name "
                "(e.g. name: mm10) or url to fetch"
            )
        found: Found = []
        if self.name is not None and is_url(self.name):
            found.append((("name",), "is a URL: give it as genome.url (name is the assembly's name, e.g. dm6)", HIDDEN))
        if self.url is not None:
            if not is_url(self.url):
                found.append((("url",), "must be an https://, http:// or ftp:// URL", show_value(self.url)))
            for field in ("fasta", "chrom_sizes"):
                if getattr(self, field) is not None:
                    found.append(((field,), "not allowed with url (the FASTA is fetched from url)", HIDDEN))
        fetched = self.url is not None or (self.fasta is None and self.chrom_sizes is None)
        if self.provider is not None and (self.url is not None or not fetched):
            found.append((("provider",), "only for a genome fetched by name (name alone, no fasta or url)", HIDDEN))
        if self.cache is not None and not fetched:
            found.append((("cache",), "only for a genome fetched by name or url (no fasta or chrom_sizes)", HIDDEN))
        raise_problems("Genome", found)
        return self

    @property
    def remote(self) -> str | None:
        """The URL or assembly name to fetch, or None for a genome given as files."""
        if self.url is not None:
            return self.url
        if self.fasta is None and self.chrom_sizes is None:
            return self.name
        return None

    def cached(self) -> FetchedGenome | None:
        """The fetched genome if the cache holds it (no network access), else None; None
        also for a genome given as files."""
        if self.remote is None:
            return None
        return cached_genome(self.remote, self.cache, self.provider)

    def fetch(self) -> FetchedGenome | None:
        """The fetched genome, downloaded into the cache the first time
        (:func:`atlasbench.io.genome_fetch.fetch_genome`); None for a genome given as files."""
        if self.remote is None:
            return None
        return fetch_genome(self.remote, self.cache, self.provider)


class Cost(Settings):
    """What a platform's data costs: library preparation per cell plus sequencing."""

    per_cell: float = Field(ge=0)
    """Library cost per cell, in ``currency`` units."""
    per_million_reads: float = Field(ge=0)
    """Sequencing cost per million reads, in ``currency`` units."""
    currency: str = Field(default="USD", min_length=1)
    """Currency of both figures; every platform of a study uses the same one."""


class Platform(Settings):
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
    cell_calls: FragmentsList | None = None
    """Cell Ranger's per-barcode table of each fragments file, in the same order (ATAC
    ``outs/singlecell.csv``, ARC ``outs/per_barcode_metrics.csv``): only the barcodes it
    called cells (``is__cell_barcode`` / ``is_cell`` = 1) are used, with their type from
    ``cells``; annotated barcodes it did not call are left out, with a warning."""
    samples: Unique[list[Annotated[str, Field(min_length=1)]]] | None = None
    """Sample name of each fragments file, in order (the cell table's sample column);
    defaults to each file's name without .tsv.gz / .tsv.bgz / .tsv."""
    cost: Cost | None = None
    """Library and sequencing cost figures."""
    sequenced_reads: SequencedReads | None = None
    """Read pairs sequenced for the whole library: a number, or the path of Cell Ranger
    ATAC's or ARC's ``summary.csv`` (its ``Sequenced read pairs`` / ``ATAC Sequenced read
    pairs`` column is read). Gives the *usable fraction*, the read pairs in the annotated
    cells' fragments per read pair sequenced, shown in QC; the cost model then charges
    the sequenced reads a design needs. Optional: without it reads are counted in the
    fragments (usable read pairs)."""
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

    def sequenced_read_pairs(self) -> int | None:
        """Read pairs sequenced (``sequenced_reads``, its ``summary.csv`` read), or None."""
        if self.sequenced_reads is None:
            return None
        if isinstance(self.sequenced_reads, Path):
            return read_sequenced_read_pairs(self.sequenced_reads)
        return int(self.sequenced_reads)

    @model_validator(mode="after")
    def _sourced_or_combined(self) -> Platform:
        found: Found = []
        if self.union is not None:
            for field in ("fragments", "cells", "cell_calls", "samples", "cost", "sequenced_reads"):
                value = getattr(self, field)
                if value is not None:
                    found.append(
                        (
                            (field,),
                            "not allowed on a combined platform (one with union): "
                            "its data and cost come from its parts",
                            _json_value(value),
                        )
                    )
        else:
            if self.common_depth is not None:
                found.append((("common_depth",), "only for a combined platform (one with union)", self.common_depth))
            for field in ("fragments", "cells", "cost"):
                if getattr(self, field) is None:
                    found.append(
                        (
                            (field,),
                            "required for a platform with its own data (or give union: [...] for a combined platform)",
                            HIDDEN,
                        )
                    )
            if self.fragments is not None:
                found.extend(self._check_samples())
                found.extend(self._check_cell_calls())
        raise_problems("Platform", found)
        return self

    def _check_samples(self) -> Found:
        assert self.fragments is not None
        if self.samples is None:
            derived = [default_sample_name(p) for p in self.fragments]
            if len(set(derived)) < len(derived):
                return [
                    (
                        ("samples",),
                        "required: the fragments file names give the same sample "
                        "name twice; list one unique name per fragments file",
                        HIDDEN,
                    )
                ]
            self.__dict__["samples"] = derived  # frozen model: fill the default in once
            return []
        found: Found = []
        if len(self.samples) != len(self.fragments):
            found.append((("samples",), f"must give one name per fragments file ({len(self.fragments)})", self.samples))
        return found

    def _check_cell_calls(self) -> Found:
        if self.cell_calls is None or self.fragments is None or len(self.cell_calls) == len(self.fragments):
            return []
        return [
            (
                ("cell_calls",),
                f"must give one per-barcode table per fragments file ({len(self.fragments)}), in the same order",
                [str(p) for p in self.cell_calls],
            )
        ]


def _json_value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [str(v) if isinstance(v, Path) else v for v in value]
    return str(value) if isinstance(value, Path) else value


class PeakCalling(Settings):
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
    """Effective genome size (``-g``); default: MACS's value for a known ``genome.name``
    (hs 2.7e9, mm 1.87e9, ce 9e7, dm 1.2e8), else the non-N bases of the FASTA over the
    study's chromosomes, else (chrom.sizes only) their sum, with a warning."""


class Regions(Settings):
    """The region set the models are trained on, shared by every grid level."""

    bed: InputPath | None = None
    """A BED of regions to use instead of calling peaks (then no MACS3 run)."""
    width: PositiveInt = 500
    """Width in bp of the consensus regions (peak summit +- width/2)."""
    peak_calling: PeakCalling = PeakCalling()
    """MACS3 options used when ``bed`` is not given."""


def _fraction(value: float | None) -> float | None:
    if value is not None and not 0 < value <= 1:
        raise custom_error("must be a fraction in (0, 1], e.g. 0.03 for the top 3% of regions", show_value(value))
    return value


class Targets(Settings):
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
    """Also write CPM-normalised bigWigs per cell type at every trained level and the full
    data, of two kinds: Tn5 cut sites and fragment coverage (``bigwig/<level>/<kind>/``)."""


class Scenario(Settings):
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
    """Mean reads per cell to thin to (in ``grid.reads_unit``), or "all"."""

    @property
    def matched_extra_percent(self) -> int | None:
        """N for ``"matched+N%"`` (0 for ``"matched"``); None when cells is not matched."""
        if not isinstance(self.cells, str):
            return None
        match = _MATCHED.match(self.cells)
        if match is None:
            return None
        return int(match.group(1) or 0)


class Grid(Settings):
    """Which degraded versions of each platform's data get a model.

    With ``full_grid`` every platform is trained at every (reads_per_cell, cells) pair;
    ``scenarios`` add named grid points. Each grid point is trained once per fold and seed.
    Levels are nested: cells kept at a lower level are kept at every higher one, and so
    are reads.
    """

    reads_per_cell: Unique[list[Level]] = Field(default=["all"], min_length=1)
    """Mean reads per cell to thin each platform to, in ``reads_unit``; "all" keeps every read."""
    reads_unit: ReadsUnit = "usable"
    """What the reads-per-cell levels (here and in scenarios) count: "usable", the read
    pairs in the cells' fragments (the fragments file's count column), or "sequenced",
    read pairs as the sequencer counted them, the published study's unit (it thinned the
    FASTQ files). With "sequenced" every sourced platform gives ``sequenced_reads``; a
    level of R sequenced read pairs per cell keeps R x the platform's usable fraction
    usable read pairs per cell, so one level asks each platform for the same sequencing."""
    cells: Unique[list[Level]] = Field(default=["all"], min_length=1)
    """Numbers of cells to keep (stratified by cell type); "all" keeps every cell."""
    seeds: Unique[list[int]] = Field(default=[7], min_length=1)
    """Model training seeds; each grid point is trained once per seed."""
    min_cells_per_type: PositiveInt = 10
    """Cell types with fewer cells than this at a level are left out of its targets."""
    full_grid: bool = True
    """Train the cross-product platforms x reads_per_cell x cells."""
    scenarios: Annotated[list[Scenario], AfterValidator(unique_names)] = Field(default=[])
    """Named scenarios, trained in addition to (or, with full_grid false, instead of) the grid."""


class Folds(Settings):
    """How regions are split into k folds; each test fold gives one model per grid point.

    Schemes: ``chromosome`` holds out whole chromosomes (given as ``groups``, or assigned
    to k groups of similar total size); ``chromosome_block`` cuts every chromosome's
    regions, in genomic order, into k contiguous blocks of equal count, fold i being block
    i of every chromosome (the published mouse protocol, its ``_train_val_split.py``; the
    first n mod k blocks hold one region more, as numpy's ``array_split``);
    ``chromosome_block_length`` cuts every chromosome into k blocks of equal length instead
    (an atlasbench variant; a region belongs to the block holding its midpoint);
    ``random`` assigns regions to folds at random (the published fly protocol).
    """

    scheme: Literal["chromosome", "chromosome_block", "chromosome_block_length", "random"] = "chromosome"
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
        found: Found = []
        k = self.k
        if self.groups is not None:
            if self.scheme != "chromosome":
                found.append((("groups",), f"only for scheme 'chromosome' (scheme is {self.scheme!r})", HIDDEN))
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
        raise_problems("Folds", found)
        return self

    @property
    def test_fold_list(self) -> list[int]:
        """The test folds as a list of numbers."""
        return list(range(self.k)) if self.test_folds == "all" else list(self.test_folds)

    def validation_fold(self, test_fold: int) -> int:
        """The validation fold used with ``test_fold``."""
        return test_fold if self.validation == "same" else default_validation(test_fold, self.k)


class Model(Settings):
    """The sequence-to-function architecture: one output per cell type."""

    architecture: Name = "dilated_cnn"
    """Architecture name in the model registry (e.g. "dilated_cnn", "deeptopic_cnn")."""
    preset: Literal["tiny", "paper"] = "tiny"
    """Width and depth preset: "tiny" trains on a CPU, "paper" is the published size (GPU)."""
    input_length: PositiveInt = 2114
    """bp of sequence the model sees, centred on each region."""
    params: dict[str, ParamValue] = Field(default={})
    """Overrides of the preset's parameters, e.g. {filters: 512, dropout: 0.5}."""


class Motifs(Settings):
    """TF-MoDISco motifs of each platform's full-data model (first test fold and seed),
    matched to JASPAR (see :mod:`atlasbench.readouts.motifs`)."""

    cell_types: list[str] | None = None
    """Cell types to analyse; null for all."""
    top_regions: PositiveInt = 500
    """Most specific regions explained per cell type."""
    scores: Literal["gradient", "integrated_gradients"] = "gradient"
    """Contribution scores: "gradient" (gradient x input, no baseline) or "integrated_gradients"
    (from the all-zero sequence, which credits every base with a share of the model's output
    there; see :mod:`atlasbench.readouts.contributions`)."""
    steps: PositiveInt = 32
    """Integrated-gradient steps (with scores: integrated_gradients)."""
    max_seqlets: PositiveInt = 2000
    """Most seqlets clustered per cell type and sign."""
    leiden_runs: PositiveInt = 50
    """Leiden clustering runs of TF-MoDISco."""
    jaspar_group: str | None = None
    """JASPAR taxonomic group matched against ("insects", "vertebrates", ...); null: all of CORE."""


class Evaluation(Settings):
    """What trained models are evaluated against, besides their own test fold."""

    motifs: Motifs | None = Motifs()
    """Motif discovery on the full-data models; null to skip it."""

    enhancers: InputPath | None = None
    """Table of in vivo validated enhancers (with their target cell types, and negatives)."""
    reference_platform: str | None = None
    """Platform whose full-depth, all-cells targets serve as the common reference."""


class SlurmJobResources(Settings):
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


class SlurmResources(Settings):
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
    jobs: dict[JobKind, SlurmJobResources] = Field(default={})
    """Overrides per job kind: ingest, peaks, targets, train, evaluate, explain, report."""

    def for_job(self, kind: str) -> SlurmResources:
        """The resources of one job kind: these defaults with its overrides applied."""
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r}; expected one of {', '.join(JOB_KINDS)}")
        override = self.jobs.get(kind)  # type: ignore[call-overload]
        update = {} if override is None else override.model_dump(exclude_none=True)
        return self.model_copy(update={**update, "jobs": {}})


class Executor(Settings):
    """Where the grid's jobs run: in this process (``local``), on a Dask cluster (a local
    one with n_workers, or an existing scheduler at ``address``) or as SLURM jobs."""

    kind: Literal["local", "dask", "slurm"] = "local"
    """Executor: "local", "dask" or "slurm" (``atlasbench run --executor`` overrides it)."""
    address: str | None = None
    """dask: address of an existing scheduler (e.g. "tcp://10.0.0.1:8786"); otherwise a
    LocalCluster is started."""
    n_workers: PositiveInt = 1
    """local: jobs run at once, each in a worker process (1: one after another in the
    running process); dask: workers of the LocalCluster."""
    threads_per_worker: PositiveInt = 1
    """local (with n_workers above 1) and dask's LocalCluster: torch threads of each worker."""
    slurm: SlurmResources | None = None
    """slurm: resources of the SLURM jobs; null uses the defaults."""

    def slurm_resources(self, job_kind: str) -> SlurmResources:
        """SLURM resources for one job kind (defaults when no ``slurm`` section is given)."""
        return (self.slurm or SlurmResources()).for_job(job_kind)


class Study(Settings):
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
        raise_problems("Study", cross_references(self.model_dump()), kind=CROSS_REFERENCE)
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
            for j, path in enumerate(platform.cell_calls or []):
                found[f"platforms[{i}].cell_calls[{j}]"] = path
            if isinstance(platform.sequenced_reads, Path):
                found[f"platforms[{i}].sequenced_reads"] = platform.sequenced_reads
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


def cross_references(data: Any) -> Found:
    """Checks across sections (platform names and references, currencies, ...).

    Works on the raw mapping as well as on a validated study's dump, tolerating values of
    the wrong type (those are reported by field validation), so a study with a type error
    in one place still gets its cross-reference mistakes reported in the same message.
    """
    found: Found = []
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
                        (
                            ("platforms", i, "cost", "currency"),
                            f"must be the same for every platform ({currency!r}) so costs compare",
                            this,
                        )
                    )

    def check_platform(loc: tuple[str | int, ...], value: Any) -> None:
        if isinstance(value, str) and value not in names:
            found.append((loc, f"must name a platform of this study ({defined})", value))

    grid = data.get("grid")
    if isinstance(grid, Mapping) and grid.get("reads_unit") == "sequenced":
        for i, platform in enumerate(platforms):
            sourced_platform = isinstance(platform, Mapping) and platform.get("union") is None
            if sourced_platform and platform.get("sequenced_reads") is None:
                found.append(
                    (
                        ("platforms", i, "sequenced_reads"),
                        "required with grid.reads_unit: sequenced (a number of read pairs or Cell Ranger's "
                        "summary.csv), to turn sequenced reads per cell into usable ones",
                        HIDDEN,
                    )
                )
    if isinstance(grid, Mapping) and grid.get("full_grid") is False and not grid.get("scenarios"):
        found.append((("grid", "scenarios"), "must list at least one scenario when full_grid is false", HIDDEN))
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
            (
                ("training", "finetune"),
                "needs targets.specificity_gini_std (it selects the fine-tuning regions), which is null",
                HIDDEN,
            )
        )

    genome, folds = data.get("genome"), data.get("folds")
    chromosomes = genome.get("chromosomes") if isinstance(genome, Mapping) else None
    if isinstance(chromosomes, list) and isinstance(folds, Mapping):
        # Chromosome names match as the data stages match them to the genome
        # (atlasbench.io.genome.match_chromosomes: "chr2L" is "2L", "MT" is "chrM").
        kept = [str(c) for c in chromosomes]
        groups = folds.get("groups")
        if isinstance(groups, list):
            for i, group in enumerate(groups):
                for j, chrom in enumerate(group if isinstance(group, list) else []):
                    if isinstance(chrom, (str, int)) and match_chromosomes([str(chrom)], kept)[1]:
                        found.append((("folds", "groups", i, j), "chromosome not in genome.chromosomes", chrom))
        elif folds.get("scheme", "chromosome") == "chromosome":
            distinct: list[str] = []  # two spellings of one chromosome count once
            for name in kept:
                if match_chromosomes([name], distinct)[1]:
                    distinct.append(name)
            k = folds.get("k", 5)
            if isinstance(k, int) and not isinstance(k, bool) and k > len(distinct):
                found.append(
                    (
                        ("folds", "k"),
                        f"must be at most the number of chromosomes kept "
                        f"({len(distinct)}, genome.chromosomes) to hold out whole chromosomes",
                        k,
                    )
                )
    return found
