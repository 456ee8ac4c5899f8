"""Checks of a study across its files, before any long work starts.

The schema (:mod:`atlasbench.study.schema`) checks each field alone. These checks read the
files themselves: chromosome names must agree between the genome, the fragments and the
region/blacklist/annotation files (``chr2L`` and ``2L`` are the same chromosome), the
cell table must be well formed and its barcodes must occur in the fragments, and every
numeric cells level (grid and named scenarios) must leave some cell type enough cells
(types short of ``grid.min_cells_per_type`` at a level are logged: the run leaves them
out of that level's targets). For the barcode checks fragments files are read up to
``max_fragments`` lines each, and barcodes are counted among the fragments read. Every contig of
every fragments file is listed, from its tabix index when it has one, otherwise by a full
pass, with what ingest does with it: keep it, rename it to the genome's spelling, or drop
it (absent from the genome, or outside ``genome.chromosomes``); a contig absent from the
genome is a problem only with ``genome.unknown_contigs: error``. A genome given by name or
URL is not fetched here: its names are read from the genome cache when it is there;
otherwise validation says it will be fetched and leaves the chromosome checks to the run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from atlasbench.data.ingest import keep_called_cells, read_cell_table
from atlasbench.data.regions import read_bed
from atlasbench.errors import AtlasbenchError
from atlasbench.io.annotation import read_tss
from atlasbench.io.cellranger import read_cell_calls
from atlasbench.io.fragments import FragmentReader
from atlasbench.io.genome import match_chromosomes, open_genome, read_chrom_sizes
from atlasbench.io.names import file_stem
from atlasbench.study.schema import Study

log = logging.getLogger(__name__)


def _genome_names(study: Study) -> list[str] | None:
    """The genome's sequence names; None for a genome to fetch that is not cached yet."""
    g = study.genome
    if g.remote is not None:
        fetched = g.cached()
        if fetched is None:
            log.info(
                "genome %s: not in the genome cache yet; the run fetches it once (or fetch it now: "
                "atlasbench genome fetch %s); the chromosome names are checked against it then",
                g.remote,
                g.remote,
            )
            return None
        log.info("genome %s: cached in %s", g.remote, fetched.folder)
        return list(fetched.non_n_bases)
    if g.chrom_sizes is not None:
        return list(read_chrom_sizes(g.chrom_sizes))
    assert g.fasta is not None  # the schema requires fasta or chrom_sizes
    try:
        with open_genome(g.fasta) as genome:
            return list(genome.names)
    except AtlasbenchError as exc:
        if "plain gzip" not in str(exc):
            raise
        # a plain-gzip FASTA is converted by the run; its names come from the headers
        import gzip

        with gzip.open(g.fasta, "rt") as fh:
            return [line[1:].split()[0] for line in fh if line.startswith(">")]


def _check_model(study: Study) -> list[str]:
    """The model section builds: known architecture, preset and parameters, and an input
    length the architecture can take."""
    from atlasbench.models.architectures import build_model

    m = study.model
    try:
        build_model(m.architecture, 2, m.input_length, m.preset, m.params)
    except AtlasbenchError as exc:
        return [f"model: {exc}"]
    return []


