"""Word -> (lemma, part of speech) for every word the synthetic captions use (HumanML3D's spaCy-style tags)."""

from __future__ import annotations

# One entry per word, "word" or "word:lemma" when they differ, grouped by part of speech.
_WORDS = {
    "VERB": "walks:walk jogs:jog runs:run sprints:sprint strolls:stroll takes:take turns:turn steps:step moves:move "
    "sidesteps:sidestep shuffles:shuffle rotates:rotate makes:make spins:spin face jumps:jump leaps:leap "
    "hops:hop balances:balance does:do performs:perform spreading:spread squats:squat bends:bend "
    "kicks:kick punches:punch throws:throw boxes:box jabs:jab waves:wave raises:raise claps:clap "
    "applauds:applaud sits:sit lowers:lower gets:get rises:rise touches:touch leans:lean tosses:toss "
    "dances:dance sways:sway stands:stand waits:wait looks:look remains:remain standing:stand "
    "dancing:dance stepping:step jogging:jog running:run turning:turn waving:wave seated:seat",
    "NOUN": "person man woman curve pace place reverse turn degrees:degree feet:foot foot leg legs:leg arms:arm arm "
    "hand hands:hand fist fists:fist knees:knee toes:toe waist chair seat position squat kick "
    "punch series air ball object motion throw jacks:jack music dance hips:hip "
    "side times:time way line",
    "ADV": "forward straight ahead backwards backward back sideways around over overhand underhand high once twice "
    "then finally first slowly quickly up down together hello",
    "ADJ": "left right little few slow deep jumping star other idle still throwing",
    "ADP": "to in with on from into while at of",
    "DET": "a an the both",
    "PRON": "someone something their his her",
    "CCONJ": "and",
    "AUX": "is",
    "NUM": "one 90 180 three four five six seven eight",
}


def _build() -> dict[str, tuple[str, str]]:
    lexicon: dict[str, tuple[str, str]] = {}
    for pos, words in _WORDS.items():
        for entry in words.split():
            word, _, lemma = entry.partition(":")
            lexicon.setdefault(word, (lemma or word, pos))
    return lexicon


LEXICON = _build()
