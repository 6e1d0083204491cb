"""Text to speech: text in, mono 16-bit PCM chunks with phoneme timings out.

An engine (:class:`TTSEngine`) synthesizes one :class:`EngineVoice` at its native rate
(22 050 Hz for Piper, 24 000 Hz for Kokoro) and yields :class:`SpeechChunk` s, about one per
sentence, each with the phonemes it holds on the same sample clock when the engine can align
them (Piper can). The face engine takes those chunks unchanged
(:class:`characters.face.AudioChunk`), so the mouth follows the phonemes actually spoken.

:data:`ENGINE_VOICES` maps the 30 preset voice ids of the API to engine voices; it is the one
place that decides what a preset sounds like. :func:`synthesize` is the entry point for callers
that have a preset id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from characters.errors import InvalidInput
from characters.face.generator import AudioChunk, PhonemeTiming
from characters.voices.presets import PRESET_IDS


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    """Mono int16 PCM and, when the engine aligns them, the phonemes it holds from its start."""

    pcm: npt.NDArray[np.int16]
    sample_rate: int
    phonemes: tuple[PhonemeTiming, ...] | None = None

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / self.sample_rate

    def to_audio_chunk(self) -> AudioChunk:
        """The same audio for :meth:`characters.face.FaceVideoGenerator.push_audio`."""
        return AudioChunk(self.pcm, self.sample_rate, self.phonemes)


@dataclass(frozen=True, slots=True)
class EngineVoice:
    """One voice of one engine, with the delivery settings that make a preset of it."""

    engine: str
    """Engine name: ``piper`` (later also ``kokoro``, ``festival``)."""
    voice: str
    """The engine's own voice name, e.g. ``joe``."""
    length_scale: float = 1.0
    """Speaking pace: above 1 is slower, below 1 faster. Changes timing only, never pitch."""


class UnknownVoice(InvalidInput):
    """A preset id (or engine voice) this server does not have."""


class TTSEngine(Protocol):
    """A speech synthesizer. Implementations load their models lazily and are thread-safe."""

    @property
    def name(self) -> str: ...

    def voices(self) -> Sequence[str]:
        """The engine voice names it can speak."""
        ...

    def sample_rate(self, voice: EngineVoice) -> int:
        """The rate of every chunk :meth:`synthesize` yields for ``voice``."""
        ...

    def synthesize(self, text: str, voice: EngineVoice) -> Iterator[SpeechChunk]:
        """Speech for ``text``, chunk by chunk (about one chunk per sentence)."""
        ...


def _preset_table() -> dict[str, EngineVoice]:
    # Pace per preset, from its description (presets.py): calm and soft voices slower,
    # energetic ones faster. 1.0 is Piper joe's own pace.
    pace = {
        "victoria": 0.97,
        "vincent": 1.05,
        "clara": 1.08,
        "drew": 1.02,
        "skye": 0.94,
        "max": 0.92,
        "morgan": 1.04,
        "felix": 0.93,
        "mia": 0.98,
        "marcus": 1.06,
        "summer": 0.96,
        "ruby": 0.97,
        "aurora": 1.12,
        "jasper": 1.07,
        "leo": 1.0,
        "adrian": 1.0,
        "nina": 1.01,
        "emma": 1.03,
        "blake": 0.95,
        "david": 1.08,
        "maya": 1.06,
        "nathan": 1.0,
        "sam": 1.0,
        "georgia": 1.04,
        "petra": 0.99,
        "adam": 1.03,
        "zach": 0.9,
        "violet": 1.1,
        "roman": 1.09,
        "luna": 1.12,
    }
    assert set(pace) == set(PRESET_IDS), "every preset voice needs an engine voice"
    return {pid: EngineVoice("piper", "joe", length_scale=pace[pid]) for pid in PRESET_IDS}


ENGINE_VOICES: dict[str, EngineVoice] = _preset_table()
"""Preset voice id → the engine voice that speaks it.

For now **every preset is Piper's ``joe``** (en_US-joe-medium, a US English male voice, the only
neural English voice packaged on the registries we install from), told apart only by pace
(``length_scale``); pitch is never shifted, since shifted voices sound processed. The next
voice issue adds Kokoro and festival voices, so that the female presets (clara, victoria, ...)
get female voices; only this table changes then.
"""


def _engines() -> dict[str, TTSEngine]:
    from characters.voices.piper import PIPER

    return {PIPER.name: PIPER}


def engine_voice(preset_id: str) -> EngineVoice:
    """The engine voice of a preset id, or :class:`UnknownVoice` naming the valid ids."""
    try:
        return ENGINE_VOICES[preset_id]
    except KeyError:
        raise UnknownVoice(
            f"Unknown voice {preset_id!r}; choose one of: {', '.join(PRESET_IDS)}.", ["voice"]
        ) from None


def engine_for(voice: EngineVoice) -> TTSEngine:
    engines = _engines()
    if voice.engine not in engines:
        raise UnknownVoice(f"TTS engine {voice.engine!r} is not installed.", ["voice"])
    return engines[voice.engine]


def synthesize(text: str, preset_id: str) -> Iterator[SpeechChunk]:
    """Speak ``text`` with a preset voice, chunk by chunk."""
    voice = engine_voice(preset_id)
    return engine_for(voice).synthesize(text, voice)


CHARS_PER_S = 16.0
"""Characters of English text Piper joe says per second at ``length_scale`` 1 (15.6–17.1
measured on three texts of 77–169 characters, pauses included)."""


def estimate_duration_s(text: str, preset_id: str) -> float:
    """A rough speaking time for ``text`` (for cost estimates before synthesis)."""
    voice = ENGINE_VOICES.get(preset_id, EngineVoice("piper", "joe"))
    return max(1.0, len(text) / CHARS_PER_S) * voice.length_scale
