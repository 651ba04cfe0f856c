"""Motion tower: pose features (B, T, D) -> linear projection, [CLS] + positions, transformer -> e_m (B, C)."""

from __future__ import annotations

from torch import Tensor, nn

from lavimo.models.config import MotionEncoderConfig
from lavimo.models.layers import Encoded, SequenceTransformer, check_mask


class MotionEncoder(nn.Module):
    """Encodes normalised pose-feature sequences; e_m is the transformer output at the [CLS] token."""

    def __init__(self, config: MotionEncoderConfig, latent_dim: int):
        super().__init__()
        self.config = config
        self.projection = nn.Linear(config.feature_dim, latent_dim)
        self.transformer = SequenceTransformer(
            latent_dim,
            config.num_layers,
            config.num_heads,
            config.ff_dim,
            config.dropout,
            config.positional_frames,
            use_cls=True,
        )

    def forward(self, x: Tensor, mask: Tensor) -> Encoded:
        """x (B, T, D) float, mask (B, T) bool (True = valid frame) -> Encoded(e_m (B, C), tokens (B, T, C), mask)."""
        if x.dim() != 3 or x.shape[-1] != self.config.feature_dim:
            raise ValueError(f"motion: expected (B, T, {self.config.feature_dim}) features, got {tuple(x.shape)}")
        mask = check_mask(mask, x.shape[0], x.shape[1], "motion")
        cls, tokens = self.transformer(self.projection(x), mask, "motion")  # (B, C), (B, T, C)
        return Encoded(cls, tokens, mask)
