"""Exact cosine top-k search over motion embeddings, with the metadata retrieval shows; saved without pickle."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save as save_safetensors

from lavimo import storage

DTYPES = ("float32", "float16")
UNIT_TOLERANCE = 1e-3  # | ||v|| - 1 | allowed for a stored row
FORMAT = "lavimo-motion-index/1"


@dataclass(frozen=True)
class MotionEntry:
    """What retrieval shows for one indexed motion."""

    id: str
    duration: float  # seconds
    captions: tuple[str, ...]


class MotionIndex:
    """N unit vectors (N, C) in float32 or float16 with their motion ids, durations and captions.

    `search` is exact: every row is scored against every query. Build with `MotionIndex.build`."""

    def __init__(self, ids: list[str], vectors: np.ndarray, durations: np.ndarray, captions: list[list[str]]):
        _check_structure(ids, vectors, durations, captions)
        self.ids = ids
        self.vectors = np.ascontiguousarray(vectors)  # (N, C) float32 | float16
        self.durations = durations  # (N,) float32 seconds
        self.captions = captions
        self._table = torch.from_numpy(self.vectors)  # (N, C), the same memory

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        vectors: np.ndarray,
        *,
        durations: Sequence[float],
        captions: Sequence[Sequence[str]],
        dtype: str = "float32",
    ) -> MotionIndex:
        """Checks that every row of vectors (N, C) is finite and unit-length, then stores it as `dtype`."""
        if dtype not in DTYPES:
            raise ValueError(f"MotionIndex.build: dtype {dtype!r} is not one of {DTYPES}")
        ids = [str(motion_id) for motion_id in ids]
        vectors = np.asarray(vectors, dtype=np.float32)  # (N, C)
        durations = np.asarray(durations, dtype=np.float32)  # (N,) seconds
        captions = [[str(caption) for caption in motion] for motion in captions]
        _check_structure(ids, vectors, durations, captions)
        _check_unit_rows(ids, vectors)
        return cls(ids, vectors.astype(dtype), durations, captions)

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    @property
    def dtype(self) -> str:
        return self.vectors.dtype.name

    def __len__(self) -> int:
        return len(self.ids)

    def entry(self, row: int) -> MotionEntry:
        """The id, duration and captions of row `row` (as `search` returns rows)."""
        return MotionEntry(self.ids[row], float(self.durations[row]), tuple(self.captions[row]))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """queries (Q, C) or (C,) -> (scores (Q, k') float32, rows (Q, k') int64), best first, k' = min(k, N).

        A k above the index size is clamped to N (every motion, ranked). Scores are inner products: cosine
        similarities for unit queries. Equal scores are ordered by row."""
        queries = self._check_queries(queries, k)  # (Q, C) float32
        scores = _inner_products(self._table, queries)  # (Q, N)
        return _top_k(scores, min(k, len(self)))

    def _check_queries(self, queries: np.ndarray, k: int) -> np.ndarray:
        given = np.asarray(queries, dtype=np.float32)
        queries = given[None] if given.ndim == 1 else given  # (Q, C)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(
                f"MotionIndex.search: queries of shape {given.shape}, expected (Q, {self.dim}) "
                f"or ({self.dim},) for this index of dimension {self.dim}"
            )
        if not np.isfinite(queries).all():
            bad = np.flatnonzero(~np.isfinite(queries).all(axis=1)).tolist()
            raise ValueError(f"MotionIndex.search: queries {bad[:5]} contain NaN or infinity")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"MotionIndex.search: k must be an integer >= 1, got {k!r}")
        return queries

    def save(self, location: str) -> None:
        """One safetensors file (vectors, durations, ids and captions as UTF-8 JSON), written atomically."""
        records = json.dumps({"ids": self.ids, "captions": self.captions}, ensure_ascii=False).encode("utf-8")
        tensors = {
            "vectors": self.vectors,
            "durations": self.durations,
            "records_json": np.frombuffer(records, dtype=np.uint8),
        }
        storage.write_bytes_atomic(location, save_safetensors(tensors, metadata={"format": FORMAT}))

    @classmethod
    def load(cls, location: str) -> MotionIndex:
        """Reads what `save` wrote (a local path or a URI); ValueError names the file when it is not an index."""
        try:
            tensors = load_safetensors(storage.read_bytes(location))
            records = json.loads(tensors["records_json"].tobytes().decode("utf-8"))
            return cls(records["ids"], tensors["vectors"], tensors["durations"], records["captions"])
        except (SafetensorError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{location}: not a motion index saved by MotionIndex.save ({error!r})") from error


def _inner_products(table: torch.Tensor, queries: np.ndarray) -> np.ndarray:
    """table (N, C) float32 | float16, queries (Q, C) float32 -> (Q, N) float32 with one torch matrix product.

    float32 goes to torch's BLAS; float16 to torch's half-precision kernel, which widens the rows in registers and
    sums in float32, so it reads half the bytes (the query and the result pass through float16, within the table's
    own rounding). Both run on torch's threads, as the query encoder does: no second thread pool competes with it."""
    typed_queries = torch.from_numpy(queries).to(table.dtype)  # (Q, C)
    return torch.mm(typed_queries, table.T).float().numpy()  # (Q, N)


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """scores (Q, N) -> the k best of each row, best first, ties by row: (scores (Q, k), rows (Q, k) int64)."""
    count = scores.shape[1]
    candidates = np.argpartition(scores, count - k, axis=1)[:, count - k :]  # (Q, k), unordered
    query = np.arange(len(scores))[:, None]  # (Q, 1)
    picked = scores[query, candidates]  # (Q, k)
    order = np.lexsort((candidates, -picked), axis=1)  # by score descending, then row ascending
    return picked[query, order], candidates[query, order].astype(np.int64, copy=False)


