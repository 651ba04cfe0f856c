"""End to end: jobs/tune.py on the session's Ray head, logging to a real MLflow server. Random search crossed with a
grid of two batch sizes, the smaller more than the tiny training split holds: 2 trials that fail and 2 smoke-config
trials of 8 epochs (each a 2-worker Ray Train run). The sweep is interrupted with Ctrl+C while its last trial runs,
after that trial's first epoch, and resumed with `ray job submit ... jobs/tune.py --resume`; then the report files and
the parent and child runs, read back with MlflowClient."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.test_train_e2e import REPO, SMOKE, TINY, submit_job

pytestmark = pytest.mark.e2e
# R@3 over the 2 validation motions of the tiny dataset is always 100, so ASHA stops no trial here; the smoke
# trials run all their epochs.
METRIC = "val/t2m/R3"
# After a trial's first report, 7 more epochs of 1.5-3 s: time to interrupt it mid-run (Ctrl+C reached Tune 3 s after
# the report and stopped the trial 1.3 s later, 3 epochs after the report, when it was 4 epochs)
EPOCHS = 8
NUM_SAMPLES = 2
TOO_BIG = 4096  # a batch larger than the 24 training motions (and their mirrors): the trial fails inside Tune
SWEPT = {
    "loss.epsilon": {"uniform": [0.6, 0.95]},
    "loss.lambda_recon": {"loguniform": [0.01, 1.0]},
    "model.temperature_init": {"loguniform": [0.03, 0.2]},
    "model.learnable_temperature": {"choice": [True, False]},
    "train.batch_size": {"grid": [TOO_BIG, 8]},
}
# Tune makes the trials sample by sample, each crossed with the grid in order: the last one is a batch-8 trial
LAST_TRIAL = f"trial_*_{2 * NUM_SAMPLES - 1:05d}"
ARTIFACTS = {"trials.md", "trials.csv", "metric_vs_params.png", "learning_curves.png", "best_trial.json"}


def _write_sweep(tmp_path: Path, data: dict) -> Path:
    settings = {**TINY, **data}
    overrides = {key: yaml.safe_load(str(value).format(tmp=tmp_path)) for key, value in settings.items()}
    spec = {
        "name": "tiny",
        "base": str(SMOKE),
        "overrides": {**overrides, "train.epochs": EPOCHS},
        "search_space": SWEPT,
        "search": "random",
        "num_samples": NUM_SAMPLES,
        "metric": METRIC,
        "asha": {"grace_period": 1, "reduction_factor": 2},
        "max_concurrent_trials": 1,
        "max_failures": 0,
        "storage_path": str(tmp_path / "sweeps"),
        "experiment": "lavimo-tune-e2e",
    }
    path = tmp_path / "tune_tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _interrupt_during_last_trial(command: list[str], env: dict, sweeps: Path, log: Path) -> str:
    """Runs the sweep until its last trial has reported its first epoch, then presses Ctrl+C; returns the output."""
    with open(log, "w") as out:
        job = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 900
        while not any(result.stat().st_size for result in sweeps.glob(f"*/{LAST_TRIAL}/result.json")):
            assert job.poll() is None and time.monotonic() < deadline, log.read_text()[-6000:]
            time.sleep(0.2)
        job.send_signal(signal.SIGINT)
        job.wait(timeout=180)
    finally:
        job.kill()
    return log.read_text()


def test_tune_job_sweeps_resumes_and_logs_parent_and_child_runs(tmp_path, ray_head, mlflow_server, smoke_data):
    sweep_file = _write_sweep(tmp_path, smoke_data)
    env = dict(os.environ, RAY_ADDRESS=ray_head.address, MLFLOW_TRACKING_URI=mlflow_server)
    command = [sys.executable, str(REPO / "jobs" / "tune.py"), "--config", str(sweep_file)]
    interrupted = _interrupt_during_last_trial(command, env, tmp_path / "sweeps", tmp_path / "interrupted.log")
    resume = re.search(r"--resume (tiny-\S+)", interrupted)  # not a report: the running trial is unfinished
    assert resume and "best checkpoint:" not in interrupted, interrupted[-6000:]
    resumed = submit_job(
        ray_head.dashboard,
        ["python", "jobs/tune.py", "--config", str(sweep_file), "--resume", resume.group(1)],
        {"MLFLOW_TRACKING_URI": mlflow_server},
        timeout_s=900,
    )
    (tmp_path / "resumed.log").write_text(resumed)
    folder = tmp_path / "sweeps" / resume.group(1)
    assert "best checkpoint:" in resumed and str(folder) in resumed
    resumed_from = re.search(r"rank 0 resumed from epoch (\d+)", resumed)  # the interrupted trial's checkpoint
    assert resumed_from, resumed[-6000:]

    best = json.loads((folder / "best_trial.json").read_text())
    assert best["metric"] == METRIC and set(best["params"]) == set(SWEPT) and best["params"]["train.batch_size"] == 8
    assert (Path(best["checkpoint"]) / "model.safetensors").is_file()
    with open(folder / "trials.csv") as table:
        trials = list(csv.DictReader(table))
    assert len(trials) == 2 * NUM_SAMPLES and trials[0]["trial"] == best["trial_id"]
    assert float(trials[0][f"best {METRIC}"]) == pytest.approx(best["value"], rel=1e-3)  # 4 digits in the table
    by_batch = {size: [t for t in trials if t["train.batch_size"] == size] for size in ("8", str(TOO_BIG))}
    assert [(t["status"], t["epochs"]) for t in by_batch["8"]] == [("completed", str(EPOCHS))] * NUM_SAMPLES
    assert [t["status"] for t in by_batch[str(TOO_BIG)]] == ["error"] * NUM_SAMPLES
    assert all(f"train.batch_size {TOO_BIG} is larger" in t["error"] for t in by_batch[str(TOO_BIG)])
    _check_mlflow(mlflow_server, {t["trial"]: t for t in trials}, best, int(resumed_from.group(1)))


def _check_mlflow(uri: str, trials: dict[str, dict], best: dict, resumed_from: int) -> None:
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("lavimo-tune-e2e")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]  # the resume made no second one
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == len(runs) - 1 == 2 * NUM_SAMPLES
    assert parent.info.status == "FINISHED" and parent.data.params["num_samples"] == str(NUM_SAMPLES)
    assert parent.data.params["search_space.loss.epsilon.uniform"] == "[0.6, 0.95]"
    assert ARTIFACTS <= {artifact.path for artifact in client.list_artifacts(parent.info.run_id)}
    assert client.get_metric_history(parent.info.run_id, f"best/{METRIC}")[0].value == best["value"]
    for child in children:
        trial = trials[child.data.tags["tune.trial_id"]]
        assert child.info.run_name == f"trial_{trial['trial']}"
        swept = json.loads(child.data.tags["tune.swept"])
        assert {key: child.data.params[key] for key in SWEPT} == {key: str(value) for key, value in swept.items()}
        if trial["status"] == "error":
            assert child.info.status == "FAILED"
            continue
        assert child.info.status == "FINISHED"
        steps = sorted(m.step for m in client.get_metric_history(child.info.run_id, METRIC))
        if fnmatch(child.info.run_name, LAST_TRIAL):  # the interrupted trial, resumed from its checkpoint:
            logged_twice = sorted({step for step in steps if steps.count(step) > 1})  # epochs after it ran again
            assert all(step > resumed_from for step in logged_twice), (steps, resumed_from)
            steps = sorted(set(steps))
        assert steps == list(range(1, int(trial["epochs"]) + 1))
        assert client.get_metric_history(child.info.run_id, "train/total")
    (best_child,) = [child for child in children if child.info.run_id == best["mlflow_run_id"]]
    assert {key: best_child.data.params[key] for key in SWEPT} == {k: str(v) for k, v in best["params"].items()}
