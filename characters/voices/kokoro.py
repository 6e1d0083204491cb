"""Kokoro-82M (int8 ONNX, via kokoro-onnx) speaking English through the packaged voice packs.

The only packaged Kokoro voice packs are Japanese (``kokoro-voices-ja``: jf_alpha, jf_gongitsune,
jf_nezumi, jf_tebukuro, jm_kumo), but the model is multilingual: with kokoro-onnx's own English
phonemizer (espeak-ng, ``lang="en-us"``) they speak English. A voice is one pack or a weighted
blend of packs' style vectors (``jf_alpha*0.6+jf_nezumi*0.4``), which gives more distinct voices
without any pitch shifting.

Kokoro reports no durations, so each chunk's phoneme timings are estimated from its phoneme
string and its audio length (:func:`characters.voices.phones.estimate_timings`).

The model loads once per process (about 1 s), on first use; one ONNX Runtime session with two
intra-op threads is shared, and a lock lets one synthesis run at a time (two at once would only
fight over the same two cores).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from characters.face.generator import PhonemeTiming
from characters.voices.models import model_path
from characters.voices.phones import estimate_timings
from characters.voices.text import split_for_speech
from characters.voices.tts import EngineUnavailable, EngineVoice, SpeechChunk, UnknownVoice

if TYPE_CHECKING:
    from kokoro_onnx import Kokoro

SAMPLE_RATE = 24_000
PACKS = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
"""The voice packs of ``kokoro-voices-ja`` (jf_ female, jm_ male)."""
THREADS = 2
SENTENCE_PAUSE_S = 0.25
CLAUSE_PAUSE_S = 0.1
LANG = "en-us"

F32 = npt.NDArray[np.float32]


def parse_blend(spec: str) -> list[tuple[str, float]]:
    """``"jf_alpha*0.6+jf_nezumi*0.4"`` → ``[("jf_alpha", 0.6), ("jf_nezumi", 0.4)]``, weights
    normalised to sum to 1; a bare pack name has weight 1."""
    parts: list[tuple[str, float]] = []
    for term in spec.split("+"):
        name, _, w = term.strip().partition("*")
        if name not in PACKS:
            raise UnknownVoice(
                f"Kokoro voice pack {name!r} does not exist; choose from {', '.join(PACKS)}.",
                ["voice"],
            )
        try:
            weight = float(w) if w else 1.0
        except ValueError:
            raise UnknownVoice(f"Bad weight {w!r} in Kokoro voice {spec!r}.", ["voice"]) from None
        if weight <= 0:
            raise UnknownVoice(f"Weights in Kokoro voice {spec!r} must be positive.", ["voice"])
        parts.append((name, weight))
    total = sum(w for _, w in parts)
    return [(n, w / total) for n, w in parts]


class KokoroEngine:
    """Kokoro TTS. Thread-safe: loads once under a lock; synthesis takes turns on one session."""

    name = "kokoro"

    def __init__(self) -> None:
        self._kokoro: Kokoro | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._styles: dict[str, F32] = {}

    def voices(self) -> Sequence[str]:
        return PACKS

    def check(self, voice: EngineVoice) -> None:
        parse_blend(voice.voice)
        if importlib.util.find_spec("kokoro_onnx") is None:
            raise EngineUnavailable(
                "Kokoro TTS is not installed; install it with `pip install kokoro-onnx==0.6.1`.",
                ["voice"],
            )
        model_path("kokoro-voices-ja")
        model_path("kokoro-v1.0-int8")

    def warm_up(self, voice: EngineVoice) -> None:
        list(self.synthesize("Hi.", voice))

    def load(self) -> Kokoro:
        """The loaded model (about 1 s the first time, then cached for the process)."""
        if self._kokoro is not None:
            return self._kokoro
        with self._load_lock:
            if self._kokoro is None:
                import onnxruntime as ort  # type: ignore[import-untyped]
                from kokoro_onnx import Kokoro

                # It warns on every call that espeak merged words ("words count mismatch").
                logging.getLogger("phonemizer").setLevel(logging.ERROR)
                options = ort.SessionOptions()
                options.intra_op_num_threads = THREADS
                options.inter_op_num_threads = 1
                session = ort.InferenceSession(
                    str(model_path("kokoro-v1.0-int8")),
                    options,
                    providers=["CPUExecutionProvider"],
                )
                self._kokoro = Kokoro.from_session(session, str(model_path("kokoro-voices-ja")))
        return self._kokoro

    def style(self, spec: str) -> F32:
        """The style-vector table (510, 1, 256) of a pack or blend."""
        style = self._styles.get(spec)
        if style is None:
            packs = self.load().voices
            style = sum(
                (w * np.asarray(packs[n], dtype=np.float32) for n, w in parse_blend(spec)),
                start=np.zeros((), dtype=np.float32),
            ).astype(np.float32)
            self._styles[spec] = style
        return style

    def sample_rate(self, voice: EngineVoice) -> int:
        return SAMPLE_RATE

    def synthesize(self, text: str, voice: EngineVoice) -> Iterator[SpeechChunk]:
        kokoro = self.load()
        style = self.style(voice.voice)
        speed = min(2.0, max(0.5, 1.0 / voice.length_scale))
        for piece in split_for_speech(text):
            phonemes = kokoro.tokenizer.phonemize(piece, LANG)
            if not kokoro.tokenizer.tokenize(phonemes):
                continue  # nothing speakable (only symbols)
            with self._run_lock:
                audio, rate = kokoro.create(
                    phonemes, style, speed=speed, lang=LANG, is_phonemes=True
                )
            pcm = (np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0) * 32767).astype(np.int16)
            if len(pcm) == 0:
                continue
            timings = estimate_timings(phonemes, len(pcm))
            pause = int(_pause_after(piece) * rate)
            if pause:  # Kokoro's output is trimmed: put back the gap between sentences
                pcm = np.concatenate([pcm, np.zeros(pause, dtype=np.int16)])
                timings = (*timings, PhonemeTiming("", pause))
            yield SpeechChunk(pcm, int(rate), timings)


def _pause_after(piece: str) -> float:
    """Seconds of silence after a piece: longer after a sentence than after a clause."""
    end = piece.rstrip("\"')] ")[-1:]
    if end in (".", "!", "?", "…"):
        return SENTENCE_PAUSE_S
    return CLAUSE_PAUSE_S


KOKORO = KokoroEngine()
"""The process-wide engine (the model is shared by every caller)."""
