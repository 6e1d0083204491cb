"""A WebRTC client for calls, as a browser would be: ``characters call``, tests and the benchmark.

:class:`CallClient` posts an SDP offer to a session's WHIP ``url`` with its token, sends a
microphone track (silence, and the recordings it is asked to :meth:`~CallClient.play`, in real
time), opens the ``events`` data channel, and keeps what it receives with its arrival time: the
character's audio (48 kHz), its video frames and the events. It also keeps the RTCP sender
reports of both streams, which is how a browser lines up lips and sound: a frame's *sender
time* (:meth:`ReceivedMedia.sender_time`) is what a browser's A/V sync uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import av
import httpx
import numpy as np
import numpy.typing as npt
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtcpSrPacket

from characters.pcm import Int16, StreamResampler, frame_to_mono
from characters.realtime.tracks import AUDIO_FRAME, AUDIO_RATE
from characters.realtime.webrtc import ice_servers

log = logging.getLogger(__name__)

VOICED_DBFS = -40.0
"""A 20 ms frame louder than this holds speech (for speech ends and answer onsets)."""


class CallError(Exception):
    """The call could not be set up (the message says why; ``status`` is the HTTP status)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Utterance:
    """A recording played as the microphone."""

    samples: Int16
    voiced_end: int
    """Index of the sample after the last voiced 20 ms frame."""
    started_at: float | None = None
    speech_end_at: float | None = None
    """Monotonic time the last voiced sample was sent."""
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Microphone:
    """The user's side of a call: the queued utterances, else silence, 20 ms at a time."""

    def __init__(self) -> None:
        self._queue: list[Utterance] = []
        self._pos = 0

    def play(self, pcm: Int16, rate: int) -> Utterance:
        samples = pcm if rate == AUDIO_RATE else _resample(pcm, rate)
        utterance = Utterance(samples.astype(np.int16), _voiced_end(samples))
        self._queue.append(utterance)
        return utterance

    def next_frame(self) -> Int16:
        """The next 20 ms of 48 kHz mono, due now (the caller paces it in real time)."""
        out = np.zeros(AUDIO_FRAME, np.int16)
        filled = 0
        while filled < AUDIO_FRAME and self._queue:
            u = self._queue[0]
            if u.started_at is None:
                u.started_at = time.monotonic()
            n = min(AUDIO_FRAME - filled, len(u.samples) - self._pos)
            out[filled : filled + n] = u.samples[self._pos : self._pos + n]
            if self._pos < u.voiced_end <= self._pos + n:
                u.speech_end_at = time.monotonic()
            self._pos += n
            filled += n
            if self._pos >= len(u.samples):
                self._queue.pop(0)
                self._pos = 0
                if u.speech_end_at is None:
                    u.speech_end_at = time.monotonic()
                u.done.set()
        return out


