"""The LiveKit transport: the character joins a LiveKit room as its one visible participant.

In LiveKit mode (``CHARACTERS_LIVEKIT_URL``, ``_API_KEY``, ``_API_SECRET``) ``consume`` hands
the client a LiveKit access token for the session's room (:func:`user_token`: exactly the
grants Runway's React SDK needs) and the character joins that room (:class:`LiveKitRoom`,
with :func:`character_token`). It is the :class:`~characters.realtime.runner.Transport` of the
call, like the embedded WebRTC peer:

* the character's voice is published with source MICROPHONE and its face with source CAMERA
  (what ``@runwayml/avatars-react`` looks for); both are handed to LiveKit at their media time
  on the call's one clock, so the sender's timestamps keep lips and sound together, and
  libwebrtc encodes them;
* the user's microphone (the first remote participant's audio track) comes in at 48 kHz mono;
* the ``events`` messages go out as reliable data packets (topic ``events``), which Runway's
  clients read on any topic; data from the user (``END_CALL``, ``user_message``) comes in;
* the user is there until LiveKit says they left; at the end the room is deleted, which
  disconnects every client (the React SDK then shows "ended").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import numpy as np
from livekit import api, rtc

from characters.config import Settings
from characters.pcm import Int16
from characters.realtime.events import Event, encode
from characters.realtime.tracks import AUDIO_RATE, AudioBuffer, MediaClock, PendingFrames, VideoOut

log = logging.getLogger(__name__)

EVENTS_TOPIC = "events"
CHARACTER_IDENTITY = "worker:character"
"""The character's identity in its room (the user is ``user``). Runway's backend RPC helpers
accept calls only from identities that start with ``worker:`` (API.md §8)."""
BACKEND_IDENTITY = "backend"
"""The hidden participant of ``connect_backend``: it answers the ``backend_rpc`` tools."""
USER_IDENTITY = "user"
USER_SOURCES = ["microphone", "camera", "screen_share", "screen_share_audio"]
"""What the user may publish: the sources Runway's React SDK publishes (API.md §7.3)."""
AUDIO_FRAME = AUDIO_RATE // 100
"""Samples per audio frame handed to LiveKit (10 ms, its native frame)."""
AUDIO_LEAD_S = 0.02
"""Audio is handed to LiveKit this long before its time."""
AUDIO_SLACK_S = 0.03
"""More than ``AUDIO_LEAD_S`` and this waiting in LiveKit's queue is dropped (it would play
late, out of step with the face)."""
MIC_TIMEOUT_S = 1.0
JOIN_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 5.0
CLIENT_LEAVE_S = 2.0
"""After END_CALL, how long the user's client may take to leave before the room is deleted."""


class LiveKitUnavailable(Exception):
    """The LiveKit server could not be reached, or refused the character."""


def token_ttl(settings: Settings) -> timedelta:
    """How long a room token may be used to join: the READY session's life, and a minute."""
    return timedelta(seconds=settings.session_ready_ttl_s + 60)


def _token(
    settings: Settings,
    identity: str,
    name: str,
    grants: api.VideoGrants,
    ttl: timedelta | None = None,
) -> str:
    assert settings.livekit_api_key and settings.livekit_api_secret
    token = api.AccessToken(settings.livekit_api_key, settings.livekit_api_secret)
    token = token.with_identity(identity).with_name(name).with_grants(grants)
    return token.with_ttl(ttl or token_ttl(settings)).to_jwt()


def user_token(settings: Settings, room: str) -> str:
    """The client's access token for ``room``: join and subscribe, publish its microphone,
    camera and screen, publish data (``END_CALL``)."""
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_subscribe=True,
        can_publish=True,
        can_publish_data=True,
        can_publish_sources=USER_SOURCES,
    )
    return _token(settings, USER_IDENTITY, "User", grants)


def backend_token(settings: Settings, room: str, ttl: timedelta) -> str:
    """``connect_backend``'s token: a hidden participant that answers the session's
    ``backend_rpc`` tools over LiveKit RPC (it sends and receives data, nothing else)."""
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        hidden=True,
        can_subscribe=False,
        can_publish=False,
        can_publish_data=True,
    )
    return _token(settings, BACKEND_IDENTITY, "Backend", grants, ttl)


def character_token(settings: Settings, room: str, name: str) -> str:
    """The character's own token for ``room``: publish its voice, face and data; subscribe."""
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_subscribe=True,
        can_publish=True,
        can_publish_data=True,
        can_publish_sources=["microphone", "camera"],
    )
    return _token(settings, CHARACTER_IDENTITY, name, grants)


def http_url(url: str) -> str:
    """The server API's URL for a client URL (``wss://`` → ``https://``)."""
    return "http" + url[2:] if url.startswith("ws") else url


