"""Text to speech: text in, mono 16-bit PCM chunks with phoneme timings out.

An engine (:class:`TTSEngine`) synthesizes one :class:`EngineVoice` at its native rate
(22 050 Hz for Piper, 24 000 Hz for Kokoro and hibari, 16 000 Hz for flite, 32 000 Hz for
festival) and yields :class:`SpeechChunk` s as it goes, one per sentence (the first one cut at a
clause when long, see :mod:`characters.voices.text`), each with the phonemes it holds on the same
sample clock: each engine's own durations (Piper's alignments, Kokoro's and hibari's duration
predictors, flite's and festival's phone end times). The face engine takes those chunks unchanged
(:class:`characters.face.AudioChunk`), so the mouth follows the phonemes spoken.

:data:`ENGINE_VOICES` maps the 30 preset voice ids of the API to engine voices; it is the one
place that decides what a preset sounds like. :func:`synthesize` is the entry point for callers
that have a preset id; :func:`check_voice` (at start) says early when an engine is missing.
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
    """Engine name: ``hibari``, ``piper``, ``kokoro``, ``flite`` or ``festival``."""
    voice: str
    """The engine's own voice name (``joe``, ``slt``), or for Kokoro a style blend such as
    ``jf_alpha*0.6+jf_nezumi*0.4`` (weights of the packaged voice packs' style vectors)."""
    length_scale: float = 1.0
    """Speaking pace: above 1 is slower, below 1 faster. Changes timing only, never pitch."""
    noise_scale: float | None = None
    """Piper only: generator noise (expressiveness); None keeps the voice's own (0.667)."""
    noise_w: float | None = None
    """Piper only: phoneme-duration noise (rhythm variation); None keeps the voice's own (0.8)."""
    pitch: float = 1.0
    """hibari only: pitch and formants times this (a smaller or larger speaker); pace unchanged."""

    def describe(self) -> str:
        """A short label such as ``piper joe ×1.05``."""
        text = f"{self.engine} {self.voice}"
        if self.length_scale != 1.0:
            text += f" ×{self.length_scale:g}"
        if self.noise_scale is not None:
            text += f" noise {self.noise_scale:g}"
        if self.noise_w is not None:
            text += f" noise_w {self.noise_w:g}"
        if self.pitch != 1.0:
            text += f" pitch ×{self.pitch:g}"
        return text


class UnknownVoice(InvalidInput):
    """A preset id (or engine voice) this server does not have."""


class EngineUnavailable(InvalidInput):
    """The engine (binary or model package) that a voice needs is not installed here."""


class TTSEngine(Protocol):
    """A speech synthesizer. Implementations load their models lazily, once per process, and
    are thread-safe."""

    @property
    def name(self) -> str: ...

    def voices(self) -> Sequence[str]:
        """The engine voice names it can speak."""
        ...

    def check(self, voice: EngineVoice) -> None:
        """Raise :class:`EngineUnavailable` (or :class:`UnknownVoice`) if ``voice`` cannot be
        spoken here; cheap, loads nothing."""
        ...

    def warm_up(self, voice: EngineVoice) -> None:
        """Load what ``voice`` needs now, so the first real request is fast."""
        ...

    def sample_rate(self, voice: EngineVoice) -> int:
        """The rate of every chunk :meth:`synthesize` yields for ``voice``."""
        ...

    def synthesize(self, text: str, voice: EngineVoice) -> Iterator[SpeechChunk]:
        """Speech for ``text``, one chunk per piece of :func:`split_for_speech` (a sentence, the
        first one cut short), each yielded as soon as it is made, with phoneme timings."""
        ...


def _preset_table() -> dict[str, EngineVoice]:
    # Gender and character per preset come from its description (presets.py). Neural voices
    # only: hibari heart (female, native US English) for the female presets, told apart by
    # pitch (with formants: a smaller or larger speaker) and pace; Piper joe and Kokoro jm_kumo,
    # alone or blended, for the male and neutral ones.
    h, k, p = "hibari", "kokoro", "piper"
    table = {
        # female: hibari heart; pitch 0.91 (about 170 Hz on the bench sentences) .. 1.16 (about
        # 220 Hz), each pitch step of 1-3 % paired with a different pace
        "clara": EngineVoice(h, "heart", 1.05, pitch=1.0),
        "victoria": EngineVoice(h, "heart", 0.95, pitch=0.94),
        "skye": EngineVoice(h, "heart", 0.9, pitch=1.14),
        "mia": EngineVoice(h, "heart", 0.99, pitch=1.1),
        "summer": EngineVoice(h, "heart", 0.95, pitch=1.12),
        "ruby": EngineVoice(h, "heart", 0.92, pitch=1.04),
        "aurora": EngineVoice(h, "heart", 1.1, pitch=0.92),
        "nina": EngineVoice(h, "heart", 0.98, pitch=1.02),
        "emma": EngineVoice(h, "heart", 1.03, pitch=1.06),
        "maya": EngineVoice(h, "heart", 1.09, pitch=1.08),
        "georgia": EngineVoice(h, "heart", 1.04, pitch=0.96),
        "petra": EngineVoice(h, "heart", 0.98, pitch=0.91),
        "violet": EngineVoice(h, "heart", 1.06, pitch=1.16),
        "luna": EngineVoice(h, "heart", 1.15, pitch=0.98),
        # male: Piper joe (cheap, aligned) and Kokoro jm_kumo, alone and blended
        "vincent": EngineVoice(p, "joe", 1.05, 0.6, 0.7),
        "drew": EngineVoice(p, "joe", 1.02, 0.75, 0.9),
        "max": EngineVoice(k, "jm_kumo*0.8+jf_alpha*0.2", 0.9),
        "morgan": EngineVoice(k, "jm_kumo*0.7+jf_nezumi*0.3", 1.04),
        "felix": EngineVoice(p, "joe", 0.92, 0.85, 1.0),
        "marcus": EngineVoice(k, "jm_kumo", 1.05),
        "jasper": EngineVoice(p, "joe", 1.08, 0.5, 0.6),
        "leo": EngineVoice(p, "joe", 0.98, 0.8, 1.0),
        "adrian": EngineVoice(k, "jm_kumo*0.9+jf_alpha*0.1", 1.0),
        "blake": EngineVoice(p, "joe", 0.95, 0.6, 0.6),
        "david": EngineVoice(k, "jm_kumo", 1.12),
        "nathan": EngineVoice(p, "joe", 1.0, 0.667, 0.8),
        "sam": EngineVoice(k, "jm_kumo*0.6+jf_gongitsune*0.4", 1.0),
        "adam": EngineVoice(p, "joe", 1.1, 0.55, 0.7),
        "zach": EngineVoice(k, "jm_kumo*0.75+jf_tebukuro*0.25", 0.9),
        "roman": EngineVoice(p, "joe", 1.15, 0.5, 0.5),
    }
    assert set(table) == set(PRESET_IDS), "every preset voice needs an engine voice"
    return {pid: table[pid] for pid in PRESET_IDS}


ENGINE_VOICES: dict[str, EngineVoice] = _preset_table()
"""Preset voice id → the engine voice that speaks it (the one place that decides what a preset
sounds like; docs/voices.md has the table with measured intelligibility and speed).

Female presets speak with hibari heart (a native US English voice distilled from Kokoro's
af_heart), told apart by pitch and pace; male presets with Piper joe or Kokoro jm_kumo (voice
pack, style blend, pace and Piper's noise settings; never pitch-shifted); the neutral ones with
Kokoro blends. Kokoro's Japanese female packs stay usable by engine voice (``EngineVoice("kokoro",
"jf_alpha")``) but speak no preset. flite and festival voices are available as
fallbacks (``EngineVoice("flite", "slt")``, ``EngineVoice("festival", "slt_hts")``) but no preset
uses them by default.
"""

FALLBACK_VOICES: dict[str, EngineVoice] = {
    "female": EngineVoice("festival", "slt_hts"),
    "male": EngineVoice("flite", "rms"),
}
"""Robotic but always-offline voices (Debian packages), for a build without the neural models."""


def _engines() -> dict[str, TTSEngine]:
    from characters.voices.festival import FESTIVAL, FLITE
    from characters.voices.hibari import HIBARI
    from characters.voices.kokoro import KOKORO
    from characters.voices.piper import PIPER

    return {e.name: e for e in (HIBARI, PIPER, KOKORO, FLITE, FESTIVAL)}


def engine_voice(preset_id: str) -> EngineVoice:
    """The engine voice of a preset id, or :class:`UnknownVoice` naming the valid ids."""
    try:
        return ENGINE_VOICES[preset_id]
    except KeyError:
        raise UnknownVoice(
            f"Unknown voice {preset_id!r}; choose one of: {', '.join(PRESET_IDS)}.", ["voice"]
        ) from None


def engine_for(voice: EngineVoice) -> TTSEngine:
    """The engine that speaks ``voice``."""
    engines = _engines()
    if voice.engine not in engines:
        raise UnknownVoice(f"TTS engine {voice.engine!r} does not exist.", ["voice"])
    return engines[voice.engine]


def check_voice(preset_id: str) -> EngineVoice:
    """The preset's engine voice after checking it can be spoken here (call at start).

    Raises :class:`UnknownVoice` for an unknown id and :class:`EngineUnavailable`, whose message
    says what to install, when its engine is missing. Loads no model.
    """
    voice = engine_voice(preset_id)
    engine_for(voice).check(voice)
    return voice


def warm_up(preset_ids: Sequence[str] = ()) -> None:
    """Load the models of these presets now (all engines' models when none are given)."""
    voices = [engine_voice(p) for p in preset_ids] or list(ENGINE_VOICES.values())
    seen: set[tuple[str, str]] = set()
    for voice in voices:
        key = (voice.engine, voice.voice if voice.engine != "kokoro" else "")
        if key in seen:
            continue
        seen.add(key)
        engine = engine_for(voice)
        engine.check(voice)
        engine.warm_up(voice)


def sample_rate(preset_id: str) -> int:
    """The rate of every chunk :func:`synthesize` yields for the preset."""
    voice = engine_voice(preset_id)
    return engine_for(voice).sample_rate(voice)


def synthesize(text: str, preset_id: str) -> Iterator[SpeechChunk]:
    """Speak ``text`` with a preset voice, chunk by chunk (one per sentence, streaming)."""
    voice = engine_voice(preset_id)
    return engine_for(voice).synthesize(text, voice)


CHARS_PER_S = 16.0
"""Characters of English text a voice says per second at ``length_scale`` 1 (Piper joe:
15.6–17.1 measured on three texts of 77–169 characters, pauses included; Kokoro is close)."""


def estimate_duration_s(text: str, preset_id: str) -> float:
    """A rough speaking time for ``text`` (for cost estimates before synthesis)."""
    voice = ENGINE_VOICES.get(preset_id, EngineVoice("piper", "joe"))
    return max(1.0, len(text) / CHARS_PER_S) * voice.length_scale
