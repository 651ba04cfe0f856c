"""The scene's single directional light: where it comes from and how dark its shadow is."""

from __future__ import annotations

import numpy as np

# Unit world vector pointing towards the light (y up): high, from the camera's right-front, so the
# shadow falls behind and to the left of the body, where the camera sees it.
LIGHT_TO = np.array([0.55, 1.6, 0.45]) / np.linalg.norm([0.55, 1.6, 0.45])
SHADOW_DARKNESS = 0.45  # fraction of the floor's brightness a full shadow removes


def light_screen_direction(rotation: np.ndarray) -> np.ndarray:
    """rotation: (3, 3) world -> camera; returns the (2,) unit image direction (x right, y down) towards the light."""
    cam = rotation @ LIGHT_TO
    d = np.array([cam[0], -cam[1]])
    return d / max(float(np.linalg.norm(d)), 1e-9)


def on_floor(points_m: np.ndarray) -> np.ndarray:
    """points_m: (..., 3) metres -> (..., 3) where the light's ray through each point meets the floor y = 0."""
    height = np.maximum(points_m[..., 1:2], 0.0)
    floor = points_m - height / LIGHT_TO[1] * LIGHT_TO
    floor[..., 1] = 0.0
    return floor
