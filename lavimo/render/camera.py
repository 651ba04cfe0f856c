"""A perspective camera that follows the motion's root smoothly at a fixed height, distance and direction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraRig:
    """Where the camera sits relative to the body it follows."""

    fov_deg: float = 35.0  # vertical field of view
    distance_m: float = 4.2  # horizontal distance from the look-at point
    height_m: float = 1.1  # eye height above the look-at point
    azimuth_deg: float = 25.0  # yaw around the body; 0 = on the +z side, looking towards -z
    smoothing_s: float = 0.5  # sigma of the Gaussian that smooths the root trajectory, seconds
    min_look_height_m: float = 0.3  # clamp of the look-at height (median pelvis height)
    max_look_height_m: float = 1.3


@dataclass(frozen=True)
class CameraTrack:
    """One camera per frame: a fixed orientation, an eye that moves with the smoothed root."""

    eye: np.ndarray  # (T, 3) eye position, metres
    rotation: np.ndarray  # (3, 3) world -> camera; camera axes x right, y up, z forward
    focal_px: float
    width: int
    height: int

    @property
    def centre(self) -> tuple[float, float]:
        return self.width / 2.0, self.height / 2.0

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """points: (T, N, 3) world metres -> (T, N, 3) camera coordinates (z = depth ahead)."""
        return (points - self.eye[:, None, :]) @ self.rotation.T

    def project(self, points: np.ndarray, min_depth: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """points: (T, N, 3) world metres -> pixel coordinates (T, N, 2) and depth (T, N) in metres."""
        cam = self.to_camera(points)
        depth = np.maximum(cam[..., 2], min_depth)
        cx, cy = self.centre
        uv = np.stack([cx + self.focal_px * cam[..., 0] / depth, cy - self.focal_px * cam[..., 1] / depth], axis=-1)
        limit = 8.0 * max(self.width, self.height)  # far off screen; keeps fixed-point coordinates in int32
        return np.clip(uv, -limit, limit), depth


def smooth_trajectory(path: np.ndarray, sigma_frames: float) -> np.ndarray:
    """path: (T, D) -> (T, D), zero-phase Gaussian smoothing with the ends held (no lag, no drift)."""
    if sigma_frames <= 0 or len(path) < 2:
        return path.copy()
    radius = int(np.ceil(3 * sigma_frames))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    taps /= taps.sum()
    padded = np.pad(path, ((radius, radius), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, d], taps, mode="valid") for d in range(path.shape[1])], axis=1)


def _look_rotation(azimuth_deg: float, distance: float, height: float) -> np.ndarray:
    """(3, 3) world -> camera rotation of an eye at (sin a * d, h, cos a * d) looking at the origin."""
    a = np.deg2rad(azimuth_deg)
    offset = np.array([np.sin(a) * distance, height, np.cos(a) * distance])
    forward = -offset / np.linalg.norm(offset)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.stack([right, up, forward])


def follow_camera(root_m: np.ndarray, fps: float, resolution: int, rig: CameraRig = CameraRig()) -> CameraTrack:
    """root_m: (T, 3) pelvis positions in metres -> a camera per frame looking at the smoothed pelvis."""
    # the median pelvis height, to the centimetre (clips then share cached backgrounds)
    look_height = round(float(np.clip(np.median(root_m[:, 1]), rig.min_look_height_m, rig.max_look_height_m)), 2)
    ground_path = smooth_trajectory(root_m[:, [0, 2]], rig.smoothing_s * fps)  # (T, 2) x, z
    target = np.stack([ground_path[:, 0], np.full(len(root_m), look_height), ground_path[:, 1]], axis=1)
    a = np.deg2rad(rig.azimuth_deg)
    offset = np.array([np.sin(a) * rig.distance_m, rig.height_m, np.cos(a) * rig.distance_m])
    focal = (resolution / 2.0) / np.tan(np.deg2rad(rig.fov_deg) / 2.0)
    return CameraTrack(
        eye=target + offset,
        rotation=_look_rotation(rig.azimuth_deg, rig.distance_m, rig.height_m),
        focal_px=float(focal),
        width=resolution,
        height=resolution,
    )
