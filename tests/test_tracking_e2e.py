"""A training run outlives its tracking server, end to end: jobs/train.py with the smoke config on the session's
Ray head, logging to a real `mlflow server` that is killed after the first epoch.

MLflow's HTTP client retries a call for about two minutes by default; these runs set MLFLOW_HTTP_REQUEST_MAX_RETRIES=0
and MLFLOW_HTTP_REQUEST_TIMEOUT=2 (forwarded to the train workers with the job's other MLFLOW_* variables), so a
call to the dead server fails within seconds and an outage of a few epochs is far longer than the client waits.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lavimo.outbox import PENDING_FOLDER
from tests.conftest import TrackingServer
from tests.test_resume_e2e import RESTART_LOG
from tests.test_train_e2e import REPO, TINY, smoke_command

pytestmark = pytest.mark.e2e

REPLAYED = re.compile(r"(\d+) records delivered now, (\d+) by an earlier replay")  # jobs/replay_tracking.py
EPOCHS = 4  # of test A: the server is down from the end of epoch 1 to the end of epoch 3
QUICK_CLIENT = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "2"}


def _start_job(tmp_path: Path, data: dict, ray_address: str, server: TrackingServer, epochs: int, **env) -> tuple:
    settings = {**TINY, **data, "train.epochs": epochs, "train.checkpoint_every": 1}
    command = smoke_command("train.py", tmp_path, settings)
    environment = dict(os.environ, RAY_ADDRESS=ray_address, MLFLOW_TRACKING_URI=server.uri, **QUICK_CLIENT, **env)
    log = tmp_path / "train.log"
    with open(log, "w") as out:
        job = subprocess.Popen(command, cwd=REPO, env=environment, stdout=out, stderr=subprocess.STDOUT)
    return job, log


def _wait_for(job: subprocess.Popen, log: Path, text: str, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text():
        assert job.poll() is None, f"the job ended before {text!r}:\n{log.read_text()[-5000:]}"
        assert time.monotonic() < deadline, f"no {text!r} after {timeout_s} s:\n{log.read_text()[-5000:]}"
        time.sleep(0.5)


def _finish(job: subprocess.Popen, log: Path) -> str:
    try:
        returncode = job.wait(timeout=900)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    text = log.read_text()
    assert returncode == 0, text[-6000:]
    assert not any(line in text for line in RESTART_LOG), "a worker group was restarted:\n" + text[-6000:]
    return text


def _check_complete_run(uri: str, run_id: str, epochs: int, steps: int) -> None:
    """Every epoch's validation metrics and every logged step of the losses once each, the test tables, the
    registered model, FINISHED."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    for key in ("val/t2m/R10", "val/v2m/R1", "epoch"):
        assert sorted(m.step for m in client.get_metric_history(run_id, key)) == list(range(1, epochs + 1)), key
    for key in ("train/total", "train/align/motion-video", "train/recon"):
        assert sorted(m.step for m in client.get_metric_history(run_id, key)) == list(range(1, steps + 1)), key
    assert len(client.get_metric_history(run_id, "test/all/v2m/R1")) == 1
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and "data.train_motions_without_mirror" in run.data.tags
    assert {"test_results.md", "best_checkpoint.json", "model"} <= {a.path for a in client.list_artifacts(run_id)}
    (version,) = client.search_model_versions("name = 'lavimo-e2e'")  # the best checkpoint, registered once
    assert version.run_id == run_id


def _run_record(tmp_path: Path) -> tuple[Path, dict]:
    (run_folder,) = [p.parent for p in (tmp_path / "runs").glob("*/lavimo_run.json")]
    return run_folder, json.loads((run_folder / "lavimo_run.json").read_text())


def _steps(data: dict, epochs: int) -> int:
    import pyarrow.parquet as pq

    from lavimo.config import load_config
    from tests.test_train_e2e import SMOKE

    rows = pq.read_metadata(Path(data["data.prepared"]) / "manifest" / "train.parquet").num_rows
    return epochs * (rows // load_config(SMOKE).train.batch_size)


def test_epochs_go_on_while_the_tracking_server_is_down_and_its_records_arrive_once(tmp_path, ray_cluster, smoke_data):
    server = TrackingServer(tmp_path / "mlflow")
    server.start()
    try:
        job, log = _start_job(tmp_path, smoke_data, ray_cluster, server, epochs=EPOCHS)
        _wait_for(job, log, "epoch 1:")
        server.stop()
        _wait_for(job, log, "epoch 3:")  # two epochs trained and validated with the server down
        assert f"MLflow server {server.uri} unreachable" in log.read_text()
        server.start()  # the same port and store
        text = _finish(job, log)
        assert f"MLflow server {server.uri} reachable again" in text
        run_folder, record = _run_record(tmp_path)
        assert not (run_folder / PENDING_FOLDER).exists()
        _check_complete_run(server.uri, record["run_id"], EPOCHS, _steps(smoke_data, EPOCHS))
    finally:
        server.stop()


def test_records_left_when_the_server_never_returns_are_replayed_exactly_once(tmp_path, ray_cluster, smoke_data):
    server = TrackingServer(tmp_path / "mlflow")
    server.start()
    try:
        job, log = _start_job(tmp_path, smoke_data, ray_cluster, server, epochs=2, LAVIMO_MLFLOW_FLUSH_S="3")
        _wait_for(job, log, "epoch 1:")
        server.stop()
        text = _finish(job, log)
        run_folder, record = _run_record(tmp_path)
        assert f"deliver them with: python jobs/replay_tracking.py {run_folder}" in text, text[-5000:]
        assert list((run_folder / PENDING_FOLDER).glob("records-*.jsonl"))

        server.start()
        replay = [sys.executable, str(REPO / "jobs" / "replay_tracking.py"), str(run_folder)]
        first = subprocess.run(replay, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stdout + first.stderr[-3000:]
        delivered, earlier = map(int, REPLAYED.search(first.stdout).groups())
        assert delivered > 0 and earlier == 0
        _check_complete_run(server.uri, record["run_id"], 2, _steps(smoke_data, 2))
        second = subprocess.run(replay, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr[-3000:]
        assert tuple(map(int, REPLAYED.search(second.stdout).groups())) == (0, delivered)
        _check_complete_run(server.uri, record["run_id"], 2, _steps(smoke_data, 2))
    finally:
        server.stop()
