"""The held-out style: every draw outside the training ranges, a config whose training ranges reach it refused by
key, the same id giving the same bytes, and neither it nor the view count in the training videos' fingerprint."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

from lavimo.config import ConfigError, load_config
from lavimo.render.avatars import AVATAR_STYLES
from lavimo.render.config import HeldOutConfig, RenderConfig
from lavimo.render.heldout import HeldOutLook, HeldOutScene, draw_held_out_look
from lavimo.render.poses import walking_motion
from lavimo.render.video import prepare_scene, render_frames, render_motion_video
from lavimo.skeleton import HUMANML3D
from tests.looks import CPU_DEMO

TRAINING = {"defaults (humanml3d, kit)": RenderConfig(), "cpu_demo (pinned)": load_config(CPU_DEMO).render}


def _hsv(colour) -> tuple[float, float, float]:
    return colorsys.rgb_to_hsv(*(c / 255 for c in colour))


def _inside(value: float, bounds) -> bool:
    return bounds[0] <= value <= bounds[1]


def _reachable(colour, hsv_range) -> bool:
    """Could a training draw in this HSV range give the colour? (Its saturation and value both in range.)"""
    _, s, v = _hsv(colour)
    return _inside(s, hsv_range.saturation) and _inside(v, hsv_range.value)


def _style_colours() -> set[tuple[int, int, int]]:
    """Every colour of the 13 avatar styles, which training draws with avatar_style_probability."""
    return {
        c
        for s in AVATAR_STYLES
        for c in (s.body.skin, s.body.shirt, s.body.trousers, s.body.shoes, s.sky, s.ground, s.ground_alt)
    }


@pytest.mark.parametrize("name", TRAINING)
def test_held_out_draws_are_outside_every_training_range(name):
    training = TRAINING[name]
    looks = [draw_held_out_look(training.held_out, f"{i:06d}") for i in range(200)]
    styles = _style_colours()
    darkest_style_scene = min(_hsv(c)[2] for s in AVATAR_STYLES for c in (s.sky, s.ground, s.ground_alt))
    for look in looks:
        assert not _inside(look.camera.elevation_deg, training.camera.elevation_deg)
        assert not _inside(look.camera.fov_deg, training.camera.fov_deg)
        assert look.body.limb_scale < training.body.limb_scale[0]  # thinner than any training body
        for colour in (look.body.skin, look.body.shirt, look.body.trousers, look.body.shoes):
            assert _hsv(colour)[1] >= 0.96 and _hsv(colour)[2] >= 0.96  # neon
            assert not _reachable(colour, training.colours.clothes) and not _reachable(colour, training.colours.skin)
            assert colour not in styles
        for colour in (*look.backdrop, look.rings):  # near-black: darker than any training scene colour
            assert _hsv(colour)[2] < min(training.colours.scene.value[0], darkest_style_scene)
    assert len({look.body.shirt for look in looks}) > 100 and len({look.camera for look in looks}) == 200


def test_a_held_out_video_is_its_own_primitive_and_the_same_id_gives_the_same_bytes(tmp_path):
    joints = walking_motion(HUMANML3D, 12)
    look = draw_held_out_look(HeldOutConfig(), "000042")
    assert isinstance(look, HeldOutLook) and look == draw_held_out_look(HeldOutConfig(), "000042")
    assert isinstance(prepare_scene(joints, HUMANML3D, look, 64), HeldOutScene)  # ellipsoids and a box, no floor
    paths = [render_motion_video(joints, HUMANML3D, tmp_path / f"{n}.mp4", look=look, resolution=64).path for n in "ab"]
    assert open(paths[0], "rb").read() == open(paths[1], "rb").read()
    other = draw_held_out_look(HeldOutConfig(seed=1), "000042")
    assert other != look and draw_held_out_look(HeldOutConfig(), "000043") != look
    frames = np.stack([f.copy() for f in render_frames(joints, HUMANML3D, look=look, resolution=64)])  # (T, H, W, 3)
    value = frames.max(axis=-1) / 255.0  # (T, H, W)
    saturation = 1 - frames.min(axis=-1) / np.maximum(frames.max(axis=-1), 1)
    assert (value > 0.9).mean() > 0.005  # the neon body is there
    background = value[:, :4, :4]  # a corner: the dark gradient (or a dark circle)
    assert background.max() <= 0.3
    body = value > 0.9
    assert saturation[body].min() > 0.9  # flat neon fill: no highlights, no white


@pytest.mark.parametrize(
    "override, key",
    [
        ("render.camera.elevation_deg=[0, 50]", "render.camera.elevation_deg"),
        ("render.camera.fov_deg=[15, 60]", "render.camera.fov_deg"),
        ("render.body.limb_scale=[0.5, 1.2]", "render.body.limb_scale"),
        ("render.colours.clothes.saturation=[0, 1]", "render.colours.clothes"),
        ("render.colours.skin.saturation=[0.98, 1]", "render.colours.skin"),
        ("render.colours.scene.value=[0.2, 0.9]", "render.colours.scene.value"),
    ],
)
def test_training_ranges_that_reach_the_held_out_style_are_refused_naming_the_key(override, key):
    humanml3d = CPU_DEMO.with_name("humanml3d.yaml")
    changes = [override, "render.colours.clothes.value=[0.1, 1]"] if "saturation=[0, 1]" in override else [override]
    with pytest.raises(ConfigError, match=rf"{key}: .*held-out style.*render\.held_out\.enabled=false"):
        load_config(humanml3d, changes)
    load_config(humanml3d, [*changes, "render.held_out.enabled=false"])  # without the held-out style, allowed


def test_views_and_the_held_out_style_are_not_in_the_training_fingerprint():
    base = load_config(CPU_DEMO)
    for change in ("render.views_per_motion=3", "render.held_out.enabled=false", "render.held_out.seed=5"):
        assert load_config(CPU_DEMO, [change]).render.fingerprint() == base.render.fingerprint(), change
    assert HeldOutConfig(seed=1).fingerprint() != HeldOutConfig().fingerprint()
    assert HeldOutConfig().replace(enabled=False).fingerprint() == HeldOutConfig().fingerprint()
    with pytest.raises(ConfigError, match=r"render\.views_per_motion: input should be greater than or equal to 1"):
        load_config(CPU_DEMO, ["render.views_per_motion=0"])
