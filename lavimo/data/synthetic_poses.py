"""Building blocks of synthetic actions: the Action and Track types, parameter sampling and pose helpers.

An action's `animate(frames, fps, params)` returns a `Track`: local Euler angles per joint (see
`synthetic_body` for the axes) plus the root's yaw rate, extra velocity and lift. Translation
on the floor mostly comes from the feet (`synthetic_body.place_on_ground`). Parameters are
rounded plain numbers and strings, so they go to JSON and regenerate the same motion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lavimo.data.synthetic_body import JOINT

NUM_JOINTS = len(JOINT)


@dataclass
class Track:
    angles: np.ndarray  # (n, J, 3) local Euler angles (x, y, z), radians
    yaw_rate: np.ndarray  # (n,) rad/s, positive turns left
    velocity: np.ndarray  # (n, 3) extra root velocity in the body frame (x left, z forward), m/s
    lift: np.ndarray  # (n,) metres above the floor


@dataclass(frozen=True)
class Action:
    name: str
    sample: Callable[[np.random.Generator], tuple[dict, float]]  # -> parameters, duration in seconds
    animate: Callable[[int, float, dict], Track]  # frames, fps, parameters -> track
    start_posture: str = "standing"
    end_posture: str = "standing"


def still(n: int) -> Track:
    return Track(np.zeros((n, NUM_JOINTS, 3)), np.zeros(n), np.zeros((n, 3)), np.zeros(n))


def uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return round(float(rng.uniform(low, high)), 3)


def pick(rng: np.random.Generator, options: tuple):
    return options[int(rng.integers(len(options)))]


def sign(side: str) -> float:
    return 1.0 if side == "left" else -1.0


def other(side: str) -> str:
    return "right" if side == "left" else "left"


def smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def keyframes(u: np.ndarray, keys: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Values (n,) at phases u (n,) in [0, 1], eased (smoothstep) between (phase, value) keys."""
    times, values = np.array([k[0] for k in keys]), np.array([k[1] for k in keys])
    i = np.clip(np.searchsorted(times, u, side="right") - 1, 0, len(keys) - 2)
    x = (u - times[i]) / (times[i + 1] - times[i])
    return values[i] + (values[i + 1] - values[i]) * smoothstep(x)


def reps(n: int, count: int, rep_frames: float) -> tuple[np.ndarray, np.ndarray]:
    """Phase u (n,) in [0, 1] inside `count` evenly spaced repetitions (0 or 1 between them) and their index (n,)."""
    slot = n / count
    rep = min(rep_frames, slot)
    frame = np.arange(n)
    index = np.minimum((frame // slot).astype(int), count - 1)
    start = index * slot + (slot - rep) / 2
    return np.clip((frame - start) / rep, 0.0, 1.0), index


def envelope(n: int, fps: float, ramp_seconds: float) -> np.ndarray:
    """(n,) rising from 0 to 1 over the first ramp and back to 0 over the last."""
    t = np.arange(n) / fps
    return smoothstep(t / ramp_seconds) * smoothstep((t[-1] - t) / ramp_seconds)


def leg(a, side, flex=0.0, knee=0.0, ankle=0.0, abduct=0.0):
    """Adds hip flexion (thigh forward), knee bend, ankle plantarflexion (toes down) and hip abduction (outward)."""
    a[:, JOINT[f"{side}_hip"], 0] -= flex
    a[:, JOINT[f"{side}_hip"], 2] += sign(side) * abduct
    a[:, JOINT[f"{side}_knee"], 0] += knee
    a[:, JOINT[f"{side}_ankle"], 0] += ankle


def arm(a, side, forward=0.0, abduct=0.0, elbow=0.0, elbow_out=0.0):
    """Adds a forward arm raise, an outward raise, an elbow bend (forearm forward) and an outward elbow bend."""
    a[:, JOINT[f"{side}_shoulder"], 0] -= forward
    a[:, JOINT[f"{side}_shoulder"], 2] += sign(side) * abduct
    a[:, JOINT[f"{side}_elbow"], 0] -= elbow
    a[:, JOINT[f"{side}_elbow"], 2] += sign(side) * elbow_out


def spine(a, flex=0.0, twist=0.0, tilt=0.0):
    """Adds a forward bend, a twist (+ turns the chest left) and a side tilt (+ to the left), spread over the spine."""
    for name in ("spine1", "spine2", "spine3"):
        a[:, JOINT[name]] += np.stack(np.broadcast_arrays(flex / 3, twist / 3, -tilt / 3), axis=-1)


def crouch(a, depth, side=None):
    """Bends hips, knees and ankles together, feet flat (`depth` radians at the hip); one leg if `side`."""
    for one_side in (side,) if side else ("left", "right"):
        leg(a, one_side, flex=depth, knee=2 * depth, ankle=-depth)


def lift_foot(a, side, amount):
    """Raises a foot straight up, sole level: knee bend `amount` (radians) with half of it at the hip and ankle."""
    leg(a, side, flex=amount / 2, knee=amount, ankle=-amount / 2)