def check_study(study: Study, max_fragments: int = 2_000_000) -> list[str]:
    """Cross-file problems of a study (empty when it is ready to run).

    Parameters
    ----------
    study
        A study that passed schema validation.
    max_fragments
        Fragments read per file at most (0: read every file whole).

    Returns
    -------
    list of str
        One message per problem, naming the file or field.
    """
    problems = _check_model(study)
    cell_types: dict[str, set[str]] = {}
    try:
        names = _genome_names(study)
    except AtlasbenchError as exc:
        return [*problems, str(exc)]
    for field, path, read_chroms in (
        ("regions.bed", study.regions.bed, lambda p: read_bed(p)["chrom"]),
        ("genome.blacklist", study.genome.blacklist, lambda p: read_bed(p)["chrom"]),
        ("genome.annotation", study.genome.annotation, lambda p: read_tss(p)["chrom"]),
    ):
        if path is None:
            continue
        try:
            chroms = sorted(set(read_chroms(path).astype(str)))
        except AtlasbenchError as exc:
            problems.append(f"{field}: {exc}")
            continue
        if names is None:  # a genome to fetch: checked by the run
            continue
        mapping, _ = match_chromosomes(chroms, names)
        if not mapping:
            problems.append(f"{field}: none of its chromosomes {chroms[:5]} match the genome's {names[:5]}")
    for i, platform in enumerate(study.platforms):
        if platform.kind != "sourced":
            continue
        where = f"platforms[{i}] ({platform.name})"
        assert platform.cells is not None and platform.fragments is not None  # a sourced platform has both (schema)
        samples = platform.sample_names
        try:
            cells = read_cell_table(platform.cells, samples)
        except AtlasbenchError as exc:
            problems.append(f"{where}.cells: {exc}")
            continue
        if platform.cell_calls is not None:
            try:
                calls = {s: read_cell_calls(path) for s, path in zip(samples, platform.cell_calls)}
                cells = keep_called_cells(cells, calls, {s: str(path) for s, path in zip(samples, platform.cell_calls)})
            except AtlasbenchError as exc:
                problems.append(f"{where}.cell_calls: {exc}")
                continue
        if isinstance(platform.sequenced_reads, Path):
            try:
                platform.sequenced_read_pairs()
            except AtlasbenchError as exc:
                problems.append(f"{where}.sequenced_reads: {exc}")
        cell_types[platform.name] = set(cells["cell_type"])
        problems += _check_cell_type_names(where, cell_types[platform.name])
        problems += _check_cell_levels(study, platform.name, where, cells["cell_type"].to_numpy())
        for j, path in enumerate(platform.fragments):
            of_sample = cells["barcode"][cells["sample"] == samples[j]]
            ids = {b: k for k, b in enumerate(of_sample)}
            seen = np.zeros(len(ids), dtype=bool)
            # contigs are listed and checked by _check_contigs, over the whole file
            reader = FragmentReader(path, barcodes=ids)
            n = 0
            try:
                for batch in reader:
                    seen[batch.barcode[batch.barcode >= 0]] = True
                    n += len(batch)
                    if max_fragments and n >= max_fragments:
                        break
            except AtlasbenchError as exc:
                problems.append(f"{where}.fragments[{j}]: {exc}")
                continue
            if names is not None:  # else a genome to fetch: the run checks the contigs
                problems += _check_contigs(study, f"{where}.fragments[{j}]", path, names)
            if len(ids) and not seen.any():
                problems.append(
                    f"{where}.cells: none of the {len(ids)} barcodes of sample {samples[j]!r} occur in the first "
                    f"{n:,} fragments of {path} (cell table has e.g. {next(iter(ids))!r}); check suffixes such as '-1'"
                )
            else:
                log.info(
                    "%s: %s: %d of %d annotated barcodes seen in %d fragments",
                    where,
                    Path(path).name,
                    int(seen.sum()),
                    len(ids),
                    n,
                )
    for i, platform in enumerate(study.platforms):
        if platform.union is None or not all(part in cell_types for part in platform.union):
            continue
        # a combined platform writes the union of its parts' cell types into one folder
        parts = [cell_types[part] for part in platform.union]
        union: set[str] = set().union(*parts)
        problems += _check_cell_type_names(f"platforms[{i}] ({platform.name})", union, within=parts)
    return problems


def _check_cell_type_names(where: str, names: set[str], within: list[set[str]] | None = None) -> list[str]:
    """Cell-type names must be usable as file names through :func:`~atlasbench.io.names.file_stem`.

    A name must not be empty or only whitespace, and no two names may share a file name
    after the rule, nor have file names differing only in case (they would overwrite each
    other on case-insensitive file systems: macOS, Windows). ``within``: for a combined
    platform, its parts' names; pairs already reported within one part are not repeated.
    """
    problems = []
    by_stem: dict[str, list[str]] = {}
    for name in sorted(names):
        if not name.strip():
            if within is None:
                problems.append(
                    f"{where}.cells: cell type {name!r} is empty or only whitespace; give every cell a named cell type"
                )
            continue
        by_stem.setdefault(file_stem(name).lower(), []).append(name)
    for group in by_stem.values():
        for k, first in enumerate(group):
            for second in group[k + 1 :]:
                if within is not None and any(first in part and second in part for part in within):
                    continue
                a, b = file_stem(first), file_stem(second)
                if a == b:
                    how = f"the same file name {a!r}, so their files would overwrite each other"
                else:
                    how = (
                        f"file names {a!r} and {b!r} that differ only in case, so their files would overwrite "
                        "each other on case-insensitive file systems (macOS, Windows)"
                    )
                problems.append(f"{where}.cells: cell types {first!r} and {second!r} have {how}; rename one of them")
    return problems


