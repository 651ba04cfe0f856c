"""Synthetic stick-figure motions built from a skeleton's rest directions (for tests, benchmarks and previews)."""

from __future__ import annotations

import numpy as np

from lavimo.skeleton import Skeleton

# (keyword in the joint's name, length in metres of the bone ending at that joint); first match wins.
_BONE_LENGTHS_M = (
    ("spine1", 0.10),
    ("spine2", 0.13),
    ("spine3", 0.06),
    ("torso", 0.15),
    ("chest", 0.18),
    ("neck", 0.20),
    ("head", 0.12),
    ("collar", 0.08),
    ("shoulder", 0.12),
    ("elbow", 0.28),
    ("wrist", 0.25),
    ("hip", 0.09),
    ("knee", 0.42),
    ("ankle", 0.41),
    ("heel", 0.06),
    ("toe", 0.14),
    ("foot", 0.14),
)


def _bone_length(name: str) -> float:
    return next((length for keyword, length in _BONE_LENGTHS_M if keyword in name), 0.1)


def _topological_order(parents: tuple[int, ...]) -> list[int]:
    order, placed = [], set()
    while len(order) < len(parents):
        for j, p in enumerate(parents):
            if j not in placed and (p < 0 or p in placed):
                order.append(j)
                placed.add(j)
    return order


def pose_from_directions(skeleton: Skeleton, directions: np.ndarray) -> np.ndarray:
    """directions: (J, 3) unit bone directions (root's ignored) -> (J, 3) joint positions in metres, root at 0."""
    positions = np.zeros((skeleton.num_joints, 3))
    for j in _topological_order(skeleton.parents):
        parent = skeleton.parents[j]
        if parent >= 0:
            positions[j] = positions[parent] + _bone_length(skeleton.joint_names[j]) * directions[j]
    return positions


def _rotation_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _joints_named(skeleton: Skeleton, *keywords: str) -> list[int]:
    return [j for j, name in enumerate(skeleton.joint_names) if any(k in name for k in keywords)]


def walking_motion(
    skeleton: Skeleton, num_frames: int, speed_mps: float = 1.2, raise_right_arm: bool = False, stride_hz: float = 0.9
) -> np.ndarray:
    """(T, J, 3) joint positions in the skeleton's units: walks along +z, legs and arms swinging, feet near y=0."""
    rest = skeleton.rest_directions_array()  # (J, 3)
    legs = {
        side: _joints_named(skeleton, *(f"{side}_{j}" for j in ("knee", "ankle", "heel", "toe", "foot")))
        for side in ("left", "right")
    }
    arms = {side: _joints_named(skeleton, f"{side}_elbow", f"{side}_wrist") for side in ("left", "right")}
    frames = []
    for t in range(num_frames):
        phase = 2 * np.pi * stride_hz * t / skeleton.fps
        directions = rest.copy()
        for side, sign in (("left", 1.0), ("right", -1.0)):
            directions[legs[side]] = directions[legs[side]] @ _rotation_x(0.45 * sign * np.sin(phase)).T
            directions[arms[side]] = directions[arms[side]] @ _rotation_x(-0.35 * sign * np.sin(phase)).T
        if raise_right_arm:
            directions[_joints_named(skeleton, "right_shoulder", "right_elbow", "right_wrist")] = (0.0, 1.0, 0.0)
        pose = pose_from_directions(skeleton, directions)
        pose[:, 1] -= pose[:, 1].min()
        pose[:, 2] += speed_mps * t / skeleton.fps
        frames.append(pose)
    return np.stack(frames) / skeleton.meters_per_unit
