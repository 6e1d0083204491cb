"""Mouth shapes (visemes) and how IPA phonemes with timings become a smooth mouth track.

Eleven visemes cover English: rest, closed M/B/P, F/V, TH, L, open A, wide E/I, rounded O,
U/W, SH/CH, and a transition shape for the remaining consonants. Each is a mouth pose in
:class:`~characters.face.params.FaceParams` terms. Phonemes arrive as Piper gives them: an IPA
symbol and a duration in samples. The track is the phonemes' poses as steps in time, convolved
with a Gaussian (coarticulation: each pose bleeds into its neighbours). Bilabials are special:
the lips must really meet, so their closure uses a much narrower window and wins over the
neighbouring vowels.
"""

from __future__ import annotations

import bisect
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FArray = npt.NDArray[np.float64]

MOUTH_FIELDS = ("open", "pucker", "spread", "press", "upper_lift", "tongue")
COARTICULATION_S = 0.035
"""Standard deviation of the coarticulation window."""
CLOSURE_S = 0.012
"""Narrower window for the bilabial closure, so M/B/P close fully even when short."""
MIN_CLOSURE = 0.9


class Viseme(StrEnum):
    """The mouth shapes the animator knows."""

    REST = "rest"
    MBP = "mbp"
    FV = "fv"
    TH = "th"
    L = "l"
    AA = "aa"
    EE = "ee"
    OH = "oh"
    UW = "uw"
    CH = "ch"
    TRANSITION = "transition"


