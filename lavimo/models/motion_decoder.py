"""Motion decoder: ẽ_m and the duration l_m -> l_m positional queries attend to ẽ_m -> the poses (B, T, D)."""

from __future__ import annotations

from torch import Tensor, nn

from lavimo.models.config import DecoderConfig
from lavimo.models.layers import PositionalEncoding


class MotionDecoder(nn.Module):
    """A transformer decoder that sees only the fused embedding ẽ_m (its memory, one token) and the duration l_m
    (one sinusoidal query per frame, padding masked), as TEMOS and TMR decode a latent vector: the reconstruction
    loss reaches the motion embedding through ẽ_m alone."""

    def __init__(self, config: DecoderConfig, latent_dim: int, feature_dim: int, positional_frames: int):
        super().__init__()
        self.queries = PositionalEncoding(latent_dim, positional_frames)
        # Post-norm, as TEMOS's decoder: with a single memory token the cross-attention output does not depend on
        # its query, so a pre-norm layer's norm before it would never get a gradient.
        layer = nn.TransformerDecoderLayer(
            latent_dim, config.num_heads, config.ff_dim, config.dropout, activation="gelu", batch_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, config.num_layers)
        self.output = nn.Linear(latent_dim, feature_dim)

    def forward(self, fused: Tensor, mask: Tensor) -> Tensor:
        """fused ẽ_m (B, C), mask (B, T) bool (True for the first l_m frames of each motion) -> features (B, T, D),
        0 at padding."""
        if fused.dim() != 2:
            raise ValueError(f"decoder: expected ẽ_m of shape (B, C), got {tuple(fused.shape)}")
        batch, frames = mask.shape
        queries = self.queries.positions(frames, "motion").unsqueeze(0).expand(batch, -1, -1)  # (B, T, C)
        memory = fused.unsqueeze(1)  # (B, 1, C)
        hidden = self.decoder(queries, memory, tgt_key_padding_mask=~mask)  # (B, T, C)
        return self.output(hidden) * mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, D)
