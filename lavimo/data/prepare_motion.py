"""Preparation of one motion: validate its features and captions, and make sure it has a readable video."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from dataclasses import dataclass

from lavimo.data import storage
from lavimo.data.datasets import (
    Caption,
    KEEP_EVERY_LENGTH,
    ClipRules,
    DatasetError,
    DatasetSpec,
    MotionItem,
    load_features,
    load_joints,
    is_test_split,
    usable_captions,
)
from lavimo.data.features import features_to_joints
from lavimo.data.skip_report import Skip, SkipReport
from lavimo.data.video import VideoError, VideoMeta, probe_video
from lavimo.render.config import RenderConfig
from lavimo.render.randomise import draw_look
from lavimo.render.video import render_motion_video

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MotionJob:
    """Everything a worker needs to prepare motions; plain data so Ray can ship it."""

    dataset_root: str
    prepared: str
    spec: DatasetSpec
    rules: ClipRules  # train and val; a test split keeps every length (see is_test_split)
    render: RenderConfig


@dataclass(frozen=True)
class MotionResult:
    id: str
    split: str
    row: dict | None  # the manifest row without caption embeddings; None when the motion is skipped
    skips: tuple[Skip, ...]
    rendered: bool  # a video was rendered by this run

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> MotionResult:
        raw = json.loads(text)
        return cls(raw["id"], raw["split"], raw["row"], tuple(Skip(**s) for s in raw["skips"]), raw["rendered"])


def prepare_motion(item: MotionItem, job: MotionJob) -> MotionResult:
    """Validates one motion and ensures its video; every problem becomes a counted skip, never an exception."""
    report = SkipReport()
    try:
        row, rendered = _prepare(item, job, report)
    except (DatasetError, VideoError) as err:
        report.skip("motion", item.feature_path, "unusable motion", str(err))
        row, rendered = None, False
    return MotionResult(item.id, item.split, row, tuple(report.skips), rendered)


def _prepare(item: MotionItem, job: MotionJob, report: SkipReport) -> tuple[dict | None, bool]:
    features = load_features(item.feature_path, job.spec)  # (T, D)
    num_frames = features.shape[0]
    rules = KEEP_EVERY_LENGTH if is_test_split(item.split) else job.rules
    if not rules.accepts(num_frames):
        report.skip("motion", item.feature_path, "motion too short or too long", f"{num_frames} frames")
        return None, False
    captions = usable_captions(item, num_frames, job.spec, rules, report)
    if not captions:
        report.skip("motion", item.feature_path, "no caption left after the clip-length rules")
        return None, False
    video = _ensure_video(item, job, features, report)
    return _manifest_row(item, job, num_frames, captions, video), video.rendered_now


@dataclass(frozen=True)
class _Video:
    path: str
    meta: VideoMeta
    supplied: bool  # came with the dataset (a real or user-made video), not rendered by us
    rendered_now: bool


def _manifest_row(item: MotionItem, job: MotionJob, num_frames: int, captions: tuple[Caption, ...], video: _Video):
    return {
        "id": item.id,
        "split": item.split,
        "num_frames": num_frames,
        "fps": job.spec.fps,
        "feature_path": item.feature_path,
        "joints_path": item.joints_path if storage.is_file(item.joints_path) else None,
        "video_path": video.path,
        "video_num_frames": video.meta.num_frames,
        "video_fps": video.meta.fps,
        "video_rendered": not video.supplied,
        "captions": [c.text for c in captions],
        "caption_start": [c.start for c in captions],
        "caption_end": [c.end for c in captions],
    }


def video_location(prepared: str, render: RenderConfig, motion_id: str, view: int = 0) -> str:
    """Where view `view` of a motion's rendered video goes: PREPARED/videos/FINGERPRINT/ID_vVIEW.mp4.

    FINGERPRINT (render.fingerprint()) names every setting that changes pixels, so videos of other settings
    are never taken for these; the `_v` suffix keeps ids and views apart (ID `a_v1` view 0 is `a_v1_v0.mp4`).
    """
    return storage.join(prepared, "videos", render.fingerprint(), f"{motion_id}_v{int(view)}.mp4")


def _ensure_video(item: MotionItem, job: MotionJob, features, report: SkipReport, view: int = 0) -> _Video:
    """A supplied video if the dataset has one, else a rendered one (reused when a readable one exists)."""
    supplied = storage.join(job.dataset_root, "videos", f"{item.id}.mp4")
    if storage.is_file(supplied):
        return _Video(supplied, _probe(supplied), supplied=True, rendered_now=False)
    target = video_location(job.prepared, job.render, item.id, view)
    if storage.is_file(target):
        try:
            return _Video(target, _probe(target), supplied=False, rendered_now=False)
        except VideoError as err:
            log.warning("re-rendering %s: %s", target, err)
    joints = _joints_for_rendering(item, job, features, report)
    return _Video(target, _render(item.id, view, joints, job, target), supplied=False, rendered_now=True)


def _joints_for_rendering(item, job: MotionJob, features, report: SkipReport):
    if storage.is_file(item.joints_path):
        try:
            return load_joints(item.joints_path, job.spec, features.shape[0])  # (T, J, 3)
        except DatasetError as err:
            report.skip("joints", item.joints_path, "unusable joints file; video rendered from features", str(err))
    return features_to_joints(features, job.spec.skeleton)  # (T, J, 3)


def _render(motion_id: str, view: int, joints, job: MotionJob, target: str) -> VideoMeta:
    look = draw_look(job.render, motion_id, view)
    options = dict(look=look, resolution=job.render.resolution, keyframe_interval=job.render.keyframe_interval)
    if not storage.is_uri(target):
        os.makedirs(os.path.dirname(storage.resolve(target)[1]), exist_ok=True)
        info = render_motion_video(joints, job.spec.skeleton, storage.resolve(target)[1], **options)
        return VideoMeta(info.num_frames, info.fps, info.width, info.height)
    with tempfile.TemporaryDirectory() as scratch:
        local = os.path.join(scratch, f"{motion_id}.mp4")
        info = render_motion_video(joints, job.spec.skeleton, local, **options)
        storage.write_bytes_atomic(target, open(local, "rb").read())
    return VideoMeta(info.num_frames, info.fps, info.width, info.height)


def _probe(location: str) -> VideoMeta:
    """Opens a video with decord; remote videos are copied to a temporary file first."""
    if not storage.is_uri(location):
        return probe_video(storage.resolve(location)[1])
    with tempfile.NamedTemporaryFile(suffix=".mp4") as local:
        local.write(storage.read_bytes(location))
        local.flush()
        try:
            return probe_video(local.name)
        except VideoError as err:
            raise VideoError(str(err).replace(local.name, location)) from None
