"""Retrieval queries to unit vectors: a sentence, or any video file, through a checkpoint's text or video tower."""

from __future__ import annotations

import logging
import math
import os

import numpy as np
import torch

from lavimo.data.augment import Box, centre_box, resize_frames
from lavimo.data.video import VideoMeta, decode_frames, frame_window, probe_video, uniform_frame_indices
from lavimo.models import LavimoModel
from lavimo.models.inputs import normalise_frames
from lavimo.models.video_encoder import video_input_size
from lavimo.tokenizer import load_tokenizer, tokenize

log = logging.getLogger(__name__)


class QueryError(ValueError):
    """A query that cannot be answered: empty text, a 2-modal model asked for a video, ..."""


class QueryEncoder:
    """Encodes one query at a time with the same towers and preprocessing as training and evaluation."""

    def __init__(self, model: LavimoModel, device: torch.device | str = "cpu"):
        self.model = model.eval()
        self.device = device
        self.tokenizer = load_tokenizer(model.config.text.pretrained)

    def text(self, sentence: str) -> np.ndarray:
        """A sentence -> (C,) unit vector."""
        return self.texts([sentence])[0]

    @torch.inference_mode()
    def texts(self, sentences: list[str]) -> np.ndarray:
        """B sentences -> (B, C) unit vectors, one forward pass; QueryError if any is empty."""
        if any(not sentence or not sentence.strip() for sentence in sentences):
            raise QueryError("the text query is empty")
        input_ids, mask = tokenize(self.tokenizer, [s.strip() for s in sentences], self.model.config.text.max_tokens)
        # input_ids, mask: (B, L)
        embedding = self.model.encode_text(input_ids.to(self.device), mask.bool().to(self.device))  # (B, C)
        return embedding.float().cpu().numpy()

    def video_frames(
        self, path: str | os.PathLike, *, start: float | None = None, end: float | None = None, crop: Box | None = None
    ) -> np.ndarray:
        """The l_v frames the video tower sees -> (l_v, S, S, 3) uint8: spread uniformly over the whole file, or
        over the seconds [start, end) (None: the file's start, end), repeated when there are fewer; the centre
        square of the displayed frame, or of `crop` (x, y, width, height in displayed pixels), resized as in
        evaluation. VideoError names the file when it cannot be decoded; QueryError when the crop does not fit."""
        config = self.model.config.video
        meta = probe_video(path)
        box = _square_box(path, meta, crop)
        first, last = 0, meta.num_frames
        if start is not None or end is not None:
            first, last = frame_window(path, start or 0.0, math.inf if end is None else end)
        indices = uniform_frame_indices(first, last, config.num_frames, num_frames=meta.num_frames)
        frames = decode_frames(path, indices)  # (l_v, H, W, 3) as displayed
        return resize_frames(frames, box, video_input_size(config))

    def video(
        self, path: str | os.PathLike, *, start: float | None = None, end: float | None = None, crop: Box | None = None
    ) -> np.ndarray:
        """A video file of any size, orientation, frame rate and length -> (C,) unit vector (see video_frames)."""
        self.check_has_video(os.fspath(path))
        return self.clips(self.video_frames(path, start=start, end=end, crop=crop)[None])[0]

    def check_has_video(self, what: str) -> None:
        if not self.model.config.has_video:
            raise QueryError(f"{what}: this checkpoint is 2-modal (text and motion): it has no video tower")

    @torch.inference_mode()
    def clips(self, frames: np.ndarray) -> np.ndarray:
        """(B, l_v, S, S, 3) uint8 frames from video_frames -> (B, C) unit vectors, one forward pass."""
        embedding = self.model.encode_video(normalise_frames(torch.from_numpy(frames), self.device))  # (B, C)
        return embedding.float().cpu().numpy()


def _square_box(path: str | os.PathLike, meta: VideoMeta, crop: Box | None) -> Box:
    """The square the tower sees: the centre square of the displayed frame, or of the crop, which must lie inside it."""
    if crop is None:
        return centre_box(meta.height, meta.width)
    x, y, width, height = crop
    if x < 0 or y < 0 or width < 1 or height < 1 or x + width > meta.width or y + height > meta.height:
        raise QueryError(
            f"{os.fspath(path)}: --crop {x},{y},{width},{height} (x,y,width,height) is not inside the "
            f"displayed {meta.width}x{meta.height} frame"
        )
    dx, dy, side, _ = centre_box(height, width)
    if width != height:
        log.warning("--crop %dx%d is not square: the tower sees its centre %dx%d", width, height, side, side)
    return x + dx, y + dy, side, side
