"""The scene's single directional light: where it comes from, how strongly it shades the body and darkens the floor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RIM_SHADE = 0.45  # at strength 1: a capsule's rim keeps this fraction of its colour
HIGHLIGHT_SHADE = 1.45  # at strength 1: a highlight moves this far towards white (1 = none, 2 = white)
SHADOW_LEFT = 0.55  # at strength 1: a full shadow leaves this fraction of the floor's brightness


@dataclass(frozen=True)
class Light:
    """One clip's light, in the motion's first-frame facing frame (y up, the body faces +z)."""

    azimuth_deg: float  # where the light comes from, around y: 0 = +z (in front of the body), 90 = +x
    elevation_deg: float  # above the horizon
    strength: float  # 0 = flat, no shadow; 1 = the first renderer's contrast; shading factors are powers of it

    @property
    def to(self) -> np.ndarray:
        """(3,) unit world vector pointing towards the light."""
        a, e = np.deg2rad(self.azimuth_deg), np.deg2rad(self.elevation_deg)
        return np.array([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)])

    @property
    def shadow_grey(self) -> int:
        """0..255: what a full shadow multiplies the floor by (255 = no shadow)."""
        return int(round(255 * SHADOW_LEFT**self.strength))


def light_screen_direction(rotation: np.ndarray, light: Light) -> np.ndarray:
    """rotation: (3, 3) world -> camera; returns the (2,) unit image direction (x right, y down) towards the light."""
    cam = rotation @ light.to
    d = np.array([cam[0], -cam[1]])
    return d / max(float(np.linalg.norm(d)), 1e-9)


def on_floor(points_m: np.ndarray, light: Light) -> np.ndarray:
    """points_m: (..., 3) metres -> (..., 3) where the light's ray through each point meets the floor y = 0."""
    to = light.to
    height = np.maximum(points_m[..., 1:2], 0.0)
    floor = points_m - height / to[1] * to
    floor[..., 1] = 0.0
    return floor
