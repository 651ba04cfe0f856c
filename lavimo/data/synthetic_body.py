"""Procedural 22-joint body of the synthetic dataset: proportions, forward kinematics and ground-contact root motion.

Axes follow HumanML3D: y up, the body faces +z and its left is +x; lengths in metres.
Local joint rotations are Euler angles (x, y, z) composed as R = Ry @ Rx @ Rz; the rotation of
joint j turns the bones of its children (the hip turns the thigh, the knee the shin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lavimo.data.rotations import rotation_y
from lavimo.skeleton import HUMANML3D

SKELETON = HUMANML3D
JOINT = {name: index for index, name in enumerate(SKELETON.joint_names)}


def _mirrored_name(name: str) -> str:
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a) :]
    return name


MIRROR_JOINTS = tuple(JOINT[_mirrored_name(name)] for name in SKELETON.joint_names)  # (J,) left <-> right

# Bone vector from the parent, for a ~1.65 m body; right-side joints mirror these (x negated).
_BASE_OFFSETS = {
    "pelvis": (0.0, 0.0, 0.0),
    "left_hip": (0.09, -0.07, 0.0),
    "left_knee": (0.0, -0.40, 0.0),
    "left_ankle": (0.0, -0.41, 0.0),
    "left_foot": (0.0, -0.06, 0.13),
    "spine1": (0.0, 0.10, -0.01),
    "spine2": (0.0, 0.13, 0.0),
    "spine3": (0.0, 0.06, 0.01),
    "neck": (0.0, 0.21, -0.02),
    "head": (0.0, 0.09, 0.05),
    "left_collar": (0.07, 0.12, -0.01),
    "left_shoulder": (0.12, 0.02, 0.0),
    "left_elbow": (0.0, -0.27, 0.0),
    "left_wrist": (0.0, -0.25, 0.0),
}
_HEAD_TOP = 0.12  # metres from the head joint to the top of the head
# Proportion group of each bone (named by its child joint, without side).
_GROUPS = {
    "hip": "hips",
    "knee": "legs",
    "ankle": "legs",
    "foot": "legs",
    "spine1": "torso",
    "spine2": "torso",
    "spine3": "torso",
    "neck": "torso",
    "head": "torso",
    "collar": "shoulders",
    "shoulder": "shoulders",
    "elbow": "arms",
    "wrist": "arms",
}
_CONTACT_SCALE = 0.01  # metres: foot joints this much above the lowest one carry e^-1 of its weight
FOOT_JOINTS = SKELETON.left_foot + SKELETON.right_foot  # (ankle, toe) left, then right


@dataclass(frozen=True)
class Body:
    offsets: np.ndarray  # (J, 3) metres, each joint's bone vector from its parent in the rest pose
    proportions: dict  # height (m) and ratio per group, for the metadata


def _base_offset(name: str) -> np.ndarray:
    if name in _BASE_OFFSETS:
        return np.array(_BASE_OFFSETS[name])
    return np.array(_BASE_OFFSETS[_mirrored_name(name)]) * np.array([-1.0, 1.0, 1.0])


def _group(name: str) -> str:
    return _GROUPS.get(name.split("_", 1)[-1], "root")


def rest_height(offsets: np.ndarray) -> float:
    """Standing height (m) of a body: head top above the lowest foot joint in the rest pose."""
    rest = forward_kinematics(np.tile(np.eye(3), (1, len(offsets), 1, 1)), offsets)[0]  # (J, 3)
    return float(rest[JOINT["head"], 1] + _HEAD_TOP - rest[:, 1].min())


def sample_body(rng: np.random.Generator) -> Body:
    """A body 1.5-1.95 m tall with per-group limb ratios (legs, arms, torso, hips, shoulders)."""
    groups = ("legs", "arms", "torso", "hips", "shoulders")
    ratios = {group: round(float(rng.uniform(0.92, 1.08)), 3) for group in groups}
    height = round(float(rng.uniform(1.5, 1.95)), 3)
    scale = np.array([ratios.get(_group(name), 1.0) for name in SKELETON.joint_names])  # (J,)
    offsets = np.stack([_base_offset(name) for name in SKELETON.joint_names]) * scale[:, None]  # (J, 3)
    offsets *= height / rest_height(offsets)
    return Body(offsets=offsets, proportions={"height": height, **ratios})


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of Euler angles (..., 3) = (x, y, z) radians, as Ry @ Rx @ Rz."""
    c, s = np.cos(angles), np.sin(angles)  # (..., 3)
    zero, one = np.zeros_like(c[..., 0]), np.ones_like(c[..., 0])

    def matrix(rows):
        return np.stack([np.stack(row, -1) for row in rows], -2)

    rx = matrix([[one, zero, zero], [zero, c[..., 0], -s[..., 0]], [zero, s[..., 0], c[..., 0]]])
    rz = matrix([[c[..., 2], -s[..., 2], zero], [s[..., 2], c[..., 2], zero], [zero, zero, one]])
    return rotation_y(angles[..., 1]) @ rx @ rz


def forward_kinematics(local_rotations: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Joint positions (T, J, 3), root at the origin, of local rotations (T, J, 3, 3) and bone offsets (J, 3)."""
    frames, joints = local_rotations.shape[:2]
    positions = np.zeros((frames, joints, 3))
    rotations = np.empty_like(local_rotations)  # (T, J, 3, 3) global
    rotations[:, 0] = local_rotations[:, 0]
    for child, parent in enumerate(SKELETON.parents):  # parents come before their children
        if parent >= 0:
            positions[:, child] = positions[:, parent] + rotations[:, parent] @ offsets[child]
            rotations[:, child] = rotations[:, parent] @ local_rotations[:, child]
    return positions


def place_on_ground(
    local: np.ndarray, heading: np.ndarray, lift: np.ndarray, velocity: np.ndarray, fps: float
) -> np.ndarray:
    """World joint positions (T, J, 3) of a body posed at the origin, walking on the floor y = 0.

    local: (T, J, 3) pose with the root at the origin, facing +z; heading: (T,) yaw (rad, + turns
    left); lift: (T,) metres above the floor (flight phases); velocity: (T, 3) extra root velocity
    in the body frame, m/s. The lowest foot joint touches the floor (plus lift), and the foot joints
    near the floor stay where they are from one frame to the next (weighted by a soft minimum of
    their heights, softer in the air), so legs that push back move the body forward and a pivot
    foot stays planted.
    """
    world = np.einsum("tij,tkj->tki", rotation_y(heading), local)  # (T, J, 3)
    feet = world[:, list(FOOT_JOINTS)]  # (T, 4, 3)
    heights = feet[..., 1]  # (T, 4)
    scale = _CONTACT_SCALE + lift[:, None]  # (T, 1) in the air, every foot joint counts: their mean stays put
    weights = np.exp(-(heights - heights.min(axis=1, keepdims=True)) / scale)  # (T, 4)
    weights /= weights.sum(axis=1, keepdims=True)
    step = np.einsum("tk,tki->ti", weights[:-1], feet[:-1] - feet[1:])  # (T-1, 3) keeps grounded feet still
    step += np.einsum("tij,tj->ti", rotation_y(heading[:-1]), velocity[:-1]) / fps
    root = np.zeros((len(world), 3))
    root[1:, [0, 2]] = np.cumsum(step[:, [0, 2]], axis=0)
    root[:, 1] = lift - heights.min(axis=1)
    return world + root[:, None]
