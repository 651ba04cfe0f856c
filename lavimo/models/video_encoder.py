"""Video tower: each frame through an open_clip image tower, frame features -> temporal transformer -> mean = e_v."""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from lavimo.models.config import VideoEncoderConfig
from lavimo.models.layers import Encoded, SequenceTransformer, check_mask, masked_mean

# CLIP's pixel normalisation (open_clip.OPENAI_DATASET_MEAN/STD); frames arrive normalised with these, RGB order.
IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)


def _named_tower_config(name: str) -> dict:
    """open_clip's model config of architecture `name`, read from the library's bundled JSON files only."""
    import open_clip

    if ":" in name:
        raise ValueError(
            f"model.video.open_clip_model: {name!r} has a schema; give a built-in architecture name "
            "and a local checkpoint in model.video.pretrained (nothing is downloaded)"
        )
    model_cfg = open_clip.get_model_config(name)
    if model_cfg is None:
        raise ValueError(
            f"model.video.open_clip_model: unknown open_clip architecture {name!r} "
            f"(e.g. {', '.join(open_clip.list_models()[:5])}, ...)"
        )
    return model_cfg


def video_input_size(config: VideoEncoderConfig) -> int:
    """Frame side in pixels the image tower expects (224 for ViT-B/32); the data pipeline resizes to it."""
    if not config.open_clip_model:
        return config.tower.image_size
    size = _named_tower_config(config.open_clip_model)["vision_cfg"].get("image_size", 224)
    return int(size if isinstance(size, int) else size[0])


def build_image_tower(config: VideoEncoderConfig, load_pretrained: bool = True) -> nn.Module:
    """The open_clip image tower: named architecture (+ local checkpoint) or a custom ViT from `config.tower`."""
    import open_clip
    from open_clip.model import CLIPVisionCfg, _build_vision_tower

    if not config.open_clip_model:
        t = config.tower
        vision_cfg = CLIPVisionCfg(
            layers=t.layers,
            width=t.width,
            head_width=t.width // t.heads,
            patch_size=t.patch_size,
            image_size=t.image_size,
        )
        return _build_vision_tower(t.output_dim, vision_cfg)
    model_cfg = _named_tower_config(config.open_clip_model)
    if config.pretrained and load_pretrained:
        path = os.path.expanduser(config.pretrained)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"model.video.pretrained: no open_clip checkpoint file at {path!r}")
        return open_clip.create_model(config.open_clip_model, pretrained=path).visual
    return _build_vision_tower(
        model_cfg["embed_dim"], model_cfg["vision_cfg"], quick_gelu=model_cfg.get("quick_gelu", False)
    )


class VideoEncoder(nn.Module):
    """Encodes l_v CLIP-normalised frames per video; e_v is the mean of the temporal transformer's outputs."""

    def __init__(self, config: VideoEncoderConfig, latent_dim: int, load_pretrained: bool = True):
        super().__init__()
        self.config = config
        self.image_tower = build_image_tower(config, load_pretrained)
        size = getattr(self.image_tower, "image_size", video_input_size(config))
        self.image_size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)  # (H, W)
        if config.freeze_image_tower:
            self.image_tower.requires_grad_(False)
            self.image_tower.eval()
        self.projection = nn.Linear(self.image_tower.output_dim, latent_dim)
        self.transformer = SequenceTransformer(
            latent_dim,
            config.num_layers,
            config.num_heads,
            config.ff_dim,
            config.dropout,
            config.num_frames,
            use_cls=False,
        )

    def train(self, mode: bool = True) -> VideoEncoder:
        super().train(mode)
        if self.config.freeze_image_tower:
            self.image_tower.eval()
        return self

    def forward(self, frames: Tensor, frame_mask: Tensor | None = None) -> Encoded:
        """frames (B, F, 3, H, W) normalised float, frame_mask (B, F) bool or None (all valid) -> Encoded(e_v, ...)."""
        if frames.dim() != 5 or frames.shape[2] != 3 or tuple(frames.shape[3:]) != self.image_size:
            raise ValueError(
                f"video: expected frames of shape (B, F, 3, {self.image_size[0]}, {self.image_size[1]}), "
                f"got {tuple(frames.shape)}"
            )
        batch, num_frames = frames.shape[:2]
        if frame_mask is None:
            frame_mask = frames.new_ones(batch, num_frames, dtype=torch.bool)  # (B, F)
        mask = check_mask(frame_mask, batch, num_frames, "video")
        images = frames.flatten(0, 1)  # (B*F, 3, H, W)
        with torch.set_grad_enabled(not self.config.freeze_image_tower and torch.is_grad_enabled()):
            features = self.image_tower(images)  # (B*F, E)
        features = features.view(batch, num_frames, -1)  # (B, F, E)
        _, tokens = self.transformer(self.projection(features), mask, "video")  # (B, F, C)
        return Encoded(masked_mean(tokens, mask), tokens, mask)
