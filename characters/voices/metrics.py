"""Measures of synthesized speech: pitch, brightness and intelligibility (word error rate).

Used by ``bench/voices.py`` and the voice tests to show that presets sound distinct and are
understood, since nobody listens to them here.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

F_MIN, F_MAX = 60.0, 420.0
"""The pitch range searched (Hz): low male to high female speech."""


def _float(pcm: npt.NDArray[np.int16] | npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    x = np.asarray(pcm, dtype=np.float64)
    return x / 32768.0 if np.issubdtype(np.asarray(pcm).dtype, np.integer) else x


def median_f0(pcm: npt.NDArray[np.int16] | npt.NDArray[np.float32], sample_rate: int) -> float:
    """Median fundamental frequency (Hz) of the voiced frames, by autocorrelation of 40 ms
    frames (10 ms hop); 0.0 when no frame is voiced."""
    x = _float(pcm)
    frame, hop = int(0.04 * sample_rate), int(0.01 * sample_rate)
    lo, hi = int(sample_rate / F_MAX), int(sample_rate / F_MIN)
    if len(x) < frame:
        return 0.0
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::hop]
    frames = frames - frames.mean(axis=1, keepdims=True)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    frames = frames[rms > 0.3 * float(np.sqrt(np.mean(x**2)))]  # skip silence, weak consonants
    if len(frames) == 0:
        return 0.0
    n = 1 << int(np.ceil(np.log2(2 * frame)))
    spec = np.fft.rfft(frames * np.hanning(frame), n=n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, n=n, axis=1)[:, : hi + 1]
    window_ac = np.correlate(np.hanning(frame), np.hanning(frame), "full")[frame - 1 :][: hi + 1]
    ac = ac / np.maximum(ac[:, :1], 1e-12) / np.maximum(window_ac / window_ac[0], 1e-3)
    lags = ac[:, lo : hi + 1]
    best = np.argmax(lags, axis=1)
    strength = lags[np.arange(len(lags)), best]
    voiced = strength > 0.5
    if not voiced.any():
        return 0.0
    return float(np.median(sample_rate / (lo + best[voiced])))


def spectral_centroid(
    pcm: npt.NDArray[np.int16] | npt.NDArray[np.float32], sample_rate: int
) -> float:
    """Mean spectral centroid (Hz) of the louder frames: higher sounds brighter."""
    x = _float(pcm)
    frame = 1024
    if len(x) < frame:
        return 0.0
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[:: frame // 2]
    rms = np.sqrt(np.mean(frames**2, axis=1))
    frames = frames[rms > 0.3 * rms.max()]
    spec = np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1))
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    centroids = (spec * freqs).sum(axis=1) / np.maximum(spec.sum(axis=1), 1e-12)
    return float(np.mean(centroids))


def words(text: str) -> list[str]:
    """Lower-case words of ``text``, punctuation dropped (``I'm`` stays one word)."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word edit distance (substitutions + insertions + deletions) over the reference length."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return float(len(hyp) > 0)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / len(ref)
