"""One typed configuration for every job, loaded from YAML and validated with messages that name the bad key."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lavimo import pretrained
from lavimo.directions import DIRECTIONS, validation_recalls
from lavimo.models.config import ModelConfig, to_plain
from lavimo.render.config import RenderConfig

DATASETS = ("humanml3d", "kit", "synthetic")
MOVED_KEYS = {"train.epsilon": "loss.epsilon", "train.lambda_recon": "loss.lambda_recon"}  # old key: its new one


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class SyntheticConfig:
    num_motions: int = 400  # original motions; each also gets a mirrored copy
    seed: int = 0


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "synthetic"  # humanml3d | kit | synthetic
    root: str = "outputs/datasets/synthetic"  # dataset folder in the HumanML3D layout (path or URI)
    prepared: str = "outputs/prepared/synthetic"  # where prepare_data writes videos, embeddings, manifests
    splits: tuple[str, ...] = ("train", "val", "test")
    min_motion_frames: int | None = None  # None: the original loaders' value (40 HumanML3D, 24 KIT)
    max_motion_frames: int | None = 200  # motions and caption windows with >= this many frames are dropped
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise ConfigError(f"data.dataset: expected one of {DATASETS}, got {self.dataset!r}")
        if not self.splits:
            raise ConfigError("data.splits: at least one split is needed")
        if self.min_motion_frames is not None and self.min_motion_frames < 2:
            raise ConfigError(f"data.min_motion_frames: must be >= 2, got {self.min_motion_frames}")
        if self.max_motion_frames is not None and self.max_motion_frames <= (self.min_motion_frames or 2):
            raise ConfigError("data.max_motion_frames: must be larger than data.min_motion_frames")


@dataclass(frozen=True)
class PrepareConfig:
    sentence_model: str = ""  # sentence-transformers folder or hub id; "" = bundled all-MiniLM-L6-v2
    embed_batch_size: int = 256  # captions per forward pass of the sentence model
    embed_chunk_size: int = 2048  # captions per cached embedding file (the unit of resumption)
    embed_actors: int = 1  # sentence-model actors
    embed_cpus: float = 1.0  # CPUs reserved per sentence-model actor
    render_cpus: float = 1.0  # CPUs reserved per motion task (validate + render one video)

    def validate(self) -> None:
        for name in ("embed_batch_size", "embed_chunk_size", "embed_actors"):
            if getattr(self, name) < 1:
                raise ConfigError(f"prepare.{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("embed_cpus", "render_cpus"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"prepare.{name}: must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class StreamConfig:
    """How manifest rows become training samples (frame count, frame size and token count come from `model`)."""

    max_motion_frames: int = 196  # longer caption windows are cropped (randomly in training)
    augment: bool = True  # random resized crop, colour jitter, grayscale, blur (training only)
    flip_probability: float = 0.5  # flipped training sample: its video flipped, its mirror's motion and caption

    def validate(self) -> None:
        if self.max_motion_frames < 2:
            raise ConfigError(f"stream.max_motion_frames: must be >= 2, got {self.max_motion_frames}")
        if not 0.0 <= self.flip_probability <= 1.0:
            raise ConfigError(f"stream.flip_probability: must be in [0, 1], got {self.flip_probability}")


@dataclass(frozen=True)
class TrainConfig:
    num_workers: int = 4  # Ray Train DDP workers
    use_gpu: bool = True
    cpus_per_worker: float = 1.0
    epochs: int = 400
    batch_size: int = 64  # global: each worker takes batch_size / num_workers
    learning_rate: float = 1e-4
    final_learning_rate: float = 1e-5
    decay_start: float = 0.25  # constant lr for this fraction of training, then linear decay (100 of 400 epochs)
    weight_decay: float = 0.01
    grad_clip_norm: float = 1.0
    mixed_precision: bool = True  # autocast on GPU (bf16 where supported); ignored on CPU
    decode_tasks: int = 4  # concurrent Ray Data tasks that decode and augment samples
    decode_cpus: float = 1.0  # CPUs reserved per decode task
    checkpoint_every: int = 10  # epochs between checkpoints
    keep_checkpoints: int = 3  # the best K by checkpoint_metric are kept
    checkpoint_metric: str = "val/t2m/R10"
    max_failures: int = 3  # worker crashes survived by restarting from the last checkpoint
    log_every_steps: int = 10
    seed: int = 0
    storage_path: str = "outputs/runs"  # Ray Train storage: local path or URI (s3://, gs://)
    experiment: str = "lavimo"  # MLflow experiment
    registered_model: str | None = None  # the model registry's name for the best checkpoint; None: the experiment's

    def validate(self) -> None:
        positive = (
            "num_workers",
            "epochs",
            "batch_size",
            "decode_tasks",
            "checkpoint_every",
            "keep_checkpoints",
            "log_every_steps",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name}: must be >= 1, got {getattr(self, name)}")
        if self.batch_size % self.num_workers:
            raise ConfigError(
                f"train.batch_size: {self.batch_size} is not divisible by train.num_workers {self.num_workers}"
            )
        if not 0.0 <= self.decay_start <= 1.0:
            raise ConfigError(f"train.decay_start: must be in [0, 1], got {self.decay_start}")
        if self.cpus_per_worker <= 0 or self.decode_cpus <= 0:
            raise ConfigError("train.cpus_per_worker and train.decode_cpus must be > 0")


@dataclass(frozen=True)
class LossConfig:
    """The training loss (lavimo.losses): a contrastive term per modality pair with negative filtering, plus
    lambda_recon x motion reconstruction. A 2-modal model has the motion-text pair only."""

    epsilon: float = 0.8  # negative filtering: captions with (cos + 1) / 2 >= epsilon are positives (TMR's scale)
    lambda_recon: float = 0.1  # weight of the reconstruction term
    motion_text: float = 1.0  # weight of each alignment pair's term
    motion_video: float = 1.0
    text_video: float = 1.0

    def validate(self) -> None:
        if not 0.0 < self.epsilon <= 1.0:
            raise ConfigError(
                f"loss.epsilon: must be in (0, 1], on the caption score (cos + 1) / 2, got {self.epsilon}"
            )
        for name in ("lambda_recon", "motion_text", "motion_video", "text_video"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ConfigError(f"loss.{name}: must be a finite number >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class EvalConfig:
    """How the test split is evaluated (by the training job at its end, and by jobs/evaluate.py)."""

    dissimilar_ids: str = ""  # the Dissimilar subset's ids, one a line (TMR's nsim_test.txt); "" = chosen greedily


@dataclass(frozen=True)
class LavimoConfig:
    name: str = "cpu_demo"
    data: DataConfig = field(default_factory=DataConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def pretrained_sources(self, *keys: str) -> list[pretrained.Source]:
        """The pretrained parts this config names (those of `keys` when given), for the driver's check at start:
        model.text.pretrained, prepare.sentence_model and (3-modal, named tower) model.video.pretrained."""
        sources = [
            pretrained.Source("model.text.pretrained", self.model.text.pretrained, pretrained.TRANSFORMERS_MODEL),
            pretrained.Source("prepare.sentence_model", self.prepare.sentence_model, pretrained.TRANSFORMERS_MODEL),
        ]
        if self.model.has_video and self.model.video.open_clip_model:
            sources.append(
                pretrained.Source(
                    "model.video.pretrained",
                    self.model.video.pretrained,
                    pretrained.OPEN_CLIP_WEIGHTS,
                    self.model.video.open_clip_model,
                )
            )
        return [source for source in sources if not keys or source.key in keys]

    def validate(self) -> None:
        self.data.validate()
        self.prepare.validate()
        self.stream.validate()
        self.train.validate()
        self.loss.validate()
        try:
            self.render.validate()
            self.model.validate()
        except ValueError as err:
            raise ConfigError(str(err)) from None
        self._check_checkpoint_metric()
        if self.stream.max_motion_frames > self.model.motion.max_frames:
            raise ConfigError(
                f"stream.max_motion_frames: {self.stream.max_motion_frames} frames are more than the motion encoder "
                f"covers (model.motion.max_frames {self.model.motion.max_frames})"
            )

    def _check_checkpoint_metric(self) -> None:
        """train.checkpoint_metric is a validation recall (higher is better) of a direction this model has."""
        allowed = validation_recalls(self.model.modalities)
        if self.train.checkpoint_metric not in allowed:
            directions = sorted({metric.split("/")[1] for metric in allowed}, key=list(DIRECTIONS).index)
            raise ConfigError(
                f"train.checkpoint_metric: {self.train.checkpoint_metric!r} is not a validation "
                f"recall of this model's directions ({', '.join(directions)}), e.g. {allowed[2]}"
            )

    def to_dict(self) -> dict[str, Any]:
        return to_plain(dataclasses.asdict(self))


def load_config(path: str | Path, overrides: typing.Sequence[str] = ()) -> LavimoConfig:
    """Reads a YAML config, applies `key.sub=value` overrides (--set), and validates the result."""
    path = Path(path)
    raw = _read_yaml(path)
    try:
        return with_values(from_dict(LavimoConfig, raw), dict(parse_set(item) for item in overrides))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def parse_set(item: str) -> tuple[str, Any]:
    """(dotted key, value read as YAML) of a `--set key=value`."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.epochs=4")
    return key, yaml.safe_load(text)


