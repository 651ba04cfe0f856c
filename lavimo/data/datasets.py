"""Readers for HumanML3D-layout dataset folders (HumanML3D, KIT-ML and the synthetic set), with clip-length rules."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lavimo import storage
from lavimo.data.skip_report import SkipReport
from lavimo.skeleton import HUMANML3D, KIT, Skeleton


class DatasetError(ValueError):
    """A dataset file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    skeleton: Skeleton
    min_motion_frames: int  # the original loaders drop shorter motions and caption windows

    @property
    def fps(self) -> float:
        return self.skeleton.fps

    @property
    def feature_dim(self) -> int:
        return self.skeleton.feature_dim


DATASET_SPECS = {
    "humanml3d": DatasetSpec("humanml3d", HUMANML3D, min_motion_frames=40),
    "kit": DatasetSpec("kit", KIT, min_motion_frames=24),
    "synthetic": DatasetSpec("synthetic", HUMANML3D, min_motion_frames=40),
}


@dataclass(frozen=True)
class ClipRules:
    """Which motions and caption windows are long enough to use, in frames."""

    min_frames: int
    shorter_than: int | None  # frames, exclusive; None keeps every long motion

    def accepts(self, num_frames: int) -> bool:
        return num_frames >= self.min_frames and (self.shorter_than is None or num_frames < self.shorter_than)


KEEP_EVERY_LENGTH = ClipRules(min_frames=1, shorter_than=None)  # the test split: no motion dropped for its length


def is_test_split(split: str) -> bool:
    """As in TMR's loader: a split whose name contains "test" is evaluated whole (no length rules), "otherwise it is
    not fair"; train and val keep the original loaders' rules."""
    return "test" in split


def is_training_split(split: str) -> bool:
    """The split that trains: its motions get render.views_per_motion videos, every other split one fixed view."""
    return split == "train"


@dataclass(frozen=True)
class Caption:
    text: str
    tokens: str  # "word/POS word/POS ..." as in the dataset files
    start: float  # window start in seconds; start == end == 0 means the whole clip
    end: float

    @property
    def whole_clip(self) -> bool:
        return self.start == 0.0 and self.end == 0.0

    def frame_window(self, num_frames: int, fps: float) -> tuple[int, int]:
        """[start, end) frames of the motion this caption describes."""
        if self.whole_clip:
            return 0, num_frames
        return int(self.start * fps), min(int(self.end * fps), num_frames)


@dataclass(frozen=True)
class MotionItem:
    """One motion of a split, as indexed from the folder (its features are not loaded yet)."""

    id: str
    split: str
    feature_path: str
    joints_path: str
    captions: tuple[Caption, ...]


def mirror_id(motion_id: str) -> str:
    """HumanML3D's naming: the mirror of "000123" is "M000123" and the other way round."""
    return motion_id[1:] if motion_id.startswith("M") else f"M{motion_id}"


def read_split_ids(root: str, split: str) -> list[str]:
    """Ids listed in `{root}/{split}.txt`; a missing file is an error, blank lines are ignored."""
    path = storage.join(root, f"{split}.txt")
    if not storage.is_file(path):
        raise DatasetError(f"{path}: split file not found (expected one motion id per line)")
    return [line.strip() for line in storage.read_text(path).splitlines() if line.strip()]


def parse_caption_line(line: str) -> Caption:
    """Parses `caption#tokens#start#end`; raises ValueError saying what is wrong."""
    fields = line.rstrip("\n").split("#")
    if len(fields) != 4:
        raise ValueError(f"expected 4 '#'-separated fields, got {len(fields)}")
    text, tokens, start_text, end_text = (f.strip() for f in fields)
    if not text:
        raise ValueError("empty caption")
    try:
        start, end = float(start_text), float(end_text)
    except ValueError:
        raise ValueError(f"start/end are not numbers: {start_text!r}, {end_text!r}") from None
    if math.isnan(start) or math.isnan(end):  # the original files use nan for "whole clip"
        start = end = 0.0
    if start < 0 or end < 0 or (end < start):
        raise ValueError(f"bad window start={start} end={end}")
    return Caption(text=text, tokens=tokens, start=start, end=end)


