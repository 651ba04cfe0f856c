"""The held-out style: a look no training or validation video has, to test whether the video tower learned the motion.

The test split is rendered once more in it. Everything a training video is made of is replaced: the body is built
of ellipsoids with a box for a head (training: capsules and a sphere) in flat, fully saturated neon colours with a
thick near-black outline (training: shaded, with highlights and a thin rim); it floats over a near-black diagonal
gradient with dark circles (training: a floor with a horizon, a sky, textures or a room) without a shadow or a light;
the camera looks down steeply through a telephoto lens from far away (training: a lower elevation and a wider
field of view). RenderConfig.validate keeps the training ranges clear of HELD_OUT_* (lavimo/render/config.py).
The same projection code places the body.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

from lavimo.render.avatars import RGB, BodyLook
from lavimo.render.body import SKIN, BodyModel
from lavimo.render.camera import CameraRig, CameraTrack
from lavimo.render.capsules import capsule_ends, screen_capsules
from lavimo.render.config import (
    HELD_OUT_BACKDROP,
    HELD_OUT_BODY,
    HELD_OUT_CAMERA,
    HELD_OUT_LIMB_SCALE,
    HELD_OUT_RINGS,
    HeldOutConfig,
)
from lavimo.render.finish import Finish
from lavimo.render.ground import SHIFT
from lavimo.render.randomise import draw_camera, draw_colour

OUTLINE: RGB = (12, 12, 12)
OUTLINE_PER_HEIGHT = 1 / 64  # outline width per frame height (2 px at 128, 4 at 256; training: a 1 px rim)
ELLIPSE_VERTICES = 16
OVERHANG = 0.5  # an ellipse reaches this many of its radii past each end of its bone
HEAD_SCALE = 1.1  # the box head's half side, times the head sphere's radius
RINGS = (3, 6)  # how many circles the backdrop has, at least and at most
FINISH = Finish(blur_sigma_px=0.0, noise_std=0.0, crf=23, seed=0)  # clean flat colours


@dataclass(frozen=True)
class HeldOutLook:
    """One held-out video's look, as plain values."""

    camera: CameraRig  # drawn from HELD_OUT_CAMERA
    body: BodyLook  # neon colours by slot (skin, shirt, trousers, shoes); limb_scale thickens the ellipsoids
    backdrop: tuple[RGB, RGB]  # the gradient's colours at the top-left and the bottom-right corner
    rings: RGB  # the circles' colour
    seed: int  # where the circles are, and how large
    finish: Finish = FINISH


def draw_held_out_look(settings: HeldOutConfig, motion_id: str) -> HeldOutLook:
    """The held-out look of a motion: sha256 of (render.held_out.seed, id) seeds it, as draw_look does its own."""
    digest = hashlib.sha256(f"held_out:{int(settings.seed)}:{motion_id}".encode()).digest()
    streams = np.random.SeedSequence(int.from_bytes(digest, "big")).spawn(3)
    camera_rng, body_rng, scene_rng = (np.random.default_rng(stream) for stream in streams)
    limb = float(body_rng.uniform(*HELD_OUT_LIMB_SCALE))
    skin, shirt, trousers, shoes = (draw_colour(body_rng, HELD_OUT_BODY) for _ in range(4))
    backdrop = (draw_colour(scene_rng, HELD_OUT_BACKDROP), draw_colour(scene_rng, HELD_OUT_BACKDROP))
    return HeldOutLook(
        camera=draw_camera(camera_rng, HELD_OUT_CAMERA),
        body=BodyLook(limb, HEAD_SCALE, skin, shirt, trousers, shoes),
        backdrop=backdrop,
        rings=draw_colour(scene_rng, HELD_OUT_RINGS),
        seed=int(scene_rng.integers(2**31)),
    )


@dataclass
class HeldOutScene:
    """Everything to draw a held-out clip; built once, then read frame by frame by draw_held_out_frame."""

    backdrop: np.ndarray  # (H, W, 3) uint8, the same for every frame
    order: np.ndarray  # (T, C) capsule indices, farthest first; the last capsule is the head
    outline: np.ndarray  # (T, C, V, 2) int32 fixed point: each shape grown by the outline's width
    fill: np.ndarray  # (T, C, V, 2) int32 fixed point
    colours: list[RGB]  # [C] flat colour of each shape
    num_frames: int


