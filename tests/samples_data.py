"""A tiny prepared dataset for the sample-stream tests: features, index-coded and rendered videos, a manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lavimo.data.manifest import ManifestInfo, write_manifest
from lavimo.render.config import RenderConfig
from lavimo.render.encode import H264Writer
from lavimo.render.randomise import draw_look
from lavimo.render.video import render_motion_video
from lavimo.skeleton import HUMANML3D
from tests.folders import standing_walk, write_dataset

FPS = 20.0
NUM_FRAMES = 60  # feature rows per motion (3 s); the rendered videos have one frame more
EMBEDDING_DIM = 8
BIT_WIDTH = 8  # pixels per bit column of an index-coded frame
SIZE = 64

# id -> (captions, starts, ends in seconds, video kind: "rendered", "index" (20 fps) or "index30" (a user's 30 fps))
MOTIONS = {
    "m0": (["a person walks forward.", "a person waves."], [0.0, 0.5], [0.0, 2.0], "rendered"),
    "m1": (["someone steps to the side.", "someone turns around."], [0.5, 1.0], [2.5, 2.0], "index"),
    "m2": (["a man jumps on the spot."], [1.0], [2.0], "index30"),
}


VIEW_STEP = 64  # an index-coded view k of write_mirrored_prepared shows VIEW_STEP * k + its frame number


def write_index_video(path: Path, num_frames: int, fps: float, first: int = 0) -> None:
    """Frame i shows first + i in binary: bit k is column k (BIT_WIDTH pixels wide), white when set."""
    with H264Writer(path, SIZE, SIZE, fps) as writer:
        for i in range(num_frames):
            frame = np.zeros((SIZE, SIZE, 3), np.uint8)
            for bit in range(SIZE // BIT_WIDTH):
                if first + i >> bit & 1:
                    frame[:, bit * BIT_WIDTH : (bit + 1) * BIT_WIDTH] = 255
            writer.write(frame)


def read_frame_indices(frames: np.ndarray) -> list[int]:
    """(F, SIZE, SIZE, 3) uint8 index-coded frames -> the index each one shows."""
    columns = [
        frames[:, :, bit * BIT_WIDTH + 2 : (bit + 1) * BIT_WIDTH - 2].mean(axis=(1, 2, 3)) > 127
        for bit in range(SIZE // BIT_WIDTH)
    ]  # (bits, F)
    return [sum(int(column[f]) << bit for bit, column in enumerate(columns)) for f in range(len(frames))]


def _video(root: Path, motion_id: str, kind: str, index: int) -> tuple[Path, int, float]:
    path = root / "videos" / f"{motion_id}.mp4"
    if kind == "rendered":
        joints = standing_walk(HUMANML3D, NUM_FRAMES + 1, seed=index)
        info = render_motion_video(joints, HUMANML3D, path, look=draw_look(RenderConfig(), motion_id), resolution=SIZE)
        return path, info.num_frames, info.fps
    fps = 30.0 if kind == "index30" else FPS
    count = int(round((NUM_FRAMES + 1) * fps / FPS))
    write_index_video(path, count, fps)
    return path, count, fps


def _views(root: Path, motion_id: str, count: int, first_view: int) -> tuple[list[Path], int, float]:
    """`count` index-coded views of a motion at FPS, view k showing frame numbers from VIEW_STEP * (first_view + k)."""
    paths = [root / "videos" / f"{motion_id}_v{k}.mp4" for k in range(count)]
    for k, path in enumerate(paths):
        write_index_video(path, NUM_FRAMES + 1, FPS, first=VIEW_STEP * (first_view + k))
    return paths, NUM_FRAMES + 1, FPS


def _row(root: Path, motion_id: str, captions: list[str], videos: tuple[list[Path], int, float], embeddings) -> dict:
    """A manifest row of a motion written by write_dataset under root/"data", its captions on the whole clip."""
    paths, video_frames, video_fps = videos
    return {
        "id": motion_id,
        "split": "train",
        "num_frames": NUM_FRAMES,
        "fps": FPS,
        "feature_path": str(root / "data" / "new_joint_vecs" / f"{motion_id}.npy"),
        "joints_path": str(root / "data" / "new_joints" / f"{motion_id}.npy"),
        "video_paths": [str(path) for path in paths],
        "video_num_frames": video_frames,
        "video_fps": video_fps,
        "video_rendered": False,
        "captions": captions,
        "caption_start": [0.0] * len(captions),
        "caption_end": [0.0] * len(captions),
        "caption_embeddings": (embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)).tolist(),
    }


def _info(root: Path) -> ManifestInfo:
    return ManifestInfo(
        dataset="synthetic",
        skeleton="humanml3d",
        feature_dim=HUMANML3D.feature_dim,
        fps=FPS,
        mean_path=str(root / "data" / "Mean.npy"),
        std_path=str(root / "data" / "Std.npy"),
        sentence_model="test",
        embedding_dim=EMBEDDING_DIM,
    )


def write_mirrored_prepared(root: Path, views: int = 1) -> tuple[Path, ManifestInfo]:
    """000001 and its mirror M000001 (other features, left and right swapped in the captions), and 000002 whose
    mirror is not in the split; `views` index-coded videos each, view k of an M-id showing frame numbers from
    VIEW_STEP * (k + 2), of the others from VIEW_STEP * k (views <= 2); `manifest.parquet` under root."""
    captions = {
        "000001": ["a person waves the left hand.", "someone raises the left arm."],
        "M000001": ["a person waves the right hand.", "someone raises the right arm."],
        "000002": ["a person jumps on the spot."],
    }
    write_dataset(
        root / "data",
        HUMANML3D,
        {m: [c + "#x#0#0" for c in lines] for m, lines in captions.items()},
        {"train": list(captions)},
        num_frames=NUM_FRAMES,
    )
    (root / "videos").mkdir()
    rng = np.random.default_rng(0)
    rows = [
        _row(
            root,
            motion_id,
            lines,
            _views(root, motion_id, views, 2 * motion_id.startswith("M")),
            rng.normal(size=(len(lines), EMBEDDING_DIM)),
        )
        for motion_id, lines in captions.items()
    ]
    write_manifest(rows, _info(root), str(root / "manifest.parquet"))
    return root / "manifest.parquet", _info(root)


def write_prepared(root: Path) -> tuple[Path, ManifestInfo]:
    """Writes the dataset folder, the videos and `manifest.parquet` under root; returns (manifest, info)."""
    write_dataset(
        root / "data",
        HUMANML3D,
        {m: [c + "#x#0#0" for c in v[0]] for m, v in MOTIONS.items()},
        {"train": list(MOTIONS)},
        num_frames=NUM_FRAMES,
    )
    (root / "videos").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for index, (motion_id, (captions, starts, ends, kind)) in enumerate(MOTIONS.items()):
        video, video_frames, video_fps = _video(root, motion_id, kind, index)
        embeddings = rng.normal(size=(len(captions), EMBEDDING_DIM))
        rows.append(
            {
                "id": motion_id,
                "split": "train",
                "num_frames": NUM_FRAMES,
                "fps": FPS,
                "feature_path": str(root / "data" / "new_joint_vecs" / f"{motion_id}.npy"),
                "joints_path": str(root / "data" / "new_joints" / f"{motion_id}.npy"),
                "video_paths": [str(video)],
                "video_num_frames": video_frames,
                "video_fps": video_fps,
                "video_rendered": kind == "rendered",
                "captions": captions,
                "caption_start": starts,
                "caption_end": ends,
                "caption_embeddings": (embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)).tolist(),
            }
        )
    write_manifest(rows, _info(root), str(root / "manifest.parquet"))
    return root / "manifest.parquet", _info(root)
