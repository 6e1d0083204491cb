"""Phoneme timings from CMU (ARPAbet) phones with end times, converted to IPA.

The face engine (:mod:`characters.face.visemes`) reads IPA symbols with a duration in samples.
Piper, Kokoro and hibari report their own (:mod:`characters.voices.piper`,
:mod:`characters.voices.kokoro`, :mod:`characters.voices.hibari`: misaki symbols, see
:func:`misaki_to_ipa`); flite and festival give phone end times in seconds, in CMU phone names, which
:func:`timings_from_ends` turns into the same form.
"""

from __future__ import annotations

from collections.abc import Sequence

from characters.face.generator import PhonemeTiming

ARPABET_IPA: dict[str, str] = {
    "aa": "ɑ",
    "ae": "æ",
    "ah": "ʌ",
    "ao": "ɔ",
    "aw": "aʊ",
    "ax": "ə",
    "axr": "ɚ",
    "ay": "aɪ",
    "b": "b",
    "ch": "tʃ",
    "d": "d",
    "dh": "ð",
    "dx": "ɾ",
    "eh": "ɛ",
    "el": "l",
    "em": "m",
    "en": "n",
    "er": "ɝ",
    "ey": "eɪ",
    "f": "f",
    "g": "ɡ",
    "hh": "h",
    "ih": "ɪ",
    "ix": "ɨ",
    "iy": "i",
    "jh": "dʒ",
    "k": "k",
    "l": "l",
    "m": "m",
    "n": "n",
    "ng": "ŋ",
    "nx": "n",
    "ow": "oʊ",
    "oy": "ɔɪ",
    "p": "p",
    "pau": "",
    "h#": "",
    "r": "ɹ",
    "s": "s",
    "sh": "ʃ",
    "t": "t",
    "th": "θ",
    "uh": "ʊ",
    "uw": "u",
    "v": "v",
    "w": "w",
    "y": "j",
    "z": "z",
    "zh": "ʒ",
}
"""CMU phone set (flite, festival) → IPA. Pauses become the empty phoneme (a rest pose)."""


def timings_from_ends(
    phones: Sequence[tuple[str, float]], sample_rate: int, num_samples: int
) -> tuple[PhonemeTiming, ...]:
    """Timings from CMU phones with their end times in seconds, fitted to ``num_samples``.

    The last phone is stretched or cut so the durations sum to the chunk's length exactly.
    """
    out: list[PhonemeTiming] = []
    start = 0
    for name, end_s in phones:
        end = min(num_samples, max(start, round(end_s * sample_rate)))
        if end > start:
            out.append(PhonemeTiming(ARPABET_IPA.get(name.lower(), name.lower()), end - start))
        start = end
    if start < num_samples:
        if out:
            last = out[-1]
            out[-1] = PhonemeTiming(last.phoneme, last.num_samples + num_samples - start)
        else:
            out.append(PhonemeTiming("", num_samples))
    return tuple(out)


MISAKI_IPA: dict[str, str] = {
    "A": "eɪ",
    "I": "aɪ",
    "O": "oʊ",
    "Q": "əʊ",
    "W": "aʊ",
    "Y": "ɔɪ",
    "T": "ɾ",
    "ʧ": "tʃ",
    "ʤ": "dʒ",
    "ᵊ": "ə",
}
"""misaki's one-letter symbols (hibari's G2P, as Kokoro was trained on) → IPA: the diphthongs are
capitals, the affricates ligatures. Every other misaki symbol is IPA already."""


def misaki_to_ipa(symbol: str) -> str:
    """The IPA of one misaki phoneme symbol (itself when it is IPA already)."""
    return MISAKI_IPA.get(symbol, symbol)
