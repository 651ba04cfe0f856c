"""Manifest rows -> fixed-shape samples: normalised motion crop, caption tokens, video frames of the same seconds."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
from dataclasses import dataclass

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lavimo import storage
from lavimo.data.augment import AugmentRanges, augment_clip, centre_box, draw_params, resize_frames
from lavimo.data.datasets import Caption, mirror_id
from lavimo.data.video import VideoError, decode_frames, uniform_frame_indices
from lavimo.tokenizer import load_tokenizer, tokenize

log = logging.getLogger(__name__)

# The manifest columns a sample is built from; a flipped sample takes the MIRRORED ones from the motion's mirror.
# The video columns are never mirrored: a flipped clip is one of the row's own views flipped, which shows the mirror's
# motion (the mirror's own videos, flipped, would show this row's motion).
MIRRORED_COLUMNS = ("feature_path", "captions", "caption_start", "caption_end", "caption_embeddings")
MANIFEST_COLUMNS = ("id", "fps", "video_paths", "video_num_frames", "video_fps", *MIRRORED_COLUMNS)
# stream_table's columns: the manifest's, and the mirror's id ("" when the split has none) and MIRRORED columns.
INPUT_COLUMNS = (*MANIFEST_COLUMNS, "mirror_id", *(f"mirror_{name}" for name in MIRRORED_COLUMNS))

# Every output column and its dtype; shapes per row in the comments (all fixed, so batches need no custom collate).
SAMPLE_DTYPES = {
    "motion": np.float32,  # (crop_frames, D) normalised, zero after motion_length
    "motion_length": np.int64,  # () frames
    "input_ids": np.int64,  # (max_tokens,)
    "attention_mask": np.bool_,  # (max_tokens,)
    "frames": np.uint8,  # (num_video_frames, frame_size, frame_size, 3) RGB; only with video
    "sentence_embedding": np.float32,  # (E,) the chosen caption's, for negative filtering
    "index": np.int64,  # () sample_index(id)
    "valid": np.bool_,  # () False: the row could not be read; every tensor of it is zero
}


@dataclass(frozen=True)
class StreamSettings:
    """How manifest rows become samples."""

    crop_frames: int = 196  # longer caption windows are cropped (at random when augmenting)
    num_video_frames: int = 8  # l_v, sampled uniformly in the motion's time window
    frame_size: int = 224  # square input of the video tower
    max_tokens: int = 64
    augment: bool = True  # video augmentation (crop, colour jitter, grayscale, blur), training only
    # The paper flips videos horizontally. A flipped clip of X shows the mirror image of X, so a flipped training
    # sample is the mirrored sample: X's video flipped, with the motion and a caption of X's mirror (the dataset's
    # M-id, left and right swapped in its captions). A motion whose mirror is not in the split is never flipped.
    flip_probability: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("crop_frames", "num_video_frames", "frame_size", "max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"StreamSettings.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.flip_probability <= 1.0:
            raise ValueError(f"StreamSettings.flip_probability must be in [0, 1], got {self.flip_probability}")


class SampleError(ValueError):
    """A manifest row that cannot become a sample; the message names the file and the problem."""


@dataclass(frozen=True)
class _Sample:
    motion_id: str  # whose motion and caption these are: the row's, or its mirror's when flipped
    motion: np.ndarray  # (L, D) normalised, L <= crop_frames
    caption: str
    embedding: np.ndarray  # (E,)
    frames: np.ndarray | None  # (l_v, S, S, 3) uint8


def sample_index(motion_id: str) -> int:
    """A stable non-negative int64 for a motion id (the `index` column); map back with {sample_index(id): id}."""
    return int.from_bytes(hashlib.blake2b(motion_id.encode("utf-8"), digest_size=8).digest(), "big") >> 1


def stream_table(manifest: pa.Table) -> pa.Table:
    """A split's manifest -> the INPUT_COLUMNS a sample is built from: each row also carries its mirror's id
    ("" when the mirror is not in this split) and the mirror's MIRRORED columns (null then)."""
    table = manifest.select(list(MANIFEST_COLUMNS))
    mirror_ids = pa.array([mirror_id(motion_id) for motion_id in table["id"].to_pylist()])
    mirror_rows = pc.index_in(mirror_ids, value_set=table["id"])  # null where the split has no mirror
    mirrors = table.select(list(MIRRORED_COLUMNS)).take(mirror_rows)
    table = table.append_column("mirror_id", pc.if_else(pc.is_valid(mirror_rows), mirror_ids, ""))
    for name in MIRRORED_COLUMNS:
        table = table.append_column(f"mirror_{name}", mirrors[name])
    return table


