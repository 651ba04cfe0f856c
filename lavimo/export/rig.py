"""A motion's joint positions as a rig: bone offsets in a rest pose and, per frame, the root position and a
rotation per joint relative to its parent, the form BVH (and every animation package) stores.

A joint's rotation turns the offsets of its children. A joint with one child takes the inverse kinematics of the
motion features (the shortest arc from the child's rest direction, the skeleton's, to the bone), taken in its
parent's frame: the bone keeps its parent's twist, so legs turn with the hips. (The features take each arc from
the world's rest directions instead; read as BVH rotations, that twists a thigh a full turn about itself when the
body turns round, and its Euler angles lock.) A joint with several children (the pelvis, the upper spine) is
turned as a rigid body: the rotation that best carries its children's rest offsets onto where they are (Kabsch),
its rest offsets being their mean placement in the joint's own frame. A leaf keeps its parent's rotation. Offsets
come from the motion's own bone lengths; where the data is rigid (motion capture, SMPL, our synthetic bodies)
forward kinematics gives the positions back to float precision, and where a bone stretches between frames the
error is how much it stretches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lavimo.data.rotations import rotation_between, unit
from lavimo.skeleton import Skeleton

_UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Rig:
    skeleton: Skeleton
    offsets: np.ndarray  # (J, 3) metres: each joint's place relative to its parent, in the parent's rest frame
    end_sites: np.ndarray  # (J, 3) metres: where a leaf joint's bone ends, in its own frame; 0 for other joints
    root_positions: np.ndarray  # (T, 3) metres
    local_rotations: np.ndarray  # (T, J, 3, 3): joint j relative to its parent (the root's: to the world)

    @property
    def num_frames(self) -> int:
        return len(self.root_positions)


def children_of(skeleton: Skeleton) -> list[list[int]]:
    """children[j]: the joints whose parent is j, in index order."""
    children = [[] for _ in range(skeleton.num_joints)]
    for parent, child in skeleton.bones:
        children[parent].append(child)
    return children


def fit_rig(joints_m: np.ndarray, skeleton: Skeleton) -> Rig:
    """The rig of joint positions (T, J, 3) in metres, y up."""
    p = np.asarray(joints_m, dtype=np.float64)  # (T, J, 3)
    children = children_of(skeleton)
    rest = skeleton.rest_directions_array()  # (J, 3)
    offsets = np.zeros((skeleton.num_joints, 3))
    end_sites = np.zeros((skeleton.num_joints, 3))
    rotations = np.empty((len(p), skeleton.num_joints, 3, 3))  # (T, J, 3, 3) global
    for joint in _parents_first(skeleton):
        parent, kids = skeleton.parents[joint], children[joint]
        above = rotations[:, parent] if parent >= 0 else np.eye(3)  # (T, 3, 3) or (3, 3)
        if len(kids) == 1:
            (child,) = kids
            bone = p[:, child] - p[:, joint]  # (T, 3)
            offsets[child] = rest[child] * np.linalg.norm(bone, axis=-1).mean()
            in_parent = (np.swapaxes(above, -1, -2) @ bone[..., None])[..., 0]  # (T, 3) the bone in the parent's frame
            rotations[:, joint] = above @ rotation_between(rest[child], in_parent)
        elif kids:
            rotations[:, joint], offsets[kids] = _rigid_fit(p[:, kids] - p[:, joint, None], rest[kids])
        else:  # a leaf keeps its parent's rotation; its bone goes on as half its own
            rotations[:, joint] = above
            end_sites[joint] = 0.5 * offsets[joint]
    parents = np.asarray(skeleton.parents)
    local = rotations.copy()
    local[:, 1:] = np.swapaxes(rotations[:, parents[1:]], -1, -2) @ rotations[:, 1:]
    return Rig(skeleton, offsets, end_sites, p[:, 0].copy(), local)


def forward_kinematics(rig: Rig) -> np.ndarray:
    """Joint positions (T, J, 3) in metres of a rig: what an animation package shows."""
    frames, joints = rig.local_rotations.shape[:2]
    positions = np.zeros((frames, joints, 3))
    rotations = np.empty_like(rig.local_rotations)  # (T, J, 3, 3) global
    for joint in _parents_first(rig.skeleton):
        parent = rig.skeleton.parents[joint]
        if parent < 0:
            positions[:, joint], rotations[:, joint] = rig.root_positions, rig.local_rotations[:, joint]
        else:
            positions[:, joint] = positions[:, parent] + rotations[:, parent] @ rig.offsets[joint]
            rotations[:, joint] = rotations[:, parent] @ rig.local_rotations[:, joint]
    return positions


def _parents_first(skeleton: Skeleton) -> list[int]:
    order, placed = [], set()
    while len(order) < skeleton.num_joints:
        for joint, parent in enumerate(skeleton.parents):
            if joint not in placed and (parent < 0 or parent in placed):
                order.append(joint)
                placed.add(joint)
    return order


def _rigid_fit(vectors: np.ndarray, rest_directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotations (T, 3, 3) and rest offsets (K, 3) of a joint with K >= 2 children at `vectors` (T, K, 3) from it.

    A first frame per step from two children (the most vertical one at rest, along its rest direction, and the
    next, in the plane of the two) places the offsets: their mean in that frame. Each step's rotation is then
    the one that carries those offsets best onto the vectors (Kabsch).
    """
    primary = int(np.argmax(np.abs(rest_directions @ _UP)))
    secondary = next(k for k in range(len(rest_directions)) if k != primary)
    first = (
        _frame(vectors[:, primary], vectors[:, secondary])
        @ _frame(rest_directions[primary], rest_directions[secondary]).T
    )  # (T, 3, 3)
    offsets = np.mean(np.swapaxes(first, -1, -2)[:, None] @ vectors[..., None], axis=0)[..., 0]  # (K, 3)
    return _kabsch(offsets, vectors), offsets


def _frame(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Orthonormal frames (..., 3, 3) with columns: along a, towards b in the plane of a and b, their normal."""
    x = unit(a, _UP)
    z = unit(np.cross(x, b), np.array([0.0, 0.0, 1.0]))
    return np.stack([x, np.cross(z, x), z], axis=-1)


def _kabsch(offsets: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Rotations R (T, 3, 3) minimising sum_k |R offsets[k] - vectors[t, k]|^2; offsets (K, 3), vectors (T, K, 3)."""
    covariance = np.swapaxes(vectors, -1, -2) @ offsets  # (T, 3, 3): sum_k v_k o_k^T
    u, _, vt = np.linalg.svd(covariance)
    sign = np.sign(np.linalg.det(u @ vt))  # (T,) no reflections
    correction = np.tile(np.eye(3), (len(vectors), 1, 1))
    correction[:, 2, 2] = sign
    return u @ correction @ vt
