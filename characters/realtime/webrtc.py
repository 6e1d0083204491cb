"""The embedded transport: one aiortc peer connection per call, set up from a WHIP offer.

:func:`read_offer` checks a client's SDP before anything is spent on it (a malformed offer, or
one without the microphone, is refused with a 400 and does not use up the session's token).
:class:`WebRTCPeer` answers it: the user's microphone comes in; the character's voice (Opus,
48 kHz) and face (VP8, or H.264 when the client offers only that) go out on the tracks of
:mod:`characters.realtime.tracks`; JSON messages travel on the ``events`` data channel that the
client opens. It is the :class:`~characters.realtime.runner.Transport` of a call.

ICE: the server answers with host candidates of every interface, loopback included (aioice
leaves 127.0.0.1 out, which would fail a server and a client that share only loopback), plus
relay candidates when TURN servers are configured (``CHARACTERS_ICE_SERVERS``). With no
configuration nothing outside the machine is contacted (aiortc would ask Google's STUN server
if it were given no list at all).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aioice.ice
import av
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from characters.errors import InvalidInput
from characters.pcm import Int16, frame_to_mono
from characters.realtime.encoder import Codec, VideoEncoder
from characters.realtime.events import Event, encode
from characters.realtime.tracks import (
    AudioBuffer,
    AvatarAudioTrack,
    AvatarVideoTrack,
    MediaClock,
    VideoOut,
)

log = logging.getLogger(__name__)

MAX_OFFER_BYTES = 64 * 1024
EVENTS_LABEL = "events"
MIC_TIMEOUT_S = 1.0
"""How long one wait for a microphone frame may take before the caller is told of the silence."""


def _with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    addresses = _host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    if use_ipv4 and "127.0.0.1" not in addresses:
        addresses.append("127.0.0.1")
    return addresses


_host_addresses = aioice.ice.get_host_addresses
aioice.ice.get_host_addresses = _with_loopback


@dataclass(frozen=True, slots=True)
class Offer:
    """A client's SDP offer that passed :func:`read_offer`."""

    sdp: str
    video_codecs: tuple[Codec, ...]
    """The video codecs we can send that the client offered (empty: no video wanted)."""
    data_channel: bool


def read_offer(body: bytes, content_type: str | None) -> Offer:
    """Check a WHIP request body; :class:`InvalidInput` (400) names what is wrong."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind != "application/sdp":
        raise InvalidInput(
            f"The offer must be sent as 'Content-Type: application/sdp' (got {kind or 'none'})."
        )
    if len(body) > MAX_OFFER_BYTES:
        raise InvalidInput(f"The SDP offer is larger than {MAX_OFFER_BYTES // 1024} KiB.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The SDP offer is not UTF-8 text.") from None
    if not text.lstrip().startswith("v=0"):
        raise InvalidInput("The body is not an SDP offer (it must start with 'v=0').")
    try:
        parsed = aiortc_sdp.SessionDescription.parse(text)
    except Exception as e:  # the parser raises whatever its input provokes
        raise InvalidInput(
            f"The SDP offer could not be parsed ({type(e).__name__}: {e})."
        ) from None
    audio = [m for m in parsed.media if m.kind == "audio"]
    if not audio:
        raise InvalidInput(
            "The SDP offer has no audio m-line: the call needs the user's microphone (add an "
            "audio transceiver with direction 'sendrecv')."
        )
    if audio[0].direction not in (None, "sendrecv"):
        raise InvalidInput(
            f"The offer's audio is '{audio[0].direction}'; it must be 'sendrecv' (the user's "
            "microphone in, the character's voice out)."
        )
    if not any(c.name.lower() == "opus" for c in audio[0].rtp.codecs):
        raise InvalidInput("The offer's audio does not include Opus.")
    for media in parsed.media:
        if media.kind in ("audio", "video") and (media.ice is None or media.dtls is None):
            raise InvalidInput("The SDP offer lacks ICE credentials or a DTLS fingerprint.")
    codecs: list[Codec] = []
    video = [m for m in parsed.media if m.kind == "video"]
    if video and video[0].direction in (None, "sendrecv", "recvonly"):
        names = {c.name.lower() for c in video[0].rtp.codecs}
        if "vp8" in names:
            codecs.append("vp8")
        if "h264" in names:
            codecs.append("h264")
        if not codecs:
            raise InvalidInput("The offer's video has neither VP8 nor H.264; offer one of them.")
    has_data = any(m.kind == "application" for m in parsed.media)
    return Offer(text, tuple(codecs), has_data)


def low_latency_input(receiver: RTCRtpReceiver, prefetch: int = 1) -> None:
    """Hand incoming audio on as soon as each packet is complete.

    aiortc holds 4 packets (80 ms) in its audio jitter buffer before decoding, a playout margin
    that the server does not need: it listens, it does not play. Every 80 ms saved there is
    80 ms less to notice a barge-in or the end of the user's turn. A packet that comes later than
    the next one is dropped instead of waited for, which a listener does not notice. (The buffer
    is private to aiortc; if it is not there, nothing changes.)
    """
    name = "_RTCRtpReceiver__jitter_buffer"
    if hasattr(receiver, name):
        setattr(receiver, name, JitterBuffer(capacity=16, prefetch=prefetch))


def ice_servers(config: list[dict[str, Any]]) -> list[RTCIceServer]:
    """aiortc's form of the configured STUN/TURN servers (``CHARACTERS_ICE_SERVERS``)."""
    return [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in config
    ]


