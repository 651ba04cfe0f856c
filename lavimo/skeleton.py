"""Skeleton definitions of the HumanML3D (22 joints) and KIT-ML (21 joints) pose formats."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """Topology and conventions of one pose format.

    Joint positions are (T, J, 3) arrays, y up; `meters_per_unit` converts them to metres.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]  # parents[j] is the parent joint of j; -1 for the root
    kinematic_chains: tuple[tuple[int, ...], ...]  # root-to-leaf joint chains, used for IK and drawing
    rest_directions: tuple[tuple[float, float, float], ...]  # unit bone direction of each joint in the rest pose
    face_joints: tuple[int, int, int, int]  # right hip, left hip, right shoulder, left shoulder
    left_foot: tuple[int, int]  # ankle, toe
    right_foot: tuple[int, int]  # ankle, toe
    fps: float
    meters_per_unit: float

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def feature_dim(self) -> int:
        """Size of the HumanML3D-style pose feature vector: 4 + (J-1)*3 + (J-1)*6 + J*3 + 4."""
        j = self.num_joints
        return 4 + (j - 1) * 9 + j * 3 + 4

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) pairs, one per non-root joint."""
        return [(p, c) for c, p in enumerate(self.parents) if p >= 0]

    def rest_directions_array(self) -> np.ndarray:
        return np.asarray(self.rest_directions, dtype=np.float64)  # (J, 3)


def _parents_from_chains(num_joints: int, chains: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    parents = [-1] * num_joints
    for chain in chains:
        for parent, child in zip(chain[:-1], chain[1:]):
            parents[child] = parent
    return tuple(parents)


_HUMANML3D_CHAINS = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20))

HUMANML3D = Skeleton(
    name="humanml3d",
    joint_names=(
        "pelvis",
        "left_hip",
        "right_hip",
        "spine1",
        "left_knee",
        "right_knee",
        "spine2",
        "left_ankle",
        "right_ankle",
        "spine3",
        "left_foot",
        "right_foot",
        "neck",
        "left_collar",
        "right_collar",
        "head",
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
    ),
    parents=_parents_from_chains(22, _HUMANML3D_CHAINS),
    kinematic_chains=_HUMANML3D_CHAINS,
    rest_directions=(
        (0, 0, 0),
        (1, 0, 0),
        (-1, 0, 0),
        (0, 1, 0),
        (0, -1, 0),
        (0, -1, 0),
        (0, 1, 0),
        (0, -1, 0),
        (0, -1, 0),
        (0, 1, 0),
        (0, 0, 1),
        (0, 0, 1),
        (0, 1, 0),
        (1, 0, 0),
        (-1, 0, 0),
        (0, 0, 1),
        (0, -1, 0),
        (0, -1, 0),
        (0, -1, 0),
        (0, -1, 0),
        (0, -1, 0),
        (0, -1, 0),
    ),
    face_joints=(2, 1, 17, 16),
    left_foot=(7, 10),
    right_foot=(8, 11),
    fps=20.0,
    meters_per_unit=1.0,
)

_KIT_CHAINS = ((0, 11, 12, 13, 14, 15), (0, 16, 17, 18, 19, 20), (0, 1, 2, 3, 4), (3, 5, 6, 7), (3, 8, 9, 10))

KIT = Skeleton(
    name="kit",
    joint_names=(
        "root",
        "torso",
        "chest",
        "neck",
        "head",
        "right_shoulder",
        "right_elbow",
        "right_wrist",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
        "right_hip",
        "right_knee",
        "right_ankle",
        "right_heel",
        "right_toe",
        "left_hip",
        "left_knee",
        "left_ankle",
        "left_heel",
        "left_toe",
    ),
    parents=_parents_from_chains(21, _KIT_CHAINS),
    kinematic_chains=_KIT_CHAINS,
    rest_directions=(
        (0, 0, 0),
        (0, 1, 0),
        (0, 1, 0),
        (0, 1, 0),
        (0, 1, 0),
        (1, 0, 0),
        (0, -1, 0),
        (0, -1, 0),
        (-1, 0, 0),
        (0, -1, 0),
        (0, -1, 0),
        (1, 0, 0),
        (0, -1, 0),
        (0, -1, 0),
        (0, 0, 1),
        (0, 0, 1),
        (-1, 0, 0),
        (0, -1, 0),
        (0, -1, 0),
        (0, 0, 1),
        (0, 0, 1),
    ),
    face_joints=(11, 16, 5, 8),
    left_foot=(19, 20),
    right_foot=(14, 15),
    fps=12.5,
    meters_per_unit=0.001,
)

SKELETONS = {s.name: s for s in (HUMANML3D, KIT)}
