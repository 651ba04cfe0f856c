"""The floor and sky: a checkerboard on y=0 seen through the moving camera, and the static background picture."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lavimo.render.camera import CameraTrack

SHIFT = 2  # fixed-point fraction bits of every pixel coordinate handed to cv2 (quarter pixels)
EYE_STEP_M = 0.002  # the floor is drawn for the eye snapped to this grid, so that equal floors can be reused


@dataclass(frozen=True)
class FloorLayout:
    """Checkerboard geometry; distances are metres along the ground, in front of the eye."""

    tile_m: float = 1.0
    far_m: float = 8.0  # the checkerboard stops at this distance (cut along a straight line); beyond, haze
    haze_m: float = 40.0  # the haze reaches the sky colour at this distance


def ground_axes(camera: CameraTrack) -> tuple[np.ndarray, np.ndarray]:
    """Unit world vectors (3,) along the ground: the camera's right and its forward direction."""
    right = camera.rotation[0] * np.array([1.0, 0.0, 1.0])
    forward = camera.rotation[2] * np.array([1.0, 0.0, 1.0])
    return right / np.linalg.norm(right), forward / np.linalg.norm(forward)


def _tile_offsets(camera: CameraTrack, layout: FloorLayout) -> np.ndarray:
    """(N, 2) int tile offsets (lateral, forward) from the eye's tile that can be on screen."""
    s = layout.tile_m
    half_fov = np.arctan(camera.width / 2.0 / camera.focal_px)
    forward = np.arange(0, int(np.ceil(layout.far_m / s)) + 1)
    reach = int(np.ceil(layout.far_m * np.tan(half_fov) / s)) + 2  # tiles to each side at the far end
    lateral = np.arange(-reach, reach)
    di, dk = np.meshgrid(lateral, forward, indexing="ij")
    keep = np.abs(di + 0.5) * s <= (dk + 1) * s * np.tan(half_fov) + 2 * s
    return np.stack([di[keep], dk[keep]], axis=1)


def _lattice_pixels(camera: CameraTrack, lateral_m: np.ndarray, forward_m: np.ndarray) -> np.ndarray:
    """Floor points on a lattice, relative to the eye: lateral_m (T, X), forward_m (T, Z) -> (T, X, Z, 2) pixels.

    The camera never rolls or changes pitch, so depth and image row depend on the forward distance only.
    """
    pitch, eye_h = _pitch(camera), float(camera.eye[0, 1])
    depth = np.maximum(forward_m * np.cos(pitch) + eye_h * np.sin(pitch), 0.05)  # (T, Z)
    up = forward_m * np.sin(pitch) - eye_h * np.cos(pitch)  # (T, Z) camera-space height
    cx, cy = camera.centre
    u = cx + camera.focal_px * lateral_m[:, :, None] / depth[:, None, :]  # (T, X, Z)
    v = np.broadcast_to((cy - camera.focal_px * up / depth)[:, None, :], u.shape)
    return np.stack([u, v], axis=-1)


@dataclass
class FloorFrames:
    """Per frame the dark tiles, and a key: frames with equal keys have identical floors (cacheable)."""

    tiles: list[np.ndarray]  # [T] (n, 4, 2) int32 fixed-point polygons
    key: list[int]  # [T] the eye's position modulo two tiles, quantised
    repeated: frozenset[int]  # keys that occur in more than one frame


def _quantised_eye(eye_g: np.ndarray, tile_m: float) -> tuple[np.ndarray, list[int], frozenset[int]]:
    """eye_g: (T, 2) metres -> the eye snapped to EYE_STEP_M, and per frame a key of its floor pattern."""
    steps = np.round(eye_g / EYE_STEP_M).astype(np.int64)  # (T, 2)
    period = int(round(2 * tile_m / EYE_STEP_M))  # the checkerboard repeats every two tiles
    phase = steps % period
    key = (phase[:, 0] * period + phase[:, 1]).tolist()
    values, counts = np.unique(key, return_counts=True)
    return steps * EYE_STEP_M, key, frozenset(values[counts > 1].tolist())


