"""The retrieval job: a text, video or motion query -> the top-k motions of a checkpoint's index, and a preview."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from lavimo import checkpoint, storage
from lavimo.data.augment import Box
from lavimo.eval.index import MotionIndex
from lavimo.eval.preview import PreviewTile, write_preview
from lavimo.eval.query import QueryEncoder, QueryError
from lavimo.eval.retrieval import Hit, MotionRecord, index_location, load_or_build_index, motion_records, top_k
from lavimo.ray_cluster import gpus_per_actor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievalRequest:
    checkpoint: str
    text: str | None = None
    video: str | None = None
    motion: str | None = None
    start: float | None = None  # seconds of the video query to use; None: from its start
    end: float | None = None  # None: to its end
    crop: Box | None = None  # x, y, width, height of the video query's displayed frame; None: the whole frame
    k: int = 5
    prepared: str | None = None  # None: the prepared dataset the checkpoint was trained on
    splits: tuple[str, ...] = ()  # (): every split of the checkpoint's config
    render: str | None = None  # a preview .mp4 to write
    rebuild_index: bool = False
    index_dtype: str = "float32"

    def check(self) -> None:
        given = [name for name in ("text", "video", "motion") if getattr(self, name) is not None]
        if len(given) != 1:
            raise QueryError(f"give exactly one of --text, --video, --motion (got {given or 'none'})")
        clip_options = [f"--{name}" for name in ("start", "end", "crop") if getattr(self, name) is not None]
        if clip_options and self.video is None:
            raise QueryError(f"{', '.join(clip_options)} go with a --video query")
        if self.start is not None and self.start < 0:
            raise QueryError(f"--start must be >= 0 seconds, got {self.start}")
        if self.end is not None and self.end <= (self.start or 0.0):
            raise QueryError(f"--end ({self.end} s) must come after --start ({self.start or 0.0} s)")
        if self.k < 1:
            raise QueryError(f"k must be >= 1, got {self.k}")
        if self.render is not None and not self.render.endswith(".mp4"):
            raise QueryError(f"{self.render}: the preview is an H.264 .mp4 file")


def run_retrieval(request: RetrievalRequest, connect_ray) -> list[Hit]:
    """Answers one query. The query is encoded (and checked) before the index is touched; Ray is started through
    `connect_ray()` only when the index has to be built."""
    request.check()
    folder = str(checkpoint.whole_checkpoint(request.checkpoint))
    model, config = checkpoint.load_model(folder)
    prepared = request.prepared or config.data.prepared
    splits = list(request.splits or config.data.splits)
    encoder = QueryEncoder(model)
    query = encoder.text(request.text) if request.text is not None else None
    if request.video is not None:
        query = encoder.video(request.video, start=request.start, end=request.end, crop=request.crop)
    gpus = 0.0
    if request.rebuild_index or not storage.exists(index_location(folder, prepared, splits)):
        connect_ray()
        gpus = gpus_per_actor()
    index = load_or_build_index(
        folder,
        prepared,
        splits,
        rebuild=request.rebuild_index,
        dtype=request.index_dtype,
        workers=1,
        cpus_per_worker=config.train.decode_cpus,
        gpus_per_worker=gpus,
    )
    if request.motion is not None:
        query = _motion_vector(index, request.motion)
    hits = top_k(index, query, request.k, exclude=request.motion)
    if request.render:
        _render(request, hits, motion_records(prepared, splits))
    return hits


def _motion_vector(index: MotionIndex, motion_id: str) -> np.ndarray:
    """The stored embedding of a motion of the index: (C,) float32."""
    if motion_id not in index.ids:
        raise QueryError(
            f"motion id {motion_id!r} is not in the index ({len(index)} motions, e.g. {', '.join(index.ids[:3])})"
        )
    return index.vectors[index.ids.index(motion_id)].astype(np.float32)


def _render(request: RetrievalRequest, hits: list[Hit], records: dict[str, MotionRecord]) -> None:
    """One video: the query (a video or a motion), then the hits, each under its rank, score and caption."""
    tiles = [PreviewTile(request.video, "query video")] if request.video else []
    if request.motion:
        tiles.append(PreviewTile(records[request.motion].video_path, f"query {request.motion}"))
    tiles += [
        PreviewTile(
            records[h.motion_id].video_path,
            f"#{h.rank} {h.motion_id}  {h.score:.3f}",
            f"{h.duration_s:.1f} s  {h.caption}",
        )
        for h in hits
    ]
    header = f'"{request.text}"' if request.text else ""
    write_preview(request.render, tiles, fps=records[hits[0].motion_id].video_fps, header=header)
    log.info("wrote the preview %s", request.render)


def describe(request: RetrievalRequest, hits: list[Hit]) -> str:
    query = request.text or request.video or f"motion {request.motion}"
    lines = [
        f"top {len(hits)} motions for {query!r}{_clip_note(request)}:",
        "| rank | motion | score | seconds | caption |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {h.rank} | {h.motion_id} | {h.score:.3f} | {h.duration_s:.1f} | {h.caption} |" for h in hits]
    if request.render:
        lines.append(f"preview: {request.render}")
    return "\n".join(lines)


def _clip_note(request: RetrievalRequest) -> str:
    """' (2-5.5 s, crop 10,20,300,300)' for a video query narrowed by --start, --end or --crop; else ''."""
    parts = []
    if request.start is not None or request.end is not None:
        parts.append(f"{request.start or 0:g}-{'end' if request.end is None else format(request.end, 'g')} s")
    if request.crop is not None:
        parts.append("crop " + ",".join(str(value) for value in request.crop))
    return f" ({', '.join(parts)})" if parts else ""