class WebRTCPeer:
    """One call's peer connection (see the module docstring). Use from the event loop."""

    def __init__(self, ice: list[dict[str, Any]], *, on_message: Callable[[str], None]) -> None:
        self.clock = MediaClock()
        self.audio_out = AudioBuffer()
        self.video_out: VideoOut | None = None
        self.video_codec: Codec | None = None
        self.connected = asyncio.Event()
        self.gone = asyncio.Event()
        self.gone_reason = ""
        self.audio_liveness = True
        self._on_message = on_message
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers(ice)))
        self._channel: RTCDataChannel | None = None
        self._pending: list[str] = []
        self._mic: MediaStreamTrack | None = None
        self._audio_track = AvatarAudioTrack(self.clock, self.audio_out)
        self._video_track = AvatarVideoTrack(self.clock)
        self._pc.on("connectionstatechange", self._on_state)
        self._pc.on("datachannel", self._on_channel)
        self._pc.on("track", self._on_track)

    async def answer(self, offer: Offer) -> str:
        """The SDP answer to ``offer`` (ICE candidates gathered and included)."""
        pc = self._pc
        audio = pc.addTransceiver(self._audio_track, direction="sendrecv")
        low_latency_input(audio.receiver)
        video = None
        if offer.video_codecs:
            video = pc.addTransceiver(self._video_track, direction="sendonly")
            caps = RTCRtpSender.getCapabilities("video").codecs
            order = {"vp8": 0, "h264": 1}
            wanted = sorted(
                (
                    c
                    for c in caps
                    if c.name.lower() in order and c.name.lower() in offer.video_codecs
                ),
                key=lambda c: order[c.name.lower()],
            )
            video.setCodecPreferences(wanted)
        await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        local = pc.localDescription
        answer = aiortc_sdp.SessionDescription.parse(local.sdp)
        for media in answer.media:
            if (
                media.kind == "video"
                and video is not None
                and media.direction in ("sendonly", "sendrecv")
            ):
                name = media.rtp.codecs[0].name.lower() if media.rtp.codecs else ""
                if name in ("vp8", "h264"):
                    self.video_codec = "vp8" if name == "vp8" else "h264"
                    self.video_out = self._video_track
                    video.sender._send_keyframe = self._video_track.request_keyframe  # type: ignore[method-assign]
        return str(local.sdp)

    def video_format(self, width: int, height: int, fps: float, bitrate: int) -> None:
        """Make the encoder of the negotiated codec for the character's frames."""
        if self.video_out is not None and self.video_codec is not None:
            encoder = VideoEncoder(self.video_codec, width, height, fps=fps, bitrate=bitrate)
            self._video_track.use(encoder)

    def send(self, event: Event) -> None:
        """Send a message on ``events`` (queued until the channel opens)."""
        text = encode(event)
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            channel.send(text)
        elif not self.gone.is_set():
            self._pending.append(text)

    async def microphone(self) -> AsyncIterator[tuple[Int16 | None, int]]:
        """The user's audio as (mono int16 PCM, rate), or (None, 0) after ``MIC_TIMEOUT_S`` of
        nothing; ends when the peer is gone."""
        while self._mic is None and not self.gone.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.gone.wait(), 0.05)
        mic = self._mic
        if mic is None:
            return
        while not self.gone.is_set():
            try:
                frame = await asyncio.wait_for(mic.recv(), MIC_TIMEOUT_S)
            except TimeoutError:
                yield None, 0
                continue
            except MediaStreamError:
                return
            assert isinstance(frame, av.AudioFrame)
            yield frame_to_mono(frame), frame.sample_rate

    async def close(self, reason: str = "closed") -> None:
        """Close the connection (the client sees its peer connection close)."""
        if not self.gone.is_set():
            self.gone_reason = reason
            self.gone.set()
        self._audio_track.stop()
        self._video_track.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._pc.close(), 5)

    async def flush_events(self, timeout_s: float = 1.0) -> None:
        """Wait (a little) until the messages sent so far have left."""
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return
        for _ in range(max(1, int(timeout_s / 0.02))):
            if channel.bufferedAmount == 0:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)  # SCTP hands the last chunk to DTLS on its own schedule

    # -- aiortc callbacks -----------------------------------------------------------------------

    def _on_state(self) -> None:
        state = self._pc.connectionState
        if state == "connected":
            self.clock.start()
            self.connected.set()
        elif state in ("failed", "closed") and not self.gone.is_set():
            self.gone_reason = f"connection {state}"
            self.gone.set()

    def _on_channel(self, channel: RTCDataChannel) -> None:
        if channel.label != EVENTS_LABEL:
            log.warning("ignoring data channel %r (only %r is used)", channel.label, EVENTS_LABEL)
            return
        self._channel = channel

        @channel.on("open")
        def _open() -> None:
            self._flush_pending(channel)

        @channel.on("message")
        def _message(message: str | bytes) -> None:
            self._on_message(
                message if isinstance(message, str) else message.decode("utf-8", "replace")
            )

        if channel.readyState == "open":
            self._flush_pending(channel)

    def _flush_pending(self, channel: RTCDataChannel) -> None:
        pending, self._pending = self._pending, []
        for text in pending:
            channel.send(text)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._mic is None:
            self._mic = track
