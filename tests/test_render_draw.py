"""Randomised looks: one draw per (seed, motion id, view), spread over the ranges, relative to the motion's facing,
the body in view, validated settings, a fingerprint of the settings, and the pinned first look kept exactly."""

from __future__ import annotations

import dataclasses
import hashlib
import typing

import numpy as np
import pytest

from lavimo.config import ConfigError, load_config
from lavimo.data.synthetic import generate_motion
from lavimo.render.avatars import AVATAR_STYLES
from lavimo.render.backgrounds import BACKDROP_KINDS
from lavimo.render.config import RenderConfig
from lavimo.render.ground import FLOOR_KINDS, SHIFT
from lavimo.render.poses import walking_motion
from lavimo.render.randomise import draw_look
from lavimo.render.video import prepare_scene, render_frames, render_motion_video
from lavimo.schema import Section
from lavimo.skeleton import HUMANML3D
from tests.looks import CPU_DEMO, classic_look, pinned_settings

RES = 64
RANDOM = RenderConfig(resolution=RES)


def frames_of(joints, look, resolution=RES, skeleton=HUMANML3D) -> np.ndarray:
    """(T, H, W, 3) uint8: the drawn frames, before encoding."""
    return np.stack([frame.copy() for frame in render_frames(joints, skeleton, look=look, resolution=resolution)])


def digest(frames: np.ndarray) -> str:
    return hashlib.sha256(b"".join(frame.tobytes() for frame in frames)).hexdigest()[:16]


def rotated(joints: np.ndarray, degrees: float, shift=(0.0, 0.0)) -> np.ndarray:
    """(T, J, 3) turned about the vertical axis through the origin, then moved along the ground."""
    a = np.deg2rad(degrees)
    x, z = joints[..., 0], joints[..., 2]
    return np.stack(
        [x * np.cos(a) + z * np.sin(a) + shift[0], joints[..., 1], -x * np.sin(a) + z * np.cos(a) + shift[1]], axis=-1
    )


def test_same_seed_motion_and_view_give_the_same_look_and_the_same_bytes(tmp_path):
    settings = RANDOM.replace(noise_std=(2.0, 3.0), blur_sigma_px=(0.5, 0.8))
    assert draw_look(settings, "000042", 1) == draw_look(settings, "000042", 1)
    joints = walking_motion(HUMANML3D, 10)
    paths = [
        render_motion_video(
            joints, HUMANML3D, tmp_path / f"{n}.mp4", look=draw_look(settings, "000042", 1), resolution=RES
        ).path
        for n in "ab"
    ]
    assert open(paths[0], "rb").read() == open(paths[1], "rb").read()
    other = render_motion_video(
        joints, HUMANML3D, tmp_path / "c.mp4", look=draw_look(settings, "000042", 2), resolution=RES
    ).path
    assert open(other, "rb").read() != open(paths[0], "rb").read()


def test_looks_spread_over_the_ranges_across_ids_and_views():
    looks = [draw_look(RANDOM, f"{i:06d}") for i in range(200)]
    yaws = np.deg2rad([look.camera.yaw_deg for look in looks])
    assert np.histogram(np.rad2deg(yaws) % 360, bins=8, range=(0, 360))[0].min() >= 10  # every 45-degree sector
    assert abs(np.mean(np.exp(1j * yaws))) < 0.2  # no preferred direction
    follows = np.mean([look.camera.follow for look in looks])
    assert 0.35 < follows < 0.65  # follow_probability 0.5: both cameras occur
    assert {look.backdrop.kind for look in looks} == set(BACKDROP_KINDS)
    assert {look.floor.kind for look in looks} == set(FLOOR_KINDS)
    styled = [look.avatar_style for look in looks if look.avatar_style]
    assert 0.15 < len(styled) / len(looks) < 0.35 and len(set(styled)) >= 8  # probability 0.25, many of the 13
    assert len({look.body.shirt for look in looks}) > 100  # drawn colours
    fovs = [look.camera.fov_deg for look in looks]
    assert min(fovs) < 30 and max(fovs) > 60
    views = [draw_look(RANDOM, "000007", view) for view in range(4)]
    assert len({look.camera for look in views}) == 4 and len(set(views)) == 4
    assert draw_look(RANDOM.replace(style_seed=1), "000007") != views[0]


def test_the_camera_turns_with_the_motions_initial_facing():
    """The same look of a motion turned by 90 degrees (and moved) sees the same picture; another yaw does not."""
    joints = walking_motion(HUMANML3D, 12, speed_mps=1.2)
    for motion_id in ("000001", "000002", "000005"):
        look = draw_look(RANDOM, motion_id)
        first = frames_of(joints, look)[0].astype(int)
        turned = frames_of(rotated(joints, 90.0, shift=(2.5, -1.0)), look)[0].astype(int)
        assert np.abs(first - turned).mean() < 0.2 and (first != turned).any(axis=-1).mean() < 0.005
        camera = dataclasses.replace(look.camera, yaw_deg=look.camera.yaw_deg + 90.0)
        other = frames_of(joints, dataclasses.replace(look, camera=camera))[0].astype(int)
        assert (first != other).any(axis=-1).mean() > 0.03  # what a camera fixed in the world would have seen


