"""Each video's look, drawn at random from the render settings: same (seed, motion id, view), same look, same bytes.

The draw depends on nothing else (not on the motion, the process or the order of work): a sha256 of
(render.style_seed, motion id, view index) seeds it. Each aspect (camera, body, colours, scene, light, finish)
has a random stream of its own, so changing one aspect's ranges leaves the others' draws as they were.
"""

from __future__ import annotations

import colorsys
import hashlib
from dataclasses import dataclass

import numpy as np

from lavimo.render.avatars import AVATAR_STYLES, RGB, AvatarStyle, BodyLook
from lavimo.render.backgrounds import Backdrop
from lavimo.render.camera import CameraRig
from lavimo.render.config import CameraRanges, HsvRange, RenderConfig
from lavimo.render.finish import Finish
from lavimo.render.ground import FloorLayout
from lavimo.render.light import Light

REFERENCE_HEIGHT_M = 1.7  # render.camera.body_fraction is the share of the frame's height a person this tall takes
ASPECTS = ("camera", "body", "colours", "scene", "light", "finish")


@dataclass(frozen=True)
class ClipLook:
    """How one video looks, as plain values: where the camera is, the body, the scene, the light, the finish."""

    avatar_style: str  # the avatar style the colours and proportions come from; "" = drawn colours
    camera: CameraRig
    body: BodyLook
    backdrop: Backdrop
    floor: FloorLayout
    light: Light
    finish: Finish


def _digest(seed: int, motion_id: str, view: int) -> bytes:
    """sha256 of the draw's key: `seed:id` for view 0 (the key the first renderer picked its style by), then `:view`."""
    key = f"{int(seed)}:{motion_id}" + (f":{int(view)}" if view else "")
    return hashlib.sha256(key.encode("utf-8")).digest()


def _uniform(rng: np.random.Generator, bounds: tuple[float, ...]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def draw_colour(rng: np.random.Generator, hsv: HsvRange) -> RGB:
    h, s, v = _uniform(rng, hsv.hue_deg) / 360.0, _uniform(rng, hsv.saturation), _uniform(rng, hsv.value)
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def draw_camera(rng: np.random.Generator, ranges: CameraRanges) -> CameraRig:
    yaw, elevation = _uniform(rng, ranges.yaw_deg), _uniform(rng, ranges.elevation_deg)
    fov, fraction = _uniform(rng, ranges.fov_deg), _uniform(rng, ranges.body_fraction)
    follow = bool(rng.random() < ranges.follow_probability)
    distance = REFERENCE_HEIGHT_M / (fraction * 2 * np.tan(np.deg2rad(fov) / 2))  # the frame is H / fraction tall
    return CameraRig(yaw, elevation, float(distance), fov, follow, ranges.keep_in_view)


def _colours(
    rng: np.random.Generator, settings: RenderConfig, style: AvatarStyle, limb: float, head: float
) -> tuple[str, BodyLook, tuple[RGB, RGB, RGB, RGB]]:
    """(style name or "", the body, its scene colours: sky, sky_alt, ground, ground_alt); all drawn either way."""
    colours = settings.colours
    use_style = bool(rng.random() < colours.avatar_style_probability)
    skin = draw_colour(rng, colours.skin)
    shirt, trousers, shoes, stripe = (draw_colour(rng, colours.clothes) for _ in range(4))
    scene = tuple(draw_colour(rng, colours.scene) for _ in range(4))
    stripe = stripe if rng.random() < colours.stripe_probability else None
    if not use_style:
        return "", BodyLook(limb, head, skin, shirt, trousers, shoes, stripe), scene
    return style.name, style.body_look(limb, head, stripe), (style.sky, scene[1], style.ground, style.ground_alt)


def draw_look(settings: RenderConfig, motion_id: str, view: int = 0) -> ClipLook:
    """The look of view `view` of motion `motion_id`; the ranges come from `settings` (render.* keys)."""
    digest = _digest(settings.style_seed, motion_id, view)
    style = AVATAR_STYLES[int.from_bytes(digest[:8], "big") % len(AVATAR_STYLES)]
    streams = np.random.SeedSequence(int.from_bytes(digest[8:], "big")).spawn(len(ASPECTS))
    camera_rng, body_rng, colour_rng, scene_rng, light_rng, finish_rng = (np.random.default_rng(s) for s in streams)
    limb, head = _uniform(body_rng, settings.body.limb_scale), _uniform(body_rng, settings.body.head_scale)
    style_name, body, (sky, sky_alt, ground, ground_alt) = _colours(colour_rng, settings, style, limb, head)
    kinds = settings.background.kinds, settings.ground.kinds
    backdrop_kind, floor_kind = (kind[int(scene_rng.integers(len(kind)))] for kind in kinds)
    tile_m = _uniform(scene_rng, settings.ground.tile_m)
    backdrop_seed, floor_seed = (int(seed) for seed in scene_rng.integers(0, 2**31, 2))
    light = settings.light
    return ClipLook(
        avatar_style=style_name,
        camera=draw_camera(camera_rng, settings.camera),
        body=body,
        backdrop=Backdrop(backdrop_kind, sky, sky_alt, backdrop_seed),
        floor=FloorLayout(floor_kind, tile_m, ground, ground_alt, floor_seed),
        light=Light(
            *(_uniform(light_rng, bounds) for bounds in (light.azimuth_deg, light.elevation_deg, light.strength))
        ),
        finish=Finish(
            _uniform(finish_rng, settings.blur_sigma_px),
            _uniform(finish_rng, settings.noise_std),
            int(finish_rng.integers(settings.crf[0], settings.crf[1] + 1)),
            int(finish_rng.integers(2**31)),
        ),
    )
