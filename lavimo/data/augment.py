"""Clip-level video augmentation on uint8 frames with numpy/cv2: one random draw per clip, applied to all its frames."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, width, height in input pixels


@dataclass(frozen=True)
class AugmentRanges:
    """What the paper lists (random resized crop, colour jitter, random grayscale, Gaussian blur), with
    SimCLR/CLIP-style strengths; the crop keeps at least half the frame so the person stays in view. The paper's
    horizontal flip is not here: it mirrors the motion and the caption too (see lavimo.data.samples)."""

    crop_scale: tuple[float, float] = (0.5, 1.0)  # crop area / frame area
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # crop width / height, stretched to a square
    jitter_probability: float = 0.8
    brightness: float = 0.4  # factor drawn in [1 - x, 1 + x]
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1  # shift in turns of the colour wheel, drawn in [-x, x]
    grayscale_probability: float = 0.2
    blur_probability: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)  # output pixels


@dataclass(frozen=True)
class ClipParams:
    """One clip's random draw; every frame of the clip gets exactly these."""

    box: Box
    jitter: tuple[float, float, float, float] | None  # brightness, contrast, saturation factors, hue shift (turns)
    grayscale: bool
    blur_sigma: float | None


def centre_box(height: int, width: int) -> Box:
    """The largest centred square: what evaluation feeds the square video tower."""
    side = min(height, width)
    return (width - side) // 2, (height - side) // 2, side, side


def random_box(rng: np.random.Generator, height: int, width: int, scale, ratio) -> Box:
    """torchvision's RandomResizedCrop box: area fraction in `scale`, log-uniform aspect in `ratio`."""
    area = height * width
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        crop_w, crop_h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < crop_w <= width and 0 < crop_h <= height:
            return int(rng.integers(width - crop_w + 1)), int(rng.integers(height - crop_h + 1)), crop_w, crop_h
    return centre_box(height, width)


def draw_params(rng: np.random.Generator, height: int, width: int, ranges: AugmentRanges) -> ClipParams:
    """One clip's augmentation, for frames of height x width pixels."""
    jitter = None
    if rng.random() < ranges.jitter_probability:
        jitter = (
            rng.uniform(1 - ranges.brightness, 1 + ranges.brightness),
            rng.uniform(1 - ranges.contrast, 1 + ranges.contrast),
            rng.uniform(1 - ranges.saturation, 1 + ranges.saturation),
            rng.uniform(-ranges.hue, ranges.hue),
        )
    return ClipParams(
        box=random_box(rng, height, width, ranges.crop_scale, ranges.crop_ratio),
        jitter=jitter,
        grayscale=bool(rng.random() < ranges.grayscale_probability),
        blur_sigma=float(rng.uniform(*ranges.blur_sigma)) if rng.random() < ranges.blur_probability else None,
    )


def resize_frames(frames: np.ndarray, box: Box, size: int) -> np.ndarray:
    """frames (F, H, W, 3) uint8 -> the box of each, resized to (F, size, size, 3); area filter when shrinking."""
    x, y, w, h = box
    interpolation = cv2.INTER_AREA if w >= size and h >= size else cv2.INTER_LINEAR
    out = np.empty((len(frames), size, size, 3), np.uint8)
    for i, frame in enumerate(frames):
        cv2.resize(frame[y : y + h, x : x + w], (size, size), dst=out[i], interpolation=interpolation)
    return out


def augment_clip(frames: np.ndarray, params: ClipParams, size: int) -> np.ndarray:
    """frames (F, H, W, 3) uint8 -> (F, size, size, 3) uint8: crop, jitter, grayscale, blur, all per clip."""
    clip = resize_frames(frames, params.box, size)
    tall = clip.reshape(-1, size, 3)  # (F * size, size, 3): one tall image for the per-pixel cv2 operations
    if params.jitter is not None:
        tall = _colour_jitter(tall, len(clip), *params.jitter)
    if params.grayscale:
        tall = cv2.cvtColor(cv2.cvtColor(tall, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    clip = tall.reshape(clip.shape)
    if params.blur_sigma is not None:
        for frame in clip:  # frame by frame: the kernel must not reach across frame borders
            cv2.GaussianBlur(frame, (0, 0), params.blur_sigma, dst=frame)
    return clip


def _colour_jitter(
    tall: np.ndarray, num_frames: int, brightness: float, contrast: float, saturation: float, hue: float
) -> np.ndarray:
    """tall (F * S, S, 3) uint8 RGB -> jittered, torchvision's order and formulas, saturating to uint8 per step."""
    tall = cv2.convertScaleAbs(tall, alpha=brightness)  # x * b, never negative here
    gray = cv2.cvtColor(tall, cv2.COLOR_RGB2GRAY)  # (F * S, S)
    means = gray.reshape(num_frames, -1).mean(axis=1)  # (F,) each frame's own mean grey level
    rows = len(tall) // num_frames
    for i, mean in enumerate(means):  # blend towards the frame's mean grey
        frame = tall[i * rows : (i + 1) * rows]
        cv2.addWeighted(frame, contrast, frame, 0.0, (1 - contrast) * float(mean), dst=frame)
    gray = cv2.cvtColor(cv2.cvtColor(tall, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    tall = cv2.addWeighted(tall, saturation, gray, 1 - saturation, 0.0)  # blend towards the pixel's grey
    if hue != 0.0:
        hsv = cv2.cvtColor(tall, cv2.COLOR_RGB2HSV)  # hue in [0, 180)
        shift = np.round(np.arange(256) + hue * 180).astype(np.int64) % 180
        hsv[..., 0] = shift.astype(np.uint8)[hsv[..., 0]]
        tall = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return tall
