"""The slurm executor on a real one-node SLURM cluster (scripts/slurm-single-node.sh):
the same tables as the local executor; a job cancelled with scancel and one out of time
reported with their logs, shown by `atlasbench status` and resubmitted alone, once, by
the next runs; each job kind's resources from the study file; sbatch's refusal.

Without SLURM installed these tests skip, except when CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from test_run import _study_file

from atlasbench.cli import main
from atlasbench.errors import AtlasbenchError
from atlasbench.simulate.atlas import simulate_atlas
from atlasbench.study.jobs import Job
from atlasbench.study.loader import load_study
from atlasbench.study.records import log_path, read_record
from atlasbench.study.run import evaluation_table, run_study, study_status
from atlasbench.study.slurm import sbatch_parameters, slurm_folder

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "slurm-single-node.sh"

#: test_run's tiny study made tinier: each SLURM job starts a Python process (seconds),
#: so the fewer jobs one after another, the shorter the test.
TINIER = {"reads_per_cell: [500, all]": "reads_per_cell: [all]", "max_epochs: 8": "max_epochs: 3",
          "early_stopping_patience: 8": "early_stopping_patience: 3", "enhancers: enhancers.tsv": "enhancers: null"}

#: Each job asks for one of the node's 2 CPUs; training gets its own time limit.
EXECUTOR = """\
executor:
  kind: local
  slurm:
    time: "00:10:00"
    memory: 1GB
    cpus: 1
    jobs:
      train: {time: "00:05:00"}
"""


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """A one-node SLURM cluster on this host, started by the repository's script."""
    if shutil.which("slurmctld") is None or shutil.which("sbatch") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but SLURM is not installed: apt-get install slurm-wlm slurmdbd munge mariadb-server")
        pytest.skip("SLURM is not installed (slurm-wlm, slurmdbd, munge, mariadb-server)")
    started = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=300)
    if started.returncode != 0:
        pytest.fail(f"{SCRIPT.name} could not start SLURM:\n{started.stderr[-4000:]}")


def _tables(study) -> dict[str, pd.DataFrame]:
    """The evaluation and Tn5 tables of a finished study, in an order that does not depend on the run."""
    keys = ["platform", "level", "fold", "seed", "against", "cell_type", "metric"]
    evaluation = evaluation_table(study).drop(columns="model").sort_values(keys).reset_index(drop=True)
    tn5 = pd.read_csv(study.output / read_record(study, "tn5")["outputs"][0] / "tn5_similarity.tsv", sep="\t")
    return {"evaluation": evaluation, "tn5": tn5}


def _job_id(study, key: str) -> str | None:
    path = slurm_folder(study, key) / "job_id"
    return path.read_text().strip() if path.exists() else None


def _stop_two_training_jobs(study, child: subprocess.Popen) -> tuple[str, str]:
    """As soon as a training job trains in SLURM (its log says so), scancel it; send the
    next one running the signal SLURM sends a job near its time limit (--signal=USR2@90).

    Each is suspended first (``scontrol suspend``) and stopped only if its record still
    says running once it is frozen: a tiny training job may otherwise end between the
    look at its record and the signal, and then it has nothing to report or redo.
    """
    stopped: list[str] = []
    deadline = time.monotonic() + 240
    while len(stopped) < 2:
        if time.monotonic() > deadline or child.poll() is not None:
            raise AssertionError(f"never caught two training jobs running: {child.communicate()[1][-3000:]}")
        for key in _running_training_jobs(study):
            if key in stopped or not (stopped or "training" in log_path(study, key).read_text()):
                continue
            job_id = _job_id(study, key)
            if subprocess.run(["scontrol", "suspend", job_id], capture_output=True).returncode != 0:
                continue  # it ended meanwhile
            if read_record(study, key)["state"] != "running":
                subprocess.run(["scontrol", "resume", job_id], check=True)
            elif not stopped:
                subprocess.run(["scancel", job_id], check=True)  # a suspended job is cancelled too
                stopped.append(key)
            else:
                _time_limit_signal(job_id)
                subprocess.run(["scontrol", "resume", job_id], check=True)
                stopped.append(key)
        time.sleep(0.05)
    return stopped[0], stopped[1]


def _time_limit_signal(job_id: str) -> None:
    """Send a suspended SLURM job's Python process what SLURM sends a job step near its
    time limit (USR2); it acts on it once resumed. SLURM itself signals running jobs only,
    and the step's ``srun`` (whose command line names submitit too) would not pass it on."""
    listed = subprocess.run(["scontrol", "listpids", job_id], capture_output=True, text=True, check=True).stdout
    for pid in (line.split()[0] for line in listed.splitlines()[1:]):  # PID JOBID STEPID LOCALID GLOBALID
        path = Path(f"/proc/{pid}/cmdline")
        args = path.read_bytes().split(b"\0") if path.exists() else []
        if args and "python" in Path(args[0].decode()).name and b"submitit.core._submit" in args:
            os.kill(int(pid), signal.SIGUSR2)
            return
    raise AssertionError(f"SLURM job {job_id} runs no submitit process: {listed}")


