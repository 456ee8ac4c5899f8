"""Where a study's jobs run: in this process, or on a Dask cluster.

Both executors run the same function per job, :func:`execute_job`, which keeps the
job's record and log (:mod:`atlasbench.study.records`) around :func:`atlasbench.study.jobs.run_job`.

- ``local``: one job after another in this process, or, with ``executor.n_workers``
  above 1, a pool of that many worker processes (``threads_per_worker`` torch threads
  each) running every job whose dependencies are done.
- ``dask``: each job a ``dask.distributed`` task, submitted with its dependencies'
  futures as arguments, so the Dask scheduler orders and spreads them: on a
  ``LocalCluster`` of worker processes started here, or on an existing scheduler at
  ``executor.address`` (a cluster started by ``dask-jobqueue``, ``dask-mpi`` or by hand).

A failed job is recorded with its error; the jobs that need it are not run, the others
are. Nothing here decides what to run: :mod:`atlasbench.study.run` passes only the pending jobs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from atlasbench.study.jobs import Job
from atlasbench.study.schema import Study

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """How a job ended in this run: ``done``, ``failed`` or ``blocked`` (a dependency failed)."""

    key: str
    state: str
    message: str = ""


def blocked(job: Job, outcomes: dict[str, Outcome]) -> Outcome | None:
    """The ``blocked`` outcome of a job when a job it needs ended without finishing, else None."""
    broken = [d for d in job.deps if d in outcomes and outcomes[d].state != "done"]
    return Outcome(job.key, "blocked", f"needs {broken[0]}, which did not finish") if broken else None


def execute_job(
    study: Study, key: str, threads: int | None = None, *_dependencies: object, allow_partial_report: bool = False
) -> str:
    """Run one job, keeping its record and log.

    Parameters
    ----------
    study
        The study.
    key
        The job's key.
    threads
        PyTorch CPU threads for the job; None leaves torch's default.
    _dependencies
        Results of the jobs it needs (Dask passes them, so it waits for them).
    allow_partial_report
        For the ``report`` job: allow a partial report (:func:`atlasbench.study.jobs.run_job`).

    Returns
    -------
    str
        The key, once the job is done.

    Raises
    ------
    Exception
        The job's own error, after it is recorded as failed.
    """
    from atlasbench.study.jobs import run_job
    from atlasbench.study.records import describe_outputs, log_path, write_record

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    path = log_path(study, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("atlasbench")
    package.addHandler(handler)
    level = package.level
    package.setLevel(min(level, logging.INFO) if level else logging.INFO)
    started = time.time()
    _reset_peak_memory()
    write_record(
        study, key, "running", started=started, finished=None, error=None, slurm_job_id=os.environ.get("SLURM_JOB_ID")
    )  # when in a SLURM job, which one
    try:
        outputs = run_job(study, key, allow_partial_report=allow_partial_report)
        write_record(
            study,
            key,
            "done",
            finished=time.time(),
            seconds=round(time.time() - started, 1),
            peak_memory_mb=_peak_memory_mb(),
            **describe_outputs(study, outputs),
        )
    except BaseException as exc:
        log.error("job %s failed: %s", key, exc)
        write_record(
            study,
            key,
            "failed",
            finished=time.time(),
            seconds=round(time.time() - started, 1),
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc()[-4000:],
        )
        raise
    finally:
        package.removeHandler(handler)
        package.setLevel(level)
        handler.close()
    return key


def _reset_peak_memory() -> None:
    """Start the process's resident-memory high-water mark afresh (Linux), so that a job
    run in a process that ran others before reports its own peak."""
    with contextlib.suppress(OSError):  # not Linux, or not allowed: the mark counts from the process's start
        Path("/proc/self/clear_refs").write_text("5")


def _peak_memory_mb() -> float | None:
    """The process's resident-memory high-water mark (``VmHWM``) in MB, None where unknown.

    It is the job's own process: a program it runs (MACS3) is not counted."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def run_local(
    study: Study, jobs: Sequence[Job], progress: bool = True, *, allow_partial_report: bool = False
) -> list[Outcome]:
    """Run jobs here, dependencies first: in this process, or in a process pool.

    With ``executor.n_workers`` of 1 (the default) the jobs run one after another in this
    process. With more, a pool of that many worker processes (started by spawning, each
    job on ``executor.threads_per_worker`` torch threads) runs every job whose
    dependencies are done, as soon as a worker is free: the per-cell-type peak calls and
    the platforms' targets, say, run side by side.

    Parameters
    ----------
    study
        The study.
    jobs
        Jobs to run, in dependency order (dependencies not listed are taken as done).
    progress
        Show a progress bar.
    allow_partial_report
        For the ``report`` job: allow a partial report (:func:`atlasbench.study.jobs.run_job`).

    Returns
    -------
    list of Outcome
        One per job, in the order of ``jobs``.
    """
    from tqdm.auto import tqdm

    workers = study.executor.n_workers
    outcomes: dict[str, Outcome] = {}
    with tqdm(total=len(jobs), desc="jobs", unit="job", disable=not progress or None) as bar:
        if workers == 1:
            for job in jobs:
                bar.set_postfix_str(job.key, refresh=True)
                outcomes[job.key] = blocked(job, outcomes) or _outcome(
                    job.key, execute_job, study, job.key, allow_partial_report=allow_partial_report
                )
                bar.update()
        else:
            _run_pool(study, jobs, workers, bar, outcomes, allow_partial_report)
    return [outcomes[job.key] for job in jobs]


