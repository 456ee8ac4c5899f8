"""The ``slurm`` executor: every job of a study is one SLURM job, submitted by submitit.

A job is submitted once every job it needs is done, with the resources of its kind
from the study's ``executor.slurm`` section (partition, account, time limit, memory,
CPUs and ``--gres=gpu:N``), and runs :func:`atlasbench.study.executors.execute_job`, which
keeps the job's record and log. The SLURM job's own files (its batch script, stdout,
stderr and submitit's pickles) are kept in ``<output>/jobs/slurm/<key>/``, beside the
record, with the SLURM job id in a ``job_id`` file there.

SLURM states are read by submitit from ``sacct``, so the cluster needs job accounting
(slurmdbd), as production clusters have. A job that ends without its record saying
done (failed, out of time or memory, cancelled with ``scancel``, its node lost) is
reported with its SLURM state and the tail of its log; the jobs that need it are not
submitted. A rerun resubmits only what is not done, and watches a job still queued or
running in SLURM (from a run that was stopped) instead of submitting it twice.

Why submitit and not dask-jobqueue: one SLURM job per grid job gives each job kind
its own resources (GPUs for training only), its own SLURM state and log, and makes
``scancel`` hit exactly one job; dask-jobqueue pools tasks onto long-lived worker
jobs, which hides the per-job states and silently reschedules the task of a cancelled
worker.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from atlasbench.errors import AtlasbenchError
from atlasbench.study.executors import Outcome, blocked, execute_job
from atlasbench.study.jobs import Job
from atlasbench.study.records import log_path, read_record, write_record
from atlasbench.study.schema import Study

if TYPE_CHECKING:
    from submitit import SlurmJob

log = logging.getLogger(__name__)

#: Seconds between two looks at the jobs' result files (cheap; no call to SLURM).
POLL_SECONDS = 1.0
#: Most seconds between two ``sacct`` calls (submitit calls it more often just after a submission).
SACCT_SECONDS = 30.0
#: Most seconds to wait for ``sacct`` to know a job an earlier run submitted.
ACCOUNTING_LAG_SECONDS = 20.0
#: Lines of a job's log shown when it fails.
TAIL_LINES = 20

#: SLURM states (``sacct``) of a job still waiting or running.
ACTIVE_STATES = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED", "RUNNING", "COMPLETING"})
_STATUS = {
    "PENDING": "pending",
    "CONFIGURING": "pending",
    "REQUEUED": "pending",
    "RESIZING": "pending",
    "SUSPENDED": "pending",
    "RUNNING": "running",
    "COMPLETING": "running",
    "CANCELLED": "cancelled",
    "TIMEOUT": "timeout",
    "FAILED": "failed",
    "OUT_OF_MEMORY": "failed",
    "NODE_FAIL": "failed",
    "BOOT_FAIL": "failed",
    "DEADLINE": "failed",
    "PREEMPTED": "failed",
}
_TOOLS = ("sbatch", "srun", "sacct")
_UNITS = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}


def check_slurm() -> None:
    """Raise :class:`AtlasbenchError` unless SLURM's ``sbatch``, ``srun`` and ``sacct`` are on PATH."""
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        raise AtlasbenchError(
            f"the slurm executor needs SLURM's {', '.join(_TOOLS)} on PATH (run atlasbench on "
            f"the cluster's login node); not found: {', '.join(missing)}"
        )


def slurm_folder(study: Study, key: str) -> Path:
    """The folder of a job's SLURM files: batch script, stdout, stderr, submitit's pickles, ``job_id``."""
    return study.output / "jobs" / "slurm" / key.replace("/", "__")


