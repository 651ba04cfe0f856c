"""The floor y=0 seen through the moving camera: dark polygons (a checkerboard, blotches) on a plain floor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lavimo.render.avatars import RGB
from lavimo.render.camera import CameraTrack

FLOOR_KINDS = ("checker", "plain", "blotches")
SHIFT = 2  # fixed-point fraction bits of every pixel coordinate handed to cv2 (quarter pixels)
EYE_STEP_M = 0.002  # the floor is drawn for the eye snapped to this grid, so that equal floors can be reused
FAR_M = 8.0  # the pattern reaches at least this far ahead of the eye (cut along a straight line); beyond, haze
FAR_PER_LOOK_DISTANCE = 1.8  # ... and at least this many times the distance to the look-at point
HAZE_PER_FAR = 5.0  # the haze reaches the sky colour at this many times the pattern's reach
BLOTCH_VERTICES = 8


@dataclass(frozen=True)
class FloorLayout:
    """One clip's floor; distances are metres along the ground."""

    kind: str  # checker | plain | blotches
    tile_m: float  # side of a checkerboard tile, and of the cell that holds up to four blotches
    colour: RGB  # the floor itself (light tiles), hazing into the sky far away
    colour_alt: RGB  # dark tiles, blotches
    seed: int  # shapes of the blotches

    def __post_init__(self) -> None:
        if self.kind not in FLOOR_KINDS:
            raise ValueError(f"floor kind must be one of {FLOOR_KINDS}, got {self.kind!r}")
        if self.tile_m <= 0:
            raise ValueError(f"floor tile_m must be > 0, got {self.tile_m}")


def farthest_ahead(camera: CameraTrack, points_m: np.ndarray) -> float:
    """points_m: (T, N, 3) -> the largest horizontal distance ahead of the eye of any point in its frame, metres."""
    _, forward = ground_axes(camera)
    return float(np.max((points_m - camera.eye[:, None, :]) @ forward))


def floor_reach(camera: CameraTrack, subject_m: float) -> tuple[float, float]:
    """(far_m, haze_m): where the pattern stops and where the haze ends; the body is subject_m ahead at most."""
    far = max(FAR_M, FAR_PER_LOOK_DISTANCE * camera.look_distance_m, subject_m + 1.0)
    return far, HAZE_PER_FAR * far


def ground_axes(camera: CameraTrack) -> tuple[np.ndarray, np.ndarray]:
    """Unit world vectors (3,) along the ground: the camera's right and its forward direction."""
    right = camera.rotation[0] * np.array([1.0, 0.0, 1.0])
    forward = camera.rotation[2] * np.array([1.0, 0.0, 1.0])
    return right / np.linalg.norm(right), forward / np.linalg.norm(forward)


def _tile_offsets(camera: CameraTrack, tile_m: float, far_m: float) -> np.ndarray:
    """(N, 2) int tile offsets (lateral, forward) from the eye's tile that can be on screen."""
    half_fov = np.arctan(camera.width / 2.0 / camera.focal_px)
    forward = np.arange(0, int(np.ceil(far_m / tile_m)) + 1)
    reach = int(np.ceil(far_m * np.tan(half_fov) / tile_m)) + 2  # tiles to each side at the far end
    lateral = np.arange(-reach, reach)
    di, dk = np.meshgrid(lateral, forward, indexing="ij")
    keep = np.abs(di + 0.5) * tile_m <= (dk + 1) * tile_m * np.tan(half_fov) + 2 * tile_m
    return np.stack([di[keep], dk[keep]], axis=1)


def _cell_polygons(layout: FloorLayout) -> tuple[np.ndarray, np.ndarray]:
    """The pattern of a tile, by the parity class 2 * (i % 2) + (k % 2) of its (lateral i, forward k) index.

    Returns (4, P, V, 2) polygon corners in tile units (lateral, forward in [0, 1]) and (4, P) which exist.
    Blotches sit one per quarter of a tile at most, so no two overlap (cv2.fillPoly fills overlaps even-odd).
    """
    if layout.kind == "checker":
        square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
        return np.broadcast_to(square, (4, 1, 4, 2)), np.array([[False], [True], [True], [False]])
    rng = np.random.default_rng(layout.seed)
    quarters = np.array([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])  # (4, 2) quarter centres
    radius = rng.uniform(0.08, 0.22, (4, 4))  # (classes, quarters) in tile units
    centre = quarters + rng.uniform(-1, 1, (4, 4, 2)) * (0.24 - radius)[..., None]
    angles = 2 * np.pi * (np.arange(BLOTCH_VERTICES) + rng.uniform(0, 1, (4, 4, 1))) / BLOTCH_VERTICES  # (4, 4, V)
    wobble = radius[..., None] * rng.uniform(0.6, 1.0, angles.shape)
    polygons = centre[:, :, None, :] + wobble[..., None] * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    return polygons, rng.random((4, 4)) < 0.6  # (4, 4, V, 2), (4, 4)


