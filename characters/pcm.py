"""Mono PCM: conversions between int16 and float, and resampling (one place for both).

Every stage that touches audio samples uses these: the listener (any rate in, 16 kHz float
out), the face generator (int16 or float in), the realtime media path (the voice's 22.05 or
24 kHz out to Opus at 48 kHz, the user's 48 kHz Opus in) and the CLI's WAV writers.

Resampling goes through libswresample (PyAV), which keeps its filter state between pieces, so a
stream resampled piece by piece is the same as the whole resampled at once, with no clicks at
the joins and no drift: after ``n`` input samples, about ``n * dst / src`` have come out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from characters.errors import InvalidInput

if TYPE_CHECKING:
    import av

Int16 = npt.NDArray[np.int16]
Float32 = npt.NDArray[np.float32]


def as_float32(pcm: npt.NDArray[np.generic]) -> Float32:
    """Mono PCM (int16, or float in [-1, 1]) as a float32 array; other shapes are refused."""
    if pcm.ndim != 1:
        raise InvalidInput(f"Expected mono audio (a 1-D array), got shape {pcm.shape}.")
    if pcm.dtype == np.int16:
        return pcm.astype(np.float32) / 32768.0
    if np.issubdtype(pcm.dtype, np.floating):
        return pcm.astype(np.float32, copy=False)
    raise InvalidInput(f"Expected int16 or float PCM, got {pcm.dtype}.")


def to_int16(pcm: npt.NDArray[np.floating[npt.NBitBase]] | Float32) -> Int16:
    """Float PCM in [-1, 1] (clipped beyond) as int16."""
    return np.clip(np.round(pcm * 32768.0), -32768, 32767).astype(np.int16)


class StreamResampler:
    """Mono audio at any rate to ``rate`` Hz, piece by piece (libswresample keeps its state).

    ``dtype`` is the output's: ``float32`` (−1..1) or ``int16``. Input may be either.
    """

    def __init__(self, rate: int, dtype: type[np.float32] | type[np.int16] = np.float32) -> None:
        if rate <= 0:
            raise InvalidInput(f"Sample rate must be positive, got {rate}.")
        self.rate = rate
        self._int16 = dtype is np.int16
        self._format = "s16" if self._int16 else "flt"
        self._source = 0
        self._resampler: av.AudioResampler | None = None

    def __call__(self, pcm: npt.NDArray[np.generic], rate: int) -> npt.NDArray[np.generic]:
        """The next piece, resampled (its length varies by a sample or two from piece to piece;
        the filter holds back a few samples until :meth:`flush`)."""
        if rate <= 0:
            raise InvalidInput(f"Sample rate must be positive, got {rate}.")
        if rate == self.rate and self._resampler is None:
            return self._cast(pcm)
        import av

        if self._resampler is None or rate != self._source:
            self._resampler = av.AudioResampler(format=self._format, layout="mono", rate=self.rate)
            self._source = rate
        if self._int16:
            frame = av.AudioFrame.from_ndarray(
                np.asarray(self._cast(pcm), np.int16).reshape(1, -1), format="s16", layout="mono"
            )
        else:
            frame = av.AudioFrame.from_ndarray(
                as_float32(pcm).reshape(1, -1), format="flt", layout="mono"
            )
        frame.sample_rate = rate
        return self._join(self._resampler.resample(frame))

    def flush(self) -> npt.NDArray[np.generic]:
        """The samples the filter still holds (call once, at the end of the stream)."""
        if self._resampler is None:
            return self._empty()
        out = self._join(self._resampler.resample(None))
        self._resampler = None
        return out

    def _cast(self, pcm: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        if self._int16:
            return pcm if pcm.dtype == np.int16 else to_int16(as_float32(pcm))
        return as_float32(pcm)

    def _empty(self) -> npt.NDArray[np.generic]:
        return np.zeros(0, np.int16 if self._int16 else np.float32)

    def _join(self, frames: list[av.AudioFrame]) -> npt.NDArray[np.generic]:
        parts = [f.to_ndarray().reshape(-1) for f in frames]
        if not parts:
            return self._empty()
        out = np.concatenate(parts)
        return out.astype(np.int16 if self._int16 else np.float32, copy=False)


def resample(pcm: npt.NDArray[np.generic], src: int, dst: int) -> npt.NDArray[np.generic]:
    """A whole mono signal from ``src`` to ``dst`` Hz, in the input's type (int16 or float32)."""
    if src == dst:
        return pcm
    dtype: type[np.float32] | type[np.int16] = np.int16 if pcm.dtype == np.int16 else np.float32
    resampler = StreamResampler(dst, dtype)
    head = resampler(pcm, src)
    return np.concatenate([head, resampler.flush()])


def frame_to_mono(frame: av.AudioFrame) -> Int16:
    """A decoded packed int16 audio frame (any channel count) as mono int16."""
    pcm = frame.to_ndarray().reshape(-1)
    channels = len(frame.layout.channels)
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1)
    return pcm.astype(np.int16, copy=False)
