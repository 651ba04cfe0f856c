"""Projects the avatar's capsules and head sphere to fixed-point polygons for every frame, in painter's order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lavimo.render.avatars import BodyLook
from lavimo.render.body import SHIRT, SKIN, BodyModel
from lavimo.render.camera import CameraTrack
from lavimo.render.ground import SHIFT
from lavimo.render.light import Light, light_screen_direction

END_VERTICES = 6  # polygon vertices on each round end of a capsule (36 degree steps)
MIN_HIGHLIGHT_M = 0.05  # capsules thinner than this (forearms, feet) are too small to show a highlight
HIGHLIGHT_INSET = 0.2  # highlight strokes stop this fraction of the capsule's length short of each end
STRIPE_MIN_RADIUS_M = 0.09  # shirt capsules at least this thick (the trunk: spine, chest, neck) carry stripes
STRIPE_PERIOD_M = 0.12  # one stripe per this much of a capsule's length
STRIPE_WIDTH = 0.45  # a stripe's width, as a fraction of the period


@dataclass
class BodyFrames:
    """Per frame and capsule (the bones, then the head as a zero-length capsule): rim and base polygons.

    Highlights are grouped per part and colour slot so that one cv2.fillPoly call draws a group; they are
    inset from the capsule ends so that the strokes of one group do not overlap (fillPoly is even-odd).
    """

    order: list[list[tuple[int, list[int]]]]  # [T][parts] (part, its capsules), farthest first at both levels
    outline: np.ndarray  # (T, C, V, 2) int32 fixed point: dark rim, one pixel wider than the base
    base: np.ndarray  # (T, C, V, 2) int32
    highlights: list[list[tuple[int, np.ndarray]]]  # [parts] (a capsule of the group, (T, n, V, 2) int32 polygons)
    stripes: list[np.ndarray | None]  # [parts] (T, n, 4, 2) int32 bands across the part's trunk capsules, or None
    slots: list[int]  # [C] colour slot of each capsule


def _unit_capsule() -> np.ndarray:
    """(V, 2) unit-radius polygon of a capsule along +x: a half circle round end b, then one round end a."""
    sweep = np.linspace(-np.pi / 2, np.pi / 2, END_VERTICES)
    angles = np.concatenate([sweep, np.pi + sweep])
    return np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)


_UNIT_CAPSULE = _unit_capsule()  # the first END_VERTICES vertices go round end b, the others round end a


def capsule_rings(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a, b: (..., 2) end centres in pixels -> (..., V, 2) the unit-radius capsule outline turned along a -> b."""
    axis = b - a
    length = np.linalg.norm(axis, axis=-1, keepdims=True)
    direction = np.where(length > 1e-6, axis / np.maximum(length, 1e-6), np.array([1.0, 0.0])).astype(np.float32)
    c, s = direction[..., None, :1], direction[..., None, 1:]  # (..., 1, 1) cos, sin
    tx, ty = _UNIT_CAPSULE[:, :1], _UNIT_CAPSULE[:, 1:]  # (V, 1)
    return np.concatenate([c * tx - s * ty, s * tx + c * ty], axis=-1)


def capsule_polygons(a: np.ndarray, b: np.ndarray, radius: np.ndarray, ring: np.ndarray | None = None) -> np.ndarray:
    """a, b: (..., 2) end centres in pixels, radius: (...) pixels -> (..., V, 2) int32 fixed-point convex polygons."""
    ring = capsule_rings(a, b) if ring is None else ring
    scale = float(1 << SHIFT)
    points = ring * (radius * scale).astype(np.float32)[..., None, None]  # (..., V, 2), about the origin
    points[..., :END_VERTICES, :] += (b * scale).astype(np.float32)[..., None, :]
    points[..., END_VERTICES:, :] += (a * scale).astype(np.float32)[..., None, :]
    return np.rint(points, out=points).astype(np.int32)


def _towards_light(a: np.ndarray, b: np.ndarray, light2d: np.ndarray) -> np.ndarray:
    """a, b: (T, C, 2) -> (T, C, 2) unit offset across each capsule's axis, on the light's side."""
    axis = b - a
    normal = np.stack([-axis[..., 1], axis[..., 0]], axis=-1)
    length = np.linalg.norm(normal, axis=-1, keepdims=True)
    normal = np.where(length > 1e-6, normal / np.maximum(length, 1e-6), light2d)
    side = np.where(normal @ light2d < 0, -1.0, 1.0)[..., None]
    return normal * side


def capsule_ends(joints_m: np.ndarray, body: BodyModel, look: BodyLook):
    """(T, C, 3) both ends and (C,) radius in metres of every capsule; the head is the last, zero-length one."""
    neck, head = joints_m[:, body.neck_joint], joints_m[:, body.head_joint]  # (T, 3)
    up = (head - neck) / np.maximum(np.linalg.norm(head - neck, axis=1, keepdims=True), 1e-6)
    head_r = body.head_radius_m * look.head_scale
    head_centre = (head + 0.35 * head_r * up)[:, None]  # (T, 1, 3)
    a = np.concatenate([joints_m[:, body.bones[:, 0]], head_centre], axis=1)
    b = np.concatenate([joints_m[:, body.bones[:, 1]], head_centre], axis=1)
    return a, b, np.append(body.radii_m * look.limb_scale, head_r)


