"""Paraphrased captions of synthetic motions, their HumanML3D `word/POS` tokens, and the left/right swap for mirrors.

Each action has verb phrases that depend on its parameters (side, speed, count, ...); a caption is
a subject ("a person", "the man", ...) plus one phrase, or phrases joined by "then" for a
sequence. Different motions get the same captions on purpose, so text alone cannot tell them apart.
"""

from __future__ import annotations

import re

import numpy as np

from lavimo.data.synthetic_lexicon import LEXICON

# (subject, possessive); "a person" is listed three times to make it the most frequent, as in HumanML3D.
_SUBJECTS = (
    ("a person", "their"),
    ("a person", "their"),
    ("a person", "their"),
    ("someone", "their"),
    ("the person", "their"),
    ("a man", "his"),
    ("the man", "his"),
    ("a woman", "her"),
)
_NUMBERS = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count) or f"{_NUMBERS[count]} times"


def _pace(phrases: tuple[str, ...], speed: float, slow: float = 0.85, fast: float = 1.2) -> tuple[str, ...]:
    """Phrases with "slowly"/"quickly" added (after, or before the first) when the speed is notably low/high."""
    adverb = "slowly" if speed < slow else "quickly" if speed > fast else None
    if adverb is None:
        return phrases
    return phrases[:2] + tuple(f"{phrase} {adverb}" for phrase in phrases) + (f"{adverb} {phrases[0]}",)


def _gait(verb: str, extra: tuple[str, ...]):
    def phrases(p):
        d = p["path"]
        if d == "straight":
            return _pace((f"{verb} forward", f"{verb}", f"{verb} straight ahead") + extra, p["speed"])
        return _pace(
            (f"{verb} forward and turns {d}", f"{verb} in a curve to the {d}", f"{verb} while turning {d}", f"{verb}"),
            p["speed"],
        )

    return phrases


def _walk_backward(p):
    return _pace(
        (
            "walks backwards",
            "walks backward",
            "steps backwards",
            "moves backward",
            "takes a few steps back",
            "walks in reverse",
        ),
        p["speed"],
    )


def _sidestep(p):
    d = p["side"]
    return _pace(
        (
            f"sidesteps to the {d}",
            f"steps sideways to the {d}",
            f"side steps {d}",
            f"shuffles to the {d}",
            f"moves sideways to {{their}} {d}",
            "steps sideways",
        ),
        p["speed"],
    )


def _turn(p):
    d = p["side"]
    if p["angle"] == 180:
        return (
            "turns around",
            f"turns around to the {d}",
            "turns 180 degrees",
            "turns to face the other way",
            f"spins around to the {d}",
        )
    return (
        f"turns {d}",
        f"turns to the {d}",
        f"turns 90 degrees to the {d}",
        f"makes a {d} turn",
        f"turns to {{their}} {d}",
        f"rotates to the {d}",
    )


def _jump(p):
    base = (
        ("jumps forward", "leaps forward", "jumps forward with both feet")
        if p["distance"]
        else ("jumps up", "jumps in place", "jumps straight up")
    )
    extra = ("jumps high",) if p["height"] > 0.3 else ()
    return base + extra + ("jumps", f"jumps {_times(p['count'])}") + (("jumps up and down",) if p["count"] > 1 else ())


def _hop(p):
    s = p["side"]
    forward = ("hops forward on one leg",) if p["distance"] else ()
    return (
        f"hops on {{their}} {s} leg",
        f"hops on the {s} foot",
        "hops on one leg",
        "hops on one foot",
        f"jumps on {{their}} {s} foot",
        f"balances on the {s} leg and hops",
    ) + forward


def _jumping_jacks(p):
    number = _NUMBERS.get(p["count"], "a few")
    return _pace(
        (
            "does jumping jacks",
            "performs jumping jacks",
            f"does {number} jumping jacks",
            "does star jumps",
            "jumps while spreading {their} arms and legs",
        ),
        p["speed"],
    )


def _squat(p):
    many = ("does squats", f"squats {_times(p['count'])}") if p["count"] > 1 else ("does a squat",)
    deep = ("does a deep squat",) if p["depth"] > 1.0 else ()
    return _pace(("squats", "squats down", "bends {their} knees and squats") + many + deep, p["speed"])


def _kick(p):
    s = p["side"]
    high = ("kicks high",) if p["height"] > 1.25 else ()
    twice = ("kicks twice",) if p["count"] == 2 else ()
    return (
        (
            f"kicks with {{their}} {s} leg",
            f"kicks with the {s} foot",
            f"kicks forward with the {s} leg",
            "kicks",
            "kicks forward",
            f"does a {s} kick",
        )
        + high
        + twice
    )


def _punch(p):
    if p["alternate"]:
        phrases = (
            "punches",
            "throws punches",
            "boxes",
            "punches with both fists",
            "throws a series of punches",
            "punches the air",
        )
    else:
        s = p["side"]
        phrases = (
            f"punches with {{their}} {s} hand",
            f"punches with the {s} fist",
            f"throws a {s} punch",
            f"jabs with the {s} hand",
            "punches",
            "punches forward",
        )
    return _pace(phrases, p["speed"], fast=1.25)


