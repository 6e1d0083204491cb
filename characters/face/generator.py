"""The face video generator: the avatar's audio in, lip-synced video frames out, on one clock.

In the spirit of livekit's ``VideoGenerator``: push audio chunks (with Piper-style phoneme
timings when the TTS has them), mark the end of each utterance with :meth:`end_segment`, call
:meth:`clear` on barge-in, and pull frames. Every frame carries its presentation timestamp in
*audio samples* (``time_base = 1/sample_rate``) and the audio samples it covers, so the transport
sends both in lock-step; with no audio queued, idle frames (and silence) keep coming at the
configured frame rate.

Frame ``k`` is shown at sample ``round(k * sample_rate / fps)`` and covers the audio up to the
next frame. Its mouth is the pose at the middle of that audio (plus ``lead_s``), so the mouth
follows what is heard, not what has been queued.

The class is synchronous and deterministic (a seeded animator, no wall clock); :meth:`frames`
wraps it for asyncio, rendering in a worker thread and pacing frames in real time. Pushing audio
and pulling frames may happen on different threads.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from characters.face.animator import AnimatorState, FaceAnimator
from characters.face.envelope import WINDOW_S, LoudnessMeter, pose_from_loudness
from characters.face.motion import HeadLimits
from characters.face.params import FaceParams
from characters.face.renderer import FrameRenderer
from characters.face.visemes import VisemeTrack
from characters.pcm import as_float32, to_int16

if TYPE_CHECKING:
    import av

RGB = npt.NDArray[np.uint8]
PHONEME_LOUDNESS_FLOOR = 0.35
"""With phoneme timings, the viseme opening is scaled by floor + (1 − floor) × loudness."""


@dataclass(frozen=True, slots=True)
class PhonemeTiming:
    """One phoneme as Piper aligns it: an IPA symbol and how many samples it lasts."""

    phoneme: str
    num_samples: int


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Mono PCM of the avatar's voice: int16 bytes, or an int16/float array (float in −1..1).

    ``phonemes`` (optional) are the chunk's phonemes in order from its first sample.
    """

    pcm: bytes | npt.NDArray[np.int16] | npt.NDArray[np.float32] | npt.NDArray[np.float64]
    sample_rate: int
    phonemes: Sequence[PhonemeTiming] | None = None

    def without_lead(self, keep_s: float = 0.01, level: float = 0.01) -> AudioChunk:
        """The same chunk starting ``keep_s`` before its first sample louder than ``level``
        (of full scale): voices open with 35-65 ms of silence, which only delays an answer.
        Phonemes are cut by the same number of samples."""
        samples = _to_float(self)
        loud = np.flatnonzero(np.abs(samples) > level)
        cut = max(0, int(loud[0]) - round(keep_s * self.sample_rate)) if len(loud) else 0
        if cut == 0:
            return self
        phonemes = None
        if self.phonemes is not None:
            phonemes, skip = [], cut
            for p in self.phonemes:
                dropped = min(skip, p.num_samples)
                skip -= dropped
                if p.num_samples > dropped:
                    phonemes.append(PhonemeTiming(p.phoneme, p.num_samples - dropped))
        return AudioChunk(samples[cut:], self.sample_rate, phonemes)


@dataclass(frozen=True, slots=True)
class FrameStep:
    """One frame of the clock before it is drawn: its time, its audio and the face to draw."""

    pts: int
    """Presentation time in samples of the audio clock."""
    sample_rate: int
    audio: npt.NDArray[np.int16]
    """The mono int16 samples from ``pts`` up to the next frame (silence when idle)."""
    state: AnimatorState
    segment_ended: bool
    """The last sample of an utterance (ended with ``end_segment``) is in this frame."""
    params: FaceParams

    @property
    def time_base(self) -> Fraction:
        """Seconds per ``pts`` unit."""
        return Fraction(1, self.sample_rate)

    @property
    def time(self) -> float:
        """Presentation time in seconds."""
        return self.pts / self.sample_rate


@dataclass(frozen=True, slots=True)
class VideoFrameOut(FrameStep):
    """A rendered frame and the audio that plays while it shows."""

    image: RGB
    """(height, width, 3) RGB uint8."""

    def to_av(self) -> av.VideoFrame:
        """The image as a PyAV frame with ``pts`` and ``time_base`` set (for aiortc / encoders)."""
        import av

        frame = av.VideoFrame.from_ndarray(self.image, format="rgb24")
        frame.pts = self.pts
        frame.time_base = self.time_base
        return frame