def with_values(config: LavimoConfig, values: typing.Mapping[str, Any]) -> LavimoConfig:
    """The config with dotted keys set to new values (--set, a sweep's overrides, a trial's values), validated; a key
    the config does not have is refused."""
    raw = config.to_dict()
    for key, value in values.items():
        *sections, leaf = key.split(".")
        node: Any = raw
        for section in sections:
            node = node.get(section) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            moved = f": it is now '{MOVED_KEYS[key]}'" if key in MOVED_KEYS else ""
            raise ConfigError(f"unknown key '{key}'{moved}")
        node[leaf] = value
    updated = from_dict(LavimoConfig, raw)
    updated.validate()
    return updated


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A YAML mapping; `extends: other.yaml` (relative to this file) is read first and overridden key by key."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config ({err.strerror})") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(raw).__name__}")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    parent_path = (path.parent / str(parent)).resolve()
    if parent_path in seen:
        raise ConfigError(f"{path}: 'extends' makes a cycle through {parent_path}")
    return _merge(_read_yaml(parent_path, (*seen, path.resolve())), raw)


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def from_dict(cls: type, raw: dict[str, Any], prefix: str = "") -> Any:
    """Builds dataclass `cls` from a plain mapping, checking every key and type."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    moved = [f"'{prefix}{key}' is now '{MOVED_KEYS[prefix + key]}'" for key in unknown if prefix + key in MOVED_KEYS]
    if moved:
        raise ConfigError(f"{'; '.join(moved)}: move it there")
    if unknown:
        raise ConfigError(f"unknown key '{prefix}{unknown[0]}' (known keys: {', '.join(sorted(known))})")
    values = {name: _coerce(hints[name], value, f"{prefix}{name}") for name, value in raw.items()}
    return cls(**values)


def _float_text(text: str, key: str) -> float:
    """YAML 1.1 reads `1e-4` (no dot) as a string; accept any number Python reads, as users write them."""
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{key}: expected float, got {text!r}") from None


def _coerce(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, f"{key}.")
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [t for t in options if t is not type(None)]
        return _coerce(inner, value, key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (inner, _ellipsis) = typing.get_args(hint)
        return tuple(_coerce(inner, v, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        return _float_text(value, key)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {hint.__name__}, got {value!r}")
    return value