SHAPES: dict[Viseme, tuple[float, float, float, float, float, float]] = {
    # open, pucker, spread, press, upper_lift, tongue
    Viseme.REST: (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    Viseme.MBP: (0.0, 0.0, 0.0, 1.0, 0.0, 0.0),
    Viseme.FV: (0.1, 0.0, 0.15, 0.0, 0.7, 0.0),
    Viseme.TH: (0.22, 0.0, 0.1, 0.0, 0.25, 1.0),
    Viseme.L: (0.3, 0.0, 0.1, 0.0, 0.15, 0.9),
    Viseme.AA: (0.85, 0.0, 0.1, 0.0, 0.15, 0.0),
    Viseme.EE: (0.32, 0.0, 0.75, 0.0, 0.25, 0.0),
    Viseme.OH: (0.55, 0.7, 0.0, 0.0, 0.0, 0.0),
    Viseme.UW: (0.18, 1.0, 0.0, 0.0, 0.0, 0.0),
    Viseme.CH: (0.2, 0.6, 0.0, 0.0, 0.35, 0.0),
    Viseme.TRANSITION: (0.28, 0.0, 0.15, 0.0, 0.1, 0.0),
}
"""Mouth pose of each viseme, in :data:`MOUTH_FIELDS` order."""

# IPA symbol -> (viseme, scale of its opening). Vowels vary in jaw opening.
_IPA: dict[str, tuple[Viseme, float]] = {
    **dict.fromkeys("pbm", (Viseme.MBP, 1.0)),
    **dict.fromkeys("fvʋ", (Viseme.FV, 1.0)),
    **dict.fromkeys("θð", (Viseme.TH, 1.0)),
    **dict.fromkeys("ʃʒ", (Viseme.CH, 1.0)),
    **dict.fromkeys("wʍ", (Viseme.UW, 1.0)),
    **dict.fromkeys("lɫɬ", (Viseme.L, 1.0)),
    **dict.fromkeys("tdnszkgŋhɹrɾxçʔɡɲ", (Viseme.TRANSITION, 1.0)),
    "j": (Viseme.EE, 0.6),
    "ɑ": (Viseme.AA, 1.0),
    "a": (Viseme.AA, 1.0),
    "ɐ": (Viseme.AA, 0.75),
    "æ": (Viseme.AA, 0.85),
    "ʌ": (Viseme.AA, 0.7),
    "ə": (Viseme.AA, 0.5),
    "ɚ": (Viseme.CH, 1.0),
    "ɝ": (Viseme.CH, 1.1),
    "ɜ": (Viseme.AA, 0.6),
    "ᵻ": (Viseme.EE, 0.8),
    "ɛ": (Viseme.EE, 1.5),
    "e": (Viseme.EE, 1.2),
    "ɪ": (Viseme.EE, 0.9),
    "i": (Viseme.EE, 0.8),
    "ɔ": (Viseme.OH, 1.1),
    "ɒ": (Viseme.OH, 1.2),
    "o": (Viseme.OH, 0.9),
    "ʊ": (Viseme.UW, 1.3),
    "u": (Viseme.UW, 1.0),
    "y": (Viseme.UW, 1.0),
}
_PAUSE = set(".,;:!?…—–-()\"'")
_CONTINUE = {"ː", "ˑ", "ˈ", "ˌ", " ", "_", "^", "$", "‿", "͡", "̃"}
"""Symbols that carry no mouth shape of their own: the previous pose continues."""


def _symbols(phoneme: str) -> list[str]:
    """Base IPA letters of a phoneme string (tie bars and diacritics dropped)."""
    out = []
    for ch in unicodedata.normalize("NFD", phoneme):
        if unicodedata.combining(ch) or ch in ("͡", "‿"):
            continue
        out.append(ch)
    return out


def ipa_to_visemes(phoneme: str) -> list[tuple[Viseme, float]] | None:
    """The viseme(s) of one IPA phoneme, each with its opening scale.

    Returns a list (two entries for diphthongs such as ``aɪ``, which are spread over the
    phoneme's duration), ``[(REST, 1)]`` for punctuation or an empty phoneme (a pause), and None
    for symbols that continue the previous pose (stress and length marks, word gaps, padding).
    """
    syms = _symbols(phoneme)
    if not syms:  # espeak reports pauses as empty phonemes
        return [(Viseme.REST, 1.0)]
    if all(s in _CONTINUE for s in syms):
        return None
    if all(s in _PAUSE or s in _CONTINUE for s in syms):
        return [(Viseme.REST, 1.0)]
    if "".join(syms) in ("tʃ", "dʒ"):
        return [(Viseme.CH, 1.0)]
    found = [_IPA[s] for s in syms if s in _IPA]
    if not found:
        return [(Viseme.TRANSITION, 1.0)]
    merged: list[tuple[Viseme, float]] = []
    for v in found:
        if not merged or merged[-1] != v:
            merged.append(v)
    return merged[:2]


def shape_of(viseme: Viseme, scale: float = 1.0) -> FArray:
    """The mouth pose of a viseme with its opening scaled."""
    pose = np.array(SHAPES[viseme], dtype=np.float64)
    pose[0] = min(1.0, pose[0] * scale)
    return pose


STRESS_LENGTH = 1.25
"""A vowel this many times longer than the utterance's typical vowel so far counts as stressed
(or one marked ˈ, when the voice gives stress marks)."""
EMPHASIS_S = 0.36
"""How long the head and brows take over one stressed syllable (a small nod, brows up)."""
_VOWELS = frozenset("ɑaɐæʌəɚɝɜᵻɛeɪiɔɒoʊuy")


@dataclass(frozen=True, slots=True)
class _Key:
    start: float
    end: float
    pose: FArray
    closure: bool


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


class VisemeTrack:
    """A segment's mouth poses over time (seconds from the segment's first sample)."""

    def __init__(self) -> None:
        self._keys: list[_Key] = []
        self._starts: list[float] = []
        self._end = 0.0
        self._last: tuple[Viseme, float] = (Viseme.REST, 1.0)
        self._vowel_lengths: list[float] = []
        self._stressed: list[float] = []
        self._marked = False

    @property
    def empty(self) -> bool:
        """Whether no phoneme has been added."""
        return not self._keys

    def add(self, phonemes: Iterable[tuple[str, float]], start: float) -> None:
        """Append phonemes ``(ipa, duration_s)`` that begin at ``start`` seconds."""
        t = max(start, self._end)
        for ipa, duration in phonemes:
            self._note_stress(ipa, t, duration)
            if duration <= 0:
                continue
            visemes = ipa_to_visemes(ipa)
            if visemes is None:
                visemes = [self._last]
            step = duration / len(visemes)
            for k, (vis, scale) in enumerate(visemes):
                b = t + k * step
                self._append(_Key(b, b + step, shape_of(vis, scale), vis is Viseme.MBP))
                self._last = (vis, scale)
            t += duration
        self._end = t

    def _note_stress(self, ipa: str, start: float, duration: float) -> None:
        """Remember when stressed vowels start (for :meth:`emphasis_at`)."""
        if "ˈ" in ipa:
            self._marked = True
        syms = _symbols(ipa)
        if duration <= 0 or not any(s in _VOWELS for s in syms):
            return
        lengths = self._vowel_lengths
        typical = float(np.median(lengths)) if lengths else duration
        if self._marked or (len(lengths) >= 2 and duration >= STRESS_LENGTH * typical):
            self._stressed.append(start)
        self._marked = False
        lengths.append(duration)
        if len(lengths) > 40:
            del lengths[:-40]

    def emphasis_at(self, t: float) -> float:
        """0–1: how far into the small nod of a stressed syllable ``t`` is (0 between them)."""
        i = bisect.bisect_right(self._stressed, t)
        value = 0.0
        for start in self._stressed[max(0, i - 2) : i]:
            x = (t - start) / EMPHASIS_S
            if 0.0 <= x < 1.0:
                value = max(value, math.sin(math.pi * x) ** 2)
        return value

    def _append(self, key: _Key) -> None:
        prev = self._keys[-1] if self._keys else None
        if prev is not None and prev.closure == key.closure and np.array_equal(prev.pose, key.pose):
            self._keys[-1] = _Key(prev.start, key.end, prev.pose, prev.closure)
            return
        self._keys.append(key)
        self._starts.append(key.start)

    def pose_at(self, t: float) -> FArray:
        """The smoothed mouth pose (:data:`MOUTH_FIELDS` order) at ``t`` seconds."""
        sigma = COARTICULATION_S
        lo = bisect.bisect_left(self._starts, t - 6 * sigma - 1.0)
        pose = np.zeros(len(MOUTH_FIELDS))
        closure = 0.0
        for key in self._keys[max(0, lo - 1) :]:
            if key.start > t + 4 * sigma:
                break
            if key.end < t - 4 * sigma:
                continue
            w = _phi((key.end - t) / sigma) - _phi((key.start - t) / sigma)
            pose += w * key.pose
            if key.closure:
                c = _phi((key.end - t) / CLOSURE_S) - _phi((key.start - t) / CLOSURE_S)
                closure = max(closure, c)
        if closure > 0:
            press = max(pose[3], min(1.0, closure / 0.5) * MIN_CLOSURE)
            keep = 1.0 - press
            pose[[0, 1, 2, 4, 5]] *= keep
            pose[3] = press
        return pose
