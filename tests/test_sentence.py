"""Caption embeddings through sentence-transformers match the all-MiniLM-L6-v2 recipe computed by hand from the
bundled real weights (mean pooling over the attention mask, then unit length): the parity that let
lavimo/data/sentence.py drop its own pooling."""

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from lavimo import pretrained
from lavimo.data.sentence import SentenceEncoder

CAPTIONS = [
    "a person walks forward and waves",
    "someone jumps twice",
    "a man kicks with his left leg, then turns around slowly",
    "x",
    "a person " * 80,  # longer than the 128 tokens a caption keeps
]


def _by_hand(texts: list[str], max_length: int) -> np.ndarray:
    path = pretrained.resolve("")
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state  # (N, L, E)
    mask = batch["attention_mask"].unsqueeze(-1).float()  # (N, L, 1)
    pooled = (hidden * mask).sum(1) / mask.sum(1)  # (N, E)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def test_sentence_transformers_embeddings_match_mean_pooling_by_hand():
    encoder = SentenceEncoder("", batch_size=2, max_length=128)
    embeddings = encoder.encode(CAPTIONS)
    assert embeddings.dtype == np.float32 and embeddings.shape == (len(CAPTIONS), encoder.dim) == (5, 384)
    np.testing.assert_allclose(embeddings, _by_hand(CAPTIONS, 128), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)