class VideoGenerator(Protocol):
    """The face stage's interface; a GPU neural renderer can implement it too."""

    @property
    def sample_rate(self) -> int: ...

    @property
    def fps(self) -> float: ...

    def push_audio(self, chunk: AudioChunk) -> None:
        """Queue audio of the current utterance."""
        ...

    def end_segment(self) -> None:
        """Mark the end of the current utterance."""
        ...

    def clear(self) -> None:
        """Drop all queued audio now (barge-in); the face returns to rest."""
        ...

    def advance(self) -> FrameStep:
        """Move the audio clock on by one frame, without drawing it."""
        ...

    def draw(self, step: FrameStep) -> VideoFrameOut:
        """Draw a step's frame."""
        ...

    def next_frame(self) -> VideoFrameOut:
        """Render the next frame on the audio clock."""
        ...


def _to_float(chunk: AudioChunk) -> npt.NDArray[np.float32]:
    pcm = chunk.pcm
    if isinstance(pcm, bytes | bytearray | memoryview):
        data = bytes(pcm)
        if len(data) % 2:
            raise ValueError("int16 PCM must have an even number of bytes")
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    arr = np.asarray(pcm)
    if arr.ndim != 1:
        raise ValueError("audio must be mono (a 1-D array)")
    return np.clip(as_float32(arr), -1.0, 1.0)


class _Segment:
    """One utterance: its audio, where playback is, and its mouth track."""

    def __init__(self) -> None:
        self.chunks: list[npt.NDArray[np.float32]] = []
        self.audio = np.zeros(0, np.float32)
        self.length = 0
        self.read = 0
        self.ended = False
        self.track = VisemeTrack()

    def append(self, samples: npt.NDArray[np.float32]) -> None:
        self.chunks.append(samples)
        self.length += len(samples)

    def view(self) -> npt.NDArray[np.float32]:
        if self.chunks:
            self.audio = np.concatenate([self.audio, *self.chunks])
            self.chunks.clear()
        return self.audio


