"""Motion decoder: l_m positional queries attend to the fused sequence and reconstruct the poses (B, T, D)."""

from __future__ import annotations

from torch import Tensor, nn

from lavimo.models.config import DecoderConfig
from lavimo.models.layers import PositionalEncoding


class MotionDecoder(nn.Module):
    """Transformer decoder conditioned on the duration: one sinusoidal query per valid frame, padding masked."""

    def __init__(self, config: DecoderConfig, latent_dim: int, feature_dim: int, max_frames: int):
        super().__init__()
        self.queries = PositionalEncoding(latent_dim, max_frames)
        layer = nn.TransformerDecoderLayer(latent_dim, config.num_heads, config.ff_dim, config.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, config.num_layers, norm=nn.LayerNorm(latent_dim))
        self.output = nn.Linear(latent_dim, feature_dim)

    def forward(self, fused: Tensor, mask: Tensor) -> Tensor:
        """fused (B, T, C), mask (B, T) bool (the valid length l_m of each motion) -> features (B, T, D), 0 at padding."""
        batch, frames, _ = fused.shape
        queries = self.queries.positions(frames, "motion").unsqueeze(0).expand(batch, -1, -1)  # (B, T, C)
        hidden = self.decoder(queries, fused, tgt_key_padding_mask=~mask, memory_key_padding_mask=~mask)  # (B, T, C)
        return self.output(hidden) * mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, D)
