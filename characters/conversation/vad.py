"""Voice activity detection: Silero VAD (ONNX) on 16 kHz audio, without torch.

:class:`SileroVAD` scores each 32 ms frame (512 samples at 16 kHz) with the probability that it
holds speech. Its recurrent state and the 64-sample context carry over from one call to the next,
so a stream can be pushed in pieces of any length: samples that do not fill a frame wait for the
next push. One instance follows one audio stream and is not thread-safe; the ONNX session is
shared by every instance loaded from the same file.

The model file is ``silero_vad.onnx`` from the ``silero-vad`` package (model id ``silero-vad``,
resolved by :func:`characters.models.resolve`). Cost: about 0.3 ms of one core per frame.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from characters.errors import InvalidInput
from characters.pcm import as_float32

if TYPE_CHECKING:
    import onnxruntime as ort  # type: ignore[import-untyped]

SAMPLE_RATE = 16_000
"""The only rate the VAD (and the rest of the listening pipeline) works at."""
FRAME = 512
"""Samples per VAD frame (32 ms at 16 kHz)."""
FRAME_S = FRAME / SAMPLE_RATE
_CONTEXT = 64
_STATE_SHAPE = (2, 1, 128)
_SESSION_LOCK = threading.Lock()


@functools.cache
def _session(model_path: Path) -> ort.InferenceSession:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True, slots=True)
class SpeechSegment:
    """A stretch of speech, in seconds from the start of the audio."""

    start_s: float
    end_s: float


class SileroVAD:
    """Silero VAD over a stream of 16 kHz audio, one probability per 32 ms frame."""

    def __init__(self, model_path: Path) -> None:
        if not model_path.is_file():
            raise InvalidInput(f"Silero VAD model not found: {model_path}")
        with _SESSION_LOCK:
            self._session = _session(model_path)
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self._pending = np.zeros(0, dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """Forget the stream: recurrent state, context and any buffered samples."""
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros((1, _CONTEXT), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    @property
    def buffered(self) -> int:
        """Samples received that do not fill a frame yet."""
        return len(self._pending)

    def push(self, pcm: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
        """Speech probabilities of every frame completed by ``pcm`` (16 kHz mono, any length)."""
        audio = np.concatenate([self._pending, as_float32(pcm)])
        n = len(audio) // FRAME
        self._pending = audio[n * FRAME :].copy()
        probs = np.empty(n, dtype=np.float32)
        for i in range(n):
            probs[i] = self._frame(audio[i * FRAME : (i + 1) * FRAME])
        return probs

    def _frame(self, frame: npt.NDArray[np.float32]) -> float:
        x = np.concatenate([self._context, frame[None, :]], axis=1)
        out, self._state = self._session.run(
            None, {"input": x, "state": self._state, "sr": self._sr}
        )
        self._context = x[:, -_CONTEXT:]
        return float(out[0, 0])

    def segments(
        self,
        audio: npt.NDArray[np.generic],
        *,
        threshold: float = 0.5,
        min_silence_ms: int = 100,
        min_speech_ms: int = 120,
    ) -> list[SpeechSegment]:
        """Speech segments of a whole clip (resets the stream before and after).

        A frame starts speech at ``threshold`` and ends it below ``threshold - 0.15``; segments
        separated by less than ``min_silence_ms`` are merged, shorter than ``min_speech_ms``
        dropped.
        """
        self.reset()
        try:
            probs = self.push(audio)
        finally:
            self.reset()
        flags = hysteresis(probs, threshold)
        return _merge(flags, min_silence_ms / 1000, min_speech_ms / 1000)


def hysteresis(probs: npt.NDArray[np.float32], threshold: float = 0.5) -> list[bool]:
    """Speech/silence per frame: on at ``threshold``, off below ``threshold - 0.15``."""
    off = threshold - 0.15
    flags: list[bool] = []
    speech = False
    for p in probs:
        speech = bool(p >= threshold) or (speech and bool(p >= off))
        flags.append(speech)
    return flags


def _merge(flags: list[bool], min_gap_s: float, min_len_s: float) -> list[SpeechSegment]:
    raw: list[list[float]] = []
    for i, speech in enumerate(flags):
        if not speech:
            continue
        start, end = i * FRAME_S, (i + 1) * FRAME_S
        if raw and start - raw[-1][1] < min_gap_s:
            raw[-1][1] = end
        else:
            raw.append([start, end])
    return [SpeechSegment(s, e) for s, e in raw if e - s >= min_len_s]
