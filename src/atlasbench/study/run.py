"""Run a whole study, resuming where it stopped, and tell where it stands.

:func:`run_study` checks the study first (nothing runs if a field or file is wrong;
a genome given by name or URL is fetched into the genome cache before that, in the
calling process, so jobs on machines without internet find it there), then runs the
data phase, then the model phase (:mod:`atlasbench.study.jobs`). A job is
skipped when its record says done for this version of the study and its artefacts are
intact; a damaged artefact is removed and rebuilt; every other job runs on the chosen
executor (:mod:`atlasbench.study.executors`, :mod:`atlasbench.study.slurm`). A run killed at any
point leaves every finished job's artefacts whole (they are written atomically) and its
record done, so the next run repeats none of them; a training job killed mid-way
resumes from its last epoch.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from atlasbench.errors import AtlasbenchError
from atlasbench.study.executors import Outcome, dask_client, run_dask, run_local
from atlasbench.study.jobs import Job, data_jobs, model_jobs
from atlasbench.study.records import read_record, remove_outputs, verify
from atlasbench.study.schema import Study
from atlasbench.study.slurm import check_slurm, run_slurm, slurm_status

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What a run did.

    Attributes
    ----------
    skipped
        Keys of jobs already done (artefacts intact).
    outcomes
        How each job run this time ended.
    rebuilt
        Keys of done jobs whose artefacts were damaged, with the reason.
    report
        The report's HTML, when the report job is done.
    """

    skipped: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    rebuilt: dict[str, str] = field(default_factory=dict)
    report: Path | None = None

    @property
    def failed(self) -> list[Outcome]:
        """Jobs that failed or could not run because a dependency failed."""
        return [o for o in self.outcomes if o.state != "done"]


def pending_jobs(
    study: Study, jobs: Sequence[Job], summary: RunSummary | None = None, *, allow_partial_report: bool = False
) -> list[Job]:
    """The jobs that must run: not done, or done with damaged artefacts (removed here),
    or, unless a partial report is allowed, a report written partial by an earlier run.

    Parameters
    ----------
    study
        The study.
    jobs
        Candidate jobs.
    summary
        Where skipped and rebuilt jobs are noted.
    allow_partial_report
        Keep a report written with sections left out (``--allow-partial-report``);
        otherwise such a report is rebuilt, strictly.

    Returns
    -------
    list of Job
        In the order given.
    """
    summary = summary if summary is not None else RunSummary()
    pending = []
    for job in jobs:
        record = read_record(study, job.key)
        if record is not None and record["state"] == "done":
            problem = verify(study, record)
            if problem is None and not allow_partial_report:
                problem = _partial_report(study, job.key, record)
            if problem is None:
                summary.skipped.append(job.key)
                continue
            log.warning("job %s: %s; rebuilding it", job.key, problem)
            summary.rebuilt[job.key] = problem
            remove_outputs(study, record)
        pending.append(job)
    return pending


def _partial_report(study: Study, key: str, record: dict) -> str | None:
    """Why a done report job must be redone by a strict run: it left sections out."""
    from atlasbench.report.page import PARTIAL_FILE

    if key != "report" or not record.get("outputs"):
        return None
    marker = study.output / record["outputs"][0] / PARTIAL_FILE
    if not marker.is_file():
        return None
    return f"it was written partial, without section(s) {', '.join(json.loads(marker.read_text()))}"


def run_study(
    study: Study,
    executor: str | None = None,
    *,
    until: str | None = None,
    progress: bool = True,
    client=None,
    allow_partial_report: bool = False,
) -> RunSummary:
    """Run every job of a study that is not done yet.

    Parameters
    ----------
    study
        The study.
    executor
        ``local``, ``dask`` or ``slurm``; None for the study's ``executor.kind``.
    until
        Stop after this job (``evaluate``, say) and the jobs it needs; None runs all.
    progress
        Show progress bars.
    client
        An existing ``dask.distributed.Client`` for the ``dask`` executor (default: one
        from the study's executor section, closed at the end).
    allow_partial_report
        Write the report with a note in place of each section that fails, rather than
        fail the report job naming them. A choice of this run, not of the study: it
        changes no job's artefact hash nor the study's fingerprint, and a report already
        done is not redone for it.

    Returns
    -------
    RunSummary
        What was skipped, run, rebuilt, and the report's path.

    Raises
    ------
    AtlasbenchError
        Before any work, when the study has problems (all listed) or the executor is not
        available; after the run, when a job failed (each named with its error and log).
    """
    from atlasbench.study.data_stages import study_data
    from atlasbench.study.validate import check_study

    kind = executor or study.executor.kind
    if kind not in ("local", "dask", "slurm"):
        raise AtlasbenchError(f"unknown executor {kind!r}; choose local, dask or slurm")
    if kind == "slurm":
        check_slurm()
    # fetched here, once, before any job: cluster jobs may run where there is no internet
    study.genome.fetch()
    problems = check_study(study, max_fragments=200_000)
    if problems:
        raise AtlasbenchError(f"study {study.name} has problems; nothing was run:\n  " + "\n  ".join(problems))
    summary = RunSummary()
    context = nullcontext(client) if (kind != "dask" or client is not None) else dask_client(study)
    with context as active:

        def execute(jobs: list[Job]) -> None:
            pending = pending_jobs(study, jobs, summary, allow_partial_report=allow_partial_report)
            if not pending:
                return
            log.info("%d jobs to run, %d already done", len(pending), len(jobs) - len(pending))
            if kind == "dask":
                outcomes = run_dask(study, pending, active, progress, allow_partial_report=allow_partial_report)
            elif kind == "slurm":
                outcomes = run_slurm(study, pending, progress, allow_partial_report=allow_partial_report)
            else:
                outcomes = run_local(study, pending, progress, allow_partial_report=allow_partial_report)
            summary.outcomes.extend(outcomes)
            _raise_failures(study, summary)

        execute(_up_to(data_jobs(study), until))
        if until is None or until not in {j.key for j in data_jobs(study)}:
            execute(_up_to(model_jobs(study, study_data(study)), until))
    record = read_record(study, "report")
    if record is not None and record["state"] == "done":
        summary.report = study.output / record["outputs"][0] / "report.html"
    return summary