@contextlib.contextmanager
def _quiet_workers():
    """The pool's workers, which inherit this environment when started, draw no progress
    bars (tqdm reads ``TQDM_DISABLE`` at import): the pool's own bar counts their jobs."""
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["TQDM_DISABLE"]
        else:
            os.environ["TQDM_DISABLE"] = before


def _outcome(key: str, run, *args, **kwargs) -> Outcome:
    """Run a job (``run(*args, **kwargs)``) and say how it ended: a failed job is recorded,
    the run goes on with the others."""
    try:
        run(*args, **kwargs)
        return Outcome(key, "done")
    except Exception as exc:  # noqa: BLE001 - a failed job is recorded; the run goes on with the others
        return Outcome(key, "failed", f"{type(exc).__name__}: {exc}")


def _run_pool(study: Study, jobs: Sequence[Job], workers: int, bar, outcomes: dict[str, Outcome], partial: bool):
    """Run jobs in a pool of ``workers`` spawned processes, each as soon as its
    dependencies are done; fills ``outcomes``."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    waiting = list(jobs)
    running: dict[Future, Job] = {}
    threads = study.executor.threads_per_worker
    spawn = multiprocessing.get_context("spawn")
    with _quiet_workers(), ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        while waiting or running:
            unfinished = {j.key for j in waiting} | {j.key for j in running.values()}
            for job in [j for j in waiting if not unfinished.intersection(j.deps)]:
                waiting.remove(job)
                stopped = blocked(job, outcomes)
                if stopped is not None:
                    outcomes[job.key] = stopped
                    bar.update()
                else:
                    future = pool.submit(execute_job, study, job.key, threads, allow_partial_report=partial)
                    running[future] = job
            if not running:
                continue  # blocked jobs were settled: look at the waiting ones again
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job = running.pop(future)
                outcomes[job.key] = _outcome(job.key, future.result)
                bar.set_postfix_str(job.key, refresh=True)
                bar.update()


def dask_client(study: Study):
    """A ``dask.distributed`` client: to ``executor.address``, else to a new LocalCluster.

    The LocalCluster has ``executor.n_workers`` worker processes of
    ``executor.threads_per_worker`` threads each; it closes with the client.
    """
    from dask.distributed import Client, LocalCluster

    e = study.executor
    if e.address is not None:
        log.info("connecting to the Dask scheduler at %s", e.address)
        return Client(e.address)
    environment = dict(os.environ)
    cluster = LocalCluster(
        n_workers=e.n_workers, threads_per_worker=e.threads_per_worker, processes=True, dashboard_address=None
    )
    # Dask's nannies set OMP_NUM_THREADS=1 and the like in *this* process's environment
    # to pass them to their workers; put back the user's, for the processes it starts later.
    os.environ.clear()
    os.environ.update(environment)
    log.info("started a Dask LocalCluster: %d workers x %d threads", e.n_workers, e.threads_per_worker)
    client = Client(cluster)
    # the cluster is ours: close it too (mypy forbids assigning to a method; this wraps it on purpose)
    client.close = _closing_cluster(client.close, cluster)  # type: ignore[method-assign]
    return client


def _closing_cluster(close, cluster):
    def both(*args, **kwargs):
        close(*args, **kwargs)
        cluster.close()

    return both


def run_dask(
    study: Study, jobs: Sequence[Job], client, progress: bool = True, *, allow_partial_report: bool = False
) -> list[Outcome]:
    """Run jobs as Dask tasks, each waiting for its dependencies' tasks.

    Parameters
    ----------
    study
        The study.
    jobs
        Jobs to run (dependencies not listed are taken as done).
    client
        A ``dask.distributed.Client``.
    progress
        Show a progress bar.
    allow_partial_report
        For the ``report`` job: allow a partial report (:func:`atlasbench.study.jobs.run_job`).

    Returns
    -------
    list of Outcome
        One per job.
    """
    from dask.distributed import Future, as_completed
    from tqdm.auto import tqdm

    threads = study.executor.threads_per_worker if study.executor.address is None else None
    futures: dict[str, Future] = {}
    for job in jobs:
        deps = [futures[d] for d in job.deps if d in futures]
        futures[job.key] = client.submit(
            execute_job,
            study,
            job.key,
            threads,
            *deps,
            pure=False,
            key=f"{job.key}-{time.time_ns()}",
            allow_partial_report=allow_partial_report,
        )
    by_future = {f.key: k for k, f in futures.items()}
    outcomes: dict[str, Outcome] = {}
    failed_here: set[str] = set()
    with tqdm(total=len(jobs), desc="jobs", unit="job", disable=not progress or None) as bar:
        for future in as_completed(list(futures.values())):
            key = by_future[future.key]
            if future.status == "finished":
                outcomes[key] = Outcome(key, "done")
            else:
                exc = future.exception()
                failed_here.add(key)
                outcomes[key] = Outcome(key, "failed", f"{type(exc).__name__}: {exc}")
            bar.update()
    # A task whose dependency failed fails with that dependency's error: report it as blocked.
    from atlasbench.study.records import read_record

    for job in jobs:
        stopped = blocked(job, outcomes) if outcomes[job.key].state == "failed" else None
        if stopped is not None and (read_record(study, job.key) or {}).get("state") != "failed":
            outcomes[job.key] = stopped
    return [outcomes[job.key] for job in jobs]
