"""The Ray Data stages: per-motion preparation tasks, caption embedding and the sample stream."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pyarrow.parquet as pq
import ray

from lavimo import storage
from lavimo.data import embedding_cache
from lavimo.data.datasets import Caption, MotionItem

log = logging.getLogger(__name__)


def _item_to_json(item: MotionItem) -> str:
    captions = [[c.text, c.tokens, c.start, c.end] for c in item.captions]
    return json.dumps([item.id, item.split, item.feature_path, item.joints_path, captions])


def _item_from_json(text: str) -> MotionItem:
    motion_id, split, feature_path, joints_path, captions = json.loads(text)
    return MotionItem(motion_id, split, feature_path, joints_path, tuple(Caption(*c) for c in captions))


def _work_on_row(row: dict, work: Callable[[MotionItem], str]) -> dict:
    cv2.setNumThreads(1)  # one thread per task: the parallelism comes from running many tasks
    return {"result": work(_item_from_json(row["item"]))}


def map_motions(items: list[MotionItem], work: Callable[[MotionItem], str], cpus_per_task: float) -> Iterator[str]:
    """Runs `work` (a motion -> its result as JSON) for every item as Ray tasks across the cluster, yielding the
    results as they finish."""
    if not items:
        return
    rows = [{"item": _item_to_json(item)} for item in items]
    dataset = ray.data.from_items(rows, override_num_blocks=min(len(rows), max(1, len(rows) // 4)))
    dataset = dataset.map(_work_on_row, fn_kwargs={"work": work}, num_cpus=cpus_per_task)
    progress = _Progress("motions prepared", len(rows))
    for row in dataset.iter_rows():
        progress.step()
        yield row["result"]


class _EmbedChunks:
    """Ray Data actor: loads the sentence model once and writes one cache file per chunk."""

    def __init__(self, model: str, batch_size: int):
        # Imported here so that the motion tasks, which share this module, do not pay for torch.
        from lavimo.data.sentence import SentenceEncoder

        self.encoder = SentenceEncoder(model, batch_size=batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        counts = []
        for location, texts_json in zip(batch["location"], batch["texts"]):
            texts = json.loads(texts_json)
            embedding_cache.write_chunk(location, texts, self.encoder.encode(texts))  # (N, E)
            counts.append(len(texts))
        return {"location": batch["location"], "count": np.asarray(counts)}


def embed_chunks(
    chunks: list[tuple[str, list[str]]], model: str, batch_size: int, actors: int, cpus_per_actor: float
) -> int:
    """Embeds each (cache file, texts) chunk on an actor pool; returns the number of texts embedded."""
    if not chunks:
        return 0
    rows = [{"location": location, "texts": json.dumps(texts)} for location, texts in chunks]
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        _EmbedChunks,
        fn_constructor_kwargs={"model": model, "batch_size": batch_size},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=min(actors, len(rows))),
        num_cpus=cpus_per_actor,
    )
    progress = _Progress("caption chunks embedded", len(rows))
    total = 0
    for row in dataset.iter_rows():
        progress.step()
        total += int(row["count"])
    return total


class _Progress:
    """Logs `done/total` at most every few seconds and at the end."""

    def __init__(self, what: str, total: int, every_seconds: float = 5.0):
        self.what, self.total, self.every = what, total, every_seconds
        self.done, self.started, self.last = 0, time.monotonic(), 0.0

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.last >= self.every or self.done == self.total:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9)
            log.info("%s: %d/%d (%.1f/s)", self.what, self.done, self.total, rate)


ROWS_PER_READ_BLOCK = 256  # at most this many row numbers per block of the shuffled index (one decode task each)


def sample_stream(
    manifest_location: str,
    builder_kwargs: dict,
    *,
    training: bool,
    decode_tasks: int,
    cpus_per_task: float,
    batch_size: int = 16,
    seed: int = 0,
) -> ray.data.Dataset:
    """A streaming dataset of samples (SAMPLE_DTYPES columns) built from a split's manifest by decode tasks.

    builder_kwargs are SampleBuilder's arguments except `training`. The manifest's input columns and each motion's
    mirror (ids, paths, captions and their embeddings: no pixels, a few MB for HumanML3D) are read once here and put
    into the object store; the stream itself is a dataset of row numbers that decode tasks turn into samples, so an
    epoch neither re-reads nor re-partitions the file and the samples are never materialised. In training the row
    numbers are shuffled anew every epoch (every row exactly once), seeded: the permutation of the k-th epoch of
    this dataset is a function of (seed, k). Tasks, not actors: Ray Data starts an actor pool anew for every epoch
    (about 10 s here), while task processes stay warm with their SampleBuilder.
    """
    # Imported here so that preparation's motion tasks, which share this module, do not load torch.
    from lavimo.data.samples import build_samples, stream_table, unmirrored_count

    if "training" in builder_kwargs:
        raise ValueError("sample_stream: pass `training` as its own argument, not in builder_kwargs")
    fs, path = storage.resolve(manifest_location)
    try:
        table = stream_table(pq.read_table(path, filesystem=fs))
    except FileNotFoundError:
        raise FileNotFoundError(f"{manifest_location}: manifest not found; run jobs/prepare_data.py first") from None
    unmirrored = unmirrored_count(table)
    if training and builder_kwargs["settings"].flip_probability > 0 and unmirrored:
        log.warning(
            "%s: %d of %d motions have no mirror (M-id) in the split and are never flipped",
            manifest_location,
            unmirrored,
            table.num_rows,
        )
    blocks = min(table.num_rows, max(4 * decode_tasks, -(-table.num_rows // ROWS_PER_READ_BLOCK)))
    dataset = ray.data.range(table.num_rows, override_num_blocks=max(blocks, 1))  # column "id": row numbers
    if training:
        dataset = dataset.random_shuffle(seed=ray.data.RandomSeedConfig(seed=seed, reseed_after_execution=True))
    return dataset.map_batches(
        build_samples,
        fn_kwargs={"rows": ray.put(table), "builder_kwargs": builder_kwargs, "training": training},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.TaskPoolStrategy(size=decode_tasks),
        num_cpus=cpus_per_task,
    )


def batch_inference(
    dataset: ray.data.Dataset,
    model_class: type,
    model_kwargs: dict,
    *,
    actors: int,
    cpus_per_actor: float,
    gpus_per_actor: float = 0.0,
    batch_size: int = 64,
) -> list[dict]:
    """Runs a callable model class on an actor pool over `dataset` (on GPUs when asked); returns numpy batches."""
    outputs = dataset.map_batches(
        model_class,
        fn_constructor_kwargs=model_kwargs,
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cpus_per_actor,
        num_gpus=gpus_per_actor,
    )
    return list(outputs.iter_batches(batch_size=None, batch_format="numpy"))


def torch_batches(dataset_shard, batch_size: int, *, device, training: bool):
    """Iterates a sample dataset or a Train shard as dicts of tensors, in stream order (training shuffles the stream
    itself, see sample_stream); training drops the last partial batch."""
    import torch

    from lavimo.data.samples import SAMPLE_DTYPES

    dtypes = {name: torch.from_numpy(np.zeros(0, dtype)).dtype for name, dtype in SAMPLE_DTYPES.items()}
    return dataset_shard.iter_torch_batches(batch_size=batch_size, dtypes=dtypes, device=device, drop_last=training)
