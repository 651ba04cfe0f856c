"""AdamW over the trainable parameters and the paper's schedule: constant, then linear decay to a final rate."""

from __future__ import annotations

import torch

from lavimo.config import TrainConfig


def build_optimizer(model: torch.nn.Module, train: TrainConfig) -> torch.optim.AdamW:
    """AdamW; biases, norms, the [CLS] tokens and the temperature get no weight decay."""
    decayed, plain = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (plain if parameter.ndim < 2 or "logit_scale" in name else decayed).append(parameter)
    groups = [{"params": decayed, "weight_decay": train.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=train.learning_rate)


def learning_rate_factor(step: int, total_steps: int, train: TrainConfig) -> float:
    """Multiplier of the base rate at `step`: 1 for the first `decay_start` of training, then linear down to
    final/base at the last step (the paper: 1e-4 for 100 of 400 epochs, then down to 1e-5)."""
    constant_steps = int(round(train.decay_start * total_steps))
    if step < constant_steps or total_steps <= constant_steps:
        return 1.0
    progress = min(1.0, (step - constant_steps) / max(1, total_steps - 1 - constant_steps))
    final = train.final_learning_rate / train.learning_rate
    return 1.0 + progress * (final - 1.0)


def build_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, train: TrainConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: learning_rate_factor(step, total_steps, train))
