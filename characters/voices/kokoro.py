"""Kokoro-82M (int8 ONNX) speaking English through the packaged voice packs, with the model's own
phoneme durations.

The only packaged Kokoro voice packs are Japanese (``kokoro-voices-ja``: jf_alpha, jf_gongitsune,
jf_nezumi, jf_tebukuro, jm_kumo), but the model is multilingual: with kokoro-onnx's English
phonemizer (espeak-ng, ``lang="en-us"``) they speak English. A voice is one pack or a weighted
blend of packs' style vectors (``jf_alpha*0.6+jf_nezumi*0.4``), which gives more distinct voices
without any pitch shifting.

The model is patched in memory when it loads (:func:`patch_model`): it also outputs how many
frames (25 ms, 600 samples) each phoneme lasts, which gives the face engine real timings (shifted
by :data:`AUDIO_LEAD_S`) and lets each chunk be cut from the onset of its first phoneme to the end
of its last sound, without the 0.35-0.5 s of silence the model renders before and after. Making
those silences shorter at the source (per-token speed) would save decoder time but was rejected:
a shorter leading pad garbles the first word (Whisper heard "Hello" as "Oh") and a shorter final
mark tripled the WER of the last words.

The model loads once per process (about 1 s), on first use; one ONNX Runtime session with two
intra-op threads is shared, and a lock lets one synthesis run at a time (two at once would only
fight over the same two cores).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from characters.face.generator import PhonemeTiming
from characters.voices.models import model_path
from characters.voices.text import split_for_speech
from characters.voices.tts import EngineUnavailable, EngineVoice, SpeechChunk, UnknownVoice

if TYPE_CHECKING:
    import onnxruntime as ort  # type: ignore[import-untyped]
    from kokoro_onnx.tokenizer import Tokenizer

SAMPLE_RATE = 24_000
PACKS = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
"""The voice packs of ``kokoro-voices-ja`` (jf_ female, jm_ male)."""
THREADS = 2
SENTENCE_PAUSE_S = 0.25
CLAUSE_PAUSE_S = 0.1
AUDIO_LEAD_S = 0.06
"""The decoder's audio runs this far ahead of the duration frames (measured: the sibilants of
/s/ and /ʃ/ best match their tokens' frames 60-65 ms earlier, median over 4 voices x 3 speeds x
4 sentences); timings are shifted by it."""
MAX_LEAD_S = 0.2
"""How far before its first phoneme's frame a chunk may start: onsets (breath, voicing, a
fricative) are audible up to about 0.1 s before it."""
ONSET_LEVEL = 0.002
"""RMS of 10 ms, relative to the chunk's peak sample, from which audio counts as sound at the
start (-54 dB)."""
RELEASE_LEVEL = 0.0005
"""The same at the end (-66 dB: weak final fricatives and stop bursts must stay)."""
TAIL_S = 0.05
"""Audio kept after the last phoneme's last sound."""
MAX_TOKENS = 510
"""Kokoro takes at most this many phonemes per call."""
LANG = "en-us"
DURATIONS = "durations"
"""Name of the output :func:`patch_model` adds: frames per input token, pads included."""
_PAUSES = frozenset(".,!?;:…—–-\"'()“”")
"""Punctuation: the model renders it as silence (a rest pose for the face)."""

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


