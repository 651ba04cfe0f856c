"""Evaluation of a checkpoint on a prepared split: embeddings by Ray Data batch inference, then the protocols; for a
test split also video<->motion with the split's videos in the held-out style (manifest/test_held_out.parquet)."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lavimo import checkpoint, storage
from lavimo.config import LavimoConfig
from lavimo.data import pipeline
from lavimo.data.datasets import Caption, is_test_split, read_split_ids
from lavimo.data.manifest import ManifestInfo, held_out_split, manifest_path, read_manifest
from lavimo.data.samples import sample_index
from lavimo.eval.embed import Embedder, stack_embeddings
from lavimo.eval.protocols import (
    HELD_OUT_LABEL,
    SENTENCE,
    ProtocolRun,
    Results,
    flat_metrics,
    markdown_tables,
    protocol_label,
    read_id_list,
    run_protocols,
    write_id_list,
)
from lavimo.eval.published import PAPER_TABLES, PUBLISHED_DATASETS, published_results
from lavimo.sample_streams import builder_arguments

log = logging.getLogger(__name__)
DISSIMILAR_FILE = "dissimilar_ids.txt"  # the pairs of the Dissimilar subset protocol, one id a line
HELD_OUT_STYLE = "held_out_style"  # the held-out rows' name in metrics (test/held_out_style/all/v2m/R1) and JSON


@dataclass(frozen=True)
class SplitEmbeddings:
    """One test pair per motion of a split (the motion, its first caption, its video), rows sorted by id."""

    ids: list[str]  # (N,) motion ids
    captions: list[str]  # (N,) each pair's caption: its motion's first
    vectors: dict[str, np.ndarray]  # "motion", "text", ["video"]: (N, C) unit rows; "sentence": (N, E) unit rows
    cropped: int  # pairs whose caption window is longer than stream.crop_frames: embedded from its start
    crop_frames: int  # stream.crop_frames


class CheckpointEmbedder:
    """Ray Data actor: rebuilds the model from a checkpoint folder once, then embeds stream batches."""

    def __init__(self, checkpoint_folder: str, device: str = "cpu"):
        model, _config = checkpoint.load_model(checkpoint_folder, device)
        self.embed = Embedder(model, device)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        valid = batch["valid"].astype(bool)
        if not valid.all():
            raise ValueError(
                f"{int((~valid).sum())} rows of the evaluation split could not be read (see the "
                "warnings above); evaluation needs every test pair"
            )
        return self.embed(batch)


def check_compatible(config: LavimoConfig, info: ManifestInfo, checkpoint_folder: str, manifest: str) -> None:
    """A clear error when a checkpoint's model cannot read a prepared dataset (another skeleton or feature size)."""
    if config.model.motion.feature_dim != info.feature_dim:
        raise ValueError(
            f"{checkpoint_folder}: the checkpoint's model reads {config.model.motion.feature_dim}-dim "
            f"motion features, but {manifest} ({info.dataset}) has {info.feature_dim}-dim features"
        )


def embed_split(
    checkpoint_folder: str,
    prepared: str,
    split: str,
    *,
    workers: int,
    cpus_per_worker: float,
    gpus_per_worker: float = 0.0,
) -> SplitEmbeddings:
    """Embeddings of every pair of a split (or of a held-out style manifest, held_out_split(split)). Decoding runs
    on tasks and the model on an actor pool of `workers` (on GPUs when gpus_per_worker > 0)."""
    config = checkpoint.read_config(checkpoint_folder)
    config = config.replace(data=config.data.replace(prepared=prepared))
    location = manifest_path(prepared, split)
    table, info = read_manifest(location)
    check_compatible(config, info, checkpoint_folder, location)
    samples = pipeline.sample_stream(
        location, builder_arguments(config, split), training=False, decode_tasks=workers, cpus_per_task=cpus_per_worker
    )
    embedder = {"checkpoint_folder": checkpoint_folder, "device": "cuda" if gpus_per_worker else "cpu"}
    parts = pipeline.batch_inference(
        samples,
        CheckpointEmbedder,
        embedder,
        actors=workers,
        cpus_per_actor=cpus_per_worker,
        gpus_per_actor=gpus_per_worker,
    )
    return split_embeddings(table, parts, config.stream.crop_frames, location)


