"""Tests of the HumanML3D-style motion features: layout, round trip, invariance, contacts, IK, errors."""

from __future__ import annotations

import numpy as np
import pytest

from lavimo.data.features import (
    canonicalize_joints,
    feature_slices,
    features_to_joints,
    joints_to_features,
    recover_root,
)
from lavimo.data.rotations import matrix_to_6d, rotate_y, rotation_between, rotation_y, sixd_to_matrix
from lavimo.skeleton import HUMANML3D, KIT, Skeleton

SKELETONS = [HUMANML3D, KIT]
ROUND_TRIP_TOL_M = 1e-4  # metres; features are float32, so this is float32 rounding, not approximation


def _bone_lengths_m(skeleton: Skeleton) -> np.ndarray:
    """Human-like bone length (J,) in metres from each joint's rest direction."""
    rest = skeleton.rest_directions_array()
    up, down, forward = rest[:, 1] > 0.5, rest[:, 1] < -0.5, np.abs(rest[:, 2]) > 0.5
    lengths = np.select([up, down, forward], [0.13, 0.38, 0.12], 0.16)  # spine, limbs, feet/head, sideways
    lengths[0] = 0.0
    return lengths


def _rot_x(a: np.ndarray) -> np.ndarray:  # (..., 3, 3)
    c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_z(a: np.ndarray) -> np.ndarray:  # (..., 3, 3)
    c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def make_motion(skeleton: Skeleton, frames: int = 48, seed: int = 0, heading: float = 2.0) -> np.ndarray:
    """A moving body (T, J, 3) in the skeleton's units: limbs swinging, root walking a curve while turning.

    The heading turns by 4 rad over the clip (through +-180 degrees relative to frame 0).
    """
    rng = np.random.default_rng(seed)
    j = skeleton.num_joints
    offsets = skeleton.rest_directions_array() * _bone_lengths_m(skeleton)[:, None]  # (J, 3) metres
    t = np.arange(frames) / skeleton.fps  # (T,) seconds
    amp, freq = rng.uniform(0.1, 0.6, (2, j)), rng.uniform(0.5, 1.5, (2, j))  # radians, Hz
    phase = rng.uniform(0.0, 2 * np.pi, (2, j))
    swing = amp[0] * np.sin(2 * np.pi * freq[0] * t[:, None] + phase[0])  # (T, J)
    sway = amp[1] * np.sin(2 * np.pi * freq[1] * t[:, None] + phase[1])  # (T, J)
    local = _rot_x(swing) @ _rot_z(0.5 * sway)  # (T, J, 3, 3)
    glob = np.zeros((frames, j, 3, 3))
    glob[:, 0] = rotation_y(heading + 4.0 * t / t[-1])
    pos = np.zeros((frames, j, 3))
    pos[:, 0] = np.stack([3.0 + 1.5 * np.sin(0.7 * t), 1.2 + 0.03 * np.sin(5 * t), 2.0 * t - 1.0], -1)
    for chain in skeleton.kinematic_chains:
        for parent, child in zip(chain[:-1], chain[1:]):
            glob[:, child] = glob[:, parent] @ local[:, child]
            pos[:, child] = pos[:, parent] + glob[:, child] @ offsets[child]
    return pos / skeleton.meters_per_unit


