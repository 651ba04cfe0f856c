"""One typed configuration for every job, loaded from YAML and validated with messages that name the bad key."""

from __future__ import annotations

import copy
import typing
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field

from lavimo import pretrained
from lavimo.directions import DIRECTIONS, validation_recalls
from lavimo.models.config import ModelConfig
from lavimo.render.config import RenderConfig
from lavimo.schema import ConfigError, Count, Fraction, Int, Section, build

MOVED_KEYS = {  # old key: its new one. Refused in a YAML config and in --set; moved in a recorded config
    "train.epsilon": "loss.epsilon",
    "train.lambda_recon": "loss.lambda_recon",
    "data.max_motion_frames": "data.keep_shorter_than",
    "stream.max_motion_frames": "stream.crop_frames",
    "model.motion.max_frames": "model.motion.positional_frames",
}
Positive = Annotated[float, Field(gt=0.0)]
Weight = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


class SyntheticConfig(Section):
    num_motions: Count = 400  # original motions; each also gets a mirrored copy
    seed: Int = 0


class DataConfig(Section):
    dataset: typing.Literal["humanml3d", "kit", "synthetic"] = "synthetic"
    root: str = "outputs/datasets/synthetic"  # dataset folder in the HumanML3D layout (path or URI)
    prepared: str = "outputs/prepared/synthetic"  # where prepare_data writes videos, embeddings, manifests
    splits: Annotated[tuple[str, ...], Field(min_length=1)] = ("train", "val", "test")
    min_motion_frames: Annotated[Int, Field(ge=2)] | None = None  # None: the original loaders' (40 HumanML3D, 24 KIT)
    keep_shorter_than: Int | None = 200  # frames: longer motions and caption windows are dropped; None keeps all
    synthetic: SyntheticConfig = SyntheticConfig()

    def problems(self) -> list[tuple[str, str]]:
        shortest = self.min_motion_frames or 2
        if self.keep_shorter_than is not None and self.keep_shorter_than <= shortest:
            return [
                (
                    "keep_shorter_than",
                    f"must be larger than min_motion_frames ({shortest}), got {self.keep_shorter_than}",
                )
            ]
        return []


class PrepareConfig(Section):
    sentence_model: str = ""  # sentence-transformers folder or hub id; "" = bundled all-MiniLM-L6-v2
    embed_batch_size: Count = 256  # captions per forward pass of the sentence model
    embed_chunk_size: Count = 2048  # captions per cached embedding file (the unit of resumption)
    embed_actors: Count = 1  # sentence-model actors
    embed_cpus: Positive = 1.0  # CPUs reserved per sentence-model actor
    render_cpus: Positive = 1.0  # CPUs reserved per motion task (validate + render one video)


class StreamConfig(Section):
    """How manifest rows become training samples (frame count, frame size and token count come from `model`)."""

    crop_frames: Annotated[Int, Field(ge=2)] = 196  # longer caption windows are cropped (randomly in training)
    augment: bool = True  # random resized crop, colour jitter, grayscale, blur (training only)
    flip_probability: Fraction = 0.5  # flipped training sample: its video flipped, its mirror's motion and caption


class TrainConfig(Section):
    num_workers: Count = 4  # Ray Train DDP workers
    use_gpu: bool = True
    cpus_per_worker: Positive = 1.0
    epochs: Count = 400
    batch_size: Count = 64  # global: each worker takes batch_size / num_workers
    learning_rate: Positive = 1e-4
    final_learning_rate: Annotated[float, Field(ge=0.0)] = 1e-5
    decay_start: Fraction = 0.25  # constant lr for this fraction of training, then linear decay (100 of 400 epochs)
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.01
    grad_clip_norm: Positive = 1.0
    mixed_precision: bool = True  # autocast on GPU (bf16 where supported); ignored on CPU
    decode_tasks: Count = 4  # concurrent Ray Data tasks that decode and augment samples
    decode_cpus: Positive = 1.0  # CPUs reserved per decode task
    checkpoint_every: Count = 10  # epochs between checkpoints
    keep_checkpoints: Count = 3  # the best K by checkpoint_metric are kept
    checkpoint_metric: str = "val/t2m/R10"  # a validation recall of the model's directions (lavimo.directions)
    max_failures: Annotated[Int, Field(ge=0)] = 3  # worker crashes survived by restarting from the last checkpoint
    log_every_steps: Count = 10
    seed: Int = 0
    storage_path: str = "outputs/runs"  # Ray Train storage: local path or URI (s3://, gs://)
    experiment: str = "lavimo"  # MLflow experiment
    registered_model: str | None = None  # the model registry's name for the best checkpoint; None: the experiment's

    def problems(self) -> list[tuple[str, str]]:
        if self.batch_size % self.num_workers:
            return [("batch_size", f"{self.batch_size} is not divisible by train.num_workers {self.num_workers}")]
        return []


