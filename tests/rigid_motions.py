"""Motions for the export tests: rigid bodies of random proportions (what motion capture gives), their mirror
images, written into a dataset folder of the HumanML3D / KIT-ML layout."""

from __future__ import annotations

import numpy as np

from lavimo.data.features import canonicalize_joints, joints_to_features
from lavimo.skeleton import Skeleton


def rigid_motion(skeleton: Skeleton, frames: int, seed: int) -> np.ndarray:
    """(T, J, 3) in the skeleton's units: a body of random proportions (children of one joint not on the axes)
    turning every joint smoothly, walking a curve and leaning: what motion capture gives."""
    rng = np.random.default_rng(seed)
    offsets = skeleton.rest_directions_array() * rng.uniform(0.08, 0.3, (skeleton.num_joints, 1))
    offsets += rng.normal(0, 0.03, offsets.shape)
    t = np.arange(frames)[:, None] / skeleton.fps  # (T, 1) seconds
    axes = rng.normal(size=(skeleton.num_joints, 3))
    angles = 0.7 * np.sin(
        2 * np.pi * rng.uniform(0.2, 1.0, skeleton.num_joints) * t + rng.uniform(0, 6, skeleton.num_joints)
    )
    rotations = _axis_angle(axes[None] / np.linalg.norm(axes, axis=-1, keepdims=True)[None], angles)  # (T, J, 3, 3)
    positions, globals_ = np.zeros((frames, skeleton.num_joints, 3)), rotations.copy()
    for child, parent in enumerate(skeleton.parents):
        if parent >= 0:
            positions[:, child] = positions[:, parent] + globals_[:, parent] @ offsets[child]
            globals_[:, child] = globals_[:, parent] @ rotations[:, child]
    positions += np.stack([np.sin(t[:, 0]), 0.9 + 0.05 * np.cos(3 * t[:, 0]), 1.2 * t[:, 0]], axis=-1)[:, None]
    return (positions / skeleton.meters_per_unit).astype(np.float32)


def _axis_angle(axes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rodrigues: unit axes (..., 3), angles (...) -> (..., 3, 3)."""
    x, y, z = np.moveaxis(np.broadcast_to(axes, angles.shape + (3,)), -1, 0)
    cross = np.stack([np.stack([0 * x, -z, y], -1), np.stack([z, 0 * x, -x], -1), np.stack([-y, x, 0 * x], -1)], -2)
    s, c = np.sin(angles)[..., None, None], np.cos(angles)[..., None, None]
    return np.eye(3) + s * cross + (1 - c) * cross @ cross


def mirrored(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """The mirror image (x negated, left and right swapped), as the datasets' M-prefixed motions."""
    swap = {name: index for index, name in enumerate(skeleton.joint_names)}
    order = [
        swap.get(name.replace("left_", "#").replace("right_", "left_").replace("#", "right_"), index)
        for index, name in enumerate(skeleton.joint_names)
    ]
    out = joints[:, order].copy()
    out[..., 0] *= -1
    return out


def write_motion(root, motion_id: str, joints: np.ndarray, skeleton: Skeleton, with_joints: bool = True) -> None:
    for folder in ("new_joints", "new_joint_vecs"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    np.save(root / "new_joint_vecs" / f"{motion_id}.npy", joints_to_features(joints, skeleton))
    if with_joints:
        np.save(root / "new_joints" / f"{motion_id}.npy", joints)


def expected_metres(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    return canonicalize_joints(joints, skeleton) * skeleton.meters_per_unit
