"""Preparation of one motion: validate its features and captions, and make sure its videos are there and readable:
every view its split gets, and (test splits) its video in the held-out style."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from dataclasses import dataclass

from lavimo import storage
from lavimo.data.datasets import (
    KEEP_EVERY_LENGTH,
    Caption,
    ClipRules,
    DatasetError,
    DatasetSpec,
    MotionItem,
    is_test_split,
    is_training_split,
    load_features,
    load_joints,
    usable_captions,
)
from lavimo.data.features import features_to_joints
from lavimo.data.skip_report import Skip, SkipReport
from lavimo.data.video import VideoError, VideoMeta, probe_video
from lavimo.render.config import RenderConfig
from lavimo.render.heldout import draw_held_out_look
from lavimo.render.randomise import draw_look
from lavimo.render.video import Look, render_motion_video

log = logging.getLogger(__name__)

HELD_OUT = "held_out"  # the key of the held-out video among a motion's videos (its views are keyed 0..K-1)
VideoKey = int | str  # a view index, or HELD_OUT


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
    held_out_video: str | None  # its video in the held-out style (test splits, rendered videos only)
    rendered: int  # videos rendered by this run: views and the held-out video
    reused: int  # videos found finished (rendered earlier, or supplied with the dataset)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> MotionResult:
        raw = json.loads(text)
        return cls(
            raw["id"],
            raw["split"],
            raw["row"],
            tuple(Skip(**s) for s in raw["skips"]),
            raw["held_out_video"],
            raw["rendered"],
            raw["reused"],
        )


@dataclass(frozen=True)
class _Video:
    path: str
    meta: VideoMeta
    supplied: bool  # came with the dataset (a real or user-made video), not rendered by us
    rendered_now: bool


def prepare_motion_as_json(item: MotionItem, job: MotionJob) -> str:
    """prepare_motion's result as JSON, as a Ray task returns it."""
    return prepare_motion(item, job).to_json()


def prepare_motion(item: MotionItem, job: MotionJob) -> MotionResult:
    """Validates one motion and ensures its videos; every problem becomes a counted skip, never an exception."""
    report = SkipReport()
    try:
        row, videos = _prepare(item, job, report)
    except (DatasetError, VideoError) as err:
        report.skip("motion", item.feature_path, "unusable motion", str(err))
        row, videos = None, {}
    rendered = sum(video.rendered_now for video in videos.values())
    held_out = videos.get(HELD_OUT)
    return MotionResult(
        item.id,
        item.split,
        row,
        tuple(report.skips),
        held_out.path if held_out else None,
        rendered,
        len(videos) - rendered,
    )


def _prepare(item: MotionItem, job: MotionJob, report: SkipReport) -> tuple[dict | None, dict[VideoKey, _Video]]:
    features = load_features(item.feature_path, job.spec)  # (T, D)
    num_frames = features.shape[0]
    rules = KEEP_EVERY_LENGTH if is_test_split(item.split) else job.rules
    if not rules.accepts(num_frames):
        report.skip("motion", item.feature_path, "motion too short or too long", f"{num_frames} frames")
        return None, {}
    captions = usable_captions(item, num_frames, job.spec, rules, report)
    if not captions:
        report.skip("motion", item.feature_path, "no caption left after the clip-length rules")
        return None, {}
    videos = _ensure_videos(item, job, features, report)
    views = [video for key, video in videos.items() if key != HELD_OUT]
    return _manifest_row(item, job, num_frames, captions, views), videos


def _manifest_row(
    item: MotionItem, job: MotionJob, num_frames: int, captions: tuple[Caption, ...], views: list[_Video]
) -> dict:
    return {
        "id": item.id,
        "split": item.split,
        "num_frames": num_frames,
        "fps": job.spec.fps,
        "feature_path": item.feature_path,
        "joints_path": item.joints_path if storage.is_file(item.joints_path) else None,
        "video_paths": [view.path for view in views],
        "video_num_frames": views[0].meta.num_frames,  # every view's (checked by _ensure_videos)
        "video_fps": views[0].meta.fps,
        "video_rendered": not views[0].supplied,
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


def held_out_location(prepared: str, render: RenderConfig, motion_id: str) -> str:
    """Where a test motion's held-out style video goes: PREPARED/videos/FINGERPRINT/held_out_HELDOUT/ID.mp4, where
    HELDOUT = render.held_out.fingerprint() (its seed and look version)."""
    folder = f"held_out_{render.held_out.fingerprint()}"
    return storage.join(prepared, "videos", render.fingerprint(), folder, f"{motion_id}.mp4")


def view_count(render: RenderConfig, split: str) -> int:
    """How many views a motion of `split` gets: render.views_per_motion in training, else one fixed view (0)."""
    return render.views_per_motion if is_training_split(split) else 1


def _looks(item: MotionItem, job: MotionJob) -> dict[VideoKey, tuple[str, Look]]:
    """Every video a rendered motion gets, by view (and HELD_OUT): its location and its look."""
    looks = {
        view: (video_location(job.prepared, job.render, item.id, view), draw_look(job.render, item.id, view))
        for view in range(view_count(job.render, item.split))
    }
    if job.render.held_out.enabled and is_test_split(item.split):
        looks[HELD_OUT] = (
            held_out_location(job.prepared, job.render, item.id),
            draw_held_out_look(job.render.held_out, item.id),
        )
    return looks


def _ensure_videos(item: MotionItem, job: MotionJob, features, report: SkipReport) -> dict[VideoKey, _Video]:
    """A supplied video if the dataset has one (the motion's only view), else every rendered video the motion gets,
    each reused when a readable one exists; the joints are loaded only when one is missing."""
    supplied = storage.join(job.dataset_root, "videos", f"{item.id}.mp4")
    if storage.is_file(supplied):
        return {0: _Video(supplied, _probe(supplied), supplied=True, rendered_now=False)}
    videos, joints = {}, None
    for key, (target, look) in _looks(item, job).items():
        meta = _finished(target)
        if meta is not None:
            videos[key] = _Video(target, meta, supplied=False, rendered_now=False)
            continue
        joints = _joints_for_rendering(item, job, features, report) if joints is None else joints
        videos[key] = _Video(target, _render(item.id, look, joints, job, target), supplied=False, rendered_now=True)
    if len({(video.meta.num_frames, video.meta.fps) for video in videos.values()}) > 1:
        paths = ", ".join(video.path for video in videos.values())
        raise VideoError(
            f"{item.id}: its videos differ in frame count or rate ({paths}); delete them to render them again"
        )
    return videos


def _finished(target: str) -> VideoMeta | None:
    """The video at target when it is there and readable; None when it must be rendered (again)."""
    if not storage.is_file(target):
        return None
    try:
        return _probe(target)
    except VideoError as err:
        log.warning("re-rendering %s: %s", target, err)
        return None


def _joints_for_rendering(item, job: MotionJob, features, report: SkipReport):
    if storage.is_file(item.joints_path):
        try:
            return load_joints(item.joints_path, job.spec, features.shape[0])  # (T, J, 3)
        except DatasetError as err:
            report.skip("joints", item.joints_path, "unusable joints file; video rendered from features", str(err))
    return features_to_joints(features, job.spec.skeleton)  # (T, J, 3)


def _render(motion_id: str, look: Look, joints, job: MotionJob, target: str) -> VideoMeta:
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
