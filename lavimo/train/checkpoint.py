"""Checkpoint folders: safetensors weights, tensor-only optimiser state, the resolved config and the progress."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import torch as safetensors_torch

from lavimo.config import LavimoConfig, from_dict
from lavimo.models import LavimoModel

MODEL_FILE = "model.safetensors"
STATE_FILE = "training_state.pt"  # optimiser, scheduler and grad-scaler state: tensors and numbers only
CONFIG_FILE = "config.json"  # the resolved LavimoConfig, enough to rebuild the model
PROGRESS_FILE = "progress.json"  # epoch, step and the metrics reported with the checkpoint


def save_checkpoint(folder: str | Path, model: torch.nn.Module, training_state: dict[str, Any],
                    config: LavimoConfig, progress: dict[str, Any]) -> Path:
    """Writes one checkpoint folder; each file goes to a temporary name first and is renamed when complete."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _atomic(folder / MODEL_FILE, lambda path: safetensors_torch.save_model(model, str(path)))
    _atomic(folder / STATE_FILE, lambda path: torch.save(training_state, path))
    _atomic(folder / CONFIG_FILE, lambda path: path.write_text(json.dumps(config.to_dict(), indent=2)))
    _atomic(folder / PROGRESS_FILE, lambda path: path.write_text(json.dumps(progress, indent=2)))
    return folder


def read_config(folder: str | Path) -> LavimoConfig:
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: not a LAVIMO checkpoint (no {CONFIG_FILE})")
    config = from_dict(LavimoConfig, json.loads(path.read_text()))
    config.validate()
    return config


def read_progress(folder: str | Path) -> dict[str, Any]:
    return json.loads((Path(folder) / PROGRESS_FILE).read_text())


def load_weights(folder: str | Path, model: torch.nn.Module) -> None:
    """Loads the safetensors weights into `model` (unwrapped), with a clear error on any mismatch."""
    path = Path(folder) / MODEL_FILE
    try:
        safetensors_torch.load_model(model, str(path), strict=True)
    except (RuntimeError, KeyError) as err:
        raise ValueError(f"{path}: the weights do not match the model of this config ({err})") from None


def load_training_state(folder: str | Path) -> dict[str, Any]:
    """Optimiser/scheduler state; `weights_only=True` refuses anything but tensors and plain containers."""
    return torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=True)


def load_model(folder: str | Path, device: str | torch.device = "cpu") -> tuple[LavimoModel, LavimoConfig]:
    """Rebuilds the model from the checkpoint alone (its config, then its weights), in eval mode."""
    config = read_config(folder)
    model = LavimoModel(config.model, load_pretrained=False)
    load_weights(folder, model)
    return model.to(device).eval(), config


def _atomic(path: Path, write) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write(temporary)
    os.replace(temporary, path)