def patch_model(path: Path, title: str = "Kokoro") -> bytes:
    """The Kokoro graph with a ``durations`` output: frames per input token, pads included.

    They are the rounded, clipped predictions the decoder is aligned with (the graph's
    ``Clip(Round(predicted / speed))``); nothing else changes, so the audio is identical to the
    unpatched model's. Models distilled from Kokoro with the same duration path (hibari) are
    patched the same way; ``title`` names the model in the error.
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    graph = model.graph
    users: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)

    def only(name: str, op: str) -> Any:
        found = [n for n in users.get(name, []) if n.op_type == op]
        if len(found) != 1:
            raise EngineUnavailable(
                f"The {title} model {path.name} does not have the expected layout (no single "
                f"{op} after {name!r}); reinstall its packages (`characters models check`).",
                ["voice"],
            )
        return found[0]

    clip = only(only(only("speed", "Div").output[0], "Round").output[0], "Clip")
    graph.node.append(helper.make_node("Identity", [clip.output[0]], [DURATIONS]))
    graph.output.append(helper.make_tensor_value_info(DURATIONS, TensorProto.FLOAT, None))
    return bytes(model.SerializeToString())


class KokoroEngine:
    """Kokoro TTS. Thread-safe: loads once under a lock; synthesis takes turns on one session."""

    name = "kokoro"

    def __init__(self) -> None:
        self._loaded: tuple[ort.InferenceSession, Tokenizer, dict[str, F32]] | None = None
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

    def load(self) -> tuple[ort.InferenceSession, Tokenizer, dict[str, F32]]:
        """The session, phonemizer and voice packs (about 1 s the first time, then cached)."""
        if self._loaded is not None:
            return self._loaded
        with self._load_lock:
            if self._loaded is None:
                import onnxruntime as ort
                from kokoro_onnx.session import embedded_vocab
                from kokoro_onnx.tokenizer import Tokenizer

                # It warns on every call that espeak merged words ("words count mismatch").
                logging.getLogger("phonemizer").setLevel(logging.ERROR)
                options = ort.SessionOptions()
                options.intra_op_num_threads = THREADS
                options.inter_op_num_threads = 1
                session = ort.InferenceSession(
                    patch_model(model_path("kokoro-v1.0-int8")),
                    options,
                    providers=["CPUExecutionProvider"],
                )
                with np.load(model_path("kokoro-voices-ja")) as packs:
                    voices = {name: np.asarray(packs[name], dtype=np.float32) for name in PACKS}
                tokenizer = Tokenizer(vocab=embedded_vocab(session))
                self._loaded = (session, tokenizer, voices)
        return self._loaded

    def style(self, spec: str) -> F32:
        """The style-vector table (510, 1, 256) of a pack or blend."""
        style = self._styles.get(spec)
        if style is None:
            packs = self.load()[2]
            style = sum(
                (w * packs[n] for n, w in parse_blend(spec)),
                start=np.zeros((), dtype=np.float32),
            ).astype(np.float32)
            self._styles[spec] = style
        return style

    def sample_rate(self, voice: EngineVoice) -> int:
        return SAMPLE_RATE

    def synthesize(self, text: str, voice: EngineVoice) -> Iterator[SpeechChunk]:
        session, tokenizer, _ = self.load()
        style = self.style(voice.voice)
        speed = min(2.0, max(0.5, 1.0 / voice.length_scale))
        for piece in split_for_speech(text):
            symbols = tokenizer.known(tokenizer.phonemize(piece, LANG))
            for part in within_limit(symbols):
                chunk = self._speak(session, tokenizer, part, style, speed, _pause_after(piece))
                if chunk is not None:
                    yield chunk

    def _speak(
        self,
        session: ort.InferenceSession,
        tokenizer: Tokenizer,
        symbols: str,
        style: F32,
        speed: float,
        pause_s: float,
    ) -> SpeechChunk | None:
        """One call of the model: the chunk from just before the first phoneme to just after the
        last, then ``pause_s`` of silence; None if nothing in ``symbols`` is speakable."""
        tokens = tokenizer.tokenize(symbols)
        spoken = [i for i, s in enumerate(symbols) if s not in _PAUSES and s != " "]
        if not tokens or not spoken:
            return None
        with self._run_lock:
            audio, frames = session.run(
                None,
                {
                    "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                    "style": style[min(len(tokens), len(style)) - 1],
                    "speed": np.array([speed], dtype=np.float32),
                },
            )
        wave = np.asarray(audio, dtype=np.float32).reshape(-1)
        return chunk_from_frames(wave, frames, symbols, lead_s=AUDIO_LEAD_S, pause_s=pause_s)


def chunk_from_frames(
    wave: F32,
    frames: npt.ArrayLike,
    symbols: str,
    *,
    lead_s: float,
    pause_s: float,
    ipa: Callable[[str], str] = lambda symbol: symbol,
) -> SpeechChunk | None:
    """A Kokoro-style model call's audio (24 kHz) and its duration frames per input symbol
    (pads included) → the chunk from just before the first phoneme to just after the last, its
    phoneme timings (``ipa`` names each symbol's phoneme) shifted ``lead_s`` earlier, then
    ``pause_s`` of silence; None when the frames do not match the symbols. Shared by Kokoro and
    hibari, whose graphs have the same duration path."""
    counts = np.asarray(frames).reshape(-1)
    spoken = [i for i, s in enumerate(symbols) if s not in _PAUSES and s != " "]
    if len(wave) == 0 or not spoken or len(counts) != len(symbols) + 2:
        return None
    # Symbol k of the input (pads included) is heard from edges[k] to edges[k+1].
    edges = np.concatenate([[0], np.cumsum(counts)]) * (len(wave) / max(1.0, counts.sum()))
    edges = np.round(edges).astype(np.int64) - int(lead_s * SAMPLE_RATE)
    edges = np.clip(edges, 0, len(wave))
    peak = max(float(np.abs(wave).max()), 1e-6)
    start = _onset(wave, int(edges[1]), peak)
    end = _release(wave, int(edges[spoken[-1] + 1]), peak)
    pcm = (np.clip(wave[start:end], -1.0, 1.0) * 32767).astype(np.int16)
    timings = [PhonemeTiming("", int(edges[1]) - start)]
    for i, symbol in enumerate(symbols):
        a, b = int(edges[i + 1]), min(int(edges[i + 2]), end)
        if b > a:
            timings.append(PhonemeTiming("" if symbol in _PAUSES else ipa(symbol), b - a))
    pcm = np.concatenate([pcm, np.zeros(int(pause_s * SAMPLE_RATE), dtype=np.int16)])
    timings.append(PhonemeTiming("", len(pcm) - sum(t.num_samples for t in timings)))
    return SpeechChunk(pcm, SAMPLE_RATE, tuple(t for t in timings if t.num_samples > 0))


_WINDOW = SAMPLE_RATE // 100
"""10 ms: the window in which :func:`_onset` and :func:`_release` measure loudness."""


def _loud(span: F32, level: float) -> npt.NDArray[np.intp]:
    """Indices of the whole 10 ms windows of ``span`` whose RMS is above ``level``."""
    count = len(span) // _WINDOW
    rms = np.sqrt(np.mean(span[: count * _WINDOW].reshape(count, _WINDOW) ** 2, axis=1))
    return np.flatnonzero(rms > level)


def _onset(wave: F32, boundary: int, peak: float) -> int:
    """Where to start a chunk whose first phoneme starts at ``boundary``: 20 ms before the first
    10 ms window of sound within :data:`MAX_LEAD_S` before it (the model's leading silence, about
    0.35-0.5 s, is dropped). ``peak`` is the chunk's largest sample."""
    low = max(0, boundary - int(MAX_LEAD_S * SAMPLE_RATE))
    count = (boundary - low) // _WINDOW
    if count == 0:
        return low
    loud = _loud(wave[boundary - count * _WINDOW : boundary], ONSET_LEVEL * peak)
    first = boundary - (count - int(loud[0])) * _WINDOW if len(loud) else boundary
    return max(low, first - 2 * _WINDOW)


def _release(wave: F32, low: int, peak: float) -> int:
    """Where to end a chunk whose last phoneme starts at ``low``: :data:`TAIL_S` after the last
    10 ms window of sound (a phrase-final phoneme often gets 0.3-0.5 s of frames that the
    decoder renders as a fade into silence, and the final mark is silence)."""
    last = len(wave)
    if len(wave) - low >= _WINDOW:
        loud = _loud(wave[low:], RELEASE_LEVEL * peak)
        last = low + (int(loud[-1]) + 1) * _WINDOW if len(loud) else low
    return min(len(wave), last + int(TAIL_S * SAMPLE_RATE))


def within_limit(symbols: str, limit: int = MAX_TOKENS - 2) -> Iterator[str]:
    """``symbols`` in parts of at most ``limit`` (Kokoro's: :data:`MAX_TOKENS` - 2), cut
    between words."""
    while len(symbols) > limit:
        cut = symbols.rfind(" ", 0, limit)
        cut = cut if cut > 0 else limit
        yield symbols[:cut]
        symbols = symbols[cut:].lstrip()
    if symbols:
        yield symbols


def _pause_after(piece: str) -> float:
    """Seconds of silence after a piece: longer after a sentence than after a clause."""
    end = piece.rstrip("\"')] ")[-1:]
    if end in (".", "!", "?", "…"):
        return SENTENCE_PAUSE_S
    return CLAUSE_PAUSE_S


KOKORO = KokoroEngine()
"""The process-wide engine (the model is shared by every caller)."""