def unmirrored_count(table: pa.Table) -> int:
    """Rows of a stream_table whose mirror is not in the split: they are never flipped."""
    return int(pc.sum(pc.equal(table["mirror_id"], "")).as_py() or 0)


def manifest_batch(table: pa.Table) -> dict[str, np.ndarray]:
    """A manifest table as the numpy batch Ray Data hands to map_batches (list cells become object arrays)."""
    return {name: table[name].to_numpy(zero_copy_only=False) for name in table.column_names}


def _worker_key() -> int:
    """Distinguishes the random streams of actors: host and process id."""
    return int.from_bytes(
        hashlib.blake2b(f"{socket.gethostname()}:{os.getpid()}".encode(), digest_size=8).digest(), "big"
    )


def _load_statistics(stats: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), std (D,)) float32 from the dataset's Mean.npy / Std.npy locations."""
    mean, std = (storage.load_npy(location).astype(np.float32) for location in stats)
    if mean.ndim != 1 or mean.shape != std.shape:
        raise ValueError(f"{stats}: mean and std must both have shape (D,), got {mean.shape} and {std.shape}")
    if not (std > 0).all():
        raise ValueError(f"{stats[1]}: standard deviations must be positive")
    return mean, std


def _as_matrix(cell) -> np.ndarray:
    """A list-of-lists cell (object array of arrays, or nested lists) -> (N, E) float32."""
    rows = [np.asarray(row, np.float32) for row in cell]
    return np.stack(rows) if rows else np.zeros((0, 0), np.float32)


def _video_window(start: int, end: int, fps: float, video_fps: float) -> tuple[int, int]:
    """Motion frames [start, end) at fps -> the video frames [first, last) of the same seconds at video_fps."""
    first = int(start * video_fps / fps)
    return first, max(first + 1, int(end * video_fps / fps))


def _check_row(row: dict, embeddings: np.ndarray, embedding_dim: int) -> None:
    """SampleError unless the row has N >= 1 captions with N windows, (N, E) embeddings and a positive fps."""
    count = len(row["captions"])
    if count == 0 or not len(row["caption_start"]) == len(row["caption_end"]) == count:
        raise SampleError(
            f"{row['feature_path']}: manifest row has {count} captions, {len(row['caption_start'])} "
            f"starts and {len(row['caption_end'])} ends; expected N >= 1 of each"
        )
    if embeddings.shape != (count, embedding_dim):
        raise SampleError(
            f"{row['feature_path']}: caption embeddings of shape {embeddings.shape}, "
            f"expected ({count}, {embedding_dim})"
        )
    if not row["fps"] > 0:
        raise SampleError(f"{row['feature_path']}: manifest gives fps {row['fps']}")


def _caption_window(row: dict, choice: int, num_frames: int) -> tuple[int, int]:
    """[start, end) motion frames of caption `choice` (the whole clip when its start == end == 0)."""
    caption = Caption(
        str(row["captions"][choice]), "", float(row["caption_start"][choice]), float(row["caption_end"][choice])
    )
    start, end = caption.frame_window(num_frames, float(row["fps"]))
    if start >= num_frames or end <= start:
        raise SampleError(
            f"{row['feature_path']}: caption {choice} window {caption.start}-{caption.end} s "
            f"lies outside the motion's {num_frames} frames at {row['fps']} fps"
        )
    return start, end


