"""A perspective camera for one clip: it follows the motion's root smoothly, or stands still framing the trajectory."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SMOOTHING_S = 0.5  # sigma of the Gaussian that smooths the followed root trajectory, seconds
MIN_LOOK_HEIGHT_M, MAX_LOOK_HEIGHT_M = 0.3, 1.3  # clamp of the look-at height (median pelvis height)
FRAME_MARGIN = 0.03  # fraction of the half frame kept free around the body when it is fitted into view
MIN_DEPTH_M = 0.3  # a fitted body stays at least this far in front of the eye


@dataclass(frozen=True)
class CameraRig:
    """Where the camera sits relative to what it looks at; the world is the motion's first-frame facing frame."""

    yaw_deg: float  # around the look-at point: 0 = on the +z side (in front of the body), 90 = on the +x side
    elevation_deg: float  # line of sight above the horizontal: the eye is higher than the look-at point
    distance_m: float  # from the eye to the look-at point, before any backing off to keep the body in view
    fov_deg: float  # vertical (and horizontal: the frame is square) field of view
    follow: bool  # look at the smoothed root; otherwise at the centre of the whole clip's bounding box
    keep_in_view: bool  # back off where a joint would leave the frame (a still camera always does)


@dataclass(frozen=True)
class CameraTrack:
    """One camera per frame: a fixed orientation, an eye that moves with the look-at point (or stands still)."""

    eye: np.ndarray  # (T, 3) eye position, metres
    rotation: np.ndarray  # (3, 3) world -> camera; camera axes x right, y up, z forward
    focal_px: float
    width: int
    height: int
    look_distance_m: float  # horizontal distance from the eye to the look-at point

    @property
    def centre(self) -> tuple[float, float]:
        return self.width / 2.0, self.height / 2.0

    @property
    def pitch(self) -> float:
        """Angle of the optical axis below the horizontal, radians."""
        return float(np.arcsin(np.clip(-self.rotation[2][1], -1.0, 1.0)))

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


def _look_rotation(offset: np.ndarray) -> np.ndarray:
    """(3, 3) world -> camera rotation of an eye at `offset` (3,) from the point it looks at, without roll."""
    forward = -offset / np.linalg.norm(offset)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.stack([right, up, forward])


def _targets(root_m: np.ndarray, spheres_m: np.ndarray, fps: float, follow: bool) -> np.ndarray:
    """(T, 3) look-at point per frame: the smoothed root, or the centre of every sphere's bounding box."""
    # the median pelvis height, to the centimetre (clips then share cached backgrounds)
    look_height = round(float(np.clip(np.median(root_m[:, 1]), MIN_LOOK_HEIGHT_M, MAX_LOOK_HEIGHT_M)), 2)
    if follow:
        ground_path = smooth_trajectory(root_m[:, [0, 2]], SMOOTHING_S * fps)  # (T, 2) x, z
    else:
        centre = (spheres_m.min(axis=(0, 1)) + spheres_m.max(axis=(0, 1))) / 2  # (3,)
        ground_path = np.tile(np.round(centre[[0, 2]], 2), (len(root_m), 1))
    return np.stack([ground_path[:, 0], np.full(len(root_m), look_height), ground_path[:, 1]], axis=1)


def _fit_distance(relative_m: np.ndarray, radii_m: np.ndarray, rotation: np.ndarray, half_fov: float) -> float:
    """The smallest eye distance at which every sphere is inside the frame (less FRAME_MARGIN).

    relative_m: (T, N, 3) sphere centres minus the frame's look-at point; radii_m: (N,). The eye sits at
    distance d behind the look-at point along the optical axis, so a centre's depth is z + d.
    """
    cam = relative_m @ rotation.T  # (T, N, 3) camera axes, relative to the look-at point
    slope = np.tan(half_fov) * (1 - FRAME_MARGIN)
    reach = np.maximum(np.abs(cam[..., 0]), np.abs(cam[..., 1])) + radii_m * np.sqrt(1 + slope**2)
    return float(max(np.max(reach / slope - cam[..., 2]), np.max(MIN_DEPTH_M + radii_m - cam[..., 2])))


def place_camera(
    root_m: np.ndarray, spheres_m: np.ndarray, radii_m: np.ndarray, rig: CameraRig, fps: float, resolution: int
) -> CameraTrack:
    """root_m: (T, 3) pelvis positions; spheres_m: (T, N, 3), radii_m: (N,) the body's extent, metres.

    A following camera keeps its offset to the smoothed pelvis; a still one looks at the middle of the clip's
    bounding box from far enough that every sphere of every frame is in view.
    """
    target = _targets(root_m, spheres_m, fps, rig.follow)  # (T, 3)
    yaw, elevation = np.deg2rad(rig.yaw_deg), np.deg2rad(rig.elevation_deg)
    direction = np.array([np.cos(elevation) * np.sin(yaw), np.sin(elevation), np.cos(elevation) * np.cos(yaw)])
    rotation = _look_rotation(direction)
    half_fov = np.deg2rad(rig.fov_deg) / 2.0
    distance = rig.distance_m
    if rig.keep_in_view or not rig.follow:
        distance = max(distance, _fit_distance(spheres_m - target[:, None, :], radii_m, rotation, half_fov))
    return CameraTrack(
        eye=target + distance * direction,
        rotation=rotation,
        focal_px=float((resolution / 2.0) / np.tan(half_fov)),
        width=resolution,
        height=resolution,
        look_distance_m=float(distance * np.cos(elevation)),
    )
