"""MLflow helpers: where runs go, and a fail-fast check of an unreachable tracking server."""

import socket

import pytest

from lavimo.tracking import TrackingError, check_reachable, flatten, tracking_uri, ui_command


def test_default_store_is_sqlite_in_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = tracking_uri(str(tmp_path / "runs"))
    assert uri == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    assert ui_command(uri) == f"mlflow ui --backend-store-uri {uri}"


def test_the_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(str(tmp_path)) == "http://127.0.0.1:5000"


def test_an_unreachable_server_fails_at_once_naming_it():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TrackingError, match=f"http://127.0.0.1:{port} is unreachable"):
        check_reachable(f"http://127.0.0.1:{port}", timeout_s=2)


def test_config_values_become_flat_params():
    assert flatten({"train": {"epochs": 3, "x": {"y": 1.5}}, "model": {"modalities": ["motion", "text"]}}) == {
        "train.epochs": "3",
        "train.x.y": "1.5",
        "model.modalities": '["motion", "text"]',
    }


def test_a_local_run_keeps_its_artifacts_beside_its_store(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from lavimo.tracking import RunLogger, start_run

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = tracking_uri(str(tmp_path / "runs"))
    run_id = start_run(uri, "local", "run-1", {"train": {"epochs": 2}})
    logger = RunLogger(uri, run_id, str(tmp_path / "runs" / "run-1"))
    logger.metrics({"val/t2m/R10": 12.5}, step=1)
    logger.artifact_text("hello", "note.txt")
    logger.finish()
    assert logger.close() == 0  # all delivered
    run = MlflowClient(uri).get_run(run_id)
    assert run.data.params == {"train.epochs": "2"} and run.data.metrics == {"val/t2m/R10": 12.5}
    assert (tmp_path / "runs" / "mlartifacts").is_dir() and not (tmp_path / "mlruns").exists()
