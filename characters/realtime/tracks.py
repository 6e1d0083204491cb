"""The call's media clock and the character's two outgoing tracks, paced from timestamps.

One :class:`MediaClock` per call: media time 0 is one instant of the event loop's clock, and
every sample and frame the character sends has a time on it. Both tracks sleep until their
media's time comes and then hand it to aiortc, so the RTP timestamps, the send times and
therefore the RTCP sender reports (what a browser syncs lips and sound with) agree.

* :class:`AvatarAudioTrack` sends 20 ms frames of 48 kHz mono forever: what the stage wrote into
  the :class:`AudioBuffer` for that stretch of time, or silence. It never waits for the stage,
  so audio cannot stall: a stretch the stage was too late for is silent (an underrun, counted).
* :class:`AvatarVideoTrack` sends the stage's frames, each at its own time, encoding each one
  (VP8 or H.264; aiortc only packetizes the packets) just before: a frame dropped before it was
  sent (barge-in, an answer starting) was never encoded, so every frame the encoder made reaches
  the client and the decoder's reference frames stay the encoder's. Frames the stage did not
  draw are simply not there.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from characters.pcm import Int16

if TYPE_CHECKING:
    from characters.realtime.encoder import VideoEncoder

log = logging.getLogger(__name__)

AUDIO_RATE = 48_000
"""Opus runs at 48 kHz; the character's voice is resampled to it."""
AUDIO_FRAME = 960
"""Samples per outgoing audio frame (20 ms)."""
VIDEO_CLOCK = 90_000
"""RTP clock of video."""


class MediaClock:
    """Media time of one call: seconds since :meth:`start` on the event loop's clock."""

    def __init__(self) -> None:
        self._t0: float | None = None
        self.started = asyncio.Event()

    def start(self) -> None:
        """Media time 0 is now (once; later calls do nothing)."""
        if self._t0 is None:
            self._t0 = asyncio.get_running_loop().time()
            self.started.set()

    @property
    def running(self) -> bool:
        return self._t0 is not None

    def now(self) -> float:
        """Media seconds now (0 before :meth:`start`)."""
        if self._t0 is None:
            return 0.0
        return asyncio.get_running_loop().time() - self._t0

    async def sleep_until(self, media_s: float) -> None:
        """Sleep until media time ``media_s`` (at once if it has passed)."""
        await self.started.wait()
        delay = media_s - self.now()
        if delay > 0:
            await asyncio.sleep(delay)


class AudioBuffer:
    """48 kHz mono samples by position on the media clock (sample ``n`` plays at ``n / 48000`` s).

    The stage writes ahead of time (:meth:`write`, in order); the audio track reads in real time
    (:meth:`read`). Nothing waits on anything: a read finds silence where nothing was written,
    and a write for a stretch already read is dropped (both are counted).
    """

    def __init__(self) -> None:
        self._chunks: deque[tuple[int, Int16]] = deque()
        self.write_pos = 0
        self.read_pos = 0
        self.underrun_samples = 0
        """Samples read as silence because the stage had not written them in time."""
        self.late_samples = 0
        """Samples written after their time had passed (dropped)."""
        self.voiced_until = 0
        """Position up to which non-silent audio was written (for :attr:`playing`)."""

    def write(self, pcm: Int16, *, voiced: bool) -> None:
        """Append ``pcm`` at :attr:`write_pos`; ``voiced`` when it holds the character's speech."""
        start = self.write_pos
        self.write_pos += len(pcm)
        if voiced:
            self.voiced_until = self.write_pos
        if self.write_pos <= self.read_pos:
            self.late_samples += len(pcm)
            return
        if start < self.read_pos:
            cut = self.read_pos - start
            self.late_samples += cut
            pcm, start = pcm[cut:], self.read_pos
        self._chunks.append((start, pcm))

    def read(self, count: int) -> Int16:
        """The next ``count`` samples from :attr:`read_pos` (silence where none were written)."""
        out = np.zeros(count, np.int16)
        start, end = self.read_pos, self.read_pos + count
        while self._chunks:
            pos, pcm = self._chunks[0]
            if pos >= end:
                break
            a, b = max(pos, start), min(pos + len(pcm), end)
            out[a - start : b - start] = pcm[a - pos : b - pos]
            if pos + len(pcm) <= end:
                self._chunks.popleft()
            else:
                break
        if end > self.write_pos and self.write_pos > 0:  # before the first write: not a gap
            self.underrun_samples += end - max(start, self.write_pos)
        self.read_pos = end
        return out

    def silence_after(self, pos: int) -> None:
        """Drop what was written beyond ``pos`` (barge-in): it plays as silence instead."""
        pos = max(pos, self.read_pos)
        kept: deque[tuple[int, Int16]] = deque()
        for start, pcm in self._chunks:
            if start >= pos:
                continue
            kept.append((start, pcm[: pos - start] if start + len(pcm) > pos else pcm))
        self._chunks = kept
        self.voiced_until = min(self.voiced_until, pos)

    def rewind(self, pos: int) -> None:
        """Write from ``pos`` on next (what was written after it is dropped; never before what
        was read)."""
        pos = max(pos, self.read_pos)
        self.silence_after(pos)
        self.write_pos = min(self.write_pos, pos)

    @property
    def playing(self) -> bool:
        """Whether speech is playing now (voiced samples at or after the read position)."""
        return self.voiced_until > self.read_pos


