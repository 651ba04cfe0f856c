"""Retrieval metrics from a query x gallery similarity matrix, with TMR's conventions (ties averaged)."""

from __future__ import annotations

import numpy as np

RECALL_AT = (1, 2, 3, 5, 10)


def ground_truth_ranks(similarity: np.ndarray) -> np.ndarray:
    """similarity: (N, N), the ground truth of query i is gallery item i -> (N,) 0-based ranks.

    A rank is the position of the ground-truth score in its row sorted by decreasing similarity; the
    positions of items tied with it are averaged, so a rank can be fractional (0.5 for a two-way tie at the top).
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    if similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"expected a square similarity matrix, got shape {similarity.shape}")
    truth = np.diag(similarity)[:, None]  # (N, 1)
    higher = (similarity > truth).sum(axis=1)  # (N,)
    tied = (similarity == truth).sum(axis=1) - 1  # (N,) other items with the same score
    return higher + tied / 2.0


def recall_metrics(ranks: np.ndarray) -> dict[str, float]:
    """R@k = 100 * #(rank < k) / N for k in RECALL_AT, and MedR = median(rank) + 1."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0:
        raise ValueError("no queries to score")
    metrics = {f"R@{k}": 100.0 * float((ranks < k).mean()) for k in RECALL_AT}
    metrics["MedR"] = float(np.median(ranks)) + 1.0
    return metrics


def retrieval_metrics(similarity: np.ndarray) -> dict[str, float]:
    """R@1,2,3,5,10 and MedR of the queries (rows) of a square similarity matrix."""
    return recall_metrics(ground_truth_ranks(similarity))
