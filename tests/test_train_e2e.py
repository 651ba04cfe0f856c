"""End to end: jobs/train.py on a tiny synthetic dataset, 2 DDP workers on a local Ray cluster, logging to a real
MLflow tracking server on localhost; the run is read back with MlflowClient."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import urllib.request

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e

TINY = {
    "data.root": "{tmp}/synthetic",
    "data.prepared": "{tmp}/prepared",
    "data.synthetic.num_motions": 24,
    "render.resolution": 64,
    "prepare.render_cpus": 0.5,
    "model.video.tower": "{{image_size: 32, patch_size: 8, width: 32, layers: 1, heads: 2, output_dim: 32}}",
    "model.latent_dim": 32,
    "train.epochs": 2,
    "train.batch_size": 8,
    "train.checkpoint_every": 1,
    "train.log_every_steps": 1,
    "train.storage_path": "{tmp}/runs",
    "train.experiment": "lavimo-e2e",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = _free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
               "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"]
    with open(tmp_path / "mlflow_server.log", "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a loaded 2-core machine can take minutes to start it
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, \
                    (tmp_path / "mlflow_server.log").read_text()[-2000:]
                time.sleep(0.5)
        yield uri
    finally:
        os.killpg(server.pid, 9)
        server.wait()


def test_train_job_logs_to_mlflow_server_and_keeps_checkpoints(tmp_path, ray_cluster, mlflow_server):
    sets = [arg for key, value in TINY.items() for arg in ("--set", f"{key}={str(value).format(tmp=tmp_path)}")]
    env = dict(os.environ, RAY_ADDRESS=ray_cluster, MLFLOW_TRACKING_URI=mlflow_server)
    done = subprocess.run([sys.executable, str(REPO / "jobs" / "train.py"), *sets], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| t2m |" in done.stdout and "| v2m |" in done.stdout

    (run_folder,) = (tmp_path / "runs").iterdir()
    record = json.loads((run_folder / "lavimo_run.json").read_text())
    assert record["mlflow_uri"] == mlflow_server
    checkpoints = sorted(p for p in run_folder.glob("checkpoint_*") if p.is_dir())
    assert 1 <= len(checkpoints) <= 2  # keep_checkpoints of cpu_demo
    for folder in checkpoints:
        assert {"model.safetensors", "training_state.pt", "config.json", "progress.json"} <= {
            p.name for p in folder.iterdir()}
    results = json.loads((run_folder / "test_results.json").read_text())
    assert set(results) == {"t2m", "m2t", "v2m", "m2v", "t2v", "v2t"}
    _check_mlflow_run(mlflow_server, record["run_id"])


def _check_mlflow_run(uri, run_id):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["train.epochs"] == "2" and params["model.latent_dim"] == "32"
    assert params["model.modalities"] == json.dumps(["motion", "text", "video"])
    steps = client.get_metric_history(run_id, "train/total")
    assert len(steps) >= 2 and all(s.value > 0 for s in steps)
    for name in ("train/align/motion-text", "train/align/motion-video", "train/align/text-video", "train/recon",
                 "train/temperature"):
        assert client.get_metric_history(run_id, name), name
    epochs = client.get_metric_history(run_id, "val/t2m/R10")
    assert [m.step for m in epochs] == [1, 2]
    assert client.get_metric_history(run_id, "test/v2m/R1")
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.json", "test_results.md", "best_checkpoint.json"} <= artifacts
    table = Path(client.download_artifacts(run_id, "test_results.md")).read_text()
    assert table.startswith("| direction | R@1 |")
