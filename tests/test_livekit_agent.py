"""Bring your own agent, end to end: a real livekit-server on loopback, the real server (with no
LiveKit settings of its own), and a real ``livekit-agents`` ``AgentSession`` with
``livekit-plugins-runway``'s ``AvatarSession`` pointed at the server, unchanged.

The agent runs in the test's event loop (a fake job context: no worker, no dispatch) and speaks
with one of the project's voices (a small ``tts.TTS``). A user (the LiveKit client of the tests)
in the same room checks what a frontend gets: the avatar's CAMERA video, the agent's words in its
voice; the agent checks what the plugin relies on: ``lk.playback_finished`` after each segment,
``interrupted: true`` after ``lk.clear_buffer``; and closing the agent ends the session
COMPLETED with the avatar gone. Also the 400s, an API cancel (the avatar leaves, the caller's
room stays), and a LiveKit server that cannot be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from livekit import api, rtc

from characters.realtime.livekit_client import RoomClient
from tests.calls import audio_between, heard_words, http, spoken, transcribe
from tests.conftest import Server, free_port, start_server, stop_server, wait_for
from tests.livekit import LiveKit, start_livekit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

AVATAR_IDENTITY = "runway-avatar-agent"
SAID = "The museum opens at nine in the morning and closes at five."
LONG = (
    "Let me tell you the whole story of the museum. It was founded by a painter who loved the "
    "lake, and who spent forty years collecting pictures of herons, boats and winter mornings."
)


@pytest.fixture(scope="module")
def livekit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKit]:
    yield from start_livekit(tmp_path_factory.mktemp("livekit"))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real server, without LiveKit settings: the caller's room is in the request."""
    env = {"CHARACTERS_LOG_LEVEL": "info", "CHARACTERS_MAX_CALLS": "3"}
    srv, pg = start_server(tmp_path_factory.mktemp("agent-server"), env)
    yield srv
    stop_server(srv, pg)


async def make_room(lk: LiveKit, name: str) -> None:
    """The agent's room, as the agent's deployment makes it (the test LiveKit server, like a
    production one, does not create rooms for whoever joins)."""
    service = api.LiveKitAPI(lk.url.replace("ws://", "http://"), lk.key, lk.secret)
    try:
        await service.room.create_room(api.CreateRoomRequest(name=name))
    finally:
        await service.aclose()


def room_token(lk: LiveKit, identity: str, room: str, *, agent: bool = False) -> str:
    grants = api.VideoGrants(
        room_join=True, room=room, can_publish=True, can_subscribe=True, can_publish_data=True
    )
    token = api.AccessToken(lk.key, lk.secret).with_identity(identity).with_name(identity)
    if agent:
        token = token.with_kind("agent")
    return token.with_grants(grants).to_jwt()


def avatar_token(lk: LiveKit, room: str, agent_identity: str) -> str:
    """What livekit-plugins-runway mints for the avatar."""
    return (
        api.AccessToken(lk.key, lk.secret)
        .with_kind("agent")
        .with_identity(AVATAR_IDENTITY)
        .with_name(AVATAR_IDENTITY)
        .with_grants(api.VideoGrants(room_join=True, room=room))
        .with_attributes({"lk.publish_on_behalf": agent_identity})
        .to_jwt()
    )


def create(server: Server, key: str, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/v1/realtime_sessions",
        headers={"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"},
        json={"model": "gwm1_avatars", **body},
        timeout=30,
    )


def status_of(server: Server, key: str, session_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.base_url}/v1/realtime_sessions/{session_id}",
        headers={"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"},
        timeout=30,
    )
    return dict(response.json())


