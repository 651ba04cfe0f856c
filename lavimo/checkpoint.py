"""A run's files: checkpoint folders (safetensors weights, tensor-only optimiser state, the resolved config and the
progress) and the run record (the MLflow run the run folder writes to). Training writes them; evaluation, retrieval,
serving and the registry read them through this module alone."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import torch as safetensors_torch

from lavimo import storage
from lavimo.config import ConfigError, LavimoConfig, migrate_recorded
from lavimo.models import LavimoModel
from lavimo.schema import build

MODEL_FILE = "model.safetensors"
STATE_FILE = "training_state.pt"  # optimiser, scheduler and grad-scaler state: tensors and numbers only
CONFIG_FILE = "config.json"  # the resolved LavimoConfig, enough to rebuild the model
PROGRESS_FILE = "progress.json"  # epoch, step and the metrics reported with the checkpoint
FILES = (MODEL_FILE, STATE_FILE, CONFIG_FILE, PROGRESS_FILE)
FOLDER_PREFIX = "checkpoint_"  # Ray Train names a run's checkpoint folders checkpoint_YYYY-MM-DD_HH-MM-SS.ffffff
RUN_FILE = "lavimo_run.json"  # beside Ray Train's files: the MLflow run a resumed job goes on writing to

log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be used; the message names the folder or file and what is wrong."""


def save_checkpoint(
    folder: str | Path,
    model: torch.nn.Module,
    training_state: dict[str, Any],
    config: LavimoConfig,
    progress: dict[str, Any],
) -> Path:
    """Writes one checkpoint folder; each file goes to a temporary name first and is renamed when complete."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    storage.write_file_atomic(folder / MODEL_FILE, lambda path: safetensors_torch.save_model(model, str(path)))
    storage.write_file_atomic(folder / STATE_FILE, lambda path: torch.save(training_state, path))
    storage.write_bytes_atomic(str(folder / CONFIG_FILE), json.dumps(config.to_dict(), indent=2).encode())
    storage.write_bytes_atomic(str(folder / PROGRESS_FILE), json.dumps(progress, indent=2).encode())
    return folder


def check_whole(folder: str | Path) -> None:
    """Raises CheckpointError unless every file of the checkpoint is there and complete: both JSON files parse,
    the safetensors file is as long as its header says, the optimiser state is a complete torch archive."""
    folder = Path(folder)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"{folder}: incomplete checkpoint, {', '.join(missing)} missing")
    for name in (CONFIG_FILE, PROGRESS_FILE):
        try:
            json.loads((folder / name).read_text())
        except (ValueError, UnicodeDecodeError) as err:
            raise CheckpointError(f"{folder / name}: does not parse as JSON ({err})") from None
    _check_safetensors(folder / MODEL_FILE)
    try:
        with zipfile.ZipFile(folder / STATE_FILE):  # torch.save's archive: its directory is at the end
            pass
    except zipfile.BadZipFile as err:
        raise CheckpointError(f"{folder / STATE_FILE}: not a complete torch archive ({err})") from None


def whole_checkpoint(folder: str | Path) -> Path:
    """`folder` when it is whole; otherwise the newest whole checkpoint of the same run that is older than it, with
    a warning naming each bad folder and why. CheckpointError when no whole one is left. A URI is returned as it is
    (remote checkpoints are read, and checked, by whatever downloads them)."""
    if storage.is_uri(str(folder)):
        return folder
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    older = (
        sorted(
            (p for p in folder.parent.glob(f"{FOLDER_PREFIX}*") if p.is_dir() and p.name < folder.name), reverse=True
        )
        if folder.name.startswith(FOLDER_PREFIX)
        else []
    )
    problems = []
    for candidate in (folder, *older):
        try:
            check_whole(candidate)
        except CheckpointError as err:
            problems.append(str(err))
            log.warning("skipping checkpoint %s: %s", candidate, err)
            continue
        if candidate != folder:
            log.warning("using the previous whole checkpoint %s instead of %s", candidate, folder)
        return candidate
    raise CheckpointError(f"{folder}: no whole checkpoint in it or before it in its run: " + "; ".join(problems))


def read_config(folder: str | Path) -> LavimoConfig:
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: not a LAVIMO checkpoint (no {CONFIG_FILE})")
    try:  # recorded by this version or an earlier one (its renamed keys moved)
        return build(LavimoConfig, migrate_recorded(json.loads(path.read_text())))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def read_run_record(run_folder: str) -> dict[str, str] | None:
    """The run record of a run folder (local path or URI): {"mlflow_uri", "run_id", ...}; None when it has none."""
    record = storage.join(run_folder, RUN_FILE)
    return json.loads(storage.read_text(record)) if storage.is_file(record) else None


def write_run_record(run_folder: str, record: dict[str, str]) -> None:
    storage.write_bytes_atomic(storage.join(run_folder, RUN_FILE), json.dumps(record).encode())


def run_folder_of(checkpoint_folder: str | Path) -> str:
    """The run folder that holds a checkpoint folder."""
    return storage.absolute(str(checkpoint_folder)).rstrip("/").rsplit("/", 1)[0]


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


def _check_safetensors(path: Path) -> None:
    """A safetensors file is an 8-byte header length, a JSON header of tensor offsets, then exactly that data."""
    size = path.stat().st_size
    with open(path, "rb") as file:
        header_length = int.from_bytes(file.read(8), "little")
        if size < 8 or 8 + header_length > size:
            raise CheckpointError(f"{path}: truncated ({size} bytes, shorter than its header)")
        try:
            header = json.loads(file.read(header_length))
            end = max(
                (int(entry["data_offsets"][1]) for key, entry in header.items() if key != "__metadata__"), default=0
            )
        except (ValueError, UnicodeDecodeError, KeyError, TypeError, IndexError) as err:
            raise CheckpointError(f"{path}: its header does not parse ({err})") from None
    if 8 + header_length + end != size:
        raise CheckpointError(
            f"{path}: truncated or damaged: its header describes {8 + header_length + end} bytes, the file has {size}"
        )
