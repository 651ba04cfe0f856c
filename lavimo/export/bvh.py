"""BVH text of a rig: the skeleton as the hierarchy (readable joint names), the root's position and every joint's
rotation as Euler angles in degrees per frame; metres, y up.

Each joint's channel order puts the axis its bone twists about (its child's rest direction) in the middle: the
shortest-arc rotations of the inverse kinematics turn a bone about axes across it, so the middle angle stays far
from the +-90 degrees where Euler angles lock and jump. The root turns about y (yaw) without limit, so its order is
Y, X, Z. The file's angles reproduce the rotations exactly on every frame in any order; the order only decides how
smooth the curves between frames look in an animation package."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from lavimo.export.rig import Rig, children_of

ROOT_ORDER = "YXZ"
ORDER_BY_TWIST_AXIS = ("YXZ", "ZYX", "YZX")  # x, y or z in the middle


def joint_label(name: str) -> str:
    """The name an animator reads for a skeleton's joint name: left_hip -> L_Hip, spine1 -> Spine1."""
    side, _, rest = name.partition("_")
    if side in ("left", "right") and rest:
        return f"{side[0].upper()}_{rest.title().replace('_', '')}"
    return name.title().replace("_", "")


def bvh_text(rig: Rig, fps: float) -> str:
    """The whole file: HIERARCHY then MOTION, one line per frame."""
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps}")
    lines = ["HIERARCHY"]
    _joint_lines(rig, children_of(rig.skeleton), rotation_orders(rig), 0, 0, lines)
    lines += ["MOTION", f"Frames: {rig.num_frames}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(f"{value:.6f}" for value in row) for row in _frame_values(rig)]
    return "\n".join(lines) + "\n"


def rotation_orders(rig: Rig) -> list[str]:
    """Per joint, its Euler order ("YXZ": R = Ry @ Rx @ Rz, applied as BVH lists the channels)."""
    rest = rig.skeleton.rest_directions_array()  # (J, 3)
    children = children_of(rig.skeleton)
    return [
        ROOT_ORDER
        if rig.skeleton.parents[joint] < 0
        else ORDER_BY_TWIST_AXIS[int(np.argmax(np.abs(rest[kids[0] if kids else joint])))]
        for joint, kids in enumerate(children)
    ]


def _joint_lines(
    rig: Rig, children: list[list[int]], orders: list[str], joint: int, depth: int, lines: list[str]
) -> None:
    pad = "\t" * depth
    root = rig.skeleton.parents[joint] < 0
    rotations = tuple(f"{axis}rotation" for axis in orders[joint])
    channels = ("Xposition", "Yposition", "Zposition", *rotations) if root else rotations
    lines += [
        f"{pad}{'ROOT' if root else 'JOINT'} {joint_label(rig.skeleton.joint_names[joint])}",
        f"{pad}{{",
        f"{pad}\tOFFSET {_xyz(rig.offsets[joint])}",
        f"{pad}\tCHANNELS {len(channels)} {' '.join(channels)}",
    ]
    for child in children[joint]:
        _joint_lines(rig, children, orders, child, depth + 1, lines)
    if not children[joint]:
        lines += [f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {_xyz(rig.end_sites[joint])}", f"{pad}\t}}"]
    lines.append(f"{pad}}}")


def _frame_values(rig: Rig) -> np.ndarray:
    """(T, 3 + 3J): the root's position, then each joint's Euler angles in the hierarchy's (depth-first) order."""
    frames, joints = rig.local_rotations.shape[:2]
    radians = np.stack(
        [
            Rotation.from_matrix(rig.local_rotations[:, joint]).as_euler(order)  # upper case: intrinsic
            for joint, order in enumerate(rotation_orders(rig))
        ],
        axis=1,
    )  # (T, J, 3)
    degrees = np.rad2deg(np.unwrap(radians, axis=0))  # no 360-degree jumps between keys
    order = _depth_first(children_of(rig.skeleton), 0)
    return np.concatenate([rig.root_positions, degrees[:, order].reshape(frames, -1)], axis=1)


def _depth_first(children: list[list[int]], joint: int) -> list[int]:
    return [joint] + [j for child in children[joint] for j in _depth_first(children, child)]


def _xyz(v: np.ndarray) -> str:
    return " ".join(f"{x:.6f}" for x in v)
