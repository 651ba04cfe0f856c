"""One embedding class for validation, batch inference on Ray Data and retrieval: batch in, unit vectors out."""

from __future__ import annotations

import numpy as np
import torch

from lavimo.models import LavimoModel
from lavimo.models.inputs import model_inputs


class Embedder:
    """Embeds motion, caption and (3-modal) video of every row of a stream batch with the same towers as training."""

    def __init__(self, model: LavimoModel, device: torch.device | str = "cpu"):
        self.model = model
        self.device = device

    @torch.inference_mode()
    def __call__(self, batch: dict) -> dict[str, np.ndarray]:
        was_training = self.model.training
        self.model.eval()
        inputs = model_inputs(batch, self.device, with_video=self.model.config.has_video)
        out = {
            "index": inputs.index.numpy(),
            "motion": self.model.encode_motion(inputs.motion, inputs.motion_mask).float().cpu().numpy(),  # (B, C)
            "text": self.model.encode_text(inputs.input_ids, inputs.attention_mask).float().cpu().numpy(),
            "sentence": inputs.sentence_embedding.cpu().numpy(),  # (B, E)
        }
        if inputs.frames is not None:
            out["video"] = self.model.encode_video(inputs.frames).float().cpu().numpy()  # (B, C)
        self.model.train(was_training)
        return out


def stack_embeddings(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenates embedder outputs and orders the rows by manifest index."""
    stacked = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.argsort(stacked["index"], kind="stable")
    return {key: value[order] for key, value in stacked.items()}
