"""The motion search service: a FastAPI app behind Ray Serve's ingress, one MotionLibrary per replica.

`build_app(args)` is the Serve application builder, so the same application runs from jobs/serve.py and from Serve's
own tooling (`serve run` / `serve deploy` with serve_configs/lavimo.yaml). No `from __future__ import annotations`
here: FastAPI reads the handlers' annotations to tell a JSON body from a query parameter."""

import asyncio
import logging
import re
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import numpy as np
import ray
import torch
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, Field
from ray import serve
from starlette.datastructures import UploadFile

from lavimo import storage
from lavimo.data.video import VideoError
from lavimo.eval.query import QueryError
from lavimo.eval.retrieval import Hit
from lavimo.export.motions import ExportError
from lavimo.serve.library import LibrarySettings, MotionLibrary, UnknownMotion

log = logging.getLogger(__name__)

MAX_K = 100
DEFAULT_MAX_UPLOAD_MB = 200.0
UPLOAD_CHUNK = 2**20
VIDEO_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}$")  # the only part of an uploaded file's name that is kept

api = FastAPI(
    title="LAVIMO motion search", description="Find 3D human motions by a sentence, a video clip or another motion."
)


class TextQuery(BaseModel):
    text: str = Field(description="a description of the motion, e.g. 'a person jumps twice'")
    k: int = Field(5, ge=1, le=MAX_K, description="how many motions to return")


class Result(BaseModel):
    rank: int
    motion_id: str
    score: float
    duration_s: float
    caption: str
    video_url: str
    joints_url: str
    bvh_url: str


class SearchResponse(BaseModel):
    query: str
    results: list[Result]


class Motion(BaseModel):
    motion_id: str
    duration_s: float
    captions: list[str]
    video_url: str
    joints_url: str
    bvh_url: str


@dataclass(frozen=True)
class ServiceSettings:
    library: LibrarySettings
    max_upload_bytes: int = int(DEFAULT_MAX_UPLOAD_MB * 2**20)


def _motion_url(motion_id: str, tail: str = "") -> str:
    return f"/motions/{quote(motion_id, safe='')}{tail}"


def _file_urls(motion_id: str) -> dict[str, str]:
    return {
        "video_url": _motion_url(motion_id, "/video"),
        "joints_url": _motion_url(motion_id, "/joints.npy"),
        "bvh_url": _motion_url(motion_id, ".bvh"),
    }


def _results(hits: list[Hit]) -> list[Result]:
    return [
        Result(
            rank=h.rank,
            motion_id=h.motion_id,
            score=h.score,
            duration_s=h.duration_s,
            caption=h.caption,
            **_file_urls(h.motion_id),
        )
        for h in hits
    ]


def _form_k(value) -> int:
    if value is None:
        return 5
    if not isinstance(value, str):
        raise HTTPException(422, "k: must be a form field, got a file")
    if not value.strip().isdigit() or not 1 <= int(value) <= MAX_K:
        raise HTTPException(422, f"k: must be a whole number from 1 to {MAX_K}, got {value!r}")
    return int(value)


class _LimitedRequest(Request):
    """A request whose body stream stops with 413 as soon as it passes `limit` bytes (an upload sent without a
    Content-Length is never read whole)."""

    def __init__(self, scope, receive, limit: int):
        super().__init__(scope, receive)
        self.limit = limit

    async def stream(self):
        received = 0
        async for chunk in super().stream():
            received += len(chunk)
            if received > self.limit:
                raise HTTPException(413, f"the upload is over the limit of {self.limit} bytes")
            yield chunk


async def _save_upload(upload: UploadFile, path: Path) -> None:
    """Copies the upload (spooled by the form parser) to `path`, where the decoder reads it."""
    written = 0
    with open(path, "wb") as out:
        while chunk := await upload.read(UPLOAD_CHUNK):
            written += len(chunk)
            out.write(chunk)
    if written == 0:
        raise HTTPException(400, f"{upload.filename or 'the upload'}: the file is empty")