def _up_to(jobs: list[Job], until: str | None) -> list[Job]:
    """The jobs ``until`` needs (itself included), or all when it is None or elsewhere."""
    by_key = {j.key: j for j in jobs}
    if until is None or until not in by_key:
        return jobs
    needed, stack = set(), [until]
    while stack:
        key = stack.pop()
        if key in by_key and key not in needed:
            needed.add(key)
            stack.extend(by_key[key].deps)
    return [j for j in jobs if j.key in needed]


def _raise_failures(study: Study, summary: RunSummary) -> None:
    from atlasbench.study.records import log_path

    failed = summary.failed
    if not failed:
        return
    lines = []
    for outcome in failed:
        first, newline, rest = outcome.message.partition("\n")  # a log's tail follows the log's path
        line = f"{outcome.key}: {outcome.state}: {first}"
        if outcome.state == "failed":
            line += f" (log: {log_path(study, outcome.key)})"
        lines.append(line + newline + rest)
    raise AtlasbenchError(f"{len(failed)} job(s) did not finish; rerun to retry them:\n  " + "\n  ".join(lines))


def study_status(study: Study) -> pd.DataFrame:
    """Where every job of a study stands.

    The model phase's jobs are listed once the data phase is done (named scenarios
    resolve against the ingested cells). A job submitted to SLURM that is not done has
    the state SLURM gives it (read with ``sacct``).

    Returns
    -------
    pandas.DataFrame
        ``job``, ``kind``, ``state`` (``done``, ``running``, ``failed``, ``interrupted``:
        its process is gone, ``pending``; under SLURM also ``cancelled`` and ``timeout``),
        ``seconds``, ``peak_memory_mb`` (the resident-memory peak of the job's own process,
        where the system tells it), ``host``, ``message`` (the error of a failed job) and, when some job
        was submitted to SLURM, ``slurm`` (its SLURM job id and state).
    """
    from atlasbench.study.data_stages import study_data

    rows = _status_rows(study, data_jobs(study))
    if all(row[2] == "done" for row in rows):
        rows += _status_rows(study, model_jobs(study, study_data(study)))
    columns = ["job", "kind", "state", "seconds", "peak_memory_mb", "host", "message", "slurm"]
    table = pd.DataFrame(rows, columns=columns)
    return table if table["slurm"].notna().any() else table.drop(columns="slurm")


def _status_rows(study: Study, jobs: list[Job]) -> list[tuple]:
    import socket

    records = {job.key: read_record(study, job.key) for job in jobs}
    in_slurm = slurm_status(study, records)
    return [_status_row(job, records[job.key], in_slurm.get(job.key), socket.gethostname()) for job in jobs]


def _status_row(job: Job, record: dict | None, in_slurm: tuple[str | None, str, str] | None, here: str) -> tuple:
    if record is None:
        return (job.key, job.kind, "pending", None, None, None, "", None)
    state = record["state"]
    if state == "running" and record.get("host") == here and not _alive(record.get("pid")):
        state = "interrupted"
    message = record.get("error") or "" if state == "failed" else ""
    slurm = None
    if in_slurm is not None:
        slurm_state, slurm, said = in_slurm
        if slurm_state is not None:
            state, message = slurm_state, message or said
    seconds, memory = record.get("seconds"), record.get("peak_memory_mb")
    return (job.key, job.kind, state, seconds, memory, record.get("host"), message, slurm)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def evaluation_table(study: Study) -> pd.DataFrame:
    """The evaluation of every model of a study (tidy rows), once its ``evaluate`` job is done."""
    record = read_record(study, "evaluate")
    if record is None or record["state"] != "done":
        raise AtlasbenchError(f"study {study.name}: the models are not evaluated yet; run `atlasbench run`")
    return pd.read_parquet(study.output / record["outputs"][0])
