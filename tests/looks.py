"""The first renderer's look, built explicitly from its constants, for tests that need a fixed look."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from lavimo.config import load_config
from lavimo.render.avatars import AvatarStyle
from lavimo.render.backgrounds import Backdrop
from lavimo.render.camera import CameraRig
from lavimo.render.config import RenderConfig
from lavimo.render.finish import Finish
from lavimo.render.ground import FloorLayout
from lavimo.render.light import Light
from lavimo.render.randomise import ClipLook

CPU_DEMO = Path(__file__).resolve().parents[1] / "ray_configs" / "cpu_demo.yaml"
# The first renderer: eye 4.2 m from the followed pelvis and 1.1 m above it, 25 degrees off the front, fov 35;
# light towards (0.55, 1.6, 0.45); 1 m checkerboard under a sky gradient; CRF 23, no blur, no noise.
CLASSIC_CAMERA = CameraRig(
    yaw_deg=25.0,
    elevation_deg=math.degrees(math.atan2(1.1, 4.2)),
    distance_m=math.hypot(4.2, 1.1),
    fov_deg=35.0,
    follow=True,
    keep_in_view=False,
)
CLASSIC_LIGHT = Light(math.degrees(math.atan2(0.55, 0.45)), math.degrees(math.atan2(1.6, math.hypot(0.55, 0.45))), 1.0)


def classic_look(style: AvatarStyle, **changes) -> ClipLook:
    """The first renderer's look of `style`; `changes` replace fields (camera=..., light=...)."""
    look = ClipLook(
        style.name,
        CLASSIC_CAMERA,
        style.body_look(),
        Backdrop("sky", style.sky, style.sky, 0),
        FloorLayout("checker", 1.0, style.ground, style.ground_alt, 0),
        CLASSIC_LIGHT,
        Finish(0.0, 0.0, 23, 0),
    )
    return dataclasses.replace(look, **changes)


def pinned_settings(**changes) -> RenderConfig:
    """cpu_demo's render settings: every range pinned to the first renderer's look."""
    return load_config(CPU_DEMO).render.replace(**changes)