def body_extent(joints, look, skeleton=HUMANML3D) -> tuple[float, float]:
    """The smallest and the largest pixel coordinate of any drawn body rim in any frame."""
    rims = prepare_scene(joints, skeleton, look, RES).body.outline / (1 << SHIFT)  # (T, C, V, 2) pixels
    return float(rims.min()), float(rims.max())


@pytest.mark.parametrize(
    "changes",
    [
        {"fov_deg": (10.0, 10.0), "body_fraction": (1.0, 1.0)},
        {"fov_deg": (120.0, 120.0), "body_fraction": (1.0, 1.0), "elevation_deg": (0.0, 0.0)},
        {"fov_deg": (20.0, 90.0), "body_fraction": (0.9, 1.0), "elevation_deg": (80.0, 80.0)},
        {"fov_deg": (25.0, 65.0), "body_fraction": (0.1, 1.0), "elevation_deg": (0.0, 80.0)},
    ],
)
def test_the_body_stays_in_the_frame_at_the_extreme_ranges(changes):
    jump = generate_motion(0, 187).joints[:60]  # a clip whose raised hands left the first renderer's frame
    walk = walking_motion(HUMANML3D, 60, speed_mps=2.0, raise_right_arm=True)  # 6 m with the arm up
    for follow in (0.0, 1.0):
        camera = RANDOM.camera.replace(follow_probability=follow, **changes)  # held-out style off: the whole ranges
        settings = RANDOM.replace(camera=camera, held_out=RANDOM.held_out.replace(enabled=False))
        for i in range(6):
            look = draw_look(settings, f"{i:06d}")
            for joints in (jump, walk):
                low, high = body_extent(joints, look)
                assert 0 <= low and high <= RES, (changes, follow, i, low, high)


def test_without_keep_in_view_a_close_camera_cuts_the_body():
    """The check above can fail: the drawn distance alone lets the raised hand leave the frame."""
    camera = RANDOM.camera.replace(body_fraction=(1.0, 1.0), follow_probability=1.0, keep_in_view=False)
    look = draw_look(RANDOM.replace(camera=camera), "000001")
    low, high = body_extent(walking_motion(HUMANML3D, 20, raise_right_arm=True), look)
    assert low < 0 or high > RES


def test_a_still_camera_frames_the_whole_walk():
    camera = RANDOM.camera.replace(follow_probability=0.0, body_fraction=(0.8, 0.8))
    look = draw_look(RANDOM.replace(camera=camera), "000003")
    walk = walking_motion(HUMANML3D, 80, speed_mps=2.0)  # 8 m
    frames = frames_of(walk, dataclasses.replace(look, finish=dataclasses.replace(look.finish, noise_std=0.0)))
    low, high = body_extent(walk, look)
    assert 0 <= low and high <= RES
    moving = np.abs(frames[1:].astype(int) - frames[:-1]).max(axis=-1) > 40  # (T-1, H, W) where the body moved
    columns = np.argwhere(moving.any(axis=0))[:, 1]
    assert columns.max() - columns.min() > RES / 4  # the body crosses the picture; the floor stays put


def test_every_backdrop_and_floor_kind_looks_different():
    joints = walking_motion(HUMANML3D, 2)
    base = draw_look(RANDOM, "000004")
    base = dataclasses.replace(  # the horizon in the picture, contrasting colours
        base,
        camera=dataclasses.replace(base.camera, elevation_deg=8.0, fov_deg=50.0),
        backdrop=dataclasses.replace(base.backdrop, colour=(90, 140, 220), colour_alt=(240, 200, 40)),
        floor=dataclasses.replace(base.floor, colour=(220, 220, 220), colour_alt=(60, 60, 60)),
    )
    skies = [
        frames_of(joints, dataclasses.replace(base, backdrop=dataclasses.replace(base.backdrop, kind=kind)))[0]
        for kind in BACKDROP_KINDS
    ]
    floors = [
        frames_of(joints, dataclasses.replace(base, floor=dataclasses.replace(base.floor, kind=kind)))[0]
        for kind in FLOOR_KINDS
    ]
    for pictures in (skies, floors):
        for i in range(len(pictures)):
            for j in range(i):
                assert np.abs(pictures[i].astype(int) - pictures[j]).mean() > 1


