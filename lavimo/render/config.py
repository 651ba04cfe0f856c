"""Typed, validated render settings: video size and encoding, views per motion, the ranges each video's look is
drawn from, and the held-out style's fixed ranges that every training range must stay clear of.

A range is `(low, high)`; each video draws a value uniformly in it, and `(a, a)` pins the value. The defaults
are the wide, randomised look (`render.*` in the YAML configs); `ray_configs/cpu_demo.yaml` pins them to the
look of the first renderer. Errors are ValueErrors naming the key (`render.camera.fov_deg: ...`);
lavimo.config turns them into ConfigErrors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from lavimo.render.backgrounds import BACKDROP_KINDS
from lavimo.render.ground import FLOOR_KINDS

Range = tuple[float, ...]  # (low, high)
LOOK_VERSION = 1  # part of the fingerprint: bump it when a change to the drawing code changes the pixels
HELD_OUT_LOOK_VERSION = 1  # part of the held-out fingerprint: bump it when lavimo/render/heldout.py changes pixels
NOT_IN_FINGERPRINT = ("views_per_motion", "held_out")  # how many videos, and the held-out style's own folder


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ValueError(f"{key}: {message}")


def _check_range(value: tuple, key: str, low: float, high: float) -> None:
    _require(
        len(value) == 2 and low <= value[0] <= value[1] <= high,
        key,
        f"a range is [low, high] with {low} <= low <= high <= {high}, got {list(value)}",
    )


def _check_probability(value: float, key: str) -> None:
    _require(0.0 <= value <= 1.0, key, f"a probability must be in [0, 1], got {value}")


def _check_kinds(value: tuple[str, ...], key: str, known: tuple[str, ...]) -> None:
    _require(len(value) > 0, key, f"at least one kind is needed, from {list(known)}")
    unknown = [kind for kind in value if kind not in known]
    _require(not unknown, key, f"unknown kind {unknown[:1]}; known kinds: {list(known)}")
    _require(len(set(value)) == len(value), key, f"a kind is listed twice in {list(value)}")


@dataclass(frozen=True)
class CameraRanges:
    """Where the camera is, relative to the body's first-frame position and facing."""

    yaw_deg: Range = (0.0, 360.0)  # around the body: 0 = in front of it, 90 = on its left, 180 = behind it
    elevation_deg: Range = (0.0, 35.0)  # line of sight above the horizontal (the camera looks down)
    fov_deg: Range = (25.0, 65.0)  # vertical field of view
    body_fraction: Range = (0.25, 0.8)  # height of a 1.7 m person at the look-at point / height of the frame
    follow_probability: float = 0.5  # the camera follows the root; otherwise it stands still, framing the trajectory
    keep_in_view: bool = True  # a following camera backs off where a joint would leave the frame

    def validate(self, prefix: str) -> None:
        _check_range(self.yaw_deg, f"{prefix}.yaw_deg", -360.0, 360.0)
        _check_range(self.elevation_deg, f"{prefix}.elevation_deg", 0.0, 80.0)
        _check_range(self.fov_deg, f"{prefix}.fov_deg", 10.0, 120.0)
        _check_range(self.body_fraction, f"{prefix}.body_fraction", 0.1, 1.0)  # 0.1 at fov 10: 97 m away
        _check_probability(self.follow_probability, f"{prefix}.follow_probability")


@dataclass(frozen=True)
class BodyRanges:
    """Proportions of the capsule body; bone lengths are the motion's."""

    limb_scale: Range = (0.8, 1.25)  # multiplies every capsule's radius (and an avatar style's own scale)
    head_scale: Range = (0.85, 1.2)  # multiplies the head's radius (and an avatar style's own scale)

    def validate(self, prefix: str) -> None:
        _check_range(self.limb_scale, f"{prefix}.limb_scale", 0.25, 4.0)
        _check_range(self.head_scale, f"{prefix}.head_scale", 0.25, 4.0)


@dataclass(frozen=True)
class HsvRange:
    """A colour drawn in HSV: hue in degrees, saturation and value in [0, 1]."""

    hue_deg: Range = (0.0, 360.0)
    saturation: Range = (0.0, 1.0)
    value: Range = (0.0, 1.0)

    def validate(self, prefix: str) -> None:
        _check_range(self.hue_deg, f"{prefix}.hue_deg", 0.0, 360.0)
        _check_range(self.saturation, f"{prefix}.saturation", 0.0, 1.0)
        _check_range(self.value, f"{prefix}.value", 0.0, 1.0)