# Serve pickles the class when it is decorated: whatever its methods call must be defined above this line.
@serve.deployment(max_ongoing_requests=32)
@serve.ingress(api)
class MotionSearch:
    """One replica: the model and the index loaded once; concurrent text and video queries batched."""

    def __init__(self, settings: ServiceSettings):
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
        torch.set_num_threads(max(1, round(cpus)))  # as many threads as the replica's CPUs
        self.settings = settings
        self.library = MotionLibrary(settings.library)

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def _embed_texts(self, texts: list[str]) -> list[np.ndarray]:
        return list(self.library.encoder.texts(texts))  # (B, C) in one forward pass

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.01)
    async def _embed_clips(self, clips: list[np.ndarray]) -> list[np.ndarray]:
        return list(self.library.encoder.clips(np.stack(clips)))  # (B, l_v, S, S, 3) -> (B, C)

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(self) -> str:
        return resources.files("lavimo.serve").joinpath("page/index.html").read_text(encoding="utf-8")

    @api.get("/healthz")
    async def healthz(self) -> dict:
        return {
            "status": "ok",
            "motions": len(self.library.index),
            "checkpoint": self.library.checkpoint,
            "video_queries": self.library.has_video,
        }

    @api.post("/search/text", response_model=SearchResponse)
    async def search_text(self, query: TextQuery) -> SearchResponse:
        if not query.text.strip():
            raise HTTPException(422, "text: the query is empty")
        vector = await self._embed_texts(query.text)
        return SearchResponse(query=query.text, results=_results(self.library.search(vector, query.k)))

    @api.post("/search/video", response_model=SearchResponse)
    async def search_video(self, request: Request) -> SearchResponse:
        """Multipart form: `file` (a video of any size, orientation, frame rate and length), optional `k`."""
        limit = self.settings.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, f"the upload is {int(declared)} bytes; the limit is {limit} bytes")
        if not self.library.has_video:
            raise HTTPException(400, "this checkpoint is 2-modal (text and motion): it has no video tower")
        async with _LimitedRequest(request.scope, request.receive, limit).form(max_files=1, max_fields=2) as form:
            upload, k = form.get("file"), _form_k(form.get("k"))
            if not isinstance(upload, UploadFile):
                raise HTTPException(422, "file: a video file is required (multipart form field 'file')")
            suffix = match.group(0) if (match := VIDEO_SUFFIX.search(upload.filename or "")) else ".mp4"
            with tempfile.TemporaryDirectory(prefix="lavimo-upload-") as folder:
                path = Path(folder) / f"query{suffix}"  # never the client's name: no path from a request is opened
                await _save_upload(upload, path)
                try:
                    frames = await asyncio.to_thread(self.library.encoder.video_frames, path)  # (l_v, S, S, 3)
                except (VideoError, QueryError) as error:
                    raise HTTPException(
                        400, f"{upload.filename or 'the upload'}: {str(error).replace(str(path), 'the file')}"
                    ) from None
        vector = await self._embed_clips(frames)
        return SearchResponse(query=upload.filename or "video", results=_results(self.library.search(vector, k)))

    @api.get("/search/motion/{motion_id}", response_model=SearchResponse)
    async def search_motion(self, motion_id: str, k: int = Query(5, ge=1, le=MAX_K)) -> SearchResponse:
        try:
            vector = self.library.motion_vector(motion_id)
        except UnknownMotion as error:
            raise HTTPException(404, error.args[0]) from None
        hits = self.library.search(vector, k, exclude=motion_id)
        return SearchResponse(query=f"motion {motion_id}", results=_results(hits))

    @api.get("/motions/{motion_id}.bvh")
    async def motion_bvh(self, motion_id: str) -> Response:
        """The motion as BVH (metres, y up, on the floor, facing +z): the bytes of jobs/export.py --format bvh."""
        return await self._export(motion_id, "bvh", "text/plain; charset=utf-8", f"{motion_id}.bvh")

    @api.get("/motions/{motion_id}", response_model=Motion)
    async def motion(self, motion_id: str) -> Motion:
        try:
            record = self.library.record(motion_id)
        except UnknownMotion as error:
            raise HTTPException(404, error.args[0]) from None
        return Motion(
            motion_id=motion_id, duration_s=record.duration_s, captions=record.captions, **_file_urls(motion_id)
        )

    @api.get("/motions/{motion_id}/video")
    async def motion_video(self, motion_id: str) -> FileResponse:
        """The rendered clip (H.264 .mp4); range requests let a browser seek."""
        try:
            return FileResponse(self.library.video_file(motion_id), media_type="video/mp4")
        except UnknownMotion as error:
            raise HTTPException(404, error.args[0]) from None

    @api.get("/motions/{motion_id}/joints.npy")
    async def motion_joints(self, motion_id: str) -> Response:
        """(T, J, 3) float32 joint positions in metres, as in the BVH: the bytes of jobs/export.py --format npy."""
        return await self._export(motion_id, "npy", "application/octet-stream", f"{motion_id}_joints.npy")

    async def _export(self, motion_id: str, fmt: str, media_type: str, filename: str) -> Response:
        try:
            data = await asyncio.to_thread(self.library.export, motion_id, fmt)
        except UnknownMotion as error:
            raise HTTPException(404, error.args[0]) from None
        except ExportError as error:
            raise HTTPException(500, str(error)) from None
        return Response(
            data,
            media_type=media_type,
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
        )


APP_ARGUMENTS = {"checkpoint", "prepared", "splits", "max_upload_mb", "num_replicas", "max_replicas", "replica_cpus"}


def build_app(args: dict) -> serve.Application:
    """Serve's application builder. args: checkpoint (required), prepared, splits (list), max_upload_mb,
    num_replicas, max_replicas (autoscaling between the two when larger), replica_cpus."""
    unknown = set(args) - APP_ARGUMENTS
    if unknown:
        raise ValueError(f"unknown application arguments: {', '.join(sorted(unknown))}")
    if not args.get("checkpoint"):
        raise ValueError("checkpoint: the checkpoint folder to serve is required")
    settings = ServiceSettings(
        LibrarySettings(
            storage.absolute(str(args["checkpoint"])),  # replicas run in other folders
            storage.absolute(args["prepared"]) if args.get("prepared") else None,
            tuple(args.get("splits") or ()),
        ),
        max_upload_bytes=int(float(args.get("max_upload_mb", DEFAULT_MAX_UPLOAD_MB)) * 2**20),
    )
    return MotionSearch.options(**deployment_options(args)).bind(settings)


def deployment_options(args: dict) -> dict:
    """The replicas' CPUs, and a fixed number of replicas or autoscaling between num_replicas and max_replicas."""
    replicas = int(args.get("num_replicas", 1))
    most = int(args.get("max_replicas") or replicas)
    if replicas < 1 or most < replicas:
        raise ValueError(f"num_replicas must be >= 1 and max_replicas >= num_replicas, got {replicas}, {most}")
    scaling = (
        {"num_replicas": replicas}
        if most == replicas
        else {"autoscaling_config": {"min_replicas": replicas, "max_replicas": most, "target_ongoing_requests": 8}}
    )
    return {"ray_actor_options": {"num_cpus": float(args.get("replica_cpus", 1.0))}, **scaling}
