"""The body's soft shadow: each part's joints projected on the floor along the light, stroked in a small region."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lavimo.render.avatars import BodyLook
from lavimo.render.body import BodyModel
from lavimo.render.camera import CameraTrack
from lavimo.render.ground import SHIFT
from lavimo.render.light import Light, on_floor


@dataclass
class ShadowFrames:
    """Per frame: a region of interest and one stroke per body part in it (fixed point, relative to the region)."""

    roi: list[tuple[int, int, int, int] | None]  # [T] x0, y0, x1, y1 in whole pixels; None when off screen
    strokes: list[list[tuple[np.ndarray, int]]]  # [T][parts] polyline (n, 2) int32 and its thickness in pixels
    head: list[tuple[tuple[int, int], int]]  # [T] head blob centre and radius, fixed point
    blur: int  # box blur size, pixels
    grey: int  # 0..255, what a full shadow multiplies the floor by


def _regions(points_uv: np.ndarray, pad: np.ndarray, size: int) -> list[tuple[int, int, int, int] | None]:
    """points_uv: (T, N, 2) pixels, pad: (T,) pixels -> per frame the bounding box clipped to the image."""
    lo = np.floor(points_uv.min(axis=1) - pad[:, None]).clip(0, size).astype(np.int64)  # (T, 2)
    hi = np.ceil(points_uv.max(axis=1) + pad[:, None]).clip(0, size).astype(np.int64)
    box = np.concatenate([lo, hi], axis=1).tolist()  # [T] x0, y0, x1, y1
    on_screen = (hi > lo).all(axis=1).tolist()
    return [tuple(b) if ok else None for b, ok in zip(box, on_screen)]


def shadow_frames(
    joints_m: np.ndarray, body: BodyModel, look: BodyLook, light: Light, camera: CameraTrack
) -> ShadowFrames:
    """joints_m: (T, J, 3) metres -> per frame a floor stroke per part (its mean capsule width) and a head blob."""
    uv, depth = camera.project(on_floor(joints_m, light))  # (T, J, 2), (T, J)
    capsule_depth = (depth[:, body.bones[:, 0]] + depth[:, body.bones[:, 1]]) / 2  # (T, C)
    width = 2 * body.radii_m * look.limb_scale * camera.focal_px / capsule_depth  # (T, C) pixels
    part_width = np.stack([width[:, list(p)].mean(axis=1) for p in body.parts], axis=1)  # (T, parts)
    head_uv, head_depth = camera.project(on_floor(joints_m[:, [body.head_joint]], light))  # (T, 1, 2), (T, 1)
    head_r = body.head_radius_m * look.head_scale * camera.focal_px / head_depth[:, 0]  # (T,)
    blur = 2 * max(1, round(camera.height / 64)) + 1
    pad = np.maximum(width.max(axis=1), 2 * head_r) / 2 + blur
    roi = _regions(np.concatenate([uv, head_uv], axis=1), pad, camera.width)
    origin = np.array([r[:2] if r else (0, 0) for r in roi], np.float64)[:, None, :]  # (T, 1, 2)
    fixed = np.round((uv - origin) * (1 << SHIFT)).astype(np.int32)  # (T, J, 2)
    lines = [np.ascontiguousarray(fixed[:, list(joints)]) for joints in body.part_joints]  # [parts] (T, n, 2)
    thickness = part_width.round().clip(1).astype(int).tolist()  # [T][parts]
    strokes = [[(line[t], w) for line, w in zip(lines, thickness[t])] for t in range(len(joints_m))]
    head_c = np.round((head_uv[:, 0] - origin[:, 0]) * (1 << SHIFT)).astype(int).tolist()
    head_rf = np.round(head_r * (1 << SHIFT)).astype(int).tolist()
    return ShadowFrames(
        roi=roi,
        strokes=strokes,
        head=[(tuple(c), r) for c, r in zip(head_c, head_rf)],
        blur=blur,
        grey=light.shadow_grey,
    )
