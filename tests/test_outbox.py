"""MLflow records off the critical path (lavimo.outbox): delivered in order by a background thread, kept while
the server is down, written to the run folder at the end and replayed exactly once into a real tracking server."""

import json

import pytest

from lavimo import outbox, tracking_replay
from lavimo.tracking import RunLogger, start_run, tracking_uri
from tests.conftest import free_port

QUICK_CLIENT = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",  # MLflow's client gives up on a refused connection at
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "2",
}  # once (by default it retries for about two minutes)


def _history(uri: str, run_id: str, key: str) -> list[tuple[int, int, float]]:
    from mlflow.tracking import MlflowClient

    return sorted((m.step, m.timestamp, m.value) for m in MlflowClient(uri).get_metric_history(run_id, key))


def test_records_arrive_in_order_with_their_steps_and_times(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = tracking_uri(str(tmp_path / "runs"))
    run_id = start_run(uri, "outbox", "run-1", {})
    logger = RunLogger(uri, run_id, str(tmp_path / "runs" / "run-1"))
    for step in range(1, 6):
        logger.metrics({"train/loss": 1.0 / step}, step=step)
    logger.tags({"note": "five steps"})
    logger.finish()
    assert logger.close() == 0
    history = _history(uri, run_id, "train/loss")
    assert [(step, value) for step, _, value in history] == [(s, 1.0 / s) for s in range(1, 6)]
    assert [t for _, t, _ in history] == sorted(t for _, t, _ in history)  # the time of each call, in order
    run = MlflowClient(uri).get_run(run_id)
    assert run.data.tags["note"] == "five steps" and run.info.status == "FINISHED"
    assert not (tmp_path / "runs" / "run-1" / outbox.PENDING_FOLDER).exists()


def test_a_record_the_store_refuses_is_named_and_the_rest_still_arrive(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    uri = tracking_uri(str(tmp_path / "runs"))
    run_id = start_run(uri, "outbox", "run-1", {})
    logger = RunLogger(uri, run_id, str(tmp_path / "runs" / "run-1"))
    logger.metrics({"bad key!": 1.0}, step=1)  # MLflow refuses this name
    logger.metrics({"good": 2.0}, step=1)
    with caplog.at_level("ERROR", logger="lavimo.outbox"):
        assert logger.close() == 0
    assert "refused a metrics record" in caplog.text and "refused 1 records" in caplog.text
    assert [value for _, _, value in _history(uri, run_id, "good")] == [2.0]


def test_a_down_server_keeps_the_records_which_a_replay_delivers_exactly_once(
    tmp_path, mlflow_server, monkeypatch, caplog
):
    run_id = start_run(mlflow_server, "outbox", "run-1", {"train": {"epochs": 2}})
    for name, value in QUICK_CLIENT.items():
        monkeypatch.setenv(name, value)
    down = f"http://127.0.0.1:{free_port()}"  # the same run, logged while its server is unreachable
    run_folder = tmp_path / "runs" / "run-1"
    logger = RunLogger(down, run_id, str(run_folder))
    for step in (1, 2, 3):
        logger.metrics({"train/loss": float(step), "train/lr": 0.1}, step=step)
    logger.artifact_text("# results\n", "test_results.md")
    logger.finish()
    assert logger.box.waiting() >= 4  # every call returned at once; nothing could be delivered
    with caplog.at_level("WARNING", logger="lavimo.outbox"):
        assert logger.close(flush_s=1.0) == 5
    assert f"MLflow server {down} unreachable" in caplog.text
    assert f"python jobs/replay_tracking.py {run_folder}" in caplog.text
    (records,) = (run_folder / outbox.PENDING_FOLDER).glob("records-*.jsonl")
    lines = records.read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["metrics"] * 3 + ["artifact", "finish"]
    with open(records, "a") as out:
        out.write('{"uri": "' + down + '", "run_id": "' + run_id + '", "seq": 99')  # a line still being written
    for name in QUICK_CLIENT:
        monkeypatch.delenv(name)  # the real server, on a busy machine, may take longer than 2 s to answer

    first = tracking_replay.replay_pending(str(run_folder), uri=mlflow_server)
    assert (first.delivered, first.already) == (5, 0)
    second = tracking_replay.replay_pending(str(run_folder), uri=mlflow_server)
    assert (second.delivered, second.already) == (0, 5)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_server)
    assert [(step, value) for step, _, value in _history(mlflow_server, run_id, "train/loss")] == [
        (1, 1.0),
        (2, 2.0),
        (3, 3.0),
    ]
    assert len(_history(mlflow_server, run_id, "train/lr")) == 3
    assert client.get_run(run_id).info.status == "FINISHED"
    assert [a.path for a in client.list_artifacts(run_id) if a.path.endswith(".md")] == ["test_results.md"]


def test_a_folder_with_nothing_pending_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no mlflow_pending folder"):
        tracking_replay.replay_pending(str(tmp_path))
