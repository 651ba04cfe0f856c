"""Preparing one motion: every bad input is a counted skip naming its file; supplied videos are used as they are."""

import dataclasses

import numpy as np
import pytest

from lavimo.data.datasets import DATASET_SPECS, ClipRules, DatasetError, index_split
from lavimo.data.skip_report import SkipReport
from lavimo.data.video import probe_video
from lavimo.prepare.motion import MotionJob, prepare_motion, video_location
from lavimo.render.config import RenderConfig
from lavimo.skeleton import HUMANML3D
from tests.folders import write_dataset

GOOD = "a person walks forward#a/DET person/NOUN#0.0#0.0"
IDS = [
    "good",
    "corrupt_npy",
    "nan",
    "zero_frames",
    "too_short",
    "wrong_dim",
    "bad_captions",
    "no_text",
    "no_features",
    "bad_video",
]


@pytest.fixture
def folder(tmp_path):
    captions = {i: [GOOD] for i in IDS}
    captions["bad_captions"] = ["#x/NOUN#0.0#0.0", "a person walks#a/DET#0.0"]
    root = write_dataset(tmp_path / "data", HUMANML3D, captions, {"train": IDS}, num_frames=50)
    vecs = root / "new_joint_vecs"
    (vecs / "corrupt_npy.npy").write_bytes(b"\x93NUMPY garbage")
    nan = np.load(vecs / "nan.npy")
    nan[7, 3] = np.nan
    np.save(vecs / "nan.npy", nan)
    np.save(vecs / "zero_frames.npy", np.zeros((0, 263), np.float32))
    np.save(vecs / "too_short.npy", np.load(vecs / "too_short.npy")[:10])
    np.save(vecs / "wrong_dim.npy", np.zeros((50, 251), np.float32))
    (root / "texts" / "no_text.txt").unlink()
    (vecs / "no_features.npy").unlink()
    (root / "videos").mkdir()
    (root / "videos" / "bad_video.mp4").write_bytes(b"not a video at all" * 100)
    return root


def _job(root, tmp_path):
    spec = DATASET_SPECS["humanml3d"]
    return MotionJob(
        str(root),
        str(tmp_path / "prepared"),
        spec,
        ClipRules(40, 200),
        RenderConfig(resolution=64, keyframe_interval=10),
    )


def test_each_bad_input_is_a_counted_skip_naming_its_file(folder, tmp_path):
    report = SkipReport()
    items = index_split(str(folder), "train", report)
    results = {item.id: prepare_motion(item, _job(folder, tmp_path)) for item in items}
    for result in results.values():
        report.extend(list(result.skips))
    assert set(results) == {"good", "corrupt_npy", "nan", "zero_frames", "too_short", "wrong_dim", "bad_video"}
    assert results["good"].row is not None and results["good"].rendered
    assert all(results[i].row is None for i in results if i != "good")

    def problem(fragment):
        return [s for s in report.skips if fragment in s.location]

    expectations = {
        "corrupt_npy.npy": "not a readable .npy array",
        "nan.npy": "NaN or Inf values in 1 frames (first: frame 7)",
        "zero_frames.npy": "zero frames",
        "too_short.npy": "10 frames",
        "wrong_dim.npy": "wrong feature shape (50, 251), expected (frames, 263)",
        "no_features.npy": "feature file not found",
        "no_text.txt": "caption file not found",
        "bad_captions.txt:1": "empty caption",
        "bad_captions.txt:2": "expected 4 '#'-separated fields",
        "bad_captions.txt": "no usable caption",
        "bad_video": "bad_video.mp4",
    }
    for location, words in expectations.items():
        found = problem(location)
        assert found, f"no skip recorded for {location}"
        assert any(words in f"{s.reason} {s.detail}" for s in found), (location, found)
    assert report.count("motion") == 9
    assert report.count("caption") == 2


def test_a_missing_split_file_is_an_error_naming_it(folder):
    with pytest.raises(DatasetError, match=r"val\.txt: split file not found"):
        index_split(str(folder), "val", SkipReport())


def test_a_corrupt_rendered_video_is_rendered_again(folder, tmp_path):
    job = _job(folder, tmp_path)
    (item,) = [i for i in index_split(str(folder), "train", SkipReport()) if i.id == "good"]
    target = tmp_path / "prepared" / "videos" / job.render.fingerprint() / "good_v0.mp4"
    assert video_location(job.prepared, job.render, "good") == str(target)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"truncated")
    result = prepare_motion(item, job)
    assert result.rendered == 1 and result.row["video_num_frames"] == 51 and result.row["video_paths"] == [str(target)]
    again = prepare_motion(item, job)
    assert not again.rendered and again.row == result.row


def test_other_render_settings_render_new_videos_beside_the_old(folder, tmp_path):
    job = _job(folder, tmp_path)
    (item,) = [i for i in index_split(str(folder), "train", SkipReport()) if i.id == "good"]
    first = prepare_motion(item, job)
    larger = dataclasses.replace(job, render=job.render.replace(resolution=96))
    other_seed = dataclasses.replace(job, render=job.render.replace(style_seed=1))
    for changed in (larger, other_seed):
        result = prepare_motion(item, changed)
        assert result.rendered and result.row["video_paths"] != first.row["video_paths"]
    assert probe_video(prepare_motion(item, larger).row["video_paths"][0]).width == 96
    assert probe_video(first.row["video_paths"][0]).width == 64  # the first settings' video is still there
    assert not prepare_motion(item, job).rendered


def test_a_supplied_video_of_another_size_and_rate_is_used_as_it_is(folder, tmp_path):
    """A user's own footage (here MPEG-4 part 2 at 30 fps, 96x72) replaces the rendered video."""
    import cv2

    path = folder / "videos" / "good.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (96, 72))
    for i in range(45):
        writer.write(np.full((72, 96, 3), i * 5, np.uint8))
    writer.release()
    (item,) = [i for i in index_split(str(folder), "train", SkipReport()) if i.id == "good"]
    result = prepare_motion(item, _job(folder, tmp_path))
    assert not result.rendered and result.skips == ()
    assert result.row["video_paths"] == [str(path)]  # its only view
    assert (result.row["video_num_frames"], result.row["video_fps"]) == (45, 30.0)
    assert result.row["video_rendered"] is False
    assert not (tmp_path / "prepared" / "videos").exists()


def test_outputs_at_a_filesystem_uri_go_through_pyarrow(folder, tmp_path):
    """`data.prepared` may be a URI: the video is rendered locally, then written through the URI's filesystem."""
    job = dataclasses.replace(_job(folder, tmp_path), prepared=f"file://{tmp_path}/remote")
    (item,) = [i for i in index_split(str(folder), "train", SkipReport()) if i.id == "good"]
    result = prepare_motion(item, job)
    name = f"videos/{job.render.fingerprint()}/good_v0.mp4"
    assert result.rendered and result.row["video_paths"] == [f"file://{tmp_path}/remote/{name}"]
    assert probe_video(str(tmp_path / "remote" / name)).num_frames == 51
    assert not prepare_motion(item, job).rendered  # found again through the URI
