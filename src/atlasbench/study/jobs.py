"""The jobs of a whole study, their dependencies, and what each one runs.

A study runs in two phases. The *data* jobs are known from the study file alone:

- ``ingest/<platform>`` per sourced platform; ``combine/<platform>`` per combined one;
- ``peaks/<platform>/<cell type>``: MACS3 peaks of one cell type of a sourced platform
  (the cell type's file stem), when the study calls peaks;
- ``regions``: consensus regions with their folds;
- ``targets/<platform>``: every level's pseudobulk targets of one platform;
- ``sequences``: the encoded input window of every region.

The *model* jobs need the data, because named scenarios (matched cell counts, say)
resolve against the ingested cells:

- ``draws/<platform>/<level>/fold-<f>``: the draw of a grid point that test fold's models
  train on, a pass over the platform's data each (every level but the full data);
- ``train/<platform>/<level>/fold-<f>/seed-<s>``: one model per grid point, test fold
  and seed;
- ``evaluate``: every model against its own, its platform's full and the other
  platforms' full targets, and a simulated study's truth;
- ``tn5``: Tn5 insertion bias per platform; ``motifs``: TF-MoDISco motifs of each
  platform's full-data model; ``enhancers``: validated enhancers scored by each
  platform's full-data fold ensemble;
- ``report``: the HTML report.

Each job is a call of :func:`execute_job` with the study and the job's key, so it runs
the same in this process, on a Dask worker or in a SLURM job. One choice of the run, not
of the study, travels with it: whether the report may be partial (a section that fails
noted in its place) rather than fail; it changes no artefact's hash. The stage functions it
calls cache their artefacts by hash, so a job rerun after an interruption resumes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from atlasbench.data.ingest import read_cell_table
from atlasbench.data.levels import FULL_LEVEL
from atlasbench.errors import AtlasbenchError
from atlasbench.io.names import file_stem
from atlasbench.study.schema import Study

if TYPE_CHECKING:
    from atlasbench.report.page import ReportSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One job of a study.

    Attributes
    ----------
    key
        Unique name, e.g. ``train/10x/reads-1000_cells-all/fold-0/seed-7``.
    kind
        Resource class (``ingest``, ``peaks``, ``targets``, ``train``, ``evaluate``,
        ``explain``, ``report``): which executor resources it gets.
    deps
        Keys of the jobs it needs finished first.
    """

    key: str
    kind: str
    deps: tuple[str, ...] = ()


def data_jobs(study: Study) -> list[Job]:
    """The data phase's jobs, in an order that respects their dependencies."""
    ingest = [Job(f"ingest/{p.name}", "ingest") for p in study.sourced_platforms]
    combine = []
    for p in study.combined_platforms:
        assert p.union is not None  # what makes a platform combined
        combine.append(Job(f"combine/{p.name}", "ingest", tuple(f"ingest/{part}" for part in p.union)))
    peaks = []
    if study.regions.bed is None:
        for p in study.sourced_platforms:
            assert p.cells is not None  # a sourced platform has cells (schema)
            cell_types = sorted(read_cell_table(p.cells, p.sample_names)["cell_type"].unique())
            peaks += [Job(peaks_key(p.name, t), "peaks", (f"ingest/{p.name}",)) for t in cell_types]
    regions = Job("regions", "targets", tuple(j.key for j in (peaks or ingest)))
    stores = tuple(j.key for j in ingest + combine)
    targets = [Job(f"targets/{p.name}", "targets", (regions.key, *stores)) for p in study.platforms]
    jobs = [*ingest, *combine, *peaks, regions, *targets]
    if study.genome.fasta is not None or study.genome.remote is not None:
        jobs.append(Job("sequences", "targets", (regions.key,)))
    return jobs


