"""Phoneme timings for engines that do not align their own: IPA splitting, duration estimates,
and CMU (ARPAbet) phones converted to IPA.

The face engine (:mod:`characters.face.visemes`) reads IPA symbols with a duration in samples.
Kokoro gives a phoneme string and audio but no durations, so :func:`estimate_timings` spreads the
chunk's samples over its phonemes by class weight (vowels and pauses longer than consonants).
flite and festival give real phone end times in seconds, in CMU phone names;
:func:`timings_from_ends` turns those into the same form.
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

VOWELS = set("aeiouæɑɐɒɔəɚɛɜɝɨɪʊʌᵻyø")
_STOPS = set("pbtdkgɡʔɾ")
_DIPHTHONGS = ("aɪ", "aʊ", "eɪ", "oʊ", "ɔɪ", "əʊ", "ɪə", "eə", "ʊə")
_AFFRICATES = ("tʃ", "dʒ")
_SKIP = set('ˈˌ ‿-"“”()')
_PAUSES = {",": 1.6, ";": 2.0, ":": 2.0, "—": 2.0, "–": 2.0, "…": 2.5}
_ENDS = set(".!?")
_LONG = "ː"


def split_ipa(phonemes: str) -> list[str]:
    """IPA phonemes of an espeak-style string: diphthongs and affricates kept whole, length
    marks attached, stress marks and word gaps dropped, clause punctuation kept as pauses."""
    out: list[str] = []
    i = 0
    n = len(phonemes)
    while i < n:
        ch = phonemes[i]
        if ch in _SKIP:
            i += 1
            continue
        if ch == _LONG:
            if out and out[-1] not in _PAUSES:
                out[-1] += ch
            i += 1
            continue
        pair = phonemes[i : i + 2]
        if pair in _DIPHTHONGS or pair in _AFFRICATES:
            out.append(pair)
            i += 2
            continue
        out.append(ch)
        i += 1
    # A sentence's final mark is silence the engine trims: give it no time.
    while out and out[-1] in _ENDS:
        out.pop()
    return out


def weight(phoneme: str) -> float:
    """Relative duration of a phoneme (a short consonant is about 0.6)."""
    if phoneme in _PAUSES:
        return _PAUSES[phoneme]
    if phoneme in _ENDS:
        return 2.0
    base = phoneme.rstrip(_LONG)
    long = 0.5 if phoneme.endswith(_LONG) else 0.0
    if base in _DIPHTHONGS:
        return 1.7 + long
    if base and base[0] in VOWELS:
        return 1.1 + long
    if base in _AFFRICATES:
        return 0.9
    if base in _STOPS:
        return 0.55
    return 0.7


def _apportion(weights: Sequence[float], total: int) -> list[int]:
    """Integers proportional to ``weights`` that sum to exactly ``total`` (largest remainder)."""
    wsum = sum(weights)
    if wsum <= 0 or total <= 0:
        return [0] * len(weights)
    raw = [w * total / wsum for w in weights]
    counts = [int(r) for r in raw]
    short = total - sum(counts)
    order = sorted(range(len(raw)), key=lambda k: raw[k] - counts[k], reverse=True)
    for k in order[:short]:
        counts[k] += 1
    return counts


def estimate_timings(phonemes: str, num_samples: int) -> tuple[PhonemeTiming, ...]:
    """Timings for an espeak-style IPA string spoken in ``num_samples`` samples.

    The durations always sum to ``num_samples``; pauses come out as the empty phoneme.
    """
    units = split_ipa(phonemes)
    if not units:
        return (PhonemeTiming("", num_samples),) if num_samples else ()
    counts = _apportion([weight(u) for u in units], num_samples)
    return tuple(
        PhonemeTiming("" if u in _PAUSES else u, c)
        for u, c in zip(units, counts, strict=True)
        if c > 0
    )


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