@dataclass(frozen=True)
class ColourRanges:
    """Where the body's and the scene's colours come from."""

    avatar_style_probability: float = 0.25  # colours (and proportions) of one of the 13 avatar styles; else drawn
    skin: HsvRange = field(default_factory=lambda: HsvRange((15.0, 35.0), (0.2, 0.65), (0.3, 0.97)))
    clothes: HsvRange = field(default_factory=lambda: HsvRange((0.0, 360.0), (0.0, 0.9), (0.1, 0.95)))
    scene: HsvRange = field(default_factory=lambda: HsvRange((0.0, 360.0), (0.0, 0.5), (0.35, 0.95)))
    stripe_probability: float = 0.3  # the shirt's trunk gets stripes of another clothes colour

    def validate(self, prefix: str) -> None:
        _check_probability(self.avatar_style_probability, f"{prefix}.avatar_style_probability")
        _check_probability(self.stripe_probability, f"{prefix}.stripe_probability")
        for name in ("skin", "clothes", "scene"):
            getattr(self, name).validate(f"{prefix}.{name}")


@dataclass(frozen=True)
class BackgroundRanges:
    kinds: tuple[str, ...] = BACKDROP_KINDS  # drawn with equal chance: sky, noise, stripes, tiles, room

    def validate(self, prefix: str) -> None:
        _check_kinds(self.kinds, f"{prefix}.kinds", BACKDROP_KINDS)


@dataclass(frozen=True)
class GroundRanges:
    kinds: tuple[str, ...] = FLOOR_KINDS  # drawn with equal chance: checker, plain, blotches
    tile_m: Range = (0.5, 1.5)  # checkerboard tile (and blotch cell) side, metres

    def validate(self, prefix: str) -> None:
        _check_kinds(self.kinds, f"{prefix}.kinds", FLOOR_KINDS)
        _check_range(self.tile_m, f"{prefix}.tile_m", 0.1, 10.0)


@dataclass(frozen=True)
class LightRanges:
    """The one directional light, relative to the body's first-frame facing like the camera."""

    azimuth_deg: Range = (0.0, 360.0)  # where the light comes from: 0 = in front of the body, 90 = its left
    elevation_deg: Range = (30.0, 80.0)  # above the horizon
    strength: Range = (0.5, 1.3)  # shading contrast and shadow darkness; 1 = the first renderer's

    def validate(self, prefix: str) -> None:
        _check_range(self.azimuth_deg, f"{prefix}.azimuth_deg", -360.0, 360.0)
        _check_range(self.elevation_deg, f"{prefix}.elevation_deg", 10.0, 90.0)
        _check_range(self.strength, f"{prefix}.strength", 0.0, 2.0)


# The held-out style's fixed ranges (drawn by lavimo/render/heldout.py). RenderConfig.validate keeps every training
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