def _wave(p):
    s = p["side"]
    if s == "both":
        phrases = ("waves both hands", "waves with both arms", "waves", "raises both arms and waves", "waves hello")
    else:
        phrases = (
            f"waves with {{their}} {s} hand",
            f"waves {{their}} {s} hand",
            f"raises {{their}} {s} hand and waves",
            f"waves hello with the {s} hand",
            "waves",
            "waves hello",
        )
    return _pace(phrases, p["speed"])


def _clap(p):
    return _pace(
        ("claps", "claps {their} hands", "claps hands", "claps {their} hands together", "applauds"), p["speed"]
    )


def _sit_down(p):
    return _pace(("sits down", "sits down on a chair", "takes a seat", "sits", "lowers into a chair"), p["speed"])


def _stand_up(p):
    return _pace(
        ("stands up", "gets up", "rises from a chair", "stands up from a chair", "gets up from a seated position"),
        p["speed"],
    )


def _bend_over(p):
    deep = ("bends over and touches {their} toes",) if p["depth"] > 0.85 else ()
    return _pace(
        ("bends over", "bends forward", "bends down", "leans forward and bends down", "bends at the waist") + deep,
        p["speed"],
    )


def _throw(p):
    s = p["side"]
    if p["style"] == "underhand":
        return (
            "tosses something underhand",
            f"throws a ball underhand with {{their}} {s} hand",
            "tosses a ball",
            "makes an underhand throw",
            "throws something",
        )
    return (
        f"throws something with {{their}} {s} hand",
        "throws a ball",
        f"throws a ball with the {s} hand",
        "makes a throwing motion",
        f"throws an object overhand with the {s} arm",
        "throws something",
    )


_DANCE_STYLES = {
    "arms": ("dances while waving {their} arms", "dances with {their} arms up"),
    "sway": ("dances and sways {their} hips", "sways to the music"),
    "steps": ("dances from side to side", "dances while stepping side to side"),
}


def _dance(p):
    return _pace(
        ("dances", "dances in place", "does a little dance", "is dancing") + _DANCE_STYLES[p["style"]], p["speed"]
    )


def _idle(p):
    if p["look_around"]:
        return ("stands and looks around", "looks around", "looks left and right", "stands in place")
    return ("stands still", "stands in place", "is standing", "stands and waits", "stands idle", "remains still")


PHRASES = {
    "walk": _gait("walks", ("takes a few steps forward", "strolls forward")),
    "jog": _gait("jogs", ("runs at a slow pace", "is jogging")),
    "run": _gait("runs", ("sprints forward", "is running")),
    "walk_backward": _walk_backward,
    "sidestep": _sidestep,
    "turn": _turn,
    "jump": _jump,
    "hop": _hop,
    "jumping_jacks": _jumping_jacks,
    "squat": _squat,
    "kick": _kick,
    "punch": _punch,
    "wave": _wave,
    "clap": _clap,
    "sit_down": _sit_down,
    "stand_up": _stand_up,
    "bend_over": _bend_over,
    "throw": _throw,
    "dance": _dance,
    "idle": _idle,
}
_CONNECTORS = {
    2: ("{0}, then {1}", "{0} and then {1}", "first {0}, then {1}"),
    3: ("{0}, then {1} and {2}", "{0}, {1}, and then {2}", "first {0}, then {1}, and finally {2}"),
}


def _sentence(rng: np.random.Generator, template: str, *phrases: str) -> str:
    subject, their = _SUBJECTS[int(rng.integers(len(_SUBJECTS)))]
    return f"{subject} {template.format(*phrases).format(their=their)}."


def _phrase(rng: np.random.Generator, action: str, params: dict) -> str:
    options = PHRASES[action](params)
    return options[int(rng.integers(len(options)))]


def action_captions(rng: np.random.Generator, action: str, params: dict, count: int) -> list[str]:
    """Up to `count` different whole-clip captions of one action (fewer only if the paraphrases run out)."""
    captions: list[str] = []
    for _ in range(20 * count):
        text = _sentence(rng, "{0}", _phrase(rng, action, params))
        if text not in captions:
            captions.append(text)
        if len(captions) == count:
            break
    return captions


def sequence_captions(rng: np.random.Generator, segments: list[tuple[str, dict]], count: int) -> list[str]:
    """`count` different captions of a whole sequence of 2-3 (action, params) segments, joined by "then"."""
    captions: list[str] = []
    templates = _CONNECTORS[len(segments)]
    for _ in range(20 * count):
        phrases = [_phrase(rng, action, params) for action, params in segments]
        text = _sentence(rng, templates[int(rng.integers(len(templates)))], *phrases)
        if text not in captions:
            captions.append(text)
        if len(captions) == count:
            break
    return captions


def tokens(text: str) -> str:
    """HumanML3D-style tokens `lemma/POS` of a caption, punctuation dropped; unknown words are OTHER."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return " ".join("{}/{}".format(*LEXICON.get(word, (word, "OTHER"))) for word in words)


def mirror_text(text: str) -> str:
    """The caption of the mirrored motion: "left" and "right" swapped."""
    return re.sub(r"\b(left|right)\b", lambda m: "right" if m.group(1) == "left" else "left", text)
