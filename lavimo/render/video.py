"""render_motion_video: joint positions (T, J, 3) and a look -> an H.264 mp4 of the motion.

A ClipLook (lavimo/render/randomise.py) draws the training look, a shaded avatar in a scene; a HeldOutLook
(lavimo/render/heldout.py) the held-out style of the test split's second rendering.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lavimo.render.body import body_model
from lavimo.render.camera import place_camera
from lavimo.render.capsules import capsule_ends
from lavimo.render.draw import draw_frame
from lavimo.render.encode import DEFAULT_KEYFRAME_INTERVAL, DEFAULT_PRESET, EncoderSettings, H264Writer
from lavimo.render.heldout import HeldOutLook, HeldOutScene, draw_held_out_frame, held_out_scene
from lavimo.render.randomise import ClipLook
from lavimo.render.scene import ClipScene, build_scene
from lavimo.skeleton import Skeleton

CHUNK_FRAMES = 16  # frames drawn before they are encoded
MAX_REACH_M = 10_000.0  # joints farther than this from the origin are taken for a unit mistake
FACING_STEP_DEG = 0.01  # the first frame's facing is rounded to this: a clip stored facing +z stays as it is
Look = ClipLook | HeldOutLook


@dataclass(frozen=True)
class VideoInfo:
    """What was written: one video frame per motion frame."""

    num_frames: int
    fps: float
    width: int
    height: int
    path: str


def validate_joints(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Returns joints as float64 (T, J, 3); ValueError naming the problem otherwise."""
    joints = np.asarray(joints)
    if joints.ndim != 3 or joints.shape[1:] != (skeleton.num_joints, 3):
        raise ValueError(
            f"joints must have shape (T, {skeleton.num_joints}, 3) for skeleton {skeleton.name!r}, got {joints.shape}"
        )
    if joints.shape[0] == 0:
        raise ValueError("joints has zero frames; a video needs at least one")
    if not np.issubdtype(joints.dtype, np.number):
        raise ValueError(f"joints must be numeric, got dtype {joints.dtype}")
    bad = ~np.isfinite(joints)
    if bad.any():
        frame = int(np.argwhere(bad)[0, 0])
        raise ValueError(f"joints contain {int(bad.sum())} NaN/inf values (first in frame {frame})")
    return joints.astype(np.float64)


def facing_frame(joints_m: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """joints_m: (T, J, 3) -> (T, J, 3) turned about y and shifted so that frame 0's root is above the origin,
    facing +z (forward = up x across hips and shoulders, as HumanML3D); camera and light are placed in this frame."""
    r_hip, l_hip, r_shoulder, l_shoulder = skeleton.face_joints
    first, root = joints_m[0], skeleton.parents.index(-1)
    across = (first[r_hip] - first[l_hip]) + (first[r_shoulder] - first[l_shoulder])  # (3,)
    facing = np.round(np.degrees(np.arctan2(across[2], -across[0])) / FACING_STEP_DEG) * FACING_STEP_DEG
    c, s = np.cos(np.deg2rad(facing)), np.sin(np.deg2rad(facing))  # forward (sin, 0, cos) -> +z
    centred = joints_m - np.array([first[root, 0], 0.0, first[root, 2]])
    x, z = centred[..., 0], centred[..., 2]
    return np.stack([x * c - z * s, centred[..., 1], x * s + z * c], axis=-1)


def prepare_scene(
    joints: np.ndarray, skeleton: Skeleton, look: Look, resolution: int, fps: float | None = None
) -> ClipScene | HeldOutScene:
    """joints: (T, J, 3) in the skeleton's units -> the clip's draw lists (camera, floor, shadow, body)."""
    joints_m = validate_joints(joints, skeleton) * skeleton.meters_per_unit  # (T, J, 3) metres
    reach = float(np.abs(joints_m).max())
    if reach > MAX_REACH_M:
        raise ValueError(
            f"joints reach {reach:.3g} m from the origin; are they in {skeleton.name}'s units "
            f"({skeleton.meters_per_unit} m per unit)?"
        )
    joints_m = facing_frame(joints_m, skeleton)
    body = body_model(skeleton)
    a, b, radii = capsule_ends(joints_m, body, look.body)  # (T, C, 3) twice, (C,): the body's extent
    root = skeleton.parents.index(-1)  # the pelvis the camera follows
    camera = place_camera(
        joints_m[:, root],
        np.concatenate([a, b], axis=1),
        np.concatenate([radii, radii]),
        look.camera,
        fps or skeleton.fps,
        resolution,
    )
    if isinstance(look, HeldOutLook):
        return held_out_scene(joints_m, body, look, camera)
    return build_scene(joints_m, body, look, camera)


def draw_scene_frame(image: np.ndarray, scene: ClipScene | HeldOutScene, t: int) -> np.ndarray:
    """image: (H, W, 3) uint8 RGB, overwritten with frame t of either look's scene."""
    return draw_held_out_frame(image, scene, t) if isinstance(scene, HeldOutScene) else draw_frame(image, scene, t)


def render_frames(
    joints: np.ndarray, skeleton: Skeleton, *, look: Look, resolution: int = 256, fps: float | None = None
):
    """Yields the clip's frames, (resolution, resolution, 3) uint8 RGB, one per motion frame (same buffer reused)."""
    scene = prepare_scene(joints, skeleton, look, resolution, fps)
    image = np.empty((resolution, resolution, 3), np.uint8)
    for t in range(scene.num_frames):
        yield draw_scene_frame(image, scene, t)


def render_motion_video(
    joints: np.ndarray,
    skeleton: Skeleton,
    out_path: str | os.PathLike,
    *,
    look: Look,
    resolution: int = 256,
    fps: float | None = None,
    keyframe_interval: int | None = DEFAULT_KEYFRAME_INTERVAL,
    preset: str = DEFAULT_PRESET,
) -> VideoInfo:
    """joints: (T, J, 3) in the skeleton's units (y up) -> an H.264 yuv420p mp4 at out_path (local), T frames.

    fps defaults to skeleton.fps; keyframe_interval None leaves x264's default GOP; the look's finish sets the
    CRF. The file is written under a temporary name next to out_path and renamed when complete.
    """
    if resolution < 16 or resolution % 2:
        raise ValueError(f"resolution must be an even number >= 16, got {resolution}")
    fps = float(fps if fps is not None else skeleton.fps)
    settings = EncoderSettings(preset=preset, crf=look.finish.crf, keyframe_interval=keyframe_interval)
    scene = prepare_scene(joints, skeleton, look, resolution, fps)
    chunk = np.empty((min(CHUNK_FRAMES, scene.num_frames), resolution, resolution, 3), np.uint8)  # (n, H, W, 3) RGB
    with H264Writer(out_path, resolution, resolution, fps, settings) as writer:
        for start in range(0, scene.num_frames, len(chunk)):
            count = min(len(chunk), scene.num_frames - start)
            for i in range(count):  # drawing a few frames, then encoding them, keeps each stage's data in cache
                draw_scene_frame(chunk[i], scene, start + i)
            for i in range(count):
                writer.write(chunk[i])
    return VideoInfo(
        num_frames=scene.num_frames, fps=fps, width=resolution, height=resolution, path=str(Path(out_path))
    )
