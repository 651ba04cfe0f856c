"""The clip augmentation (numpy/cv2, lavimo/data/augment.py) against torchvision.transforms.v2 with the same draw:
each operation within a grey level or two of torchvision's, the differences explained where they are larger (cv2's
area filter against torchvision's antialiased bilinear at sharp edges; hue through cv2's 8-bit HSV). It stays on
cv2 because it is what the decode tasks already use, and it works on a whole clip as one tall image."""

import cv2
import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as F

from lavimo.data.augment import ClipParams, augment_clip, resize_frames

SIZE = 64
BOX = (20, 10, 100, 90)  # x, y, width, height of the crop in the 160 x 120 frames


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """Two 120 x 160 RGB frames (F, H, W, 3) uint8: gradients, a wave pattern, a disc and a box with sharp edges."""
    yy, xx = np.mgrid[0:120, 0:160]
    wave = 128 + 100 * np.sin(xx / 9.0) * np.cos(yy / 7.0)
    image = np.clip(np.stack([xx * 255 / 160, yy * 255 / 120, wave], -1), 0, 255).astype(np.uint8)
    cv2.circle(image, (60, 50), 20, (250, 30, 40), -1)
    cv2.rectangle(image, (100, 70), (140, 110), (20, 200, 90), -1)
    return np.stack([image, np.roll(image, 7, axis=1)])


def _tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()  # (F, 3, H, W) uint8


def _difference(ours: np.ndarray, reference: torch.Tensor) -> np.ndarray:
    return np.abs(ours.astype(int) - reference.permute(0, 2, 3, 1).numpy().astype(int))


def test_the_crop_matches_torchvision_resized_crop(frames):
    x, y, w, h = BOX
    reference = F.resized_crop(_tensor(frames), y, x, h, w, [SIZE, SIZE], antialias=True)
    difference = _difference(resize_frames(frames, BOX, SIZE), reference)
    assert difference.mean() < 0.5 and np.percentile(difference, 99) <= 6  # measured 0.31 and 5
    assert difference.max() <= 32  # at the disc's and the box's edges (measured 24): the filters differ there


def _blur(sigma: float):
    kernel = int(round(sigma * 6 + 1)) | 1  # the kernel cv2 picks for 8-bit images from sigma alone
    return lambda t: F.gaussian_blur(t, kernel_size=[kernel, kernel], sigma=[sigma, sigma])


OPERATIONS = {  # name: (our jitter, grayscale, blur sigma; torchvision on the cropped clip; largest difference allowed)
    "brightness": ((1.3, 1, 1, 0), False, None, lambda t: F.adjust_brightness(t, 1.3), 1),
    "contrast": ((1, 0.7, 1, 0), False, None, lambda t: F.adjust_contrast(t, 0.7), 1),
    "saturation": ((1, 1, 1.4, 0), False, None, lambda t: F.adjust_saturation(t, 1.4), 1),
    "hue": ((1, 1, 1, 0.08), False, None, lambda t: F.adjust_hue(t, 0.08), 8),  # measured 7: 8-bit HSV
    "jitter": (
        (0.8, 1.3, 0.6, -0.05),
        False,
        None,
        lambda t: F.adjust_hue(F.adjust_saturation(F.adjust_contrast(F.adjust_brightness(t, 0.8), 1.3), 0.6), -0.05),
        8,  # measured 6, from the hue step
    ),
    "grayscale": (None, True, None, lambda t: F.rgb_to_grayscale(t, num_output_channels=3), 1),
    "blur": (None, False, 1.5, _blur(1.5), 1),
}


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_each_operation_matches_torchvision_v2_with_the_same_draw(frames, name):
    jitter, grayscale, blur_sigma, torchvision_op, largest = OPERATIONS[name]
    ours = augment_clip(frames, ClipParams(BOX, jitter, grayscale, blur_sigma), SIZE)  # (F, S, S, 3)
    difference = _difference(ours, torchvision_op(_tensor(resize_frames(frames, BOX, SIZE))))
    assert difference.mean() < 1.2, difference.mean()  # measured 0.05 (blur) to 1.07 (all of the jitter)
    assert difference.max() <= largest, difference.max()


def test_one_draw_applies_to_every_frame_of_the_clip(frames):
    same = np.stack([frames[0]] * 3)
    clip = augment_clip(same, ClipParams(BOX, (0.8, 1.3, 0.6, -0.05), True, 1.5), SIZE)
    assert clip.shape == (3, SIZE, SIZE, 3) and clip.dtype == np.uint8
    assert (clip[0] == clip[1]).all() and (clip[1] == clip[2]).all()