def _facing(p: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Unit forward direction (T, 3) as up x across(hips + shoulders)."""
    r_hip, l_hip, r_sh, l_sh = skeleton.face_joints
    f = np.cross([0.0, 1.0, 0.0], (p[:, r_hip] - p[:, l_hip]) + (p[:, r_sh] - p[:, l_sh]))
    return f / np.linalg.norm(f, axis=-1, keepdims=True)


@pytest.mark.parametrize("skeleton, dim", [(HUMANML3D, 263), (KIT, 251)])
def test_dims_and_slices_cover_the_feature_vector(skeleton, dim):
    assert skeleton.feature_dim == dim
    names = [
        "root_rot_velocity",
        "root_linear_velocity",
        "root_height",
        "ric_positions",
        "rotations_6d",
        "local_velocities",
        "foot_contacts",
    ]
    assert list(feature_slices(skeleton)) == names
    slices = list(feature_slices(skeleton).values())
    covered = np.concatenate([np.arange(dim)[s] for s in slices])
    np.testing.assert_array_equal(covered, np.arange(dim))  # contiguous, in order, no gaps or overlaps
    feats = joints_to_features(make_motion(skeleton, frames=10), skeleton)
    assert feats.shape == (9, dim) and feats.dtype == np.float32


@pytest.mark.parametrize("skeleton", SKELETONS)
def test_canonicalize_floor_origin_and_facing(skeleton):
    canon = canonicalize_joints(make_motion(skeleton), skeleton)
    assert abs(canon[..., 1].min()) < 1e-9
    np.testing.assert_allclose(canon[0, 0, [0, 2]], 0.0, atol=1e-9)
    np.testing.assert_allclose(_facing(canon[:1], skeleton)[0], [0.0, 0.0, 1.0], atol=1e-9)


@pytest.mark.parametrize("skeleton", SKELETONS)
def test_round_trip_recovers_canonical_positions(skeleton):
    joints = make_motion(skeleton, seed=1, heading=-2.5)
    feats = joints_to_features(joints, skeleton)
    # the body turns by +4 rad (from +Z towards +X): HumanML3D stores half angles with the opposite
    # sign, each on the shorter arc (a wrapped 2*pi jump would decode the same but is not the format)
    half_angles = feats[:, feature_slices(skeleton)["root_rot_velocity"]]
    assert np.abs(half_angles).max() < 0.3
    assert abs(2 * half_angles.sum() + 4.0) < 0.6
    recovered = features_to_joints(feats, skeleton)
    expected = canonicalize_joints(joints, skeleton)[:-1]
    err_m = np.abs(recovered - expected).max() * skeleton.meters_per_unit
    assert recovered.shape == expected.shape
    assert err_m < ROUND_TRIP_TOL_M, f"round-trip error {err_m:.2e} m"
    travelled_m = np.linalg.norm(expected[-1, 0] - expected[0, 0]) * skeleton.meters_per_unit
    assert travelled_m > 1.0  # the clip really moves, so the integration is exercised


@pytest.mark.parametrize("skeleton", SKELETONS)
def test_local_velocities_match_decoded_displacements(skeleton):
    """local_velocities[t] is p[t+1] - p[t] in frame t's facing frame (HumanML3D uses r_rot[:-1])."""
    feats = joints_to_features(make_motion(skeleton, seed=4), skeleton)
    decoded = features_to_joints(feats, skeleton)  # (T-1, J, 3)
    yaw, _ = recover_root(feats, skeleton)  # (T-1,)
    vel = feats[:, feature_slices(skeleton)["local_velocities"]].reshape(len(feats), -1, 3)
    world_vel = rotate_y(vel, -yaw[:, None])  # (T-1, J, 3)
    err_m = np.abs(world_vel[:-1] - (decoded[1:] - decoded[:-1])).max() * skeleton.meters_per_unit
    assert err_m < ROUND_TRIP_TOL_M, f"velocity error {err_m:.2e} m"


@pytest.mark.parametrize("skeleton", SKELETONS)
def test_features_invariant_to_yaw_and_translation(skeleton):
    joints = make_motion(skeleton, seed=2)
    moved = rotate_y(joints, 1.234) + np.array([0.7, -0.3, 2.5]) / skeleton.meters_per_unit
    a, b = joints_to_features(joints, skeleton), joints_to_features(moved, skeleton)
    scale = np.abs(a).max()
    np.testing.assert_allclose(b, a, atol=1e-5 * scale)


def test_straight_walk_has_forward_velocity_and_no_turn():
    skeleton = HUMANML3D  # its rest pose faces +Z (left hip at +x, toes at +z)
    rest = skeleton.rest_directions_array() * _bone_lengths_m(skeleton)[:, None]
    pose = np.zeros((skeleton.num_joints, 3))
    for chain in skeleton.kinematic_chains:
        for parent, child in zip(chain[:-1], chain[1:]):
            pose[child] = pose[parent] + rest[child]
    step = 0.05  # metres per frame along the facing direction
    joints = pose + np.arange(6)[:, None, None] * np.array([0.0, 0.0, step])
    feats = joints_to_features(rotate_y(joints, 0.9), skeleton)  # any world heading
    s = feature_slices(skeleton)
    np.testing.assert_allclose(feats[:, s["root_rot_velocity"]], 0.0, atol=1e-6)
    np.testing.assert_allclose(feats[:, s["root_linear_velocity"]], [[0.0, step]] * 5, atol=1e-6)


def test_decoding_follows_humanml3d_convention():
    """Hand-built features: constant half-angle yaw rate a and forward speed v; closed-form expectation.

    HumanML3D's recover_root_rot_pos: yaw quaternion (cos A, 0, sin A, 0) with A = sum of the stored
    values, world = inverse(quaternion) applied to facing-frame vectors, i.e. a rotation by -2A about y.
    """
    skeleton, frames, a, v = HUMANML3D, 12, 0.05, 0.1
    feats = np.zeros((frames, skeleton.feature_dim))
    s = feature_slices(skeleton)
    feats[:, 0], feats[:, 2], feats[:, 3] = a, v, 0.9
    feats[:, s["ric_positions"]] = np.tile([0.2, 1.0, 0.0], skeleton.num_joints - 1)
    joints = features_to_joints(feats, skeleton)
    k = np.arange(frames)
    root_x = np.concatenate([[0.0], np.cumsum(-v * np.sin(2 * a * k[1:]))])
    root_z = np.concatenate([[0.0], np.cumsum(v * np.cos(2 * a * k[1:]))])
    np.testing.assert_allclose(joints[:, 0], np.stack([root_x, np.full(frames, 0.9), root_z], -1), atol=1e-12)
    joint_x, joint_z = root_x + 0.2 * np.cos(2 * a * k), root_z + 0.2 * np.sin(2 * a * k)
    expected_joint = np.stack([joint_x, np.ones(frames), joint_z], -1)
    np.testing.assert_allclose(joints[:, 5], expected_joint, atol=1e-12)
    batched = features_to_joints(np.stack([feats, feats]), skeleton)  # (B, T, D) -> (B, T, J, 3)
    np.testing.assert_allclose(batched[1], joints)


@pytest.mark.parametrize("skeleton", SKELETONS)
def test_foot_contacts_planted_vs_moving(skeleton):
    """Left foot still; right foot slides 3 cm/frame (contact), then 6 cm/frame (none). Threshold 0.002 m^2.

    For KIT (millimetres) this checks the unit conversion: 3 cm/frame is 900 mm^2 per frame.
    """
    still = make_motion(skeleton, frames=2)[:1] * skeleton.meters_per_unit  # (1, J, 3) metres
    joints_m = np.repeat(still, 9, axis=0)  # (9, J, 3)
    speeds = np.array([0.03] * 4 + [0.06] * 4)  # metres per frame, per step
    shift = np.concatenate([[0.0], np.cumsum(speeds)])  # (9,)
    joints_m[:, list(skeleton.right_foot), 0] += shift[:, None]
    feats = joints_to_features(joints_m / skeleton.meters_per_unit, skeleton)
    contacts = feats[:, feature_slices(skeleton)["foot_contacts"]]  # (8, 4): l ankle, l toe, r ankle, r toe
    np.testing.assert_array_equal(contacts[:, :2], 1.0)
    expected_right = np.repeat([[1.0, 1.0]], 8, axis=0)
    expected_right[4:] = 0.0  # sqrt(0.002) = 4.5 cm per frame
    np.testing.assert_array_equal(contacts[:, 2:], expected_right)


@pytest.mark.parametrize("skeleton", SKELETONS)
def test_rotations_reproduce_positions_by_forward_kinematics(skeleton):
    """FK from the stored 6D rotations, the decoded root yaw and the clip's bone lengths gives every joint."""
    joints = make_motion(skeleton, seed=3)
    feats = joints_to_features(joints, skeleton)
    decoded = features_to_joints(feats, skeleton)  # (T-1, J, 3)
    yaw, _ = recover_root(feats, skeleton)
    j = skeleton.num_joints
    local = np.zeros((len(feats), j, 3, 3))
    local[:, 1:] = sixd_to_matrix(feats[:, feature_slices(skeleton)["rotations_6d"]].reshape(-1, j - 1, 6))
    canon = canonicalize_joints(joints, skeleton)
    rest = skeleton.rest_directions_array()
    fk = np.zeros_like(decoded)
    fk[:, 0] = decoded[:, 0]
    for chain in skeleton.kinematic_chains:
        glob = rotation_y(yaw)  # every chain starts from the root's facing rotation
        for parent, child in zip(chain[:-1], chain[1:]):
            glob = glob @ local[:, child]
            length = np.linalg.norm(canon[0, child] - canon[0, parent])
            fk[:, child] = fk[:, parent] + glob @ (rest[child] * length)
    err_m = np.abs(fk - decoded).max() * skeleton.meters_per_unit
    assert err_m < ROUND_TRIP_TOL_M, f"forward-kinematics error {err_m:.2e} m"


@pytest.mark.parametrize(
    "joints, message",
    [
        (np.zeros((10, 21, 3)), "expects 22 joints, got 21"),
        (np.zeros((1, 22, 3)), "at least 2 frames, got 1"),
        (np.zeros((10, 22)), "shape (T, J, 3)"),
        (np.zeros((10, 22, 4)), "shape (T, J, 3)"),
    ],
)
def test_bad_joints_raise_clear_errors(joints, message):
    with pytest.raises(ValueError) as info:
        joints_to_features(joints, HUMANML3D)
    assert message in str(info.value)


def test_nan_joints_raise_and_name_the_frame():
    joints = make_motion(HUMANML3D, frames=6)
    joints[4, 7, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf \(first at frame 4, joint 7\)"):
        joints_to_features(joints, HUMANML3D)


def test_bad_features_raise_clear_errors():
    with pytest.raises(ValueError, match="263 values per frame, got 251"):
        features_to_joints(np.zeros((5, 251)), HUMANML3D)
    with pytest.raises(ValueError, match="NaN or inf"):
        features_to_joints(np.full((5, 251), np.nan), KIT)
    with pytest.raises(ValueError, match="positive"):
        joints_to_features(make_motion(KIT, frames=4), KIT, foot_velocity_threshold=-1.0)


def test_rotation_helpers_handle_opposite_and_zero_directions():
    u = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.3, 0.4, -0.5]])
    v = np.array([[0.0, 2.0, 0.0], [-1.0, 1e-13, 0.0], [0.0, 0.0, 0.0], [-0.3, 0.1, 0.9]])
    r = rotation_between(u, v)  # (4, 3, 3)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    u_unit = u / np.linalg.norm(u, axis=-1, keepdims=True)
    moved = np.einsum("nij,nj->ni", r, u_unit)
    expected = np.concatenate([[[0, 1, 0], [-1, 0, 0], [0, 0, 1]], [v[3] / np.linalg.norm(v[3])]])  # zero v: identity
    np.testing.assert_allclose(moved, expected, atol=1e-12)
    np.testing.assert_allclose(sixd_to_matrix(matrix_to_6d(r)), r, atol=1e-12)