def _unit_shapes() -> tuple[np.ndarray, np.ndarray]:
    """(V, 2) unit ellipse (cos, sin) and a unit square with its corners repeated to V vertices."""
    angles = 2 * np.pi * np.arange(ELLIPSE_VERTICES) / ELLIPSE_VERTICES
    square = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])
    return np.stack([np.cos(angles), np.sin(angles)], axis=1), np.repeat(square, ELLIPSE_VERTICES // 4, axis=0)


_ELLIPSE, _SQUARE = _unit_shapes()


def _place(
    unit: np.ndarray, centre: np.ndarray, direction: np.ndarray, along: np.ndarray, across: np.ndarray
) -> np.ndarray:
    """unit (V, 2) shape; centre, direction (..., 2) and half sizes along, across (...) in pixels -> (..., V, 2)."""
    length = np.linalg.norm(direction, axis=-1, keepdims=True)
    u = np.where(length > 1e-6, direction / np.maximum(length, 1e-6), np.array([0.0, -1.0]))  # (..., 2)
    n = np.stack([-u[..., 1], u[..., 0]], axis=-1)
    return (
        centre[..., None, :]
        + unit[:, :1] * (along[..., None] * u)[..., None, :]
        + unit[:, 1:] * (across[..., None] * n)[..., None, :]
    )


def _shapes(a: np.ndarray, b: np.ndarray, r: np.ndarray, head_up: np.ndarray, grow: float) -> np.ndarray:
    """(T, C, V, 2) int32 fixed point: an ellipse around each bone, grown by `grow` pixels; a square head last.

    a, b: (T, C, 2) capsule ends and r: (T, C) radii in pixels; head_up: (T, 2) the neck-to-head direction."""
    half = np.linalg.norm(b - a, axis=-1) / 2  # (T, C)
    shapes = _place(_ELLIPSE, (a + b) / 2, b - a, half + OVERHANG * r + grow, r + grow)
    shapes[:, -1] = _place(_SQUARE, a[:, -1], head_up, r[:, -1] + grow, r[:, -1] + grow)
    return np.rint(shapes * (1 << SHIFT)).astype(np.int32)


def _backdrop(look: HeldOutLook, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8: the diagonal gradient between the look's two colours, with a few circles on it."""
    y, x = np.mgrid[0:height, 0:width] + 0.5
    weight = ((x / width + y / height) / 2)[..., None]  # (H, W, 1): 0 at the top-left corner, 1 at the bottom-right
    start, end = (np.asarray(colour, np.float64) for colour in look.backdrop)
    image = np.ascontiguousarray(np.round(start * (1 - weight) + end * weight).astype(np.uint8))
    rng = np.random.default_rng(look.seed)
    scale = 1 << SHIFT
    for _ in range(int(rng.integers(RINGS[0], RINGS[1] + 1))):
        centre = tuple(int(v) for v in np.round(rng.uniform(0, 1, 2) * (width, height) * scale))
        radius, thickness = rng.uniform(0.08, 0.35) * height, max(1, round(rng.uniform(0.01, 0.04) * height))
        cv2.circle(image, centre, int(radius * scale), look.rings, thickness, cv2.LINE_AA, SHIFT)
    return image


def held_out_scene(joints_m: np.ndarray, body: BodyModel, look: HeldOutLook, camera: CameraTrack) -> HeldOutScene:
    """joints_m: (T, J, 3) metres, one camera per frame -> the clip's shapes, farthest first, and its backdrop."""
    a_m, b_m, radius_m = capsule_ends(joints_m, body, look.body)  # the head is the last, zero-length capsule
    a, b, r, depth = screen_capsules(a_m, b_m, radius_m, camera)  # (T, C, 2) twice, (T, C) pixels, (T, C) metres
    ends, _ = camera.project(joints_m[:, [body.neck_joint, body.head_joint]])  # (T, 2, 2)
    head_up = ends[:, 1] - ends[:, 0]
    edge = max(2.0, camera.height * OUTLINE_PER_HEIGHT)
    by_slot = (look.body.skin, look.body.shirt, look.body.trousers, look.body.shoes)
    return HeldOutScene(
        backdrop=_backdrop(look, camera.width, camera.height),
        order=np.argsort(-depth, axis=1, kind="stable"),
        outline=_shapes(a, b, r, head_up, edge),
        fill=_shapes(a, b, r, head_up, 0.0),
        colours=[by_slot[slot] for slot in body.slots.tolist() + [SKIN]],
        num_frames=len(joints_m),
    )


def draw_held_out_frame(image: np.ndarray, scene: HeldOutScene, t: int) -> np.ndarray:
    """image: (H, W, 3) uint8 RGB, overwritten with frame t: the backdrop, then each shape outlined and filled."""
    np.copyto(image, scene.backdrop)
    outline, fill = scene.outline[t], scene.fill[t]
    for c in scene.order[t].tolist():
        cv2.fillConvexPoly(image, outline[c], OUTLINE, cv2.LINE_AA, SHIFT)
        cv2.fillConvexPoly(image, fill[c], scene.colours[c], cv2.LINE_8, SHIFT)
    return image
