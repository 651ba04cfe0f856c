"""Retrieval queries to unit vectors: a sentence, or any video file, through a checkpoint's text or video tower."""

from __future__ import annotations

import os

import numpy as np
import torch

from lavimo.data.augment import centre_box, resize_frames
from lavimo.data.video import decode_frames, probe_video, uniform_frame_indices
from lavimo.models import LavimoModel
from lavimo.models.inputs import normalise_frames
from lavimo.models.text_encoder import load_tokenizer, tokenize
from lavimo.models.video_encoder import video_input_size


class QueryError(ValueError):
    """A query that cannot be answered: empty text, a 2-modal model asked for a video, ..."""


class QueryEncoder:
    """Encodes one query at a time with the same towers and preprocessing as training and evaluation."""

    def __init__(self, model: LavimoModel, device: torch.device | str = "cpu"):
        self.model = model.eval()
        self.device = device
        self.tokenizer = load_tokenizer(model.config.text)

    @torch.inference_mode()
    def text(self, sentence: str) -> np.ndarray:
        """A sentence -> (C,) unit vector."""
        if not sentence or not sentence.strip():
            raise QueryError("the text query is empty")
        input_ids, mask = tokenize(self.tokenizer, [sentence.strip()], self.model.config.text.max_tokens)
        # input_ids, mask: (1, L)
        embedding = self.model.encode_text(input_ids.to(self.device), mask.bool().to(self.device))  # (1, C)
        return embedding[0].float().cpu().numpy()

    def video_frames(self, path: str | os.PathLike) -> np.ndarray:
        """The l_v frames the video tower sees: spread uniformly over the whole file, centre-cropped and resized
        as in evaluation -> (l_v, S, S, 3) uint8. VideoError names the file when it cannot be decoded."""
        config = self.model.config.video
        meta = probe_video(path)
        indices = uniform_frame_indices(0, meta.num_frames, config.num_frames, num_frames=meta.num_frames)
        frames = decode_frames(path, indices)  # (l_v, H, W, 3)
        return resize_frames(frames, centre_box(meta.height, meta.width), video_input_size(config))

    @torch.inference_mode()
    def video(self, path: str | os.PathLike) -> np.ndarray:
        """A video file of any size and frame rate -> (C,) unit vector."""
        if not self.model.config.has_video:
            raise QueryError(f"{os.fspath(path)}: this checkpoint is 2-modal (text and motion): it has no video tower")
        frames = torch.from_numpy(self.video_frames(path))[None]  # (1, l_v, S, S, 3)
        embedding = self.model.encode_video(normalise_frames(frames, self.device))  # (1, C)
        return embedding[0].float().cpu().numpy()
