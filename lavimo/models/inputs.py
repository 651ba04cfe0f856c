"""From a batch of the sample stream (padded numpy/torch columns) to the model's tensors, on a device."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lavimo.models.video_encoder import IMAGE_MEAN, IMAGE_STD


@dataclass
class ModelInputs:
    motion: Tensor  # (B, T, D) normalised features, T = the longest motion of the batch
    motion_mask: Tensor  # (B, T) bool, True at valid frames
    input_ids: Tensor  # (B, L)
    attention_mask: Tensor  # (B, L) bool
    frames: Tensor | None  # (B, F, 3, H, W) float, normalised with CLIP's mean and std
    sentence_embedding: Tensor  # (B, E) unit vectors of the captions, for negative filtering
    index: Tensor  # (B,) row index in the manifest

    def __len__(self) -> int:
        return self.motion.shape[0]


def model_inputs(batch: dict[str, Tensor], device: torch.device | str, with_video: bool) -> ModelInputs:
    """Trims padding to the batch's longest motion and caption, and normalises the frames."""
    lengths = torch.as_tensor(batch["motion_length"]).long()  # (B,)
    frames_long = int(lengths.max())
    motion = torch.as_tensor(batch["motion"])[:, :frames_long].to(device, torch.float32)  # (B, T, D)
    motion_mask = (torch.arange(frames_long)[None, :] < lengths[:, None]).to(device)  # (B, T)
    attention = torch.as_tensor(batch["attention_mask"]).bool()  # (B, L_max)
    tokens_long = int(attention.sum(1).max())
    return ModelInputs(
        motion=motion,
        motion_mask=motion_mask,
        input_ids=torch.as_tensor(batch["input_ids"])[:, :tokens_long].long().to(device),  # (B, L)
        attention_mask=attention[:, :tokens_long].to(device),  # (B, L)
        frames=normalise_frames(torch.as_tensor(batch["frames"]), device) if with_video else None,
        sentence_embedding=torch.as_tensor(batch["sentence_embedding"]).to(device, torch.float32),  # (B, E)
        index=torch.as_tensor(batch["index"]).long(),
    )


def normalise_frames(frames: Tensor, device: torch.device | str) -> Tensor:
    """frames: (B, F, H, W, 3) uint8 RGB -> (B, F, 3, H, W) float, CLIP-normalised."""
    mean = torch.tensor(IMAGE_MEAN, device=device).view(1, 1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD, device=device).view(1, 1, 3, 1, 1)
    pixels = frames.to(device).permute(0, 1, 4, 2, 3).float() / 255.0  # (B, F, 3, H, W)
    return (pixels - mean) / std
