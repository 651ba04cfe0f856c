"""Retrieval metrics from a query x gallery similarity matrix, with TMR's conventions (tie averaging, threshold)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lavimo.directions import RECALL_AT

METRICS = tuple(f"R@{k}" for k in RECALL_AT) + ("MedR",)


def unit_rows(vectors: np.ndarray, name: str) -> np.ndarray:
    """(N, E) finite rows with a non-zero norm -> the same rows scaled to unit length (float64)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (N, E), got shape {vectors.shape}")
    if not np.isfinite(vectors).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)  # (N, 1)
    if (norms == 0).any():
        raise ValueError(f"{name}: row {int(np.argmin(norms))} is all zeros and has no direction")
    return vectors / norms


def correct_matches(caption_embeddings: np.ndarray, threshold: float) -> np.ndarray:
    """(N, E) caption embeddings -> (N, N) bool: gallery item j counts as correct for query i.

    TMR's rule, strict: j is correct when the caption score (cos(s_i, s_j) + 1) / 2 is above the threshold,
    computed like TMR's code as cos > 2 * threshold - 1; item i itself is always correct.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")  # NaN fails the range test
    unit = unit_rows(caption_embeddings, "caption_embeddings")  # (N, E)
    cosine = unit @ unit.T  # (N, N)
    cosine = (cosine + cosine.T) / 2.0  # exactly symmetric, so both directions see the same matches
    correct = cosine > 2.0 * threshold - 1.0  # (N, N)
    np.fill_diagonal(correct, True)
    return correct


def same_caption(captions: Sequence[str]) -> np.ndarray:
    """(N,) caption texts -> (N, N) bool: item j counts as correct for query i when its caption text is identical
    to query i's (the exact-caption pairs of MotionPatches and later papers); the diagonal is always True."""
    texts = np.asarray([str(text) for text in captions], dtype=object)
    if texts.ndim != 1 or texts.size == 0:
        raise ValueError(f"expected a non-empty list of captions, got shape {texts.shape}")
    return texts[:, None] == texts[None, :]


def ground_truth_ranks(
    similarity: np.ndarray,
    caption_embeddings: np.ndarray | None = None,
    threshold: float | None = None,
    *,
    correct: np.ndarray | None = None,
) -> np.ndarray:
    """similarity: (N, N), the ground truth of query i is gallery item i -> (N,) 0-based ranks.

    A rank is the position of the ground-truth score in its row sorted by decreasing similarity; the
    positions of items tied with it are averaged, so a rank can be fractional (0.5 for a two-way tie at the top).
    With caption_embeddings (N, E) and a threshold, every item whose caption matches query i's caption
    (see correct_matches) is correct too, and the rank is that of the best-scoring correct item; as in TMR,
    its position is averaged over every item with the same score, correct or not. Or `correct` (N, N) bool gives
    the correct items of each query directly (its diagonal counts as True).
    """
    similarity = _checked_similarity(similarity)
    if (caption_embeddings is None) != (threshold is None):
        raise ValueError("caption_embeddings and threshold go together: give both or neither")
    if correct is not None:
        if caption_embeddings is not None:
            raise ValueError("give either caption_embeddings and a threshold, or correct, not both")
        correct = np.asarray(correct, dtype=bool)
        if correct.shape != similarity.shape:
            raise ValueError(f"correct has shape {correct.shape}, the similarity matrix {similarity.shape}")
        correct = correct | np.eye(len(similarity), dtype=bool)
    elif caption_embeddings is None:
        correct = np.eye(len(similarity), dtype=bool)  # (N, N)
    else:
        if np.shape(caption_embeddings)[:1] != similarity.shape[:1]:
            raise ValueError(
                f"caption_embeddings has {np.shape(caption_embeddings)[:1]} rows, "
                f"the similarity matrix {len(similarity)}"
            )
        correct = correct_matches(caption_embeddings, threshold)
    truth = np.where(correct, similarity, -np.inf).max(axis=1)[:, None]  # (N, 1) best correct score
    higher = (similarity > truth).sum(axis=1)  # (N,)
    tied = (similarity == truth).sum(axis=1) - 1  # (N,) other items with the same score
    return higher + tied / 2.0


def _checked_similarity(similarity: np.ndarray) -> np.ndarray:
    similarity = np.asarray(similarity, dtype=np.float64)
    if similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1] or similarity.shape[0] == 0:
        raise ValueError(f"expected a non-empty square similarity matrix, got shape {similarity.shape}")
    if not np.isfinite(similarity).all():
        raise ValueError("the similarity matrix contains NaN or infinite values")
    return similarity


def recall_metrics(ranks: np.ndarray) -> dict[str, float]:
    """R@k = 100 * #(rank < k) / N for k in RECALL_AT, and MedR = median(rank) + 1."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0:
        raise ValueError("no queries to score")
    metrics = {f"R@{k}": 100.0 * float((ranks < k).mean()) for k in RECALL_AT}
    metrics["MedR"] = float(np.median(ranks)) + 1.0
    return metrics


def retrieval_metrics(
    similarity: np.ndarray,
    caption_embeddings: np.ndarray | None = None,
    threshold: float | None = None,
    *,
    correct: np.ndarray | None = None,
) -> dict[str, float]:
    """R@1,2,3,5,10 and MedR of the queries (rows) of a square similarity matrix (see ground_truth_ranks)."""
    return recall_metrics(ground_truth_ranks(similarity, caption_embeddings, threshold, correct=correct))
