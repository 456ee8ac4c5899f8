"""A whole study on a tiny simulated atlas: both executors, kill and resume, damaged
artefacts, bad studies, status."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from atlasbench.cli import main
from atlasbench.errors import AtlasbenchError
from atlasbench.simulate.atlas import simulate_atlas
from atlasbench.study.loader import load_study
from atlasbench.study.records import read_record, record_path
from atlasbench.study.run import evaluation_table, run_study, study_status

SETTINGS = """\
grid:
  reads_per_cell: [500, all]
  cells: [all]
  min_cells_per_type: 2
folds:
  scheme: chromosome_block
  k: 5
  test_folds: [0]
model:
  preset: tiny
  input_length: 200
  params: {filters: 8, n_dil_layers: 2}
training:
  loss: cosine_mse_log
  learning_rate: 0.003
  batch_size: 16
  max_epochs: 8
  early_stopping_patience: 8
  device: cpu
  precision: fp32   # the executors run jobs on different thread counts: bfloat16 results follow them (README)
evaluation:
  motifs: null
  enhancers: enhancers.tsv
  reference_platform: 10x
"""


def _study_file(base: Path, output: str) -> Path:
    """The simulated study with CPU-tiny settings, writing to ``output``; its regions are
    the simulated ones (MACS3 peak calling is tested with the data layer)."""
    truth = pd.read_csv(base / "truth" / "regions.tsv", sep="\t")
    truth[["chrom", "start", "end", "name"]].to_csv(base / "regions.bed", sep="\t", header=False, index=False)
    text = (base / "study.yaml").read_text()
    text = re.sub(r"regions:\n  width: 500\n", "regions:\n  bed: regions.bed\n", text)
    text = re.sub(r"output: \w+", f"output: {output}", text)
    text = re.sub(r"grid:.*?(?=truth:)", SETTINGS, text, flags=re.S)
    path = base / f"study-{output}.yaml"
    path.write_text(text)
    return path


def _tables(study) -> dict[str, pd.DataFrame]:
    """The result tables of a finished study, sorted so that row order does not matter."""
    evaluation = evaluation_table(study)
    keys = ["platform", "level", "fold", "seed", "against", "cell_type", "metric"]
    found = {"evaluation": evaluation.drop(columns="model").sort_values(keys).reset_index(drop=True)}
    for job, name in (("tn5", "tn5_similarity.tsv"), ("enhancers", "10x/per_cell_type.tsv")):
        folder = study.output / read_record(study, job)["outputs"][0]
        found[job] = pd.read_csv(folder / name, sep="\t")
    return found


def _kill_mid_training(study_file: Path, study) -> dict[str, float]:
    """Run the study in a subprocess and SIGKILL it while a model trains, after at least
    one model is done; returns the start time of every job done by then."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}  # one thread, as the Dask workers
    child = subprocess.Popen([sys.executable, "-m", "atlasbench.cli", "-q", "run", str(study_file)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and child.poll() is None:
            done = [p for p in (study.output / "jobs").glob("train__*.json")
                    if json.loads(p.read_text()).get("state") == "done"] if (study.output / "jobs").exists() else []
            training = [p for p in (study.output / "models").glob("*/*/*/checkpoint-train.pt")
                        if not (p.parent / "model.json").exists()] if (study.output / "models").exists() else []
            if done and training:
                break
            time.sleep(0.01)
        else:
            raise AssertionError(f"never caught a model mid-training: {child.stderr.read().decode()[-2000:]}")
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    records = [json.loads(p.read_text()) for p in (study.output / "jobs").glob("*.json")]
    return {r["key"]: r["started"] for r in records if r["state"] == "done"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same tiny study run twice: with the local executor, killed mid-training and
    resumed, and on a Dask LocalCluster of two worker processes."""
    from dask.distributed import Client, LocalCluster

    base = tmp_path_factory.mktemp("study")
    simulate_atlas(base, "small", seed=5)
    local = load_study(_study_file(base, "local"))
    done_before_kill = _kill_mid_training(base / "study-local.yaml", local)
    # Floating-point sums follow the thread count: the local run trains on one thread, as
    # each Dask worker does, so that the two give the same numbers.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        resumed = run_study(local, "local", progress=False)
    finally:
        torch.set_num_threads(threads)
    dask_study = load_study(_study_file(base, "dask"))
    environment = dict(os.environ)  # Dask's nannies change it for their workers
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        on_dask = run_study(dask_study, "dask", client=client, progress=False)
    os.environ.clear()
    os.environ.update(environment)
    return {"local": local, "dask": dask_study, "resumed": resumed, "on_dask": on_dask,
            "done_before_kill": done_before_kill}


def test_local_and_dask_executors_give_the_same_tables(runs) -> None:
    local, on_dask = _tables(runs["local"]), _tables(runs["dask"])
    assert len(local["evaluation"]) > 0
    assert set(local["evaluation"]["level"]) == {"reads-500_cells-all", "reads-all_cells-all"}
    for name, table in local.items():
        pd.testing.assert_frame_equal(table, on_dask[name], check_exact=False, rtol=1e-4, atol=1e-5, obj=name)
    assert runs["on_dask"].failed == [] and len(runs["on_dask"].outcomes) > 10
    for study in (runs["local"], runs["dask"]):
        html = study.output / "report" / "report.html"
        assert html.stat().st_size > 10_000


def test_killed_run_resumes_without_repeating_finished_jobs(runs) -> None:
    study, resumed, before = runs["local"], runs["resumed"], runs["done_before_kill"]
    assert any(key.startswith("train/") for key in before)
    assert resumed.failed == []
    assert set(before) <= set(resumed.skipped)
    assert not set(before) & {o.key for o in resumed.outcomes}
    for key, started in before.items():
        assert read_record(study, key)["started"] == started
    assert (study_status(study)["state"] == "done").all()


def test_rerun_does_nothing_and_a_damaged_artefact_is_rebuilt(runs) -> None:
    study = runs["local"]
    before = _tables(study)
    again = run_study(study, "local", progress=False)
    assert again.outcomes == [] and again.rebuilt == {}
    key = "train/hydrop/reads-all_cells-all/fold-0/seed-7"
    model_dir = study.output / read_record(study, key)["outputs"][0]
    weights = model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])  # truncated, as by a full disk
    repaired = run_study(study, "local", progress=False)
    assert list(repaired.rebuilt) == [key] and "bytes" in repaired.rebuilt[key]
    assert [o.key for o in repaired.outcomes] == [key]
    for name, table in _tables(study).items():
        pd.testing.assert_frame_equal(table, before[name], obj=name)


def test_status_command_lists_states(runs, tmp_path) -> None:
    study = runs["local"]
    result = CliRunner().invoke(main, ["status", str(study.output.parent / "study-local.yaml")])
    assert result.exit_code == 0, result.output
    assert re.match(r"\d+ done \(of \d+ jobs known\)", result.output)
    # a job whose process died while running, and a failed one
    for key, state in (("tn5", "running"), ("enhancers", "failed")):
        record = json.loads(record_path(study, key).read_text())
        record.update(state=state, pid=2**22 + 1, error="ValueError: boom")
        record_path(study, key).write_text(json.dumps(record))
    table = study_status(study).set_index("job")
    assert table.loc["tn5", "state"] == "interrupted"
    assert table.loc["enhancers", "state"] == "failed" and "boom" in table.loc["enhancers", "message"]
    shown = CliRunner().invoke(main, ["status", str(study.output.parent / "study-local.yaml")]).output
    assert "interrupted" in shown and "boom" in shown
    run_study(study, "local", progress=False)  # both run again
    assert (study_status(study)["state"] == "done").all()


def test_a_bad_study_fails_before_any_work(tmp_path) -> None:
    simulate_atlas(tmp_path, "small", seed=5)
    path = _study_file(tmp_path, "bad")
    path.write_text(path.read_text().replace("n_dil_layers: 2}", "n_dil_layers: 2, wings: 3}"))
    study = load_study(path)
    with pytest.raises(AtlasbenchError, match="nothing was run") as info:
        run_study(study, "local", progress=False)
    assert "wings" in str(info.value)
    assert not study.output.exists()
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2 and "nothing was run" in result.output


def test_a_failing_report_section_fails_the_run_unless_partial_is_allowed(runs) -> None:
    """Issue 16: a truth table with a wrong column makes the truth section fail; `atlasbench
    run` then fails its report job, naming the section and its error (also in `status`),
    and with --allow-partial-report writes the page with a note in its place. No other job
    reruns either way: the flag is no part of any job's hash."""
    study = runs["local"]
    study_file = str(study.output.parent / "study-local.yaml")
    truth = study.truth / "10x_barcodes.tsv"
    good = truth.read_text()
    page = study.output / "report" / "report.html"
    try:
        truth.write_text(good.replace("complexity", "complexity_of_cell", 1))
        record_path(study, "report").unlink()
        page.unlink()
        strict = CliRunner().invoke(main, ["run", str(study_file)])
        assert strict.exit_code != 0
        assert "report: failed: AtlasbenchError: 1 report section(s) could not be drawn" in strict.output
        assert "truth: ValueError:" in strict.output and "complexity" in strict.output
        assert not page.exists()
        status = CliRunner().invoke(main, ["status", study_file]).output
        assert re.search(r"report\s+report\s+failed", status) and "truth: ValueError" in status
        partial = CliRunner().invoke(main, ["run", study_file, "--allow-partial-report"])
        assert partial.exit_code == 0, partial.output
        assert partial.output.startswith("1 job(s) run,") and f"report: {page}" in partial.output
        truth_section = page.read_text().split('<section id="truth">', 1)[1].split("</section>", 1)[0]
        assert "This section could not be drawn:" in truth_section and "complexity" in truth_section
        assert (page.parent / "partial.json").is_file()
        # a strict run does not take the partial report for done: it redoes it (and fails again)
        again = CliRunner().invoke(main, ["run", str(study_file)])
        assert again.exit_code != 0 and "1 report section(s) could not be drawn" in again.output
    finally:
        truth.write_text(good)
    summary = run_study(study, "local", progress=False)  # strict again, with the good table
    assert summary.failed == [] and [o.key for o in summary.outcomes] == ["report"]
    assert "could not be drawn" not in page.read_text() and not (page.parent / "partial.json").exists()
