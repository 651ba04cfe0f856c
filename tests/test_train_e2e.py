"""End to end: jobs/train.py with the smoke config (a tiny synthetic dataset, 2 DDP workers) submitted with
`ray job submit` to a real Ray head on localhost, logging to a real MLflow tracking server; the run is read back with
MlflowClient. Then the same checkpoint through jobs/evaluate.py and jobs/retrieve.py, as a user runs them, and the
model version the job registered: promoted with jobs/evaluate.py --alias, fetched by jobs/retrieve.py --model and
loaded as an MLflow pyfunc."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from ray.job_submission import JobStatus, JobSubmissionClient

from lavimo import registry
from lavimo.checkpoint import load_model
from lavimo.data.video import VideoError, probe_video
from lavimo.eval.query import QueryEncoder, QueryError
from lavimo.eval.retrieval import index_location
from lavimo.eval.retrieval_job import RetrievalRequest, run_retrieval
from tests.test_video import write_filmed_clip

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e

SMOKE = REPO / "ray_configs" / "smoke.yaml"  # 24 synthetic motions, 64-px videos, a tiny model, 2 epochs
TINY = {  # the smoke config, with the runs under the test's tmp_path (its data: the session's smoke_data)
    "train.storage_path": "{tmp}/runs",
    "train.experiment": "lavimo-e2e",
}


def ray_cli() -> str:
    """The `ray` command of this environment."""
    return str(Path(sys.executable).with_name("ray"))


def smoke_arguments(tmp_path: Path, settings: dict, config: str = str(SMOKE)) -> list[str]:
    """`--config ray_configs/smoke.yaml --set key=value ...`, with {tmp} in the values made tmp_path."""
    sets = [arg for key, value in settings.items() for arg in ("--set", f"{key}={str(value).format(tmp=tmp_path)}")]
    return ["--config", config, *sets]


def smoke_command(job: str, tmp_path: Path, settings: dict) -> list[str]:
    """`python jobs/JOB` with the smoke config and `settings`, run here."""
    return [sys.executable, str(REPO / "jobs" / job), *smoke_arguments(tmp_path, settings)]


def submit_job(dashboard: str, entrypoint: list[str], env_vars: dict, timeout_s: int) -> str:
    """`ray job submit --working-dir .` of `entrypoint` to the Ray head whose dashboard is `dashboard`, as a user
    submits to a cluster; checks that the job SUCCEEDED and returns its log, which submit streams back."""
    job_id = f"lavimo-e2e-{uuid.uuid4().hex[:8]}"
    submit = [
        ray_cli(),
        "job",
        "submit",
        "--address",
        dashboard,
        "--submission-id",
        job_id,
        "--working-dir",
        ".",
        "--runtime-env-json",
        json.dumps({"env_vars": env_vars}),
        "--",
        *entrypoint,
    ]
    done = subprocess.run(submit, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert JobSubmissionClient(dashboard).get_job_status(job_id) == JobStatus.SUCCEEDED
    return done.stdout


def test_train_job_submitted_to_a_ray_head_logs_to_mlflow_server_and_keeps_checkpoints(
    tmp_path, ray_head, mlflow_server, smoke_data, monkeypatch
):
    """`ray job submit --working-dir .` of the smoke config to the session's `ray start --head` cluster, as a user
    submits to a real cluster; then the checkpoints, the MLflow run, and the evaluate and retrieve jobs on them."""
    entrypoint = [
        "python",
        "jobs/train.py",
        *smoke_arguments(tmp_path, {**TINY, **smoke_data}, config="ray_configs/smoke.yaml"),
    ]
    job_log = submit_job(ray_head.dashboard, entrypoint, {"MLFLOW_TRACKING_URI": mlflow_server}, timeout_s=900)
    assert "| t2m |" in job_log and "| v2m |" in job_log and "| v2m (held-out style) |" in job_log
    env = dict(os.environ, RAY_ADDRESS=ray_head.address, MLFLOW_TRACKING_URI=mlflow_server)

    (run_folder,) = (tmp_path / "runs").iterdir()
    record = json.loads((run_folder / "lavimo_run.json").read_text())
    assert record["mlflow_uri"] == mlflow_server
    checkpoints = sorted(p for p in run_folder.glob("checkpoint_*") if p.is_dir())
    assert 1 <= len(checkpoints) <= 2  # keep_checkpoints of cpu_demo
    for folder in checkpoints:
        assert {"model.safetensors", "training_state.pt", "config.json", "progress.json"} <= {
            p.name for p in folder.iterdir()
        }
    results = json.loads((run_folder / "test_evaluation" / "results.json").read_text())
    assert set(results["protocols"]["all"]) == {"t2m", "m2t", "v2m", "m2v", "t2v", "v2t"}
    assert set(results["held_out_style"]["protocols"]["all"]) == {"v2m", "m2v"}
    _check_mlflow_run(mlflow_server, record["run_id"])
    best = json.loads(
        Path(MlflowClient(mlflow_server).download_artifacts(record["run_id"], "best_checkpoint.json")).read_text()
    )["best_checkpoint"]
    _check_evaluate_job(best, env, mlflow_server, record["run_id"])
    _check_retrieve_job(best, env, tmp_path, smoke_data["data.prepared"])
    _check_registered_model(
        best, dict(env, LAVIMO_MODEL_CACHE=str(tmp_path / "models")), mlflow_server, record["run_id"], monkeypatch
    )


def _check_mlflow_run(uri, run_id):
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["train.epochs"] == "2" and params["model.latent_dim"] == "32"
    assert params["model.modalities"] == json.dumps(["motion", "text", "video"])
    steps = client.get_metric_history(run_id, "train/total")
    assert len(steps) >= 2 and all(s.value > 0 for s in steps)
    for name in (
        "train/align/motion-text",
        "train/align/motion-video",
        "train/align/text-video",
        "train/recon",
        "train/temperature",
    ):
        assert client.get_metric_history(run_id, name), name
    epochs = client.get_metric_history(run_id, "val/t2m/R10")
    assert [m.step for m in epochs] == [1, 2]
    assert run.data.tags["data.train_motions_without_mirror"] == "0"  # every synthetic motion has its M-id
    for protocol in ("all", "threshold_0.95", "threshold_0.8", "dissimilar", "exact_caption"):
        assert client.get_metric_history(run_id, f"test/{protocol}/v2m/R1"), protocol
        assert client.get_metric_history(run_id, f"test/held_out_style/{protocol}/m2v/R1"), protocol
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.json", "test_results.md", "test_results.json", "best_checkpoint.json"} <= artifacts
    table = Path(client.download_artifacts(run_id, "test_results.md")).read_text()
    assert table.startswith("### (a) All") and "(b) All with threshold 0.95 (TMR code)" in table


def _run_job(script: str, *arguments: str, env: dict, succeed: bool = True) -> subprocess.CompletedProcess:
    """jobs/SCRIPT run as a user runs it, from the repository; it must succeed (or, `succeed=False`, fail)."""
    done = subprocess.run(
        [sys.executable, str(REPO / "jobs" / script), *arguments],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert (done.returncode == 0) == succeed, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _check_evaluate_job(checkpoint, env, uri, run_id):
    """jobs/evaluate.py on the best checkpoint: the five protocols as files and in the training's MLflow run."""
    done = _run_job("evaluate.py", "--checkpoint", checkpoint, "--alias", "champion", env=env)
    assert f"models:/lavimo-e2e@champion -> version 1 ({checkpoint})" in done.stdout, done.stdout[-3000:]
    folder = Path(checkpoint).parent / "evaluation" / f"{Path(checkpoint).name}-test"
    results = json.loads((folder / "results.json").read_text())
    assert list(results["protocols"]) == ["all", "threshold_0.95", "threshold_0.8", "dissimilar", "exact_caption"]
    assert any("Small batches" in note and "skipped" in note for note in results["notes"])  # < 32 test pairs
    chosen = (folder / "dissimilar_ids.txt").read_text().split()
    assert 1 <= len(chosen) == len(set(chosen)) and not any(f"M{i}" in chosen for i in chosen)
    assert (folder / "results.md").read_text() in done.stdout
    history = MlflowClient(uri).get_metric_history(run_id, "test/threshold_0.8/t2m/R1")
    assert len(history) == 2  # the training job's final evaluation, then this one


