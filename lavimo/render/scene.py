"""Per-clip precomputation: camera-space geometry of floor, shadow and body for every frame, and the colours."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from lavimo.render.avatars import AvatarStyle
from lavimo.render.body import BodyModel
from lavimo.render.camera import CameraTrack
from lavimo.render.capsules import BodyFrames, body_frames
from lavimo.render.ground import FloorFrames, FloorLayout, background_image, floor_polygons
from lavimo.render.shadow import ShadowFrames, shadow_frames


@dataclass
class ClipScene:
    """Everything to draw a clip; built once, then read frame by frame by draw.draw_frame."""

    background: np.ndarray  # (H, W, 3) uint8 sky and hazy floor, the same for every frame
    floor: FloorFrames
    body: BodyFrames
    shadow: ShadowFrames
    colours: dict  # see style_palette
    num_frames: int
    floor_cache: dict = field(default_factory=dict)  # floor key -> (H, W, 3) uint8 background with tiles


def _shade(colour, factor: float) -> tuple[int, int, int]:
    """factor < 1 darkens towards black, > 1 lightens towards white."""
    c = np.asarray(colour, np.float64)
    out = c * factor if factor <= 1 else c + (255 - c) * (factor - 1)
    return tuple(int(v) for v in np.clip(np.round(out), 0, 255))


@lru_cache(maxsize=256)
def _palette(style: AvatarStyle, slots: tuple[int, ...]) -> dict:
    return style_palette(style, list(slots))


def style_palette(style: AvatarStyle, slots: list[int]) -> dict:
    """Per capsule (by its colour slot) the outline, base and highlight colours; the floor tile colours."""
    by_slot = (style.skin, style.shirt, style.trousers, style.shoes)  # indexed by body.SKIN .. body.SHOES
    return {
        "outline": [_shade(by_slot[s], 0.45) for s in slots],
        "base": [_shade(by_slot[s], 1.0) for s in slots],
        "highlight": [_shade(by_slot[s], 1.45) for s in slots],
        "floor": _shade(style.ground_alt, 1.0),
    }


def build_scene(joints_m: np.ndarray, body: BodyModel, style: AvatarStyle, camera: CameraTrack,
                floor: FloorLayout = FloorLayout()) -> ClipScene:
    """joints_m: (T, J, 3) metres, one camera per frame -> the clip's draw lists."""
    frames = body_frames(joints_m, body, style, camera)
    return ClipScene(
        background=background_image(camera, style.sky, style.ground, floor),
        floor=floor_polygons(camera, floor),
        body=frames,
        shadow=shadow_frames(joints_m, body, style, camera),
        colours=_palette(style, tuple(frames.slots)),
        num_frames=len(joints_m),
    )
