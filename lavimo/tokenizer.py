"""Captions -> token ids with the tokenizer of a pretrained text model (a folder or hub id; "" = the bundled MiniLM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from lavimo import pretrained


def load_tokenizer(source: str) -> Any:
    """The tokenizer of the pretrained text model `source` (model.text.pretrained)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(pretrained.resolve(source))


def tokenize(tokenizer: Any, texts: Sequence[str], max_tokens: int) -> tuple[Tensor, Tensor]:
    """Captions -> (input_ids (B, L) long, attention_mask (B, L) bool), padded to the longest, L <= max_tokens."""
    if isinstance(texts, str) or not texts:
        raise ValueError(f"tokenize: expected a non-empty list of captions, got {texts!r}")
    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"].bool()