class FaceVideoGenerator:
    """Audio in, lip-synced frames out, for one session.

    Args:
        renderer: draws frames from face parameters (e.g. :class:`WarpRenderer`).
        sample_rate: the audio clock; pushed audio must already be at this rate.
        fps: frames per second (default 25).
        seed: seeds blinks and head motion (reproducible sessions and tests).
        lead_s: how far the mouth runs ahead of the audio.
        head_limits: the largest head turn (default :class:`~characters.face.motion.HeadLimits`).
    """

    def __init__(
        self,
        renderer: FrameRenderer,
        *,
        sample_rate: int = 48_000,
        fps: float = 25.0,
        seed: int = 0,
        lead_s: float = 0.0,
        head_limits: HeadLimits | None = None,
    ) -> None:
        if sample_rate <= 0 or fps <= 0:
            raise ValueError("sample_rate and fps must be positive")
        self.renderer = renderer
        self._sample_rate = sample_rate
        self._fps = fps
        self.lead_s = lead_s
        self.animator = FaceAnimator(seed, head_limits)
        self._meter = LoudnessMeter()
        self._segments: deque[_Segment] = deque()
        self._lock = threading.Lock()
        self._frame = 0
        self._played = 0

    @property
    def sample_rate(self) -> int:
        """Samples per second of the audio clock."""
        return self._sample_rate

    @property
    def fps(self) -> float:
        """Frames per second."""
        return self._fps

    @property
    def pts(self) -> int:
        """Presentation time (samples) of the next frame."""
        return round(self._frame * self._sample_rate / self._fps)

    @property
    def frame(self) -> int:
        """Index of the next frame."""
        return self._frame

    def rewind(self, frame: int) -> None:
        """Go back to frame ``frame`` (frames after it were made but not shown; only while no
        audio is queued, so what they held was idle face)."""
        with self._lock:
            if any(s.length > s.read for s in self._segments):
                raise RuntimeError("cannot rewind over queued audio")
        self._frame = max(0, min(frame, self._frame))

    @property
    def played_samples(self) -> int:
        """Samples of pushed audio played so far (audio dropped by :meth:`clear` never is)."""
        return self._played

    @property
    def queued_samples(self) -> int:
        """Audio samples pushed but not yet played."""
        with self._lock:
            return sum(s.length - s.read for s in self._segments)

    def set_listening(self, listening: bool) -> None:
        """Whether the user is speaking (the face nods and keeps its gaze on them)."""
        self.animator.listening = listening

    def push_audio(self, chunk: AudioChunk) -> None:
        """Queue audio (and its phoneme timings) at the end of the current utterance."""
        if chunk.sample_rate != self._sample_rate:
            raise ValueError(
                f"audio is {chunk.sample_rate} Hz but this generator's clock is "
                f"{self._sample_rate} Hz; resample before pushing"
            )
        samples = _to_float(chunk)
        with self._lock:
            if not self._segments or self._segments[-1].ended:
                self._segments.append(_Segment())
            seg = self._segments[-1]
            start = seg.length
            seg.append(samples)
            if chunk.phonemes:
                sr = self._sample_rate
                seg.track.add(((p.phoneme, p.num_samples / sr) for p in chunk.phonemes), start / sr)

    def end_segment(self) -> None:
        """End the current utterance; the next pushed audio starts a new one."""
        with self._lock:
            if self._segments and not self._segments[-1].ended:
                self._segments[-1].ended = True

    def clear(self) -> None:
        """Barge-in: drop everything queued; the mouth is at rest by the second frame."""
        with self._lock:
            self._segments.clear()
            self._meter.reset()
        self.animator.clear()

    def _consume(
        self, count: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64] | None, float, float, bool]:
        """Take ``count`` samples of audio; the mouth pose, loudness and a stressed syllable's
        emphasis (:meth:`~characters.face.visemes.VisemeTrack.emphasis_at`) at their middle."""
        out = np.zeros(count, np.float32)
        filled = 0
        pose: npt.NDArray[np.float64] | None = None
        loudness = 0.0
        emphasis = 0.0
        ended = False
        sr = self._sample_rate
        while filled < count and self._segments:
            seg = self._segments[0]
            if seg.read >= seg.length:
                if not seg.ended:
                    break  # underrun: the TTS is behind; play silence meanwhile
                self._segments.popleft()  # ended after its audio had already played
                ended = True
                continue
            audio = seg.view()
            n = min(seg.length - seg.read, count - filled)
            if pose is None:
                centre = seg.read + count / 2
                t = centre / sr + self.lead_s
                half = int(WINDOW_S * sr / 2)
                c = int(centre)
                window = audio[max(0, c - half) : c + half]
                loudness = self._meter.loudness(window, 1.0 / self._fps)
                if seg.track.empty:
                    pose = pose_from_loudness(loudness)
                else:
                    pose = seg.track.pose_at(t)
                    emphasis = seg.track.emphasis_at(t)
                    pose[0] *= PHONEME_LOUDNESS_FLOOR + (1 - PHONEME_LOUDNESS_FLOOR) * loudness
            out[filled : filled + n] = audio[seg.read : seg.read + n]
            seg.read += n
            filled += n
            self._played += n
            if seg.read >= seg.length and seg.ended:
                self._segments.popleft()
                ended = True
        return out, pose, loudness, emphasis, ended

    def advance(self) -> FrameStep:
        """Move the clock one frame on without drawing: take the audio up to the next frame and
        work out the face. Cheap (no rendering), so a live caller can always keep the audio
        going and draw only the frames it has time for (:meth:`draw`)."""
        pts = self.pts
        count = round((self._frame + 1) * self._sample_rate / self._fps) - pts
        with self._lock:
            audio, pose, loudness, emphasis, ended = self._consume(count)
        t = pts / self._sample_rate
        params = self.animator.params(t, pose, loudness, emphasis)
        self._frame += 1
        state = self.animator.state
        return FrameStep(pts, self._sample_rate, to_int16(audio), state, ended, params)

    def draw(self, step: FrameStep) -> VideoFrameOut:
        """Render a step's face (may run on another thread than :meth:`advance`)."""
        image = self.renderer.render(step.params)
        return VideoFrameOut(
            step.pts,
            step.sample_rate,
            step.audio,
            step.state,
            step.segment_ended,
            step.params,
            image,
        )

    def next_frame(self) -> VideoFrameOut:
        """Render the next frame; it consumes the audio up to the frame after it."""
        return self.draw(self.advance())

    def __iter__(self) -> Iterator[VideoFrameOut]:
        """Frames forever (idle frames when no audio is queued)."""
        while True:
            yield self.next_frame()

    async def frames(self, *, realtime: bool = True) -> AsyncIterator[VideoFrameOut]:
        """Frames for asyncio: rendered off the event loop, paced to their pts if ``realtime``."""
        loop = asyncio.get_running_loop()
        start = loop.time() - self.pts / self._sample_rate
        while True:
            frame = await asyncio.to_thread(self.next_frame)
            if realtime:
                delay = start + frame.time - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            yield frame
