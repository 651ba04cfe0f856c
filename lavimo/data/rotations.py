"""Small numpy rotation helpers for pose features: yaw rotations, shortest-arc rotations, 6D <-> matrix.

Conventions: vectors are (..., 3) with y up; a rotation matrix R acts on column vectors (R @ v);
quaternions are (..., 4) as (w, x, y, z); the 6D representation of R is its first two columns,
[R[:, 0], R[:, 1]] (the HumanML3D `cont6d` layout).
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def rotate_y(v: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    """Rotate vectors `v` (..., 3) about +y by `angle` (radians, broadcastable to v.shape[:-1]).

    Right-handed: +z turns towards +x, i.e. (0, 0, 1) -> (sin a, 0, cos a); the same rotation
    as the quaternion (cos a/2, 0, sin a/2, 0).
    """
    v = np.asarray(v, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return np.stack(np.broadcast_arrays(x * c + z * s, y, z * c - x * s), axis=-1)


def rotation_y(angle: np.ndarray | float) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about +y by `angle` (...,), same convention as `rotate_y`."""
    c, s = np.cos(angle), np.sin(angle)
    zero, one = np.zeros_like(c), np.ones_like(c)
    rows = [np.stack([c, zero, s], -1), np.stack([zero, one, zero], -1), np.stack([-s, zero, c], -1)]
    return np.stack(rows, axis=-2)


def unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Normalise `v` (..., 3); where it has (near) zero length use `fallback` (broadcastable, unit)."""
    v = np.asarray(v, dtype=np.float64)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)  # (..., 1)
    safe = np.where(norm > _EPS, norm, 1.0)
    return np.where(norm > _EPS, v / safe, np.broadcast_to(fallback, v.shape))


def _perpendicular(u: np.ndarray) -> np.ndarray:
    """Some unit vector (..., 3) perpendicular to the unit vectors `u` (..., 3)."""
    other = np.where(np.abs(u[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    return unit(np.cross(u, other), np.array([0.0, 0.0, 1.0]))


def quat_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shortest-arc unit quaternions (..., 4) turning direction `u` into direction `v` (both (..., 3)).

    A zero-length `v` gives the identity; exactly opposite directions give a half turn about an
    axis perpendicular to `u`.
    """
    u = unit(u, np.array([0.0, 1.0, 0.0]))
    v = unit(v, u)
    u, v = np.broadcast_arrays(u, v)
    q = np.concatenate([1.0 + np.sum(u * v, axis=-1, keepdims=True), np.cross(u, v)], axis=-1)  # (..., 4)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    half_turn = np.concatenate([np.zeros_like(norm), _perpendicular(u)], axis=-1)  # for opposite directions
    return np.where(norm > _EPS, q / np.where(norm > _EPS, norm, 1.0), half_turn)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of unit quaternions (..., 4) in (w, x, y, z) order."""
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    rows = [
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ]
    return np.stack(rows, axis=-2)


def rotation_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of the shortest arc from direction `u` to direction `v`."""
    return quat_to_matrix(quat_between(u, v))


def matrix_to_6d(m: np.ndarray) -> np.ndarray:
    """6D continuous representation (..., 6) of rotation matrices (..., 3, 3): first two columns."""
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def sixd_to_matrix(d6: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) from 6D vectors (..., 6) by Gram-Schmidt (inverse of `matrix_to_6d`)."""
    d6 = np.asarray(d6, dtype=np.float64)
    x = unit(d6[..., 0:3], np.array([1.0, 0.0, 0.0]))  # (..., 3)
    z = unit(np.cross(x, d6[..., 3:6]), _perpendicular(x))
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)  # columns x, y, z