WORKER_AGENT = "characters"
"""The agent name ``characters worker`` registers with LiveKit (explicit dispatch)."""
ROOM_EMPTY_TIMEOUT_S = 120
"""A dispatched room nobody joins is closed by LiveKit after this long."""


@contextlib.asynccontextmanager
async def _server_api(settings: Settings) -> AsyncIterator[api.LiveKitAPI]:
    """LiveKit's server API (rooms, dispatches, participants), closed after use."""
    assert settings.livekit_url
    lk = api.LiveKitAPI(
        http_url(settings.livekit_url), settings.livekit_api_key, settings.livekit_api_secret
    )
    try:
        yield lk
    finally:
        with contextlib.suppress(Exception):
            await lk.aclose()


async def create_room(settings: Settings, room: str) -> None:
    """Create ``room`` (an existing one is left as it is). Rooms are made here, not by whoever
    joins first, so a LiveKit server with ``room.auto_create: false`` refuses a client that
    comes back after its call ended (raises :class:`LiveKitUnavailable`)."""
    request = api.CreateRoomRequest(name=room, empty_timeout=ROOM_EMPTY_TIMEOUT_S)
    await _request(settings, "create the room", lambda lk: lk.room.create_room(request))


async def dispatch_room(settings: Settings, room: str) -> None:
    """Ask LiveKit for a ``characters worker`` for ``room`` (it assigns one by load, whose
    character then joins). LiveKit drops a dispatch that finds every worker full, so the
    caller asks again until the call is taken (raises :class:`LiveKitUnavailable`)."""
    request = api.CreateAgentDispatchRequest(agent_name=WORKER_AGENT, room=room, metadata=room)
    await _request(
        settings, "dispatch the room", lambda lk: lk.agent_dispatch.create_dispatch(request)
    )


async def _request(
    settings: Settings, what: str, call: Callable[[api.LiveKitAPI], Awaitable[object]]
) -> None:
    """One server-API request within :data:`JOIN_TIMEOUT_S`; any failure is
    :class:`LiveKitUnavailable`, saying what could not be done."""
    async with _server_api(settings) as lk:
        try:
            await asyncio.wait_for(call(lk), JOIN_TIMEOUT_S)
        except Exception as e:
            raise LiveKitUnavailable(
                f"the LiveKit server at {settings.livekit_url} could not {what}: {_first_line(e)}"
            ) from e


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


async def backend_present(settings: Settings, room: str) -> bool:
    """Whether the ``connect_backend`` participant is in ``room`` (hidden participants are
    seen only through the server API)."""
    async with _server_api(settings) as lk:
        found = await asyncio.wait_for(
            lk.room.list_participants(api.ListParticipantsRequest(room=room)), CLOSE_TIMEOUT_S
        )
    return any(p.identity == BACKEND_IDENTITY for p in found.participants)


async def delete_room(settings: Settings, room: str) -> None:
    """Delete ``room`` (its clients are disconnected); a missing room is no error."""
    async with _server_api(settings) as lk:
        try:
            await asyncio.wait_for(
                lk.room.delete_room(api.DeleteRoomRequest(room=room)), CLOSE_TIMEOUT_S
            )
        except Exception as e:
            if "not found" not in str(e).lower():
                log.warning("room %s could not be deleted: %s", room, e)


class LiveKitVideo(PendingFrames):
    """The character's frames, handed to a LiveKit video source at their media time (a frame
    dropped before its time is never sent; libwebrtc encodes what is)."""

    def __init__(self, clock: MediaClock, source: rtc.VideoSource, *, max_queue: int = 8) -> None:
        super().__init__(max_queue)
        self.clock = clock
        self.source = source
        self.sent = 0

    async def run(self) -> None:
        """Send frames until cancelled."""
        while True:
            while not self._queue:
                self._ready.clear()
                await self._ready.wait()
            frame = self._queue[0]
            await self.clock.sleep_until(frame.time_s)
            if not self._queue or self._queue[0] is not frame:
                continue  # dropped (or overtaken) meanwhile
            self._queue.popleft()
            image = frame.image
            i420 = image.to_ndarray()  # yuv420p: the Y, U and V planes, one after another
            self.source.capture_frame(
                rtc.VideoFrame(image.width, image.height, rtc.VideoBufferType.I420, i420.tobytes())
            )
            self.sent += 1


