"""A small BVH reader with forward kinematics, written apart from lavimo/export so that the tests read the files
the way an animation package does: any channel order, Euler angles composed in the order listed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class BvhJoint:
    name: str
    parent: int  # index into BvhFile.joints; -1 for the root
    offset: np.ndarray  # (3,)
    channels: list[str]
    end_site: np.ndarray | None = None  # (3,) for a leaf


@dataclass
class BvhFile:
    joints: list[BvhJoint] = field(default_factory=list)  # in file (depth-first) order
    frame_time: float = 0.0
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (T, channels)

    @property
    def names(self) -> list[str]:
        return [joint.name for joint in self.joints]

    def positions(self) -> np.ndarray:
        """World positions (T, J, 3) of every joint on every frame."""
        frames = len(self.values)
        positions = np.zeros((frames, len(self.joints), 3))
        rotations = np.zeros((frames, len(self.joints), 3, 3))
        column = 0
        for index, joint in enumerate(self.joints):
            translation = np.tile(joint.offset, (frames, 1))
            rotation = np.tile(np.eye(3), (frames, 1, 1))
            for channel in joint.channels:
                value = self.values[:, column]
                column += 1
                axis = "XYZ".index(channel[0])
                if channel.endswith("position"):
                    translation[:, axis] += value
                else:
                    rotation = rotation @ _axis_rotation(axis, np.deg2rad(value))
            if joint.parent < 0:
                positions[:, index], rotations[:, index] = translation, rotation
            else:
                parent_rotation = rotations[:, joint.parent]
                positions[:, index] = positions[:, joint.parent] + parent_rotation @ joint.offset
                rotations[:, index] = parent_rotation @ rotation
        return positions


def _axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations by `angle` (T,) radians about x, y or z."""
    c, s = np.cos(angle), np.sin(angle)
    m = np.tile(np.eye(3), (len(angle), 1, 1))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[:, i, i], m[:, i, j], m[:, j, i], m[:, j, j] = c, -s, s, c
    return m


def read_bvh(text: str) -> BvhFile:
    tokens = text.split()
    bvh, stack, position = BvhFile(), [], 0

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    assert take() == "HIERARCHY"
    while True:
        word = take()
        if word in ("ROOT", "JOINT"):
            bvh.joints.append(BvhJoint(take(), stack[-1] if stack else -1, np.zeros(3), []))
            assert take() == "{"
            stack.append(len(bvh.joints) - 1)
        elif word == "End":
            assert take() == "Site" and take() == "{" and take() == "OFFSET"
            bvh.joints[stack[-1]].end_site = np.array([float(take()) for _ in range(3)])
            assert take() == "}"
        elif word == "OFFSET":
            bvh.joints[stack[-1]].offset = np.array([float(take()) for _ in range(3)])
        elif word == "CHANNELS":
            bvh.joints[stack[-1]].channels = [take() for _ in range(int(take()))]
        elif word == "}":
            stack.pop()
        elif word == "MOTION":
            break
        else:
            raise ValueError(f"unexpected {word!r} in the hierarchy")
    assert take() == "Frames:"
    frames = int(take())
    assert take() == "Frame" and take() == "Time:"
    bvh.frame_time = float(take())
    numbers = np.array(tokens[position:], dtype=np.float64)
    bvh.values = numbers.reshape(frames, -1)
    assert bvh.values.shape[1] == sum(len(joint.channels) for joint in bvh.joints)
    return bvh
