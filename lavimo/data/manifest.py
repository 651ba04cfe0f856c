"""The Parquet manifest: one row per usable motion of a split, with its files, captions and caption embeddings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from lavimo import storage

MANIFEST_VERSION = 3  # 3: the preparation's settings recorded; 2: `video_paths`, every view (1 had one `video_path`)
HELD_OUT_SUFFIX = "_held_out"  # manifest/test_held_out.parquet: the test split's pairs with held-out style videos


def manifest_schema(embedding_dim: int) -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("split", pa.string()),
            ("num_frames", pa.int32()),  # rows of the feature array
            ("fps", pa.float32()),
            ("feature_path", pa.string()),
            ("joints_path", pa.string()),
            ("video_paths", pa.list_(pa.string())),  # (K,) the motion's views; K = 1 but in training
            ("video_num_frames", pa.int32()),  # every view's: views are rendered from the same joints at one fps
            ("video_fps", pa.float32()),
            ("video_rendered", pa.bool_()),  # False: a video supplied with the dataset
            ("captions", pa.list_(pa.string())),
            ("caption_start", pa.list_(pa.float32())),  # seconds; start == end == 0 is the whole clip
            ("caption_end", pa.list_(pa.float32())),
            ("caption_embeddings", pa.list_(pa.list_(pa.float32(), embedding_dim))),  # (num_captions, E), unit length
        ]
    )


@dataclass(frozen=True)
class ManifestInfo:
    """Dataset-level facts stored in the Parquet schema metadata."""

    dataset: str
    skeleton: str
    feature_dim: int
    fps: float
    mean_path: str
    std_path: str
    sentence_model: str
    embedding_dim: int
    settings: dict = field(default_factory=dict)  # what made these rows (lavimo.prepare.dataset.preparation_settings)
    version: int = MANIFEST_VERSION

    def to_metadata(self) -> dict[bytes, bytes]:
        return {b"lavimo": json.dumps(self.__dict__).encode()}

    @classmethod
    def from_metadata(cls, metadata: dict[bytes, bytes] | None, location: str) -> ManifestInfo:
        if not metadata or b"lavimo" not in metadata:
            raise ValueError(f"{location}: not a LAVIMO manifest (no 'lavimo' schema metadata)")
        return cls(**json.loads(metadata[b"lavimo"]))


def manifest_path(prepared: str, split: str) -> str:
    return storage.join(prepared, "manifest", f"{split}.parquet")


def held_out_split(split: str) -> str:
    """The name of a test split's held-out style manifest: "test" -> "test_held_out" (manifest/test_held_out.parquet).

    Only evaluation opens it; training, validation and sweeps read the train and val manifests by name."""
    return f"{split}{HELD_OUT_SUFFIX}"


def current_info(location: str) -> ManifestInfo | None:
    """The manifest's info when it is there and written in this MANIFEST_VERSION; None: prepare it (again)."""
    if not storage.is_file(location):
        return None
    fs, path = storage.resolve(location)
    info = ManifestInfo.from_metadata(pq.read_schema(path, filesystem=fs).metadata, location)
    return info if info.version == MANIFEST_VERSION else None


def write_manifest(rows: list[dict], info: ManifestInfo, location: str) -> None:
    """Writes the rows (dicts with the schema's columns) atomically, sorted by id."""
    schema = manifest_schema(info.embedding_dim).with_metadata(info.to_metadata())
    table = pa.Table.from_pylist(sorted(rows, key=lambda r: r["id"]), schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    storage.write_bytes_atomic(location, sink.getvalue().to_pybytes())


def read_manifest(location: str) -> tuple[pa.Table, ManifestInfo]:
    fs, path = storage.resolve(location)
    try:
        table = pq.read_table(path, filesystem=fs)
    except FileNotFoundError:
        raise FileNotFoundError(f"{location}: manifest not found; run jobs/prepare_data.py first") from None
    info = ManifestInfo.from_metadata(table.schema.metadata, location)
    if info.version != MANIFEST_VERSION:
        raise ValueError(
            f"{location}: a manifest of version {info.version}, this code reads version "
            f"{MANIFEST_VERSION}; run jobs/prepare_data.py again (finished videos are reused)"
        )
    return table, info
