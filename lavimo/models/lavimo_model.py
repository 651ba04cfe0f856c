"""The LAVIMO module: motion, text and (optionally) video towers, a learnable temperature, fusion and decoder."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lavimo.models.config import ModelConfig
from lavimo.models.fusion import FeatureFusion
from lavimo.models.layers import Encoded
from lavimo.models.motion_decoder import MotionDecoder
from lavimo.models.motion_encoder import MotionEncoder
from lavimo.models.text_encoder import TextEncoder
from lavimo.models.video_encoder import VideoEncoder

MAX_LOGIT_SCALE = 100.0  # 1/τ never exceeds this when used (as in CLIP)


@dataclass
class LavimoOutput:
    """Everything the losses need from one batch."""

    motion_emb: Tensor  # (B, C), unit length
    text_emb: Tensor  # (B, C), unit length
    video_emb: Tensor | None  # (B, C), unit length; None when 2-modal or no frames were given
    reconstruction: Tensor  # (B, T, D), zero at padded frames
    logit_scale: Tensor  # () = 1/τ, clamped at MAX_LOGIT_SCALE; multiply cosine similarities by it


class LavimoModel(nn.Module):
    """Tri-modal (or 2-modal) LAVIMO. `load_pretrained=False` builds the pretrained parts without their weights
    (to be filled from a checkpoint's state dict)."""

    def __init__(self, config: ModelConfig, load_pretrained: bool = True):
        super().__init__()
        self.config = config
        c = config.latent_dim
        self.motion_encoder = MotionEncoder(config.motion, c)
        self.text_encoder = TextEncoder(config.text, c, load_pretrained)
        self.video_encoder = VideoEncoder(config.video, c, load_pretrained) if config.has_video else None
        self.fusion = FeatureFusion(config.fusion, c, config.modalities)
        self.decoder = MotionDecoder(config.decoder, c, config.motion.feature_dim, config.motion.positional_frames)
        initial = torch.tensor(math.log(1.0 / config.temperature_init))  # log 1/τ
        if config.learnable_temperature:
            self.logit_scale = nn.Parameter(initial)
        else:
            self.register_buffer("logit_scale", initial)

    def scale(self) -> Tensor:
        """1/τ as used in the similarity logits: exp(logit_scale) clamped at MAX_LOGIT_SCALE, shape ()."""
        return self.logit_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()

    def forward(
        self,
        motion: Tensor,
        motion_mask: Tensor,
        input_ids: Tensor,
        attention_mask: Tensor,
        frames: Tensor | None = None,
    ) -> LavimoOutput:
        """motion (B, T, D), motion_mask (B, T) bool, input_ids/attention_mask (B, L), frames (B, F, 3, H, W) or
        None (no video term) -> LavimoOutput."""
        if frames is not None and self.video_encoder is None:
            raise ValueError("frames were given but the model is 2-modal (model.modalities has no 'video')")
        sources = {
            "motion": self.motion_encoder(motion, motion_mask),
            "text": self.text_encoder(input_ids, attention_mask),
        }
        if frames is not None:
            sources["video"] = self.video_encoder(frames)
        fused = self.fusion(sources["motion"].embedding, sources)  # ẽ_m (B, C)
        reconstruction = self.decoder(fused, sources["motion"].mask)  # (B, T, D) from ẽ_m and l_m only
        video = sources.get("video")
        return LavimoOutput(
            motion_emb=_unit(sources["motion"]),
            text_emb=_unit(sources["text"]),
            video_emb=None if video is None else _unit(video),
            reconstruction=reconstruction,
            logit_scale=self.scale(),
        )

    def encode_motion(self, motion: Tensor, motion_mask: Tensor) -> Tensor:
        """motion (B, T, D), mask (B, T) bool -> unit-length e_m (B, C); the same tower as in forward."""
        return _unit(self.motion_encoder(motion, motion_mask))

    def encode_text(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """input_ids/attention_mask (B, L) -> unit-length e_t (B, C)."""
        return _unit(self.text_encoder(input_ids, attention_mask))

    def encode_video(self, frames: Tensor) -> Tensor:
        """frames (B, F, 3, H, W) normalised -> unit-length e_v (B, C)."""
        if self.video_encoder is None:
            raise ValueError("encode_video: the model is 2-modal (model.modalities has no 'video')")
        return _unit(self.video_encoder(frames))


def _unit(encoded: Encoded) -> Tensor:
    return F.normalize(encoded.embedding, dim=-1)  # (B, C)
