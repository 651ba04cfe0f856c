"""Camera-like degradations of every drawn frame: a mild Gaussian blur and additive noise (x264 adds its own)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

NOISE_MARGIN = 16  # one noise picture this much larger than a frame; each frame takes a window of it at a new offset


@dataclass(frozen=True)
class Finish:
    """One clip's degradations and its encoder's quality."""

    blur_sigma_px: float  # Gaussian blur of every frame; 0 = none
    noise_std: float  # additive Gaussian noise, grey levels of 255; 0 = none
    crf: int  # x264 constant rate factor
    seed: int  # of the noise


@dataclass
class FinishFrames:
    """Per clip: the blur kernel and the noise, split into what is added and what is taken away.

    Drawing fresh noise for every frame would cost more than drawing the frame, so every frame takes a window of
    one larger noise picture, at an offset that changes from frame to frame.
    """

    sigma: float
    kernel: int  # odd kernel side, pixels; 0 = no blur (sigma below 0.1 px)
    brighten: np.ndarray | None  # (H + NOISE_MARGIN, W + NOISE_MARGIN, 3) uint8
    darken: np.ndarray | None  # (H + NOISE_MARGIN, W + NOISE_MARGIN, 3) uint8


def finish_frames(finish: Finish, width: int, height: int) -> FinishFrames:
    kernel = 2 * int(np.ceil(3 * finish.blur_sigma_px)) + 1 if finish.blur_sigma_px >= 0.1 else 0
    if finish.noise_std <= 0:
        return FinishFrames(finish.blur_sigma_px, kernel, None, None)
    shape = (height + NOISE_MARGIN, width + NOISE_MARGIN, 3)
    noise = np.random.default_rng(finish.seed).standard_normal(shape, dtype=np.float32) * np.float32(finish.noise_std)
    noise = np.rint(noise).clip(-255, 255)
    return FinishFrames(
        finish.blur_sigma_px, kernel, np.maximum(noise, 0).astype(np.uint8), np.maximum(-noise, 0).astype(np.uint8)
    )


def apply_finish(image: np.ndarray, frames: FinishFrames, t: int) -> None:
    """image: (H, W, 3) uint8 frame t, degraded in place (saturating at 0 and 255)."""
    if frames.kernel:
        cv2.GaussianBlur(image, (frames.kernel, frames.kernel), frames.sigma, dst=image)
    if frames.brighten is not None:
        height, width = image.shape[:2]
        y, x = (5 * t) % NOISE_MARGIN, (3 * t + t // NOISE_MARGIN) % NOISE_MARGIN  # 256 offsets before one repeats
        cv2.add(image, frames.brighten[y : y + height, x : x + width], dst=image)
        cv2.subtract(image, frames.darken[y : y + height, x : x + width], dst=image)