@dataclass
class FloorFrames:
    """Per frame the dark polygons, and a key: frames with equal keys have identical floors (cacheable)."""

    tiles: list[np.ndarray]  # [T] (n, V, 2) int32 fixed-point polygons
    key: list[int]  # [T] the eye's position modulo two tiles, quantised
    repeated: frozenset[int]  # keys that occur in more than one frame


def _floor_key(steps: np.ndarray, tile_m: float) -> tuple[list[int], frozenset[int]]:
    """steps: (T, 2) the eye in EYE_STEP_M -> per frame a key of its floor pattern, and the keys seen twice."""
    period = int(round(2 * tile_m / EYE_STEP_M))  # every pattern repeats every two tiles
    phase = steps % period
    key = (phase[:, 0] * period + phase[:, 1]).tolist()
    values, counts = np.unique(key, return_counts=True)
    return key, frozenset(values[counts > 1].tolist())


def floor_polygons(camera: CameraTrack, layout: FloorLayout, far_m: float) -> FloorFrames:
    """Per frame, the pattern's polygons in front of the eye up to far_m, fixed point (n, V, 2) int32."""
    right, forward = ground_axes(camera)
    eye_g = np.stack([camera.eye @ right, camera.eye @ forward], axis=1)  # (T, 2) eye in ground coordinates
    steps = np.round(eye_g / EYE_STEP_M).astype(np.int64)  # (T, 2)
    key, repeated = _floor_key(steps, layout.tile_m)
    if layout.kind == "plain":
        return FloorFrames(tiles=[np.zeros((0, 4, 2), np.int32)] * len(key), key=key, repeated=repeated)
    unique, inverse = np.unique(steps, axis=0, return_inverse=True)  # frames with one eye share one floor
    tiles = _visible_polygons(camera, layout, far_m, unique * EYE_STEP_M)
    return FloorFrames(tiles=[tiles[u] for u in inverse.reshape(-1).tolist()], key=key, repeated=repeated)


def _visible_polygons(camera: CameraTrack, layout: FloorLayout, far_m: float, eye_g: np.ndarray) -> list[np.ndarray]:
    """eye_g: (U, 2) snapped eye positions in ground coordinates -> [U] (n, V, 2) int32 polygons each."""
    s = layout.tile_m
    base = np.floor(eye_g / s).astype(np.int64)  # (U, 2) tile under the eye
    offsets = _tile_offsets(camera, s, far_m)  # (N, 2) tiles relative to the eye's tile
    cells = base[:, None, :] + offsets  # (U, N, 2) absolute tile indices
    shapes, exists = _cell_polygons(layout)  # (4, P, V, 2), (4, P)
    parity = 2 * (cells[..., 0] % 2) + cells[..., 1] % 2  # (U, N)
    corners = cells[:, :, None, None, :] + shapes[parity]  # (U, N, P, V, 2) in tiles
    eye = eye_g[:, None, None, None, :]  # (U, 1, 1, 1, 2)
    lateral = corners[..., 0] * s - eye[..., 0]
    ahead = np.minimum(corners[..., 1] * s - eye[..., 1], far_m)  # cut at far_m
    pixels = np.round(_ground_pixels(camera, lateral, ahead) * (1 << SHIFT)).astype(np.int32)  # (U, N, P, V, 2)
    distance = (cells[..., 1] + 0.5) * s - eye_g[:, None, 1]  # (U, N) forward distance of the tile centre
    in_view = (distance + s / 2 > _bottom_distance(camera)) & (distance - s / 2 > 0.1)  # all corners ahead
    visible = (in_view & (distance - s / 2 < far_m))[..., None] & exists[parity]  # (U, N, P)
    return [pixels[u][visible[u]] for u in range(len(eye_g))]


def _ground_pixels(camera: CameraTrack, lateral_m: np.ndarray, forward_m: np.ndarray) -> np.ndarray:
    """Floor points relative to the eye, lateral_m and forward_m (...) metres -> (..., 2) pixels.

    The camera never rolls or changes pitch, so depth and image row depend on the forward distance only.
    """
    pitch, eye_h = camera.pitch, float(camera.eye[0, 1])
    depth = np.maximum(forward_m * np.cos(pitch) + eye_h * np.sin(pitch), 0.05)
    up = forward_m * np.sin(pitch) - eye_h * np.cos(pitch)  # camera-space height
    cx, cy = camera.centre
    return np.stack([cx + camera.focal_px * lateral_m / depth, cy - camera.focal_px * up / depth], axis=-1)


def _bottom_distance(camera: CameraTrack) -> float:
    """Ground distance (metres, along the view direction) seen at the bottom edge of the image."""
    below = np.arctan(camera.height / 2.0 / camera.focal_px) + camera.pitch
    return float(camera.eye[0, 1] / np.tan(below)) if below > 1e-6 else float("inf")