def model_jobs(study: Study, data) -> list[Job]:
    """The model phase's jobs, once the data phase is done.

    Parameters
    ----------
    study
        The study.
    data
        Its :class:`atlasbench.study.data_stages.StudyData`.

    Returns
    -------
    list of Job
        The draws, training jobs, evaluation, read-outs and the report, dependencies first.
    """
    folds, seeds = study.folds.test_fold_list, study.grid.seeds
    draws = [
        Job(draw_key(platform, level, fold), "targets", (f"targets/{platform}",))
        for platform, planned in data.draws.items()
        for level, fold in planned
    ]

    def needs(platform: str, level: str, fold: int) -> tuple[str, ...]:
        draw = () if level == FULL_LEVEL else (draw_key(platform, level, fold),)
        return (f"targets/{platform}", *draw, "sequences")

    train = [
        Job(train_key(s.platform, s.level, fold, seed), "train", needs(s.platform, s.level, fold))
        for s in data.scenarios
        for fold in folds
        for seed in seeds
    ]
    jobs = [*draws, *train, Job("evaluate", "evaluate", tuple(j.key for j in train))]
    readouts = ["evaluate"]
    platforms = [p.name for p in study.platforms]
    full = {p: [train_key(p, FULL_LEVEL, f, s) for f in folds for s in seeds] for p in platforms}
    full = {p: keys for p, keys in full.items() if any(k in {j.key for j in train} for k in keys)}
    if study.sourced_platforms:
        jobs.append(Job("tn5", "ingest", ("regions",)))
        readouts.append("tn5")
    if study.evaluation.motifs is not None and full:
        jobs.append(Job("motifs", "explain", tuple(k for keys in full.values() for k in keys)))
        readouts.append("motifs")
    if study.evaluation.enhancers is not None and full:
        jobs.append(Job("enhancers", "explain", tuple(j.key for j in train)))
        readouts.append("enhancers")
    jobs.append(Job("report", "report", tuple(readouts)))
    return jobs


def peaks_key(platform: str, cell_type: str) -> str:
    """Key of a peak-calling job (the cell type by its file stem, which holds no '/')."""
    return f"peaks/{platform}/{file_stem(cell_type)}"


def draw_key(platform: str, level: str, fold: int) -> str:
    """Key of the job that makes a level's draw for one test fold."""
    return f"draws/{platform}/{level}/fold-{fold}"


def train_key(platform: str, level: str, fold: int, seed: int) -> str:
    """Key of a training job."""
    return f"train/{platform}/{level}/fold-{fold}/seed-{seed}"


# -- what each job runs ---------------------------------------------------------------


def _run_data_job(study: Study, key: str) -> list[Path]:
    from atlasbench.study.data_stages import (
        combine_stage,
        effective_genome_size,
        genome_stage,
        ingest_stage,
        peaks_stage,
        platform_stores,
        regions_stage,
        study_scenarios,
        targets_stage,
    )
    from atlasbench.study.model_stages import sequences_stage

    kind, _, name = key.partition("/")
    genome = genome_stage(study)
    if kind == "ingest":
        return [ingest_stage(study, name, genome).directory]
    if kind == "peaks":
        platform, _, stem = name.partition("/")
        store = platform_stores(study, genome, with_combined=False)[platform]
        cell_type = next((t for t in store.cell_types if file_stem(t) == stem), None)
        if cell_type is None:
            raise AtlasbenchError(
                f"job {key}: platform {platform!r} has no cell of this cell type left after ingest "
                f"(its cell types: {store.cell_types}); check its cell annotation and cell calls"
            )
        return [peaks_stage(study, platform, cell_type, store, effective_genome_size(study, genome)[0])]
    if kind == "combine":
        return [combine_stage(study, name, platform_stores(study, genome, with_combined=False)).directory]
    regions = regions_stage(study, platform_stores(study, genome, with_combined=False), genome)
    if kind == "regions":
        return [Path(regions.attrs["path"]).parent]
    if kind == "sequences":
        path = sequences_stage(study, regions, genome)
        return [path, path.with_suffix(".names.txt")]
    if kind == "targets":
        stores = platform_stores(study, genome)
        records, scenarios, _ = study_scenarios(study, stores)
        files = targets_stage(study, name, stores[name], regions, scenarios, genome, records.get(name))
        return [next(iter(files.levels.values())).parent]
    raise AtlasbenchError(f"unknown job {key!r}")


def readout_folder(study: Study, name: str, *parts: object) -> Path:
    """Folder of a read-out (``readouts/<name>-<hash>``), named by what made it."""
    from atlasbench.study.data_stages import fingerprint

    return study.output / "readouts" / f"{name}-{fingerprint(*parts)}"


