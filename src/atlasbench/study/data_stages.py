"""The data stages of a study, from raw files to targets, as plain cached functions.

Each stage reads its inputs from the study and from earlier stages' artefacts, writes
its own artefact under the study's output folder in a directory named by a content hash
of everything that determines it (config sections and input files' size and
modification time), and returns it. An artefact is complete only once its last file
(a ``manifest.json`` or the store's ``store.json``) exists; a rerun finds it and skips
the work, an interrupted run leaves only temporary files and redoes that stage alone.

Layout under ``study.output``::

    genome/<hash>/            bgzip copy (+ indexes) of a plain-gzip FASTA
    ingest/<platform>-<hash>/ fragments store, cells + per-cell QC (see ingest.py)
    peaks/<platform>-<hash>/  MACS3 narrowPeak per cell type (one job each)
    regions/<hash>/           consensus regions.tsv (with folds), genome_size.json (MACS3's -g
                              and its source)
    targets/<platform>-<hash>/<level>.h5ad, levels.tsv, qc.tsv, saturation.parquet,
                              draws/<level>_fold-<k>.h5ad (a job each, see draw_stage),
                              dropped_contigs.tsv (copied from the store),
                              sequencing.json (usable fraction, with sequenced_reads)
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from atlasbench.data.combine import combine_stores
from atlasbench.data.folds import RULES_VERSION as FOLD_RULES_VERSION
from atlasbench.data.folds import FoldScheme, assign_folds
from atlasbench.data.ingest import (
    DROPPED_CONTIGS,
    NOT_IN_GENOME,
    Store,
    ingest,
    keep_called_cells,
    open_store,
    read_cell_table,
)
from atlasbench.data.levels import FULL_LEVEL, level_key, reads_unit_words
from atlasbench.data.pseudobulk import Pseudobulk, export_bigwigs, pseudobulk, write_fragment_bed
from atlasbench.data.qc import write_table
from atlasbench.data.regions import (
    call_peaks,
    consensus_regions,
    known_effective_genome_size,
    overlapping,
    read_bed,
    read_narrowpeak,
    region_names,
)
from atlasbench.data.sampling import draw_seed
from atlasbench.data.targets import build_targets, normalize_peak_heights, specific_regions, write_targets
from atlasbench.errors import AtlasbenchError
from atlasbench.io.annotation import read_tss
from atlasbench.io.atomic import atomic_path, write_text_atomic
from atlasbench.io.cellranger import read_cell_calls
from atlasbench.io.genome import match_chromosomes, non_n_bases, open_genome, prepare_fasta, read_chrom_sizes
from atlasbench.io.names import file_stem
from atlasbench.study.scenarios import PlatformData, Scenario, named_levels, platform_levels, resolve_scenarios
from atlasbench.study.schema import Study

log = logging.getLogger(__name__)


def fingerprint(*parts: object) -> str:
    """Short content hash of JSON-able parts; files enter by path, size and mtime."""

    def encode(x: object) -> object:
        if isinstance(x, Path):
            stat = x.stat()
            return [str(x.resolve()), stat.st_size, stat.st_mtime_ns]
        if isinstance(x, (list, tuple)):
            return [encode(y) for y in x]
        return x

    text = json.dumps([encode(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GenomeInfo:
    """The study's genome as the stages use it.

    Attributes
    ----------
    chrom_sizes
        Lengths of the chromosomes the study keeps (``genome.chromosomes``, else all).
    names
        Every sequence name of the genome: fragments elsewhere are dropped, or an error
        with ``genome.unknown_contigs: error``.
    fasta
        Indexed FASTA (bgzip or plain), when the study gives or fetches one.
    """

    chrom_sizes: dict[str, int]
    names: list[str]
    fasta: Path | None


def genome_stage(study: Study) -> GenomeInfo:
    """Chromosome sizes (restricted to ``genome.chromosomes``) and an indexed FASTA.

    A plain-gzip FASTA, which cannot be read at random positions, is converted once to
    bgzip with its indexes under ``genome/<hash>/``. A genome given by assembly name or
    URL is fetched once into the genome cache (:meth:`~atlasbench.study.schema.Genome.fetch`).
    """
    g = study.genome
    fasta = None
    fetched = g.fetch()
    if fetched is not None:
        fasta = fetched.fasta
        with open_genome(fasta) as genome:
            sizes = dict(genome.sizes)
    elif g.fasta is not None:
        out = study.output / "genome" / fingerprint(g.fasta)
        prepared = out / "genome.fa.gz"
        try:
            genome = open_genome(g.fasta)
            fasta = Path(g.fasta)
        except AtlasbenchError as exc:
            if "plain gzip" not in str(exc):
                raise
            if not (prepared.exists() and (out / "genome.fa.gz.fai").exists()):
                log.info("genome %s is plain gzip: writing an indexed bgzip copy to %s", g.fasta, prepared)
                prepare_fasta(g.fasta, prepared)
            genome = open_genome(prepared)
            fasta = prepared
        with genome:
            sizes = dict(genome.sizes)
    else:
        assert g.chrom_sizes is not None  # the schema requires fasta or chrom_sizes
        sizes = read_chrom_sizes(g.chrom_sizes)
    names = list(sizes)
    if g.chromosomes is not None:
        mapping, unknown = match_chromosomes(g.chromosomes, list(sizes))
        if unknown:
            raise AtlasbenchError(f"genome.chromosomes: {unknown} not in the genome (which has {list(sizes)[:10]})")
        sizes = {mapping[c]: sizes[mapping[c]] for c in g.chromosomes}
    return GenomeInfo(sizes, names, fasta)


def _tss(study: Study) -> pd.DataFrame | None:
    if study.genome.annotation is None:
        return None
    return read_tss(study.genome.annotation)


def _to_genome_names(table: pd.DataFrame, sizes: dict[str, int], what: str) -> pd.DataFrame:
    """Rename a table's chromosomes to the genome's spelling, dropping others."""
    mapping, unknown = match_chromosomes(pd.unique(table["chrom"].astype(str)), list(sizes))
    if unknown:
        log.info("%s: chromosomes not in the study genome ignored: %s", what, ", ".join(map(str, unknown[:10])))
    out = table[table["chrom"].astype(str).isin(list(mapping))].copy()
    out["chrom"] = out["chrom"].astype(str).map(mapping)
    return out


def ingest_stage(study: Study, platform: str, genome: GenomeInfo) -> Store:
    """Ingest one sourced platform (cached); see :func:`atlasbench.data.ingest.ingest`."""
    p = study.platform(platform)
    assert p.fragments is not None and p.cells is not None  # a sourced platform has both (schema)
    samples = p.sample_names
    key = fingerprint(
        list(p.fragments), p.cells, list(p.cell_calls or []), samples, genome.chrom_sizes, study.genome.annotation
    )
    out = study.output / "ingest" / f"{platform}-{key}"
    if (out / "store.json").exists():
        log.debug("ingest %s: cached in %s", platform, out)
        store = open_store(out)
        if study.genome.unknown_contigs == "error":
            # the store was made in drop mode: its table says whether error mode would fail
            table = store.dropped_contigs
            unknown = table[table["reason"] == NOT_IN_GENOME]
            if len(unknown):
                listed = ", ".join(f"{r.contig!r} ({r.fragments:,} fragments)" for r in unknown.itertuples())
                raise AtlasbenchError(
                    f"platforms {platform!r}: contig(s) not in the genome in {[str(f) for f in p.fragments]}: "
                    f"{listed}; rename them, use the genome they were mapped to, or set genome.unknown_contigs: drop"
                )
        return store
    cells = read_cell_table(p.cells, samples)
    if p.cell_calls is not None:
        calls = {sample: read_cell_calls(path) for sample, path in zip(samples, p.cell_calls)}
        cells = keep_called_cells(cells, calls, {sample: str(path) for sample, path in zip(samples, p.cell_calls)})
    tss = _tss(study)
    if tss is not None:
        tss = _to_genome_names(tss, genome.chrom_sizes, str(study.genome.annotation))
    # keep only the study's chromosomes; contigs the genome lacks are dropped (or an error)
    return ingest(
        p.fragments,
        cells,
        out,
        genome.names,
        samples=samples,
        keep_chromosomes=list(genome.chrom_sizes),
        tss=tss,
        unknown_contigs=study.genome.unknown_contigs,
    )


def combine_stage(study: Study, platform: str, stores: dict[str, Store]) -> Store:
    """Pool the parts of a combined platform (cached); see :func:`atlasbench.data.combine.combine_stores`."""
    p = study.platform(platform)
    assert p.union is not None  # a combined platform
    parts = {name: stores[name] for name in p.union}
    key = fingerprint([str(s.directory) for s in parts.values()], p.common_depth, study.seed)
    out = study.output / "ingest" / f"{platform}-{key}"
    if (out / "store.json").exists():
        log.debug("combine %s: cached in %s", platform, out)
        return open_store(out)
    return combine_stores(parts, out, common_depth=p.common_depth, seed=study.seed)


def effective_genome_size(study: Study, genome: GenomeInfo) -> tuple[int, str]:
    """MACS3's effective genome size (``-g``) for a study, and where it came from.

    In order: ``regions.peak_calling.genome_size`` if given; MACS's value for a known
    ``genome.name`` (:func:`atlasbench.data.regions.known_effective_genome_size`); the
    number of non-N bases of the FASTA over the study's chromosomes (of a fetched genome,
    counted once when it was fetched); and, with only
    chrom.sizes, the sum of the chromosome sizes (with a warning: that overstates the
    effective size and so calls more peaks).
    """
    pc = study.regions.peak_calling
    if pc.genome_size is not None:
        return int(pc.genome_size), "regions.peak_calling.genome_size"
    known = known_effective_genome_size(study.genome.name)
    if known is not None:
        return known, f"MACS value for genome.name {study.genome.name!r}"
    fetched = study.genome.cached()
    if fetched is not None:  # counted once when it was fetched (genome.json)
        return fetched.effective_size(genome.chrom_sizes), f"non-N bases of {fetched.fasta}"
    if genome.fasta is not None:
        return _non_n_bases(study, genome.fasta, list(genome.chrom_sizes)), f"non-N bases of {genome.fasta}"
    total = sum(genome.chrom_sizes.values())
    log.warning(
        "regions: MACS3 effective genome size: genome.name %r is not a known assembly and there is no FASTA, "
        "so the sum of the chromosome sizes (%s bp) is used; this overstates the effective size and calls "
        "more peaks; set regions.peak_calling.genome_size",
        study.genome.name,
        f"{total:,}",
    )
    return total, "sum of chromosome sizes"


def _non_n_bases(study: Study, fasta: Path, chromosomes: list[str]) -> int:
    """The FASTA's non-N bases over the chromosomes, counted once (every peak job asks;
    a mammalian genome takes a while to scan), under ``genome/`` of the study's output."""
    path = study.output / "genome" / f"non_n_bases-{fingerprint(fasta, chromosomes)}.json"
    if path.exists():
        return int(json.loads(path.read_text())["non_n_bases"])
    count = non_n_bases(fasta, chromosomes)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps({"fasta": str(fasta), "chromosomes": chromosomes, "non_n_bases": count}))
    return count


