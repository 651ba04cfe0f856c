"""Rendering motions to H.264 videos in the first renderer's look: frame count, size, fps, pixels that follow the
pose, styles, errors (the randomised looks: test_render_draw.py)."""

from __future__ import annotations

import numpy as np
import pytest

from lavimo.data.video import decode_frames, probe_video
from lavimo.render.avatars import AVATAR_STYLES, AvatarStyle, BodyLook
from lavimo.render.encode import H264Writer
from lavimo.render.poses import pose_from_directions, walking_motion
from lavimo.render.video import render_motion_video
from lavimo.skeleton import HUMANML3D, KIT, Skeleton
from tests.looks import classic_look

RES = 128  # small frames keep the tests fast
# Vivid body on a grey world: body pixels are the saturated ones.
VIVID = AvatarStyle(
    "vivid",
    BodyLook(1.0, 1.0, skin=(250, 120, 0), shirt=(0, 200, 0), trousers=(0, 0, 230), shoes=(220, 0, 220)),
    sky=(200, 200, 200),
    ground=(170, 170, 170),
    ground_alt=(120, 120, 120),
)


def body_mask(frames: np.ndarray) -> np.ndarray:
    """frames: (..., H, W, 3) uint8 -> (..., H, W) bool, the saturated (avatar) pixels."""
    f = frames.astype(np.int16)
    return (f.max(axis=-1) - f.min(axis=-1)) > 50


def standing(skeleton: Skeleton, frames: int, raise_right_arm: bool, x_m: float = 0.0) -> np.ndarray:
    """(T, J, 3) in the skeleton's units: the rest pose, feet on the floor, optionally right arm straight up."""
    directions = skeleton.rest_directions_array()
    if raise_right_arm:
        arm = [j for j, n in enumerate(skeleton.joint_names) if n in ("right_shoulder", "right_elbow", "right_wrist")]
        directions[arm] = (0.0, 1.0, 0.0)  # from the collar (or neck) to the hand, straight up
    pose = pose_from_directions(skeleton, directions)
    pose[:, 1] -= pose[:, 1].min()
    pose[:, 0] += x_m
    return np.repeat(pose[None], frames, axis=0) / skeleton.meters_per_unit


def render(tmp_path, joints, skeleton=HUMANML3D, style=VIVID, name="clip.mp4", **kwargs) -> np.ndarray:
    info = render_motion_video(joints, skeleton, tmp_path / name, look=classic_look(style), resolution=RES, **kwargs)
    return decode_frames(info.path, np.arange(info.num_frames))  # (T, H, W, 3)


def test_video_has_one_frame_per_motion_frame_at_the_skeleton_fps(tmp_path):
    joints = walking_motion(HUMANML3D, 14)
    info = render_motion_video(
        joints, HUMANML3D, tmp_path / "walk.mp4", look=classic_look(AVATAR_STYLES[0]), resolution=RES
    )
    meta = probe_video(info.path)
    assert (info.num_frames, info.width, info.height) == (14, RES, RES)
    assert (meta.num_frames, meta.width, meta.height) == (14, RES, RES)
    assert meta.fps == pytest.approx(HUMANML3D.fps, abs=0.01)
    assert decode_frames(info.path, [0, 13]).shape == (2, RES, RES, 3)


def test_kit_video_runs_at_12_5_fps(tmp_path):
    info = render_motion_video(
        walking_motion(KIT, 6), KIT, tmp_path / "kit.mp4", look=classic_look(VIVID), resolution=RES
    )
    meta = probe_video(info.path)
    assert meta.num_frames == 6 and meta.fps == pytest.approx(12.5, abs=0.01)


def test_raising_the_arm_raises_the_body_top(tmp_path):
    down = body_mask(render(tmp_path, standing(HUMANML3D, 2, False), name="down.mp4"))[0]
    up = body_mask(render(tmp_path, standing(HUMANML3D, 2, True), name="up.mp4"))[0]
    top_down, top_up = np.argwhere(down)[:, 0].min(), np.argwhere(up)[:, 0].min()
    assert top_up < top_down - 0.05 * RES  # the hand now sticks out above the head
    assert np.argwhere(up)[:, 0].mean() < np.argwhere(down)[:, 0].mean()


def test_equal_poses_give_equal_pictures_and_different_poses_differ(tmp_path):
    a = render(tmp_path, standing(HUMANML3D, 3, True), name="a.mp4")
    b = render(tmp_path, standing(HUMANML3D, 3, True), name="b.mp4")
    c = render(tmp_path, standing(HUMANML3D, 3, False), name="c.mp4")
    assert np.array_equal(a, b)  # deterministic, down to the decoded pixels
    assert (body_mask(a[1]) != body_mask(c[1])).sum() > 100  # the raised arm, in pixels
    # x264's rate control treats the first frame apart, so compare equal poses after it
    assert (body_mask(a[1]) == body_mask(a[2])).all()


