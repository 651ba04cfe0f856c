"""SampleBuilder and the clip augmentation, without Ray: shapes, normalisation, windows, randomness, bad rows."""

import dataclasses
import functools
import logging
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from lavimo.data.augment import AugmentRanges, augment_clip, draw_params
from lavimo.data.manifest import read_manifest, write_manifest
from lavimo.data.samples import (
    SampleBuilder,
    StreamSettings,
    manifest_batch,
    sample_index,
    stream_table,
    unmirrored_count,
)
from lavimo.data.video import decode_frames, uniform_frame_indices
from tests.samples_data import (
    EMBEDDING_DIM,
    SIZE,
    VIEW_STEP,
    read_frame_indices,
    write_mirrored_prepared,
    write_prepared,
)

D = 263
SETTINGS = StreamSettings(crop_frames=40, num_video_frames=4, frame_size=SIZE, max_tokens=16)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """(stream table, info) of three motions: m0 rendered video, m1 index video, m2 index video at 30 fps."""
    manifest, _ = write_prepared(tmp_path_factory.mktemp("prepared"))
    table, info = read_manifest(str(manifest))
    return stream_table(table), info


@pytest.fixture(scope="module")
def builders(prepared):
    """builders(training, settings=SETTINGS, video=True) -> a SampleBuilder with the bundled tokenizer."""
    _, info = prepared

    def make(training, settings=SETTINGS, video=True):
        return SampleBuilder(
            (info.mean_path, info.std_path),
            "",
            settings,
            training=training,
            with_video=video,
            embedding_dim=info.embedding_dim,
        )

    return make


def _row(table, motion_id):
    return next(row for row in table.to_pylist() if row["id"] == motion_id)


def _normalised(row, info):
    return (np.load(row["feature_path"]) - np.load(info.mean_path)) / np.load(info.std_path)


def test_columns_have_fixed_shapes_and_dtypes(prepared, builders):
    table, _ = prepared
    out = builders(False)(manifest_batch(table))
    expected = {
        "motion": ((40, D), np.float32),
        "motion_length": ((), np.int64),
        "input_ids": ((16,), np.int64),
        "attention_mask": ((16,), np.bool_),
        "frames": ((4, SIZE, SIZE, 3), np.uint8),
        "sentence_embedding": ((EMBEDDING_DIM,), np.float32),
        "index": ((), np.int64),
        "valid": ((), np.bool_),
    }
    assert set(out) == set(expected)
    for name, (shape, dtype) in expected.items():
        assert out[name].shape == (3, *shape) and out[name].dtype == dtype, name
    assert out["valid"].all()
    assert out["index"].tolist() == [sample_index(i) for i in ("m0", "m1", "m2")]
    assert "frames" not in builders(False, video=False)(manifest_batch(table))


def test_evaluation_takes_the_first_caption_window_normalised(prepared, builders):
    table, info = prepared
    out = builders(False)(manifest_batch(table))
    m1 = _row(table, "m1")  # first caption: 0.5-2.5 s = frames [10, 50), cut to 40
    assert out["motion_length"][1] == 40
    np.testing.assert_allclose(out["motion"][1, :40], _normalised(m1, info)[10:50], rtol=1e-5, atol=1e-5)
    assert not out["motion"][0, 40:].any() and out["motion_length"][0] == 40  # m0: whole clip (60) cut to 40
    np.testing.assert_allclose(out["sentence_embedding"][1], m1["caption_embeddings"][0], rtol=1e-6)
    tokens = builders(False).tokenizer(m1["captions"][0])["input_ids"]
    assert out["input_ids"][1, : len(tokens)].tolist() == tokens and out["attention_mask"][1].sum() == len(tokens)
    assert read_frame_indices(out["frames"][1]) == uniform_frame_indices(10, 50, 4).tolist()


def test_a_30fps_user_video_is_sampled_in_its_own_frame_rate(prepared, builders):
    table, _ = prepared
    out = builders(False)(manifest_batch(table))
    m2 = _row(table, "m2")  # 1.0-2.0 s: motion frames [20, 40) at 20 fps, video frames [30, 60) at 30 fps
    assert m2["video_fps"] == 30.0 and out["motion_length"][2] == 20
    assert read_frame_indices(out["frames"][2]) == uniform_frame_indices(30, 60, 4).tolist()


def test_the_crop_and_its_video_window(prepared, builders):
    table, info = prepared
    m1 = _normalised(_row(table, "m1"), info)
    short = dataclasses.replace(SETTINGS, crop_frames=16, augment=False)
    out = builders(False, short)(manifest_batch(table))
    np.testing.assert_allclose(out["motion"][1], m1[10:26], rtol=1e-5, atol=1e-5)  # evaluation: the window start
    assert read_frame_indices(out["frames"][1]) == uniform_frame_indices(10, 26, 4).tolist()
    training, offsets = builders(True, short), set()
    for _ in range(12):
        out = training(manifest_batch(table.slice(1, 1)))
        starts = [o for o in range(len(m1) - 15) if np.allclose(m1[o : o + 16], out["motion"][0], atol=1e-5)]
        assert starts, "the crop is not 16 consecutive feature rows"
        first = starts[0]
        window = (
            (10, 50)
            if np.allclose(out["sentence_embedding"][0], _row(table, "m1")["caption_embeddings"][0])
            else (20, 40)
        )
        assert window[0] <= first <= window[1] - 16
        assert all(first <= i < first + 16 for i in read_frame_indices(out["frames"][0]))
        offsets.add(first)
    assert len(offsets) > 2


def test_evaluation_is_deterministic_and_training_varies(prepared, builders):
    table, _ = prepared
    batch = manifest_batch(table)
    first, second = builders(False)(batch), builders(False)(batch)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    training, m0 = builders(True), manifest_batch(table.slice(0, 1))
    draws = [training(m0) for _ in range(20)]
    assert len({tuple(d["input_ids"][0]) for d in draws}) == 2  # m0's two captions both come up
    assert any(not np.array_equal(d["frames"][0], first["frames"][0]) for d in draws)


def test_augmentation_changes_pixels_keeps_shapes_and_is_off_in_evaluation(prepared, builders):
    table, _ = prepared
    m2 = manifest_batch(table.slice(2, 1))  # one caption, window shorter than the crop: only the video can vary
    plain = builders(False)(m2)["frames"]
    assert np.array_equal(builders(True, dataclasses.replace(SETTINGS, augment=False))(m2)["frames"], plain)
    augmented = [builders(True, dataclasses.replace(SETTINGS, seed=seed))(m2)["frames"] for seed in range(4)]
    assert all(a.shape == plain.shape and a.dtype == np.uint8 for a in augmented)
    # 4 independent draws; one draw in about 3,000 is the identity (the whole frame, no jitter, grey or blur)
    assert sum(not np.array_equal(a, plain) for a in augmented) >= 3


def test_one_draw_is_applied_to_every_frame_of_a_clip(prepared):
    table, _ = prepared
    frame = decode_frames(_row(table, "m0")["video_paths"][0], [30])  # (1, 64, 64, 3) a rendered avatar
    clip = np.repeat(frame, 5, axis=0)  # (5, 64, 64, 3) identical frames
    boxes = set()
    for seed in range(12):
        params = draw_params(np.random.default_rng(seed), SIZE, SIZE, AugmentRanges())
        out = augment_clip(clip, params, 48)
        assert out.shape == (5, 48, 48, 3)
        assert all(np.array_equal(out[0], f) for f in out[1:])  # same crop, jitter, grey and blur
        boxes.add(params.box)
    assert len(boxes) > 1


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    """(stream table, info) of 000001, its mirror M000001 and 000002, whose mirror is not in the split."""
    manifest, _ = write_mirrored_prepared(tmp_path_factory.mktemp("mirrored"))
    table, info = read_manifest(str(manifest))
    return stream_table(table), info


def test_a_flipped_sample_is_the_mirrored_motion_and_caption_with_the_video_flipped(mirrored):
    table, info = mirrored
    assert _row(table, "000001")["mirror_id"] == "M000001" and _row(table, "M000001")["mirror_id"] == "000001"
    assert _row(table, "000002")["mirror_id"] == "" and unmirrored_count(table) == 1
    settings = dataclasses.replace(SETTINGS, crop_frames=60, augment=False, flip_probability=1.0)
    build = functools.partial(
        SampleBuilder,
        stats=(info.mean_path, info.std_path),
        tokenizer="",
        settings=settings,
        with_video=True,
        embedding_dim=info.embedding_dim,
    )
    plain, flipped = build(training=False)(manifest_batch(table)), build(training=True)(manifest_batch(table))
    ids = table["id"].to_pylist()
    x, mirror, lonely = ids.index("000001"), ids.index("M000001"), ids.index("000002")
    np.testing.assert_allclose(flipped["motion"][x], plain["motion"][mirror], atol=1e-6)  # the mirror's motion
    assert flipped["index"][x] == sample_index("M000001") and flipped["index"][mirror] == sample_index("000001")
    mirror_embeddings = np.asarray(_row(table, "M000001")["caption_embeddings"])  # one of the mirror's captions
    assert np.isclose(mirror_embeddings, flipped["sentence_embedding"][x], atol=1e-6).all(axis=1).any()
    np.testing.assert_array_equal(flipped["frames"][x], plain["frames"][x][:, :, ::-1])  # its own video, flipped
    for name in ("motion", "frames", "sentence_embedding", "index"):  # never flipped: its mirror is not there
        np.testing.assert_array_equal(flipped[name][lonely], plain[name][lonely])
    unflipped = build(training=True, settings=dataclasses.replace(settings, flip_probability=0.0))
    np.testing.assert_array_equal(unflipped(manifest_batch(table))["frames"][x], plain["frames"][x])