def _check_registered_model(checkpoint, env, uri, run_id, monkeypatch):
    """The training job registered its best checkpoint (as experiment lavimo-e2e, version 1, alias champion from
    jobs/evaluate.py --alias): jobs/retrieve.py --model and the pyfunc answer as the checkpoint folder does."""
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    (version,) = client.search_model_versions("name = 'lavimo-e2e'")
    assert version.run_id == run_id and version.tags[registry.CHECKPOINT_TAG] == checkpoint
    assert float(version.tags["test/all/t2m/R10"]) >= 0
    assert client.get_model_version_by_alias("lavimo-e2e", "champion").version == version.version
    answers = {}
    for source in (["--checkpoint", checkpoint], ["--model", "models:/lavimo-e2e@champion"]):
        done = _run_job("retrieve.py", *source, "--text", "someone jumps", "-k", "3", env=env)
        answers[source[0]] = [line for line in done.stdout.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert answers["--model"] == answers["--checkpoint"] and len(answers["--model"]) == 3
    bad = _run_job(
        "retrieve.py", "--model", "models:/lavimo-e2e@nobody", "--text", "someone jumps", env=env, succeed=False
    )
    assert "has no model 'lavimo-e2e' with alias 'nobody'" in bad.stderr, bad.stderr[-3000:]
    sentences = ["a person walks forward", "someone jumps"]
    expected = QueryEncoder(load_model(checkpoint)[0]).texts(sentences)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # the pyfunc loader reads its registry from here
    embeddings = mlflow.pyfunc.load_model("models:/lavimo-e2e@champion").predict(sentences)
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)


