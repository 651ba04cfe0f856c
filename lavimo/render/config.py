"""Typed, validated render settings: video size and encoding, views per motion, the ranges each video's look is
drawn from, and the held-out style's fixed ranges that every training range must stay clear of.

A range is `(low, high)`; each video draws a value uniformly in it, and `(a, a)` pins the value. The defaults
are the wide, randomised look (`render.*` in the YAML configs); `ray_configs/cpu_demo.yaml` pins them to the
look of the first renderer. A bad value is a ConfigError naming its key (`render.camera.fov_deg: ...`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from lavimo.render.backgrounds import BACKDROP_KINDS
from lavimo.render.ground import FLOOR_KINDS
from lavimo.schema import Count, Fraction, Int, Section, checked

Range = tuple[float, ...]  # (low, high)
LOOK_VERSION = 1  # part of the fingerprint: bump it when a change to the drawing code changes the pixels
HELD_OUT_LOOK_VERSION = 1  # part of the held-out fingerprint: bump it when lavimo/render/heldout.py changes pixels
NOT_IN_FINGERPRINT = ("views_per_motion", "held_out")  # how many videos, and the held-out style's own folder


def span(low: float, high: float, kind: type = float) -> type:
    """A (low, high) range field with low <= high, both within [low, high] of the setting."""

    def problem(value: tuple) -> str | None:
        if len(value) == 2 and low <= value[0] <= value[1] <= high:
            return None
        return f"a range is [low, high] with {low} <= low <= high <= {high}, got {list(value)}"

    return Annotated[tuple[kind, ...], checked(problem)]


def kinds_of(known: tuple[str, ...]) -> type:
    """A non-empty list of distinct names from `known`."""

    def problem(value: tuple[str, ...]) -> str | None:
        unknown = [kind for kind in value if kind not in known]
        if not value:
            return f"at least one kind is needed, from {list(known)}"
        if unknown:
            return f"unknown kind {unknown[:1]}; known kinds: {list(known)}"
        if len(set(value)) != len(value):
            return f"a kind is listed twice in {list(value)}"
        return None

    return Annotated[tuple[str, ...], checked(problem)]


class CameraRanges(Section):
    """Where the camera is, relative to the body's first-frame position and facing."""

    yaw_deg: span(-360.0, 360.0) = (0.0, 360.0)  # around the body: 0 = in front of it, 90 = its left, 180 = behind
    elevation_deg: span(0.0, 80.0) = (0.0, 35.0)  # line of sight above the horizontal (the camera looks down)
    fov_deg: span(10.0, 120.0) = (25.0, 65.0)  # vertical field of view
    body_fraction: span(0.1, 1.0) = (0.25, 0.8)  # a 1.7 m person's height at the look-at point / the frame's
    follow_probability: Fraction = 0.5  # the camera follows the root; else it stands still, framing the trajectory
    keep_in_view: bool = True  # a following camera backs off where a joint would leave the frame


class BodyRanges(Section):
    """Proportions of the capsule body; bone lengths are the motion's."""

    limb_scale: span(0.25, 4.0) = (0.8, 1.25)  # multiplies every capsule's radius (and an avatar style's own scale)
    head_scale: span(0.25, 4.0) = (0.85, 1.2)  # multiplies the head's radius (and an avatar style's own scale)


class HsvRange(Section):
    """A colour drawn in HSV: hue in degrees, saturation and value in [0, 1]."""

    hue_deg: span(0.0, 360.0) = (0.0, 360.0)
    saturation: span(0.0, 1.0) = (0.0, 1.0)
    value: span(0.0, 1.0) = (0.0, 1.0)


class ColourRanges(Section):
    """Where the body's and the scene's colours come from."""

    avatar_style_probability: Fraction = 0.25  # colours (and proportions) of one of the 13 avatar styles; else drawn
    skin: HsvRange = HsvRange(hue_deg=(15.0, 35.0), saturation=(0.2, 0.65), value=(0.3, 0.97))
    clothes: HsvRange = HsvRange(hue_deg=(0.0, 360.0), saturation=(0.0, 0.9), value=(0.1, 0.95))
    scene: HsvRange = HsvRange(hue_deg=(0.0, 360.0), saturation=(0.0, 0.5), value=(0.35, 0.95))
    stripe_probability: Fraction = 0.3  # the shirt's trunk gets stripes of another clothes colour


class BackgroundRanges(Section):
    kinds: kinds_of(BACKDROP_KINDS) = BACKDROP_KINDS  # drawn with equal chance: sky, noise, stripes, tiles, room


class GroundRanges(Section):
    kinds: kinds_of(FLOOR_KINDS) = FLOOR_KINDS  # drawn with equal chance: checker, plain, blotches
    tile_m: span(0.1, 10.0) = (0.5, 1.5)  # checkerboard tile (and blotch cell) side, metres


class LightRanges(Section):
    """The one directional light, relative to the body's first-frame facing like the camera."""

    azimuth_deg: span(-360.0, 360.0) = (0.0, 360.0)  # where the light comes from: 0 = in front of the body, 90 = left
    elevation_deg: span(10.0, 90.0) = (30.0, 80.0)  # above the horizon
    strength: span(0.0, 2.0) = (0.5, 1.3)  # shading contrast and shadow darkness; 1 = the first renderer's


