"""End to end: jobs/tune.py on the session's Ray head, logging to a real MLflow server. Random search crossed with a
grid of two batch sizes, the larger more than the tiny training split holds: 3 smoke-config trials (each a 2-worker
Ray Train run) and 3 that fail. The sweep is interrupted with Ctrl+C after its first trial and resumed with
--resume; then the report files and the parent and child runs, read back with MlflowClient."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.test_train_e2e import REPO, SMOKE, TINY

pytestmark = pytest.mark.e2e
# R@3 over the 2 validation motions of the tiny dataset is always 100, so ASHA stops no trial here; the smoke
# trials run their 2 epochs.
METRIC = "val/t2m/R3"
TOO_BIG = 4096  # a batch larger than the 24 training motions (and their mirrors): the trial fails inside Tune
SWEPT = {"train.epsilon": {"uniform": [0.6, 0.95]}, "train.lambda_recon": {"loguniform": [0.01, 1.0]},
         "model.temperature_init": {"loguniform": [0.03, 0.2]},
         "model.learnable_temperature": {"choice": [True, False]}, "train.batch_size": {"grid": [8, TOO_BIG]}}
ARTIFACTS = {"trials.md", "trials.csv", "metric_vs_params.png", "learning_curves.png", "best_trial.json"}


def _write_sweep(tmp_path: Path) -> Path:
    overrides = {key: yaml.safe_load(str(value).format(tmp=tmp_path)) for key, value in TINY.items()}
    spec = {"name": "tiny", "base": str(SMOKE), "overrides": overrides, "search_space": SWEPT, "search": "random",
            "num_samples": 3, "metric": METRIC, "asha": {"grace_period": 1, "reduction_factor": 2},
            "max_concurrent_trials": 1, "max_failures": 0, "storage_path": str(tmp_path / "sweeps"),
            "experiment": "lavimo-tune-e2e"}
    path = tmp_path / "tune_tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _interrupt_after_first_trial(command: list[str], env: dict, log: Path) -> str:
    """Runs the sweep until a trial has completed, then presses Ctrl+C; returns what the job printed."""
    with open(log, "w") as out:
        job = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 600
        while "completed after" not in log.read_text():
            assert job.poll() is None and time.monotonic() < deadline, log.read_text()[-6000:]
            time.sleep(1)
        job.send_signal(signal.SIGINT)
        job.wait(timeout=180)
    finally:
        job.kill()
    return log.read_text()


def test_tune_job_sweeps_resumes_and_logs_parent_and_child_runs(tmp_path, ray_cluster, mlflow_server):
    env = dict(os.environ, RAY_ADDRESS=ray_cluster, MLFLOW_TRACKING_URI=mlflow_server)
    command = [sys.executable, str(REPO / "jobs" / "tune.py"), "--config", str(_write_sweep(tmp_path))]
    interrupted = _interrupt_after_first_trial(command, env, tmp_path / "interrupted.log")
    resume = re.search(r"--resume (tiny-\S+)", interrupted)
    assert resume, interrupted[-6000:]
    done = subprocess.run([*command, "--resume", resume.group(1)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    output = done.stdout + done.stderr
    (tmp_path / "resumed.log").write_text(output)
    assert done.returncode == 0, output[-6000:]
    folder = tmp_path / "sweeps" / resume.group(1)
    assert "best checkpoint:" in done.stdout and str(folder) in done.stdout

    best = json.loads((folder / "best_trial.json").read_text())
    assert best["metric"] == METRIC and set(best["params"]) == set(SWEPT) and best["params"]["train.batch_size"] == 8
    assert (Path(best["checkpoint"]) / "model.safetensors").is_file()
    with open(folder / "trials.csv") as table:
        trials = list(csv.DictReader(table))
    assert len(trials) == 6 and trials[0]["trial"] == best["trial_id"]
    assert float(trials[0][f"best {METRIC}"]) == pytest.approx(best["value"], rel=1e-3)  # 4 digits in the table
    by_batch = {size: [t for t in trials if t["train.batch_size"] == size] for size in ("8", str(TOO_BIG))}
    assert [t["status"] for t in by_batch["8"]] == ["completed"] * 3
    assert [t["status"] for t in by_batch[str(TOO_BIG)]] == ["error"] * 3
    assert all(f"train.batch_size {TOO_BIG} is larger" in t["error"] for t in by_batch[str(TOO_BIG)])
    _check_mlflow(mlflow_server, {t["trial"]: t for t in trials}, best)


def _check_mlflow(uri: str, trials: dict[str, dict], best: dict) -> None:
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("lavimo-tune-e2e")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]  # the resume made no second one
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == len(runs) - 1 == 6
    assert parent.info.status == "FINISHED" and parent.data.params["num_samples"] == "3"
    assert parent.data.params["search_space.train.epsilon.uniform"] == "[0.6, 0.95]"
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
        steps = [m.step for m in client.get_metric_history(child.info.run_id, METRIC)]
        assert steps == list(range(1, int(trial["epochs"]) + 1))
        assert client.get_metric_history(child.info.run_id, "train/total")
    (best_child,) = [child for child in children if child.info.run_id == best["mlflow_run_id"]]
    assert {key: best_child.data.params[key] for key in SWEPT} == {k: str(v) for k, v in best["params"].items()}