def split_embeddings(
    table: pa.Table, parts: list[dict[str, np.ndarray]], crop_frames: int, location: str
) -> SplitEmbeddings:
    """The embedder's output batches over a manifest's rows (any order) -> one pair per row, sorted by id."""
    stacked = stack_embeddings(parts)
    if len(stacked["index"]) != table.num_rows:
        raise RuntimeError(f"{location}: embedded {len(stacked['index'])} of its {table.num_rows} motions")
    ids_by_index = {sample_index(motion_id): motion_id for motion_id in table["id"].to_pylist()}
    ids = [ids_by_index[int(index)] for index in stacked.pop("index")]
    order = np.argsort(ids, kind="stable")  # (N,) rows by id: the order the protocols sort and shuffle
    first = {
        row["id"]: row
        for row in table.select(["id", "num_frames", "fps", "captions", "caption_start", "caption_end"]).to_pylist()
    }
    windows = [_first_window(first[ids[i]]) for i in order]
    return SplitEmbeddings(
        [ids[i] for i in order],
        [first[ids[i]]["captions"][0] for i in order],
        {name: value[order] for name, value in stacked.items()},
        cropped=sum(end - start > crop_frames for start, end in windows),
        crop_frames=crop_frames,
    )


@dataclass(frozen=True)
class HeldOutVideos:
    """A test split's pairs with their videos in the held-out style (lavimo/render/heldout.py), or why there are
    none. The motions, captions and their order are the split's own: only the video side changes."""

    manifest: str  # manifest/SPLIT_held_out.parquet
    video: np.ndarray | None  # (N, C) unit rows, in the split's pair order; None when skipped
    skipped: str = ""  # why there are none; "" when embedded


def embed_held_out(
    checkpoint_folder: str, config: LavimoConfig, prepared: str, split: str, ids: list[str], **resources
) -> HeldOutVideos:
    """The held-out style videos of a test split's pairs `ids` (embed_split's order), by the same batch inference;
    skipped, with the reason, for a model without video, the style turned off, another split or no manifest."""
    location = manifest_path(prepared, held_out_split(split))
    reason = _held_out_skip(config, split, location)
    if reason:
        log.warning("%s: skipped, %s", HELD_OUT_LABEL, reason)
        return HeldOutVideos(location, None, reason)
    embedded = embed_split(checkpoint_folder, prepared, held_out_split(split), **resources)
    if embedded.ids != ids:
        raise ValueError(
            f"{location}: its motions are not those of {manifest_path(prepared, split)}; run jobs/prepare_data.py again"
        )
    return HeldOutVideos(location, embedded.vectors["video"])


def _held_out_skip(config: LavimoConfig, split: str, location: str) -> str:
    """Why a split has no held-out style rows ("" when it has them)."""
    if not config.model.has_video:
        return "the model has no video tower (2-modal)"
    if not config.render.held_out.enabled:
        return "render.held_out.enabled is false"
    if not is_test_split(split):
        return f"only test splits are rendered in it, not {split!r}"
    if not storage.is_file(location):
        return (
            f"no {location}: the split's videos came with the dataset, or it was prepared without the "
            "held-out style (jobs/prepare_data.py renders it)"
        )
    return ""


def _first_window(row: dict) -> tuple[int, int]:
    """[start, end) motion frames of a manifest row's first caption, the window evaluation embeds."""
    caption = Caption(row["captions"][0], "", row["caption_start"][0], row["caption_end"][0])
    return caption.frame_window(row["num_frames"], row["fps"])