class LossConfig(Section):
    """The training loss (lavimo.losses): a contrastive term per modality pair with negative filtering, plus
    lambda_recon x motion reconstruction. A 2-modal model has the motion-text pair only."""

    # negative filtering: captions with (cos + 1) / 2 >= epsilon are positives (TMR's scale), in (0, 1]
    epsilon: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    lambda_recon: Weight = 0.1  # weight of the reconstruction term
    motion_text: Weight = 1.0  # weight of each alignment pair's term
    motion_video: Weight = 1.0
    text_video: Weight = 1.0


class EvalConfig(Section):
    """How the test split is evaluated (by the training job at its end, and by jobs/evaluate.py)."""

    dissimilar_ids: str = ""  # the Dissimilar subset's ids, one a line (TMR's nsim_test.txt); "" = chosen greedily


class LavimoConfig(Section):
    name: str = "cpu_demo"
    data: DataConfig = DataConfig()
    render: RenderConfig = RenderConfig()
    prepare: PrepareConfig = PrepareConfig()
    model: ModelConfig = ModelConfig()
    stream: StreamConfig = StreamConfig()
    train: TrainConfig = TrainConfig()
    loss: LossConfig = LossConfig()
    eval: EvalConfig = EvalConfig()

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

    def problems(self) -> list[tuple[str, str]]:
        found = []
        crop, covered = self.stream.crop_frames, self.model.motion.positional_frames
        if crop > covered:
            found.append(
                (
                    "stream.crop_frames",
                    f"{crop} frames are more than the motion encoder covers (model.motion.positional_frames {covered})",
                )
            )
        allowed = validation_recalls(self.model.modalities)  # higher is better, of a direction this model has
        if self.train.checkpoint_metric not in allowed:
            directions = sorted({metric.split("/")[1] for metric in allowed}, key=list(DIRECTIONS).index)
            found.append(
                (
                    "train.checkpoint_metric",
                    f"{self.train.checkpoint_metric!r} is not a validation recall of this model's directions "
                    f"({', '.join(directions)}), e.g. {allowed[2]}",
                )
            )
        return found


def load_config(path: str | Path, overrides: typing.Sequence[str] = ()) -> LavimoConfig:
    """Reads a YAML config (and the configs it extends), applies `key.sub=value` overrides (--set) and validates the
    result; ConfigError naming the file and every bad key."""
    path = Path(path)
    raw = read_yaml(path)
    try:
        return with_values(build(LavimoConfig, raw, MOVED_KEYS), dict(parse_set(item) for item in overrides))
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
    if not values:
        return config
    raw = config.model_dump()
    unknown = []
    for key, value in values.items():
        *sections, leaf = key.split(".")
        node: Any = raw
        for section in sections:
            node = node.get(section) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            unknown.append(f"unknown key '{key}'" + (f": it is now '{MOVED_KEYS[key]}'" if key in MOVED_KEYS else ""))
            continue
        node[leaf] = value
    if unknown:
        raise ConfigError("; ".join(unknown))
    return build(LavimoConfig, raw)


def migrate_recorded(raw: dict[str, Any], section: str = "") -> dict[str, Any]:
    """A config recorded by an earlier version (a checkpoint's config.json; with `section`, that section alone, as
    a manifest records the data settings) with each of MOVED_KEYS moved to its new key."""
    prefix = f"{section}." if section else ""
    migrated = copy.deepcopy(raw)
    for old, new in MOVED_KEYS.items():
        if not (old.startswith(prefix) and new.startswith(prefix)):
            continue
        *old_sections, old_leaf = old.removeprefix(prefix).split(".")
        *new_sections, new_leaf = new.removeprefix(prefix).split(".")
        source = _node(migrated, old_sections)
        if source is not None and old_leaf in source:
            target = _node(migrated, new_sections, create=True)
            value = source.pop(old_leaf)
            target.setdefault(new_leaf, value)
    return migrated


def _node(raw: dict[str, Any], sections: list[str], create: bool = False) -> dict[str, Any] | None:
    for section in sections:
        if not isinstance(raw, dict):
            return None
        raw = raw.setdefault(section, {}) if create else raw.get(section)
    return raw if isinstance(raw, dict) else None


def read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A YAML mapping (a training or a sweep config); `extends: other.yaml` (relative to this file) is read first and
    overridden key by key."""
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
    return _merge(read_yaml(parent_path, (*seen, path.resolve())), raw)


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged
