"""Locomotion and jumps of the synthetic dataset: walk, jog, run, walk backwards, sidestep, turn, jump, hop, jacks."""

from __future__ import annotations

import numpy as np

from lavimo.data.synthetic_body import JOINT
from lavimo.data.synthetic_poses import (
    NUM_JOINTS,
    Action,
    arm,
    crouch,
    envelope,
    keyframes,
    leg,
    lift_foot,
    other,
    pick,
    reps,
    sign,
    spine,
    still,
    uniform,
)

_KNEE_LEAD = 0.5  # radians of the gait cycle by which the knee bend leads the leg's swing


def _gait(n, fps, p, freq, knee_lift, elbow, lean, direction=1.0):
    """Walking-style leg and arm cycles: (n, J, 3) angles; direction -1 plays the cycle backwards."""
    a = np.zeros((n, NUM_JOINTS, 3))
    phase = 2 * np.pi * (direction * freq * np.arange(n) / fps + p["phase"])  # (n,) of the left leg
    stride = p["stride"]
    for side, offset in (("left", 0.0), ("right", np.pi)):
        q = phase + offset
        # the knee bends while the leg swings forward, starting just before (toe-off); backwards replays it in reverse
        swing = np.maximum(np.cos(q + _KNEE_LEAD), 0.0)
        leg(a, side, flex=stride * np.sin(q), knee=0.1 + knee_lift * swing, ankle=-0.8 * knee_lift * swing)  # toes up
        arm(a, side, forward=-0.8 * stride * np.sin(q), abduct=0.08, elbow=elbow + 0.2 * np.sin(q))
    a[:, JOINT["pelvis"], 1] = 0.25 * stride * np.sin(phase)  # pelvis turns with the forward leg
    spine(a, flex=lean, twist=-0.3 * stride * np.sin(phase))
    return a


def _gait_params(rng, speed, stride, paths):
    return {
        "speed": uniform(rng, *speed),
        "stride": uniform(rng, *stride),
        "path": pick(rng, paths),
        "turn_rate": uniform(rng, 0.25, 0.6),
        "phase": uniform(rng, 0.0, 1.0),
    }


def _gait_action(name, speed, stride, freq, knee_lift, elbow, lean, flight, direction=1.0):
    paths = ("straight", "straight", "straight", "left", "right") if direction > 0 else ("straight",)

    def sample(rng):
        return _gait_params(rng, speed, stride, paths), uniform(rng, 2.5, 9.0)

    def animate(n, fps, p):
        track = still(n)
        track.angles = _gait(n, fps, p, freq * p["speed"], knee_lift, elbow, lean, direction)
        phase = 2 * np.pi * (freq * p["speed"] * np.arange(n) / fps + p["phase"])
        track.lift = flight * np.maximum(0.0, -np.cos(2 * phase)) ** 2
        if p["path"] != "straight":
            track.yaw_rate[:] = sign(p["path"]) * p["turn_rate"] * p["speed"]
        return track

    return Action(name, sample, animate)


def _sidestep_sample(rng):
    params = {
        "side": pick(rng, ("left", "right")),
        "speed": uniform(rng, 0.7, 1.3),
        "width": uniform(rng, 0.2, 0.35),
        "phase": uniform(rng, 0.0, 0.3),
    }
    return params, uniform(rng, 2.5, 6.0)


_LEAD_KNEE = ((0.0, 0.0), (0.08, 0.6), (0.42, 0.6), (0.5, 0.0), (1.0, 0.0))  # lifted while stepping out
_TRAIL_KNEE = ((0.0, 0.0), (0.5, 0.0), (0.58, 0.6), (0.92, 0.6), (1.0, 0.0))  # lifted while drawn in


