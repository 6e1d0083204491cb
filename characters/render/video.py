"""A talking-head MP4 from one reference image and speech (the offline twin of a session).

:func:`render_video` analyses the image (or takes a stored analysis), builds a
:class:`~characters.face.WarpRenderer` and a :class:`~characters.face.FaceVideoGenerator` on the
speech's own sample clock, and encodes every frame with the audio it covers: H.264 (libx264,
yuv420p, BT.601 tags to match the RGB→YUV conversion) and AAC in MP4, both streams starting at 0
and of the same length, so sound and lips stay together in every player. A short idle face
(``idle_s``, default 0.3 s) comes before and after the speech.

Synchronous and CPU-bound (about 20–40 ms per frame on one core); run it in a worker thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np
import numpy.typing as npt

from characters.errors import InvalidInput
from characters.face.analysis import analyse
from characters.face.framing import Orientation
from characters.face.generator import FaceVideoGenerator, VideoFrameOut
from characters.face.renderer import WarpRenderer
from characters.voices.tts import SpeechChunk

Progress = Callable[[float], None]
"""Called with the share done (0 to 1) after setup and after every frame. It may raise to stop
the render (the exception propagates; a partly written output is the caller's to discard)."""

DEFAULT_FPS = 25.0
IDLE_S = 0.3
SETUP_SHARE = 0.03
"""The share of progress reported once the face is analysed and the renderer is built."""


@dataclass(frozen=True, slots=True)
class RenderResult:
    """What was written."""

    width: int
    height: int
    fps: float
    frames: int
    sample_rate: int
    audio_samples: int
    speech_s: float
    compute_s: float
    """Wall-clock seconds the whole render took (analysis, rendering and encoding)."""

    @property
    def duration_s(self) -> float:
        """Length of the video (and of the audio: they are the same)."""
        return self.frames / self.fps

    @property
    def cost_per_second(self) -> float:
        """Seconds of compute per second of video."""
        return self.compute_s / self.duration_s if self.frames else 0.0


def _speech_rate(speech: Sequence[SpeechChunk]) -> int:
    rates = {c.sample_rate for c in speech}
    if len(rates) != 1:
        raise ValueError(f"speech chunks must share one sample rate, got {sorted(rates)}")
    return rates.pop()


class _Writer:
    """Encodes frames and their audio into one MP4 (H.264 + AAC)."""

    def __init__(
        self,
        out: str | Path | BinaryIO,
        width: int,
        height: int,
        fps: Fraction,
        sample_rate: int,
        *,
        preset: str,
        crf: int,
    ) -> None:
        if isinstance(out, str | Path):
            # The index goes first (a second pass over the file), so playback starts at once.
            self.container = av.open(
                str(out), mode="w", format="mp4", options={"movflags": "+faststart"}
            )
        else:  # the second pass needs a file it can open by name
            self.container = av.open(out, mode="w", format="mp4")
        try:
            video = self.container.add_stream(
                "libx264", rate=fps, options={"preset": preset, "crf": str(crf)}
            )
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            cc = video.codec_context
            cc.time_base = 1 / fps
            # swscale converts RGB with the BT.601 matrix into limited range: say so, so that
            # players do not guess BT.709 for the taller (portrait) frames.
            cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 6, 6, 6, 1
            audio = self.container.add_stream("aac", rate=sample_rate, layout="mono")
            audio.bit_rate = 64_000 if sample_rate <= 24_000 else 96_000
        except Exception:
            self.container.close()
            raise
        self.video, self.audio = video, audio
        self.time_base = 1 / fps
        self.audio_time_base = Fraction(1, sample_rate)
        self.sample_rate = sample_rate
        self.frames = 0
        self.samples = 0

    def write(self, frame: VideoFrameOut) -> None:
        vf = av.VideoFrame.from_ndarray(frame.image, format="rgb24")
        vf.pts, vf.time_base = self.frames, self.time_base
        self.container.mux(self.video.encode(vf))
        pcm: npt.NDArray[np.int16] = frame.audio
        if len(pcm):
            af = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
            af.sample_rate = self.sample_rate
            af.pts, af.time_base = frame.pts, self.audio_time_base
            self.container.mux(self.audio.encode(af))
        self.frames += 1
        self.samples += len(pcm)

    def close(self, *, flush: bool) -> None:
        try:
            if flush:
                self.container.mux(self.video.encode(None))
                self.container.mux(self.audio.encode(None))
        finally:
            self.container.close()


def render_video(
    image: bytes | npt.NDArray[Any],
    speech: Sequence[SpeechChunk],
    out: str | Path | BinaryIO,
    *,
    analysis: dict[str, Any] | None = None,
    keypoints: dict[str, Any] | None = None,
    orientation: Orientation = "auto",
    fps: float = DEFAULT_FPS,
    idle_s: float = IDLE_S,
    seed: int = 0,
    progress: Progress | None = None,
    preset: str = "veryfast",
    crf: int = 23,
) -> RenderResult:
    """Render ``image`` speaking ``speech`` into an MP4 at ``out`` (a path or a binary file).

    A path gets a "fast start" MP4 (its index before the media, for playback while it
    downloads); a file object gets the index at the end.

    Args:
        image: the reference image (encoded bytes or an RGB array).
        speech: mono PCM chunks at one sample rate, with phoneme timings where known (text to
            speech) or without (recorded audio: the mouth then follows loudness).
        analysis: a stored :func:`characters.face.analyse` result for this image; analysed here
            when absent, with ``keypoints`` (manual face points) and ``orientation``.
        fps: frames per second.
        idle_s: idle face before and after the speech.
        seed: blinks and head motion (the same inputs give the same video).
        progress: see :data:`Progress`.
        preset, crf: libx264 speed preset and quality.

    Raises:
        InvalidImage: no usable face (the message says what to change).
        InvalidInput: empty speech.
    """
    started = time.perf_counter()
    if not 1 <= fps <= 60:
        raise ValueError("fps must be between 1 and 60")
    chunks = [c for c in speech if len(c.pcm)]
    if not chunks:
        raise InvalidInput("The speech is empty: there is nothing to say.", ["speech"])
    sample_rate = _speech_rate(chunks)
    speech_samples = sum(len(c.pcm) for c in chunks)
    if analysis is None:
        analysis = analyse(image, keypoints, orientation=orientation)
    renderer = WarpRenderer(image, analysis)
    rate = Fraction(fps).limit_denominator(1001)
    generator = FaceVideoGenerator(renderer, sample_rate=sample_rate, fps=float(rate), seed=seed)
    idle_frames = max(0, round(idle_s * float(rate)))
    samples_per_frame = sample_rate / float(rate)
    total = 2 * idle_frames + math.ceil(speech_samples / samples_per_frame) + 1
    if progress is not None:
        progress(SETUP_SHARE)

    writer = _Writer(
        out, renderer.width, renderer.height, rate, sample_rate, preset=preset, crf=crf
    )
    done = False
    try:

        def emit() -> VideoFrameOut:
            frame = generator.next_frame()
            writer.write(frame)
            if progress is not None:
                progress(SETUP_SHARE + (1 - SETUP_SHARE) * min(writer.frames / total, 0.999))
            return frame

        for _ in range(idle_frames):
            emit()
        for chunk in chunks:
            generator.push_audio(chunk.to_audio_chunk())
        generator.end_segment()
        while not emit().segment_ended:
            if writer.frames > total + 2:  # cannot happen: the generator plays every sample
                raise RuntimeError("speech did not end where expected")
        for _ in range(idle_frames):
            emit()
        done = True
    finally:
        writer.close(flush=done)
    if progress is not None:
        progress(1.0)
    return RenderResult(
        width=renderer.width,
        height=renderer.height,
        fps=float(rate),
        frames=writer.frames,
        sample_rate=sample_rate,
        audio_samples=writer.samples,
        speech_s=speech_samples / sample_rate,
        compute_s=time.perf_counter() - started,
    )
