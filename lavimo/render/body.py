"""The avatar's body for a skeleton: capsules (radius, colour slot) along the kinematic chains, and a head sphere."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lavimo.skeleton import Skeleton

# Colour slots of a capsule, in the order scene.style_palette reads the style's colours.
SKIN, SHIRT, TROUSERS, SHOES = 0, 1, 2, 3

# (keyword in the child joint's name, capsule radius in metres, colour slot); first match wins.
_BONE_RULES: tuple[tuple[str, float, int], ...] = (
    ("head", 0.050, SKIN),  # the neck, up to the head joint
    ("neck", 0.100, SHIRT),  # upper chest
    ("spine", 0.125, SHIRT),
    ("torso", 0.125, SHIRT),
    ("chest", 0.125, SHIRT),
    ("collar", 0.070, SHIRT),
    ("shoulder", 0.062, SHIRT),
    ("elbow", 0.052, SHIRT),
    ("wrist", 0.042, SKIN),
    ("hip", 0.090, TROUSERS),
    ("knee", 0.078, TROUSERS),
    ("ankle", 0.058, TROUSERS),
    ("heel", 0.042, SHOES),
    ("toe", 0.042, SHOES),
    ("foot", 0.042, SHOES),
)
_DEFAULT_RULE = (0.050, SHIRT)
HEAD_RADIUS_M = 0.105  # head sphere radius before the look's head_scale


@dataclass(frozen=True)
class BodyModel:
    """Capsules and head of one skeleton's avatar, independent of the style's colours.

    A capsule joins two joints; consecutive bones of a chain with the same radius and colour, meeting at a
    joint with a single child (e.g. HumanML3D's pelvis-spine1-spine2-spine3), become one capsule.
    """

    bones: np.ndarray  # (C, 2) int: the joints at the capsule's two ends (root side first)
    radii_m: np.ndarray  # (C,) capsule radius in metres (before the look's limb_scale)
    slots: np.ndarray  # (C,) int colour slot: SKIN, SHIRT, TROUSERS or SHOES
    parts: tuple[tuple[int, ...], ...]  # per kinematic chain, its capsule indices from the root outwards
    part_joints: tuple[tuple[int, ...], ...]  # per chain, the joints its capsules pass through, in order
    head_joint: int
    neck_joint: int  # parent of the head joint
    head_part: int  # the part whose drawing the head sphere closes
    head_radius_m: float


def _bone_rule(child_name: str) -> tuple[float, int]:
    for keyword, radius, slot in _BONE_RULES:
        if keyword in child_name:
            return radius, slot
    return _DEFAULT_RULE


def _head_joint(skeleton: Skeleton) -> int:
    named = [j for j, name in enumerate(skeleton.joint_names) if "head" in name]
    if named:
        return named[0]
    return int(max(range(skeleton.num_joints), key=lambda j: skeleton.rest_directions[j][1]))


def _chain_joints(skeleton: Skeleton, chain: tuple[int, ...]) -> list[int]:
    """The chain's joints, dropping inner ones where the bones on both sides share a rule and nothing branches."""
    children = [sum(p == j for p in skeleton.parents) for j in range(skeleton.num_joints)]
    kept = [chain[0]]
    for _prev, joint, nxt in zip(chain[:-2], chain[1:-1], chain[2:]):
        same = _bone_rule(skeleton.joint_names[joint]) == _bone_rule(skeleton.joint_names[nxt])
        if not (same and children[joint] == 1):
            kept.append(joint)
    return kept + [chain[-1]] if len(chain) > 1 else kept


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # body models are cached and shared
    return array


@lru_cache(maxsize=16)
def body_model(skeleton: Skeleton) -> BodyModel:
    """Capsule radii and colours from the joint names; parts from the kinematic chains."""
    bones, rules, parts, part_joints = [], [], [], []
    for chain in skeleton.kinematic_chains:
        joints = _chain_joints(skeleton, chain)
        parts.append(tuple(range(len(bones), len(bones) + len(joints) - 1)))
        part_joints.append(tuple(joints))
        for a, b in zip(joints[:-1], joints[1:]):
            bones.append((a, b))
            rules.append(_bone_rule(skeleton.joint_names[b]))
    head = _head_joint(skeleton)
    return BodyModel(
        bones=_frozen(np.asarray(bones, dtype=np.int64).reshape(-1, 2)),
        radii_m=_frozen(np.asarray([r for r, _ in rules], dtype=np.float64)),
        slots=_frozen(np.asarray([s for _, s in rules], dtype=np.int64)),
        parts=tuple(parts),
        part_joints=tuple(part_joints),
        head_joint=head,
        neck_joint=max(skeleton.parents[head], 0),
        head_part=next((i for i, chain in enumerate(skeleton.kinematic_chains) if head in chain), 0),
        head_radius_m=HEAD_RADIUS_M,
    )
