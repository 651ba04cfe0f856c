"""Sentence embeddings of captions with a pretrained sentence-transformers model, offline by default."""

from __future__ import annotations

import numpy as np

from lavimo import pretrained


class SentenceEncoder:
    """Encodes captions to unit-length vectors (N, E) float32 with sentence-transformers (the model folder's own
    pooling; mean pooling for a plain transformers model); loads the model once."""

    def __init__(self, model: str = "", batch_size: int = 256, max_length: int = 128, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer

        path = pretrained.resolve(model)  # a folder, or a hub id (then read from the cache or downloaded)
        self.name = model or pretrained.BUNDLED
        self.model = SentenceTransformer(path, device=device)
        self.model.max_seq_length = max_length  # tokens per caption; longer ones are truncated
        self.batch_size = batch_size

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        embeddings = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return embeddings.astype(np.float32)  # (N, E)
