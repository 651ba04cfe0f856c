"""How the avatar's body looks (proportions, colours), and the 13 avatar styles: a body look with scene colours."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

RGB = tuple[int, int, int]  # 0..255 per channel, red first


def _check_colour(owner: str, field: str, colour) -> None:
    if len(colour) != 3 or not all(0 <= int(c) <= 255 for c in colour):
        raise ValueError(f"{owner}: {field} must be 3 values in 0..255, got {colour}")


@dataclass(frozen=True)
class BodyLook:
    """One clip's body: capsule proportions and the colours of its four colour slots, and optional shirt stripes."""

    limb_scale: float  # multiplies the radius of every capsule (bone)
    head_scale: float  # multiplies the radius of the head sphere
    skin: RGB  # head, neck, forearms
    shirt: RGB  # torso, collars, upper arms
    trousers: RGB  # hips, thighs, shins
    shoes: RGB  # feet
    stripe: RGB | None = None  # bands across the shirt's trunk; None = a plain shirt

    def __post_init__(self) -> None:
        if self.limb_scale <= 0 or self.head_scale <= 0:
            raise ValueError("body look: limb_scale and head_scale must be > 0")
        for field in ("skin", "shirt", "trousers", "shoes") + (("stripe",) if self.stripe is not None else ()):
            _check_colour("body look", field, getattr(self, field))


@dataclass(frozen=True)
class AvatarStyle:
    """One of the fixed avatar looks: a body look (no stripes) and the scene's colours."""

    name: str
    body: BodyLook
    sky: RGB  # background above the horizon
    ground: RGB  # light floor tiles
    ground_alt: RGB  # dark floor tiles

    def __post_init__(self) -> None:
        for field in ("sky", "ground", "ground_alt"):
            _check_colour(f"avatar style {self.name!r}", field, getattr(self, field))

    def body_look(self, limb_scale: float = 1.0, head_scale: float = 1.0, stripe: RGB | None = None) -> BodyLook:
        """The style's body, its proportions multiplied by the given scales, with the given stripes."""
        return dataclasses.replace(
            self.body,
            limb_scale=self.body.limb_scale * limb_scale,
            head_scale=self.body.head_scale * head_scale,
            stripe=stripe,
        )


def _style(name, limb, head, skin, shirt, trousers, shoes, sky, ground, ground_alt) -> AvatarStyle:
    return AvatarStyle(name, BodyLook(limb, head, skin, shirt, trousers, shoes), sky, ground, ground_alt)


_LIGHT_SKIN, _TAN_SKIN, _OLIVE_SKIN, _BROWN_SKIN, _DARK_SKIN = (
    (242, 206, 178),
    (222, 172, 130),
    (198, 150, 106),
    (150, 100, 66),
    (98, 64, 44),
)

AVATAR_STYLES: tuple[AvatarStyle, ...] = (
    _style(
        "red_jeans",
        1.00,
        1.00,
        _LIGHT_SKIN,
        (200, 40, 40),
        (50, 70, 130),
        (40, 40, 40),
        (190, 210, 235),
        (205, 205, 200),
        (150, 150, 145),
    ),
    _style(
        "green_khaki",
        1.05,
        0.95,
        _TAN_SKIN,
        (50, 150, 70),
        (185, 160, 110),
        (90, 55, 30),
        (215, 225, 240),
        (200, 195, 180),
        (140, 135, 120),
    ),
    _style(
        "blue_black",
        0.95,
        1.05,
        _BROWN_SKIN,
        (40, 90, 200),
        (35, 35, 40),
        (230, 230, 230),
        (225, 215, 200),
        (210, 200, 185),
        (160, 145, 125),
    ),
    _style(
        "yellow_grey",
        1.10,
        1.00,
        _OLIVE_SKIN,
        (235, 200, 40),
        (110, 110, 115),
        (60, 30, 20),
        (170, 200, 225),
        (190, 205, 190),
        (130, 150, 130),
    ),
    _style(
        "purple_white",
        0.90,
        1.00,
        _DARK_SKIN,
        (120, 60, 170),
        (225, 225, 220),
        (30, 30, 90),
        (230, 230, 230),
        (200, 200, 210),
        (140, 140, 160),
    ),
    _style(
        "orange_navy",
        1.00,
        1.10,
        _LIGHT_SKIN,
        (240, 130, 30),
        (25, 35, 80),
        (150, 30, 30),
        (200, 225, 230),
        (215, 210, 195),
        (170, 160, 140),
    ),
    _style(
        "teal_brown",
        1.05,
        1.00,
        _BROWN_SKIN,
        (30, 150, 150),
        (110, 70, 40),
        (20, 20, 20),
        (240, 225, 210),
        (195, 190, 190),
        (125, 120, 125),
    ),
    _style(
        "white_red",
        0.95,
        0.95,
        _TAN_SKIN,
        (235, 235, 235),
        (170, 30, 50),
        (40, 60, 160),
        (180, 195, 215),
        (185, 200, 205),
        (120, 140, 150),
    ),
    _style(
        "black_olive",
        1.00,
        1.05,
        _OLIVE_SKIN,
        (35, 35, 35),
        (110, 120, 60),
        (200, 160, 60),
        (215, 235, 220),
        (215, 205, 205),
        (165, 150, 150),
    ),
    _style(
        "pink_blue",
        0.90,
        1.10,
        _LIGHT_SKIN,
        (235, 120, 170),
        (70, 130, 200),
        (240, 240, 240),
        (235, 220, 235),
        (205, 200, 215),
        (150, 140, 170),
    ),
    _style(
        "maroon_sand",
        1.10,
        0.95,
        _DARK_SKIN,
        (120, 20, 40),
        (215, 195, 150),
        (70, 50, 40),
        (200, 215, 200),
        (200, 205, 185),
        (145, 155, 125),
    ),
    _style(
        "lime_charcoal",
        1.00,
        1.00,
        _TAN_SKIN,
        (150, 210, 50),
        (60, 60, 70),
        (200, 40, 40),
        (225, 230, 245),
        (190, 190, 200),
        (125, 125, 145),
    ),
    _style(
        "sky_rust",
        0.95,
        1.00,
        _BROWN_SKIN,
        (120, 190, 235),
        (170, 80, 40),
        (30, 30, 60),
        (245, 235, 215),
        (215, 200, 180),
        (170, 145, 120),
    ),
)
