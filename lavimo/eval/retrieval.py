"""Motion retrieval: an index of a checkpoint's motion embeddings (built once, kept beside it) and top-k answers."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np

from lavimo import storage
from lavimo.data.manifest import manifest_path, read_manifest
from lavimo.eval.evaluate import embed_split
from lavimo.eval.index import MotionIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    """One retrieved motion."""

    rank: int  # 1 = best
    motion_id: str
    score: float  # cosine similarity to the query
    duration_s: float
    caption: str  # its first caption


@dataclass(frozen=True)
class MotionRecord:
    """What the manifest says of a motion that retrieval shows and exports: length, captions, video, its files."""

    duration_s: float
    captions: list[str]
    video_path: str  # its view 0, the one evaluation embeds
    video_fps: float
    dataset: str  # the name of its DatasetSpec
    feature_path: str  # (T-1, D) features
    joints_path: str | None  # (T, J, 3) joint positions in the dataset's units, .npy; None when the dataset has none


def index_location(checkpoint_folder: str, prepared: str, splits: list[str]) -> str:
    """Where the index of a checkpoint over some splits of a prepared dataset is kept:
    <run folder>/retrieval_index/<checkpoint name>-<splits>-<hash of the prepared dataset's location>.safetensors"""
    folder = storage.absolute(checkpoint_folder).rstrip("/")
    parent, name = folder.rsplit("/", 1)
    dataset = hashlib.blake2b(storage.absolute(prepared).encode(), digest_size=4).hexdigest()
    return storage.join(parent, "retrieval_index", f"{name}-{'+'.join(splits)}-{dataset}.safetensors")


def motion_records(prepared: str, splits: list[str]) -> dict[str, MotionRecord]:
    """id -> MotionRecord for every motion of the splits' manifests."""
    records = {}
    for split in splits:
        table, info = read_manifest(manifest_path(prepared, split))
        columns = ["id", "num_frames", "fps", "captions", "video_paths", "video_fps", "feature_path", "joints_path"]
        for row in table.select(columns).to_pylist():
            records[row["id"]] = MotionRecord(
                row["num_frames"] / row["fps"],
                list(row["captions"]),
                row["video_paths"][0],
                row["video_fps"],
                info.dataset,
                row["feature_path"],
                row["joints_path"],
            )
    return records


def build_index(
    checkpoint_folder: str, prepared: str, splits: list[str], *, dtype: str = "float32", **resources
) -> MotionIndex:
    """Embeds every motion of the splits (Ray Data batch inference, see embed_split) into an exact index."""
    records = motion_records(prepared, splits)
    ids, vectors = [], []
    for split in splits:
        embedded = embed_split(checkpoint_folder, prepared, split, **resources)
        ids += embedded.ids
        vectors.append(embedded.vectors["motion"])  # (N_split, C)
    return MotionIndex.build(
        ids,
        np.concatenate(vectors),
        durations=[records[i].duration_s for i in ids],
        captions=[records[i].captions for i in ids],
        dtype=dtype,
    )


def load_or_build_index(
    checkpoint_folder: str, prepared: str, splits: list[str], *, rebuild: bool = False, **options
) -> MotionIndex:
    """The saved index of this checkpoint and these splits, built and saved first when missing (or asked)."""
    location = index_location(checkpoint_folder, prepared, splits)
    if storage.exists(location) and not rebuild:
        log.info("using the motion index in %s", location)
        return MotionIndex.load(location)
    log.info("building the motion index of %s over %s", checkpoint_folder, ", ".join(splits))
    index = build_index(checkpoint_folder, prepared, splits, **options)
    index.save(location)
    log.info("saved the motion index (%d motions) to %s", len(index), location)
    return index


def top_k(index: MotionIndex, query: np.ndarray, k: int, *, exclude: str | None = None) -> list[Hit]:
    """query: (C,) unit vector -> the k best motions, best first; `exclude` drops one id (a motion query's own)."""
    wanted = k + (exclude is not None)
    scores, rows = index.search(query, min(wanted, len(index)))  # (1, k'), (1, k')
    hits = []
    for score, row in zip(scores[0], rows[0]):
        if index.ids[row] == exclude:
            continue
        entry = index.entry(int(row))
        hits.append(Hit(len(hits) + 1, entry.id, float(score), entry.duration, entry.captions[0]))
    return hits[:k]
