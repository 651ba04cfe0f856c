"""One typed configuration for every job, loaded from YAML and validated with messages that name the bad key."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DATASETS = ("humanml3d", "kit", "synthetic")


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
class RenderConfig:
    resolution: int = 256  # square video side in pixels (the paper renders 512)
    keyframe_interval: int = 1  # H.264 GOP length in frames: 1 (all-intra) makes sampling 8 frames cheapest
    style_seed: int = 0  # picks one of the 13 avatar styles per motion

    def validate(self) -> None:
        if not 32 <= self.resolution <= 2048 or self.resolution % 2:
            raise ConfigError(f"render.resolution: expected an even number in [32, 2048], got {self.resolution}")
        if self.keyframe_interval < 1:
            raise ConfigError(f"render.keyframe_interval: must be >= 1, got {self.keyframe_interval}")


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
class LavimoConfig:
    name: str = "cpu_demo"
    data: DataConfig = field(default_factory=DataConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    prepare: PrepareConfig = field(default_factory=PrepareConfig)

    def validate(self) -> None:
        self.data.validate()
        self.render.validate()
        self.prepare.validate()

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))


def load_config(path: str | Path, overrides: typing.Sequence[str] = ()) -> LavimoConfig:
    """Reads a YAML config, applies `key.sub=value` overrides, and validates the result."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config ({err.strerror})") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(raw).__name__}")
    for override in overrides:
        _apply_override(raw, override)
    try:
        config = from_dict(LavimoConfig, raw)
        config.validate()
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return config


def from_dict(cls: type, raw: dict[str, Any], prefix: str = "") -> Any:
    """Builds dataclass `cls` from a plain mapping, checking every key and type."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown key '{prefix}{unknown[0]}' (known keys: {', '.join(sorted(known))})")
    values = {name: _coerce(hints[name], value, f"{prefix}{name}") for name, value in raw.items()}
    return cls(**values)


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
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {hint.__name__}, got {value!r}")
    return value


def _apply_override(raw: dict[str, Any], override: str) -> None:
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {override!r}: expected key=value, e.g. data.synthetic.num_motions=100")
    node = raw
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {override!r}: {part!r} is not a section")
    node[leaf] = yaml.safe_load(text)


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value