def test_camera_follows_a_walking_root_and_the_floor_moves(tmp_path):
    joints = walking_motion(HUMANML3D, 40, speed_mps=1.5)  # walks 3 m along +z
    frames = render(tmp_path, joints, name="walk.mp4")
    masks = body_mask(frames)
    centres = np.array([np.argwhere(m).mean(axis=0) for m in masks])  # (T, 2) row, column
    assert masks.any(axis=(1, 2)).all()
    assert np.abs(centres - centres[0]).max() < 0.12 * RES  # the body stays framed
    floor = ~masks[0] & ~masks[-1]
    floor[: RES // 2] = False  # the lower half: floor only
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int))[floor].mean() > 5


def test_styles_give_different_colours(tmp_path):
    joints = standing(HUMANML3D, 1, False)
    a = render(tmp_path, joints, style=AVATAR_STYLES[0], name="s0.mp4")[0].astype(float)
    b = render(tmp_path, joints, style=AVATAR_STYLES[2], name="s2.mp4")[0].astype(float)
    shirt = body_mask(render(tmp_path, joints, name="vivid.mp4"))[0]
    assert np.abs(a[shirt].mean(axis=0) - b[shirt].mean(axis=0)).max() > 30
    assert np.abs(a[~shirt].mean(axis=0) - b[~shirt].mean(axis=0)).max() > 3  # floor and sky differ too


def test_kit_in_millimetres_looks_as_big_as_humanml3d_in_metres(tmp_path):
    heights = []
    for skeleton in (HUMANML3D, KIT):
        frames = render(tmp_path, standing(skeleton, 1, False), skeleton=skeleton, name=f"{skeleton.name}.mp4")
        mask = body_mask(frames)[0]
        rows = np.argwhere(mask)[:, 0]
        heights.append(rows.max() - rows.min())
    assert 0.75 < heights[1] / heights[0] < 1.33
    assert heights[0] > 0.3 * RES


@pytest.mark.parametrize(
    "joints, problem",
    [
        (np.full((5, 22, 3), np.nan), "NaN"),
        (np.zeros((5, 21, 3)), "shape"),
        (np.zeros((5, 22)), "shape"),
        (np.zeros((0, 22, 3)), "zero frames"),
    ],
)
def test_bad_joints_raise_and_write_nothing(tmp_path, joints, problem):
    with pytest.raises(ValueError, match=problem):
        render_motion_video(joints, HUMANML3D, tmp_path / "bad.mp4", look=classic_look(VIVID), resolution=RES)
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "out.mp4"
    target.write_bytes(b"old")
    render_motion_video(standing(HUMANML3D, 3, False), HUMANML3D, target, look=classic_look(VIVID), resolution=RES)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    assert probe_video(target).num_frames == 3


def test_a_nan_in_one_frame_is_reported_with_its_frame(tmp_path):
    joints = standing(HUMANML3D, 4, False)
    joints[2, 5, 1] = np.nan
    with pytest.raises(ValueError, match="frame 2"):
        render_motion_video(joints, HUMANML3D, tmp_path / "x.mp4", look=classic_look(VIVID), resolution=RES)


def test_thirteen_distinct_styles():
    assert len(AVATAR_STYLES) == 13 and len(set(AVATAR_STYLES)) == 13
    assert len({(s.body.shirt, s.body.trousers) for s in AVATAR_STYLES}) == 13


def test_looks_and_styles_validate_their_colours():
    with pytest.raises(ValueError, match="shirt"):
        BodyLook(1.0, 1.0, (0, 0, 0), (0, 0, 300), (0, 0, 0), (0, 0, 0))
    with pytest.raises(ValueError, match="stripe"):
        BodyLook(1.0, 1.0, (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), stripe=(1, 2))
    with pytest.raises(ValueError, match="ground_alt"):
        AvatarStyle("bad", VIVID.body, (0, 0, 0), (0, 0, 0), (0, 0, -1))


@pytest.mark.parametrize("interval, keyframes", [(1, list(range(12))), (5, [0, 5, 10])])
def test_keyframe_interval_is_honoured(tmp_path, interval, keyframes):
    import decord

    info = render_motion_video(
        walking_motion(HUMANML3D, 12),
        HUMANML3D,
        tmp_path / "k.mp4",
        look=classic_look(VIVID),
        resolution=RES,
        keyframe_interval=interval,
    )
    assert list(decord.VideoReader(info.path, num_threads=1).get_key_indices()) == keyframes


def test_a_failed_encode_leaves_nothing_behind(tmp_path):
    with pytest.raises(ValueError, match="uint8 frame"):
        with H264Writer(tmp_path / "x.mp4", RES, RES, 20.0) as writer:
            writer.write(np.zeros((RES, RES, 3), np.uint8))
            writer.write(np.zeros((RES, RES), np.uint8))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="missing"):
        H264Writer(tmp_path / "missing" / "x.mp4", RES, RES, 20.0)
