"""The learning-rate schedule scales with the epoch count: constant for a quarter, then linear to the final rate."""

import pytest
import torch

from lavimo.config import TrainConfig
from lavimo.train.schedule import build_optimizer, build_scheduler, learning_rate_factor


def test_paper_schedule_is_constant_for_100_of_400_epochs_then_linear_to_1e_5():
    train = TrainConfig(epochs=400)
    steps_per_epoch = 10
    total = 400 * steps_per_epoch
    assert learning_rate_factor(0, total, train) == 1.0
    assert learning_rate_factor(100 * steps_per_epoch - 1, total, train) == 1.0
    assert learning_rate_factor(total - 1, total, train) == pytest.approx(0.1)
    middle = learning_rate_factor((100 * steps_per_epoch + total - 1) // 2, total, train)
    assert 0.5 < middle < 0.6


def test_scheduler_drives_the_optimiser_and_spares_norms_from_weight_decay():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    train = TrainConfig(epochs=4, learning_rate=1e-3, final_learning_rate=1e-4, decay_start=0.5)
    optimizer = build_optimizer(model, train)
    assert [len(g["params"]) for g in optimizer.param_groups] == [1, 3]  # Linear.weight vs biases and norm
    scheduler = build_scheduler(optimizer, total_steps=8, train=train)
    rates = []
    for _ in range(8):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[:4] == [1e-3] * 4
    assert rates[-1] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(rates, rates[1:]))
