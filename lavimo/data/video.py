"""Video decoding with decord: probe a file, seconds to frames, uniform frame indices, decode them to RGB arrays.

Frames come out as a player shows them: decord (>= 0.6, on the CPU) turns them by the file's rotation metadata
(a phone's `rotate` tag or display matrix, in steps of 90 degrees), so a portrait phone clip stored as landscape
frames decodes to portrait frames, and every size here is the displayed one.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np


class VideoError(ValueError):
    """A video cannot be read: missing, unreadable or corrupt file, or frames it does not have. Names the path."""


@dataclass(frozen=True)
class VideoMeta:
    """What a video holds: frame count, average frame rate and frame size in pixels."""

    num_frames: int
    fps: float
    width: int
    height: int


def _open(path: str | os.PathLike, num_threads: int):
    """A decord.VideoReader on a local file; VideoError naming the path when that fails."""
    import decord  # imported here so that code that only handles indices does not need it

    name = os.fspath(path)
    if not os.path.exists(name):
        raise VideoError(f"{name}: no such video file")
    if not os.path.isfile(name):
        raise VideoError(f"{name}: not a regular file")
    try:
        reader = decord.VideoReader(name, ctx=decord.cpu(0), num_threads=num_threads)
    except Exception as error:  # noqa: BLE001 - decord raises DECORDError/RuntimeError for anything it cannot parse
        raise VideoError(f"{name}: cannot open as a video ({_first_line(error)})") from error
    if len(reader) == 0:
        raise VideoError(f"{name}: the video has no frames")
    return reader


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def probe_video(path: str | os.PathLike, *, num_threads: int = 1) -> VideoMeta:
    """Frame count, average frame rate and frame size (decodes the first frame to learn the size)."""
    reader = _open(path, num_threads)
    first = _decode(reader, np.array([0]), path)  # (1, H, W, 3)
    return VideoMeta(
        num_frames=len(reader), fps=float(reader.get_avg_fps()), width=int(first.shape[2]), height=int(first.shape[1])
    )


def _decode(reader, indices: np.ndarray, path) -> np.ndarray:
    """indices: (N,) in range -> (N, H, W, 3) uint8. One get_batch call (the fast path); frames decord hands out
    padded (see _packed_rgb), on which get_batch fails, are decoded one distinct frame at a time instead."""
    try:
        frames = reader.get_batch(indices.tolist()).asnumpy()  # (N, H, W, C)
        if frames.shape[-1] == 3:
            return frames
    except Exception:  # noqa: BLE001 - a padded frame or a corrupt stream; the slow path tells them apart
        pass
    unique, inverse = np.unique(indices, return_inverse=True)
    try:
        frames = np.stack([_packed_rgb(reader[int(i)].asnumpy()) for i in unique])  # (U, H, W, 3)
    except Exception as error:  # noqa: BLE001 - a corrupt stream fails inside decord with its own error types
        problem = f"cannot decode frames {indices.tolist()} ({_first_line(error)})"
        raise VideoError(f"{os.fspath(path)}: {problem}") from error
    return frames[inverse]


def _packed_rgb(frame: np.ndarray) -> np.ndarray:
    """decord's (H, W, C) frame -> (H, W, 3). When a padded RGB row is a whole multiple of the width (frames a few
    dozen pixels wide), decord 0.6 hands the padding out as extra channels, C = row bytes / W; the pixels are the
    first 3 W bytes of each row. (Its get_batch fails outright on such frames, hence one frame at a time.)"""
    height, width, channels = frame.shape
    if channels == 3:
        return frame
    return frame.reshape(height, width * channels)[:, : 3 * width].reshape(height, width, 3)


def decode_frames(path: str | os.PathLike, frame_indices, *, num_threads: int = 1) -> np.ndarray:
    """frame_indices: (N,) ints in [0, num_frames) -> (N, H, W, 3) uint8 RGB frames, in the order asked.

    num_threads is decord's decoder threads for this file: 1 by default, since parallelism comes from
    decoding many files at once.
    """
    indices = np.asarray(frame_indices)
    if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
        raise VideoError(f"{os.fspath(path)}: frame indices must be a 1-D sequence of integers, got {indices!r}")
    reader = _open(path, num_threads)
    count = len(reader)
    if indices.size and (indices.min() < 0 or indices.max() >= count):
        bad = indices[(indices < 0) | (indices >= count)]
        raise VideoError(f"{os.fspath(path)}: frame indices {bad.tolist()} out of range; the video has {count} frames")
    if indices.size == 0:
        first = _decode(reader, np.array([0]), path)
        return np.empty((0,) + first.shape[1:], np.uint8)
    return _decode(reader, indices.astype(np.int64), path)


def uniform_frame_indices(start_frame: int, end_frame: int, count: int, *, num_frames: int | None = None) -> np.ndarray:
    """(count,) int64: the centre frame of each of `count` equal segments of the window [start_frame, end_frame).

    Index i is floor(start + (i + 0.5) * (end - start) / count). The window is first clamped to the video's
    length when num_frames is given; a window shorter than count repeats frames.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if num_frames is not None:
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        start_frame, end_frame = max(0, min(start_frame, num_frames - 1)), max(1, min(end_frame, num_frames))
    if end_frame <= start_frame:
        raise ValueError(f"empty frame window [{start_frame}, {end_frame})")
    step = (end_frame - start_frame) / count
    centres = start_frame + (np.arange(count) + 0.5) * step
    return np.clip(np.floor(centres).astype(np.int64), start_frame, end_frame - 1)


def frame_window(
    path: str | os.PathLike, start_s: float = 0.0, end_s: float = math.inf, *, num_threads: int = 1
) -> tuple[int, int]:
    """The frames [first, last) whose middle instant lies in [start_s, end_s) seconds of the video's own timestamps
    (variable frame rates included); at least one frame, the one on screen at start_s when the window is shorter
    than a frame. VideoError when the window starts at or after the video's end."""
    if not 0.0 <= start_s < end_s:
        raise ValueError(f"the window must satisfy 0 <= start < end, got {start_s} to {end_s} s")
    reader = _open(path, num_threads)
    times = reader.get_frame_timestamp(range(len(reader)))  # (N, 2) seconds each frame is shown from and until
    if start_s >= times[-1, 1]:
        raise VideoError(
            f"{os.fspath(path)}: the window starts at {start_s:g} s, at or after the video's end ({times[-1, 1]:.2f} s)"
        )
    middles = times.mean(axis=1)  # (N,) seconds
    first = min(int(np.searchsorted(middles, start_s)), len(middles) - 1)
    return first, max(int(np.searchsorted(middles, end_s)), first + 1)