class LiveKitRoom:
    """One call's LiveKit room, seen from the character (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        room_name: str,
        *,
        character_name: str,
        width: int,
        height: int,
        fps: float,
        on_message: Callable[[str], None],
        own_room: bool = True,
        url: str | None = None,
        token: str | None = None,
        peer_identity: str | None = None,
        send_events: bool = True,
        on_connected: Callable[[rtc.Room], None] | None = None,
    ) -> None:
        """``url``/``token``: join someone else's room with their token (bring your own agent;
        ``own_room`` False), else this server's (its settings mint the character's token).
        ``peer_identity``: the participant the call is with (default: the first ordinary one).
        ``send_events``: whether the ``events`` messages go to the room. ``on_connected``: called
        once connected, before the tracks are published (register handlers there)."""
        assert url or settings.livekit_url
        self.settings = settings
        self.url = url or settings.livekit_url or ""
        self._token = token
        self._peer_identity = peer_identity
        self._send_events = send_events
        self._on_connected = on_connected
        self.room_name = room_name
        self.clock = MediaClock()
        self.audio_out = AudioBuffer()
        self.connected = asyncio.Event()
        self.gone = asyncio.Event()
        self.gone_reason = ""
        self.audio_liveness = False
        self._character_name = character_name
        self._size = (width, height)
        self._fps = fps
        self._on_message = on_message
        self._own_room = own_room
        self._room = rtc.Room()
        self._audio = rtc.AudioSource(AUDIO_RATE, 1, queue_size_ms=100)
        self._video_source = rtc.VideoSource(width, height)
        self._video = LiveKitVideo(self.clock, self._video_source)
        self.video_out: VideoOut | None = self._video
        self._user: str | None = None
        self._user_left = asyncio.Event()
        self._hung_up = False
        self._mic: rtc.Track | None = None
        self._mic_ready = asyncio.Event()
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []
        self._room.on("participant_connected", self._on_participant)
        self._room.on("participant_disconnected", self._on_participant_left)
        self._room.on("track_subscribed", self._on_track)
        self._room.on("data_received", self._on_data)
        self._room.on("disconnected", self._on_disconnected)

    async def join(self) -> None:
        """Join the room and publish the character's voice and face (raises
        :class:`LiveKitUnavailable` when LiveKit cannot be reached or refuses)."""
        s = self.settings
        url = self.url
        token = self._token or character_token(s, self.room_name, self._character_name)
        try:
            await asyncio.wait_for(
                self._room.connect(url, token, rtc.RoomOptions(auto_subscribe=True)),
                JOIN_TIMEOUT_S,
            )
            if self._on_connected is not None:
                self._on_connected(self._room)
            local = self._room.local_participant
            voice = rtc.LocalAudioTrack.create_audio_track("voice", self._audio)
            face = rtc.LocalVideoTrack.create_video_track("face", self._video_source)
            await local.publish_track(
                voice, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
            )
            encoding = rtc.VideoEncoding(
                max_framerate=round(self._fps), max_bitrate=s.video_bitrate
            )
            await local.publish_track(
                face,
                rtc.TrackPublishOptions(
                    source=rtc.TrackSource.SOURCE_CAMERA,
                    video_encoding=encoding,
                    simulcast=False,
                ),
            )
        except TimeoutError as e:
            await self._disconnect()
            raise LiveKitUnavailable(
                f"no answer from the LiveKit server at {url} within {JOIN_TIMEOUT_S:g} s"
            ) from e
        except Exception as e:
            await self._disconnect()
            detail = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise LiveKitUnavailable(
                f"the LiveKit server at {url} refused or failed: {detail}"
            ) from e
        self._tasks += [
            asyncio.ensure_future(self._send_loop()),
            asyncio.ensure_future(self._audio_loop()),
            asyncio.ensure_future(self._video.run()),
        ]
        for participant in list(self._room.remote_participants.values()):
            self._on_participant(participant)
            for publication in participant.track_publications.values():
                if publication.track is not None:
                    self._on_track(publication.track, publication, participant)

    # -- the Transport ----------------------------------------------------------------------------

    def video_format(self, width: int, height: int, fps: float, bitrate: int) -> None:
        """Nothing to do: the source was made for the character's frames, and libwebrtc
        encodes them."""
        if (width, height) != self._size:
            raise ValueError(f"frames are {width}×{height}, the room's video {self._size}")

    def send(self, event: Event) -> None:
        """Send a message to the room (in order, reliably)."""
        if self._send_events and not self.gone.is_set():
            self._outbox.put_nowait(encode(event).encode())

    async def microphone(self) -> AsyncIterator[tuple[Int16 | None, int]]:
        """The user's audio as (mono int16 PCM, rate), or (None, 0) after ``MIC_TIMEOUT_S`` of
        nothing (a muted microphone sends nothing); ends when the user is gone."""
        while not self._mic_ready.is_set() and not self.gone.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._mic_ready.wait(), MIC_TIMEOUT_S)
            if not self._mic_ready.is_set():
                yield None, 0
        if self._mic is None:
            return
        stream = rtc.AudioStream(self._mic, sample_rate=AUDIO_RATE, num_channels=1)
        frames = stream.__aiter__()
        try:
            while not self.gone.is_set():
                try:
                    event = await asyncio.wait_for(frames.__anext__(), MIC_TIMEOUT_S)
                except TimeoutError:
                    yield None, 0
                    continue
                except StopAsyncIteration:
                    return
                frame = event.frame
                yield np.frombuffer(frame.data, np.int16).copy(), frame.sample_rate
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def flush_events(self, timeout_s: float = 1.0) -> None:
        """Wait (a little) until the messages sent so far have left."""
        for _ in range(max(1, int(timeout_s / 0.02))):
            if self._outbox.empty():
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)  # the last packet in flight

    async def close(self, reason: str = "closed") -> None:
        """Leave; in our own room, delete it first, which disconnects every client."""
        if not self.gone.is_set():
            self.gone_reason = reason
            self.gone.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._own_room:
            if self._hung_up and not self._user_left.is_set():
                # The user's client sent END_CALL and is leaving on its own: a room deleted
                # under it makes LiveKit's client report its channels closed "unexpectedly".
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._user_left.wait(), CLIENT_LEAVE_S)
            await delete_room(self.settings, self.room_name)
        await self._disconnect()

    # -- inside ---------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        local = self._room.local_participant
        while True:
            payload = await self._outbox.get()
            try:
                await local.publish_data(payload, reliable=True, topic=EVENTS_TOPIC)
            except Exception as e:  # the room is going away; the call ends by its own signs
                log.debug("room %s: a message was not sent: %s", self.room_name, e)

    async def _audio_loop(self) -> None:
        """The character's voice: 10 ms of the :class:`AudioBuffer` at a time, at its time
        (silence where the stage wrote nothing), from the moment the clock starts."""
        await self.clock.started.wait()
        source = self._audio
        while True:
            pos = self.audio_out.read_pos
            await self.clock.sleep_until(pos / AUDIO_RATE - AUDIO_LEAD_S)
            pcm = self.audio_out.read(AUDIO_FRAME)
            await source.capture_frame(rtc.AudioFrame(pcm.tobytes(), AUDIO_RATE, 1, AUDIO_FRAME))
            if source.queued_duration > AUDIO_LEAD_S + AUDIO_SLACK_S:
                # LiveKit plays the source out later than the clock (it starts pulling only
                # once the track is sent, and stalls on a busy machine): what waits there would
                # be heard late, behind the face. Drop it; the voice stays on the clock.
                log.debug(
                    "room %s: %.0f ms of voice waiting in LiveKit's queue dropped",
                    self.room_name,
                    1000 * source.queued_duration,
                )
                source.clear_queue()

    async def _disconnect(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._room.disconnect(), CLOSE_TIMEOUT_S)

    @property
    def rtc_room(self) -> rtc.Room:
        """LiveKit's room object (for handlers of byte streams and RPC)."""
        return self._room

    def _on_participant(self, participant: rtc.RemoteParticipant) -> None:
        if self._user is not None or participant.identity == BACKEND_IDENTITY:
            return
        if self._peer_identity is not None:
            if participant.identity != self._peer_identity:
                return
        elif participant.kind not in _USER_KINDS:
            return
        self._user = participant.identity
        self.clock.start()
        self.connected.set()
        log.info("room %s: %s joined", self.room_name, participant.identity)

    def _on_participant_left(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self._user:
            self._user_left.set()
        if participant.identity == self._user and not self.gone.is_set():
            self.gone_reason = "the user left the room"
            self.gone.set()
            self._mic_ready.set()

    def _on_track(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if (
            participant.identity == self._user
            and track.kind == rtc.TrackKind.KIND_AUDIO
            and publication.source != rtc.TrackSource.SOURCE_SCREENSHARE_AUDIO
            and self._mic is None
        ):
            self._mic = track
            self._mic_ready.set()

    def _on_data(self, packet: rtc.DataPacket) -> None:
        sender = packet.participant
        if sender is None or sender.identity != self._user:
            return
        text = bytes(packet.data).decode("utf-8", "replace")
        self._hung_up = self._hung_up or _is_end_call(text)
        self._on_message(text)

    def _on_disconnected(self, reason: Any) -> None:
        if not self.gone.is_set():
            self.gone_reason = f"disconnected from the LiveKit server ({reason})"
            self.gone.set()
            self._mic_ready.set()


_USER_KINDS = (rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD,)
"""Who counts as the user: an ordinary participant (not an agent, egress or SIP bridge)."""


def _is_end_call(text: str) -> bool:
    """Whether a client's message is END_CALL (quietly: the runner warns about bad ones)."""
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("type") == "END_CALL"