def _sidestep_animate(n, fps, p):
    """Steps out with the leading leg (lifted), puts it down and draws the body over it, the trailing leg lifted."""
    track = still(n)
    psi = (0.7 * p["speed"] * np.arange(n) / fps + p["phase"]) % 1.0  # (n,) phase of the step cycle
    abduct = keyframes(psi, ((0.0, 0.0), (0.5, p["width"]), (1.0, 0.0)))
    leg(track.angles, p["side"], abduct=abduct)
    lift_foot(track.angles, p["side"], keyframes(psi, _LEAD_KNEE))
    lift_foot(track.angles, other(p["side"]), keyframes(psi, _TRAIL_KNEE))
    for side in ("left", "right"):
        arm(track.angles, side, abduct=0.15 + 0.3 * abduct, elbow=0.3)
    return track


def _turn_sample(rng):
    angle = pick(rng, (90, 90, 180))
    params = {"side": pick(rng, ("left", "right")), "angle": angle, "speed": uniform(rng, 0.7, 1.3)}
    return params, uniform(rng, 2.0, 3.5) + (0.8 if angle == 180 else 0.0)


def _turn_animate(n, fps, p):
    """Turns on the spot by `angle` degrees with small stepping, the turn easing in and out."""
    track = still(n)
    u = np.linspace(0.0, 1.0, n)
    rate = np.sin(np.pi * np.clip((u - 0.1) / 0.8, 0.0, 1.0)) ** 2  # (n,)
    track.yaw_rate = sign(p["side"]) * np.radians(p["angle"]) * rate / rate.sum() * fps
    stepping = np.sin(2 * np.pi * 1.6 * p["speed"] * np.arange(n) / fps)
    for side, phase in (("left", stepping), ("right", -stepping)):
        lift_foot(track.angles, side, 0.5 * np.maximum(phase, 0) * rate)
        arm(track.angles, side, abduct=0.1, elbow=0.25)
    track.angles[:, JOINT["neck"], 1] = sign(p["side"]) * 0.3 * rate  # look into the turn
    return track


# ---------------------------------------------------------------- jumps

_JUMP_CROUCH = ((0.0, 0.0), (0.3, 1.0), (0.42, 0.0), (0.78, 0.0), (0.86, 0.7), (1.0, 0.0))
_JUMP_ARMS = ((0.0, 0.0), (0.3, -0.7), (0.45, 2.4), (0.75, 1.6), (1.0, 0.0))
_FLIGHT = (0.42, 0.78)  # phases of a jump repetition spent in the air


def _flight(u, height):
    """Lift (n,) of a parabolic flight between the _FLIGHT phases."""
    x = np.clip((u - _FLIGHT[0]) / (_FLIGHT[1] - _FLIGHT[0]), 0.0, 1.0)
    return 4 * height * x * (1 - x)


def _jump_sample(rng):
    count = pick(rng, (1, 1, 2, 3))
    distance = pick(rng, (0.0, 0.0, uniform(rng, 0.3, 0.9)))  # metres per jump
    params = {"count": count, "height": uniform(rng, 0.15, 0.4), "distance": distance}
    return params, count * 1.2 + uniform(rng, 0.8, 2.0)


def _jump_animate(n, fps, p):
    """Crouch with the arms back, take off swinging them up, land softly; `distance` metres forward per jump."""
    track = still(n)
    rep_frames = 1.2 * fps
    u, _ = reps(n, p["count"], rep_frames)
    crouch(track.angles, 0.9 * keyframes(u, _JUMP_CROUCH))
    spine(track.angles, flex=0.5 * keyframes(u, _JUMP_CROUCH))
    for side in ("left", "right"):
        leg(track.angles, side, ankle=0.5 * np.sin(np.pi * np.clip((u - 0.38) / 0.42, 0, 1)))
        arm(track.angles, side, forward=keyframes(u, _JUMP_ARMS), abduct=0.1, elbow=0.3)
    track.lift = _flight(u, p["height"])
    track.velocity[:, 2] = (track.lift > 0) * p["distance"] / ((_FLIGHT[1] - _FLIGHT[0]) * rep_frames / fps)
    return track


