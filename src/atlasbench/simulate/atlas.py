"""A whole simulated study on disk: the files a real study has, plus the truth.

:func:`simulate_atlas` designs the regions and planted motifs on a real genome
(:mod:`atlasbench.simulate.grammar`), sequences every platform
(:mod:`atlasbench.simulate.sequencing`) and writes::

    genome/genome.fa.gz (+ .fai, .gzi)   the genome with the motifs planted (bgzip)
    genome/promoters.gff3                 a gene per promoter region, for TSS enrichment
    <platform>/fragments.tsv.gz (+ .tbi)  bgzipped, tabix-indexed 10x fragments
    <platform>/cells.tsv                  barcode, cell_type (empty droplets left out)
    <platform>/summary.csv, singlecell.csv  as Cell Ranger ATAC writes them: sequenced
                                          read pairs (usable fraction of the platform)
                                          and the cell calls
    enhancers.tsv                         "validated" enhancers with their target type,
                                          and negatives
    truth/regions.tsv                     every region, its kind and true accessibility
                                          per cell type
    truth/sites.tsv                       every planted motif instance
    truth/tn5_log_odds.tsv                the Tn5 insertion bias of each platform
    truth/<platform>_barcodes.tsv         what is behind each barcode (type, doublet,
                                          collision, library complexity, reads, fragments)
    truth/simulation.json                 preset, seed, platform profiles, grammar,
                                          the background (a Markov genome's order,
                                          source and length)
    study.yaml                            a study over all of it (``atlasbench validate``)

Same preset and seed, identical files (BGZF files compared by their content).

**The background.** By default the motifs are planted into the bundled real dm6 slice
(1.38 Mbp, room for about 2,000 regions, with the real genome's tandem repeats) or the
FASTA given as ``genome``. With a ``genome_length`` (a preset's, or the argument) the
background is instead a genome of that many bp drawn from a 5th-order Markov chain
fitted on that source (:mod:`atlasbench.simulate.background`): ``chr1`` to ``chr10``, the
source's frequencies of every 6-mer on both strands, no long repeats, no N. It is drawn
from its own random stream, so the planted grammar, its truth and the sequencing follow
the same rules either way; a preset can ask for ``genome_length=20_000_000,
n_regions=20_000`` (regions are then packed closer when the genome needs it, as with an
``n_regions`` override).

**Presets** (:data:`PRESETS`): ``small`` (tests), ``demo`` (minutes on a laptop), ``large``
(the published platforms' depth at atlas scale) and ``paper``, the published mouse
study's shape at CPU size: the 16 cortex-like cell types of
:data:`~atlasbench.simulate.grammar.CORTEX_CELL_TYPES`; a 10x-like platform with 1,000
cells and a HyDrop-like one with 2,000 and half the library complexity; a study of 10
chromosome-block folds and the published scenarios (PROTOCOL.md: all cells and reads,
reads capped at the saturation depth, cells matched to the 10x-like count, and on HyDrop
matched +25/+50/+75%). Its sequencing depth is scaled down about 230-fold and every QC
ratio kept: ~103 vs ~54 unique fragments per cell at full depth (published 22.7k vs
11.2k), ~84 vs ~51 at the scaled saturation depth of 156 reads per cell (16.6k vs 10.2k
at 36k reads), FRiP ~0.51 on both, a TSS enrichment ~0.55x as high on the HyDrop-like
platform. Scaled so, a cell type's pseudobulk holds about as few insertions per region
as in the published atlas, and the number of cells limits how well targets follow the
truth: at matched cells the HyDrop-like targets trail, and more cells close the gap.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pysam

from atlasbench.io.atomic import atomic_path, write_text_atomic
from atlasbench.io.genome import prepare_fasta
from atlasbench.simulate.background import DEFAULT_ORDER, markov_genome
from atlasbench.simulate.cellranger import write_cellranger_outputs
from atlasbench.simulate.grammar import (
    CORTEX_CELL_TYPES,
    CORTEX_GRAMMAR,
    DEFAULT_CELL_TYPES,
    CellType,
    Design,
    GrammarParams,
    design_atlas,
)
from atlasbench.simulate.platforms import HYDROP, TENX, PlatformProfile
from atlasbench.simulate.sequencing import plan_barcodes, sequence_platform

log = logging.getLogger(__name__)

#: Share of each default cell type among the cells (twi, tin, lz, GATAe, SoxN, grh, repo, fkh).
DEFAULT_PROPORTIONS = np.array([0.22, 0.06, 0.10, 0.16, 0.16, 0.14, 0.08, 0.08])

#: Share of each cortex cell type (:data:`CORTEX_CELL_TYPES`, in order): about the make-up of
#: a mouse motor cortex atlas, abundant IT neurons and oligodendrocytes, 2% rare types.
CORTEX_PROPORTIONS = np.array(
    [0.14, 0.12, 0.04, 0.06, 0.10, 0.02, 0.05, 0.04, 0.03, 0.03, 0.10, 0.12, 0.04, 0.05, 0.04, 0.02]
)


@dataclass(frozen=True)
class NamedScenario:
    """A named scenario of a preset's study (:class:`atlasbench.study.schema.Scenario`).

    Attributes
    ----------
    name
        Scenario name (letters, digits, ``-`` and ``_``).
    platform
        Platform name.
    cells
        A number of cells, ``"all"``, ``"matched"`` or ``"matched+N%"``.
    reads_per_cell
        Mean reads per cell, or ``"all"``.
    """

    name: str
    platform: str
    cells: int | str = "all"
    reads_per_cell: int | str = "all"


@dataclass(frozen=True)
class Preset:
    """Size, cell types and platforms of a simulated study, and the shape of its study file.

    Attributes
    ----------
    n_cells
        Annotated cells: one number for every platform, or one per platform (in the
        order of ``platforms``).
    n_regions
        Designed regions (enhancers, promoters and closed background).
    platforms
        Platform profiles.
    reads_per_cell, cells
        The study's grid levels (unused without ``full_grid``).
    reads_unit
        What the reads-per-cell levels count: ``"usable"`` or ``"sequenced"`` read pairs
        (:class:`atlasbench.study.schema.Grid`).
    full_grid
        Train the grid; without it only the named ``scenarios`` are trained.
    fold_k
        Chromosome-block folds of the study.
    test_folds
        Folds trained as test folds (None: all).
    cell_types
        The cell types and their activators.
    proportions
        Expected share of each cell type among the cells (normalised to sum 1).
    grammar
        Grammar constants, with the pioneer, repressor and promoter motifs.
    scenarios
        Named scenarios, trained in addition to the grid (or instead of it).
    max_epochs
        Training epoch limit of the study.
    patience
        Epochs without a better validation loss before training stops. On the demo's
        noisy validation folds 4 stopped some models before they had learned anything
        (validation loss still at the constant predictor's, test Pearson ~0.2 where their
        neighbours on the grid reached 0.7); 10 lets every one of them learn. The demo
        does not stop early at all (patience = max_epochs): with 12, the odd model whose
        validation loss rose for a while at the high learning rate stopped just before
        the plateau decay brought it back, 0.03 to 0.05 below its pair, and such models
        made most of the scatter of the platforms' paired differences.
    learning_rate
        Peak learning rate of the study's recipe (Adam).
    plateau_patience
        Epochs without a better validation loss before the learning rate is cut; None:
        half the patience (at least 3).
    ema_decay
        The recipe's moving average of the weights (None: none).
    loss_weighting
        ``(loss_multiplier, loss_max_weight)`` of the study's CosineMSELogLoss
        (:class:`~atlasbench.models.settings.Training`); None: the defaults for its
        ``mean_cpm`` targets.
    motif_cell_types
        Cell types of the study's motif read-out; None switches it off.
    jaspar_group
        JASPAR taxonomic group the discovered motifs are matched against.
    spacing
        Least bp between two designed regions, edge to edge. Closer regions fit more of
        them on the bundled genome slice; the study's target window is then narrowed to
        ``width + spacing`` so that no insertion counts for two regions. With
        ``genome_length`` (or an ``n_regions`` override) regions are packed closer, down
        to 100 bp, when the genome could not hold them this far apart.
    genome_length
        None: plant the motifs into the real source genome (the bundled dm6 slice or
        ``--genome``). A number of bp: into a genome that long drawn from a Markov chain
        fitted on the source (:func:`~atlasbench.simulate.background.markov_genome`).
    markov_order
        Order of that Markov chain.
    """

    n_cells: int | tuple[int, ...]
    n_regions: int
    platforms: tuple[PlatformProfile, ...]
    reads_per_cell: tuple[int | str, ...]
    cells: tuple[int | str, ...]
    reads_unit: str = "usable"
    full_grid: bool = True
    fold_k: int = 5
    test_folds: tuple[int, ...] | None = None
    cell_types: tuple[CellType, ...] = DEFAULT_CELL_TYPES
    proportions: tuple[float, ...] = tuple(DEFAULT_PROPORTIONS)
    grammar: GrammarParams = GrammarParams()
    scenarios: tuple[NamedScenario, ...] = ()
    max_epochs: int = 20
    patience: int = 4
    learning_rate: float = 0.003
    plateau_patience: int | None = None
    ema_decay: float | None = None
    loss_weighting: tuple[float, float] | None = None
    motif_cell_types: tuple[str, ...] | None = ("twi", "grh")
    jaspar_group: str = "insects"
    spacing: int = 1000
    genome_length: int | None = None
    markov_order: int = DEFAULT_ORDER

    def __post_init__(self) -> None:
        if not isinstance(self.n_cells, int) and len(self.n_cells) != len(self.platforms):
            raise ValueError(f"n_cells gives {len(self.n_cells)} counts for {len(self.platforms)} platforms")
        if len(self.proportions) != len(self.cell_types):
            raise ValueError(f"{len(self.proportions)} proportions for {len(self.cell_types)} cell types")

    def cell_counts(self, n_cells: int | None = None) -> tuple[int, ...]:
        """Annotated cells of each platform.

        Parameters
        ----------
        n_cells
            Cells of the first platform, overriding the preset; every other platform
            keeps its ratio to the first (the same number, in a preset with one).

        Returns
        -------
        tuple of int
            One count per platform, in the order of ``platforms``.
        """
        counts = (self.n_cells,) * len(self.platforms) if isinstance(self.n_cells, int) else self.n_cells
        if n_cells is None:
            return counts
        return tuple(round(n_cells * c / counts[0]) for c in counts)


def _scaled(profile: PlatformProfile, complexity: float, reads: float, **changes: Any) -> PlatformProfile:
    return dataclasses.replace(profile, complexity=complexity, reads_per_cell=reads, **changes)


_REGION_WIDTH = 500

# The paper preset at CPU size (see :data:`PRESETS`). Sequencing depth is scaled down
# ~230-fold from the published mouse cortex atlas, keeping its ratios (PROTOCOL.md, QC for
# mouse) and keeping the pseudobulks thin enough for cell numbers to matter: median
# library complexity 100 (10x-like) and 45 (HyDrop-like) molecules per cell for 23,000
# and 11,500, 260 reads per cell on both, so unique fragments per cell come out ~103 vs
# ~54 (published 22.7k vs 11.2k, ratio ~2). The published saturation depth, 36k reads per
# cell, becomes 156 reads per cell: 0.6 of full depth, where the model M(1 - exp(-R/M))
# gives the published ratio (~84 vs ~51 unique fragments; published 16.6k vs 10.2k). FRiP
# over the study's consensus peaks ~0.51 on both (the profiles' frip is the share of
# molecules drawn at regions; background molecules add to it). TSS enrichment of the
# HyDrop-like platform ~0.55x the 10x-like one (~14 vs ~25; published 11.7 vs 18.6): its
# library has fewer nucleosome-free fragments, whose insertions gather on the TSS. The
# HyDrop-like platform has twice the cells, so "matched" (the 10x-like count) plus 25,
# 50 and 75% all stay below its total.
_PAPER_DEPTH = 260
_PAPER_CAP = 156
_PAPER_PLATFORMS = (
    _scaled(TENX, 100, _PAPER_DEPTH, frip=0.47, nucleosome_free=0.6),
    _scaled(HYDROP, 45, _PAPER_DEPTH, frip=0.49, nucleosome_free=0.3, ambient=0.08),
)


def _paper_scenarios() -> tuple[NamedScenario, ...]:
    """The published mouse scenarios (PROTOCOL.md), named ``<platform>-<scenario>``."""
    named = []
    for platform in ("10x", "hydrop"):
        for cells, cells_name in (("all", "all"), ("matched", "limited")):
            named.append(NamedScenario(f"{platform}-{cells_name}", platform, cells))
            capped = "depth-cap" if cells == "all" else "limited-cap"
            named.append(NamedScenario(f"{platform}-{capped}", platform, cells, _PAPER_CAP))
    named += [NamedScenario(f"hydrop-limited-plus{n}", "hydrop", f"matched+{n}%") for n in (25, 50, 75)]
    return tuple(named)


PRESETS = {
    # tests: seconds
    "small": Preset(
        400,
        300,
        (_scaled(TENX, 1_600, 2_000), _scaled(HYDROP, 800, 2_000)),
        (500, "all"),
        (200, "all"),
        test_folds=(0,),
    ),
    # the demo: under a minute to simulate, minutes to run as a study on 2 CPU cores (two test
    # folds: with one, 6 paired grid points left a real platform difference at p = 0.06). On
    # a 1.6 Mbp Markov background fitted on the dm6 slice (the slice's satellites were the
    # top TF-MoDISco patterns). 1,400 regions packed 100 bp apart, so that about 1,100 become
    # peaks: fewer leave the tiny models' accuracy to the luck of their initialisation
    # (benchmarks/regions_curve.py: at this depth per cell accuracy is flat from 1,000 to
    # 8,000 regions, 0.66-0.69 against the truth). Depth scaled to them: a
    # cell's ~220 (10x-like) or ~130 (HyDrop-like) unique fragments over ~1,000 regions are
    # about as few insertions per region as a real cell's 20k over a real atlas's 800k, so
    # the number of fragments, and with it the library complexity, limits the targets. The
    # platforms as published (PROTOCOL.md): both sequenced to 500 read pairs per cell, the
    # HyDrop-like one yields 0.6x the unique fragments of the 10x-like one (16,605 vs 10,151
    # at 36k reads per cell) and has 1.6x its cells, at a tenth of the library cost per cell.
    # The grid compares them as the published study did, at matched cells ("limited cells")
    # and equal *sequenced* reads per cell, where the 10x-like data are the better at every
    # grid point (0.75x to 0.6x the unique fragments); each platform's full data (all its
    # cells) is a named scenario, for the read-outs and the cost per design. Each test fold
    # trains on its own draw of a grid point (atlasbench.data.sampling), so the libraries
    # hold five times the grid's largest level, 8,000 and 12,800 cells: two draws of 1,500
    # cells share about a fifth of them (10x-like) or an eighth (HyDrop-like), and sample
    # the library almost as a second library of the platform would.
    "demo": Preset(
        (8_000, 12_800),
        1_400,
        (_scaled(TENX, 300, 400), _scaled(HYDROP, 150, 325)),
        (100, 250, "all"),
        (500, 1_500),
        reads_unit="sequenced",
        scenarios=(NamedScenario("10x-all-cells", "10x"), NamedScenario("hydrop-all-cells", "hydrop")),
        test_folds=(0, 1),
        spacing=100,
        max_epochs=40,
        patience=40,
        plateau_patience=6,
        learning_rate=0.01,
        ema_decay=0.99,
        loss_weighting=(1.0, 100.0),
        motif_cell_types=tuple(ct.name for ct in DEFAULT_CELL_TYPES),
        genome_length=1_600_000,
    ),
    # the published platforms' complexity at 20k reads per cell, at atlas scale
    "large": Preset(
        100_000,
        800,
        (_scaled(TENX, 23_000, 20_000), _scaled(HYDROP, 11_500, 20_000)),
        (4_000, 12_000, "all"),
        (20_000, 50_000, "all"),
    ),
    # the published mouse study's shape at CPU size (see above): 16 cortex cell types, the
    # scenarios of PROTOCOL.md, 10 chromosome-block folds
    "paper": Preset(
        (1_000, 2_000),
        800,
        _PAPER_PLATFORMS,
        ("all",),
        ("all",),
        fold_k=10,
        cell_types=CORTEX_CELL_TYPES,
        proportions=tuple(CORTEX_PROPORTIONS),
        grammar=CORTEX_GRAMMAR,
        full_grid=False,
        scenarios=_paper_scenarios(),
        max_epochs=12,
        motif_cell_types=None,
        jaspar_group="vertebrates",
    ),
}


def read_fasta(path: str | Path) -> dict[str, str]:
    """Read a (plain or gzip) FASTA into memory: name -> uppercase sequence."""
    path = Path(path)
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    seqs: dict[str, list[str]] = {}
    name = None
    with opener(path, "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                name = line[1:].split()[0]
                seqs[name] = []
            elif name is not None:
                seqs[name].append(line.strip().upper())
    return {k: "".join(v) for k, v in seqs.items()}


def bundled_genome() -> Path:
    """The real Drosophila dm6 slice shipped with the package (1% of each arm)."""
    from importlib import resources

    return Path(str(resources.files("atlasbench") / "resources" / "dm6_1pct.fa.gz"))


def simulate_atlas(
    out: str | Path,
    preset: str = "demo",
    n_cells: int | None = None,
    seed: int = 0,
    genome: str | Path | None = None,
    platforms: tuple[str, ...] | None = None,
    n_regions: int | None = None,
    genome_length: int | None = None,
) -> Path:
    """Simulate a complete scATAC study with known ground truth (see module docstring).

    Parameters
    ----------
    out
        Output folder (created).
    preset
        ``small``, ``demo``, ``large`` or ``paper`` (:data:`PRESETS`).
    n_cells
        Cells of the first platform, overriding the preset; the other platforms keep
        their ratio to it (:meth:`Preset.cell_counts`).
    seed
        Seed of everything random.
    genome
        A FASTA to use as the sequence background instead of the bundled dm6 slice
        (held in memory: use a few chromosomes of a large genome); with a genome length,
        the source of the Markov background's statistics.
    platforms
        Names of the preset's platforms to simulate (default: all of them), e.g.
        ``("10x",)`` to time one platform of the large preset. Each platform keeps the
        random stream it has in the full preset, so its files are the same either way.
    n_regions
        Designed regions, overriding the preset (regions are packed closer, down to 100
        bp apart, when the genome needs it; the bundled genome holds about 2,000).
    genome_length
        Bases of a simulated background genome, overriding the preset's
        (:attr:`Preset.genome_length`): a Markov chain fitted on ``genome`` (or the
        bundled slice) draws it, and the motifs are planted into it instead of the real
        sequence. A 20 Mbp genome holds 20,000 regions or more.

    Returns
    -------
    pathlib.Path
        The study file ``out/study.yaml``.
    """
    if preset not in PRESETS:
        from atlasbench.errors import AtlasbenchError

        raise AtlasbenchError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    chosen = PRESETS[preset]
    counts = chosen.cell_counts(n_cells or None)
    keep = _keep_platforms(chosen, platforms)
    out = Path(out)
    root = np.random.SeedSequence(seed)
    design_seed, *platform_seeds = root.spawn(1 + len(chosen.platforms))
    background = read_fasta(genome or bundled_genome())
    if genome_length is not None:
        chosen = dataclasses.replace(chosen, genome_length=genome_length)
    markov = None
    if chosen.genome_length is not None:
        # its own stream, spawned after the design's and platforms': those stay as they were
        markov_rng = np.random.default_rng(root.spawn(1)[0])
        background = markov_genome(background, chosen.genome_length, order=chosen.markov_order, rng=markov_rng)
        markov = {
            "kind": "markov",
            "order": chosen.markov_order,
            "source": str(genome) if genome else "bundled dm6 slice",
            "length": chosen.genome_length,
            "chromosomes": {name: len(seq) for name, seq in background.items()},
        }
        log.info("drew a %d bp background of order %d", chosen.genome_length, chosen.markov_order)
    if n_regions is not None or chosen.genome_length is not None:
        n_regions = n_regions or chosen.n_regions
        genome_bp = sum(len(seq) for seq in background.values())
        spacing = int(np.clip(genome_bp / (2 * n_regions) - _REGION_WIDTH, 100, chosen.spacing))
        chosen = dataclasses.replace(chosen, n_regions=n_regions, spacing=spacing)
    n_regions, spacing = chosen.n_regions, chosen.spacing
    design = design_atlas(
        background,
        n_regions,
        chosen.cell_types,
        rng=np.random.default_rng(design_seed),
        width=_REGION_WIDTH,
        spacing=spacing,
        params=chosen.grammar,
    )
    log.info("designed %d regions on %d chromosomes", len(design.regions), len(design.genome))
    _write_genome(design, out / "genome")
    _write_truth(design, out / "truth")
    _write_enhancers(design, out / "enhancers.tsv", np.random.default_rng(design_seed.spawn(1)[0]))

    tn5 = pd.concat(
        [
            pd.DataFrame(p.tn5_log_odds, columns=list("ACGT")).assign(platform=p.name, position=np.arange(-10, 11))
            for p in chosen.platforms
        ]
    )[["platform", "position", "A", "C", "G", "T"]]
    with atomic_path(out / "truth" / "tn5_log_odds.tsv") as tmp:
        tn5.to_csv(tmp, sep="\t", index=False)
    proportions = np.asarray(chosen.proportions) / np.sum(chosen.proportions)
    truth = design.truth[design.cell_types].to_numpy()
    for profile, platform_cells, platform_seed in zip(chosen.platforms, counts, platform_seeds):
        if profile.name not in keep:
            continue
        rng = np.random.default_rng(platform_seed)
        plan = plan_barcodes(profile, platform_cells, design.cell_types, proportions, rng)
        folder = out / profile.name
        fragments = folder / "fragments.tsv.gz"
        with atomic_path(fragments) as tmp:
            table = sequence_platform(tmp, design.genome, design.regions, truth, plan, profile, rng)
        pysam.tabix_index(str(fragments), preset="bed", force=True)
        cells = table[table["kind"] != "empty"][["barcode", "cell_type"]]
        with atomic_path(folder / "cells.tsv") as tmp:
            cells.to_csv(tmp, sep="\t", index=False)
        with atomic_path(out / "truth" / f"{profile.name}_barcodes.tsv") as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        write_cellranger_outputs(table, profile, folder)
        log.info("%s: %d barcodes, %d fragments", profile.name, len(table), int(table["n_fragments"].sum()))
    write_text_atomic(
        out / "truth" / "simulation.json",
        json.dumps(
            {
                "preset": preset,
                "seed": seed,
                "n_cells": counts[0]
                if len(set(counts)) == 1
                else {p.name: n for p, n in zip(chosen.platforms, counts)},
                "genome": str(genome) if genome else "bundled dm6 slice",
                **({"background": markov} if markov else {}),
                "platforms": [dataclasses.asdict(p) for p in chosen.platforms],
                "simulated_platforms": [p.name for p in chosen.platforms if p.name in keep],
                "cell_types": [dataclasses.asdict(c) for c in design.cell_type_specs],
                "proportions": dict(zip(design.cell_types, proportions.round(6).tolist())),
                "grammar": dataclasses.asdict(design.params),
            },
            indent=1,
            default=str,
        ),
    )
    if len(keep) < len(chosen.platforms):
        # a study names only what was simulated; the seeds above still come from the full preset
        chosen = dataclasses.replace(chosen, platforms=tuple(p for p in chosen.platforms if p.name in keep))
    study = out / "study.yaml"
    write_text_atomic(study, _study_yaml(preset, chosen, seed))
    return study


def _keep_platforms(chosen: Preset, platforms: tuple[str, ...] | None) -> set[str]:
    names = [p.name for p in chosen.platforms]
    if platforms is None:
        return set(names)
    unknown = sorted(set(platforms) - set(names))
    if unknown or not platforms:
        from atlasbench.errors import AtlasbenchError

        raise AtlasbenchError(f"unknown platform(s) {unknown}; the preset has {names}")
    return set(platforms)


def simulated_study(out: str | Path, preset: str = "demo", seed: int = 0) -> Path:
    """The study file of a simulated atlas in ``out``, simulating it only if not there yet.

    A complete simulation ends with ``study.yaml``; one made with the same preset and
    seed is reused (files untouched, so every cached stage of the study stays valid).
    """
    out = Path(out)
    record = out / "truth" / "simulation.json"
    if (out / "study.yaml").exists() and record.exists():
        made = json.loads(record.read_text())
        complete = (
            made.get("simulated_platforms", [p["name"] for p in made.get("platforms", [])])
            == [p.name for p in PRESETS[preset].platforms]
            if preset in PRESETS
            else False
        )
        same_background = made.get("background", {}).get("length") == (
            PRESETS[preset].genome_length if preset in PRESETS else None
        )
        if made.get("preset") == preset and made.get("seed") == seed and complete and same_background:
            log.info("simulated atlas found in %s", out)
            return out / "study.yaml"
    return simulate_atlas(out, preset=preset, seed=seed)


def _write_genome(design: Design, folder: Path) -> None:
    plain = folder / "genome.fa"
    with atomic_path(plain) as tmp, tmp.open("w") as fh:
        for name, seq in design.genome.items():
            fh.write(f">{name}\n")
            for i in range(0, len(seq), 80):
                fh.write(seq[i : i + 80] + "\n")
    prepare_fasta(plain, folder / "genome.fa.gz")
    plain.unlink()
    promoters = design.regions[design.regions["kind"] == "promoter"]
    lines = ["##gff-version 3"]
    for i, r in enumerate(promoters.itertuples(), start=1):
        tss = int(r.summit)
        size = len(design.genome[r.chrom])
        if r.strand == "+":
            lo, hi = tss + 1, min(tss + 1000, size)
        else:
            lo, hi = max(tss - 999, 1), tss + 1
        lines.append(f"{r.chrom}\tatlasbench\tgene\t{lo}\t{hi}\t.\t{r.strand}\t.\tID=gene{i};Name=sim{i}")
        lines.append(f"{r.chrom}\tatlasbench\tmRNA\t{lo}\t{hi}\t.\t{r.strand}\t.\tID=tx{i};Parent=gene{i}")
    write_text_atomic(folder / "promoters.gff3", "\n".join(lines) + "\n")


def _write_truth(design: Design, folder: Path) -> None:
    regions = design.regions.join(design.truth, on="name")
    for name, table in (("regions.tsv", regions), ("sites.tsv", design.sites)):
        with atomic_path(folder / name) as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")


def _write_enhancers(design: Design, path: Path, rng: np.random.Generator) -> None:
    """A quarter of each type's specific enhancers as positives; as many closed regions as negatives."""
    regions = design.regions
    positives = []
    for t in design.cell_types:
        own = regions[(regions["kind"] == "enhancer") & (regions["target"] == t)]
        k = max(1, len(own) // 4)
        positives.append(own.iloc[np.sort(rng.choice(len(own), size=min(k, len(own)), replace=False))])
    pos = pd.concat(positives)
    closed = regions[regions["kind"] == "closed"]
    neg = closed.iloc[np.sort(rng.choice(len(closed), size=min(len(pos), len(closed)), replace=False))]
    table = pd.concat(
        [
            pos[["name", "chrom", "start", "end"]].assign(target_cell_type=pos["target"], label=1),
            neg[["name", "chrom", "start", "end"]].assign(target_cell_type="", label=0),
        ]
    )
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


def _study_yaml(preset: str, chosen: Preset, seed: int) -> str:
    platforms = "".join(
        f"  - name: {p.name}\n"
        f"    fragments: {p.name}/fragments.tsv.gz\n"
        f"    cells: {p.name}/cells.tsv\n"
        f"    cell_calls: {p.name}/singlecell.csv\n"
        f"    sequenced_reads: {p.name}/summary.csv\n"
        f"    cost: {{per_cell: {p.cost_per_cell}, per_million_reads: {p.cost_per_million_reads}}}\n"
        for p in chosen.platforms
    )
    levels = lambda xs: "[" + ", ".join(str(x) for x in xs) + "]"  # noqa: E731
    test_folds = "" if chosen.test_folds is None else f"  test_folds: {levels(chosen.test_folds)}\n"
    grid = "grid:\n"
    if chosen.full_grid:
        grid += f"  reads_per_cell: {levels(chosen.reads_per_cell)}\n  cells: {levels(chosen.cells)}\n"
        if chosen.reads_unit != "usable":
            grid += f"  reads_unit: {chosen.reads_unit}\n"
    else:
        grid += "  full_grid: false\n"
    if chosen.scenarios:
        # with some platforms left out, "matched" would mean another count: those scenarios go too
        every = len(chosen.platforms) == len(
            {p.name for p in chosen.platforms} | {sc.platform for sc in chosen.scenarios}
        )
        kept = [
            sc
            for sc in chosen.scenarios
            if sc.platform in {p.name for p in chosen.platforms} and (every or not str(sc.cells).startswith("matched"))
        ]
        quoted = lambda x: f'"{x}"' if isinstance(x, str) else str(x)  # noqa: E731
        grid += "  scenarios:\n" + "".join(
            f"    - {{name: {sc.name}, platform: {sc.platform}, cells: {quoted(sc.cells)}, "
            f"reads_per_cell: {sc.reads_per_cell}}}\n"
            for sc in kept
        )
    folds_note = "" if chosen.full_grid else "  # validation: next (the paper validated on the test fold: same)\n"
    loss_weighting = ""
    if chosen.loss_weighting is not None:
        multiplier, max_weight = chosen.loss_weighting
        loss_weighting = f"  loss_multiplier: {multiplier:g}\n  loss_max_weight: {max_weight:g}\n"
    schedule = f"  lr_plateau_patience: {chosen.plateau_patience or max(3, chosen.patience // 2)}\n"
    if chosen.ema_decay is not None:
        schedule += f"  ema_decay: {chosen.ema_decay:g}\n"
    if chosen.motif_cell_types is None:
        motifs = "null"
    else:
        motifs = (
            f"{{cell_types: {levels(chosen.motif_cell_types)}, top_regions: 300, steps: 8, max_seqlets: 1000, "
            f"leiden_runs: 4, jaspar_group: {chosen.jaspar_group}}}"
        )
    return f"""\
# A simulated atlas (atlasbench simulate --preset {preset} --seed {seed}): the truth is in truth/.
name: simulated-{preset}
output: results
seed: {seed}
genome:
  name: dm6-simulated
  fasta: genome/genome.fa.gz
  annotation: genome/promoters.gff3
platforms:
{platforms}regions:
  width: 500
targets:
  window: {min(1000, _REGION_WIDTH + chosen.spacing)}
  normalization: mean_cpm
{grid}folds:
  scheme: chromosome_block
  k: {chosen.fold_k}
{test_folds}{folds_note}model:                  # sized for a laptop CPU; the published size is preset: paper, input_length: 2114
  architecture: dilated_cnn
  preset: tiny
  input_length: 500
training:
  loss: cosine_mse_log
{loss_weighting}  learning_rate: {chosen.learning_rate}
  batch_size: 32
  max_epochs: {chosen.max_epochs}
  early_stopping_patience: {chosen.patience}
{schedule}evaluation:
  motifs: {motifs}
  enhancers: enhancers.tsv
  reference_platform: {chosen.platforms[0].name}
truth: truth
"""  # noqa: E501 - the model line's comment is part of the study file written
