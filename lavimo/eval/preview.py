"""Side-by-side preview videos: several clips tiled in one row under their labels, written as one H.264 file."""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from lavimo.data.video import decode_frames, probe_video
from lavimo.render.encode import H264Writer

LABEL_HEIGHT = 40  # pixels of the label strip above each tile
HEADER_HEIGHT = 36  # pixels of the caption strip above the row (text queries)
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


@dataclass(frozen=True)
class PreviewTile:
    """One clip of the row: its video file and up to two label lines."""

    video_path: str
    label: str
    sublabel: str = ""


def write_preview(
    out_path: str | os.PathLike,
    tiles: list[PreviewTile],
    *,
    fps: float,
    tile_size: int = 192,
    max_seconds: float = 10.0,
    header: str = "",
) -> None:
    """Plays every tile's clip at once for the longest clip's duration (at most max_seconds); shorter clips loop.

    The file appears at out_path only when complete; VideoError names any clip that cannot be decoded.
    """
    if not tiles:
        raise ValueError("write_preview: no clips to show")
    durations = [_duration(tile.video_path) for tile in tiles]
    num_frames = max(1, int(round(min(max(durations), max_seconds) * fps)))
    clips = [_resampled_clip(tile.video_path, num_frames, fps, tile_size) for tile in tiles]  # each (F, S, S, 3)
    labels = [_label_strip(tile, tile_size) for tile in tiles]  # each (LABEL_HEIGHT, S, 3)
    width = tile_size * len(tiles)
    top = _header_strip(header, width) if header else None  # (HEADER_HEIGHT, W, 3)
    height = tile_size + LABEL_HEIGHT + (0 if top is None else HEADER_HEIGHT)
    with H264Writer(out_path, width + width % 2, height + height % 2, fps) as writer:
        for t in range(num_frames):
            row = np.concatenate(
                [np.concatenate([label, clip[t]], axis=0) for label, clip in zip(labels, clips)], axis=1
            )  # (LABEL_HEIGHT + S, W, 3)
            frame = row if top is None else np.concatenate([top, row], axis=0)
            writer.write(_pad_even(frame))


def _duration(path: str) -> float:
    meta = probe_video(path)
    return meta.num_frames / meta.fps


def _resampled_clip(path: str, num_frames: int, fps: float, size: int) -> np.ndarray:
    """The clip at the preview's frame rate, looped to num_frames and letterboxed to size x size: (F, S, S, 3)."""
    meta = probe_video(path)
    times = np.arange(num_frames) / fps  # (F,) seconds
    indices = np.floor(times * meta.fps).astype(np.int64) % meta.num_frames  # (F,) loops when the clip is shorter
    unique, inverse = np.unique(indices, return_inverse=True)
    frames = decode_frames(path, unique)  # (U, H, W, 3)
    fitted = np.stack([_letterbox(frame, size) for frame in frames])  # (U, S, S, 3)
    return fitted[inverse]


def _letterbox(frame: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) -> (size, size, 3): the whole frame, scaled to fit, centred on the background colour."""
    height, width = frame.shape[:2]
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (new_w, new_h), interpolation=interpolation)
    out = np.full((size, size, 3), BACKGROUND, np.uint8)
    y, x = (size - new_h) // 2, (size - new_w) // 2
    out[y : y + new_h, x : x + new_w] = resized
    return out


def _label_strip(tile: PreviewTile, width: int) -> np.ndarray:
    strip = np.full((LABEL_HEIGHT, width, 3), BACKGROUND, np.uint8)
    _put_text(strip, tile.label, 16, 0.45)
    _put_text(strip, tile.sublabel, 34, 0.38)
    return strip


def _header_strip(text: str, width: int) -> np.ndarray:
    strip = np.full((HEADER_HEIGHT, width, 3), BACKGROUND, np.uint8)
    _put_text(strip, text, 24, 0.55)
    return strip


def _put_text(image: np.ndarray, text: str, baseline: int, scale: float) -> None:
    """Draws text from the left edge, cut with "..." to fit the image's width."""
    if not text:
        return
    width = image.shape[1] - 8
    while len(text) > 4 and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width:
        text = text[:-4] + "..."
    cv2.putText(image, text, (4, baseline), cv2.FONT_HERSHEY_SIMPLEX, scale, INK, 1, cv2.LINE_AA)


def _pad_even(frame: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides: one background row/column is added where a side is odd."""
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if not (pad_h or pad_w):
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), constant_values=BACKGROUND[0])