async def wait_status(
    server: Server, key: str, session_id: str, want: str, within_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while (got := await asyncio.to_thread(status_of, server, key, session_id))["status"] != want:
        assert time.monotonic() < deadline, f"session {session_id} is {got}, not {want}"
        await asyncio.sleep(0.2)
    return got


async def until(check: Any, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def test_the_integration_is_checked(live: Server, key: str, avatar: str) -> None:
    room = {"url": "wss://lk.example.com", "token": "t", "roomName": "r"}
    custom = {"type": "custom", "avatarId": avatar}
    for body in ({"livekit": room}, {"integration": {"type": "livekit", **room}}):
        response = create(live, key, avatar=custom, **body)
        assert response.status_code == 400, response.text
        assert "agentIdentity" in response.json()["error"], response.text
    eleven = {"type": "elevenlabs", "signedUrl": "wss://api.elevenlabs.io/x"}
    response = create(live, key, avatar=custom, integration=eleven)
    assert response.status_code == 400 and "ElevenLabs" in response.json()["error"]
    bad_url = {**room, "url": "ftp://lk.example.com", "agentIdentity": "agent"}
    response = create(live, key, avatar=custom, livekit=bad_url)
    assert response.status_code == 400 and "ws://" in response.json()["error"]


def test_an_unreachable_livekit_server_fails_the_session(
    live: Server, key: str, avatar: str
) -> None:
    closed = f"ws://127.0.0.1:{free_port()}"
    room = {"url": closed, "token": "t", "roomName": "r", "agentIdentity": "agent"}
    response = create(live, key, avatar={"type": "custom", "avatarId": avatar}, livekit=room)
    assert response.status_code == 200, response.text
    session_id = response.json()["id"]
    failed = wait_for(
        lambda: (s := status_of(live, key, session_id))["status"] == "FAILED" and s, timeout=40
    )
    assert failed["failureCode"] == "MEDIA_SERVER_UNAVAILABLE", failed
    assert closed in failed["failure"], failed


async def test_an_api_cancel_takes_the_avatar_out_and_keeps_the_room(
    live: Server, livekit: LiveKit, key: str, avatar: str
) -> None:
    name = "cancel-room"
    await make_room(livekit, name)
    agent = rtc.Room()
    await agent.connect(livekit.url, room_token(livekit, "agent", name, agent=True))
    try:
        integration = {
            "type": "livekit",
            "url": livekit.url.replace("ws://", "http://"),
            "token": avatar_token(livekit, name, "agent"),
            "roomName": name,
            "agentIdentity": "agent",
        }
        response = await asyncio.to_thread(
            create,
            live,
            key,
            avatar={"type": "custom", "avatarId": avatar},
            integration=integration,
        )
        assert response.status_code == 200, response.text
        session_id = response.json()["id"]
        await wait_status(live, key, session_id, "RUNNING", 30)
        assert AVATAR_IDENTITY in agent.remote_participants
        # Nobody consumes such a session.
        consumed = await http(
            "POST",
            f"{live.base_url}/v1/realtime_sessions/{session_id}/consume",
            headers={"Authorization": "Bearer anything"},
            timeout=30,
        )
        assert consumed.status_code in (401, 409), consumed.text
        deleted = await http(
            "DELETE",
            f"{live.base_url}/v1/realtime_sessions/{session_id}",
            headers={"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"},
            timeout=30,
        )
        assert deleted.status_code == 204
        await until(
            lambda: AVATAR_IDENTITY not in agent.remote_participants, 10, "the avatar stayed"
        )
        await asyncio.sleep(0.5)
        assert agent.isconnected(), "the caller's room was closed"
        assert (await asyncio.to_thread(status_of, live, key, session_id))["status"] == "CANCELLED"
    finally:
        await agent.disconnect()


async def test_a_livekit_agent_with_runways_plugin_unchanged(
    live: Server, livekit: LiveKit, key: str, avatar: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from livekit.agents import Agent, AgentSession
    from livekit.agents.testing import fake_job_context
    from livekit.agents.utils import http_context
    from livekit.agents.voice.avatar import DataStreamAudioOutput
    from livekit.plugins import runway

    for name, value in livekit.settings().items():
        monkeypatch.setenv(name, value)
    reports: list[dict[str, Any]] = []
    original = DataStreamAudioOutput._handle_playback_finished

    def spy(self: DataStreamAudioOutput, data: rtc.RpcInvocationData) -> str:
        reports.append(json.loads(data.payload))
        return original(self, data)

    monkeypatch.setattr(DataStreamAudioOutput, "_handle_playback_finished", spy)

    name = "agent-room"
    await make_room(livekit, name)
    user = RoomClient(livekit.url, room_token(livekit, "user", name), timeout_s=20)
    await user.connect()
    token = room_token(livekit, "agent", name, agent=True)
    room = rtc.Room()
    await room.connect(livekit.url, token)
    session = AgentSession(tts=VoiceTTS())
    try:
        async with http_context.open():
            with fake_job_context(room=room, agent_identity="agent") as job:
                job._info = dataclasses.replace(
                    job._info, token=token
                )  # the plugin reads its identity
                avatar_session = runway.AvatarSession(
                    avatar_id=avatar, api_url=live.base_url, api_key=key
                )
                await avatar_session.start(session, room=room)
                await session.start(agent=Agent(instructions="A test agent."), room=room)
                session_id = avatar_session._realtime_session_id
                assert session_id is not None
                await wait_status(live, key, session_id, "RUNNING", 30)

                # The avatar is in the room, publishing its face (CAMERA) and voice (MICROPHONE).
                await until(lambda: len(user.video.arrivals) > 25, 20, "no video from the avatar")
                assert AVATAR_IDENTITY in user.participants
                assert user.sources["video"] == rtc.TrackSource.SOURCE_CAMERA

                # The agent speaks through the avatar; its speech plays out, reported finished.
                said_at = time.monotonic()
                handle = session.say(SAID)
                await asyncio.wait_for(handle.wait_for_playout(), 40)
                assert not handle.interrupted
                await until(lambda: reports, 5, "no lk.playback_finished")
                assert reports[-1]["interrupted"] is False, reports
                length = len(spoken(SAID, "vincent")[0]) / spoken(SAID, "vincent")[1]
                assert abs(reports[-1]["playback_position"] - length) < 0.5, (reports, length)
                await asyncio.sleep(0.5)
                heard = await asyncio.to_thread(
                    transcribe, audio_between(user, said_at, time.monotonic())
                )
                assert heard_words(heard, SAID) >= 0.6, heard
                first = user.first_voice(said_at)
                assert first is not None
                print(f"agent speech: first voice at the user {first - said_at:.2f} s after say()")

                # Interrupted: the avatar stops at once, and tells the agent where.
                started = time.monotonic()
                handle = session.say(LONG)
                await until(lambda: user.first_voice(started) is not None, 20, "no voice")
                await asyncio.sleep(1.5)
                cut = time.monotonic()
                session.interrupt()
                await asyncio.wait_for(handle.wait_for_playout(), 10)
                assert handle.interrupted
                await until(lambda: len(reports) >= 2, 5, "no report after the interruption")
                assert reports[-1]["interrupted"] is True, reports
                assert 1.0 < reports[-1]["playback_position"] < 4.0, reports
                await asyncio.sleep(1.5)
                last = user.last_voice()
                assert last is not None
                stopped = last - cut
                print(f"interruption: the user's last voiced frame {1000 * stopped:.0f} ms after")
                assert stopped < 0.5, stopped

                # The agent closes: END_CALL; the session is COMPLETED and the avatar leaves.
                await session.aclose()
                done = await wait_status(live, key, session_id, "COMPLETED", 15)
                assert done["duration"] >= 3, done
                await until(
                    lambda: AVATAR_IDENTITY not in room.remote_participants, 10, "the avatar stayed"
                )
    finally:
        with contextlib.suppress(Exception):
            await session.aclose()
        await room.disconnect()
        await user.close()


def _voice_tts() -> type:
    from livekit.agents import tts, utils
    from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

    from characters.voices.tts import sample_rate

    class _Chunked(tts.ChunkedStream):
        async def _run(self, output_emitter: tts.AudioEmitter) -> None:
            pcm, rate = await asyncio.to_thread(spoken, self._input_text, "vincent")
            output_emitter.initialize(
                request_id=utils.shortuuid(),
                sample_rate=rate,
                num_channels=1,
                mime_type="audio/pcm",
            )
            output_emitter.push(np.asarray(pcm, np.int16).tobytes())
            output_emitter.flush()

    class _VoiceTTS(tts.TTS):
        """The project's ``vincent`` voice as a livekit-agents TTS."""

        def __init__(self) -> None:
            super().__init__(
                capabilities=tts.TTSCapabilities(streaming=False),
                sample_rate=sample_rate("vincent"),
                num_channels=1,
            )

        def synthesize(
            self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
        ) -> tts.ChunkedStream:
            return _Chunked(tts=self, input_text=text, conn_options=conn_options)

    return _VoiceTTS


def VoiceTTS() -> Any:  # noqa: N802 (a class made on first use: livekit-agents is a test extra)
    return _voice_tts()()
