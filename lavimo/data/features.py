"""HumanML3D-style motion features (263-d for 22 joints, 251-d for 21) from joint positions, and back.

Layout of one frame, in order (names as in `feature_slices`), J = skeleton.num_joints:

- root_rot_velocity (1): yaw change to the next frame, stored as HALF the angle (HumanML3D: arcsin of
  the y part of the relative facing quaternion); turning from +Z towards +X is negative.
- root_linear_velocity (2): root XZ displacement to the next frame, in the next frame's facing frame.
- root_height (1): root y above the floor.
- ric_positions ((J-1)*3): joints 1..J-1 relative to the root's XZ, in the facing frame (y kept).
- rotations_6d ((J-1)*6): local rotations of joints 1..J-1 by inverse kinematics, 6D (two columns).
- local_velocities (J*3): each joint's displacement to the next frame, in this frame's facing frame.
- foot_contacts (4): left (ankle, toe), right (ankle, toe); 1.0 where the joint (almost) stood still.

The facing frame of a frame is the yaw rotation taking the body's forward direction,
up x ((r_hip - l_hip) + (r_shoulder - l_shoulder)), to +Z. A clip of T frames gives T-1 rows.
Positions and velocities are in the skeleton's units (metres for HumanML3D, millimetres for KIT).

Differences from the reference preprocessing (HumanML3D's motion_process.py), on purpose:
no retargeting to a reference skeleton; the per-frame facing is not Gaussian-smoothed and uses the
same hip/shoulder order as the initial facing (the reference inverse kinematics swaps the hips);
and the yaw velocity is taken on the shorter arc, so turns through +-180 degrees keep their sign.
`features_to_joints` follows the reference decoding (`recover_from_ric`) exactly, so it decodes
real HumanML3D / KIT-ML feature files.
"""

from __future__ import annotations

import numpy as np

from lavimo.data.rotations import matrix_to_6d, rotate_y, rotation_between, rotation_y
from lavimo.skeleton import Skeleton

_UP = np.array([0.0, 1.0, 0.0])


def feature_slices(skeleton: Skeleton) -> dict[str, slice]:
    """Name -> slice of each block of the feature vector, in layout order; together they cover feature_dim."""
    j = skeleton.num_joints
    sizes = (
        ("root_rot_velocity", 1),
        ("root_linear_velocity", 2),
        ("root_height", 1),
        ("ric_positions", (j - 1) * 3),
        ("rotations_6d", (j - 1) * 6),
        ("local_velocities", j * 3),
        ("foot_contacts", 4),
    )
    slices, start = {}, 0
    for name, size in sizes:
        slices[name] = slice(start, start + size)
        start += size
    return slices