def check_dissimilar_list(path: str, dataset_root: str, split: str = "test") -> None:
    """At the start of a job: the Dissimilar subset's id list exists and every id is in the dataset's split file,
    so that the evaluation at the end of training cannot fail on it."""
    if not storage.is_file(path):
        raise FileNotFoundError(
            f"eval.dissimilar_ids: {path} not found (TMR's splits/nsim_test.txt, one id a line; "
            "set eval.dissimilar_ids='' to choose the pairs greedily)"
        )
    read_id_list(path, read_split_ids(dataset_root, split))


@dataclass(frozen=True)
class HeldOutResults:
    """Video<->motion of a test split with its videos in the held-out style, per protocol, or why there are none."""

    manifest: str
    results: dict[str, Results]  # protocol -> direction (v2m, m2v) -> metric; {} when skipped
    skipped: str  # "" when there are results

    def to_dict(self) -> dict:
        return {"label": HELD_OUT_LABEL, "manifest": self.manifest, "skipped": self.skipped, "protocols": self.results}


@dataclass(frozen=True)
class Evaluation:
    """The four protocols and exact-caption pairs on one split of a checkpoint, the held-out style rows, and the
    files they were written to."""

    checkpoint: str
    split: str
    protocols: ProtocolRun
    held_out: HeldOutResults
    tables: str  # Markdown, laid out like the paper's tables
    folder: str  # holds results.md, results.json and dissimilar_ids.txt

    def metrics(self) -> dict[str, float]:
        """Flat MLflow names: "test/all/t2m/R1", "test/threshold_0.8/v2m/MedR", "test/held_out_style/all/v2m/R1"."""
        groups = ((self.split, self.protocols.results), (f"{self.split}/{HELD_OUT_STYLE}", self.held_out.results))
        return {
            name: value
            for prefix, protocols in groups
            for protocol, results in protocols.items()
            for name, value in flat_metrics(results, f"{prefix}/{protocol}").items()
        }

    def headline(self) -> Results:
        """The All protocol's directions, then its held-out style rows as "v2m (held-out style)", "m2v (...)"."""
        held_out = self.held_out.results.get("all", {})
        return {
            **self.protocols.results["all"],
            **{f"{direction} ({HELD_OUT_LABEL})": values for direction, values in held_out.items()},
        }


def evaluate_checkpoint(
    checkpoint_folder: str,
    prepared: str,
    split: str,
    folder: str,
    *,
    dissimilar_ids_file: str | None = None,
    published_file: str | None = None,
    **resources,
) -> Evaluation:
    """Embeds the split (and its held-out style videos), runs every protocol and direction, and writes the results
    into `folder` (each file atomically, and only once everything is computed). The Dissimilar subset is
    `dissimilar_ids_file`, else the checkpoint's eval.dissimilar_ids, else chosen; the published rows are
    `published_file`, else the paper's (humanml3d and kit)."""
    _model, config = checkpoint.load_model(checkpoint_folder)  # fails here, naming the file, on a mismatch
    dissimilar_ids_file = dissimilar_ids_file or config.eval.dissimilar_ids or None
    published_file = published_file or (PAPER_TABLES if config.data.dataset in PUBLISHED_DATASETS else None)
    published = published_results(config.data.dataset, published_file) if published_file else None
    embedded = embed_split(checkpoint_folder, prepared, split, **resources)
    held_out = embed_held_out(checkpoint_folder, config, prepared, split, embedded.ids, **resources)
    return evaluate_embeddings(
        checkpoint_folder,
        split,
        embedded,
        held_out,
        folder,
        dissimilar_ids_file=dissimilar_ids_file,
        published=published,
        published_file=published_file,
    )


