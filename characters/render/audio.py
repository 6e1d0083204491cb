"""Speech from audio files: decode (WAV, MP3, M4A/AAC, OGG, FLAC, WebM), downmix, resample.

The face generator runs on the audio's own sample clock and the MP4 carries AAC, so audio is
turned into mono int16 at a rate both handle: rates from 16 to 48 kHz that AAC supports are
kept as they are, anything else is resampled (libswresample, through PyAV) to the next higher
of those (48 000 Hz at most).

The container format is recognised from the file's first bytes and then forced, so FFmpeg never
probes untrusted input into a demuxer that could open other files or URLs (HLS playlists,
concat lists).
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np

from characters.errors import InvalidInput
from characters.voices.tts import SpeechChunk

KEEP_RATES = (16_000, 22_050, 24_000, 32_000, 44_100, 48_000)
"""Sample rates used as they are (AAC supports each)."""
FORMATS = "WAV, MP3, M4A/AAC, OGG (Vorbis or Opus), FLAC or WebM"


class UnreadableAudio(InvalidInput):
    """Audio that is not in a supported format, is corrupt, empty or too long."""


def sniff_format(head: bytes) -> str | None:
    """FFmpeg's demuxer name for the container these first bytes start, or None."""
    if len(head) < 12:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:3] == b"ID3":
        return "mp3"
    if head[0] == 0xFF and head[1] & 0xF6 == 0xF0:  # ADTS: 12 sync bits, layer 00
        return "aac"
    if head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:  # MPEG audio frame
        return "mp3"
    return None


def target_rate(rate: int) -> int:
    """The rate audio at ``rate`` Hz is rendered at."""
    return next((r for r in KEEP_RATES if r >= rate), KEEP_RATES[-1])


def decode_audio(
    source: bytes | Path, *, max_seconds: float | None = None, what: str = "The audio"
) -> SpeechChunk:
    """Decode ``source`` (bytes or a file) to one mono int16 :class:`SpeechChunk`.

    Raises:
        UnreadableAudio: unknown format, corrupt data, no audio track, no samples,
            or longer than ``max_seconds``.
    """
    data = source.read_bytes() if isinstance(source, Path) else bytes(source)
    if not data:
        raise UnreadableAudio(f"{what} is empty.")
    fmt = sniff_format(data[:16])
    if fmt is None:
        raise UnreadableAudio(f"{what} is not in a supported format; use {FORMATS}.")
    try:
        with av.open(io.BytesIO(data), mode="r", format=fmt) as container:
            if not container.streams.audio:
                raise UnreadableAudio(f"{what} has no audio track.")
            stream = container.streams.audio[0]
            rate = target_rate(int(stream.codec_context.sample_rate or 48_000))
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            limit = None if max_seconds is None else int(max_seconds * rate)
            parts: list[np.ndarray] = []
            total = 0
            for frame in container.decode(stream):
                frame.pts = None  # resample by sample count; gaps and pts jumps are not ours
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1))
                    total += out.samples
                if limit is not None and total > limit:
                    raise UnreadableAudio(
                        f"{what} is longer than {max_seconds:g} s; send a shorter recording."
                    )
            for out in resampler.resample(None):
                parts.append(out.to_ndarray().reshape(-1))
                total += out.samples
    except UnreadableAudio:
        raise
    except (av.FFmpegError, ValueError, OSError) as e:
        detail = getattr(e, "strerror", None) or str(e).split("\n")[0] or type(e).__name__
        raise UnreadableAudio(
            f"{what} could not be decoded ({detail}); send a valid {FORMATS} file."
        ) from e
    if limit is not None and total > limit:
        raise UnreadableAudio(f"{what} is longer than {max_seconds:g} s; send a shorter recording.")
    if total == 0:
        raise UnreadableAudio(f"{what} holds no audio samples.")
    pcm = np.concatenate(parts).astype(np.int16, copy=False)
    return SpeechChunk(np.ascontiguousarray(pcm), rate)
