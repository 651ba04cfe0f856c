"""Fault tolerance end to end, as one run sequence: jobs/train.py on a tiny synthetic dataset with one Ray Train worker
killed by SIGKILL after the first checkpoint (Ray Train restarts the worker group from that checkpoint and the job
finishes); then `--resume RUN_NAME` with more epochs, whose driver is killed by SIGKILL after its first new
checkpoint; then that newest checkpoint is damaged, jobs/evaluate.py passes it over for the one before it, and a
last `--resume` goes on from there and finishes the run: one MLflow run holding every epoch.

An epoch of the smoke config takes 1-40 s on a 2-core machine (the first of a job waits for Ray Data's first
blocks), so the job whose worker is killed runs 3 epochs; the driver-killed one asks for many more, since its
workers may finish an epoch or two while Ray notices that their driver is gone.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lavimo.config import load_config
from tests.test_train_e2e import REPO, SMOKE, TINY, smoke_command

pytestmark = pytest.mark.e2e

EPOCHS = 3  # of the job whose worker is killed
DRIVER_KILLED_EPOCHS = EPOCHS + 8  # what the job whose driver is killed asks for; it never gets there
SETTINGS = {**TINY, "train.epochs": EPOCHS, "train.checkpoint_every": 1, "train.max_failures": 2}
RESTART_LOG = ("[FailurePolicy] RETRY", "Source: worker group")  # Ray Train's controller deciding to restart
RESUMED_LOG = re.compile(r"rank 0 resumed from epoch (\d+), step (\d+)")  # lavimo.train.loop


def _command(tmp_path: Path, data: dict, *extra: str, **changes) -> list[str]:
    return [*smoke_command("train.py", tmp_path, {**SETTINGS, **data, **changes}), *extra]


def _environment(ray_address: str) -> dict:
    env = dict(os.environ, RAY_ADDRESS=ray_address)
    env.pop("MLFLOW_TRACKING_URI", None)  # a local SQLite store under the run root
    return env


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process."""
    listing = subprocess.run(
        ["ps", "-ww", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split(None, 2) for line in listing.splitlines()]
    return [(int(row[0]), int(row[1]), row[2] if len(row) > 2 else "") for row in rows]


def _raylet_pid() -> int:
    """The raylet of the session cluster (tests/conftest.py), found by its socket on its command line; other Ray
    clusters on the machine have their own session folders."""
    import ray

    (node,) = [node for node in ray.nodes() if node["Alive"]]
    socket = node["RayletSocketName"]
    (pid,) = [pid for pid, _, args in _processes() if f"--raylet_socket_name={socket}" in args]
    return pid


def _train_workers(raylet: int) -> set[int]:
    """Ray Train worker processes (titled ray::RayTrainWorker) started by the session cluster's raylet."""
    return {pid for pid, parent, args in _processes() if parent == raylet and args.startswith("ray::RayTrainWorker")}


def _checkpoints(run_folder: Path) -> list[Path]:
    """Complete checkpoint folders (progress.json is the last file a LAVIMO checkpoint writes), oldest first."""
    return sorted((p for p in run_folder.glob("checkpoint_*") if (p / "progress.json").is_file()), key=_epoch)


def _registered_checkpoints(run_folder: Path) -> list[Path]:
    """The whole checkpoints Ray Train registered (its snapshot names them), oldest first: a resume picks from these.
    Workers that outlive a killed driver for a moment may leave a newer folder that no snapshot names."""
    snapshot = run_folder / "checkpoint_manager_snapshot.json"
    registered = snapshot.read_text() if snapshot.is_file() else ""
    return [folder for folder in _checkpoints(run_folder) if folder.name in registered]


def _wait_for_checkpoint(job: subprocess.Popen, runs: Path, log: Path, epoch: int, timeout_s: float = 300) -> Path:
    """The run folder, once Ray Train has registered a whole checkpoint of `epoch` or later."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert job.poll() is None, f"the job ended before the checkpoint of epoch {epoch}:\n{log.read_text()[-4000:]}"
        for record in runs.glob("*/lavimo_run.json"):
            if any(_epoch(folder) >= epoch for folder in _registered_checkpoints(record.parent)):
                return record.parent
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint of epoch {epoch} after {timeout_s} s:\n{log.read_text()[-4000:]}")


def _epoch(checkpoint: Path) -> int:
    return json.loads((checkpoint / "progress.json").read_text())["epoch"]


def _steps_per_epoch(data: dict) -> int:
    import pyarrow.parquet as pq

    rows = pq.read_metadata(Path(data["data.prepared"]) / "manifest" / "train.parquet").num_rows
    return rows // load_config(SMOKE).train.batch_size


def _last_state(run_folder: Path) -> tuple[dict, dict]:
    """(progress.json, training_state.pt) of the checkpoint of the highest epoch."""
    import torch

    final = _checkpoints(run_folder)[-1]
    state = torch.load(final / "training_state.pt", map_location="cpu", weights_only=True)
    return json.loads((final / "progress.json").read_text()), state


def test_a_killed_worker_restarts_and_a_killed_driver_resumes_into_the_same_run(tmp_path, ray_cluster, smoke_data):
    raylet = _raylet_pid()
    before = _train_workers(raylet)  # this test runs alone on the cluster: any later worker is this run's
    runs, log = tmp_path / "runs", tmp_path / "train.log"
    env = _environment(ray_cluster)
    with open(log, "w") as out:
        job = subprocess.Popen(_command(tmp_path, smoke_data), cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        run_folder = _wait_for_checkpoint(job, runs, log, epoch=1)
        workers = sorted(_train_workers(raylet) - before)
        assert len(workers) == 2, f"expected the run's 2 Ray Train workers, found {workers}"
        epochs_at_kill = len(_checkpoints(run_folder))
        os.kill(workers[0], signal.SIGKILL)
        returncode = job.wait(timeout=600)
    finally:
        _stop(job)
    text = log.read_text()
    assert returncode == 0, text[-5000:]
    assert epochs_at_kill < EPOCHS, "the worker was killed after the last epoch: nothing was left to restart"
    assert all(line in text for line in RESTART_LOG), text[-5000:]
    resumed = [int(epoch) for epoch, _ in RESUMED_LOG.findall(text)]
    assert resumed and min(resumed) >= 1, text[-5000:]
    steps_per_epoch = _steps_per_epoch(smoke_data)
    progress, state = _last_state(run_folder)
    assert progress["epoch"] == EPOCHS and state["epoch"] == EPOCHS
    assert state["step"] == EPOCHS * steps_per_epoch
    assert (run_folder / "test_evaluation" / "results.json").is_file()
    record = json.loads((run_folder / "lavimo_run.json").read_text())

    reached = _kill_the_driver_after_its_first_checkpoint(
        tmp_path, smoke_data, run_folder, env, raylet, before, steps_per_epoch
    )
    final_epochs = reached + 1
    _check_a_damaged_newest_checkpoint_is_passed_over(
        tmp_path, smoke_data, run_folder, env, steps_per_epoch, final_epochs
    )
    assert json.loads((run_folder / "lavimo_run.json").read_text()) == record
    assert sorted(p.name for p in runs.iterdir() if (p / "lavimo_run.json").is_file()) == [run_folder.name]
    _check_one_mlflow_run(record, final_epochs)


def _stop(job: subprocess.Popen) -> None:
    if job.poll() is None:
        job.kill()
        job.wait()


def _kill_the_driver_after_its_first_checkpoint(
    tmp_path: Path, data: dict, run_folder: Path, env: dict, raylet: int, before: set[int], steps_per_epoch: int
) -> int:
    """`--resume` of the finished run to DRIVER_KILLED_EPOCHS, its driver (jobs/train.py) killed by SIGKILL once the
    checkpoint of epoch EPOCHS + 1 is registered: Ray ends the job's workers (the test waits until they are gone, as
    a user would before resuming), the run folder keeps its checkpoints. Returns the newest registered one's epoch."""
    log = tmp_path / "resumed.log"
    with open(log, "w") as out:
        job = subprocess.Popen(
            _command(tmp_path, data, "--resume", run_folder.name, **{"train.epochs": DRIVER_KILLED_EPOCHS}),
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_checkpoint(job, run_folder.parent, log, epoch=EPOCHS + 1)
        os.kill(job.pid, signal.SIGKILL)
        assert job.wait(timeout=60) == -signal.SIGKILL
    finally:
        _stop(job)
    assert [(int(e), int(s)) for e, s in RESUMED_LOG.findall(log.read_text())] == [
        (EPOCHS, EPOCHS * steps_per_epoch)
    ], log.read_text()[-5000:]
    deadline = time.monotonic() + 120
    while _train_workers(raylet) - before:
        assert time.monotonic() < deadline, "the killed driver's Ray Train workers still run after 120 s"
        time.sleep(0.5)
    reached = _epoch(_registered_checkpoints(run_folder)[-1])
    assert EPOCHS + 1 <= reached < DRIVER_KILLED_EPOCHS
    return reached


def _check_a_damaged_newest_checkpoint_is_passed_over(
    tmp_path: Path, data: dict, run_folder: Path, env: dict, steps_per_epoch: int, final_epochs: int
) -> None:
    """The newest checkpoint's weights cut in half, as a kill during a copy leaves them: jobs/evaluate.py and
    `--resume` warn, name it and use the newest whole one before it (tests/test_checkpoint.py damages it in the
    other ways, through the same function); that last `--resume` finishes the run."""
    *_, previous, newest = _registered_checkpoints(run_folder)
    weights = newest / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    skipped = f"skipping checkpoint {newest}: {weights}: truncated"
    evaluated = subprocess.run(
        [sys.executable, str(REPO / "jobs" / "evaluate.py"), "--checkpoint", str(newest)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = evaluated.stdout + evaluated.stderr
    assert evaluated.returncode == 0 and skipped in text, text[-5000:]
    assert f"using the previous whole checkpoint {previous} instead of {newest}" in text, text[-5000:]
    assert (run_folder / "evaluation" / f"{previous.name}-test" / "results.json").is_file()
    assert not (run_folder / "evaluation" / f"{newest.name}-test").exists()

    previous_epoch = _epoch(previous)  # Ray Train may delete it now
    again = subprocess.run(
        _command(tmp_path, data, "--resume", run_folder.name, **{"train.epochs": final_epochs}),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = again.stdout + again.stderr
    assert again.returncode == 0 and skipped in text, text[-5000:]
    assert [(int(e), int(s)) for e, s in RESUMED_LOG.findall(text)] == [
        (previous_epoch, previous_epoch * steps_per_epoch)
    ], text[-5000:]
    progress, state = _last_state(run_folder)
    assert progress["epoch"] == final_epochs and state["step"] == final_epochs * steps_per_epoch


def _check_one_mlflow_run(record: dict, epochs: int) -> None:
    from mlflow.tracking import MlflowClient

    assert record["mlflow_uri"].startswith("sqlite:///")
    client = MlflowClient(tracking_uri=record["mlflow_uri"])
    (experiment,) = [e for e in client.search_experiments() if e.name == SETTINGS["train.experiment"]]
    assert [r.info.run_id for r in client.search_runs([experiment.experiment_id])] == [record["run_id"]]
    validation = client.get_metric_history(record["run_id"], "val/t2m/R10")
    # An epoch redone after the kill is logged twice: the set of steps counts.
    assert sorted({m.step for m in validation}) == list(range(1, epochs + 1))
    test_steps = {m.step for m in client.get_metric_history(record["run_id"], "test/all/t2m/R10")}
    assert test_steps == {EPOCHS, epochs}  # the test split evaluated at the end of each job that was not killed
    assert client.get_run(record["run_id"]).info.status == "FINISHED"