def truth_targets(study: Study, data) -> Path:
    """The simulated truth over the study's regions, as targets (``against: truth``).

    Each study region takes the true accessibility of the simulated region holding its
    midpoint, or 0 (closed) where none does.
    """
    import anndata
    import numpy as np

    from atlasbench.data.targets import read_targets, write_targets
    from atlasbench.study.data_stages import fingerprint

    assert study.truth is not None  # called only for a study with a simulated truth
    truth = pd.read_csv(study.truth / "regions.tsv", sep="\t", dtype={"chrom": str})
    out = study.output / "truth" / f"{fingerprint(str(study.truth), data.regions['name'].tolist())}.h5ad"
    if out.exists():
        return out
    reference = read_targets(next(iter(next(iter(data.targets.values())).values())))
    cell_types = [c for c in reference.obs_names if c in truth.columns]
    if not cell_types:
        raise AtlasbenchError(f"{study.truth}/regions.tsv has no column of the study's cell types")
    values = np.zeros((len(data.regions), len(cell_types)), dtype=np.float32)
    middle = ((data.regions["start"] + data.regions["end"]) // 2).to_numpy()
    for chrom, rows in data.regions.groupby("chrom").indices.items():
        design = truth[truth["chrom"] == chrom].sort_values("start")
        if design.empty:
            continue
        at = np.searchsorted(design["start"].to_numpy(), middle[rows], side="right") - 1
        inside = (at >= 0) & (middle[rows] < design["end"].to_numpy()[np.maximum(at, 0)])
        values[rows[inside]] = design[cell_types].to_numpy(np.float32)[at[inside]]
    var = data.regions.set_index("name")[["chrom", "start", "end", "fold"]]
    write_targets(
        anndata.AnnData(
            X=values.T, obs=pd.DataFrame(index=cell_types), var=var, uns={"normalization": "truth", "window": 0}
        ),
        out,
    )
    return out


def truth_fidelity(study: Study, data) -> Path:
    """How closely every grid point's targets follow the simulated truth
    (:func:`atlasbench.readouts.fidelity.target_fidelity`), as a TSV beside the truth
    targets: of the draws the grid point's models train on, averaged, and of the full data
    (the same file for every fold, read once)."""
    from atlasbench.io.atomic import atomic_path
    from atlasbench.readouts.fidelity import target_fidelity
    from atlasbench.study.data_stages import fingerprint

    truth = truth_targets(study, data)
    folds = study.folds.test_fold_list
    trained = {
        platform: {
            level: list(dict.fromkeys(data.training_targets(platform, level, f) for f in folds)) for level in levels
        }
        for platform, levels in data.targets.items()
    }
    named = {
        p: {level: [str(path) for path in paths] for level, paths in levels.items()} for p, levels in trained.items()
    }
    out = study.output / "truth" / f"fidelity-{fingerprint(str(truth), named)}.tsv"
    if not out.exists():
        with atomic_path(out) as tmp:
            target_fidelity(trained, truth).to_csv(tmp, sep="\t", index=False)
    return out


def _evaluate(study: Study, data, model_dirs: list[Path]) -> Path:
    from atlasbench.io.atomic import atomic_path
    from atlasbench.study.data_stages import fingerprint
    from atlasbench.study.model_stages import evaluate_stage

    full = {platform: levels[FULL_LEVEL] for platform, levels in data.targets.items()}
    truth = truth_targets(study, data) if study.truth is not None else None
    tables = []
    for model_dir in model_dirs:
        spec = pd.read_json(model_dir / "model.json", typ="series")
        platform, level = spec["platform"], spec["level"]
        against = {"own": data.training_targets(platform, level, int(spec["test_fold"])), "full": full[platform]}
        against.update({f"platform:{other}": path for other, path in full.items() if other != platform})
        if truth is not None:
            against["truth"] = truth
        tables.append(evaluate_stage(model_dir, against))
    table = pd.concat(tables, ignore_index=True)
    out = study.output / "evaluation" / f"{fingerprint([str(m) for m in model_dirs])}.parquet"
    with atomic_path(out) as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(out.with_suffix(".csv")) as tmp:
        table.to_csv(tmp, index=False)
    log.info("evaluation of %d models: %s", len(model_dirs), out)
    return out


def _model_dirs(study: Study, data, keys: list[str]) -> list[Path]:
    """Model folders of training jobs (cached: each is found, not retrained)."""
    from atlasbench.study.model_stages import sequences_stage, train_stage

    sequences = sequences_stage(study, data.regions, data.genome)
    dirs = []
    for key in keys:
        _, platform, level, fold, seed = key.split("/")
        dirs.append(
            train_stage(
                study,
                platform,
                level,
                data.training_targets(platform, level, int(fold.removeprefix("fold-"))),
                sequences,
                int(fold.removeprefix("fold-")),
                int(seed.removeprefix("seed-")),
                progress=False,
            )
        )
    return dirs


def _tn5(study: Study, data) -> Path:
    from atlasbench.data.ingest import read_cell_table
    from atlasbench.readouts.tn5 import insertion_pfm, write_bias

    out = readout_folder(study, "tn5", study.hash_of("platforms", "seed"), str(data.genome.fasta))
    if (out / "tn5_similarity.tsv").exists():
        return out
    biases = {}
    for p in study.sourced_platforms:
        assert p.cells is not None and p.fragments is not None  # a sourced platform has both (schema)
        cells = read_cell_table(p.cells, p.sample_names)["barcode"].unique()
        biases[p.name] = insertion_pfm(list(p.fragments), data.genome.fasta, cells=cells, seed=study.seed)
    write_bias(biases, out)
    return out


def _motifs(study: Study, data, model_dirs: list[Path]) -> Path:
    from atlasbench.io.jaspar import jaspar_collection
    from atlasbench.models.trained import load_trained
    from atlasbench.readouts.motifs import discover_motifs, write_motifs
    from atlasbench.study.model_stages import sequences_stage

    settings = study.evaluation.motifs
    assert settings is not None  # the motifs job exists only when evaluation.motifs is set
    out = readout_folder(study, "motifs", settings.model_dump(mode="json"), [str(m) for m in model_dirs])
    if (out / "motifs.tsv").exists():
        return out
    import numpy as np

    shift = study.training.max_shift
    codes = np.load(sequences_stage(study, data.regions, data.genome))[:, shift : shift + study.model.input_length]
    targets = jaspar_collection(settings.jaspar_group)
    tables, patterns = [], {}
    by_platform: dict[str, list] = {}
    for model_dir in model_dirs:  # each platform's full-data models, one per test fold and seed
        model = load_trained(model_dir)
        by_platform.setdefault(model.spec["platform"], []).append(model)
    for platform, models in by_platform.items():
        model = models[0]
        chosen = settings.cell_types or model.cell_types
        table, found = discover_motifs(
            [m.module for m in models],
            model.cell_types,
            codes,
            chosen,
            targets,
            n_regions=settings.top_regions,
            scores=settings.scores,
            steps=settings.steps,
            max_seqlets=settings.max_seqlets,
            leiden_runs=settings.leiden_runs,
            device=study.training.device,
        )
        table.insert(0, "model", platform)
        tables.append(table)
        patterns.update({(platform, c): p for c, p in found.items()})
    write_motifs(pd.concat(tables, ignore_index=True), patterns, targets, out)
    return out


def _enhancers(study: Study, data, model_dirs: list[Path]) -> Path:
    """Validated enhancers scored by every scenario's fold models and their ensemble
    (``summary.tsv``), with the full report of each platform's full-data ensemble."""
    from atlasbench.io.atomic import atomic_path, write_text_atomic
    from atlasbench.models.trained import load_trained
    from atlasbench.readouts.enhancers import ensemble_metrics, read_enhancers, write_enhancer_report
    from atlasbench.study.scenarios import scenario_labels

    assert study.evaluation.enhancers is not None  # the enhancers job exists only when evaluation.enhancers is set
    out = readout_folder(study, "enhancers", str(study.evaluation.enhancers), [str(m) for m in model_dirs])
    if (out / "done").exists():
        return out
    validated = read_enhancers(study.evaluation.enhancers)
    groups: dict[tuple[str, str], list] = {}
    for model_dir in model_dirs:
        model = load_trained(model_dir)
        groups.setdefault((model.spec["platform"], model.spec["level"]), []).append(model)
    labels = scenario_labels(data.scenarios, data.named)
    tables = []
    for (platform, level), models in groups.items():
        metrics, ensemble = ensemble_metrics(models, validated, data.genome.fasta)
        tables.append(metrics.assign(platform=platform, level=level, scenario=labels[(platform, level)]))
        if level == FULL_LEVEL:
            write_enhancer_report(ensemble, validated, out / platform)
    summary = pd.concat(tables, ignore_index=True)
    columns = ["platform", "level", "scenario", "fold", "seed"]
    with atomic_path(out / "summary.tsv") as tmp:
        summary[columns + [c for c in summary.columns if c not in columns]].to_csv(
            tmp, sep="\t", index=False, float_format="%.6g"
        )
    write_text_atomic(out / "done", "")
    return out


def report_settings(study: Study) -> ReportSettings:
    """What the report needs to know of a study, as plain values (the report reads no study).

    Parameters
    ----------
    study
        The study.

    Returns
    -------
    atlasbench.report.page.ReportSettings
        Its name and description, its platforms in order, its architecture and reference
        platform, and the cost figures of the platforms that have them, with their currency.
    """
    from atlasbench.readouts.cost import cost_currency
    from atlasbench.report.page import ReportSettings

    return ReportSettings(
        name=study.name,
        description=study.description,
        platforms=tuple(p.name for p in study.platforms),
        architecture=study.model.architecture,
        reference_platform=study.evaluation.reference_platform,
        costs={p.name: (p.cost.per_cell, p.cost.per_million_reads) for p in study.platforms if p.cost is not None},
        currency=cost_currency(study),
    )


def _report(study: Study, data, deps: tuple[str, ...], allow_partial: bool = False) -> Path:
    from atlasbench.report.page import ReportInputs, write_report
    from atlasbench.study.records import read_record
    from atlasbench.study.scenarios import one_factor_pairs, scenario_labels

    found = {}
    for key in deps:
        record = read_record(study, key)
        if record is None or record["state"] != "done":
            raise AtlasbenchError(f"the report needs job {key!r} done first")
        found[key] = study.output / record["outputs"][0]
    enhancers = found.get("enhancers")
    grid_point = {name: (sc.platform, sc.level) for name, sc in data.named.items()}
    pairs = dict.fromkeys(
        (grid_point[a], grid_point[b])
        for a, b in one_factor_pairs(study.grid.scenarios)
        if grid_point[a] != grid_point[b]
    )
    inputs = ReportInputs(
        evaluation=found["evaluate"],
        qc={platform: next(iter(levels.values())).parent for platform, levels in data.targets.items()},
        tn5=found.get("tn5"),
        motifs=found.get("motifs"),
        enhancers=None if enhancers is None else {p: enhancers / p for p in data.targets if (enhancers / p).is_dir()},
        truth=study.truth,
        truth_fidelity=truth_fidelity(study, data) if study.truth is not None else None,
        enhancer_summary=None if enhancers is None else enhancers / "summary.tsv",
        scenario_labels=scenario_labels(data.scenarios, data.named),
        scenario_pairs=list(pairs),
    )
    out = study.output / "report"
    return write_report(report_settings(study), inputs, out, strict=not allow_partial).parent


def _run_model_job(study: Study, key: str, allow_partial_report: bool = False) -> list[Path]:
    from atlasbench.study.data_stages import study_data

    data = study_data(study)
    jobs = {j.key: j for j in model_jobs(study, data)}
    if key not in jobs:
        raise AtlasbenchError(f"no job {key!r} in study {study.name}")
    job = jobs[key]
    if key.startswith("draws/"):
        from atlasbench.study.data_stages import draw_stage, platform_stores

        _, platform, level, fold = key.split("/")
        store = platform_stores(study, data.genome)[platform]
        return [draw_stage(study, data, platform, store, level, int(fold.removeprefix("fold-")))]
    if job.kind == "train":
        model_dir = _model_dirs(study, data, [key])[0]
        return [model_dir]
    if key == "evaluate":
        table = _evaluate(study, data, _model_dirs(study, data, list(job.deps)))
        return [table, table.with_suffix(".csv")]
    if key == "tn5":
        return [_tn5(study, data)]
    if key == "motifs":
        return [_motifs(study, data, _model_dirs(study, data, list(job.deps)))]
    if key == "enhancers":
        return [_enhancers(study, data, _model_dirs(study, data, list(job.deps)))]
    if key == "report":
        return [_report(study, data, job.deps, allow_partial_report)]
    raise AtlasbenchError(f"unknown job {key!r}")


def run_job(study: Study, key: str, *, allow_partial_report: bool = False) -> list[Path]:
    """Run one job (its dependencies must be done) and return the artefacts it owns.

    Parameters
    ----------
    study
        The study.
    key
        The job's key.
    allow_partial_report
        For the ``report`` job: write the page with a note in place of each section that
        fails, rather than fail naming them (:func:`atlasbench.report.page.write_report`).

    Returns
    -------
    list of pathlib.Path
        Files and folders the job wrote (or found cached).
    """
    if key.split("/")[0] in {"ingest", "combine", "peaks", "regions", "targets", "sequences"}:
        return _run_data_job(study, key)
    return _run_model_job(study, key, allow_partial_report)
