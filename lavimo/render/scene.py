"""Per-clip precomputation: camera-space geometry of floor, shadow and body for every frame, and the colours."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from lavimo.render.avatars import RGB, BodyLook
from lavimo.render.backgrounds import BackdropImages, backdrop_images
from lavimo.render.body import BodyModel
from lavimo.render.camera import CameraTrack
from lavimo.render.capsules import BodyFrames, body_frames
from lavimo.render.finish import FinishFrames, finish_frames
from lavimo.render.ground import FloorFrames, farthest_ahead, floor_polygons, floor_reach
from lavimo.render.light import HIGHLIGHT_SHADE, RIM_SHADE
from lavimo.render.randomise import ClipLook
from lavimo.render.shadow import ShadowFrames, shadow_frames


@dataclass
class ClipScene:
    """Everything to draw a clip; built once, then read frame by frame by draw.draw_frame."""

    backdrop: BackdropImages  # sky or texture and hazy floor, the same for every frame; a room's walls
    floor: FloorFrames
    body: BodyFrames
    shadow: ShadowFrames
    finish: FinishFrames
    colours: dict  # see palette
    num_frames: int
    floor_cache: dict = field(default_factory=dict)  # floor key -> (H, W, 3) uint8 backdrop with the floor pattern


def _shade(colour, factor: float) -> tuple[int, int, int]:
    """factor < 1 darkens towards black, > 1 lightens towards white."""
    c = np.asarray(colour, np.float64)
    out = c * factor if factor <= 1 else c + (255 - c) * (factor - 1)
    return tuple(int(v) for v in np.clip(np.round(out), 0, 255))


@lru_cache(maxsize=256)
def palette(look: BodyLook, floor_alt: RGB, strength: float, slots: tuple[int, ...]) -> dict:
    """Per capsule (by its colour slot) the outline, base and highlight colours; the stripes; the floor pattern."""
    by_slot = (look.skin, look.shirt, look.trousers, look.shoes)  # indexed by body.SKIN .. body.SHOES
    return {
        "outline": [_shade(by_slot[s], RIM_SHADE**strength) for s in slots],
        "base": [_shade(by_slot[s], 1.0) for s in slots],
        "highlight": [_shade(by_slot[s], HIGHLIGHT_SHADE**strength) for s in slots],
        "stripe": None if look.stripe is None else _shade(look.stripe, 1.0),
        "floor": _shade(floor_alt, 1.0),
    }


def build_scene(joints_m: np.ndarray, body: BodyModel, look: ClipLook, camera: CameraTrack) -> ClipScene:
    """joints_m: (T, J, 3) metres, one camera per frame -> the clip's draw lists."""
    frames = body_frames(joints_m, body, look.body, look.light, camera)
    subject_m = farthest_ahead(camera, joints_m)
    far_m, haze_m = floor_reach(camera, subject_m)
    return ClipScene(
        backdrop=backdrop_images(camera, look.backdrop, look.floor.colour, far_m, haze_m, subject_m),
        floor=floor_polygons(camera, look.floor, far_m),
        body=frames,
        shadow=shadow_frames(joints_m, body, look.body, look.light, camera),
        finish=finish_frames(look.finish, camera.width, camera.height),
        colours=palette(look.body, look.floor.colour_alt, look.light.strength, tuple(frames.slots)),
        num_frames=len(joints_m),
    )