class MicrophoneTrack(MediaStreamTrack):
    """The :class:`Microphone` as an aiortc track: 20 ms frames paced in real time."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.microphone = Microphone()
        self._start: float | None = None
        self._n = 0
        self._time_base = fractions.Fraction(1, AUDIO_RATE)

    def play(self, pcm: Int16, rate: int) -> Utterance:
        return self.microphone.play(pcm, rate)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            await asyncio.sleep(max(0.0, self._start + self._n * AUDIO_FRAME / AUDIO_RATE - now))
        out = self.microphone.next_frame()
        frame = av.AudioFrame.from_ndarray(out.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._n * AUDIO_FRAME
        frame.time_base = self._time_base
        self._n += 1
        return frame


@dataclass
class ReceivedMedia:
    """What arrived of one stream: arrival times, RTP timestamps and the sender reports."""

    clock_rate: int
    arrivals: list[float] = field(default_factory=list)
    """Monotonic arrival time of each decoded frame."""
    pts: list[int] = field(default_factory=list)
    """RTP timestamp of each frame."""
    reports: list[tuple[int, float]] = field(default_factory=list)
    """RTCP sender reports: (RTP timestamp, sender's NTP time in seconds)."""
    origin: int | None = None
    """The RTP timestamp of the first packet (decoded frames count their ``pts`` from it)."""
    packets: int = 0
    lost: int = 0
    """Packets missing from the sequence numbers (never arrived)."""
    _last_seq: int | None = None

    def packet(self, sequence: int, timestamp: int) -> None:
        if self.origin is None:
            self.origin = timestamp
        if self._last_seq is not None:
            gap = (sequence - self._last_seq) % 65536
            if 1 < gap < 32768:
                self.lost += gap - 1
        self._last_seq = sequence
        self.packets += 1

    def sender_time(self, index: int) -> float | None:
        """The sender's wall time (NTP seconds) of frame ``index``, from the sender reports
        (None before the first): when the sender says it sent that media, what a browser lines
        the two streams up by."""
        if not self.reports or self.origin is None:
            return None
        rtp = (self.pts[index] + self.origin) % 2**32
        ref_rtp, ntp = self.reports[-1]
        delta = (rtp - ref_rtp + 2**31) % 2**32 - 2**31
        return ntp + delta / self.clock_rate


class ReceivedCall:
    """What a call's client received, with arrival times, and the questions tests and the
    benchmark ask of it (the WebRTC :class:`CallClient`; LiveKit's
    :class:`~characters.realtime.livekit_client.RoomClient`)."""

    def __init__(self) -> None:
        self.audio = ReceivedMedia(AUDIO_RATE)
        self.video = ReceivedMedia(90_000)
        self.audio_pcm: list[Int16] = []
        """The character's audio, one 48 kHz mono array per received frame."""
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.connected_at: float | None = None
        self.first_frame_at: float | None = None
        self.closed = asyncio.Event()
        self._event_added = asyncio.Event()

    async def wait_event(
        self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float, *, after: float = 0.0
    ) -> dict[str, Any]:
        """The first event (arrived after monotonic time ``after``) that matches; TimeoutError."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        while True:
            for at, event in self.events[seen:]:
                if at >= after and predicate(event):
                    return event
            seen = len(self.events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching event within {timeout_s:g} s")
            self._event_added.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event_added.wait(), remaining)

    def event_time(
        self, predicate: Callable[[dict[str, Any]], bool], after: float = 0.0
    ) -> float | None:
        """Arrival time of the first matching event after ``after``."""
        return next((t for t, e in self.events if t >= after and predicate(e)), None)

    def audio_array(self) -> tuple[npt.NDArray[np.float64], Int16]:
        """(arrival time of each sample, the samples) of the character's audio so far."""
        if not self.audio_pcm:
            return np.zeros(0), np.zeros(0, np.int16)
        times = [
            at - len(p) / AUDIO_RATE + np.arange(len(p)) / AUDIO_RATE
            for at, p in zip(self.audio.arrivals, self.audio_pcm, strict=True)
        ]
        return np.concatenate(times), np.concatenate(self.audio_pcm)

    def first_voice(self, after: float) -> float | None:
        """Arrival time of the first received audio frame with speech after ``after``."""
        return next((at for at in self._voiced() if at > after), None)

    def last_voice(self, before: float | None = None) -> float | None:
        """Arrival time of the last received audio frame with speech (before ``before``)."""
        last = None
        for at in self._voiced():
            if before is not None and at > before:
                break
            last = at
        return last

    def _voiced(self) -> Iterator[float]:
        for at, pcm in zip(self.audio.arrivals, self.audio_pcm, strict=True):
            if _dbfs(pcm) > VOICED_DBFS:
                yield at

    def _received_message(self, message: str | bytes) -> None:
        try:
            event = json.loads(message)
        except ValueError:
            log.warning("a message that is not JSON: %r", message[:100])
            return
        self.events.append((time.monotonic(), event))
        self._event_added.set()


class CallClient(ReceivedCall):
    """One call from the client side (see the module docstring)."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        ice: list[dict[str, Any]] | None = None,
        video_codecs: tuple[str, ...] = ("VP8", "H264"),
        on_video: Callable[[av.VideoFrame, float], None] | None = None,
        on_audio: Callable[[Int16, float], None] | None = None,
        timeout_s: float = 20.0,
        decode_video: bool = True,
    ) -> None:
        super().__init__()
        self.url = url
        self.token = token
        self.timeout_s = timeout_s
        self.on_video = on_video
        self.on_audio = on_audio
        self.mic = MicrophoneTrack()
        self.location: str | None = None
        self.offered_at = 0.0
        self._video_codecs = video_codecs
        self._decode_video = decode_video
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers(ice or [])))
        self._channel = self._pc.createDataChannel("events")
        self._connected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pc.on("track", self._on_track)
        self._pc.on("connectionstatechange", self._on_state)
        self._channel.on("message", self._received_message)
        self._channel.on("open", self._on_open)
        self._unsent: list[str] = []

    # -- connecting -----------------------------------------------------------------------------

    async def make_offer(self) -> str:
        """The SDP offer (microphone, video wanted, ``events``), ICE candidates gathered."""
        pc = self._pc
        pc.addTransceiver(self.mic, direction="sendrecv")
        video = pc.addTransceiver("video", direction="recvonly")
        caps = RTCRtpReceiver.getCapabilities("video")
        assert caps is not None
        wanted = [c for c in caps.codecs if c.name in self._video_codecs or c.name == "rtx"]
        video.setCodecPreferences(wanted)
        for t in pc.getTransceivers():
            self._watch_reports(t.receiver, t.kind)
            self._watch_packets(t.receiver, t.kind)
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)

    async def connect(self) -> None:
        """Offer, answer, and wait until the media is connected (:class:`CallError` if not)."""
        pc = self._pc
        await self.make_offer()
        self.offered_at = time.monotonic()
        async with httpx.AsyncClient(timeout=self.timeout_s) as http:
            try:
                response = await http.post(
                    self.url,
                    content=pc.localDescription.sdp.encode(),
                    headers={
                        "Content-Type": "application/sdp",
                        "Authorization": f"Bearer {self.token}",
                    },
                )
            except httpx.HTTPError as e:
                raise CallError(f"cannot reach {self.url}: {e}") from e
        if response.status_code != 201:
            raise CallError(_error_text(response), response.status_code)
        self.location = str(httpx.URL(self.url).join(response.headers.get("location", "")))
        await pc.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
        try:
            await asyncio.wait_for(self._connected.wait(), self.timeout_s)
        except TimeoutError:
            raise CallError(f"the media did not connect within {self.timeout_s:g} s") from None

    # -- talking --------------------------------------------------------------------------------

    def play(self, pcm: Int16, rate: int) -> Utterance:
        """Play a recording as the microphone (after what is queued)."""
        return self.mic.play(pcm, rate)

    def send(self, message: dict[str, Any] | str) -> None:
        """A message on ``events`` (e.g. ``{"type": "user_message", "text": "Hi"}``; a string is
        sent as it is); queued until the channel is open."""
        text = message if isinstance(message, str) else json.dumps(message)
        if self._channel.readyState == "open":
            self._channel.send(text)
        else:
            self._unsent.append(text)

    # -- ending ---------------------------------------------------------------------------------

    async def hang_up(self) -> int:
        """``DELETE`` the call's WHIP resource; the HTTP status."""
        if self.location is None:
            return 0
        async with httpx.AsyncClient(timeout=self.timeout_s) as http:
            response = await http.delete(
                self.location, headers={"Authorization": f"Bearer {self.token}"}
            )
        return response.status_code

    async def close(self) -> None:
        """Close the peer connection and stop reading (idempotent)."""
        self.mic.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._pc.close(), 5)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.closed.set()

    # -- aiortc callbacks -----------------------------------------------------------------------

    def _on_state(self) -> None:
        state = self._pc.connectionState
        if state == "connected":
            self.connected_at = time.monotonic()
            self._connected.set()
        elif state in ("failed", "closed"):
            self.closed.set()

    def _on_open(self) -> None:
        unsent, self._unsent = self._unsent, []
        for text in unsent:
            self._channel.send(text)

    def _on_track(self, track: MediaStreamTrack) -> None:
        reader = self._read_audio(track) if track.kind == "audio" else self._read_video(track)
        self._tasks.append(asyncio.ensure_future(reader))

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        async for frame in _frames(track):
            assert isinstance(frame, av.AudioFrame)
            now = time.monotonic()
            mono = frame_to_mono(frame)
            self.audio.arrivals.append(now)
            self.audio.pts.append(int(frame.pts or 0))
            self.audio_pcm.append(mono)
            if self.on_audio is not None:
                self.on_audio(mono, now)

    async def _read_video(self, track: MediaStreamTrack) -> None:
        async for frame in _frames(track):
            assert isinstance(frame, av.VideoFrame)
            now = time.monotonic()
            if self.first_frame_at is None:
                self.first_frame_at = now
            self.video.arrivals.append(now)
            self.video.pts.append(int(frame.pts or 0))
            if self.on_video is not None:
                self.on_video(frame, now)

    def _watch_packets(self, receiver: RTCRtpReceiver, kind: str) -> None:
        """Count each stream's packets and losses; without ``decode_video``, video frames are
        counted here (arrival and timestamp) and never decoded."""
        handle = receiver._handle_rtp_packet
        media = self.audio if kind == "audio" else self.video
        decode = kind == "audio" or self._decode_video
        last: list[int | None] = [None]

        async def counted(packet: Any, arrival_time_ms: int) -> None:
            media.packet(packet.sequence_number, packet.timestamp)
            if decode:
                await handle(packet, arrival_time_ms)
            elif packet.timestamp != last[0]:
                last[0] = packet.timestamp
                now = time.monotonic()
                if self.first_frame_at is None:
                    self.first_frame_at = now
                media.arrivals.append(now)
                media.pts.append((packet.timestamp - (media.origin or 0)) % 2**32)

        receiver._handle_rtp_packet = counted  # type: ignore[method-assign]

    def _watch_reports(self, receiver: RTCRtpReceiver, kind: str) -> None:
        """Keep the stream's RTCP sender reports (RTP timestamp ↔ the sender's clock)."""
        handle = receiver._handle_rtcp_packet
        media = self.audio if kind == "audio" else self.video

        async def with_reports(packet: Any) -> None:
            if isinstance(packet, RtcpSrPacket):
                ntp = packet.sender_info.ntp_timestamp / 2**32
                media.reports.append((packet.sender_info.rtp_timestamp, ntp))
            await handle(packet)

        receiver._handle_rtcp_packet = with_reports  # type: ignore[method-assign]


