"""Typed, validated configuration of the LAVIMO model (lavimo.schema sections); the defaults are the paper's."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from lavimo.schema import Count, Int, Section, checked

MODALITIES = ("motion", "text", "video")
REQUIRED_MODALITIES = ("motion", "text")  # the 2-modal ablation keeps these; video is optional
Dropout = Annotated[float, Field(ge=0.0, lt=1.0)]


def _modalities_problem(value: tuple[str, ...]) -> str | None:
    if len(set(value)) == len(value) and set(REQUIRED_MODALITIES) <= set(value) <= set(MODALITIES):
        return None
    return f"expected ('motion', 'text') or ('motion', 'text', 'video'), got {value!r}"


def _temperature_problem(value: float) -> str | None:
    return None if 0.01 <= value <= 10.0 else f"must be in [0.01, 10] (1/τ is clamped at 100), got {value}"


class TransformerConfig(Section):
    """The fields every transformer stack has."""

    num_layers: Count = 6
    num_heads: Count = 8
    ff_dim: Count = 1024
    dropout: Dropout = 0.1


class MotionEncoderConfig(TransformerConfig):
    feature_dim: Count = 263  # D: pose-feature size (263 HumanML3D, 251 KIT-ML)
    positional_frames: Count = 256  # frames the positional table covers: the longest motion encoded or decoded


class TextEncoderConfig(TransformerConfig):
    pretrained: str = ""  # "" = bundled all-MiniLM-L6-v2; else a local folder or a hub id (distilbert-base-uncased)
    finetune: bool = True  # False: the pretrained encoder is frozen (no grad, eval mode)
    max_tokens: Annotated[Int, Field(ge=2)] = 64  # tokens per caption after truncation, special tokens included


class VisionTowerConfig(Section):
    image_size: Count = 224  # the defaults are ViT-B/32's shape
    patch_size: Count = 32
    width: Count = 768
    layers: Count = 12
    heads: Count = 12
    output_dim: Count = 512  # E: frame-feature size

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if self.image_size % self.patch_size:
            found.append(("patch_size", f"must divide image_size {self.image_size}, got {self.patch_size}"))
        if self.width % self.heads:
            found.append(("heads", f"must divide width {self.width}, got {self.heads}"))
        return found


class VideoEncoderConfig(TransformerConfig):
    open_clip_model: str = "ViT-B-32"  # an open_clip architecture name; "" = build the tower from `tower`
    pretrained: str = ""  # local open_clip checkpoint file for the image tower; never downloaded
    tower: VisionTowerConfig = VisionTowerConfig()  # used only when open_clip_model is ""
    freeze_image_tower: bool = False
    num_frames: Count = 8  # l_v: frames sampled uniformly per video

    def problems(self) -> list[tuple[str, str]]:
        if self.pretrained and not self.open_clip_model:
            return [("pretrained", "a checkpoint needs an open_clip_model architecture name")]
        return []


class FusionConfig(Section):
    num_heads: Count = 8
    dropout: Dropout = 0.1


class DecoderConfig(TransformerConfig):
    pass


class ModelConfig(Section):
    latent_dim: Count = 512  # C: the shared embedding size
    modalities: Annotated[tuple[str, ...], checked(_modalities_problem)] = MODALITIES  # 2-modal: (motion, text)
    temperature_init: Annotated[float, checked(_temperature_problem)] = 0.07  # τ at initialisation
    learnable_temperature: bool = True
    motion: MotionEncoderConfig = MotionEncoderConfig()
    text: TextEncoderConfig = TextEncoderConfig()
    video: VideoEncoderConfig = VideoEncoderConfig()
    fusion: FusionConfig = FusionConfig()
    decoder: DecoderConfig = DecoderConfig()

    @property
    def has_video(self) -> bool:
        return "video" in self.modalities

    def problems(self) -> list[tuple[str, str]]:
        """Every attention stack's heads divide the shared embedding size."""
        sections = ["motion", "text", "fusion", "decoder"] + (["video"] if self.has_video else [])
        return [
            (f"{name}.num_heads", f"must divide latent_dim {self.latent_dim}, got {getattr(self, name).num_heads}")
            for name in sections
            if self.latent_dim % getattr(self, name).num_heads
        ]