@dataclass(frozen=True)
class HeldOutConfig:
    """The held-out style: each test motion rendered once more in a look no training or validation video has."""

    enabled: bool = True
    seed: int = 0  # with the motion id, seeds each held-out video's draw

    def fingerprint(self) -> str:
        """10 hex digits naming the held-out videos' folder (the seed and HELD_OUT_LOOK_VERSION)."""
        text = json.dumps({"look_version": HELD_OUT_LOOK_VERSION, "seed": self.seed}, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def _check_outside_held_out(settings: RenderConfig, prefix: str) -> None:
    """Every training range stays clear of the held-out style's (see HELD_OUT_*), or the style is not held out."""
    advice = f"; keep it clear of the held-out style's or set {prefix}.held_out.enabled=false"
    camera, limbs = settings.camera, settings.body.limb_scale
    for key, value, held_out, clear in (  # the training range is below the held-out one, or above it
        (
            "camera.elevation_deg",
            camera.elevation_deg,
            HELD_OUT_CAMERA.elevation_deg,
            camera.elevation_deg[1] < HELD_OUT_CAMERA.elevation_deg[0],
        ),
        ("camera.fov_deg", camera.fov_deg, HELD_OUT_CAMERA.fov_deg, camera.fov_deg[0] > HELD_OUT_CAMERA.fov_deg[1]),
        ("body.limb_scale", limbs, HELD_OUT_LIMB_SCALE, limbs[0] > HELD_OUT_LIMB_SCALE[1]),
    ):
        _require(clear, f"{prefix}.{key}", f"{list(value)} reaches the held-out style's {list(held_out)}{advice}")
    for name in ("skin", "clothes"):
        hsv = getattr(settings.colours, name)
        neon = hsv.saturation[1] >= HELD_OUT_BODY.saturation[0] and hsv.value[1] >= HELD_OUT_BODY.value[0]
        _require(
            not neon,
            f"{prefix}.colours.{name}",
            f"saturation {list(hsv.saturation)} and value "
            f"{list(hsv.value)} reach the held-out style's neon body colours (both >= "
            f"{HELD_OUT_BODY.saturation[0]}){advice}",
        )
    darkest = max(HELD_OUT_BACKDROP.value[1], HELD_OUT_RINGS.value[1])
    _require(
        settings.colours.scene.value[0] > darkest,
        f"{prefix}.colours.scene.value",
        f"{list(settings.colours.scene.value)} reaches the held-out style's dark backdrop (value <= {darkest}){advice}",
    )


@dataclass(frozen=True)
class RenderConfig:
    resolution: int = 256  # square video side in pixels (the paper renders 512)
    keyframe_interval: int = 1  # H.264 GOP length in frames: 1 (all-intra) makes sampling 8 frames cheapest
    style_seed: int = 0  # seeds every video's draw, with its motion id and view index
    views_per_motion: int = 1  # rendered videos of each training motion (views 0..K-1); val and test get view 0
    held_out: HeldOutConfig = field(default_factory=HeldOutConfig)
    camera: CameraRanges = field(default_factory=CameraRanges)
    body: BodyRanges = field(default_factory=BodyRanges)
    colours: ColourRanges = field(default_factory=ColourRanges)
    background: BackgroundRanges = field(default_factory=BackgroundRanges)
    ground: GroundRanges = field(default_factory=GroundRanges)
    light: LightRanges = field(default_factory=LightRanges)
    blur_sigma_px: Range = (0.0, 1.0)  # Gaussian blur of every frame, pixels
    noise_std: Range = (0.0, 3.0)  # additive Gaussian noise, grey levels of 255
    crf: tuple[int, ...] = (20, 28)  # x264 constant rate factor (higher: smaller files, more artefacts)

    def validate(self, prefix: str = "render") -> None:
        _require(
            32 <= self.resolution <= 2048 and self.resolution % 2 == 0,
            f"{prefix}.resolution",
            f"expected an even number in [32, 2048], got {self.resolution}",
        )
        _require(
            self.keyframe_interval >= 1, f"{prefix}.keyframe_interval", f"must be >= 1, got {self.keyframe_interval}"
        )
        for name in ("camera", "body", "colours", "background", "ground", "light"):
            getattr(self, name).validate(f"{prefix}.{name}")
        _check_range(self.blur_sigma_px, f"{prefix}.blur_sigma_px", 0.0, 10.0)
        _check_range(self.noise_std, f"{prefix}.noise_std", 0.0, 50.0)
        _check_range(self.crf, f"{prefix}.crf", 0, 51)
        _require(
            self.views_per_motion >= 1,
            f"{prefix}.views_per_motion",
            f"must be >= 1 (videos of each training motion), got {self.views_per_motion}",
        )
        if self.held_out.enabled:
            _check_outside_held_out(self, prefix)

    def fingerprint(self) -> str:
        """10 hex digits naming these settings (and LOOK_VERSION): equal settings, equal videos.

        Every field that changes the pixels of a video is in it; NOT_IN_FINGERPRINT are left out (how many views
        a motion gets; the held-out videos, in a folder of their own), so changing them reuses finished videos.
        """
        drawn = {k: v for k, v in dataclasses.asdict(self).items() if k not in NOT_IN_FINGERPRINT}
        settings = {"look_version": LOOK_VERSION, **drawn}
        text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