# Frames of the first renderer (commit ced3fa3, before looks were drawn), hashed: the pinned settings keep them.
FIRST_RENDERER = {("000007", 64): "c9b12712909e56b7", ("000187", 96): "2719c8e80f736583"}


def test_the_pinned_cpu_demo_look_draws_the_first_renderers_frames():
    clips = {"000007": walking_motion(HUMANML3D, 12, speed_mps=1.5), "000187": generate_motion(0, 187).joints[:40]}
    for (motion_id, resolution), expected in FIRST_RENDERER.items():
        look = draw_look(pinned_settings(), motion_id)
        style = next(s for s in AVATAR_STYLES if s.name == look.avatar_style)
        assert digest(frames_of(clips[motion_id], look, resolution)) == expected
        assert digest(frames_of(clips[motion_id], classic_look(style), resolution)) == expected
    pinned = pinned_settings()
    assert draw_look(pinned.replace(style_seed=3), "000007").avatar_style == "green_khaki"  # as before
    assert draw_look(pinned, "M014615").avatar_style == "blue_black"
    assert {draw_look(pinned, f"{i:06d}").avatar_style for i in range(400)} == {s.name for s in AVATAR_STYLES}


def _range_keys(cls=RenderConfig, prefix="render") -> list[str]:
    """Every `render.*` key holding a [low, high] range."""
    keys = []
    for name, field in cls.model_fields.items():
        hint = field.annotation
        if isinstance(hint, type) and issubclass(hint, Section):
            keys += _range_keys(hint, f"{prefix}.{name}")
        elif typing.get_origin(hint) is tuple and typing.get_args(hint)[0] in (float, int):
            keys.append(f"{prefix}.{name}")
    return keys


@pytest.mark.parametrize("key", _range_keys())
def test_every_range_key_refuses_a_bad_range_naming_the_key(key):
    for bad in ("[2, 1]", "[1000, 1000]", "[-1000, 0]", "[1]", "[1, 2, 3]"):
        with pytest.raises(ConfigError, match=rf"{key}: a range is \[low, high\]"):
            load_config(CPU_DEMO, [f"{key}={bad}"])


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "render.camera.follow_probability=1.5",
            "render.camera.follow_probability: input should be less than or equal to 1",
        ),
        (
            "render.colours.avatar_style_probability=-0.1",
            "render.colours.avatar_style_probability: input should be greater",
        ),
        ("render.colours.stripe_probability=2", "render.colours.stripe_probability: input should be less than"),
        ("render.background.kinds=[sky, clouds]", "render.background.kinds: unknown kind ['clouds']"),
        ("render.background.kinds=[]", "render.background.kinds: at least one kind"),
        ("render.ground.kinds=[plain, plain]", "render.ground.kinds: a kind is listed twice"),
        ("render.ground.kinds=checker", "render.ground.kinds: input should be a valid tuple"),
        ("render.camera.keep_in_view=maybe", "render.camera.keep_in_view: input should be a valid boolean"),
        ("render.camera.fov=[30, 40]", "unknown key 'render.camera.fov'"),
    ],
)
def test_bad_render_settings_are_refused_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(CPU_DEMO, [override])


def test_the_fingerprint_follows_every_pixel_setting_and_nothing_else():
    base = load_config(CPU_DEMO)
    same = load_config(
        CPU_DEMO,
        [
            "render.camera.yaw_deg=[25.0, 25.0]",
            "prepare.render_cpus=0.5",
            "data.prepared=/elsewhere",
            "train.epochs=3",
            "render.crf=[23, 23]",
        ],
    )
    assert same.render.fingerprint() == base.render.fingerprint()
    assert len(base.render.fingerprint()) == 10 and base.render.fingerprint() != RenderConfig().fingerprint()
    changes = [
        "render.resolution=64",
        "render.keyframe_interval=2",
        "render.style_seed=1",
        "render.camera.yaw_deg=[0, 360]",
        "render.camera.keep_in_view=true",
        "render.body.head_scale=[1, 1.1]",
        "render.colours.skin.value=[0.2, 0.9]",
        "render.background.kinds=[sky, room]",
        "render.ground.tile_m=[1, 2]",
        "render.light.strength=[0.9, 1]",
        "render.blur_sigma_px=[0, 1]",
        "render.noise_std=[1, 1]",
        "render.crf=[22, 23]",
    ]
    prints = {load_config(CPU_DEMO, [change]).render.fingerprint() for change in changes}
    assert len(prints) == len(changes) and base.render.fingerprint() not in prints


def test_the_paper_configs_draw_from_the_default_ranges():
    for name in ("humanml3d", "kit"):
        render = load_config(CPU_DEMO.with_name(f"{name}.yaml")).render
        assert render.replace(resolution=RANDOM.resolution) == RANDOM  # the YAML lists the defaults