def sbatch_parameters(study: Study, job: Job) -> dict[str, Any]:
    """The job's resources, from ``executor.slurm`` for its kind, as submitit's sbatch parameters."""
    resources = study.executor.slurm_resources(job.kind)
    parameters: dict[str, Any] = {
        "job_name": f"atlasbench:{job.key}",
        "time": _minutes(resources.time),
        "mem": f"{_megabytes(resources.memory)}M",
        "cpus_per_task": resources.cpus,
    }
    if resources.partition is not None:
        parameters["partition"] = resources.partition
    if resources.account is not None:
        parameters["account"] = resources.account
    if resources.gpus:
        parameters["gres"] = f"gpu:{resources.gpus}"
    return parameters


def _minutes(limit: str) -> int:
    """Whole minutes (rounded up) of a SLURM time limit ``[D-]HH:MM:SS``."""
    days, _, clock = limit.rpartition("-")
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return (int(days or 0) * 24 + hours) * 60 + minutes + math.ceil(seconds / 60)


def _megabytes(memory: str) -> int:
    """Whole MiB (rounded up) of an amount like ``16GB`` or ``500MiB`` (SLURM's units are binary)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT])i?B?", memory.strip(), re.IGNORECASE)
    if match is None:
        raise ValueError(f"not an amount of memory: {memory!r}")
    return math.ceil(float(match.group(1)) * _UNITS[match.group(2).upper()])


def run_slurm(
    study: Study, jobs: Sequence[Job], progress: bool = True, *, allow_partial_report: bool = False
) -> list[Outcome]:
    """Run jobs as SLURM jobs, each submitted once the jobs it needs are done.

    Parameters
    ----------
    study
        The study.
    jobs
        Jobs to run (dependencies not listed are taken as done).
    progress
        Show a progress bar.
    allow_partial_report
        For the ``report`` job: allow a partial report (:func:`atlasbench.study.jobs.run_job`).

    Returns
    -------
    list of Outcome
        One per job, in the order given.
    """
    import submitit
    from tqdm.auto import tqdm

    check_slurm()
    outcomes: dict[str, Outcome] = {}
    out = _still_queued(study, jobs)
    waiting = [job for job in jobs if job.key not in out]
    batch = {job.key for job in jobs}
    last_sacct = time.monotonic()
    with tqdm(total=len(jobs), desc="SLURM jobs", unit="job", disable=not progress or None) as bar:
        while waiting or out:
            waiting = _submit_ready(study, waiting, outcomes, out, batch, allow_partial_report)
            bar.update(len(outcomes) - bar.n)
            bar.set_postfix_str(f"{len(out)} in SLURM", refresh=True)
            time.sleep(POLL_SECONDS)
            if time.monotonic() - last_sacct > SACCT_SECONDS:
                submitit.SlurmJob.watcher.update()  # one sacct call for every job still out
                last_sacct = time.monotonic()
            for key, slurm_job in list(out.items()):
                if slurm_job.done():
                    outcomes[key] = _conclude(study, key, slurm_job)
                    del out[key]
        bar.update(len(outcomes) - bar.n)
    return [outcomes[job.key] for job in jobs]


def _submit_ready(
    study: Study,
    waiting: list[Job],
    outcomes: dict[str, Outcome],
    out: dict[str, SlurmJob],
    batch: set[str],
    allow_partial_report: bool = False,
) -> list[Job]:
    """Submit every waiting job whose dependencies in ``batch`` are done; note as blocked
    those with one that did not finish. Returns the jobs still waiting."""
    still = []
    for job in waiting:
        stopped = blocked(job, outcomes)
        if stopped is not None:
            outcomes[job.key] = stopped
        elif all(d in outcomes for d in job.deps if d in batch):
            if (read_record(study, job.key) or {}).get("state") == "done":  # an earlier run's job ended meanwhile
                outcomes[job.key] = Outcome(job.key, "done")
            else:
                out[job.key] = _submit(study, job, allow_partial_report)
        else:
            still.append(job)
    return still


def _submit(study: Study, job: Job, allow_partial_report: bool = False) -> SlurmJob:
    """Submit one job through submitit; its record says ``submitted``, its folder holds the id."""
    import submitit
    from submitit.core.utils import FailedJobError

    folder = slurm_folder(study, job.key)
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=0)
    parameters = sbatch_parameters(study, job)
    executor.update_parameters(**parameters)
    write_record(study, job.key, "submitted", submitted=time.time())  # before the job can write "running"
    limit = study.executor.slurm_resources(job.kind).time
    try:
        # a SlurmExecutor makes SlurmJobs (its job_class); submitit types submit() as the base Job
        submitted = executor.submit(_in_slurm, study, job.key, parameters["cpus_per_task"], limit, allow_partial_report)
        slurm_job = cast("SlurmJob[str]", submitted)
    except FailedJobError as exc:  # sbatch said no: a partition, account or size this cluster lacks
        error = f"SLURM refused job {job.key} ({job.kind}): " + "; ".join(str(exc).splitlines())
        write_record(study, job.key, "failed", error=error)
        raise AtlasbenchError(f"{error}; check executor.slurm in the study file") from exc
    (folder / "job_id").write_text(slurm_job.job_id + "\n")
    log.info("job %s: submitted as SLURM job %s", job.key, slurm_job.job_id)
    return slurm_job


class _OutOfTime(BaseException):
    """The time-limit signal, raised as a BaseException: no ``except Exception`` on its way
    (logging's handlers catch every Exception while they write a record) can swallow it."""


def _in_slurm(study: Study, key: str, threads: int, time_limit: str, allow_partial_report: bool = False) -> str:
    """What a SLURM job runs: :func:`execute_job`, ended at once by ``scancel``, and with
    running out of time said plainly.

    submitit's jobs ignore SIGTERM, waiting for the signal SLURM sends before the time
    limit (``--signal``) to checkpoint; these jobs do not checkpoint (a training job
    resumes from its last epoch anyway), so SIGTERM ends them, rather than the SIGKILL
    that follows seconds later. On that time-limit signal submitit raises
    UncompletedJobError wherever the job is; it is raised on as :class:`_OutOfTime` so
    that it reaches this function whatever code it interrupts, and the job is recorded
    as having run out of time (a preempted job is requeued by submitit, as before).
    """
    import signal
    from types import FrameType

    from submitit.core.utils import UncompletedJobError

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    submitit_handler = signal.getsignal(signal.SIGUSR2)

    def on_time_limit(signum: int, frame: FrameType | None) -> None:
        try:
            if callable(submitit_handler):
                submitit_handler(signum, frame)
        except UncompletedJobError as exc:
            # said in the time limit's words from the start: execute_job records the error as it
            # passes, and SLURM may kill the job before the record below replaces it
            raise _OutOfTime(f"the job ran out of its SLURM time limit, {time_limit} ({exc})") from None

    signal.signal(signal.SIGUSR2, on_time_limit)
    try:
        return execute_job(study, key, threads, allow_partial_report=allow_partial_report)
    except _OutOfTime as exc:
        write_record(study, key, "failed", error=f"TimeoutError: the job ran out of its SLURM time limit, {time_limit}")
        raise UncompletedJobError(str(exc)) from None


def _slurm_job(study: Study, key: str, record: dict | None) -> SlurmJob | None:
    """The submitit handle of the SLURM job a job's record says is queued or running it, if any.

    A job submitted and not started has only its ``job_id`` file; one running says in its
    record which SLURM job runs it (the local and Dask executors record none).
    """
    import submitit

    folder = slurm_folder(study, key)
    if record is None or record["state"] not in ("submitted", "running"):
        return None
    job_id = record.get("slurm_job_id")
    if record["state"] == "submitted":
        try:
            job_id = (folder / "job_id").read_text().strip()
        except FileNotFoundError:
            return None
    return None if job_id is None else submitit.SlurmJob(folder=folder, job_id=str(job_id))


def _still_queued(study: Study, jobs: Sequence[Job]) -> dict[str, SlurmJob]:
    """Jobs a stopped run submitted that are still queued or running in SLURM, by key.

    ``sacct`` may not know a job submitted a moment ago (slurmdbd records it a little
    later): such jobs are asked about again for up to :data:`ACCOUNTING_LAG_SECONDS`
    before they are taken as gone and submitted anew.
    """
    import submitit

    found = {job.key: _slurm_job(study, job.key, read_record(study, job.key)) for job in jobs}
    handles = {key: handle for key, handle in found.items() if handle is not None}
    states = {key: slurm_state(handle) for key, handle in handles.items()}  # one sacct call
    deadline = time.monotonic() + ACCOUNTING_LAG_SECONDS
    while "UNKNOWN" in states.values() and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        submitit.SlurmJob.watcher.update()
        states = {key: slurm_state(handle) for key, handle in handles.items()}
    active = {key: handles[key] for key, state in states.items() if state in ACTIVE_STATES}
    for key, handle in active.items():
        log.info(
            "job %s: SLURM job %s from an earlier run is still %s; waiting for it",
            key,
            handle.job_id,
            states[key].lower(),
        )
    return active


def slurm_state(slurm_job: SlurmJob) -> str:
    """A SLURM job's state from ``sacct`` (``RUNNING``, ``CANCELLED``...), ``UNKNOWN`` if it has none."""
    return slurm_job.state.split()[0].upper()  # "CANCELLED by 0" -> CANCELLED


def _conclude(study: Study, key: str, slurm_job: SlurmJob) -> Outcome:
    """How a finished SLURM job ended: done when its record says so, else failed with why."""
    record = read_record(study, key) or {}
    if record.get("state") == "done":
        return Outcome(key, "done")
    if record.get("state") == "failed":
        why = record.get("error") or "failed"  # the job's own error, as the other executors report it
    else:
        why = f"SLURM job {slurm_job.job_id} ended {slurm_job.state}"
    log.error("job %s failed: %s", key, why)
    return Outcome(key, "failed", why + _tails(study, key, slurm_job))


def _tails(study: Study, key: str, slurm_job: SlurmJob) -> str:
    """The last lines of a job's log, and of its SLURM stderr (where SLURM says why it killed it)."""
    parts = []
    for path, lines in ((log_path(study, key), TAIL_LINES), (slurm_job.paths.stderr, 5)):
        tail = _tail(path, lines)
        if tail:
            parts.append(f"\n  last lines of {path}:\n" + "\n".join(f"    {line}" for line in tail))
    return "".join(parts)


def _tail(path: Path, lines: int) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def slurm_status(study: Study, records: Mapping[str, dict | None]) -> dict[str, tuple[str | None, str, str]]:
    """Where SLURM has the jobs whose records say submitted or running: one ``sacct`` call for them all.

    Parameters
    ----------
    study
        The study.
    records
        Job records by key (None for a job without one).

    Returns
    -------
    dict
        For each such job submitted to SLURM, by key: its state for
        ``atlasbench status`` (``pending``, ``running``, ``cancelled``, ``timeout`` or
        ``failed``; None when SLURM's state says no more than the record), its SLURM job
        id and state (``17 RUNNING``), and SLURM's word on how it ended (``SLURM job 17
        CANCELLED by 0``; empty while it waits or runs). Empty without ``sacct``.
    """
    if shutil.which("sacct") is None:
        return {}
    handles = {key: _slurm_job(study, key, record) for key, record in records.items()}
    found = {}
    for key, handle in ((k, h) for k, h in handles.items() if h is not None):
        state = slurm_state(handle)
        ended = state not in ACTIVE_STATES and state != "UNKNOWN"
        found[key] = (
            _STATUS.get(state),
            f"{handle.job_id} {state}",
            f"SLURM job {handle.job_id} {handle.state}" if ended else "",
        )
    return found
