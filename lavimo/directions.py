"""The retrieval directions and recall cut-offs every evaluation reports, and the validation recalls that a model
of some modalities logs: what train.checkpoint_metric and a sweep's metric may name."""

from __future__ import annotations

from collections.abc import Iterable

DIRECTIONS = {  # name: (query modality, gallery modality)
    "t2m": ("text", "motion"),
    "m2t": ("motion", "text"),
    "v2m": ("video", "motion"),
    "m2v": ("motion", "video"),
    "t2v": ("text", "video"),
    "v2t": ("video", "text"),
}
RECALL_AT = (1, 2, 3, 5, 10)


def validation_recalls(modalities: Iterable[str]) -> list[str]:
    """The validation recalls (higher is better) a model of these modalities logs, e.g. val/t2m/R10."""
    have = set(modalities)
    return [f"val/{name}/R{k}" for name, pair in DIRECTIONS.items() if set(pair) <= have for k in RECALL_AT]
