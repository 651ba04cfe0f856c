"""Checkpoint folders rebuild the model from the checkpoint alone, and refuse weights of another model."""

import json
import os

import pytest
import torch

from lavimo import checkpoint
from lavimo.config import ConfigError, LavimoConfig, StreamConfig
from lavimo.models import (
    DecoderConfig,
    FusionConfig,
    LavimoModel,
    ModelConfig,
    MotionEncoderConfig,
    TextEncoderConfig,
    VideoEncoderConfig,
    VisionTowerConfig,
)

SMALL = dict(num_layers=1, num_heads=2, ff_dim=32)


def _config(latent_dim=16, modalities=("motion", "text")) -> LavimoConfig:
    model = ModelConfig(
        latent_dim=latent_dim,
        modalities=modalities,
        motion=MotionEncoderConfig(positional_frames=64, **SMALL),
        text=TextEncoderConfig(finetune=False, max_tokens=16, **SMALL),
        video=VideoEncoderConfig(
            open_clip_model="",
            tower=VisionTowerConfig(image_size=16, patch_size=8, width=16, layers=1, heads=2, output_dim=16),
            num_frames=2,
            **SMALL,
        ),
        fusion=FusionConfig(num_heads=2),
        decoder=DecoderConfig(**SMALL),
    )
    return LavimoConfig(model=model, stream=StreamConfig(crop_frames=64))


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
    other = LavimoModel(config.model.replace(latent_dim=32))
    with pytest.raises(ValueError, match="model.safetensors: the weights do not match"):
        checkpoint.load_weights(tmp_path / "ckpt", other)


def test_a_folder_without_config_is_not_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a LAVIMO checkpoint"):
        checkpoint.read_config(tmp_path)


def _run_of_checkpoints(run_folder, epochs=(1, 2, 3)) -> list:
    """Checkpoint folders of one run, named as Ray Train names them (in time order), oldest first."""
    config = _config()
    model = LavimoModel(config.model)
    state = {"optimizer": torch.optim.AdamW(model.parameters()).state_dict()}
    return [
        checkpoint.save_checkpoint(
            run_folder / f"checkpoint_2026-12-03_12-00-0{epoch}.000000",
            model,
            {**state, "epoch": epoch},
            config,
            {"epoch": epoch},
        )
        for epoch in epochs
    ]


def _halve(path) -> None:
    os.truncate(path, path.stat().st_size // 2)


CORRUPTIONS = {  # how a checkpoint folder is left half-written or damaged -> the file the error names
    "a missing file": (lambda folder: (folder / checkpoint.STATE_FILE).unlink(), "training_state.pt missing"),
    "a truncated model.safetensors": (
        lambda folder: _halve(folder / checkpoint.MODEL_FILE),
        "model.safetensors: truncated",
    ),
    "a config.json that does not parse": (
        lambda folder: (folder / checkpoint.CONFIG_FILE).write_text('{"model": '),
        "config.json: does not parse",
    ),
    "a progress.json that does not parse": (
        lambda folder: (folder / checkpoint.PROGRESS_FILE).write_bytes(b"\x00"),
        "progress.json: does not parse",
    ),
    "a truncated optimiser state": (
        lambda folder: _halve(folder / checkpoint.STATE_FILE),
        "training_state.pt: not a complete torch archive",
    ),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_damaged_newest_checkpoint_gives_way_to_the_previous_whole_one(tmp_path, caplog, corruption):
    damage, message = CORRUPTIONS[corruption]
    *_, previous, newest = _run_of_checkpoints(tmp_path)
    assert checkpoint.whole_checkpoint(newest) == newest
    damage(newest)
    with pytest.raises(checkpoint.CheckpointError, match=message):
        checkpoint.check_whole(newest)
    with caplog.at_level("WARNING", logger="lavimo.checkpoint"):
        assert checkpoint.whole_checkpoint(newest) == previous
    assert message in caplog.text and newest.name in caplog.text
    assert checkpoint.load_model(previous)[1] == _config()


def test_with_no_whole_checkpoint_left_the_error_names_each_one(tmp_path):
    first, second = _run_of_checkpoints(tmp_path, epochs=(1, 2))
    (first / checkpoint.MODEL_FILE).write_bytes(b"")
    (second / checkpoint.PROGRESS_FILE).unlink()
    with pytest.raises(checkpoint.CheckpointError) as error:
        checkpoint.whole_checkpoint(second)
    assert "progress.json missing" in str(error.value)
    assert f"{first / checkpoint.MODEL_FILE}: truncated" in str(error.value)
    with pytest.raises(checkpoint.CheckpointError, match="no such checkpoint folder"):
        checkpoint.whole_checkpoint(tmp_path / "checkpoint_2026-12-03_12-00-09.000000")


def test_a_newer_checkpoint_is_never_chosen_for_an_older_one(tmp_path):
    first, second, third = _run_of_checkpoints(tmp_path)
    (second / checkpoint.CONFIG_FILE).unlink()
    assert checkpoint.whole_checkpoint(second) == first  # not the newer, whole `third`
    assert checkpoint.whole_checkpoint(third) == third


def test_a_checkpoint_written_with_the_earlier_key_names_still_loads(tmp_path):
    config = _config()
    model = LavimoModel(config.model)
    checkpoint.save_checkpoint(tmp_path / "ckpt", model, {}, config, {"epoch": 1})
    path = tmp_path / "ckpt" / checkpoint.CONFIG_FILE
    recorded = json.loads(path.read_text())  # rewritten as checkpoints were before the loss section and the renames
    recorded["train"]["epsilon"] = recorded["loss"].pop("epsilon")
    recorded["data"]["max_motion_frames"] = recorded["data"].pop("keep_shorter_than")
    recorded["stream"]["max_motion_frames"] = recorded["stream"].pop("crop_frames")
    recorded["model"]["motion"]["max_frames"] = recorded["model"]["motion"].pop("positional_frames")
    path.write_text(json.dumps(recorded))
    rebuilt, rebuilt_config = checkpoint.load_model(tmp_path / "ckpt")
    assert rebuilt_config == config and rebuilt_config.model.motion.positional_frames == 64
    recorded["train"]["epochs"] = 0
    path.write_text(json.dumps(recorded))
    with pytest.raises(ConfigError, match=rf"{path}: train.epochs: input should be greater than or equal to 1"):
        checkpoint.read_config(tmp_path / "ckpt")
