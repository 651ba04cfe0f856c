"""End to end: jobs/prepare_data.py on a small synthetic dataset on a real local Ray cluster, killed and resumed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lavimo import storage
from lavimo.data.manifest import manifest_path, read_manifest
from lavimo.data.video import probe_video

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def _command(tmp_path):
    overrides = {
        "data.root": tmp_path / "synthetic",
        "data.prepared": tmp_path / "prepared",
        "data.synthetic.num_motions": 16,
        "render.resolution": 64,
        "prepare.render_cpus": 0.5,
        "prepare.embed_chunk_size": 8,
    }
    sets = [arg for key, value in overrides.items() for arg in ("--set", f"{key}={value}")]
    return [sys.executable, str(REPO / "jobs" / "prepare_data.py"), *sets]


def _run(tmp_path, ray_cluster, log_name):
    env = dict(os.environ, RAY_ADDRESS=ray_cluster)
    with open(tmp_path / log_name, "w") as log:
        done = subprocess.run(_command(tmp_path), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600)
    output = (tmp_path / log_name).read_text()
    assert done.returncode == 0, output[-3000:]
    return json.loads((tmp_path / "prepared" / "prepare_report.json").read_text()), output


def _kill_after_some_videos(tmp_path, ray_cluster, at_least):
    env = dict(os.environ, RAY_ADDRESS=ray_cluster)
    videos = tmp_path / "prepared" / "videos"  # videos/FINGERPRINT/ID_v0.mp4
    with open(tmp_path / "killed.log", "w") as log:
        process = subprocess.Popen(
            _command(tmp_path), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 300
        while len(list(videos.glob("*/*.mp4"))) < at_least:
            assert process.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no videos were rendered in time"
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return {p.relative_to(videos): p.stat().st_mtime_ns for p in videos.glob("*/*.mp4")}


def test_prepare_data_renders_embeds_writes_manifests_and_resumes(tmp_path, ray_cluster):
    before_kill = _kill_after_some_videos(tmp_path, ray_cluster, at_least=3)
    assert not (tmp_path / "prepared" / "manifest").exists()
    # what a render task SIGKILLed mid-write leaves (the kill above may or may not have caught one)
    (fingerprint,) = {name.parts[0] for name in before_kill}
    planted = storage.temporary_sibling(str(tmp_path / "prepared" / "videos" / fingerprint / "M000001_v0.mp4"))
    open(planted, "wb").write(b"half a video")
    os.utime(planted, (time.time() - 3600,) * 2)

    report, output = _run(tmp_path, ray_cluster, "resumed.log")
    videos = tmp_path / "prepared" / "videos"
    for name, mtime in before_kill.items():  # finished work survives the kill and is not redone
        assert (videos / name).stat().st_mtime_ns == mtime
    assert not list(videos.rglob("*.tmp*")) and report["leftovers_removed"] >= 1

    rows = _check_manifests(tmp_path)
    held_out = read_manifest(manifest_path(str(tmp_path / "prepared"), "test_held_out"))[0].to_pylist()
    test_ids = [row["id"] for row in rows if row["split"] == "test"]
    assert [row["id"] for row in held_out] == test_ids and report["motions"]["test_held_out"] == len(test_ids)
    for row in held_out:  # the test pairs again, with videos in the held-out style of their own folder
        (path,) = row["video_paths"]
        assert "/held_out_" in path and probe_video(path).num_frames == row["video_num_frames"]
    assert report["videos_rendered"] + report["videos_reused"] == len(rows) + len(held_out)  # one view each
    assert report["videos_reused"] >= len(before_kill)
    assert report["captions_embedded"] == report["captions_total"] > 0
    skipped = report["skipped"]["counts"]
    total_motions = 32  # 16 originals and their mirrors
    assert len(rows) + sum(n for what, n in skipped.items() if what.startswith("motion:")) == total_motions
    assert "motions per split" in output

    again, _ = _run(tmp_path, ray_cluster, "again.log")
    assert again["videos_rendered"] == 0 and again["captions_embedded"] == 0
    assert again["motions"] == report["motions"]


def _check_manifests(tmp_path):
    rows = []
    for split in ("train", "val", "test"):
        table, info = read_manifest(manifest_path(str(tmp_path / "prepared"), split))
        assert info.dataset == "synthetic" and info.feature_dim == 263 and info.embedding_dim == 384
        rows += table.to_pylist()
    assert len({r["id"] for r in rows}) == len(rows) > 0
    for row in rows:
        (path,) = row["video_paths"]  # render.views_per_motion 1: one view
        assert "/held_out_" not in path
        video = probe_video(path)
        assert video.num_frames == row["video_num_frames"] == row["num_frames"] + 1
        assert (video.width, video.height) == (64, 64) and abs(video.fps - 20.0) < 0.01
        assert np.load(row["feature_path"]).shape == (row["num_frames"], 263)
        assert len(row["captions"]) == len(row["caption_start"]) == len(row["caption_embeddings"]) >= 1
        norms = np.linalg.norm(np.asarray(row["caption_embeddings"]), axis=1)
        np.testing.assert_allclose(norms, 1.0, atol=1e-4)
    return rows
