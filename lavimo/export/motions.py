"""A motion of a dataset folder out to animation tools: its joints in metres, standing on the floor at the origin
and facing +z at its first frame (as the videos show it), as BVH or as a .npy array."""

from __future__ import annotations

import io

import numpy as np

from lavimo import storage
from lavimo.data.datasets import DatasetSpec, load_features, load_joints, motion_paths
from lavimo.data.features import canonicalize_joints, features_to_joints
from lavimo.export.bvh import bvh_text
from lavimo.export.rig import fit_rig

FORMATS = ("bvh", "npy")


class ExportError(ValueError):
    """A motion that cannot be exported; the message names the motion, the file and the problem."""


def motion_joints(feature_path: str, joints_path: str | None, spec: DatasetSpec) -> np.ndarray:
    """(T, J, 3) float32 metres: the dataset's joints file when it has one, else the joints decoded from the
    features (one frame fewer); put on the floor, at the origin, facing +z."""
    features = load_features(feature_path, spec)  # (T-1, D), checked: frames, dimension, NaN
    if joints_path is not None and storage.is_file(joints_path):
        joints = load_joints(joints_path, spec, len(features))  # (T, J, 3)
    else:
        joints = features_to_joints(features, spec.skeleton)  # (T-1, J, 3)
    joints = canonicalize_joints(joints, spec.skeleton) * spec.skeleton.meters_per_unit
    return joints.astype(np.float32)


def export_bytes(joints_m: np.ndarray, spec: DatasetSpec, fmt: str) -> bytes:
    """The file of joints (T, J, 3) in metres in format `fmt` ("bvh" or "npy")."""
    if fmt == "bvh":
        return bvh_text(fit_rig(joints_m, spec.skeleton), spec.fps).encode()
    if fmt == "npy":
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(joints_m, dtype=np.float32), allow_pickle=False)
        return buffer.getvalue()
    raise ExportError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")


def export_files(motion_id: str, feature_path: str, joints_path: str | None, spec: DatasetSpec, fmt: str) -> bytes:
    """The file of a motion given by its feature and joints files (see motion_joints)."""
    try:
        return export_bytes(motion_joints(feature_path, joints_path, spec), spec, fmt)
    except ValueError as err:  # DatasetError and the checks of the joints and the format
        raise ExportError(f"motion {motion_id!r}: {err}") from None


def export_motion(root: str, spec: DatasetSpec, motion_id: str, fmt: str) -> bytes:
    """The file of motion `motion_id` of the dataset folder `root`."""
    feature_path, joints_path = motion_paths(root, motion_id)
    if not storage.is_file(feature_path):
        raise ExportError(f"motion {motion_id!r} is not in {root} ({feature_path} not found)")
    return export_files(motion_id, feature_path, joints_path, spec, fmt)
