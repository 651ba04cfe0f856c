"""Synthetic text-motion dataset in the HumanML3D layout: procedurally animated 22-joint motions, paraphrased captions.

Each motion is one action (or, for about a third, a sequence of 2-3 cross-faded actions) of a
randomly proportioned body, posed by forward kinematics (bone lengths are exact) with small
joint jitter. Motion `i` depends only on (seed, i), so any motion can be regenerated alone and
the same seed writes byte-identical files. Like HumanML3D, every motion `000123` also gets a
mirrored copy `M000123` (x negated, left/right swapped, in its captions too) in the same split.

Folder written by `generate_synthetic_dataset(root, num_motions=..., seed=...)`:
  new_joints/{id}.npy      (T, 22, 3) float32 metres, floor at y=0, facing +z at frame 0, 20 fps, T in [41, 200]
  new_joint_vecs/{id}.npy  (T-1, 263) float32, `features.joints_to_features`
  texts/{id}.txt           `caption#word/POS ...#start#end` lines, seconds, 0.0#0.0 = whole clip
  train.txt val.txt test.txt all.txt   ids, 80/5/15 of the originals by a seeded shuffle
  Mean.npy Std.npy         (263,) over the train split's feature rows; Std floored at std_floor * mean(Std)
  synthetic_meta.json      per id: action segments (name, parameters, frames), body proportions, mirror_of
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass

import numpy as np

from lavimo import storage
from lavimo.data.datasets import Caption
from lavimo.data.features import canonicalize_joints, joints_to_features
from lavimo.data.synthetic_body import (
    MIRROR_JOINTS,
    SKELETON,
    euler_to_matrix,
    forward_kinematics,
    place_on_ground,
    sample_body,
)
from lavimo.data.synthetic_captions import action_captions, mirror_text, sequence_captions, tokens
from lavimo.data.synthetic_gestures import GESTURE_ACTIONS
from lavimo.data.synthetic_locomotion import LOCOMOTION_ACTIONS
from lavimo.data.synthetic_poses import Action, Track, smoothstep

log = logging.getLogger(__name__)

ACTIONS = LOCOMOTION_ACTIONS + GESTURE_ACTIONS
ACTION_NAMES = tuple(action.name for action in ACTIONS)
FPS = SKELETON.fps
MIN_FRAMES, MAX_FRAMES = 41, 200  # 2-10 s: 40-199 feature rows, inside the readers' [40, 200) rule
_BLEND = 8  # frames of cross-fade between two actions of a sequence
_MIN_SEGMENT = 40 + _BLEND + 2  # each segment's caption window keeps >= 40 frames, with rounding slack
_SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Segment:
    action: str
    params: dict  # the action's parameters (JSON values)
    start: int  # first frame
    end: int  # one past the last frame


@dataclass(frozen=True)
class SyntheticMotion:
    joints: np.ndarray  # (T, 22, 3) float32 metres, canonical (floor y=0, root xz at the origin, facing +z at frame 0)
    segments: tuple[Segment, ...]
    captions: tuple[Caption, ...]
    body: dict  # height (m) and limb ratios


@dataclass(frozen=True)
class SyntheticSummary:
    root: str
    num_motions: int  # including the mirrored copies
    num_captions: int
    split_counts: dict[str, int]  # split -> motions, including mirrors
    actions: tuple[str, ...]  # the action names that occur, sorted


def _motion_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, index)))


def _plan(rng: np.random.Generator, composed_fraction: float) -> list[tuple[Action, dict, int]]:
    """(action, parameters, frames) of one motion: a single action, or 2-3 whose postures chain."""
    count = (2, 2, 3)[int(rng.integers(3))] if rng.random() < composed_fraction else 1
    plan, posture = [], None
    for _ in range(count):
        options = [a for a in ACTIONS if posture is None or a.start_posture == posture]
        action = options[int(rng.integers(len(options)))]
        params, seconds = action.sample(rng)
        plan.append((action, params, int(round(seconds * FPS))))
        posture = action.end_posture
    if count == 1:
        return [(plan[0][0], plan[0][1], int(np.clip(plan[0][2], MIN_FRAMES, MAX_FRAMES)))]
    cap = (MAX_FRAMES + (count - 1) * _BLEND) // count
    return [(a, p, int(np.clip(n, _MIN_SEGMENT, cap))) for a, p, n in plan]


def _crossfade(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """`first` (n, ...) then `second` (m, ...), overlapping by _BLEND eased frames: (n + m - _BLEND, ...)."""
    w = smoothstep(np.linspace(0, 1, _BLEND + 2)[1:-1]).reshape((-1,) + (1,) * (first.ndim - 1))  # (B, 1...)
    overlap = (1 - w) * first[-_BLEND:] + w * second[:_BLEND]
    return np.concatenate([first[:-_BLEND], overlap, second[_BLEND:]])


def _assemble(tracks: list[Track]) -> Track:
    """One track of the cross-faded tracks of a sequence."""
    out = tracks[0]
    for track in tracks[1:]:
        fields = ("angles", "yaw_rate", "velocity", "lift")
        out = Track(*(_crossfade(getattr(out, f), getattr(track, f)) for f in fields))
    return out


def _segments(plan: list[tuple[Action, dict, int]]) -> tuple[Segment, ...]:
    """Frame windows of the plan's actions, split at the middle of each cross-fade."""
    bounds, start = [0], 0
    for _, _, frames in plan[:-1]:
        start += frames - _BLEND
        bounds.append(start + _BLEND // 2)
    bounds.append(sum(n for _, _, n in plan) - (len(plan) - 1) * _BLEND)
    return tuple(Segment(a.name, p, s, e) for (a, p, _), s, e in zip(plan, bounds[:-1], bounds[1:]))


_LEG_JOINTS = [
    i for i, name in enumerate(SKELETON.joint_names) if name.split("_")[-1] in ("hip", "knee", "ankle", "foot")
]


def _jitter(rng: np.random.Generator, frames: int) -> np.ndarray:
    """(T, J, 3) radians of noise: a per-motion posture offset, slow drift (keys every 0.25 s) and tremor.

    None on the root; a quarter on the legs, so that standing feet do not slide.
    """
    joints = SKELETON.num_joints
    keys = rng.normal(0.0, 0.025, (int(frames / FPS / 0.25) + 2, joints, 3))
    position = np.arange(frames) / FPS / 0.25  # (T,) in key units
    i, frac = position.astype(int), (position % 1.0)[:, None, None]
    noise = rng.normal(0.0, 0.04, (1, joints, 3)) + keys[i] * (1 - frac) + keys[i + 1] * frac
    noise += rng.normal(0.0, 0.003, (frames, joints, 3))
    noise[:, _LEG_JOINTS] *= 0.25
    noise[:, 0] = 0.0
    return noise


def _pose(rng: np.random.Generator, plan: list[tuple[Action, dict, int]]) -> tuple[np.ndarray, dict]:
    """Canonical joint positions (T, J, 3) float32 of the plan on a random body, and the body's proportions."""
    body = sample_body(rng)
    track = _assemble([action.animate(frames, FPS, params) for action, params, frames in plan])
    angles = track.angles + _jitter(rng, len(track.angles))  # (T, J, 3)
    local = forward_kinematics(euler_to_matrix(angles), body.offsets)  # (T, J, 3)
    heading = np.concatenate([[0.0], np.cumsum(track.yaw_rate[:-1]) / FPS])  # (T,)
    joints = place_on_ground(local, heading, track.lift, track.velocity, FPS)
    return canonicalize_joints(joints, SKELETON).astype(np.float32), body.proportions


def _caption(text: str, start: float = 0.0, end: float = 0.0) -> Caption:
    return Caption(text=text, tokens=tokens(text), start=start, end=end)


def _captions(rng: np.random.Generator, segments: tuple[Segment, ...]) -> tuple[Caption, ...]:
    """3-5 whole-clip captions of one action; for a sequence, 2 whole-sequence captions plus one per segment window."""
    if len(segments) == 1:
        texts = action_captions(rng, segments[0].action, segments[0].params, int(rng.integers(3, 6)))
        return tuple(_caption(text) for text in texts)
    whole = sequence_captions(rng, [(s.action, s.params) for s in segments], 2)
    parts = [(action_captions(rng, s.action, s.params, 1)[0], s) for s in segments]
    return tuple(_caption(t) for t in whole) + tuple(
        _caption(t, round(s.start / FPS, 2), round(s.end / FPS, 2)) for t, s in parts
    )


def generate_motion(seed: int, index: int, composed_fraction: float = 1 / 3) -> SyntheticMotion:
    """Original motion `index` of the dataset made with `seed` (the same every time)."""
    rng = _motion_rng(seed, index)
    plan = _plan(rng, composed_fraction)
    segments = _segments(plan)
    joints, body = _pose(rng, plan)
    return SyntheticMotion(joints=joints, segments=segments, captions=_captions(rng, segments), body=body)


def _mirror_value(value):
    return {"left": "right", "right": "left"}.get(value, value) if isinstance(value, str) else value


def mirror_motion(motion: SyntheticMotion) -> SyntheticMotion:
    """The motion reflected through the x = 0 plane: x negated, left and right joints and words swapped."""
    joints = motion.joints[:, list(MIRROR_JOINTS)].copy()  # (T, J, 3)
    joints[..., 0] *= -1
    segments = tuple(
        Segment(s.action, {k: _mirror_value(v) for k, v in s.params.items()}, s.start, s.end) for s in motion.segments
    )
    captions = tuple(_caption(mirror_text(c.text), c.start, c.end) for c in motion.captions)
    return SyntheticMotion(joints=joints, segments=segments, captions=captions, body=motion.body)


def split_ids(num_motions: int, seed: int) -> dict[str, list[int]]:
    """Original indices per split: a seeded shuffle cut 80/5/15 (at least one motion in val and in test)."""
    order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))).permutation(num_motions)
    num_val, num_test = max(1, round(0.05 * num_motions)), max(1, round(0.15 * num_motions))
    num_train = num_motions - num_val - num_test
    cuts = (0, num_train, num_train + num_val, num_motions)
    return {name: sorted(int(i) for i in order[a:b]) for name, a, b in zip(_SPLITS, cuts[:-1], cuts[1:])}


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _caption_line(caption: Caption) -> str:
    return f"{caption.text}#{caption.tokens}#{caption.start!r}#{caption.end!r}\n"


