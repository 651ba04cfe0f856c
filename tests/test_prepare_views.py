"""Views and the held-out style in preparation, without Ray: K views per training motion and one for the others,
finished views reused when K grows, the test split's held-out videos in a manifest of their own that training and
validation never open."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest

from lavimo.config import load_config
from lavimo.data.datasets import DATASET_SPECS, ClipRules, index_split
from lavimo.data.manifest import held_out_split, manifest_path, read_manifest
from lavimo.data.samples import stream_table
from lavimo.data.skip_report import SkipReport
from lavimo.prepare.dataset import is_prepared
from lavimo.prepare.motion import MotionJob, held_out_location, prepare_motion, video_location
from lavimo.render.randomise import draw_look
from lavimo.skeleton import HUMANML3D
from lavimo.train import trainer
from tests.folders import prepare_here, write_dataset
from tests.looks import CPU_DEMO

CAPTION = "a person walks forward#a/DET person/NOUN#0.0#0.0"
SPLITS = {"train": ["000001", "M000001"], "val": ["000002"], "test": ["000003", "M000003"]}


@pytest.fixture
def folder(tmp_path):
    ids = [motion_id for ids in SPLITS.values() for motion_id in ids]
    return write_dataset(tmp_path / "data", HUMANML3D, {i: [CAPTION] for i in ids}, SPLITS, num_frames=30)


def _job(root, tmp_path, **render):
    settings = load_config(CPU_DEMO).render.replace(resolution=32, **render)
    return MotionJob(str(root), str(tmp_path / "prepared"), DATASET_SPECS["humanml3d"], ClipRules(10, 200), settings)


def _items(root, split):
    return index_split(str(root), split, SkipReport())


def test_a_training_motion_gets_k_views_with_their_own_looks_and_the_others_one(folder, tmp_path):
    job = _job(folder, tmp_path, views_per_motion=3)
    train = prepare_motion(_items(folder, "train")[0], job)
    paths = train.row["video_paths"]
    assert paths == [video_location(job.prepared, job.render, "000001", view) for view in range(3)]
    assert len({open(path, "rb").read() for path in paths}) == 3  # different looks, different bytes
    assert len({draw_look(job.render, "000001", view) for view in range(3)}) == 3
    assert (train.rendered, train.reused, train.held_out_video) == (3, 0, None)
    val = prepare_motion(_items(folder, "val")[0], job)
    assert val.row["video_paths"] == [video_location(job.prepared, job.render, "000002", 0)]
    assert val.held_out_video is None
    test = prepare_motion(_items(folder, "test")[0], job)
    assert test.row["video_paths"] == [video_location(job.prepared, job.render, "000003", 0)]
    assert test.held_out_video == held_out_location(job.prepared, job.render, "000003")
    assert os.path.basename(os.path.dirname(test.held_out_video)).startswith("held_out_")
    assert (test.rendered, test.reused) == (2, 0)  # its view and its held-out video
    again = prepare_motion(_items(folder, "test")[0], job)
    assert (again.rendered, again.reused, again.row) == (0, 2, test.row)


def test_raising_the_view_count_renders_only_the_new_views(folder, tmp_path):
    item = _items(folder, "train")[0]
    first = prepare_motion(item, _job(folder, tmp_path))
    (view0,) = first.row["video_paths"]
    stat = (tmp_path / view0).stat()
    assert (first.rendered, first.reused) == (1, 0)
    more = prepare_motion(item, _job(folder, tmp_path, views_per_motion=2))
    assert (more.rendered, more.reused) == (1, 1)
    assert more.row["video_paths"][0] == view0 and more.row["video_paths"][1].endswith("000001_v1.mp4")
    assert ((tmp_path / view0).stat().st_ino, (tmp_path / view0).stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)


def test_a_supplied_video_is_the_only_view_and_gets_no_held_out_video(folder, tmp_path):
    (folder / "videos").mkdir()
    for motion_id in ("000001", "000003"):
        view = prepare_motion(_items(folder, "val")[0], _job(folder, tmp_path / motion_id)).row["video_paths"][0]
        (folder / "videos" / f"{motion_id}.mp4").write_bytes(open(view, "rb").read())  # footage of our own
    job = _job(folder, tmp_path, views_per_motion=2)
    for split in ("train", "test"):
        result = prepare_motion(_items(folder, split)[0], job)
        assert result.row["video_paths"] == [str(folder / "videos" / f"{result.id}.mp4")]
        assert (result.rendered, result.reused, result.held_out_video) == (0, 1, None)
    disabled = _job(folder, tmp_path, held_out=job.render.held_out.replace(enabled=False))
    assert prepare_motion(_items(folder, "test")[1], disabled).held_out_video is None


def test_held_out_videos_are_only_in_the_held_out_manifest(folder, tmp_path):
    config, summary = prepare_here(folder, tmp_path / "prepared", views_per_motion=2)
    prepared = config.data.prepared
    held_out = manifest_path(prepared, held_out_split("test"))
    assert held_out.endswith("manifest/test_held_out.parquet") and summary.held_out == {"test": held_out}
    rows = {split: read_manifest(manifest_path(prepared, split))[0].to_pylist() for split in SPLITS}
    held_out_folder = os.path.dirname(held_out_location(prepared, config.render, "000003"))
    for split, split_rows in rows.items():
        assert not any(path.startswith(held_out_folder) for row in split_rows for path in row["video_paths"]), split
        assert all(len(row["video_paths"]) == (2 if split == "train" else 1) for row in split_rows), split
    held_rows = read_manifest(held_out)[0].to_pylist()
    assert [row["id"] for row in held_rows] == [row["id"] for row in rows["test"]]  # the same gallery, in order
    for held, test in zip(held_rows, rows["test"]):
        assert held["video_paths"] == [held_out_location(prepared, config.render, held["id"])]
        assert {k: v for k, v in held.items() if k != "video_paths"} == {
            k: v for k, v in test.items() if k != "video_paths"
        }
    assert summary.motions == {"train": 2, "val": 1, "test": 2, "test_held_out": 2}


def test_training_and_validation_never_open_the_held_out_manifest(folder, tmp_path, monkeypatch):
    config, _ = prepare_here(folder, tmp_path / "prepared")
    opened, streamed = [], {}
    read_table, read_schema = pq.read_table, pq.read_schema
    monkeypatch.setattr(pq, "read_table", lambda path, **kw: opened.append(str(path)) or read_table(path, **kw))
    monkeypatch.setattr(pq, "read_schema", lambda path, **kw: opened.append(str(path)) or read_schema(path, **kw))

    def stream(location, builder_kwargs, *, training, **resources):  # pipeline.sample_stream, without Ray
        streamed[location] = (training, stream_table(pq.read_table(location)).to_pylist())
        return location

    monkeypatch.setattr(trainer.pipeline, "sample_stream", stream)
    datasets = trainer._datasets(config)  # the training stream and the validation stream the trainer builds
    prepared = config.data.prepared
    assert datasets == {"train": manifest_path(prepared, "train"), "val": manifest_path(prepared, "val")}
    assert [training for training, _ in streamed.values()] == [True, False]
    assert opened and {path.rsplit("/", 1)[1] for path in opened} == {"train.parquet", "val.parquet"}
    consumed = [path for _, rows in streamed.values() for row in rows for path in row["video_paths"]]
    held_out_folder = os.path.dirname(held_out_location(prepared, config.render, "000003"))
    assert len(consumed) == 3 and not any(path.startswith(held_out_folder) for path in consumed)


def test_a_split_with_supplied_videos_gets_no_held_out_manifest_and_says_why(folder, tmp_path):
    prepare_here(folder, tmp_path / "prepared")  # an earlier preparation wrote one
    (folder / "videos").mkdir()
    (folder / "videos" / "000003.mp4").write_bytes(
        open(video_location(str(tmp_path / "prepared"), _job(folder, tmp_path).render, "000003"), "rb").read()
    )
    config, summary = prepare_here(folder, tmp_path / "prepared")
    assert not (tmp_path / "prepared" / "manifest" / "test_held_out.parquet").exists()  # the old one is gone
    assert summary.held_out["test"].startswith("none, 1 of its 2 motions have videos supplied")
    assert "held-out style of test: none, 1 of its 2" in summary.describe()


def test_a_folder_is_prepared_when_the_held_out_style_was_considered(folder, tmp_path):
    config, summary = prepare_here(folder, tmp_path / "prepared")
    report = tmp_path / "prepared" / "prepare_report.json"
    assert not is_prepared(config)  # no report yet: held-out style not known to be considered
    report.write_text(json.dumps(summary.to_dict()))
    assert is_prepared(config)
    report.write_text(json.dumps(dict(summary.to_dict(), held_out={})))  # held-out style not written
    assert not is_prepared(config)
    report.write_text(json.dumps(summary.to_dict()))
    (tmp_path / "prepared" / "manifest" / "val.parquet").unlink()
    assert not is_prepared(config)


def test_a_folder_prepared_with_other_settings_is_prepared_again(folder, tmp_path, caplog):
    config, summary = prepare_here(folder, tmp_path / "prepared")
    (tmp_path / "prepared" / "prepare_report.json").write_text(json.dumps(summary.to_dict()))
    assert is_prepared(config)
    render, data = config.render, config.data
    changes = [
        (dict(render=render.replace(views_per_motion=2)), "views_per_motion"),
        (dict(render=render.replace(style_seed=1)), "look"),
        (dict(render=render.replace(resolution=64)), "look"),
        (
            dict(render=render.replace(held_out=render.held_out.replace(seed=4))),
            "held_out_look",
        ),
        (dict(data=data.replace(keep_shorter_than=150)), "keep_shorter_than"),
        (dict(prepare=config.prepare.replace(sentence_model="/models/mpnet")), "sentence_model"),
    ]
    for change, key in changes:
        caplog.clear()
        with caplog.at_level("INFO", logger="lavimo.prepare.dataset"):
            assert not is_prepared(config.replace(**change)), key
        assert f"was prepared with other {key}: preparing it again" in caplog.text
    assert is_prepared(config)


def test_a_folder_prepared_with_the_earlier_setting_names_is_not_prepared_again(folder, tmp_path):
    config, summary = prepare_here(folder, tmp_path / "prepared")
    (tmp_path / "prepared" / "prepare_report.json").write_text(json.dumps(summary.to_dict()))
    for manifest in (tmp_path / "prepared" / "manifest").glob("*.parquet"):  # as an earlier version wrote them
        table = pq.read_table(manifest)
        info = json.loads(table.schema.metadata[b"lavimo"])
        info["settings"]["max_motion_frames"] = info["settings"].pop("keep_shorter_than")
        pq.write_table(table.replace_schema_metadata({b"lavimo": json.dumps(info).encode()}), manifest)
    assert is_prepared(config)
    assert not is_prepared(config.replace(data=config.data.replace(keep_shorter_than=150)))