def _check_retrieve_job(checkpoint, env, tmp_path, prepared):
    """jobs/retrieve.py: a text query builds the index on Ray and renders a preview; then video and motion
    queries reuse the index, and bad queries fail before writing anything."""
    preview = tmp_path / "preview.mp4"
    query = ["--checkpoint", checkpoint, "--text", "a person walks forward", "-k", "3", "--render", str(preview)]
    done = _run_job("retrieve.py", *query, env=env)
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split(" | ")[0] for row in rows] == ["| 1", "| 2", "| 3"]
    scores = [float(row.split(" | ")[2]) for row in rows]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    meta = probe_video(preview)
    assert meta.width == 3 * 192 and meta.num_frames > 1
    assert Path(index_location(checkpoint, prepared, ["train", "val", "test"])).is_file()

    clip = write_filmed_clip(tmp_path / "filmed.mp4", frames=30, width=160, height=90)
    by_video = run_retrieval(RetrievalRequest(checkpoint, video=str(clip), k=2), connect_ray=_no_ray)
    assert [hit.rank for hit in by_video] == [1, 2] and by_video[0].score >= by_video[1].score
    motion = by_video[0].motion_id
    by_motion = run_retrieval(RetrievalRequest(checkpoint, motion=motion, k=4), connect_ray=_no_ray)
    assert len(by_motion) == 4 and motion not in [hit.motion_id for hit in by_motion]
    assert np.isfinite([hit.duration_s for hit in by_motion]).all()

    bad_render = tmp_path / "never.mp4"
    with pytest.raises(QueryError, match="'nope' is not in the index"):
        run_retrieval(RetrievalRequest(checkpoint, motion="nope", render=str(bad_render)), connect_ray=_no_ray)
    with pytest.raises(QueryError, match="empty"):
        run_retrieval(RetrievalRequest(checkpoint, text="  ", render=str(bad_render)), connect_ray=_no_ray)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoError, match="broken.mp4"):
        run_retrieval(RetrievalRequest(checkpoint, video=str(broken), render=str(bad_render)), connect_ray=_no_ray)
    assert not bad_render.exists()


def _no_ray():
    raise AssertionError("the index exists: the query must not need Ray")