def _check_cell_levels(study: Study, platform: str, where: str, cell_types: np.ndarray) -> list[str]:
    """Each numeric cells level of a platform (``grid.cells`` and its named scenarios'
    ``cells``) must leave some cell type ``grid.min_cells_per_type`` cells.

    Cell types expected to fall short at a level (cells kept in proportion to the cell
    table) are left out of that level's targets at run time: logged here, not a problem.
    "matched" levels depend on every platform's cells with data, so they are checked
    at run time.
    """
    grid = study.grid
    levels = {c for c in grid.cells if c != "all"}
    scenarios = [s for s in grid.scenarios if s.platform == platform]
    levels |= {s.cells for s in scenarios if isinstance(s.cells, int)}
    matched = [s.name for s in scenarios if isinstance(s.cells, str) and s.cells != "all"]
    if matched:
        log.info("%s: the cells of matched scenario(s) %s are checked at run time", where, ", ".join(matched))
    n = len(cell_types)
    if n == 0:
        return []
    labels, counts = np.unique(cell_types, return_counts=True)
    minimum = grid.min_cells_per_type
    problems = []
    for level in sorted(levels):
        expected = counts * min(level, n) / n
        low = [f"{t!r} (~{e:.0f} cells)" for t, e in zip(labels, expected) if e < minimum]
        if len(low) == len(labels):
            problems.append(
                f"{where}.cells: at cells level {level} every cell type keeps fewer than "
                f"grid.min_cells_per_type={minimum} cells ({', '.join(low)}), so that level would have "
                "no targets; raise the level or lower min_cells_per_type"
            )
        elif low:
            log.warning(
                "%s: at cells level %d these cell types keep fewer than grid.min_cells_per_type=%d cells and "
                "are left out of that level's targets: %s",
                where,
                level,
                minimum,
                ", ".join(low),
            )
    return problems


def list_contigs(path: str | Path) -> tuple[list[str], str]:
    """Every contig of a fragments file, in file order, and where the list came from.

    From the tabix index (``.tbi`` or ``.csi`` beside the file) when there is one, which
    takes no time; otherwise by a full streaming pass over the file.

    Returns
    -------
    contigs : list of str
        Contig names as the file spells them.
    source : str
        ``"tabix index"`` or ``"full pass"``.
    """
    path = Path(path)
    if Path(f"{path}.tbi").exists() or Path(f"{path}.csi").exists():
        try:
            with pysam.TabixFile(str(path)) as tabix:
                return list(tabix.contigs), "tabix index"
        except (OSError, ValueError) as exc:
            log.warning("%s: could not read its tabix index (%s); listing contigs by a full pass", path, exc)
    reader = FragmentReader(path, barcodes={})
    for _ in reader:
        pass
    return list(reader.chromosomes), "full pass"


def contig_fates(contigs: list[str], genome: list[str], chromosomes: list[str] | None = None) -> pd.DataFrame:
    """What ingest does with each contig of a fragments file.

    Parameters
    ----------
    contigs
        Contig names as a fragments file spells them.
    genome
        The genome's sequence names.
    chromosomes
        The study's ``genome.chromosomes`` (any spelling), or None for all.

    Returns
    -------
    pandas.DataFrame
        One row per contig: contig, fate (``"kept"``, ``"renamed"`` or ``"dropped"``),
        genome_name (the genome's spelling, empty when absent) and reason (for a dropped
        contig: ``"not in genome"`` or ``"not in genome.chromosomes"``).
    """
    mapping, _ = match_chromosomes(contigs, genome)
    keep = None if chromosomes is None else set(match_chromosomes(chromosomes, genome)[0].values())
    rows = []
    for c in contigs:
        hit = mapping.get(c)
        if hit is None:
            rows.append((c, "dropped", "", "not in genome"))
        elif keep is not None and hit not in keep:
            rows.append((c, "dropped", hit, "not in genome.chromosomes"))
        else:
            rows.append((c, "kept" if hit == c else "renamed", hit, ""))
    return pd.DataFrame(rows, columns=["contig", "fate", "genome_name", "reason"])


def _check_contigs(study: Study, where: str, path: str | Path, names: list[str]) -> list[str]:
    """Log every contig of a fragments file and its fate; contigs absent from the genome
    are a problem only with ``genome.unknown_contigs: error``."""
    try:
        contigs, source = list_contigs(path)
    except AtlasbenchError as exc:
        return [f"{where}: {exc}"]
    fates = contig_fates(contigs, names, study.genome.chromosomes)
    described = []
    for r in fates.itertuples():
        if r.fate == "renamed":
            described.append(f"{r.contig} renamed to {r.genome_name}")
        elif r.fate == "dropped":
            described.append(f"{r.contig} dropped ({r.reason})")
        else:
            described.append(f"{r.contig} kept")
    log.info("%s: %s: %d contigs (%s): %s", where, Path(path).name, len(fates), source, "; ".join(described))
    unknown = fates.loc[fates["reason"] == "not in genome", "contig"].tolist()
    if unknown and study.genome.unknown_contigs == "error":
        return [
            f"{where}: {path}: contigs {unknown[:5]}{' ...' if len(unknown) > 5 else ''} are not in the genome "
            f"(which has {names[:8]}) and genome.unknown_contigs is error; rename them, use the genome they were "
            "mapped to, or set genome.unknown_contigs: drop"
        ]
    return []