def read_captions(path: str, report: SkipReport) -> tuple[Caption, ...]:
    """Every well-formed caption of a texts/*.txt file; each bad line is a counted skip."""
    captions = []
    for number, line in enumerate(storage.read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            captions.append(parse_caption_line(line))
        except ValueError as err:
            report.skip("caption", f"{path}:{number}", "malformed caption line", str(err))
    return tuple(captions)


def index_split(root: str, split: str, report: SkipReport) -> list[MotionItem]:
    """Lists a split's motions whose feature and caption files exist; the others are counted skips."""
    feature_files = set(storage.list_files(storage.join(root, "new_joint_vecs")))
    text_files = set(storage.list_files(storage.join(root, "texts")))
    items = []
    for motion_id in read_split_ids(root, split):
        feature_path, joints_path = motion_paths(root, motion_id)
        text_path = storage.join(root, "texts", f"{motion_id}.txt")
        if f"{motion_id}.npy" not in feature_files:
            report.skip("motion", feature_path, "feature file not found")
            continue
        if f"{motion_id}.txt" not in text_files:
            report.skip("motion", text_path, "caption file not found")
            continue
        captions = read_captions(text_path, report)
        if not captions:
            report.skip("motion", text_path, "no usable caption")
            continue
        items.append(MotionItem(motion_id, split, feature_path, joints_path, captions))
    return items


def motion_paths(root: str, motion_id: str) -> tuple[str, str]:
    """Where a motion's features (T-1, D) and joint positions (T, J, 3) lie in a dataset folder; the joints file
    is optional (the synthetic set and HumanML3D have it)."""
    return (
        storage.join(root, "new_joint_vecs", f"{motion_id}.npy"),
        storage.join(root, "new_joints", f"{motion_id}.npy"),
    )


def _load_array(path: str, what: str) -> np.ndarray:
    """A .npy array, or a DatasetError naming the file: "<what> not found" or "not a readable .npy array"."""
    try:
        return storage.load_npy(path)
    except FileNotFoundError:
        raise DatasetError(f"{path}: {what} not found") from None
    except (ValueError, OSError, EOFError) as err:
        raise DatasetError(f"{path}: not a readable .npy array ({err})") from None


def load_features(path: str, spec: DatasetSpec) -> np.ndarray:
    """Loads one motion's pose features (T, D) float32, checking shape and values."""
    features = _load_array(path, "feature file")
    if features.ndim != 2 or features.shape[1] != spec.feature_dim:
        raise DatasetError(
            f"{path}: wrong feature shape {features.shape}, expected (frames, {spec.feature_dim}) for {spec.name}"
        )
    if features.shape[0] == 0:
        raise DatasetError(f"{path}: zero frames")
    if not np.isfinite(features).all():
        bad_frames = np.flatnonzero(~np.isfinite(features).all(axis=1))
        raise DatasetError(f"{path}: NaN or Inf values in {bad_frames.size} frames (first: frame {bad_frames[0]})")
    return features.astype(np.float32, copy=False)


def load_joints(path: str, spec: DatasetSpec, num_frames: int) -> np.ndarray:
    """Loads joint positions (T, J, 3) float32 that match a motion of `num_frames` feature rows."""
    joints = _load_array(path, "joints file")
    expected = (spec.skeleton.num_joints, 3)
    if joints.ndim != 3 or joints.shape[1:] != expected:
        raise DatasetError(f"{path}: wrong joints shape {joints.shape}, expected (frames, {expected[0]}, 3)")
    if joints.shape[0] < num_frames:
        raise DatasetError(f"{path}: {joints.shape[0]} joint frames for {num_frames} feature frames")
    if not np.isfinite(joints).all():
        raise DatasetError(f"{path}: NaN or Inf values")
    return joints.astype(np.float32, copy=False)


def usable_captions(
    item: MotionItem, num_frames: int, spec: DatasetSpec, rules: ClipRules, report: SkipReport
) -> tuple[Caption, ...]:
    """The captions whose window lies in the motion and is long enough; the rest are counted skips."""
    kept = []
    for caption in item.captions:
        start, end = caption.frame_window(num_frames, spec.fps)
        if start >= num_frames or end <= start:
            report.skip(
                "caption", item.feature_path, "caption window outside the motion", f"{caption.start}-{caption.end} s"
            )
        elif not caption.whole_clip and not rules.accepts(end - start):
            report.skip("caption", item.feature_path, "caption window too short or too long", f"{end - start} frames")
        else:
            kept.append(caption)
    return tuple(kept)


def load_statistics(root: str, spec: DatasetSpec) -> tuple[str, str]:
    """Checks `Mean.npy` and `Std.npy` (D,) of the dataset and returns their locations."""
    locations = storage.join(root, "Mean.npy"), storage.join(root, "Std.npy")
    for location in locations:
        values = _load_array(location, "normalisation statistics")
        if values.shape != (spec.feature_dim,) or not np.isfinite(values).all():
            raise DatasetError(f"{location}: expected {spec.feature_dim} finite values, got shape {values.shape}")
    if (values <= 0).any():  # the last array read is Std.npy
        raise DatasetError(f"{locations[1]}: standard deviations must be positive")
    return locations