def _running_training_jobs(study) -> list[str]:
    jobs = study.output / "jobs"
    paths = sorted(jobs.glob("train__*.json")) if jobs.exists() else []
    return [p.stem.replace("__", "/") for p in paths if json.loads(p.read_text()).get("state") == "running"]


def _wait_for_states(study, states: dict[str, str]) -> pd.DataFrame:
    """``study_status`` once it shows these jobs in these states (sacct may lag a moment)."""
    deadline = time.monotonic() + 60
    while True:
        table = study_status(study).set_index("job")
        shown = {key: table.loc[key, "state"] for key in states if key in table.index}
        if shown == states or time.monotonic() > deadline:
            return table
        time.sleep(0.5)


@pytest.fixture(scope="module")
def atlas(tmp_path_factory) -> Path:
    """A small simulated atlas, for studies of CPU-tiny settings."""
    base = tmp_path_factory.mktemp("atlas")
    simulate_atlas(base, "small", seed=5)
    return base


def _cli_run(study_file: Path, executor: str, **environment: str) -> subprocess.Popen:
    """`atlasbench -q run STUDY --executor EXECUTOR` in a subprocess."""
    return subprocess.Popen([sys.executable, "-m", "atlasbench.cli", "-q", "run", str(study_file), "--executor",
                             executor], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **environment})


@pytest.fixture(scope="module")
def runs(slurm_cluster, atlas):
    """A tiny simulated study run by the local executor and, at the same time (SLURM
    leaves a core idle while one job starts), by `atlasbench run --executor slurm`, with
    one training job cancelled mid-run and one out of time; then the SLURM study run
    again, killed once it resubmitted those two, and run a last time."""
    studies = {}
    for name in ("local", "slurm"):
        path = _study_file(atlas, name)
        text = path.read_text()
        for old, new in TINIER.items():
            text = text.replace(old, new)
        path.write_text(text + EXECUTOR)  # executor.kind local: --executor slurm overrides it
        studies[name] = load_study(path)
    study = studies["slurm"]
    # one torch thread, as each SLURM job of one CPU has
    local = _cli_run(atlas / "study-local.yaml", "local", OMP_NUM_THREADS="1")
    child = _cli_run(atlas / "study-slurm.yaml", "slurm")
    try:
        cancelled, timed_out = _stop_two_training_jobs(study, child)
        status = _wait_for_states(study, {cancelled: "cancelled", timed_out: "failed"})
        shown = CliRunner().invoke(main, ["status", str(atlas / "study-slurm.yaml")]).output
        _, stderr = child.communicate(timeout=300)
        assert local.wait(timeout=300) == 0, local.communicate()[1][-3000:]
    finally:
        for process in (local, child):
            if process.poll() is None:
                process.kill()
    done = {key: (read_record(study, key)["finished"], _job_id(study, key))
            for key in (p.stem.replace("__", "/") for p in (study.output / "jobs").glob("*.json"))
            if read_record(study, key)["state"] == "done"}
    resubmitted = _killed_once_resubmitted(atlas / "study-slurm.yaml", study, [cancelled, timed_out])
    rerun = run_study(study, "slurm", progress=False)
    return {"local": studies["local"], "slurm": study, "cancelled": cancelled, "timed_out": timed_out,
            "first": (child.returncode, stderr), "status": status, "shown": shown, "done_before": done,
            "resubmitted": resubmitted, "rerun": rerun}


def _killed_once_resubmitted(study_file: Path, study, keys: list[str]) -> dict[str, str]:
    """Run the study again and kill that run (as a lost login session would) once it has
    resubmitted these jobs; returns their new SLURM job ids. The jobs go on in SLURM."""
    before = {key: _job_id(study, key) for key in keys}
    driver = _cli_run(study_file, "slurm")
    deadline = time.monotonic() + 120
    try:
        while any(_job_id(study, key) == before[key] for key in keys):
            assert time.monotonic() < deadline and driver.poll() is None, driver.communicate()[1][-3000:]
            time.sleep(0.05)
    finally:
        driver.kill()
        driver.wait()
    return {key: _job_id(study, key) for key in keys}


def _entry(report: str, key: str) -> list[str]:
    """The lines of one job's entry in a run's failure report (the jobs are listed in the
    order they ended): its own line, then its logs' tails, up to the next job's line."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {key}: "))
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"  [^\s:]+: ", lines[i])), len(lines))
    return [lines[start].strip(), *lines[start + 1:end]]


def test_slurm_and_local_executors_give_the_same_tables(runs) -> None:
    local, on_slurm = _tables(runs["local"]), _tables(runs["slurm"])
    assert len(local["evaluation"]) > 0
    for name, table in local.items():
        pd.testing.assert_frame_equal(table, on_slurm[name], check_exact=False, rtol=1e-4, atol=1e-5, obj=name)
    assert (study_status(runs["slurm"])["state"] == "done").all()


def test_a_cancelled_and_a_timed_out_job_are_reported_shown_and_rerun_alone(runs) -> None:
    """Reported with their logs' tails, shown by `atlasbench status`; the next runs submit
    them alone, once (a run killed after submitting them leaves them to the next)."""
    study, cancelled, timed_out = runs["slurm"], runs["cancelled"], runs["timed_out"]
    code, stderr = runs["first"]
    assert code != 0
    report = stderr[stderr.index("did not finish"):]
    for key, why in ((cancelled, "CANCELLED"), (timed_out, "ran out of its SLURM time limit, 00:05:00")):
        entry = _entry(report, key)
        assert entry[0].startswith(f"{key}: failed") and why in entry[0], entry
        assert entry[1] == f"  last lines of {log_path(study, key)}:", entry
    assert any("training dilated_cnn" in line for line in _entry(report, cancelled))
    assert "evaluate: blocked" in report
    status = runs["status"]
    assert status.loc[cancelled, "state"] == "cancelled" and "CANCELLED" in status.loc[cancelled, "slurm"]
    assert status.loc[timed_out, "state"] == "failed" and "time limit" in status.loc[timed_out, "message"]
    assert "cancelled" in runs["shown"] and "CANCELLED" in runs["shown"]
    rerun, before = runs["rerun"], runs["done_before"]
    assert rerun.failed == [] and {"evaluate", "report"} <= {o.key for o in rerun.outcomes}
    assert {"regions", "tn5"} <= set(before) <= set(rerun.skipped)
    assert not set(before) & {o.key for o in rerun.outcomes}
    for done_key, (finished, job_id) in before.items():  # not resubmitted
        assert (read_record(study, done_key)["finished"], _job_id(study, done_key)) == (finished, job_id)
    # resubmitted by a run that was then killed: the last run waited for those SLURM jobs
    for key, job_id in runs["resubmitted"].items():
        assert _job_id(study, key) == job_id and read_record(study, key)["state"] == "done"


def test_each_job_gets_its_kind_s_resources_and_a_log_beside_its_record(runs) -> None:
    study = runs["slurm"]
    key = runs["cancelled"]
    folder = slurm_folder(study, key)
    script = (folder / f"{_job_id(study, key)}_submission.sh").read_text()
    assert "--time=5\n" in script and "--cpus-per-task=1\n" in script and "--mem=1024M\n" in script
    evaluate_script = slurm_folder(study, "evaluate") / f"{_job_id(study, 'evaluate')}_submission.sh"
    assert "--time=10\n" in evaluate_script.read_text()
    assert folder.parent.parent == study.output / "jobs"
    assert (study.output / "jobs" / (key.replace("/", "__") + ".log")).stat().st_size > 0


def test_sbatch_parameters_per_job_kind(atlas) -> None:
    path = _study_file(atlas, "resources")
    path.write_text(path.read_text() + """\
executor:
  kind: slurm
  slurm:
    partition: batch
    account: lab
    time: "1-02:00:30"
    memory: 1.5GB
    jobs:
      train: {partition: gpu, gpus: 2, cpus: 8}
""")
    study = load_study(path)
    train = sbatch_parameters(study, Job("train/a/b/fold-0/seed-1", "train"))
    assert train == {"job_name": "atlasbench:train/a/b/fold-0/seed-1", "time": 26 * 60 + 1, "mem": "1536M",
                     "cpus_per_task": 8, "partition": "gpu", "account": "lab", "gres": "gpu:2"}
    report = sbatch_parameters(study, Job("report", "report"))
    assert report["partition"] == "batch" and report["cpus_per_task"] == 4 and "gres" not in report


def test_the_slurm_executor_without_slurm_fails_before_any_work(atlas, tmp_path, monkeypatch) -> None:
    study = load_study(_study_file(atlas, "nowhere"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AtlasbenchError, match="sbatch, srun, sacct on PATH"):
        run_study(study, "slurm", progress=False)
    assert not study.output.exists()


def test_a_job_slurm_refuses_stops_the_run_with_sbatch_s_word(slurm_cluster, atlas) -> None:
    path = _study_file(atlas, "refused")
    path.write_text(path.read_text()
                    + "executor:\n  kind: slurm\n  slurm: {partition: nowhere, memory: 1GB, cpus: 1}\n")
    study = load_study(path)
    with pytest.raises(AtlasbenchError, match=r"SLURM refused job ingest/\w+ \(ingest\): .*partition") as info:
        run_study(study, progress=False)
    assert "executor.slurm" in str(info.value)