def canonicalize_joints(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Joint positions (T, J, 3) put on the floor, root XZ at the origin and facing +Z at frame 0.

    The lowest y over the whole clip becomes 0, the root's XZ at frame 0 becomes (0, 0), and the
    clip is turned about y so that the frame-0 forward direction (see the module docstring) is +Z.
    Bone lengths are kept: there is no retargeting to a reference skeleton (HumanML3D retargets
    every clip to one body first; we do not). Returns float64, in the input's units.
    """
    return _canonicalize(_validate_joints(joints, skeleton, min_frames=1), skeleton)


def joints_to_features(joints: np.ndarray, skeleton: Skeleton, foot_velocity_threshold: float = 0.002) -> np.ndarray:
    """HumanML3D-style features (T-1, D) float32 of joint positions (T, J, 3) in the skeleton's units.

    The clip is canonicalized first (`canonicalize_joints`). `foot_velocity_threshold` is in
    metres^2 per frame: a foot joint is in contact when its squared displacement to the next
    frame is below it (converted to the skeleton's units with meters_per_unit). Inverse
    kinematics follows HumanML3D: each bone's global rotation is the shortest arc from its rest
    direction, and every kinematic chain starts from the root's facing rotation.
    `features_to_joints(joints_to_features(j))` equals `canonicalize_joints(j)[:-1]` up to float32
    rounding (the tests assert 1e-4 m, i.e. 0.1 mm for KIT; measured about 1e-7 m on 48 frames).
    Raises ValueError naming the problem (shape, joint count, too few frames, NaN/inf).
    """
    if not (np.isfinite(foot_velocity_threshold) and foot_velocity_threshold > 0):
        raise ValueError(
            f"foot_velocity_threshold must be a positive number of m^2 per frame, got {foot_velocity_threshold!r}"
        )
    p = _canonicalize(_validate_joints(joints, skeleton, min_frames=2), skeleton)  # (T, J, 3)
    yaw = _facing_angles(p, skeleton)  # (T,) world -> facing frame
    root = p[:, 0]  # (T, 3)
    root_rot_velocity = _wrap_angle(yaw[1:] - yaw[:-1])[:, None] / 2  # (T-1, 1) half angles
    root_linear_velocity = rotate_y(root[1:] - root[:-1], yaw[1:])[:, [0, 2]]  # (T-1, 2)
    root_height = root[:-1, 1:2]  # (T-1, 1)
    ric = rotate_y(p - root[:, None] * np.array([1.0, 0.0, 1.0]), yaw[:, None])  # (T, J, 3)
    rot6d = matrix_to_6d(_local_rotations(p, skeleton, yaw))  # (T, J, 6)
    velocities = rotate_y(p[1:] - p[:-1], yaw[:-1, None])  # (T-1, J, 3)
    n = len(p) - 1
    blocks = [
        root_rot_velocity,
        root_linear_velocity,
        root_height,
        ric[:-1, 1:].reshape(n, -1),
        rot6d[:-1, 1:].reshape(n, -1),
        velocities.reshape(n, -1),
        _foot_contacts(p, skeleton, foot_velocity_threshold),
    ]
    return np.concatenate(blocks, axis=-1).astype(np.float32)  # (T-1, D)


def recover_root(features: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Root yaw (..., T) and root position (..., T, 3) integrated from features (..., T, D).

    yaw[t] is the rotation about y taking world vectors into frame t's facing frame (0 at frame 0);
    rotate_y(v, -yaw) takes facing-frame vectors back to the world. The root's XZ starts at the origin.
    """
    f = _validate_features(features, skeleton)  # (..., T, D)
    half = np.zeros(f.shape[:-1])  # (..., T) HumanML3D stores half angles
    half[..., 1:] = np.cumsum(f[..., :-1, 0], axis=-1)
    yaw = 2.0 * half
    step = np.zeros(f.shape[:-1] + (3,))  # (..., T, 3) displacement into each frame, facing frame
    step[..., 1:, 0] = f[..., :-1, 1]
    step[..., 1:, 2] = f[..., :-1, 2]
    root = np.cumsum(rotate_y(step, -yaw), axis=-2)  # (..., T, 3)
    root[..., 1] = f[..., 3]
    return yaw, root


def features_to_joints(features: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Joint positions (..., T, J, 3) float64 from features (..., T, D), as HumanML3D's `recover_from_ric`.

    Integrates the root yaw and XZ velocity, then turns the root-relative positions back into the
    world and adds the root's XZ. Works on real HumanML3D (263-d) and KIT-ML (251-d) feature files.
    Raises ValueError if the last axis is not skeleton.feature_dim or a value is NaN/inf.
    """
    yaw, root = recover_root(features, skeleton)  # (..., T), (..., T, 3)
    f = np.asarray(features, dtype=np.float64)
    ric = f[..., feature_slices(skeleton)["ric_positions"]]
    ric = ric.reshape(ric.shape[:-1] + (skeleton.num_joints - 1, 3))  # (..., T, J-1, 3)
    others = rotate_y(ric, -yaw[..., None])
    others[..., 0] += root[..., None, 0]
    others[..., 2] += root[..., None, 2]
    return np.concatenate([root[..., None, :], others], axis=-2)  # (..., T, J, 3)


def _validate_joints(joints: np.ndarray, skeleton: Skeleton, min_frames: int) -> np.ndarray:
    arr = np.asarray(joints, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"joint positions must have shape (T, J, 3), got {arr.shape}")
    if arr.shape[1] != skeleton.num_joints:
        raise ValueError(
            f"{skeleton.name} expects {skeleton.num_joints} joints, got {arr.shape[1]} (shape {arr.shape})"
        )
    if arr.shape[0] < min_frames:
        raise ValueError(f"need at least {min_frames} frames, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"joint positions contain NaN or inf (first at frame {bad[0]}, joint {bad[1]})")
    return arr


def _validate_features(features: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    f = np.asarray(features, dtype=np.float64)
    if f.ndim < 2:
        raise ValueError(f"features must have shape (T, D) or (..., T, D), got {f.shape}")
    if f.shape[-1] != skeleton.feature_dim:
        raise ValueError(
            f"{skeleton.name} features have {skeleton.feature_dim} values per frame, "
            f"got {f.shape[-1]} (shape {f.shape})"
        )
    if not np.isfinite(f).all():
        raise ValueError("features contain NaN or inf")
    return f


def _canonicalize(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Validated joints (T, J, 3) on the floor, root XZ at the origin, facing +Z at frame 0."""
    p = joints.copy()  # (T, J, 3)
    p[..., 1] -= p[..., 1].min()
    p[..., 0] -= p[0, 0, 0]
    p[..., 2] -= p[0, 0, 2]
    return rotate_y(p, _facing_angles(p[:1], skeleton)[0])


def _facing_angles(p: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Yaw (T,) per frame that turns the body's forward direction to +Z (world -> facing frame)."""
    r_hip, l_hip, r_shoulder, l_shoulder = skeleton.face_joints
    across = (p[:, r_hip] - p[:, l_hip]) + (p[:, r_shoulder] - p[:, l_shoulder])  # (T, 3)
    forward = np.cross(_UP, across)  # (T, 3), horizontal
    return -np.arctan2(forward[:, 0], forward[:, 2])


def _wrap_angle(a: np.ndarray) -> np.ndarray:
    """Angles mapped to [-pi, pi)."""
    return (a + np.pi) % (2 * np.pi) - np.pi


def _local_rotations(p: np.ndarray, skeleton: Skeleton, yaw: np.ndarray) -> np.ndarray:
    """Local joint rotations (T, J, 3, 3) by inverse kinematics against the rest directions.

    Joint 0 holds the root's facing rotation; each bone's global rotation is the shortest arc from
    its rest direction to its direction in `p`, and local = parent_global^T @ global, where every
    kinematic chain starts from the root rotation (HumanML3D's convention, also for the arm chains
    that branch off the spine).
    """
    rest = skeleton.rest_directions_array()  # (J, 3)
    root = rotation_y(yaw)  # (T, 3, 3)
    local = np.tile(np.eye(3), (len(p), skeleton.num_joints, 1, 1))  # (T, J, 3, 3)
    local[:, 0] = root
    for chain in skeleton.kinematic_chains:
        parent_global = root
        for parent, child in zip(chain[:-1], chain[1:]):
            child_global = rotation_between(rest[child], p[:, child] - p[:, parent])  # (T, 3, 3)
            local[:, child] = np.swapaxes(parent_global, -1, -2) @ child_global
            parent_global = child_global
    return local


def _foot_contacts(p: np.ndarray, skeleton: Skeleton, threshold_m2: float) -> np.ndarray:
    """Foot contacts (T-1, 4): left ankle, left toe, right ankle, right toe; 1.0 where still."""
    threshold = threshold_m2 / skeleton.meters_per_unit**2  # skeleton units^2 per frame
    feet = list(skeleton.left_foot) + list(skeleton.right_foot)
    moved = np.sum((p[1:, feet] - p[:-1, feet]) ** 2, axis=-1)  # (T-1, 4)
    return (moved < threshold).astype(np.float32)