def peaks_stage(study: Study, platform: str, cell_type: str, store: Store, genome_size: int) -> Path:
    """MACS3 peaks of one cell type of one sourced platform's full data (cached).

    The cell type's fragments are written as a gzip BED (MACS3 reads it as is; no
    plain-text copy), MACS3 calls the peaks (:func:`atlasbench.data.regions.call_peaks`,
    with ``regions.peak_calling``), and the BED is deleted. One such call is one job of
    the study (``peaks/<platform>/<cell type>``), so executors run them in parallel.

    Parameters
    ----------
    study
        The study (its ``regions.peak_calling`` settings).
    platform
        Name of the platform.
    cell_type
        One of ``store.cell_types``.
    store
        The platform's ingested store.
    genome_size
        MACS3's effective genome size (:func:`effective_genome_size`).

    Returns
    -------
    pathlib.Path
        ``peaks/<platform>-<hash>/<file stem>_peaks.narrowPeak``; the hash covers the
        store, the peak-calling settings and the genome size, so a change of anything
        else (folds, region width) calls no peak again.
    """
    pc = study.regions.peak_calling
    key = fingerprint(pc.model_dump(mode="json"), str(store.directory), genome_size)
    out = study.output / "peaks" / f"{platform}-{key}"
    stem = file_stem(cell_type)
    target = out / f"{stem}_peaks.narrowPeak"
    if target.exists():
        log.debug("peaks %s/%s: cached in %s", platform, cell_type, target)
        return target
    work = out / f".input-{stem}"  # one fixed name: a killed job's input is removed by the next try
    shutil.rmtree(work, ignore_errors=True)
    try:
        bed = write_fragment_bed(store, cell_type, work / f"{stem}.bed.gz")
        called = call_peaks(
            bed,
            out,
            stem,
            genome_size,
            qvalue=pc.qvalue,
            shift=pc.shift,
            extsize=pc.extsize,
            input_format=pc.input_format,
            keep_dup=pc.keep_dup,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("peaks %s/%s: %s", platform, cell_type, called)
    return called


def regions_stage(study: Study, stores: dict[str, Store], genome: GenomeInfo) -> pd.DataFrame:
    """The study's consensus regions with their fold (cached).

    With ``regions.bed`` the user's regions are used (renamed to the genome's chromosome
    spelling); otherwise the MACS3 peaks of every (sourced platform, cell type) pseudobulk
    of the full data (:func:`peaks_stage`, called here for any not yet called) are merged
    into one fixed-width consensus set (pycisTopic's method), so every platform and level
    is scored on the same regions.

    Returns
    -------
    pandas.DataFrame
        chrom, start, end, name, fold; also written to ``regions/<hash>/regions.tsv``,
        whose path is in the frame's ``attrs["path"]``.
    """
    r = study.regions
    blacklist = study.genome.blacklist
    key = fingerprint(
        study.hash_of("regions", "folds"),
        FOLD_RULES_VERSION,
        r.bed,
        blacklist,
        genome.chrom_sizes,
        sorted(str(s.directory) for s in stores.values()),
        # the default effective genome size depends on the assembly name and the FASTA
        None if r.bed is not None else [study.genome.name, genome.fasta],
    )
    out = study.output / "regions" / key
    table_path = out / "regions.tsv"
    if table_path.exists():
        log.debug("regions: cached in %s", out)
        regions = pd.read_csv(table_path, sep="\t", dtype={"chrom": str})
        regions.attrs["path"] = str(table_path)
        return regions
    black = None if blacklist is None else _to_genome_names(read_bed(blacklist), genome.chrom_sizes, str(blacklist))
    if r.bed is not None:
        regions = _to_genome_names(read_bed(r.bed), genome.chrom_sizes, str(r.bed))
        off_end = regions["end"].to_numpy() > regions["chrom"].map(genome.chrom_sizes).to_numpy()
        if off_end.any():
            bad = regions[off_end].iloc[0]
            raise AtlasbenchError(
                f"{r.bed}: region {bad['chrom']}:{bad['start']}-{bad['end']} runs off the end of {bad['chrom']} "
                f"({genome.chrom_sizes[bad['chrom']]:,} bp in the genome); {int(off_end.sum())} such region(s)"
            )
        if black is not None:
            regions = regions[~overlapping(regions, black, genome.chrom_sizes)]
        regions = regions[["chrom", "start", "end"]].reset_index(drop=True)
    else:
        genome_size, source = effective_genome_size(study, genome)
        log.info("regions: MACS3 effective genome size %s bp (%s)", f"{genome_size:,}", source)
        write_text_atomic(out / "genome_size.json", json.dumps({"genome_size": genome_size, "source": source}))
        peaks = {
            f"{name}:{cell_type}": read_narrowpeak(peaks_stage(study, name, cell_type, store, genome_size))
            for name, store in stores.items()
            for cell_type in store.cell_types
        }
        regions = consensus_regions(peaks, genome.chrom_sizes, width=r.width, blacklist=black)
        if len(regions) == 0:
            raise AtlasbenchError("MACS3 found no peaks in any cell type; check the data or give regions.bed")
    f = study.folds
    scheme = FoldScheme(
        kind=f.scheme, k=f.k, seed=f.seed, groups=None if f.groups is None else tuple(tuple(g) for g in f.groups)
    )
    regions = regions.copy()
    regions["name"] = region_names(regions)
    regions["fold"] = assign_folds(regions, scheme, genome.chrom_sizes)
    with atomic_path(table_path) as tmp:
        regions.to_csv(tmp, sep="\t", index=False)
    log.info("regions: %d regions, folds %s", len(regions), scheme.describe())
    regions.attrs["path"] = str(table_path)
    return regions


def scenarios_of(
    study: Study, stores: dict[str, Store], usable: dict[str, float] | None = None
) -> tuple[list[Scenario], dict[str, Scenario]]:
    """Resolve the study's grid and named scenarios against the ingested platforms:
    the grid points to train, and each named scenario's grid point by name.

    With ``grid.reads_unit: sequenced`` the levels are set against each platform's mean
    sequenced read pairs per cell, its usable mean over its usable fraction (``usable``,
    platform -> fraction, from :func:`sequencing_records`).
    """
    data = {}
    unit = study.grid.reads_unit
    for name, store in stores.items():
        has = store.cells["n_fragments"] > 0
        mean = float(store.cells.loc[has, "n_reads"].mean())
        if unit == "sequenced":
            mean /= levels_fraction(study, name, usable or {})
        data[name] = PlatformData(int(has.sum()), mean, study.platform(name).kind == "sourced", reads_unit_words(unit))
    grid = study.grid
    return (
        resolve_scenarios(list(stores), grid.reads_per_cell, grid.cells, grid.full_grid, grid.scenarios, data),
        named_levels(grid.scenarios, data),
    )


def levels_fraction(study: Study, platform: str, usable: dict[str, float]) -> float:
    """The usable fraction that turns a platform's sequenced levels into usable read
    pairs (``grid.reads_unit: sequenced``); the schema makes every sourced platform give
    ``sequenced_reads`` then, and a combined platform's fraction comes from its parts."""
    if platform not in usable:
        raise AtlasbenchError(
            f"platforms {platform!r}: grid.reads_unit is 'sequenced' but its usable fraction is unknown; "
            "give sequenced_reads (a number or Cell Ranger's summary.csv)"
        )
    return usable[platform]


@dataclass(frozen=True)
class PlatformTargets:
    """The targets files of one platform (:func:`targets_stage`).

    Attributes
    ----------
    levels
        Level key -> targets of the level in one nested sampling of the library (the
        study's seed): every grid point's level and the full data. The QC, the read-outs
        and the truth's expectations read these.
    draws
        (level key, test fold) -> targets of the draw that test fold's models of the
        level train on (:func:`atlasbench.data.sampling.draw_seed`), for every level but
        the full data, which is the same in every draw.
    """

    levels: dict[str, Path]
    draws: dict[tuple[str, int], Path]


def targets_stage(
    study: Study,
    platform: str,
    store: Store,
    regions: pd.DataFrame,
    scenarios: list[Scenario],
    genome: GenomeInfo,
    sequencing: dict[str, Any] | None = None,
) -> PlatformTargets:
    """Targets (``.h5ad``) of every level one platform needs (cached), and the plan of
    every level's draw per test fold.

    One pseudobulk pass samples every level from the library in nested fashion, for the
    QC and the read-outs. The data each test fold's models of a level train on is a
    draw of its own (:data:`PlatformTargets.draws`), one more pass over the library
    each: the manifest names each draw's file, depth, cells and seed, and
    :func:`draw_stage` makes it, as a job of its own (``draws/<platform>/<level>/fold-<k>``)
    so that executors run the passes side by side.

    Also writes the per-cell QC with FRiP over the study's regions (``qc.tsv``), the
    achieved depth and cells of each level (``levels.tsv``), per-cell saturation
    (``saturation.parquet``), the platform's sequencing record (``sequencing.json``,
    from :func:`sequencing_records`, when it has one) and, if asked, per-cell-type
    bigWigs of the full data. With ``grid.reads_unit: sequenced`` the levels count
    sequenced read pairs, turned into usable ones with the record's usable fraction.

    Returns
    -------
    PlatformTargets
        The levels' targets files, and the draws' (made by :func:`draw_stage`).
    """
    reads_levels, cell_levels_ = platform_levels(scenarios, platform)
    # The full data is every platform's reference in evaluation, trained on or not.
    reads_levels = reads_levels if "all" in reads_levels else [*reads_levels, "all"]
    cell_levels_ = cell_levels_ if "all" in cell_levels_ else [*cell_levels_, "all"]
    folds = study.folds.test_fold_list
    unit = study.grid.reads_unit
    fraction_for_levels = None
    if unit == "sequenced":
        known = {} if sequencing is None else {platform: float(sequencing["usable_fraction"])}
        fraction_for_levels = levels_fraction(study, platform, known)
    key = fingerprint(
        str(store.directory),
        study.hash_of("targets", "seed"),
        study.grid.min_cells_per_type,
        [unit, fraction_for_levels],
        [str(x) for x in reads_levels],
        [str(x) for x in cell_levels_],
        folds,
        regions["name"].tolist(),
        _DRAWS_AS_JOBS,
    )
    out = study.output / "targets" / f"{platform}-{key}"
    manifest = out / "manifest.json"
    if manifest.exists():
        log.debug("targets %s: cached in %s", platform, out)
        _write_sequencing(out, sequencing)
        return _read_manifest(out)
    pb = _sampler(study, store, regions, fraction_for_levels)(reads_levels, cell_levels_, seed=study.seed)
    wanted = {s.level for s in scenarios if s.platform == platform} | {FULL_LEVEL}
    levels: dict[str, str] = {}
    draws: dict[str, dict[str, Any]] = {}
    for i, reads in enumerate(reads_levels):
        for j, cells in enumerate(cell_levels_):
            level = level_key(reads, cells)
            if level not in wanted:
                continue
            levels[level] = f"{level}.h5ad"
            _write_level_targets(study, platform, pb, i, j, regions, study.seed, out / levels[level])
            if level == FULL_LEVEL:
                continue
            _warn_overlapping_draws(platform, level, pb, i, j)
            for fold in folds:
                draws[_draw_name(level, fold)] = {
                    "file": f"draws/{level}_fold-{fold}.h5ad",
                    "reads_per_cell": reads if isinstance(reads, str) else int(reads),
                    "cells": cells if isinstance(cells, str) else int(cells),
                    "seed": draw_seed(study.seed, level, fold),
                }
    qc = store.cells.copy()
    qc["n_insertions_in_regions"] = pb.insertions_in_regions
    qc["frip"] = pb.insertions_in_regions / (2.0 * qc["n_fragments"].clip(lower=1))
    write_table(qc, out / "qc.tsv")
    write_table(store.dropped_contigs, out / DROPPED_CONTIGS)  # for the report, beside the QC
    write_table(pb.levels, out / "levels.tsv")
    write_table(pb.cell_saturation, out / "saturation.parquet")
    if study.targets.bigwig:
        # both kinds (cut sites, fragment coverage) at every level this platform trains
        export_bigwigs(
            store,
            out / "bigwig",
            genome.chrom_sizes,
            reads_levels,
            cell_levels_,
            seed=study.seed,
            levels=wanted,
            usable_fraction=fraction_for_levels,
        )
    _write_sequencing(out, sequencing)
    plan = {"levels": levels, "draws": draws, "usable_fraction": fraction_for_levels}
    write_text_atomic(manifest, json.dumps(plan, indent=1))
    return _read_manifest(out)


_DRAWS_AS_JOBS = 2
"""Version of the targets folder's layout: 2, the draws made by jobs of their own (their
manifest entries say how); a folder of an earlier layout is not reused."""


def _sampler(study: Study, store: Store, regions: pd.DataFrame, usable_fraction: float | None):
    """:func:`atlasbench.data.pseudobulk.pseudobulk` of a platform with the study's settings,
    waiting for the levels and the seed: the nested pass and every draw count alike."""
    return partial(
        pseudobulk,
        store,
        regions,
        window=study.target_window,
        min_cells_per_type=study.grid.min_cells_per_type,
        usable_fraction=usable_fraction,
    )


def draw_stage(study: Study, data: StudyData, platform: str, store: Store, level: str, fold: int) -> Path:
    """The targets of one draw the platform's :func:`targets_stage` plans (cached).

    Parameters
    ----------
    study
        The study.
    data
        The study's data (:func:`study_data`): its regions, and the platform's targets
        folder, whose manifest plans the draw.
    platform
        Name of the platform.
    store
        The platform's store.
    level, fold
        The level (its key) and the test fold of the draw.

    Returns
    -------
    pathlib.Path
        The draw's targets ``.h5ad``, in the folder's ``draws/``.
    """
    folder = data.targets[platform][FULL_LEVEL].parent
    draw = _draw_name(level, fold)
    regions = data.regions
    plan = json.loads((folder / "manifest.json").read_text())
    entry = plan["draws"][draw]
    path = folder / entry["file"]
    if path.exists():
        log.debug("draw %s %s: cached in %s", platform, draw, path)
        return path
    sample = _sampler(study, store, regions, plan["usable_fraction"])
    pb = sample([entry["reads_per_cell"]], [entry["cells"]], seed=entry["seed"])
    _write_level_targets(study, platform, pb, 0, 0, regions, entry["seed"], path)
    return path


def _warn_overlapping_draws(platform: str, level: str, pb: Pseudobulk, i: int, j: int) -> None:
    """Warn when a level's draws (depth ``i``, cells ``j``) keep most of the platform's
    fragments: two of them then share most of their data (at least that share), and the
    scatter between test folds holds the library's sampling noise only in part."""
    levels = pb.levels
    fragments = levels["n_cells"] * levels["mean_fragments_per_cell"]
    kept = float(fragments[(levels["depth_level"] == i) & (levels["cell_level"] == j)].iloc[0])
    share = kept / float(fragments.max())
    if share > 0.5:
        log.warning(
            "%s %s: each test fold's draw keeps %.0f%% of the platform's fragments, so two draws share most of "
            "their data; the platform comparison counts the library's sampling noise there only in part",
            platform,
            level,
            100 * share,
        )


def _draw_name(level: str, fold: int) -> str:
    """A draw's name in a targets manifest: ``<level>/fold-<k>``."""
    return f"{level}/fold-{fold}"


def _draw_of(name: str) -> tuple[str, int]:
    """The level and test fold of a draw's name (the inverse of :func:`_draw_name`)."""
    level, _, fold = name.partition("/fold-")
    return level, int(fold)


def _read_manifest(folder: Path) -> PlatformTargets:
    """The targets files a finished :func:`targets_stage` folder lists."""
    files = json.loads((folder / "manifest.json").read_text())
    draws = {}
    for name, entry in files["draws"].items():
        draws[_draw_of(name)] = folder / entry["file"]
    return PlatformTargets({k: folder / v for k, v in files["levels"].items()}, draws)


def _write_level_targets(
    study: Study, platform: str, pb: Pseudobulk, i: int, j: int, regions: pd.DataFrame, seed: int, path: Path
) -> None:
    """Targets of level (depth ``i``, cells ``j``) of a pseudobulk, written to ``path``."""
    t = study.targets
    row = pb.levels[(pb.levels["depth_level"] == i) & (pb.levels["cell_level"] == j)].iloc[0]
    # cell types under grid.min_cells_per_type at this level are left out of its targets
    keep = np.array([c not in pb.dropped[j] for c in pb.cell_types])
    adata = build_targets(
        pb.counts[i, j][keep].astype(np.float32),
        [c for c, k in zip(pb.cell_types, keep) if k],
        regions,
        pb.library_size[i, j][keep],
        window=study.target_window,
        normalization=t.normalization,
        uns={
            "platform": platform,
            "reads_per_cell": str(row["reads_per_cell"]),
            "reads_unit": reads_unit_words(study.grid.reads_unit),
            "cells": str(row["cells"]),
            "seed": seed,
            "n_cells": int(row["n_cells"]),
            "mean_reads_per_cell": float(row["mean_reads_per_cell"]),
            "mean_fragments_per_cell": float(row["mean_fragments_per_cell"]),
            "dropped_cell_types": str(row["dropped_cell_types"]),
        },
    )
    if t.peak_height_top_k_percent is not None:
        try:
            adata = normalize_peak_heights(adata, top_k_percent=t.peak_height_top_k_percent)
        except AtlasbenchError as exc:
            raise AtlasbenchError(
                f"{platform}: targets of grid point {path.stem} ({int(row['n_cells']):,} cells, "
                f"{float(row['mean_reads_per_cell']):,.0f} reads per cell): {exc}; a level this sparse may "
                "be too shallow to normalise: drop it from the grid, or set targets.peak_height_top_k_percent "
                "higher or null"
            ) from exc
    if t.specificity_gini_std is not None:
        adata.var["specific"] = specific_regions(adata, gini_std_threshold=t.specificity_gini_std)
    write_targets(adata, path)


SEQUENCING_FILE = "sequencing.json"
"""Per platform, beside the targets' ``qc.tsv``: sequenced and usable read pairs and the usable fraction."""


def usable_fraction(usable_read_pairs: float, sequenced_read_pairs: float) -> float:
    """Share of the sequenced read pairs that ended in annotated cells' fragments.

    For example 300 million read pairs in the cells' fragments of a library sequenced to
    400 million read pairs: 0.75. Reads lost to invalid barcodes, background barcodes,
    unmapped or filtered reads and dropped contigs make up the rest.
    """
    if not sequenced_read_pairs > 0:
        raise AtlasbenchError(f"sequenced read pairs must be positive, got {sequenced_read_pairs}")
    return float(usable_read_pairs) / float(sequenced_read_pairs)


def _sourced_record(study: Study, platform: str, store: Store) -> dict[str, Any] | None:
    p = study.platform(platform)
    sequenced = p.sequenced_read_pairs()
    if sequenced is None:
        return None
    usable = int(store.cells["n_reads"].sum())
    fraction = usable_fraction(usable, sequenced)
    log.info(
        "%s: %s of %s sequenced read pairs are in annotated cells' fragments (usable fraction %.3f)",
        platform,
        f"{usable:,}",
        f"{sequenced:,}",
        fraction,
    )
    if fraction > 1:
        log.warning(
            "%s: more read pairs in the cells' fragments (%s) than sequenced (%s, from %s); "
            "is sequenced_reads the figure of this library?",
            platform,
            f"{usable:,}",
            f"{sequenced:,}",
            p.sequenced_reads,
        )
    return {
        "platform": platform,
        "sequenced_read_pairs": sequenced,
        "usable_read_pairs": usable,
        "usable_fraction": fraction,
        "source": str(p.sequenced_reads),
    }


def _combined_record(study: Study, platform: str, store: Store, parts: dict[str, dict[str, Any]]) -> dict | None:
    """A combined platform's record from its parts': each part's read pairs in the pool
    stand for ``n_reads / part fraction`` sequenced read pairs (after any common-depth
    thinning, which thins the sequencing alike); None if a part has no record."""
    p = study.platform(platform)
    assert p.union is not None
    if any(name not in parts for name in p.union):
        return None
    usable_by_part = store.cells.groupby("platform", observed=True)["n_reads"].sum()
    usable = int(usable_by_part.sum())
    sequenced = sum(float(n) / float(parts[name]["usable_fraction"]) for name, n in usable_by_part.items())
    return {
        "platform": platform,
        "sequenced_read_pairs": round(sequenced),
        "usable_read_pairs": usable,
        "usable_fraction": usable_fraction(usable, sequenced),
        "source": "parts " + ", ".join(p.union),
    }


def sequencing_records(study: Study, stores: dict[str, Store]) -> dict[str, dict[str, Any]]:
    """The usable fraction of every platform whose sequencing is known, logged.

    Usable read pairs are the read pairs of the annotated cells' fragments, the sum of
    the store's ``n_reads``; the sequenced read pairs are the platform's
    ``sequenced_reads`` (a number or a Cell Ranger ``summary.csv``). A fraction above 1
    (more read pairs in fragments than sequenced) is logged as a warning: the figure is
    probably of another library. A combined platform's record comes from its parts'
    (when they all have one): each part's pooled read pairs stand for their sequenced
    equivalent at that part's fraction.

    Returns
    -------
    dict
        Platform -> record (``platform``, ``sequenced_read_pairs``,
        ``usable_read_pairs``, ``usable_fraction``, ``source``), for the platforms with
        one; :func:`targets_stage` writes it as ``sequencing.json``.
    """
    records: dict[str, dict[str, Any]] = {}
    for name, store in stores.items():
        if study.platform(name).kind == "sourced":
            record = _sourced_record(study, name, store)
            if record is not None:
                records[name] = record
    for name, store in stores.items():
        if study.platform(name).kind == "combined":
            record = _combined_record(study, name, store, records)
            if record is not None:
                records[name] = record
    return records


def _write_sequencing(folder: Path, record: dict[str, Any] | None) -> None:
    """``folder/sequencing.json`` from a record, or none without one (the targets folder
    does not change with ``sequenced_reads`` in usable units: a figure given before and
    removed since must not go on pricing the report)."""
    if record is None:
        (folder / SEQUENCING_FILE).unlink(missing_ok=True)
    else:
        write_text_atomic(folder / SEQUENCING_FILE, json.dumps(record, indent=1))


@dataclass(frozen=True)
class StudyData:
    """What the data stages of a study produce.

    Attributes
    ----------
    genome
        The genome as the stages use it.
    regions
        The consensus regions with ``name`` and ``fold``.
    scenarios
        The grid points, resolved against the data.
    targets
        Platform -> level key -> targets ``.h5ad`` path (every scenario's level and each
        platform's full data), from one nested sampling of each library.
    draws
        Platform -> (level key, test fold) -> targets ``.h5ad`` path: the draw that
        fold's models of the level train on (:attr:`PlatformTargets.draws`).
    named
        Each named scenario's grid point, by scenario name.
    usable_fraction
        Platform -> read pairs in annotated cells' fragments per sequenced read pair, for
        the platforms whose sequencing is known (:func:`sequencing_records`).
    """

    genome: GenomeInfo
    regions: pd.DataFrame
    scenarios: list[Scenario]
    targets: dict[str, dict[str, Path]]
    draws: dict[str, dict[tuple[str, int], Path]]
    named: dict[str, Scenario]
    usable_fraction: dict[str, float] = field(default_factory=dict)

    def training_targets(self, platform: str, level: str, fold: int) -> Path:
        """The targets a model of ``platform`` at ``level`` tested on ``fold`` trains on:
        the level's draw for that fold, or the full data (the same in every draw)."""
        return self.targets[platform][level] if level == FULL_LEVEL else self.draws[platform][(level, fold)]


def platform_stores(study: Study, genome: GenomeInfo, with_combined: bool = True) -> dict[str, Store]:
    """Every platform's ingested store, from the cached ingest (and combine) stages.

    Parameters
    ----------
    study
        A loaded study.
    genome
        The study's prepared genome (:func:`genome_stage`).
    with_combined
        Also the combined platforms' stores (:func:`combine_stage`).

    Returns
    -------
    dict
        Platform name -> store, the sourced platforms first.
    """
    stores = {p.name: ingest_stage(study, p.name, genome) for p in study.sourced_platforms}
    if with_combined:
        stores.update({p.name: combine_stage(study, p.name, stores) for p in study.combined_platforms})
    return stores


def study_scenarios(
    study: Study, stores: dict[str, Store]
) -> tuple[dict[str, dict[str, Any]], list[Scenario], dict[str, Scenario]]:
    """The sequencing records and scenarios of a study's platforms.

    Parameters
    ----------
    study
        A loaded study.
    stores
        Every platform's store (:func:`platform_stores`).

    Returns
    -------
    records : dict
        Platform -> sequencing record, for the platforms whose sequencing is known
        (:func:`sequencing_records`).
    scenarios, named
        As :func:`scenarios_of` returns them.
    """
    records = sequencing_records(study, stores)
    usable = {name: float(record["usable_fraction"]) for name, record in records.items()}
    scenarios, named = scenarios_of(study, stores, usable)
    return records, scenarios, named


def study_data(study: Study) -> StudyData:
    """Run the data layer of a study: genome, ingest, regions and folds, targets.

    Parameters
    ----------
    study
        A loaded study (:func:`atlasbench.study.loader.load_study`).

    Returns
    -------
    StudyData
        The artefacts, each cached under the study's output folder.
    """
    genome = genome_stage(study)
    regions = regions_stage(study, platform_stores(study, genome, with_combined=False), genome)
    stores = platform_stores(study, genome)
    records, scenarios, named = study_scenarios(study, stores)
    built = {
        name: targets_stage(study, name, store, regions, scenarios, genome, records.get(name))
        for name, store in stores.items()
    }
    usable = {name: float(record["usable_fraction"]) for name, record in records.items()}
    targets = {name: t.levels for name, t in built.items()}
    return StudyData(genome, regions, scenarios, targets, {name: t.draws for name, t in built.items()}, named, usable)


def study_usable_fractions(study: Study) -> dict[str, float]:
    """Platform -> usable fraction, for the platforms whose sequencing is known
    (:func:`sequencing_records`), from the cached ingest (and combine) stages: quick once
    the study's data phase has run, as it has wherever an evaluation table exists.
    """
    if not any(p.sequenced_reads is not None for p in study.sourced_platforms):
        return {}
    stores = platform_stores(study, genome_stage(study))
    return {name: float(r["usable_fraction"]) for name, r in sequencing_records(study, stores).items()}


def build_all_targets(study: Study) -> dict[str, dict[str, Path]]:
    """The targets of every platform and level of a study (see :func:`study_data`), and
    every draw its models train on (:func:`draw_stage`).

    Returns
    -------
    dict
        Platform -> level key -> targets ``.h5ad`` path.
    """
    data = study_data(study)
    stores = platform_stores(study, data.genome)
    for platform, draws in data.draws.items():
        for level, fold in draws:
            draw_stage(study, data, platform, stores[platform], level, fold)
    return data.targets