class AvatarAudioTrack(MediaStreamTrack):
    """The character's voice: 20 ms frames of the :class:`AudioBuffer`, paced by the clock."""

    kind = "audio"

    def __init__(self, clock: MediaClock, buffer: AudioBuffer) -> None:
        super().__init__()
        self.clock = clock
        self.buffer = buffer
        self._time_base = fractions.Fraction(1, AUDIO_RATE)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        self.clock.start()
        pos = self.buffer.read_pos
        await self.clock.sleep_until(pos / AUDIO_RATE)
        if self.readyState != "live":
            raise MediaStreamError
        pcm = self.buffer.read(AUDIO_FRAME)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = pos
        frame.time_base = self._time_base
        return frame


ENCODE_AHEAD_S = 0.015
"""A frame is encoded this long before its time (about 3-7 ms of work), not earlier: until then
it can still be dropped without the encoder having seen it."""


@dataclass(frozen=True, slots=True)
class VideoFrameIn:
    """One drawn frame (yuv420p) and its media time."""

    image: av.VideoFrame
    time_s: float


class VideoOut(Protocol):
    """Where the stage hands the character's drawn frames: a transport's video, which sends
    each at its media time (:class:`AvatarVideoTrack` for WebRTC; LiveKit's in
    :mod:`characters.realtime.livekit`)."""

    def put(self, frame: VideoFrameIn) -> None: ...

    def drop_after(self, time_s: float) -> int:
        """Forget the frames not sent yet that are due after ``time_s``; how many."""
        ...


class PendingFrames:
    """Drawn frames waiting for their media time: the stage :meth:`put` s them ahead of time and
    may :meth:`drop_after` those not sent yet; a transport's video sends them (a
    :class:`VideoOut`)."""

    def __init__(self, max_queue: int = 8) -> None:
        self._queue: deque[VideoFrameIn] = deque(maxlen=max_queue)
        self._ready = asyncio.Event()

    def put(self, frame: VideoFrameIn) -> None:
        self._queue.append(frame)
        self._ready.set()

    def drop_after(self, time_s: float) -> int:
        """Forget the frames not sent yet that are due after ``time_s`` (barge-in, an answer
        starting); how many were dropped."""
        kept = [f for f in self._queue if f.time_s <= time_s]
        dropped = len(self._queue) - len(kept)
        self._queue.clear()
        self._queue.extend(kept)
        return dropped


class AvatarVideoTrack(MediaStreamTrack, PendingFrames):
    """The character's face: frames encoded and handed to aiortc at their media time.

    The stage :meth:`put` s drawn frames ahead of time and may :meth:`drop_after` those not
    sent yet; each frame is encoded on the track's own thread :data:`ENCODE_AHEAD_S` before its
    time, in order, so what the encoder saw is exactly what was sent. aiortc asks for a keyframe
    (the receiver sent a PLI or FIR) through :meth:`request_keyframe`.
    """

    kind = "video"

    def __init__(self, clock: MediaClock, *, max_queue: int = 8) -> None:
        MediaStreamTrack.__init__(self)
        PendingFrames.__init__(self, max_queue)
        self.clock = clock
        self._encoder: VideoEncoder | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="encode")
        self._keyframe_wanted = True
        self._last_s = -math.inf
        self.sent = 0
        self.out_of_order = 0
        """Frames not sent because their time was not after the last one sent."""

    def use(self, encoder: VideoEncoder) -> None:
        """Encode with ``encoder`` (once the codec is negotiated; the track closes it)."""
        self._encoder = encoder

    def request_keyframe(self) -> None:
        self._keyframe_wanted = True

    async def recv(self) -> av.Packet[Any]:
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                if self.readyState != "live":
                    raise MediaStreamError
                self._ready.clear()
                await self._ready.wait()
            frame = self._queue[0]
            await self.clock.sleep_until(frame.time_s - ENCODE_AHEAD_S)
            if self.readyState != "live":
                raise MediaStreamError
            if not self._queue or self._queue[0] is not frame:
                continue  # dropped (or overtaken) meanwhile
            self._queue.popleft()
            if frame.time_s <= self._last_s:
                # Never a time twice or backwards: the receiver would take two frames of one
                # RTP timestamp for one, and decode the rest against a frame it never got.
                self.out_of_order += 1
                log.warning(
                    "video frame at %.3f s after one at %.3f s: not sent",
                    frame.time_s,
                    self._last_s,
                )
                continue
            self._last_s = frame.time_s
            packet = await loop.run_in_executor(self._pool, self._encode, frame)
            if packet is None:
                continue
            await self.clock.sleep_until(frame.time_s)
            if self.readyState != "live":
                raise MediaStreamError
            self.sent += 1
            return packet

    def _encode(self, frame: VideoFrameIn) -> av.Packet[Any] | None:
        if self._encoder is None:
            raise MediaStreamError("no encoder")
        keyframe, self._keyframe_wanted = self._keyframe_wanted, False
        return self._encoder.encode(
            frame.image, round(frame.time_s * VIDEO_CLOCK), keyframe=keyframe
        )

    def stop(self) -> None:
        super().stop()
        self._ready.set()  # wake a pending recv, which then raises MediaStreamError
        # After any encoding in flight, on the same thread: free the codec (and its threads)
        # now, not whenever the garbage collector gets to the finished call.
        encoder, self._encoder = self._encoder, None
        if encoder is not None:
            self._pool.submit(encoder.close)
        self._pool.shutdown(wait=False)
