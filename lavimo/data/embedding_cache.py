"""Caption embeddings cached in content-addressed Parquet chunks, so a re-run embeds only what is missing."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lavimo import storage


def cache_folder(prepared: str, model_name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_name).strip("_")
    return storage.join(prepared, "embeddings", slug)


def plan_chunks(texts: list[str], chunk_size: int, folder: str) -> list[tuple[str, list[str]]]:
    """Splits the sorted unique texts into chunks; each chunk's file name is the hash of its texts."""
    unique = sorted(set(texts))
    chunks = []
    for start in range(0, len(unique), chunk_size):
        part = unique[start : start + chunk_size]
        digest = hashlib.sha256("\n".join(part).encode()).hexdigest()[:20]
        chunks.append((storage.join(folder, f"chunk-{digest}.parquet"), part))
    return chunks


def write_chunk(location: str, texts: list[str], vectors: np.ndarray) -> None:
    """vectors: (N, E) float32, row i embeds texts[i]."""
    embedding_type = pa.list_(pa.float32(), vectors.shape[1])
    table = pa.table({"text": pa.array(texts), "embedding": pa.array(list(vectors.astype(np.float32)), embedding_type)})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    storage.write_bytes_atomic(location, sink.getvalue().to_pybytes())


def read_chunks(locations: list[str]) -> dict[str, np.ndarray]:
    """text -> (E,) float32 embedding over the given chunk files."""
    lookup = {}
    for location in locations:
        fs, path = storage.resolve(location)
        table = pq.read_table(path, filesystem=fs)
        vectors = np.asarray(table.column("embedding").to_pylist(), dtype=np.float32)  # (N, E)
        lookup.update(zip(table.column("text").to_pylist(), vectors))
    return lookup