class SampleBuilder:
    """Ray Data `map_batches` callable: numpy batch of manifest rows -> numpy batch of SAMPLE_DTYPES columns.

    Loads Mean/Std and the tokenizer once per actor. Training picks a random caption, a random crop offset, one
    of the motion's views at random and augments the video; evaluation (training=False) is deterministic: first
    caption, crop at the window start, view 0.
    A row whose files cannot be read is logged and emitted with valid=False and zero tensors.
    """

    def __init__(
        self,
        stats: tuple[str, str],
        tokenizer: str,
        settings: StreamSettings = StreamSettings(),
        *,
        training: bool,
        with_video: bool,
        embedding_dim: int,
    ):
        cv2.setNumThreads(1)  # one thread per actor: the parallelism comes from the actor pool
        self.mean, self.std = _load_statistics(stats)  # (D,), (D,)
        self.tokenizer = load_tokenizer(tokenizer)
        self.settings, self.training, self.with_video = settings, training, with_video
        self.embedding_dim = embedding_dim
        self.ranges = AugmentRanges()
        self._worker, self._counter = _worker_key(), 0

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A numpy batch of INPUT_COLUMNS rows (see stream_table) -> a batch of SAMPLE_DTYPES columns."""
        count = len(batch["id"])
        samples = [self._sample_or_none({name: batch[name][i] for name in INPUT_COLUMNS}) for i in range(count)]
        columns = self._zeros(count)
        columns["index"][:] = [sample_index(str(motion_id)) for motion_id in batch["id"]]
        self._fill(columns, samples)
        return columns

    def _sample_or_none(self, row: dict) -> _Sample | None:
        try:
            return self._sample(row, self._next_rng())
        except (SampleError, VideoError) as error:
            log.warning("motion %s marked invalid (valid=False): %s", row["id"], error)
            return None

    def _next_rng(self) -> np.random.Generator | None:
        """Training: a fresh stream per row from (seed, actor, counter), so every epoch draws anew; the same seed in
        a new actor of the same process draws the same. Evaluation: None (deterministic)."""
        if not self.training:
            return None
        self._counter += 1
        return np.random.default_rng([self.settings.seed, self._worker, self._counter])

    def _sample(self, row: dict, rng: np.random.Generator | None) -> _Sample:
        """One manifest row -> its sample; rng None is evaluation. A flipped sample is the mirror's motion and
        caption with one of this row's views flipped horizontally."""
        flip = rng is not None and bool(row["mirror_id"]) and rng.random() < self.settings.flip_probability
        source = {**row, **{name: row[f"mirror_{name}"] for name in MIRRORED_COLUMNS}} if flip else row
        embeddings = _as_matrix(source["caption_embeddings"])  # (N, E)
        _check_row(source, embeddings, self.embedding_dim)
        choice = 0 if rng is None else int(rng.integers(len(source["captions"])))
        motion = self._motion(source["feature_path"])  # (T, D)
        start, end = _caption_window(source, choice, len(motion))
        length = min(end - start, self.settings.crop_frames)
        start += 0 if rng is None else int(rng.integers(end - start - length + 1))
        frames = self._frames(row, start, start + length, rng) if self.with_video else None
        if flip and frames is not None:
            frames = np.ascontiguousarray(frames[:, :, ::-1])  # (l_v, S, S, 3): left <-> right
        motion_id = str(row["mirror_id"] if flip else row["id"])
        return _Sample(
            motion_id, motion[start : start + length], str(source["captions"][choice]), embeddings[choice], frames
        )

    def _motion(self, location: str) -> np.ndarray:
        """(T, D) features of one motion, normalised with the dataset's Mean/Std."""
        try:
            features = storage.load_npy(location)
        except (OSError, ValueError, EOFError) as error:
            raise SampleError(f"{location}: cannot read the motion features ({error})") from None
        if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] != len(self.mean):
            raise SampleError(
                f"{location}: features of shape {features.shape}, expected (frames >= 1, {len(self.mean)})"
            )
        if not np.isfinite(features).all():
            raise SampleError(f"{location}: NaN or Inf in the motion features")
        return (features.astype(np.float32) - self.mean) / self.std

    def _frames(self, row: dict, start: int, end: int, rng: np.random.Generator | None) -> np.ndarray:
        """(l_v, S, S, 3) uint8: l_v frames spread over the seconds of motion frames [start, end), in video frames,
        of one of the row's views: drawn at random in training (no draw when there is one), view 0 in evaluation."""
        views = row["video_paths"]
        if not len(views):
            raise SampleError(f"{row['feature_path']}: the manifest row lists no video")
        path = str(views[0 if rng is None else int(rng.integers(len(views)))])
        video_fps, video_frames = float(row["video_fps"]), int(row["video_num_frames"])
        if not (video_fps > 0 and video_frames > 0):
            raise SampleError(f"{path}: manifest gives {video_frames} frames at {video_fps} fps")
        first, last = _video_window(start, end, float(row["fps"]), video_fps)
        indices = uniform_frame_indices(first, last, self.settings.num_video_frames, num_frames=video_frames)
        frames = decode_frames(path, indices)  # (l_v, H, W, 3)
        height, width, size = frames.shape[1], frames.shape[2], self.settings.frame_size
        if rng is not None and self.settings.augment:
            return augment_clip(frames, draw_params(rng, height, width, self.ranges), size)
        return resize_frames(frames, centre_box(height, width), size)

    def _zeros(self, count: int) -> dict[str, np.ndarray]:
        """Every output column for `count` rows, all zero (an invalid row stays so)."""
        s = self.settings
        shapes = {
            "motion": (s.crop_frames, len(self.mean)),
            "motion_length": (),
            "input_ids": (s.max_tokens,),
            "attention_mask": (s.max_tokens,),
            "frames": (s.num_video_frames, s.frame_size, s.frame_size, 3),
            "sentence_embedding": (self.embedding_dim,),
            "index": (),
            "valid": (),
        }
        if not self.with_video:
            del shapes["frames"]
        return {name: np.zeros((count, *shape), SAMPLE_DTYPES[name]) for name, shape in shapes.items()}

    def _fill(self, columns: dict[str, np.ndarray], samples: list[_Sample | None]) -> None:
        """Writes the valid samples into their rows; tokenizes their captions in one call."""
        valid = [i for i, sample in enumerate(samples) if sample is not None]
        for i in valid:
            sample = samples[i]
            columns["index"][i] = sample_index(sample.motion_id)
            columns["motion"][i, : len(sample.motion)] = sample.motion
            columns["motion_length"][i] = len(sample.motion)
            columns["sentence_embedding"][i] = sample.embedding
            columns["valid"][i] = True
            if sample.frames is not None:
                columns["frames"][i] = sample.frames
        if valid:
            input_ids, mask = tokenize(self.tokenizer, [samples[i].caption for i in valid], self.settings.max_tokens)
            columns["input_ids"][valid] = self.tokenizer.pad_token_id or 0
            columns["input_ids"][valid, : input_ids.shape[1]] = input_ids.numpy()  # (V, L <= max_tokens)
            columns["attention_mask"][valid, : mask.shape[1]] = mask.numpy()


@functools.lru_cache(maxsize=4)
def _cached_builder(frozen_kwargs: tuple, training: bool) -> SampleBuilder:
    return SampleBuilder(**dict(frozen_kwargs), training=training)


@functools.lru_cache(maxsize=4)
def _cached_rows(rows) -> pa.Table:
    """The stream_table behind an ObjectRef, fetched once per process."""
    import ray

    return ray.get(rows)


def build_samples(batch: dict[str, np.ndarray], rows, builder_kwargs: dict, training: bool) -> dict[str, np.ndarray]:
    """Ray Data task function: batch["id"] holds row numbers of the stream_table in the object store (`rows`, an
    ObjectRef); those rows become samples. The table and a SampleBuilder are kept per worker process (statistics and
    tokenizer load once), so decode tasks reuse warm processes across epochs instead of starting actors anew."""
    table = _cached_rows(rows).take(pa.array(batch["id"], pa.int64()))
    return _cached_builder(tuple(sorted(builder_kwargs.items())), training)(manifest_batch(table))
