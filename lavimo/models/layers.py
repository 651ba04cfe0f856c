"""Shared transformer pieces: sinusoidal positions, an optional-[CLS] sequence transformer, masked pooling."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class Encoded:
    """One modality after its tower: the pooled embedding and the token sequence fusion attends to."""

    embedding: Tensor  # (B, C), not normalised
    tokens: Tensor  # (B, N, C), zero at padded positions
    mask: Tensor  # (B, N) bool, True = valid token


def sinusoidal_table(length: int, dim: int) -> Tensor:
    """The fixed sine/cosine position table of "Attention is all you need": (length, dim)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)  # (length, 1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (ceil(dim/2),)
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


class PositionalEncoding(nn.Module):
    """Sinusoidal positions for sequences of at most `max_len` tokens; not saved in checkpoints."""

    def __init__(self, dim: int, max_len: int):
        super().__init__()
        self.max_len = max_len
        self.register_buffer("table", sinusoidal_table(max_len, dim), persistent=False)

    def positions(self, length: int, what: str = "sequence") -> Tensor:
        """The first `length` rows of the table: (length, C)."""
        if length > self.max_len:
            raise ValueError(f"{what} has {length} positions, more than the configured maximum {self.max_len}")
        return self.table[:length]

    def forward(self, x: Tensor, what: str = "sequence") -> Tensor:
        return x + self.positions(x.shape[1], what)  # (B, N, C)


def check_mask(mask: Tensor, batch: int, length: int, what: str) -> Tensor:
    """Validates a (B, N) padding mask (True = valid) and returns it as bool; every row needs a valid token."""
    if mask.shape != (batch, length):
        raise ValueError(f"{what} mask has shape {tuple(mask.shape)}, expected {(batch, length)}")
    mask = mask.bool()
    if not bool(mask.any(dim=1).all()):
        raise ValueError(f"{what}: a batch row has no valid position (empty sequence)")
    return mask


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean over valid positions: x (B, N, C), mask (B, N) bool -> (B, C)."""
    weights = mask.unsqueeze(-1).to(x.dtype)  # (B, N, 1)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def transformer_encoder(
    dim: int, num_layers: int, num_heads: int, ff_dim: int, dropout: float
) -> nn.TransformerEncoder:
    """A pre-norm GELU transformer encoder (batch first) with a final LayerNorm."""
    layer = nn.TransformerEncoderLayer(
        dim, num_heads, ff_dim, dropout, activation="gelu", batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(dim), enable_nested_tensor=False)


class SequenceTransformer(nn.Module):
    """Optional learnable [CLS] token + sinusoidal positions + transformer encoder over a padded sequence."""

    def __init__(
        self, dim: int, num_layers: int, num_heads: int, ff_dim: int, dropout: float, max_len: int, use_cls: bool
    ):
        super().__init__()
        self.max_len = max_len
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02) if use_cls else None  # (1, 1, C)
        self.positions = PositionalEncoding(dim, max_len + int(use_cls))
        self.dropout = nn.Dropout(dropout)
        self.encoder = transformer_encoder(dim, num_layers, num_heads, ff_dim, dropout)

    def forward(self, x: Tensor, mask: Tensor, what: str = "sequence") -> tuple[Tensor | None, Tensor]:
        """x (B, N, C), mask (B, N) bool -> ([CLS] output (B, C) or None, tokens (B, N, C) zeroed at padding)."""
        if x.shape[1] > self.max_len:
            raise ValueError(f"{what} has {x.shape[1]} positions, more than the configured maximum {self.max_len}")
        if self.cls is not None:
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)  # (B, 1+N, C)
            mask = torch.cat([mask.new_ones(mask.shape[0], 1), mask], dim=1)  # (B, 1+N)
        x = self.dropout(self.positions(x, what))
        out = self.encoder(x, src_key_padding_mask=~mask)  # (B, [1+]N, C)
        out = out * mask.unsqueeze(-1).to(out.dtype)  # (B, [1+]N, C), exactly zero at padded positions
        if self.cls is None:
            return None, out
        return out[:, 0], out[:, 1:]  # (B, C), (B, N, C)
