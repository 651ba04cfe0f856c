"""Retrieval directions over a set of test pairs (one motion, its first caption, its video per pair)."""

from __future__ import annotations

import numpy as np

from lavimo.eval.metrics import retrieval_metrics

# (query modality, gallery modality) for each reported direction
DIRECTIONS = {
    "t2m": ("text", "motion"),
    "m2t": ("motion", "text"),
    "v2m": ("video", "motion"),
    "m2v": ("motion", "video"),
    "t2v": ("text", "video"),
    "v2t": ("video", "text"),
}


def all_protocol(embeddings: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """The "All" protocol: every pair of the split; directions whose modalities are missing are left out."""
    results = {}
    for name, (query, gallery) in DIRECTIONS.items():
        if query in embeddings and gallery in embeddings:
            similarity = embeddings[query] @ embeddings[gallery].T  # (N, N) cosine: rows are unit vectors
            results[name] = retrieval_metrics(similarity)
    return results


def metric_name(direction: str, metric: str) -> str:
    """MLflow-safe names: "t2m", "R@10" -> "t2m/R10"."""
    return f"{direction}/{metric.replace('@', '')}"


def flat_metrics(results: dict[str, dict[str, float]], prefix: str) -> dict[str, float]:
    return {f"{prefix}/{metric_name(d, m)}": v for d, values in results.items() for m, v in values.items()}


def markdown_table(results: dict[str, dict[str, float]]) -> str:
    """One row per direction, the columns of the paper's tables."""
    metrics = ["R@1", "R@2", "R@3", "R@5", "R@10", "MedR"]
    lines = ["| direction | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for direction, values in results.items():
        lines.append(f"| {direction} | " + " | ".join(f"{values[m]:.2f}" for m in metrics) + " |")
    return "\n".join(lines)
