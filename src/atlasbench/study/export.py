"""Exporting a study's trained models as a shareable bundle.

The bundle format itself lives in :mod:`atlasbench.models.bundle`; this module finds a
grid point's trained model folders through the study's job records (only models of this
version of the study count), resolves a named scenario to its grid point, and writes the
bundle with the models' test metrics and the genome's chromosome sizes.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from atlasbench.errors import AtlasbenchError
from atlasbench.io.genome import open_genome
from atlasbench.models.bundle import export_bundle
from atlasbench.models.trained import is_trained
from atlasbench.study.jobs import data_jobs, train_key
from atlasbench.study.records import read_record
from atlasbench.study.schema import Study

log = logging.getLogger(__name__)


def study_models(study: Study, platform: str, level: str, fold: int | None = None) -> list[Path]:
    """The trained model folders of one grid point of a study: every test fold and seed, or one fold.

    Models are found through the records of the study's training jobs, so only models of
    this version of the study count.

    Parameters
    ----------
    study
        The study.
    platform
        Platform name.
    level
        Level key, e.g. ``reads-all_cells-all`` (:func:`atlasbench.data.levels.level_key`).
    fold
        One test fold; None for all of the study's test folds.

    Returns
    -------
    list of pathlib.Path
        Model folders, by fold then seed.

    Raises
    ------
    AtlasbenchError
        For an unknown platform or fold, or a model that is not trained (listing the
        levels of the platform that are).
    """
    platforms = [p.name for p in study.platforms]
    if platform not in platforms:
        raise AtlasbenchError(f"study {study.name}: no platform {platform!r}; platforms: {', '.join(platforms)}")
    folds = study.folds.test_fold_list
    if fold is not None and fold not in folds:
        raise AtlasbenchError(f"study {study.name}: {fold} is not a test fold; test folds: {folds}")
    found, missing = [], []
    for f in folds if fold is None else [fold]:
        for seed in study.grid.seeds:
            key = train_key(platform, level, f, seed)
            record = read_record(study, key)
            folder = study.output / record["outputs"][0] if record and record["state"] == "done" else None
            if folder is not None and is_trained(folder):
                found.append(folder)
            else:
                missing.append(key)
    if missing:
        trained = sorted({key.split("/")[2] for key in _trained_keys(study) if key.split("/")[1] == platform})
        raise AtlasbenchError(
            f"study {study.name}: not trained: {', '.join(missing)}; trained levels of "
            f"{platform}: {', '.join(trained) or 'none (run `atlasbench run` first)'}"
        )
    return found


def _trained_keys(study: Study) -> list[str]:
    """Keys of the study's training jobs that are done."""
    keys = []
    for path in sorted((study.output / "jobs").glob("train__*.json")):
        try:
            key = json.loads(path.read_text())["key"]
        except (OSError, ValueError, KeyError):
            continue
        record = read_record(study, key)
        if record is not None and record["state"] == "done":
            keys.append(key)
    return keys


def scenario_level(study: Study, scenario: str) -> tuple[str, str]:
    """Platform and level key of a named scenario, resolved against the study's data.

    Parameters
    ----------
    study
        The study; its data jobs must be done (a scenario such as ``matched`` cells
        resolves against the ingested cells).
    scenario
        Name of a scenario in ``grid.scenarios``.

    Returns
    -------
    tuple of str
        (platform, level key).
    """
    from atlasbench.study.data_stages import study_data

    named = [s.name for s in study.grid.scenarios]
    if scenario not in named:
        raise AtlasbenchError(
            f"study {study.name}: no scenario {scenario!r} in grid.scenarios; scenarios: {', '.join(named) or 'none'}"
        )
    undone = [j.key for j in data_jobs(study) if (read_record(study, j.key) or {}).get("state") != "done"]
    if undone:
        raise AtlasbenchError(
            f"study {study.name}: data jobs not done ({', '.join(undone)}); run `atlasbench run` first"
        )
    found = study_data(study).named[scenario]
    return found.platform, found.level


def export_study(study: Study, out: str | os.PathLike[str], platform: str, level: str, fold: int | None = None) -> Path:
    """Export the models of one grid point of a study as a bundle, with their metrics and genome.

    Parameters
    ----------
    study
        The study, trained (:func:`atlasbench.study.run.run_study`).
    out
        The bundle file to write.
    platform, level
        The grid point (see :func:`study_models`; :func:`scenario_level` for a named scenario).
    fold
        One test fold's models; None for the ensemble of every test fold (and seed).

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    from atlasbench.study.data_stages import genome_stage
    from atlasbench.study.run import evaluation_table

    folders = study_models(study, platform, level, fold)
    metrics = None
    record = read_record(study, "evaluate")
    if record is not None and record["state"] == "done":
        table = evaluation_table(study)
        metrics = table[(table["platform"] == platform) & (table["level"] == level)]
    else:
        log.warning("study %s is not evaluated yet: the bundle holds no metrics", study.name)
    genome_fasta = genome_stage(study).fasta
    assert genome_fasta is not None  # trained models mean the study has a FASTA
    with open_genome(genome_fasta) as fasta:
        sizes = dict(fasta.sizes)
    return export_bundle(folders, out, metrics=metrics, chrom_sizes=sizes)