def _check_structure(ids: list[str], vectors: np.ndarray, durations: np.ndarray, captions: list[list[str]]) -> None:
    """ValueError naming the problem: empty index, duplicate ids, bad shapes or storage type, mismatched lengths."""
    if len(ids) == 0:
        raise ValueError("MotionIndex: empty index (no motions); build it from at least one vector")
    if vectors.ndim != 2 or vectors.shape[1] == 0:
        raise ValueError(f"MotionIndex: vectors of shape {vectors.shape}, expected (N, C) with C >= 1")
    if vectors.dtype.name not in DTYPES:
        raise ValueError(f"MotionIndex: vectors stored as {vectors.dtype.name}, expected one of {DTYPES}")
    lengths = {"ids": len(ids), "vectors": len(vectors), "durations": len(durations), "captions": len(captions)}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"MotionIndex: one entry per motion is needed, got lengths {lengths}")
    repeated = sorted(motion_id for motion_id, count in Counter(ids).items() if count > 1)
    if repeated:
        raise ValueError(f"MotionIndex: duplicate motion ids {repeated[:5]} ({len(repeated)} ids repeated)")


def _check_unit_rows(ids: list[str], vectors: np.ndarray) -> None:
    """ValueError naming the first rows of vectors (N, C) float32 that are not finite or not unit-length."""
    finite = np.isfinite(vectors).all(axis=1)  # (N,)
    if not finite.all():
        bad = [ids[row] for row in np.flatnonzero(~finite)[:5]]
        raise ValueError(f"MotionIndex.build: vectors of motions {bad} contain NaN or infinity")
    norms = np.linalg.norm(vectors, axis=1)  # (N,)
    off = np.flatnonzero(np.abs(norms - 1.0) > UNIT_TOLERANCE)
    if len(off):
        examples = {ids[row]: round(float(norms[row]), 4) for row in off[:5]}
        raise ValueError(
            f"MotionIndex.build: {len(off)} vectors are not unit-length (|norm - 1| > "
            f"{UNIT_TOLERANCE}), e.g. {examples}; normalise the embeddings first"
        )