def _write_motion(root: str, motion_id: str, motion: SyntheticMotion) -> np.ndarray:
    """Writes joints, features and captions of one motion; returns its features (T-1, 263)."""
    features = joints_to_features(motion.joints, SKELETON)  # (T-1, 263) float32
    storage.write_bytes_atomic(storage.join(root, "new_joints", f"{motion_id}.npy"), _npy_bytes(motion.joints))
    storage.write_bytes_atomic(storage.join(root, "new_joint_vecs", f"{motion_id}.npy"), _npy_bytes(features))
    text = "".join(_caption_line(c) for c in motion.captions)
    storage.write_bytes_atomic(storage.join(root, "texts", f"{motion_id}.txt"), text.encode())
    return features


def _meta(motion: SyntheticMotion, mirror_of: str | None) -> dict:
    segments = [{"action": s.action, "params": s.params, "start": s.start, "end": s.end} for s in motion.segments]
    return {"frames": len(motion.joints), "segments": segments, "body": motion.body, "mirror_of": mirror_of}


def _write_index(root: str, splits: dict[str, list[int]], all_ids: list[str]) -> dict[str, list[str]]:
    """Writes {split}.txt (each original with its mirror) and all.txt; returns the ids per split."""
    ids = {split: sorted(f"{p}{i:06d}" for i in indices for p in ("", "M")) for split, indices in splits.items()}
    for split, names in {**ids, "all": all_ids}.items():
        storage.write_bytes_atomic(storage.join(root, f"{split}.txt"), "".join(f"{n}\n" for n in names).encode())
    return ids


