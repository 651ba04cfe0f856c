"""Checkpoint folders rebuild the model from the checkpoint alone, and refuse weights of another model."""

import dataclasses

import pytest
import torch

from lavimo.config import LavimoConfig
from lavimo.models import (DecoderConfig, FusionConfig, LavimoModel, ModelConfig, MotionEncoderConfig,
                           TextEncoderConfig, VideoEncoderConfig, VisionTowerConfig)
from lavimo.train import checkpoint

SMALL = dict(num_layers=1, num_heads=2, ff_dim=32)


def _config(latent_dim=16, modalities=("motion", "text")) -> LavimoConfig:
    model = ModelConfig(
        latent_dim=latent_dim, modalities=modalities,
        motion=MotionEncoderConfig(max_frames=64, **SMALL),
        text=TextEncoderConfig(finetune=False, max_tokens=16, **SMALL),
        video=VideoEncoderConfig(open_clip_model="", tower=VisionTowerConfig(image_size=16, patch_size=8, width=16,
                                                                             layers=1, heads=2, output_dim=16),
                                 num_frames=2, **SMALL),
        fusion=FusionConfig(num_heads=2), decoder=DecoderConfig(**SMALL))
    return LavimoConfig(model=model)


def test_a_checkpoint_rebuilds_the_same_model(tmp_path):
    config = _config()
    model = LavimoModel(config.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    state = {"optimizer": optimizer.state_dict(), "epoch": 3, "step": 30}
    checkpoint.save_checkpoint(tmp_path / "ckpt", model, state, config, {"epoch": 3, "val/t2m/R10": 50.0})
    rebuilt, rebuilt_config = checkpoint.load_model(tmp_path / "ckpt")
    assert rebuilt_config == config
    for (name, a), (_, b) in zip(model.state_dict().items(), rebuilt.state_dict().items()):
        assert torch.equal(a, b), name
    assert checkpoint.load_training_state(tmp_path / "ckpt")["step"] == 30
    assert checkpoint.read_progress(tmp_path / "ckpt")["val/t2m/R10"] == 50.0
    assert not list((tmp_path / "ckpt").glob(".*tmp*"))


def test_weights_of_another_model_are_refused_with_the_file_named(tmp_path):
    config = _config()
    checkpoint.save_checkpoint(tmp_path / "ckpt", LavimoModel(config.model), {}, config, {})
    other = LavimoModel(dataclasses.replace(config.model, latent_dim=32))
    with pytest.raises(ValueError, match="model.safetensors: the weights do not match"):
        checkpoint.load_weights(tmp_path / "ckpt", other)


def test_a_folder_without_config_is_not_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a LAVIMO checkpoint"):
        checkpoint.read_config(tmp_path)
