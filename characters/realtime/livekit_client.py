"""A LiveKit client for calls in LiveKit mode, as Runway's React SDK joins them: tests and the
benchmark.

:class:`RoomClient` joins the room of a session's credentials (``url``, ``token``), publishes a
microphone (silence, and the recordings it is asked to :meth:`~RoomClient.play`, in real time),
and keeps what it receives from the character with arrival times, like the WebRTC
:class:`~characters.realtime.client.CallClient`: its voice (48 kHz mono), its video frames, and
the data messages (parsed JSON). It also notes the tracks' sources and the participants it saw,
which is what Runway's SDK relies on (one visible remote participant; video from the CAMERA,
voice from the MICROPHONE source).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import av
import numpy as np
from livekit import rtc

from characters.pcm import Int16
from characters.realtime.client import CallError, Microphone, ReceivedCall, Utterance
from characters.realtime.tracks import AUDIO_FRAME, AUDIO_RATE

FRAME_S = AUDIO_FRAME / AUDIO_RATE


def _to_av(frame: rtc.VideoFrame, pts: int) -> av.VideoFrame:
    """A received frame as PyAV's (yuv420p), as the WebRTC client hands them on."""
    i420 = frame.convert(rtc.VideoBufferType.I420)
    planes = np.frombuffer(i420.data, np.uint8).reshape(i420.height * 3 // 2, i420.width)
    out = av.VideoFrame.from_ndarray(planes, format="yuv420p")
    out.pts = pts
    return out


class RoomClient(ReceivedCall):
    """One call from a LiveKit client (see the module docstring)."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        on_video: Callable[[av.VideoFrame, float], None] | None = None,
        on_audio: Callable[[Int16, float], None] | None = None,
        timeout_s: float = 20.0,
    ) -> None:
        super().__init__()
        self.url = url
        self.token = token
        self.timeout_s = timeout_s
        self.on_video = on_video
        """Given each received frame (yuv420p, ``pts`` on a 90 kHz clock) and its arrival."""
        self.on_audio = on_audio
        self.offered_at = 0.0
        """When joining began (the embedded client's offer time, for the same timings)."""
        self.mic = Microphone()
        self.room = rtc.Room()
        self.sources: dict[str, int] = {}
        """Kind of each track received from the character ("audio", "video") → its source."""
        self.participants: list[str] = []
        """Identities of the remote participants seen, in order."""
        self.disconnect_reason: Any = None
        self._source = rtc.AudioSource(AUDIO_RATE, 1, queue_size_ms=100)
        self._tasks: list[asyncio.Task[None]] = []
        self.room.on("participant_connected", self._on_participant)
        self.room.on("track_subscribed", self._on_track)
        self.room.on("data_received", self._on_data)
        self.room.on("disconnected", self._on_disconnected)

    async def connect(self) -> None:
        """Join the room and publish the microphone (:class:`CallError` if it cannot)."""
        self.offered_at = time.monotonic()
        try:
            await asyncio.wait_for(
                self.room.connect(self.url, self.token, rtc.RoomOptions(auto_subscribe=True)),
                self.timeout_s,
            )
        except TimeoutError:
            raise CallError(f"the room did not connect within {self.timeout_s:g} s") from None
        except Exception as e:
            raise CallError(f"cannot join the room at {self.url}: {e}") from e
        self.connected_at = time.monotonic()
        for participant in self.room.remote_participants.values():
            self._on_participant(participant)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", self._source)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self._tasks.append(asyncio.ensure_future(self._speak()))

    def play(self, pcm: Int16, rate: int) -> Utterance:
        """Play a recording as the microphone (after what is queued)."""
        return self.mic.play(pcm, rate)

    def send(self, message: dict[str, Any] | str) -> None:
        """A reliable data message to the room (e.g. ``{"type": "END_CALL"}``)."""
        text = message if isinstance(message, str) else json.dumps(message)
        self._tasks.append(
            asyncio.ensure_future(self.room.local_participant.publish_data(text, reliable=True))
        )

    async def hang_up(self) -> int:
        """Leave the room (the character sees the user go: COMPLETED); 0 (no HTTP status)."""
        await self.close()
        return 0

    async def close(self) -> None:
        """Leave the room and stop reading (idempotent)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.room.disconnect(), 5)
        self.closed.set()

    # -- inside ---------------------------------------------------------------------------------

    async def _speak(self) -> None:
        start = time.monotonic()
        n = 0
        while True:
            await asyncio.sleep(max(0.0, start + n * FRAME_S - time.monotonic()))
            pcm = self.mic.next_frame()
            await self._source.capture_frame(
                rtc.AudioFrame(pcm.tobytes(), AUDIO_RATE, 1, AUDIO_FRAME)
            )
            n += 1

    def _on_participant(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity not in self.participants:
            self.participants.append(participant.identity)

    def _on_track(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self.sources["audio"] = publication.source
            self._tasks.append(asyncio.ensure_future(self._read_audio(track)))
        elif track.kind == rtc.TrackKind.KIND_VIDEO:
            self.sources["video"] = publication.source
            self._tasks.append(asyncio.ensure_future(self._read_video(track)))

    async def _read_audio(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=AUDIO_RATE, num_channels=1)
        try:
            async for event in stream:
                now = time.monotonic()
                pcm = np.frombuffer(event.frame.data, np.int16).copy()
                self.audio.arrivals.append(now)
                self.audio.pts.append(len(self.audio.pts) * len(pcm))
                self.audio_pcm.append(pcm)
                if self.on_audio is not None:
                    self.on_audio(pcm, now)
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def _read_video(self, track: rtc.Track) -> None:
        stream = rtc.VideoStream(track)
        try:
            async for event in stream:
                now = time.monotonic()
                if self.first_frame_at is None:
                    self.first_frame_at = now
                pts = event.timestamp_us * 9 // 100  # on 90 kHz, as RTP video
                self.video.arrivals.append(now)
                self.video.pts.append(pts)
                if self.on_video is not None:
                    self.on_video(_to_av(event.frame, pts), now)
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    def _on_data(self, packet: rtc.DataPacket) -> None:
        self._received_message(bytes(packet.data))

    def _on_disconnected(self, reason: Any) -> None:
        self.disconnect_reason = reason
        self.closed.set()
