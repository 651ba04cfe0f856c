"""Text tower: a pretrained Hugging Face encoder, projected to C, then [CLS] + temporal transformer -> e_t (B, C)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

from lavimo import pretrained
from lavimo.models.config import TextEncoderConfig
from lavimo.models.layers import Encoded, SequenceTransformer, check_mask


def load_pretrained_text_model(config: TextEncoderConfig, load_weights: bool = True) -> nn.Module:
    """The Hugging Face encoder of `config.pretrained`; without weights it is built from its config.json alone."""
    from transformers import AutoConfig, AutoModel

    path = pretrained.resolve(config.pretrained)
    model = AutoModel.from_pretrained(path) if load_weights else AutoModel.from_config(AutoConfig.from_pretrained(path))
    if getattr(model, "pooler", None) is not None:
        model.pooler = None  # unused (we read the token states): would hold parameters that never get a gradient
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and config.max_tokens > limit:
        raise ValueError(f"model.text.max_tokens: {config.max_tokens} exceeds the {limit} positions of {path}")
    return model


FROZEN_CACHE_SIZE = 50_000  # captions whose frozen-encoder states are kept (about 25 KB each at 16 tokens)


class TextEncoder(nn.Module):
    """Encodes tokenised captions; e_t is the temporal transformer's output at its own [CLS] token."""

    def __init__(self, config: TextEncoderConfig, latent_dim: int, load_pretrained: bool = True):
        super().__init__()
        self.config = config
        self.pretrained = load_pretrained_text_model(config, load_pretrained)
        if not config.finetune:
            self.pretrained.requires_grad_(False)
            self.pretrained.eval()
        self.projection = nn.Linear(self.pretrained.config.hidden_size, latent_dim)
        self.transformer = SequenceTransformer(
            latent_dim,
            config.num_layers,
            config.num_heads,
            config.ff_dim,
            config.dropout,
            config.max_tokens,
            use_cls=True,
        )
        self._frozen_states: OrderedDict[tuple[int, ...], Tensor] = OrderedDict()  # caption tokens -> (l, H)

    def train(self, mode: bool = True) -> TextEncoder:
        super().train(mode)
        if not self.config.finetune:
            self.pretrained.eval()  # a frozen encoder stays deterministic (no dropout)
        return self

    @torch.no_grad()
    def _frozen_hidden(self, input_ids: Tensor, mask: Tensor) -> Tensor:
        """The frozen encoder's states, computed once per distinct caption and then reused: with right padding
        and a frozen model, a caption's valid states never change. Keeps at most FROZEN_CACHE_SIZE captions."""
        keys = [tuple(ids[row_mask].tolist()) for ids, row_mask in zip(input_ids.cpu(), mask.cpu())]
        missing = [i for i, key in enumerate(keys) if key not in self._frozen_states]
        if missing:
            rows = torch.tensor(missing, device=input_ids.device)
            fresh = self.pretrained(input_ids=input_ids[rows], attention_mask=mask[rows].long()).last_hidden_state
            for state, i in zip(fresh, missing):  # state: (L, H)
                self._frozen_states[keys[i]] = state[: len(keys[i])].clone()
        hidden = torch.zeros(*input_ids.shape, self.pretrained.config.hidden_size, device=input_ids.device)
        for i, key in enumerate(keys):
            self._frozen_states.move_to_end(key)
            hidden[i, : len(key)] = self._frozen_states[key]  # (l, H)
        while len(self._frozen_states) > FROZEN_CACHE_SIZE:
            self._frozen_states.popitem(last=False)
        return hidden  # (B, L, H)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Encoded:
        """input_ids (B, L) long, attention_mask (B, L) bool -> Encoded(e_t (B, C), tokens (B, L, C), mask)."""
        if input_ids.dim() != 2:
            raise ValueError(f"text: expected input_ids of shape (B, L), got {tuple(input_ids.shape)}")
        mask = check_mask(attention_mask, input_ids.shape[0], input_ids.shape[1], "text")
        if self.config.finetune:
            hidden = self.pretrained(input_ids=input_ids, attention_mask=mask.long()).last_hidden_state  # (B, L, H)
        else:
            hidden = self._frozen_hidden(input_ids, mask)  # (B, L, H)
        cls, tokens = self.transformer(self.projection(hidden), mask, "text")  # (B, C), (B, L, C)
        return Encoded(cls, tokens, mask)