def evaluate_embeddings(
    checkpoint_folder: str,
    split: str,
    embedded: SplitEmbeddings,
    held_out: HeldOutVideos,
    folder: str,
    *,
    dissimilar_ids_file: str | None,
    published: dict | None,
    published_file: str | None,
) -> Evaluation:
    """The protocols over a split's embeddings, the held-out style rows over the same pairs (same Dissimilar
    subset, same small batches) with its videos, and the files in `folder`."""
    dissimilar = read_id_list(dissimilar_ids_file, embedded.ids) if dissimilar_ids_file else None
    protocols = run_protocols(embedded.vectors, embedded.ids, dissimilar_ids=dissimilar, captions=embedded.captions)
    held_out_results = HeldOutResults(
        held_out.manifest, _held_out_protocols(embedded, held_out, protocols), held_out.skipped
    )
    notes = _notes(embedded, held_out_results, dissimilar_ids_file, published_file if published else None)
    protocols = dataclasses.replace(protocols, notes=protocols.notes + notes)
    for note in protocols.notes:
        log.warning("%s", note)
    tables = markdown_tables(protocols.results, published, held_out=held_out_results.results)
    tables += "\n" + "\n".join(f"- {note}" for note in protocols.notes) + "\n"
    evaluation = Evaluation(checkpoint_folder, split, protocols, held_out_results, tables, folder)
    _write(evaluation, dissimilar_ids_file)
    return evaluation


def _held_out_protocols(embedded: SplitEmbeddings, held_out: HeldOutVideos, run: ProtocolRun) -> dict[str, Results]:
    """Every protocol, video<->motion only, with the held-out videos against the split's motions (its pairs and
    its Dissimilar subset); {} when skipped."""
    if held_out.video is None:
        return {}
    vectors = {"motion": embedded.vectors["motion"], "video": held_out.video, SENTENCE: embedded.vectors[SENTENCE]}
    return run_protocols(vectors, embedded.ids, dissimilar_ids=run.dissimilar_ids, captions=embedded.captions).results


def _notes(
    embedded: SplitEmbeddings, held_out: HeldOutResults, dissimilar_ids_file: str | None, published_file: str | None
) -> list[str]:
    """What a reader of the tables must know: the gallery, crops, where the dissimilar pairs, the held-out style
    and the other rows are from."""
    notes = [
        f"Gallery: {len(embedded.ids)} pairs, the whole split (one per motion: its first caption with its "
        "time window, and its video)"
    ]
    if embedded.cropped:
        notes.append(
            f"{embedded.cropped} motions have a window longer than {embedded.crop_frames} frames "
            f"(stream.crop_frames): each was embedded from its first {embedded.crop_frames} frames"
        )
    label = protocol_label("dissimilar")
    chosen = f"pairs chosen greedily from the captions (no eval.dissimilar_ids), listed in {DISSIMILAR_FILE}"
    notes.append(f"{label}: the ids of {dissimilar_ids_file}" if dissimilar_ids_file else f"{label}: {chosen}")
    held_out_label = HELD_OUT_LABEL.capitalize()
    notes.append(
        f"{held_out_label}: skipped, {held_out.skipped}"
        if held_out.skipped
        else f"{held_out_label}: the same {len(embedded.ids)} pairs, their videos rendered in a style no "
        f"training or validation video has (lavimo/render/heldout.py; {held_out.manifest}), in the rows "
        f'marked "{HELD_OUT_LABEL}" of the video-motion tables'
    )
    if published_file:
        notes.append(f"Rows of other methods: {published_file}")
    return notes


def _write(evaluation: Evaluation, dissimilar_ids_file: str | None) -> None:
    folder = evaluation.folder
    document = {
        "checkpoint": evaluation.checkpoint,
        "split": evaluation.split,
        "dissimilar_ids": dissimilar_ids_file or storage.join(folder, DISSIMILAR_FILE),
        "notes": evaluation.protocols.notes,
        "protocols": evaluation.protocols.results,
        HELD_OUT_STYLE: evaluation.held_out.to_dict(),
    }
    write_id_list(storage.join(folder, DISSIMILAR_FILE), evaluation.protocols.dissimilar_ids)
    storage.write_bytes_atomic(storage.join(folder, "results.json"), json.dumps(document, indent=2).encode())
    storage.write_bytes_atomic(storage.join(folder, "results.md"), evaluation.tables.encode())