# The held-out style's fixed ranges (drawn by lavimo/render/heldout.py). RenderConfig.problems keeps every training
# range outside them, so that no training or validation video can look like a held-out one.
HELD_OUT_CAMERA = CameraRanges(
    elevation_deg=(42.0, 55.0),
    fov_deg=(12.0, 20.0),
    body_fraction=(0.7, 0.9),
    follow_probability=1.0,
    keep_in_view=True,
)  # looks down steeply, telephoto, far
HELD_OUT_LIMB_SCALE: Range = (0.55, 0.7)  # the ellipsoid limbs' thickness, times a capsule's radius: thin
HELD_OUT_BODY = HsvRange(saturation=(0.97, 1.0), value=(0.97, 1.0))  # neon: every body colour fully saturated
HELD_OUT_BACKDROP = HsvRange(saturation=(0.3, 0.8), value=(0.02, 0.12))  # the near-black gradient's two ends
HELD_OUT_RINGS = HsvRange(saturation=(0.6, 1.0), value=(0.18, 0.28))  # the dark circles on it


class HeldOutConfig(Section):
    """The held-out style: each test motion rendered once more in a look no training or validation video has."""

    enabled: bool = True
    seed: Int = 0  # with the motion id, seeds each held-out video's draw

    def fingerprint(self) -> str:
        """10 hex digits naming the held-out videos' folder (the seed and HELD_OUT_LOOK_VERSION)."""
        text = json.dumps({"look_version": HELD_OUT_LOOK_VERSION, "seed": self.seed}, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def _resolution_problem(value: int) -> str | None:
    return None if 32 <= value <= 2048 and value % 2 == 0 else f"expected an even number in [32, 2048], got {value}"


class RenderConfig(Section):
    resolution: Annotated[Int, checked(_resolution_problem)] = 256  # square video side, pixels (the paper: 512)
    keyframe_interval: Count = 1  # H.264 GOP length in frames: 1 (all-intra) makes sampling 8 frames cheapest
    style_seed: Int = 0  # seeds every video's draw, with its motion id and view index
    views_per_motion: Count = 1  # rendered videos of each training motion (views 0..K-1); val and test get view 0
    held_out: HeldOutConfig = HeldOutConfig()
    camera: CameraRanges = CameraRanges()
    body: BodyRanges = BodyRanges()
    colours: ColourRanges = ColourRanges()
    background: BackgroundRanges = BackgroundRanges()
    ground: GroundRanges = GroundRanges()
    light: LightRanges = LightRanges()
    blur_sigma_px: span(0.0, 10.0) = (0.0, 1.0)  # Gaussian blur of every frame, pixels
    noise_std: span(0.0, 50.0) = (0.0, 3.0)  # additive Gaussian noise, grey levels of 255
    crf: span(0, 51, int) = (20, 28)  # x264 constant rate factor (higher: smaller files, more artefacts)

    def problems(self) -> list[tuple[str, str]]:
        return self._reaching_held_out() if self.held_out.enabled else []

    def _reaching_held_out(self) -> list[tuple[str, str]]:
        """Every training range that reaches the held-out style's (see HELD_OUT_*): no training or validation video
        may look like a held-out one."""
        advice = "; keep it clear of the held-out style's or set render.held_out.enabled=false"
        camera, limbs = self.camera, self.body.limb_scale
        found = [
            (key, f"{list(value)} reaches the held-out style's {list(held_out)}{advice}")
            for key, value, held_out, clear in (  # the training range is below the held-out one, or above it
                (
                    "camera.elevation_deg",
                    camera.elevation_deg,
                    HELD_OUT_CAMERA.elevation_deg,
                    camera.elevation_deg[1] < HELD_OUT_CAMERA.elevation_deg[0],
                ),
                (
                    "camera.fov_deg",
                    camera.fov_deg,
                    HELD_OUT_CAMERA.fov_deg,
                    camera.fov_deg[0] > HELD_OUT_CAMERA.fov_deg[1],
                ),
                ("body.limb_scale", limbs, HELD_OUT_LIMB_SCALE, limbs[0] > HELD_OUT_LIMB_SCALE[1]),
            )
            if not clear
        ]
        for name in ("skin", "clothes"):
            hsv = getattr(self.colours, name)
            if hsv.saturation[1] >= HELD_OUT_BODY.saturation[0] and hsv.value[1] >= HELD_OUT_BODY.value[0]:
                found.append(
                    (
                        f"colours.{name}",
                        f"saturation {list(hsv.saturation)} and value {list(hsv.value)} reach the held-out style's "
                        f"neon body colours (both >= {HELD_OUT_BODY.saturation[0]}){advice}",
                    )
                )
        darkest = max(HELD_OUT_BACKDROP.value[1], HELD_OUT_RINGS.value[1])
        if self.colours.scene.value[0] <= darkest:
            scene = list(self.colours.scene.value)
            found.append(
                (
                    "colours.scene.value",
                    f"{scene} reaches the held-out style's dark backdrop (value <= {darkest}){advice}",
                )
            )
        return found

    def fingerprint(self) -> str:
        """10 hex digits naming these settings (and LOOK_VERSION): equal settings, equal videos.

        Every field that changes the pixels of a video is in it; NOT_IN_FINGERPRINT are left out (how many views
        a motion gets; the held-out videos, in a folder of their own), so changing them reuses finished videos.
        """
        drawn = self.model_dump(exclude=set(NOT_IN_FINGERPRINT))
        settings = {"look_version": LOOK_VERSION, **drawn}
        text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
