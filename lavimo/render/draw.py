"""Rasterises one frame of a ClipScene with a few dozen OpenCV calls: floor, soft shadow, shaded capsules, finish."""

from __future__ import annotations

import cv2
import numpy as np

from lavimo.render.finish import apply_finish
from lavimo.render.ground import SHIFT
from lavimo.render.scene import ClipScene

AA = cv2.LINE_AA
FLOOR_CACHE_SIZE = 64  # floors kept per clip (256x256: 12 MB at most)


def draw_frame(image: np.ndarray, scene: ClipScene, t: int) -> np.ndarray:
    """image: (H, W, 3) uint8 RGB, overwritten with frame t of the clip; returned for convenience."""
    draw_floor(image, scene, t)
    draw_shadow(image, scene, t)
    draw_body(image, scene, t)
    apply_finish(image, scene.finish, t)
    return image


def draw_floor(image: np.ndarray, scene: ClipScene, t: int) -> None:
    """Backdrop, the floor's pattern, a room's walls; reused from the clip's cache when the camera repeats."""
    floor, backdrop = scene.floor, scene.backdrop
    key = floor.key[t]
    cached = scene.floor_cache.get(key)
    if cached is not None:
        np.copyto(image, cached)
        return
    np.copyto(image, backdrop.image)
    if len(floor.tiles[t]):
        cv2.fillPoly(image, floor.tiles[t], scene.colours["floor"], AA, SHIFT)
    if backdrop.walls is not None:
        cv2.copyTo(backdrop.walls, backdrop.wall_mask, image)
    if key in floor.repeated and len(scene.floor_cache) < FLOOR_CACHE_SIZE:
        scene.floor_cache[key] = image.copy()


def draw_shadow(image: np.ndarray, scene: ClipScene, t: int) -> None:
    """Darkens the floor under the body: part strokes drawn into a small grey mask, box-blurred, multiplied in."""
    roi = scene.shadow.roi[t]
    if roi is None:
        return
    x0, y0, x1, y1 = roi
    shade = np.full((y1 - y0, x1 - x0), 255, np.uint8)  # 255 = no shadow
    for line, thickness in scene.shadow.strokes[t]:
        cv2.polylines(shade, [line], False, scene.shadow.grey, thickness, cv2.LINE_8, SHIFT)
    centre, radius = scene.shadow.head[t]
    cv2.circle(shade, centre, radius, scene.shadow.grey, -1, cv2.LINE_8, SHIFT)
    k = scene.shadow.blur
    shade = cv2.cvtColor(cv2.blur(shade, (k, k)), cv2.COLOR_GRAY2RGB)
    region = image[y0:y1, x0:x1]
    cv2.multiply(region, shade, dst=region, scale=1.0 / 255.0)


def draw_body(image: np.ndarray, scene: ClipScene, t: int) -> None:
    """Parts farthest first; inside a part all dark rims (anti-aliased), base colours, stripes, then highlights."""
    body, colours = scene.body, scene.colours
    outline, base = body.outline[t], body.base[t]
    for p, capsules in body.order[t]:
        for c in capsules:
            cv2.fillConvexPoly(image, outline[c], colours["outline"][c], AA, SHIFT)
        for c in capsules:
            cv2.fillConvexPoly(image, base[c], colours["base"][c], cv2.LINE_8, SHIFT)
        if body.stripes[p] is not None:
            for band in body.stripes[p][t]:
                cv2.fillConvexPoly(image, band, colours["stripe"], cv2.LINE_8, SHIFT)
        for c, polygons in body.highlights[p]:
            cv2.fillPoly(image, polygons[t], colours["highlight"][c], cv2.LINE_8, SHIFT)
