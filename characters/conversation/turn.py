"""End-of-turn detection: Smart Turn v3.2 (ONNX), the probability that the user has finished.

The model (``smart-turn-v3.2-cpu.onnx``, shipped in the ``pipecat-ai`` package, model id
``smart-turn-v3.2``) reads the last 8 s of the turn's audio as Whisper log-mel features
``[1, 80, 800]`` and answers P(the turn is complete). Shorter audio is padded with silence at the
front, as pipecat does.

Features: faster-whisper's :class:`~faster_whisper.feature_extractor.FeatureExtractor`, fed the
zero-mean, unit-variance waveform with no extra padding, gives the same features as pipecat's
numpy port of ``transformers.WhisperFeatureExtractor`` (largest difference 9e-6 on an 8 s
window), so no private pipecat module is loaded. Cost: 20 ms of features plus about 100 ms of
inference on one thread.

Calibration: synthetic speech scores low (see ``docs/turn-taking.md``), so a low score only
means "wait for the silence timeout", never "the turn goes on".
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from characters.conversation.vad import SAMPLE_RATE
from characters.errors import InvalidInput
from characters.pcm import as_float32

if TYPE_CHECKING:
    import onnxruntime as ort  # type: ignore[import-untyped]
    from faster_whisper.feature_extractor import FeatureExtractor  # type: ignore[import-untyped]

WINDOW_S = 8
"""Seconds of audio (the end of the turn) the model looks at."""
_WINDOW = WINDOW_S * SAMPLE_RATE
_FRAMES = _WINDOW // 160


@functools.cache
def _session(model_path: Path, threads: int) -> ort.InferenceSession:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


@functools.cache
def _extractor() -> FeatureExtractor:
    from faster_whisper.feature_extractor import FeatureExtractor

    return FeatureExtractor(feature_size=80)


def turn_features(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Smart Turn's input for 16 kHz audio: the last 8 s as log-mel features ``[1, 80, 800]``."""
    x = audio[-_WINDOW:]
    if len(x) < _WINDOW:
        x = np.pad(x, (_WINDOW - len(x), 0))
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    feats = _extractor()(x, padding=0)[:, :_FRAMES]
    return np.ascontiguousarray(feats[None], dtype=np.float32)


class SmartTurn:
    """Smart Turn v3.2: P(end of turn) for the audio of a turn so far. Thread-safe."""

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        if not model_path.is_file():
            raise InvalidInput(f"Smart Turn model not found: {model_path}")
        self._session = _session(model_path, threads)
        self._lock = threading.Lock()

    def predict(self, audio: npt.NDArray[np.generic]) -> float:
        """P(the user has finished) for 16 kHz mono audio ending now (its last 8 s count)."""
        feats = turn_features(as_float32(audio))
        with self._lock:
            out = self._session.run(None, {"input_features": feats})
        return float(np.asarray(out[0]).reshape(-1)[0])
