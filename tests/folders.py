"""Small dataset folders in the HumanML3D / KIT-ML layout, written by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lavimo.data.features import joints_to_features
from lavimo.data.skeleton import Skeleton


def standing_walk(skeleton: Skeleton, num_frames: int, seed: int) -> np.ndarray:
    """A rigid body in its rest pose gliding forward with a swinging arm: (T, J, 3) in the skeleton's units."""
    rng = np.random.default_rng(seed)
    positions = np.zeros((skeleton.num_joints, 3))
    directions = skeleton.rest_directions_array()
    for child, parent in enumerate(skeleton.parents):
        if parent >= 0:
            positions[child] = positions[parent] + 0.25 * directions[child]
    positions[:, 1] -= positions[:, 1].min()
    t = np.arange(num_frames)[:, None]  # (T, 1)
    joints = np.repeat(positions[None], num_frames, axis=0)  # (T, J, 3)
    joints[:, :, 2] += 0.05 * t * (1 + rng.random())
    wrist = skeleton.kinematic_chains[-1][-1]
    joints[:, wrist, 1] += 0.2 * np.sin(t[:, 0] / 3.0)
    return (joints / skeleton.meters_per_unit).astype(np.float32)


def write_dataset(
    root: Path,
    skeleton: Skeleton,
    captions: dict[str, list[str]],
    splits: dict[str, list[str]],
    num_frames: int | dict[str, int] = 60,
) -> Path:
    """Writes motions (features, joints, texts), split lists and statistics; captions are raw text lines;
    num_frames is every motion's length, or each one's by id."""
    for folder in ("new_joint_vecs", "new_joints", "texts"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    features = []
    for index, (motion_id, lines) in enumerate(sorted(captions.items())):
        frames = num_frames[motion_id] if isinstance(num_frames, dict) else num_frames
        joints = standing_walk(skeleton, frames + 1, seed=index)
        vectors = joints_to_features(joints, skeleton)  # (T, D)
        np.save(root / "new_joints" / f"{motion_id}.npy", joints)
        np.save(root / "new_joint_vecs" / f"{motion_id}.npy", vectors)
        (root / "texts" / f"{motion_id}.txt").write_text("".join(line + "\n" for line in lines))
        features.append(vectors)
    for split, ids in splits.items():
        (root / f"{split}.txt").write_text("".join(i + "\n" for i in ids))
    stacked = np.concatenate(features)
    np.save(root / "Mean.npy", stacked.mean(0))
    np.save(root / "Std.npy", stacked.std(0) + 1e-2)
    return root
