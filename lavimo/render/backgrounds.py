"""Procedural backdrops behind the floor: a sky gradient, noise, stripes or tiles above the horizon, or a room.

A backdrop is drawn once per clip, in screen space: the camera never turns, so a backdrop far away does not move.
The room's walls are drawn over the floor pattern (they hide the floor behind them) and move with the camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from lavimo.render.avatars import RGB
from lavimo.render.camera import CameraTrack

BACKDROP_KINDS = ("sky", "noise", "stripes", "tiles", "room")
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Backdrop:
    """What is behind the body and the floor."""

    kind: str  # sky | noise | stripes | tiles | room
    colour: RGB  # the sky; the texture's first colour; the room's walls
    colour_alt: RGB  # the texture's second colour; the room's ceiling
    seed: int  # of the texture or the room's size

    def __post_init__(self) -> None:
        if self.kind not in BACKDROP_KINDS:
            raise ValueError(f"backdrop kind must be one of {BACKDROP_KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class BackdropImages:
    """Read-only pictures, shared between clips that look alike."""

    image: np.ndarray  # (H, W, 3) uint8: the backdrop above the horizon, the floor hazing into it below
    walls: np.ndarray | None  # (H, W, 3) uint8 the room's walls and ceiling, drawn over the floor pattern
    wall_mask: np.ndarray | None  # (H, W) uint8, 1 where the walls are (for cv2.copyTo)


def backdrop_images(
    camera: CameraTrack, backdrop: Backdrop, floor_colour: RGB, far_m: float, haze_m: float, subject_m: float
) -> BackdropImages:
    """The clip's backdrop; subject_m: how far ahead of the eye (horizontally) the body gets, for the room's wall."""
    wall_m = round(subject_m, 2) if backdrop.kind == "room" else 0.0  # other kinds: one cache entry for any body
    eye_h = round(float(camera.eye[0, 1]), 4)
    return _images(
        backdrop,
        tuple(int(c) for c in floor_colour),
        round(camera.pitch, 6),
        eye_h,
        camera.focal_px,
        camera.width,
        camera.height,
        far_m,
        haze_m,
        wall_m,
    )


def _mix(a, b, w) -> np.ndarray:
    """Blend colours a -> b by weight w (..., 1) in [0, 1]; a and b are RGB triples."""
    return np.asarray(a, np.float64) * (1 - w) + np.asarray(b, np.float64) * w


def _frozen(image: np.ndarray) -> np.ndarray:
    image.flags.writeable = False
    return image


@lru_cache(maxsize=64)
def _images(
    backdrop: Backdrop,
    floor: RGB,
    pitch: float,
    eye_h: float,
    focal_px: float,
    width: int,
    height: int,
    far_m: float,
    haze_m: float,
    subject_m: float,
) -> BackdropImages:
    rows = np.arange(height, dtype=np.float64) + 0.5
    horizon = height / 2.0 - focal_px * np.tan(pitch)
    below = np.arctan((rows - height / 2.0) / focal_px) + pitch  # angle of each row below the horizontal
    distance = np.where(below > 1e-6, eye_h / np.tan(np.maximum(below, 1e-6)), np.inf)  # (H,) metres
    haze = np.clip((distance - far_m) / (haze_m - far_m), 0.0, 1.0)[:, None] ** 0.7
    horizon_sky = _mix(backdrop.colour, WHITE, 0.35)
    floor_rows = _mix(floor, horizon_sky, haze)[:, None, :]  # (H, 1, 3)
    rng = np.random.default_rng(backdrop.seed)
    if backdrop.kind == "sky":
        height_above = np.clip((horizon - rows) / max(horizon, 1.0), 0.0, 1.0)[:, None]
        above = _mix(horizon_sky, backdrop.colour, height_above)[:, None, :]  # (H, 1, 3)
    else:
        above = _mix(backdrop.colour, backdrop.colour_alt, _TEXTURES[backdrop.kind](rng, height, width))
    colour = np.where((rows < horizon)[:, None, None], above, floor_rows)  # (H, W or 1, 3)
    image = np.ascontiguousarray(np.broadcast_to(np.round(colour).astype(np.uint8), (height, width, 3)))
    if backdrop.kind != "room":
        return BackdropImages(_frozen(image), None, None)
    walls, mask = _room(rng, backdrop, pitch, eye_h, focal_px, width, height, subject_m)
    return BackdropImages(_frozen(image), _frozen(walls), _frozen(mask))


def _flat(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 1) zeros: the first colour everywhere (behind a room's walls)."""
    return np.zeros((height, width, 1))