def floor_polygons(camera: CameraTrack, layout: FloorLayout) -> FloorFrames:
    """Per frame, the dark tiles in front of the eye up to far_m as fixed-point polygons (n, 4, 2) int32."""
    s = layout.tile_m
    right, forward = ground_axes(camera)
    eye_g = np.stack([camera.eye @ right, camera.eye @ forward], axis=1)  # (T, 2) eye in ground coordinates
    eye_g, key, repeated = _quantised_eye(eye_g, s)
    base = np.floor(eye_g / s).astype(np.int64)  # (T, 2) tile under the eye
    offsets = _tile_offsets(camera, layout)  # (N, 2) tiles relative to the eye's tile
    lateral = np.arange(offsets[:, 0].min(), offsets[:, 0].max() + 2)  # lattice lines around those tiles
    ahead = np.arange(offsets[:, 1].min(), offsets[:, 1].max() + 2)
    ahead_m = np.minimum((base[:, 1:] + ahead) * s - eye_g[:, 1:], layout.far_m)  # (T, Z) tiles cut at far_m
    lattice = _lattice_pixels(camera, (base[:, :1] + lateral) * s - eye_g[:, :1], ahead_m)
    lattice = np.round(lattice * (1 << SHIFT)).astype(np.int32)  # (T, X, Z, 2)
    i, k = offsets[:, 0] - lateral[0], offsets[:, 1] - ahead[0]  # (N,) lattice index of each tile's first corner
    polys = lattice[:, np.stack([i, i + 1, i + 1, i], 1), np.stack([k, k, k + 1, k + 1], 1)]  # (T, N, 4, 2)
    distance = (base[:, 1:] + offsets[:, 1] + 0.5) * s - eye_g[:, 1:]  # (T, N) forward distance of the tile centre
    dark = (base.sum(axis=1, keepdims=True) + offsets.sum(axis=1)) % 2 == 1  # (T, N)
    in_view = (distance + s / 2 > _bottom_distance(camera)) & (distance - s / 2 > 0.1)  # all corners ahead
    visible = dark & in_view & (distance - s / 2 < layout.far_m)
    return FloorFrames(tiles=[polys[t][visible[t]] for t in range(len(polys))], key=key, repeated=repeated)


def _pitch(camera: CameraTrack) -> float:
    """Angle of the optical axis below the horizontal, radians."""
    return float(np.arcsin(np.clip(-camera.rotation[2][1], -1.0, 1.0)))


def _bottom_distance(camera: CameraTrack) -> float:
    """Ground distance (metres, along the view direction) seen at the bottom edge of the image."""
    below = np.arctan(camera.height / 2.0 / camera.focal_px) + _pitch(camera)
    return float(camera.eye[0, 1] / np.tan(below)) if below > 1e-6 else float("inf")


def _mix(a, b, w) -> np.ndarray:
    """Blend colours a -> b by weight w (..., 1) in [0, 1]; a and b are RGB triples."""
    return np.asarray(a, np.float64) * (1 - w) + np.asarray(b, np.float64) * w


def background_image(camera: CameraTrack, sky, ground, layout: FloorLayout) -> np.ndarray:
    """(H, W, 3) uint8, read-only and shared: sky gradient above the horizon, floor hazing into it below."""
    pitch, eye_h = _pitch(camera), float(camera.eye[0, 1])
    return _background(tuple(int(c) for c in sky), tuple(int(c) for c in ground), round(pitch, 6), round(eye_h, 4),
                       camera.focal_px, camera.width, camera.height, layout)


@lru_cache(maxsize=64)
def _background(sky, ground, pitch: float, eye_h: float, focal_px: float, width: int, height: int,
                layout: FloorLayout) -> np.ndarray:
    rows = np.arange(height, dtype=np.float64) + 0.5
    horizon = height / 2.0 - focal_px * np.tan(pitch)
    below = np.arctan((rows - height / 2.0) / focal_px) + pitch  # angle of each row below the horizontal
    distance = np.where(below > 1e-6, eye_h / np.tan(np.maximum(below, 1e-6)), np.inf)  # (H,) metres
    haze = np.clip((distance - layout.far_m) / (layout.haze_m - layout.far_m), 0.0, 1.0)[:, None] ** 0.7
    horizon_sky = _mix(sky, (255, 255, 255), 0.35)
    ground_rows = _mix(ground, horizon_sky, haze)
    height_above = np.clip((horizon - rows) / max(horizon, 1.0), 0.0, 1.0)[:, None]
    sky_rows = _mix(horizon_sky, sky, height_above)
    colour = np.where((rows < horizon)[:, None], sky_rows, ground_rows)  # (H, 3)
    image = np.ascontiguousarray(np.broadcast_to(np.round(colour).astype(np.uint8)[:, None, :], (height, width, 3)))
    image.flags.writeable = False
    return image
