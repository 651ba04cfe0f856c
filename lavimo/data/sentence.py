"""Sentence embeddings of captions with a pretrained sentence-transformers model, offline by default."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from lavimo import pretrained


def _pooling_mode(source: str) -> str:
    """ "mean" or "cls", from the sentence-transformers pooling config of a folder or hub id (mean without one)."""
    config = Path(source) / "1_Pooling" / "config.json"
    if not os.path.isdir(source):
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        try:
            config = Path(hf_hub_download(source, "1_Pooling/config.json"))
        except EntryNotFoundError:
            return "mean"
    if not config.is_file():
        return "mean"
    settings = json.loads(config.read_text())
    return "cls" if settings.get("pooling_mode_cls_token") else "mean"


class SentenceEncoder:
    """Encodes captions to unit-length vectors (N, E) float32; loads the model once."""

    def __init__(self, model: str = "", batch_size: int = 256, max_length: int = 128, device: str = "cpu"):
        from transformers import AutoModel, AutoTokenizer

        path = pretrained.resolve(model)  # a folder, or a hub id (then read from the cache or downloaded)
        self.name = model or pretrained.BUNDLED
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.pooling = _pooling_mode(path)
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> np.ndarray:
        chunks = [self._encode_batch(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), np.float32)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        hidden = self.model(**batch).last_hidden_state  # (B, L, E)
        if self.pooling == "cls":
            pooled = hidden[:, 0]  # (B, E)
        else:
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, L, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, E)
        return torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()