@pytest.fixture(scope="module")
def two_views(tmp_path_factory):
    """(stream table, info): 000001, its mirror M000001 and 000002 with two index-coded views each, and 24 copies
    r00..r23 of 000002 (no mirror); view k of 000001 shows VIEW_STEP * k + i, of M000001 VIEW_STEP * (k + 2) + i."""
    manifest, info = write_mirrored_prepared(tmp_path_factory.mktemp("views"), views=2)
    rows = read_manifest(str(manifest))[0].to_pylist()
    lonely = next(row for row in rows if row["id"] == "000002")
    write_manifest(rows + [dict(lonely, id=f"r{i:02d}") for i in range(24)], info, str(manifest))
    return stream_table(read_manifest(str(manifest))[0]), info


def _views_picked(out) -> list[int]:
    """The view each sample's (unflipped, unaugmented) frames come from."""
    return [read_frame_indices(frames)[0] // VIEW_STEP for frames in out["frames"]]


def test_training_picks_a_view_per_sample_anew_every_epoch_and_the_seed_fixes_the_picks(two_views):
    table, info = two_views
    copies = manifest_batch(table.filter(pc.starts_with(table["id"], "r")))
    settings = dataclasses.replace(SETTINGS, augment=False, flip_probability=0.0)

    def epochs(seed, count=2, training=True):
        build = SampleBuilder(
            (info.mean_path, info.std_path),
            "",
            dataclasses.replace(settings, seed=seed),
            training=training,
            with_video=True,
            embedding_dim=info.embedding_dim,
        )
        return [_views_picked(build(copies)) for _ in range(count)]

    first, second = epochs(seed=0)
    assert len(first) == 24 and set(first) | set(second) == {0, 1}
    assert first != second  # other rows, other views in the next epoch
    assert epochs(seed=0) == [first, second]  # the same seed, the same picks
    assert epochs(seed=1) != [first, second]
    assert epochs(seed=0, training=False) == [[0] * 24] * 2  # evaluation: always view 0


def test_a_flipped_sample_takes_one_of_its_own_views_flipped_with_the_mirrors_motion(two_views):
    table, info = two_views
    x = table.filter(pc.equal(table["id"], "000001"))
    settings = dataclasses.replace(SETTINGS, crop_frames=60, augment=False, flip_probability=1.0)
    build = SampleBuilder(
        (info.mean_path, info.std_path), "", settings, training=True, with_video=True, embedding_dim=info.embedding_dim
    )
    draws = [build(manifest_batch(x)) for _ in range(12)]
    assert all(draw["index"][0] == sample_index("M000001") for draw in draws)  # the mirror's motion and caption
    views = [_views_picked({"frames": draw["frames"][:, :, :, ::-1]})[0] for draw in draws]  # unflipped
    assert set(views) == {0, 1}  # both of 000001's own views, never M000001's (2, 3): those show 000001's motion


def test_unreadable_rows_are_flagged_with_a_warning_naming_the_file(prepared, builders, tmp_path, caplog):
    table, _ = prepared
    batch = manifest_batch(table)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(Path(_row(table, "m0")["video_paths"][0]).read_bytes()[:600])  # a truncated download
    batch["video_paths"] = batch["video_paths"].copy()
    batch["video_paths"][0] = np.array([str(corrupt)], object)
    batch["feature_path"] = batch["feature_path"].copy()
    batch["feature_path"][2] = str(tmp_path / "missing.npy")
    with caplog.at_level(logging.WARNING, logger="lavimo.data.samples"):
        out = builders(True)(batch)
    assert out["valid"].tolist() == [False, True, False]
    assert str(corrupt) in caplog.text and str(tmp_path / "missing.npy") in caplog.text
    for name in ("motion", "motion_length", "input_ids", "attention_mask", "frames", "sentence_embedding"):
        assert not out[name][[0, 2]].any(), name
    assert out["index"].tolist() == [sample_index(i) for i in ("m0", "m1", "m2")]
    assert out["motion_length"][1] > 0 and out["attention_mask"][1].any()


def test_settings_are_validated():
    with pytest.raises(ValueError, match="num_video_frames"):
        StreamSettings(num_video_frames=0)
    with pytest.raises(ValueError, match="flip_probability"):
        StreamSettings(flip_probability=1.5)
