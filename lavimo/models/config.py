"""Typed, validated configuration of the LAVIMO model; the defaults are the paper's configuration."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

MODALITIES = ("motion", "text", "video")
REQUIRED_MODALITIES = ("motion", "text")  # the 2-modal ablation keeps these; video is optional


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ValueError(f"{key}: {message}")


def _check_transformer(cfg: Any, prefix: str) -> None:
    """Checks the fields shared by every transformer config: num_layers, num_heads, ff_dim, dropout."""
    for name in ("num_layers", "num_heads", "ff_dim"):
        if hasattr(cfg, name):
            value = getattr(cfg, name)
            _require(value >= 1, f"{prefix}.{name}", f"must be >= 1, got {value}")
    _require(0.0 <= cfg.dropout < 1.0, f"{prefix}.dropout", f"must be in [0, 1), got {cfg.dropout}")


@dataclass(frozen=True)
class MotionEncoderConfig:
    feature_dim: int = 263  # D: pose-feature size (263 HumanML3D, 251 KIT-ML)
    num_layers: int = 6
    num_heads: int = 8
    ff_dim: int = 1024
    dropout: float = 0.1
    max_frames: int = 256  # longest motion the positional table covers (also the decoder's limit)

    def validate(self, prefix: str = "model.motion") -> None:
        _require(self.feature_dim >= 1, f"{prefix}.feature_dim", f"must be >= 1, got {self.feature_dim}")
        _require(self.max_frames >= 1, f"{prefix}.max_frames", f"must be >= 1, got {self.max_frames}")
        _check_transformer(self, prefix)


@dataclass(frozen=True)
class TextEncoderConfig:
    pretrained: str = ""  # "" = bundled all-MiniLM-L6-v2; else a local folder or a hub id (distilbert-base-uncased)
    finetune: bool = True  # False: the pretrained encoder is frozen (no grad, eval mode)
    max_tokens: int = 64  # tokens per caption after truncation, special tokens included
    num_layers: int = 6
    num_heads: int = 8
    ff_dim: int = 1024
    dropout: float = 0.1

    def validate(self, prefix: str = "model.text") -> None:
        _require(self.max_tokens >= 2, f"{prefix}.max_tokens", f"must be >= 2, got {self.max_tokens}")
        _check_transformer(self, prefix)


@dataclass(frozen=True)
class VisionTowerConfig:
    image_size: int = 224  # the defaults are ViT-B/32's shape
    patch_size: int = 32
    width: int = 768
    layers: int = 12
    heads: int = 12
    output_dim: int = 512  # E: frame-feature size

    def validate(self, prefix: str = "model.video.tower") -> None:
        for name in ("image_size", "patch_size", "width", "layers", "heads", "output_dim"):
            value = getattr(self, name)
            _require(value >= 1, f"{prefix}.{name}", f"must be >= 1, got {value}")
        _require(
            self.image_size % self.patch_size == 0,
            f"{prefix}.patch_size",
            f"must divide image_size {self.image_size}, got {self.patch_size}",
        )
        _require(self.width % self.heads == 0, f"{prefix}.heads", f"must divide width {self.width}, got {self.heads}")


@dataclass(frozen=True)
class VideoEncoderConfig:
    open_clip_model: str = "ViT-B-32"  # an open_clip architecture name; "" = build the tower from `tower`
    pretrained: str = ""  # local open_clip checkpoint file for the image tower; never downloaded
    tower: VisionTowerConfig = field(default_factory=VisionTowerConfig)  # used only when open_clip_model is ""
    freeze_image_tower: bool = False
    num_frames: int = 8  # l_v: frames sampled uniformly per video
    num_layers: int = 6
    num_heads: int = 8
    ff_dim: int = 1024
    dropout: float = 0.1

    def validate(self, prefix: str = "model.video") -> None:
        _require(self.num_frames >= 1, f"{prefix}.num_frames", f"must be >= 1, got {self.num_frames}")
        _require(
            bool(self.open_clip_model) or not self.pretrained,
            f"{prefix}.pretrained",
            "a checkpoint needs an open_clip_model architecture name",
        )
        _check_transformer(self, prefix)
        if not self.open_clip_model:
            self.tower.validate(f"{prefix}.tower")


@dataclass(frozen=True)
class FusionConfig:
    num_heads: int = 8
    dropout: float = 0.1

    def validate(self, prefix: str = "model.fusion") -> None:
        _check_transformer(self, prefix)


@dataclass(frozen=True)
class DecoderConfig:
    num_layers: int = 6
    num_heads: int = 8
    ff_dim: int = 1024
    dropout: float = 0.1

    def validate(self, prefix: str = "model.decoder") -> None:
        _check_transformer(self, prefix)


@dataclass(frozen=True)
class ModelConfig:
    latent_dim: int = 512  # C: the shared embedding size
    modalities: tuple[str, ...] = MODALITIES  # ("motion", "text") is the 2-modal ablation
    temperature_init: float = 0.07  # τ at initialisation
    learnable_temperature: bool = True
    motion: MotionEncoderConfig = field(default_factory=MotionEncoderConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    video: VideoEncoderConfig = field(default_factory=VideoEncoderConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)

    @property
    def has_video(self) -> bool:
        return "video" in self.modalities

    def validate(self, prefix: str = "model") -> None:
        """Raises ValueError naming the first bad field, e.g. `model.modalities: ...`."""
        _require(self.latent_dim >= 1, f"{prefix}.latent_dim", f"must be >= 1, got {self.latent_dim}")
        _require(
            len(set(self.modalities)) == len(self.modalities)
            and set(self.modalities) <= set(MODALITIES)
            and set(REQUIRED_MODALITIES) <= set(self.modalities),
            f"{prefix}.modalities",
            f"expected ('motion', 'text') or ('motion', 'text', 'video'), got {self.modalities!r}",
        )
        _require(
            0.01 <= self.temperature_init <= 10.0,
            f"{prefix}.temperature_init",
            f"must be in [0.01, 10] (1/τ is clamped at 100), got {self.temperature_init}",
        )
        sections = ["motion", "text", "fusion", "decoder"] + (["video"] if self.has_video else [])
        for name in sections:
            section = getattr(self, name)
            section.validate(f"{prefix}.{name}")
            _require(
                self.latent_dim % section.num_heads == 0,
                f"{prefix}.{name}.num_heads",
                f"must divide latent_dim {self.latent_dim}, got {section.num_heads}",
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), fit for JSON/YAML and a checkpoint's metadata."""
        return to_plain(dataclasses.asdict(self))


def to_plain(value: Any) -> Any:
    """Dataclass-as-dict values with tuples as lists, fit for JSON and YAML."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value