async def _frames(track: MediaStreamTrack) -> AsyncIterator[Any]:
    """A remote track's frames until it ends (waits of 5 s at most, then again)."""
    while True:
        try:
            yield await asyncio.wait_for(track.recv(), 5)
        except TimeoutError:
            continue
        except MediaStreamError:
            return


def _dbfs(pcm: Int16) -> float:
    rms = float(np.sqrt(np.mean(np.square(pcm.astype(np.float64))))) if len(pcm) else 0.0
    return float(20 * np.log10(max(rms, 1e-9) / 32768.0))


def _voiced_end(samples: Int16) -> int:
    """The sample after the last voiced 20 ms frame (0 if none is)."""
    end = 0
    for start in range(0, len(samples), AUDIO_FRAME):
        if _dbfs(samples[start : start + AUDIO_FRAME]) > VOICED_DBFS:
            end = min(len(samples), start + AUDIO_FRAME)
    return end


def _resample(pcm: Int16, rate: int) -> Int16:
    resampler = StreamResampler(AUDIO_RATE, np.int16)
    out = np.concatenate([resampler(pcm, rate), resampler.flush()])
    return out.astype(np.int16)


def _error_text(response: httpx.Response) -> str:
    try:
        detail = response.json().get("error") or response.text
    except ValueError:
        detail = response.text
    return f"the server refused the call: {response.status_code} {detail}".strip()
