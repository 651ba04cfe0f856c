"""In-place actions of the synthetic set: squat, kick, punch, wave, clap, sit, stand up, bend, throw, dance, idle."""

from __future__ import annotations

import numpy as np

from lavimo.data.synthetic_body import JOINT
from lavimo.data.synthetic_poses import (
    Action,
    Track,
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

_DOWN_HOLD_UP = ((0.0, 0.0), (0.4, 1.0), (0.6, 1.0), (1.0, 0.0))


def _squat_sample(rng):
    params = {
        "count": pick(rng, (1, 2, 3)),
        "depth": uniform(rng, 0.7, 1.2),
        "speed": uniform(rng, 0.7, 1.3),
        "arms_forward": uniform(rng, 0.6, 1.5),
    }
    return params, params["count"] * 2.0 / params["speed"] + uniform(rng, 0.5, 1.5)


def _squat_animate(n, fps, p):
    track = still(n)
    u, _ = reps(n, p["count"], 2.0 / p["speed"] * fps)
    down = keyframes(u, _DOWN_HOLD_UP)
    crouch(track.angles, p["depth"] * down)
    spine(track.angles, flex=0.4 * p["depth"] * down)
    for side in ("left", "right"):
        arm(track.angles, side, forward=p["arms_forward"] * down, abduct=0.1)
    return track


def _kick_sample(rng):
    params = {
        "side": pick(rng, ("left", "right")),
        "count": pick(rng, (1, 1, 2)),
        "height": uniform(rng, 0.9, 1.5),
        "speed": uniform(rng, 0.8, 1.3),
    }
    return params, params["count"] * 1.0 / params["speed"] + uniform(rng, 1.0, 2.0)


def _kick_animate(n, fps, p):
    """Chambers the knee, snaps the leg out at `height` radians of hip flexion, pulls it back."""
    track = still(n)
    u, _ = reps(n, p["count"], 1.0 / p["speed"] * fps)
    h = p["height"]
    flex = keyframes(u, ((0.0, 0.0), (0.3, 0.7 * h), (0.45, h), (0.6, 0.6 * h), (1.0, 0.0)))
    knee = keyframes(u, ((0.0, 0.0), (0.3, 1.6), (0.45, 0.1), (0.6, 1.2), (1.0, 0.0)))
    leg(track.angles, p["side"], flex=flex, knee=knee, ankle=0.3 * flex / h)
    spine(track.angles, flex=-0.2 * flex)
    for side in ("left", "right"):
        arm(track.angles, side, abduct=0.4 * flex / h, elbow=0.8 * flex / h)
    return track


def _punch_sample(rng):
    count = int(rng.integers(2, 7))
    params = {
        "side": pick(rng, ("left", "right")),
        "count": count,
        "alternate": bool(rng.random() < 0.5),
        "speed": uniform(rng, 0.8, 1.4),
    }
    return params, count * 0.6 / params["speed"] + uniform(rng, 1.0, 2.0)


def _punch_animate(n, fps, p):
    """Fists up in a guard; each punch extends one arm (alternating arms if `alternate`) and turns the chest."""
    track = still(n)
    guard = envelope(n, fps, 0.4)
    u, index = reps(n, p["count"], 0.6 / p["speed"] * fps)
    extend = keyframes(u, ((0.0, 0.0), (0.35, 1.0), (0.55, 1.0), (1.0, 0.0)))
    puncher = np.where(p["alternate"] & (index % 2 == 1), -sign(p["side"]), sign(p["side"]))  # (n,) +1 left
    for side in ("left", "right"):
        e = np.where(puncher == sign(side), extend, 0.0)
        arm(track.angles, side, forward=guard * (0.4 + 1.1 * e), abduct=0.2 * guard, elbow=guard * 2.1 * (1 - 0.93 * e))
    spine(track.angles, twist=-0.35 * puncher * extend)
    return track


def _wave_sample(rng):
    params = {"side": pick(rng, ("left", "right", "right", "left", "both")), "speed": uniform(rng, 0.7, 1.4)}
    return params, uniform(rng, 2.0, 5.0)


def _wave_animate(n, fps, p):
    """Raises the arm to the side, forearm up, and swings the forearm side to side."""
    track = still(n)
    raised = envelope(n, fps, 0.5)
    swing = 0.4 * np.sin(2 * np.pi * 2.0 * p["speed"] * np.arange(n) / fps)
    for side in ("left", "right") if p["side"] == "both" else (p["side"],):
        arm(track.angles, side, forward=0.3 * raised, abduct=1.6 * raised, elbow_out=raised * (1.5 + swing))
    return track


def _clap_sample(rng):
    return {"speed": uniform(rng, 0.8, 1.4)}, uniform(rng, 2.0, 5.0)


def _clap_animate(n, fps, p):
    """Both arms forward, the hands meeting in front of the chest and parting again."""
    track = still(n)
    raised = envelope(n, fps, 0.4)
    together = np.cos(2 * np.pi * 2.2 * p["speed"] * np.arange(n) / fps)
    for side in ("left", "right"):
        arm(track.angles, side, forward=1.1 * raised, abduct=raised * (-0.14 + 0.24 * together), elbow=1.2 * raised)
    return track


def _sit_sample(rng):
    return {"speed": uniform(rng, 0.7, 1.3), "lean": uniform(rng, 0.3, 0.6)}, uniform(rng, 2.5, 5.0)


def _sit_animate(n, fps, p):
    """Lowers onto an (invisible) chair while leaning forward, then stays seated, hands on the thighs."""
    track = still(n)
    transition = 1.6 / p["speed"] * fps
    u = np.clip((np.arange(n) - 0.3 * fps) / transition, 0.0, 1.0)
    seated = keyframes(u, ((0.0, 0.0), (1.0, 1.0)))
    lean = keyframes(u, ((0.0, 0.0), (0.5, 1.0), (1.0, 0.15)))
    leg(track.angles, "left", flex=1.5 * seated, knee=1.5 * seated)
    leg(track.angles, "right", flex=1.5 * seated, knee=1.5 * seated)
    spine(track.angles, flex=p["lean"] * lean)
    for side in ("left", "right"):
        arm(track.angles, side, forward=0.6 * seated + 0.3 * lean, elbow=0.6 * seated)
    return track


def _stand_animate(n, fps, p):
    """Sitting down played backwards."""
    track = _sit_animate(n, fps, p)
    return Track(track.angles[::-1].copy(), track.yaw_rate, track.velocity, track.lift)


def _bend_sample(rng):
    return {"depth": uniform(rng, 0.5, 1.0), "speed": uniform(rng, 0.7, 1.3)}, uniform(rng, 2.5, 6.0)


def _bend_animate(n, fps, p):
    """Hinges at the hips and rounds the back with straight legs, arms hanging, then comes back up."""
    track = still(n)
    u = np.linspace(0.0, 1.0, n)
    bend = keyframes(u, ((0.0, 0.0), (0.1, 0.0), (0.4, 1.0), (0.6, 1.0), (0.9, 0.0), (1.0, 0.0)))
    hinge, curl = 0.8 * p["depth"] * bend, 0.7 * p["depth"] * bend
    track.angles[:, JOINT["pelvis"], 0] += hinge
    for side in ("left", "right"):
        leg(track.angles, side, flex=hinge, knee=0.1 * bend, ankle=-0.1 * bend)
        arm(track.angles, side, forward=hinge + curl, elbow=0.1)
    spine(track.angles, flex=curl)
    return track


def _throw_sample(rng):
    params = {
        "side": pick(rng, ("left", "right", "right")),
        "style": pick(rng, ("overhand", "overhand", "underhand")),
        "speed": uniform(rng, 0.8, 1.3),
    }
    return params, uniform(rng, 2.0, 4.0)


_THROWS = {  # style -> (arm forward keys, elbow keys)
    "overhand": (
        ((0.0, 0.0), (0.4, 2.7), (0.55, 2.9), (0.68, 1.4), (0.8, 0.9), (1.0, 0.0)),
        ((0.0, 0.0), (0.4, 1.0), (0.55, 1.9), (0.68, 0.2), (0.8, 0.4), (1.0, 0.0)),
    ),
    "underhand": (
        ((0.0, 0.0), (0.45, -0.9), (0.7, 1.5), (0.82, 1.2), (1.0, 0.0)),
        ((0.0, 0.0), (0.45, 0.2), (0.7, 0.3), (1.0, 0.0)),
    ),
}


def _throw_animate(n, fps, p):
    """Winds up with the chest turned away, steps with the other leg and whips the arm through."""
    track = still(n)
    u, _ = reps(n, 1, 1.4 / p["speed"] * fps)
    forward_keys, elbow_keys = _THROWS[p["style"]]
    arm(
        track.angles,
        p["side"],
        forward=keyframes(u, forward_keys),
        elbow=keyframes(u, elbow_keys),
        abduct=0.3 * keyframes(u, ((0.0, 0.0), (0.45, 1.0), (0.7, 0.0), (1.0, 0.0))),
    )
    arm(track.angles, other(p["side"]), forward=0.4 * keyframes(u, ((0.0, 0.0), (0.45, 1.0), (1.0, 0.0))), elbow=0.5)
    s = sign(p["side"])
    spine(
        track.angles,
        twist=s * keyframes(u, ((0.0, 0.0), (0.5, 0.5), (0.7, -0.4), (1.0, 0.0))),
        flex=keyframes(u, ((0.0, 0.0), (0.5, -0.1), (0.7, 0.35), (1.0, 0.0))),
    )
    leg(track.angles, other(p["side"]), flex=0.35 * keyframes(u, ((0.0, 0.0), (0.45, 1.0), (0.85, 1.0), (1.0, 0.0))))
    return track


def _dance_sample(rng):
    params = {
        "style": pick(rng, ("arms", "sway", "steps")),
        "speed": uniform(rng, 0.8, 1.3),
        "phase": uniform(rng, 0.0, 1.0),
    }
    return params, uniform(rng, 3.0, 9.0)


def _dance_animate(n, fps, p):
    """Bounces on the beat with swaying hips; `style` adds waving arms, a swaying upper body or side steps."""
    track = still(n)
    beat = 2 * np.pi * (1.0 * p["speed"] * np.arange(n) / fps + p["phase"])  # (n,) one cycle = two beats
    crouch(track.angles, 0.15 * (0.5 - 0.5 * np.cos(2 * beat)))
    track.angles[:, JOINT["pelvis"], 2] += 0.12 * np.sin(beat)
    spine(track.angles, tilt=0.15 * np.sin(beat))
    if p["style"] == "arms":
        for side, s in (("left", 1.0), ("right", -1.0)):
            arm(track.angles, side, forward=1.4 + 1.2 * s * np.sin(beat), abduct=0.3, elbow=0.6)
    elif p["style"] == "sway":
        track.angles[:, JOINT["pelvis"], 1] += 0.35 * np.sin(0.5 * beat)
        for side in ("left", "right"):
            arm(track.angles, side, forward=0.5, abduct=0.5 + 0.3 * np.sin(beat), elbow=1.3)
    else:
        for side, s in (("left", 1.0), ("right", -1.0)):
            step = np.maximum(s * np.sin(beat), 0.0)
            leg(track.angles, side, abduct=0.2 * step)
            lift_foot(track.angles, side, 0.4 * step)
            arm(track.angles, side, forward=0.5 * s * np.sin(beat), elbow=1.2)
    return track


def _idle_sample(rng):
    return {"look_around": bool(rng.random() < 0.4), "phase": uniform(rng, 0.0, 1.0)}, uniform(rng, 2.0, 8.0)


def _idle_animate(n, fps, p):
    """Stands with a slow weight shift, relaxed arms, and with `look_around` turns the head left and right."""
    track = still(n)
    t = np.arange(n) / fps
    shift = np.sin(2 * np.pi * (0.2 * t + p["phase"]))
    track.angles[:, JOINT["pelvis"], 2] += 0.04 * shift
    spine(track.angles, tilt=0.05 * shift)
    for side in ("left", "right"):
        arm(track.angles, side, abduct=0.08, elbow=0.15)
    if p["look_around"]:
        track.angles[:, JOINT["neck"], 1] += 0.7 * np.sin(2 * np.pi * 0.25 * t) * envelope(n, fps, 0.5)
    return track


GESTURE_ACTIONS = (
    Action("squat", _squat_sample, _squat_animate),
    Action("kick", _kick_sample, _kick_animate),
    Action("punch", _punch_sample, _punch_animate),
    Action("wave", _wave_sample, _wave_animate),
    Action("clap", _clap_sample, _clap_animate),
    Action("sit_down", _sit_sample, _sit_animate, end_posture="seated"),
    Action("stand_up", _sit_sample, _stand_animate, start_posture="seated"),
    Action("bend_over", _bend_sample, _bend_animate),
    Action("throw", _throw_sample, _throw_animate),
    Action("dance", _dance_sample, _dance_animate),
    Action("idle", _idle_sample, _idle_animate),
)