def screen_capsules(a_m: np.ndarray, b_m: np.ndarray, radius_m: np.ndarray, camera: CameraTrack):
    """Capsule ends (T, C, 3) and radii (C,) in metres -> ends (T, C, 2) and radii (T, C) in pixels, depth (T, C)."""
    a, a_depth = camera.project(a_m)
    b, b_depth = camera.project(b_m)
    depth = (a_depth + b_depth) / 2
    return a, b, radius_m * camera.focal_px / depth, depth


def _highlight_groups(parts: list[list[int]], slots: list[int], lit: np.ndarray, polygons: np.ndarray):
    """Per part, the lit capsules grouped by colour slot (the head alone): [(first capsule, (T, n, V, 2))]."""
    head = len(slots) - 1
    groups = []
    for part in parts:
        keys = {}
        for c in part:
            if lit[c]:
                keys.setdefault((slots[c], c == head), []).append(c)
        groups.append([(members[0], np.ascontiguousarray(polygons[:, members])) for members in keys.values()])
    return groups


def _painter_order(depth: np.ndarray, parts: list[list[int]]) -> list[list[tuple[int, list[int]]]]:
    """depth: (T, C) -> per frame the parts, farthest first, each with its capsules farthest first."""
    part_order = np.argsort(-np.stack([depth[:, p].mean(axis=1) for p in parts], axis=1), axis=1, kind="stable")
    inner = [np.asarray(p)[np.argsort(-depth[:, p], axis=1, kind="stable")].tolist() for p in parts]  # [parts][T][n]
    return [[(p, inner[p][t]) for p in row] for t, row in enumerate(part_order.tolist())]


def _stripe_bands(a: np.ndarray, b: np.ndarray, r: np.ndarray, count: int) -> np.ndarray:
    """a, b: (T, 2) one capsule's end centres, r: (T,) its radius, pixels -> (T, count, 4, 2) band corners, pixels."""
    axis = b - a
    length = np.linalg.norm(axis, axis=-1, keepdims=True)
    across = np.stack([-axis[:, 1], axis[:, 0]], axis=-1) / np.maximum(length, 1e-6) * (0.97 * r)[:, None]
    centres = (np.arange(count) + 0.5) / count  # (count,) fractions of the axis
    half = 0.5 * STRIPE_WIDTH / count
    corners = [(-half, -1.0), (half, -1.0), (half, 1.0), (-half, 1.0)]  # (along the axis, across it)
    return np.stack(
        [a[:, None] + (centres[None, :, None] + f) * axis[:, None] + s * across[:, None] for f, s in corners], axis=2
    )


def _stripes(
    parts: list[list[int]], body: BodyModel, a: np.ndarray, b: np.ndarray, r: np.ndarray, length_m: np.ndarray
) -> list[np.ndarray | None]:
    """Per part, the stripe bands of its thick shirt capsules: (T, n, 4, 2) int32 fixed point, or None.

    a, b: (T, C, 2) capsule ends and r: (T, C) radii in pixels; length_m: (C,) capsule lengths in metres.
    """
    thick = (body.slots == SHIRT) & (body.radii_m >= STRIPE_MIN_RADIUS_M)  # (C - 1,): the head is never striped
    stripes = []
    for part in parts:
        bands = [
            _stripe_bands(a[:, c], b[:, c], r[:, c], max(1, round(length_m[c] / STRIPE_PERIOD_M)))
            for c in part
            if c < len(thick) and thick[c]
        ]
        stripes.append(np.round(np.concatenate(bands, axis=1) * (1 << SHIFT)).astype(np.int32) if bands else None)
    return stripes


def body_frames(joints_m: np.ndarray, body: BodyModel, look: BodyLook, light: Light, camera: CameraTrack) -> BodyFrames:
    """joints_m: (T, J, 3) metres -> the polygons of every capsule per frame, and the drawing order."""
    a_m, b_m, radius_m = capsule_ends(joints_m, body, look)
    a, b, r, depth = screen_capsules(a_m, b_m, radius_m, camera)  # (T, C, 2) twice, (T, C) base radius px, depth
    edge = max(1.0, camera.height / 256)  # outline width, pixels
    shift = _towards_light(a, b, light_screen_direction(camera.rotation, light)) * (0.45 * r)[..., None]
    inset = HIGHLIGHT_INSET * (b - a)
    head = len(radius_m) - 1
    parts = [list(map(int, p)) + ([head] if i == body.head_part else []) for i, p in enumerate(body.parts)]
    ring = capsule_rings(a, b)  # (T, C, V, 2)
    slots = body.slots.tolist() + [SKIN]
    highlight = capsule_polygons(a + shift + inset, b + shift - inset, 0.3 * r, ring)
    return BodyFrames(
        order=_painter_order(depth, parts),
        outline=capsule_polygons(a, b, r + edge, ring),
        base=capsule_polygons(a, b, r, ring),
        highlights=_highlight_groups(parts, slots, radius_m >= MIN_HIGHLIGHT_M, highlight),
        stripes=(
            _stripes(parts, body, a, b, r, np.linalg.norm(b_m[0] - a_m[0], axis=-1))
            if look.stripe is not None
            else [None] * len(parts)
        ),
        slots=slots,
    )
