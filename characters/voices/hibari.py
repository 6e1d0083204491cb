"""hibari (``hibari-tts``): a small int8 model distilled from Kokoro-82M's English af_heart voice,
with its own English G2P (misaki's lexicon, no espeak-ng), and the model's own phoneme durations.

Only the ``heart`` voice ships in the wheel (the package's other voices download on first use and
are not used here). Presets of it differ by pace (the model's ``speed``) and by :attr:`pitch
<characters.voices.tts.EngineVoice.pitch>`: the audio is resampled by that factor, which moves
pitch and formants together (a slightly smaller or larger speaker), and the model is run that much
slower so the pace is unchanged. Scaling the model's ``f0`` output alone was rejected: its
harmonic branch (``lh``) is a comb at the predicted harmonics, so moved harmonics fall between its
teeth and the voice turns dull (spectral centroid 2 060 → 810 Hz for +20 %).

The model is patched in memory when it loads (:func:`characters.voices.kokoro.patch_model`, the
same ``speed → Div → Round → Clip`` duration path as Kokoro's): it also outputs how many 25 ms
frames each phoneme lasts, so every chunk carries exact timings and is cut to its speech like a
Kokoro chunk. One ONNX Runtime session with one intra-op thread is shared; a lock lets one
synthesis run at a time (a sentence costs about 15 ms).
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from characters.voices.kokoro import (
    _PAUSES,
    _pause_after,
    chunk_from_frames,
    patch_model,
    within_limit,
)
from characters.voices.models import model_path
from characters.voices.phones import misaki_to_ipa
from characters.voices.text import split_for_speech
from characters.voices.tts import EngineUnavailable, EngineVoice, SpeechChunk, UnknownVoice

if TYPE_CHECKING:
    import onnxruntime as ort  # type: ignore[import-untyped]

SAMPLE_RATE = 24_000
VOICES = ("heart",)
THREADS = 1
MAX_PHONEMES = 400
"""hibari's own limit per model call; longer phoneme strings are cut between words."""
AUDIO_LEAD_S = 0.05
"""The audio runs this far ahead of the duration frames (measured like Kokoro's: the hiss of /s/,
/z/ and /ʃ/ best matches their symbols' frames 35-55 ms earlier, median 48 ms over 4 sentences x
3 pitches x 2 paces); timings are shifted by it. Against hama's phoneme recogniser the shifted
onsets sit about 20 ms earlier than Piper's (bench/voices.py), within one video frame."""
MIN_PITCH, MAX_PITCH = 0.8, 1.25
INSTALL = "install it with `pip install hibari-tts==0.2.1`"

F32 = npt.NDArray[np.float32]


class HibariEngine:
    """hibari TTS. Thread-safe: loads once under a lock; synthesis takes turns on one session."""

    name = "hibari"

    def __init__(self) -> None:
        self._loaded: tuple[ort.InferenceSession, Callable[[str], str], dict[str, int]] | None = (
            None
        )
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def voices(self) -> Sequence[str]:
        return VOICES

    def check(self, voice: EngineVoice) -> None:
        if voice.voice not in VOICES:
            raise UnknownVoice(
                f"hibari voice {voice.voice!r} is not installed; choose from {', '.join(VOICES)}.",
                ["voice"],
            )
        if not MIN_PITCH <= voice.pitch <= MAX_PITCH:
            raise UnknownVoice(
                f"hibari pitch {voice.pitch:g} is outside {MIN_PITCH:g}..{MAX_PITCH:g}.", ["voice"]
            )
        if importlib.util.find_spec("hibari") is None:
            raise EngineUnavailable(f"hibari TTS is not installed; {INSTALL}.", ["voice"])
        model_path("hibari-heart")

    def warm_up(self, voice: EngineVoice) -> None:
        list(self.synthesize("Hi.", voice))

    def load(self) -> tuple[ort.InferenceSession, Callable[[str], str], dict[str, int]]:
        """The session, G2P and phoneme vocabulary (about 0.6 s the first time, then cached)."""
        if self._loaded is not None:
            return self._loaded
        with self._load_lock:
            if self._loaded is None:
                import onnxruntime as ort
                from hibari.g2p import G2P  # type: ignore[import-untyped]

                path = model_path("hibari-heart")
                options = ort.SessionOptions()
                options.intra_op_num_threads = THREADS
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                session = ort.InferenceSession(
                    patch_model(path, "hibari"), options, providers=["CPUExecutionProvider"]
                )
                vocab = json.loads(path.with_name("vocab.json").read_text(encoding="utf-8"))
                g2p = G2P(british=False)
                self._loaded = (session, g2p, {str(k): int(v) for k, v in vocab.items()})
        return self._loaded

    def sample_rate(self, voice: EngineVoice) -> int:
        return SAMPLE_RATE

    def synthesize(self, text: str, voice: EngineVoice) -> Iterator[SpeechChunk]:
        session, g2p, vocab = self.load()
        speed = min(2.0, max(0.5, 1.0 / (voice.length_scale * voice.pitch)))
        for piece in split_for_speech(text):
            with self._run_lock:  # the G2P does not say it is thread-safe
                symbols = "".join(c for c in g2p(piece) if c in vocab)
            for part in within_limit(symbols, MAX_PHONEMES):
                chunk = self._speak(session, vocab, part, speed, voice.pitch, _pause_after(piece))
                if chunk is not None:
                    yield chunk

    def _speak(
        self,
        session: ort.InferenceSession,
        vocab: dict[str, int],
        symbols: str,
        speed: float,
        pitch: float,
        pause_s: float,
    ) -> SpeechChunk | None:
        """One call of the model: the chunk from just before the first phoneme to just after the
        last, then ``pause_s`` of silence; None if nothing in ``symbols`` is speakable."""
        from hibari import dsp  # type: ignore[import-untyped]

        spoken = [i for i, s in enumerate(symbols) if s not in _PAUSES and s != " "]
        if not spoken:
            return None
        ids = np.array([[0, *(vocab[s] for s in symbols), 0]], dtype=np.int64)
        with self._run_lock:
            lh, theta, ln, lr, phi, f0, frames = session.run(
                None, {"ids": ids, "speed": np.array([speed], dtype=np.float32)}
            )
        # The noise branch is seeded so the same text always sounds the same.
        wave = dsp.synth(lh[0], theta[0], ln[0], lr[0], phi[0], f0[0], np.random.default_rng(0))
        wave = _resample(np.asarray(wave, dtype=np.float32), pitch)
        return chunk_from_frames(
            wave, frames, symbols, lead_s=AUDIO_LEAD_S, pause_s=pause_s, ipa=misaki_to_ipa
        )


def _resample(wave: F32, pitch: float) -> F32:
    """``wave`` played ``pitch`` times faster (pitch and formants times ``pitch``), band-limited."""
    if pitch == 1.0 or len(wave) == 0:
        return wave
    from scipy.signal import resample_poly  # type: ignore[import-untyped]

    ratio = Fraction(pitch).limit_denominator(50)
    return np.asarray(resample_poly(wave, ratio.denominator, ratio.numerator), dtype=np.float32)


HIBARI = HibariEngine()
"""The process-wide engine (the model is shared by every caller)."""