def _write_statistics(root: str, features: list[np.ndarray], std_floor: float) -> None:
    """Mean.npy and Std.npy (263,) float32 over all feature rows; a std below std_floor * mean(std) is raised to it."""
    rows = np.concatenate(features).astype(np.float64)  # (N, 263)
    mean, std = rows.mean(axis=0), rows.std(axis=0)
    storage.write_bytes_atomic(storage.join(root, "Mean.npy"), _npy_bytes(mean.astype(np.float32)))
    std = np.maximum(std, std_floor * std.mean())  # features that (almost) never vary would blow up when normalised
    storage.write_bytes_atomic(storage.join(root, "Std.npy"), _npy_bytes(std.astype(np.float32)))


def _check_arguments(num_motions: int, seed: int, composed_fraction: float, std_floor: float) -> None:
    if not isinstance(num_motions, int) or num_motions < 3:
        raise ValueError(f"num_motions must be an integer >= 3 (one per split at least), got {num_motions!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0.0 <= composed_fraction <= 1.0:
        raise ValueError(f"composed_fraction must be in [0, 1], got {composed_fraction!r}")
    if not std_floor > 0:
        raise ValueError(f"std_floor must be positive, got {std_floor!r}")


def generate_synthetic_dataset(
    root: str | os.PathLike, *, num_motions: int, seed: int, composed_fraction: float = 1 / 3, std_floor: float = 1e-2
) -> SyntheticSummary:
    """Writes `num_motions` originals and their mirrors to the local folder `root` (layout in the module docstring)."""
    _check_arguments(num_motions, seed, composed_fraction, std_floor)
    root = storage.absolute(str(root))
    splits = split_ids(num_motions, seed)
    train = set(splits["train"])
    meta, train_features, num_captions, actions = {}, [], 0, set()
    for index in range(num_motions):
        original = generate_motion(seed, index, composed_fraction)
        name = f"{index:06d}"
        for motion_id, motion in ((name, original), (f"M{name}", mirror_motion(original))):
            features = _write_motion(root, motion_id, motion)
            if index in train:
                train_features.append(features)
            meta[motion_id] = _meta(motion, name if motion is not original else None)
            num_captions += len(motion.captions)
        actions.update(s.action for s in original.segments)
        if (index + 1) % max(1, num_motions // 10) == 0 or index + 1 == num_motions:
            log.info("synthetic motions: %d/%d written to %s", index + 1, num_motions, root)
    ids = _write_index(root, splits, sorted(meta))
    _write_statistics(root, train_features, std_floor)
    header = {
        "seed": seed,
        "num_originals": num_motions,
        "fps": FPS,
        "composed_fraction": composed_fraction,
        "std_floor": std_floor,
        "motions": meta,
    }
    meta_text = json.dumps(header, indent=1, sort_keys=True)
    storage.write_bytes_atomic(storage.join(root, "synthetic_meta.json"), meta_text.encode())
    return SyntheticSummary(
        root=root,
        num_motions=len(meta),
        num_captions=num_captions,
        split_counts={s: len(n) for s, n in ids.items()},
        actions=tuple(sorted(actions)),
    )
