"""Feature fusion: motion tokens query every modality, Atten(Q_m,K_m,V_m) + Atten(Q_m,K_t,V_t) + Atten(Q_m,K_v,V_v)."""

from __future__ import annotations

from typing import Mapping, Sequence

from torch import Tensor, nn

from lavimo.models.config import FusionConfig
from lavimo.models.layers import Encoded


class FeatureFusion(nn.Module):
    """One multi-head cross-attention per modality, all queried by the motion tokens; the terms are summed."""

    def __init__(self, config: FusionConfig, latent_dim: int, modalities: Sequence[str]):
        super().__init__()
        self.attention = nn.ModuleDict({
            name: nn.MultiheadAttention(latent_dim, config.num_heads, dropout=config.dropout, batch_first=True)
            for name in modalities
        })

    def forward(self, motion: Encoded, sources: Mapping[str, Encoded]) -> Tensor:
        """motion tokens (B, T, C) as queries; sources by modality name ("motion" included; an absent one adds no
        term) -> fused (B, T, C), zero at padded motion frames."""
        unknown = sorted(set(sources) - set(self.attention))
        if unknown or not sources:
            raise ValueError(f"fusion: no attention for modalities {unknown}; it has {sorted(self.attention)}")
        fused = 0
        for name, source in sources.items():
            term, _ = self.attention[name](motion.tokens, source.tokens, source.tokens,
                                           key_padding_mask=~source.mask, need_weights=False)  # (B, T, C)
            fused = fused + term
        return fused * motion.mask.unsqueeze(-1).to(motion.tokens.dtype)  # (B, T, C)
