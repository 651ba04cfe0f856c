"""Evaluation of a checkpoint on a prepared split: embeddings by Ray Data batch inference, then the protocols."""

from __future__ import annotations

import dataclasses

import numpy as np

from lavimo.data import pipeline
from lavimo.data.manifest import manifest_path
from lavimo.eval.embed import Embedder, stack_embeddings
from lavimo.eval.protocols import all_protocol
from lavimo.train import checkpoint
from lavimo.train.trainer import builder_arguments


class CheckpointEmbedder:
    """Ray Data actor: rebuilds the model from a checkpoint folder once, then embeds stream batches."""

    def __init__(self, checkpoint_folder: str, device: str = "cpu"):
        model, _config = checkpoint.load_model(checkpoint_folder, device)
        self.embed = Embedder(model, device)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        valid = batch["valid"].astype(bool)
        if not valid.all():
            raise ValueError(f"{int((~valid).sum())} rows of the evaluation split could not be read (see the "
                             "warnings above); evaluation needs every test pair")
        return self.embed(batch)


def embed_split(checkpoint_folder: str, prepared: str, split: str, *, workers: int, cpus_per_worker: float,
                gpus_per_worker: float = 0.0) -> dict[str, np.ndarray]:
    """Embeddings of every pair of a split: {"index", "motion", "text", "sentence", ["video"]}, rows by index.
    Decoding runs on tasks and the model on an actor pool of `workers` (on GPUs when gpus_per_worker > 0)."""
    config = checkpoint.read_config(checkpoint_folder)
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, prepared=prepared))
    samples = pipeline.sample_stream(manifest_path(prepared, split), builder_arguments(config, split),
                                     training=False, decode_tasks=workers, cpus_per_task=cpus_per_worker)
    embedder = {"checkpoint_folder": checkpoint_folder, "device": "cuda" if gpus_per_worker else "cpu"}
    parts = pipeline.batch_inference(samples, CheckpointEmbedder, embedder, actors=workers,
                                     cpus_per_actor=cpus_per_worker, gpus_per_actor=gpus_per_worker)
    return stack_embeddings(parts)


def evaluate_split(checkpoint_folder: str, prepared: str, split: str, **resources) -> dict[str, dict[str, float]]:
    """The All protocol in every direction the model has."""
    return all_protocol(embed_split(checkpoint_folder, prepared, split, **resources))
