"""Feature fusion (Eq. 7): the motion embedding e_m queries each modality's tokens; ẽ_m is the sum of the terms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor, nn

from lavimo.models.config import FusionConfig
from lavimo.models.layers import Encoded


class FeatureFusion(nn.Module):
    """ẽ_m = Atten(Q_m, K_m, V_m) + Atten(Q_m, K_t, V_t) [+ Atten(Q_m, K_v, V_v)]: one multi-head attention per
    modality, its single query the motion embedding e_m, its keys and values that modality's token sequence (motion
    frame tokens, text tokens, per-frame video features), padding masked."""

    def __init__(self, config: FusionConfig, latent_dim: int, modalities: Sequence[str]):
        super().__init__()
        self.attention = nn.ModuleDict(
            {
                name: nn.MultiheadAttention(latent_dim, config.num_heads, dropout=config.dropout, batch_first=True)
                for name in modalities
            }
        )

    def forward(self, motion_embedding: Tensor, sources: Mapping[str, Encoded]) -> Tensor:
        """motion_embedding e_m (B, C); sources by modality name ("motion" included; an absent one adds no term)
        -> ẽ_m (B, C), one vector per motion."""
        unknown = sorted(set(sources) - set(self.attention))
        if unknown or not sources:
            raise ValueError(f"fusion: no attention for modalities {unknown}; it has {sorted(self.attention)}")
        if motion_embedding.dim() != 2:
            raise ValueError(f"fusion: expected e_m of shape (B, C), got {tuple(motion_embedding.shape)}")
        query = motion_embedding.unsqueeze(1)  # (B, 1, C)
        fused = 0
        for name, source in sources.items():
            term, _ = self.attention[name](
                query, source.tokens, source.tokens, key_padding_mask=~source.mask, need_weights=False
            )  # (B, 1, C)
            fused = fused + term
        return fused.squeeze(1)  # (B, C)