def _hop_sample(rng):
    count = int(rng.integers(2, 6))
    params = {
        "side": pick(rng, ("left", "right")),
        "count": count,
        "height": uniform(rng, 0.06, 0.15),
        "distance": pick(rng, (0.0, uniform(rng, 0.15, 0.35))),
        "speed": uniform(rng, 0.8, 1.25),
    }
    return params, count * 0.7 / params["speed"] + uniform(rng, 1.0, 2.0)


def _hop_animate(n, fps, p):
    """Hops on the `side` leg with the other leg held up and the arms out for balance."""
    track = still(n)
    rep_frames = 0.7 / p["speed"] * fps
    u, _ = reps(n, p["count"], rep_frames)
    held = envelope(n, fps, 0.4)
    leg(track.angles, other(p["side"]), flex=0.5 * held, knee=1.4 * held)
    crouch(track.angles, 0.4 * keyframes(u, _JUMP_CROUCH), side=p["side"])
    for side in ("left", "right"):
        arm(track.angles, side, abduct=0.5 * held, elbow=0.4 * held)
    spine(track.angles, tilt=0.1 * sign(p["side"]) * held)
    track.lift = _flight(u, p["height"])
    track.velocity[:, 2] = (track.lift > 0) * p["distance"] / ((_FLIGHT[1] - _FLIGHT[0]) * rep_frames / fps)
    return track


def _jacks_sample(rng):
    count = int(rng.integers(3, 9))
    params = {"count": count, "speed": uniform(rng, 0.8, 1.3)}
    return params, count * 0.9 / params["speed"] + uniform(rng, 0.5, 1.5)


def _jacks_animate(n, fps, p):
    """Jumping jacks: hop the feet apart while the arms swing overhead, then back."""
    track = still(n)
    u, _ = reps(n, p["count"], 0.9 / p["speed"] * fps)
    spread = keyframes(u, ((0.0, 0.0), (0.1, 0.0), (0.35, 1.0), (0.6, 1.0), (0.85, 0.0), (1.0, 0.0)))  # in the air
    for side in ("left", "right"):
        arm(track.angles, side, abduct=2.9 * spread, elbow=0.2 * spread)
        leg(track.angles, side, abduct=0.22 * spread, knee=0.15 * spread)
    hops = np.sin(np.pi * np.clip((u - 0.05) / 0.3, 0, 1)) + np.sin(np.pi * np.clip((u - 0.6) / 0.3, 0, 1))
    track.lift = 0.05 * hops
    return track


LOCOMOTION_ACTIONS = (
    # speed: multiplier range; stride: hip swing (rad); freq: gait cycles/s; knee_lift, elbow, lean: rad; flight: m
    _gait_action("walk", (0.7, 1.4), (0.3, 0.45), freq=0.9, knee_lift=0.7, elbow=0.2, lean=0.0, flight=0.0),
    _gait_action("jog", (0.8, 1.25), (0.4, 0.55), freq=1.25, knee_lift=1.3, elbow=1.3, lean=0.1, flight=0.03),
    _gait_action("run", (0.85, 1.25), (0.55, 0.7), freq=1.45, knee_lift=1.8, elbow=1.5, lean=0.2, flight=0.07),
    _gait_action(
        "walk_backward",
        (0.6, 1.2),
        (0.25, 0.4),
        freq=0.8,
        knee_lift=0.6,
        elbow=0.2,
        lean=-0.05,
        flight=0.0,
        direction=-1.0,
    ),
    Action("sidestep", _sidestep_sample, _sidestep_animate),
    Action("turn", _turn_sample, _turn_animate),
    Action("jump", _jump_sample, _jump_animate),
    Action("hop", _hop_sample, _hop_animate),
    Action("jumping_jacks", _jacks_sample, _jacks_animate),
)
