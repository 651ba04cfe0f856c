"""Small dataset folders in the HumanML3D / KIT-ML layout, written by the tests, and their preparation without Ray."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lavimo.config import LavimoConfig, load_config
from lavimo.data.datasets import index_split
from lavimo.data.features import joints_to_features
from lavimo.data.manifest import ManifestInfo
from lavimo.data.skip_report import SkipReport
from lavimo.prepare.dataset import PrepareSummary, dataset_spec, preparation_settings, write_manifests
from lavimo.prepare.motion import MotionJob, prepare_motion
from lavimo.skeleton import Skeleton
from tests.looks import CPU_DEMO

EMBEDDING_DIM = 4  # prepare_here's caption embeddings


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


def prepare_here(root: Path, prepared: Path, **render) -> tuple[LavimoConfig, PrepareSummary]:
    """What jobs/prepare_data.py does, here and without Ray, for a HumanML3D-layout folder with train, val and test
    splits: every motion checked and rendered (cpu_demo's look at 32 px, changed by `render`; motions of 10 frames
    and more), then the manifests, every caption embedded as one fixed unit vector. Returns the config the folder
    was prepared with and the summary (no report is written)."""
    config = load_config(
        CPU_DEMO,
        [f"data.root={root}", f"data.prepared={prepared}", "data.dataset=humanml3d", "data.min_motion_frames=10"],
    )
    config = config.replace(render=config.render.replace(resolution=32, **render))
    spec, rules = dataset_spec(config.data)
    job = MotionJob(str(root), str(prepared), spec, rules, config.render)
    results = [
        prepare_motion(item, job)
        for split in config.data.splits
        for item in index_split(str(root), split, SkipReport())
    ]
    rows = [result.row for result in results if result.row is not None]
    unit = np.full(EMBEDDING_DIM, EMBEDDING_DIM**-0.5, np.float32)  # (E,)
    info = ManifestInfo(
        spec.name,
        spec.skeleton.name,
        spec.feature_dim,
        spec.fps,
        str(root / "Mean.npy"),
        str(root / "Std.npy"),
        "test",
        EMBEDDING_DIM,
        preparation_settings(config),
    )
    summary = PrepareSummary(prepared=str(prepared))
    write_manifests(
        rows,
        {r.id: r.held_out_video for r in results if r.held_out_video},
        {caption: unit for row in rows for caption in row["captions"]},
        info,
        config,
        summary,
    )
    return config, summary