def _noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 1) in [0, 1]: value noise, a coarse grid of random values and a finer one, smoothly interpolated."""
    cells = int(rng.integers(3, 8))
    field = np.zeros((height, width), np.float32)
    for grid, weight in ((cells, 0.7), (3 * cells, 0.3)):
        values = rng.random((grid + 1, grid + 1)).astype(np.float32)
        field += weight * cv2.resize(values, (width, height), interpolation=cv2.INTER_CUBIC)
    low, high = float(field.min()), float(field.max())
    return ((field - low) / max(high - low, 1e-6))[..., None]


def _stripes(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 1) in [0, 1]: straight bands at a random angle and period, edges about a pixel wide."""
    angle = rng.uniform(0, np.pi)
    period = height * rng.uniform(0.05, 0.2)  # pixels
    y, x = np.mgrid[0:height, 0:width] + 0.5
    wave = np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period + rng.uniform(0, 2 * np.pi))
    return np.clip(0.5 + wave * period / (2 * np.pi), 0.0, 1.0)[..., None]


def _tiles(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 1) in [0, 1]: square tiles of slightly varied shade (0..0.2) with grout lines (1) between them."""
    side = height * rng.uniform(0.06, 0.16)  # pixels
    grout = max(1.0, 0.08 * side)
    y, x = np.mgrid[0:height, 0:width] + rng.uniform(0, side, 2)[:, None, None]
    shade = 0.2 * rng.random((int(height / side) + 2, int(width / side) + 2))
    weight = shade[(y // side).astype(int), (x // side).astype(int)]
    on_grout = (y % side < grout) | (x % side < grout)
    return np.where(on_grout, 1.0, weight)[..., None]


_TEXTURES = {"noise": _noise, "stripes": _stripes, "tiles": _tiles, "room": _flat}


def _room(
    rng: np.random.Generator,
    backdrop: Backdrop,
    pitch: float,
    eye_h: float,
    focal_px: float,
    width: int,
    height: int,
    subject_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """A box room around the camera: back wall beyond the body, side walls, a ceiling above the eye.

    Returns the walls' colours (H, W, 3) uint8 and where a pixel's ray meets a wall before the floor (H, W) uint8.
    """
    back = subject_m + rng.uniform(1.0, 3.5)  # metres ahead of the eye
    side = back * np.tan(np.arctan(width / 2.0 / focal_px)) * rng.uniform(0.5, 0.95)  # metres to each side
    ceiling = max(rng.uniform(2.6, 3.6), eye_h + 0.3)  # metres above the floor
    y, x = np.mgrid[0:height, 0:width] + 0.5
    lateral, lift = (x - width / 2.0) / focal_px, -(y - height / 2.0) / focal_px  # camera-space ray, z = 1
    up = lift * np.cos(pitch) - np.sin(pitch)  # the ray in ground axes: lateral, up, ahead
    ahead = lift * np.sin(pitch) + np.cos(pitch)
    with np.errstate(divide="ignore"):
        hits = np.stack(
            [
                np.where(ahead > 0, back / ahead, np.inf),
                side / np.abs(lateral),
                np.where(up > 0, (ceiling - eye_h) / up, np.inf),
                np.where(up < 0, -eye_h / up, np.inf),
            ]
        )  # (4, H, W): back, side, ceiling, floor
    nearest = np.argmin(hits, axis=0)  # (H, W)
    hit_height = eye_h + hits.min(axis=0) * up
    palette = np.array([backdrop.colour, _mix(backdrop.colour, (0, 0, 0), 0.2), backdrop.colour_alt, (0, 0, 0)])
    walls = palette[nearest]  # (H, W, 3)
    skirting = (hit_height < 0.12) & (nearest < 2)
    walls[skirting] = _mix(walls[skirting], (0, 0, 0), 0.45)
    return np.round(walls).astype(np.uint8), (nearest < 3).astype(np.uint8)
